"""The provincial HTTP client: one rating in, a receipt or a classified failure out.

The forward function decides what to do with a failure by its class alone:
  - `ProvinceRejected` (a 4xx, or a 2xx whose business code is a refusal): the province judged this rating
    and refused it; sending the same bytes again cannot help, so the rating is parked with `reason`.
  - `ProvinceUnavailable` (5xx, timeouts, refused or reset connections, 408/425/429, unreadable answers):
    may succeed later; retried with backoff, then dead-lettered.
  - `ProvinceAuthFailed` (401/403), a `ProvinceUnavailable`: the province never looked at the rating — our
    credentials or clock are wrong, for every rating at once. Parking would record a refusal the province
    never made, for each rating; retrying and dead-lettering keeps them all for one `hcp dlq redrive` once
    the secret is fixed, and the dead-letter alarm tells the operator. Before giving up, a client built by
    `from_env` re-reads the secret once (it may just have been rotated).

Every retry carries the same `evalId` (the rating_id), so a retry after a lost answer is a duplicate at the
province, never a second rating. The client logs rating ids, statuses and timings — never the payload,
never the province's reason text (it may echo what we sent).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import urllib3
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import HTTPError, MaxRetryError, ProtocolError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util import parse_url

from hub.rating import Rating
from infra.clock import current_clock
from infra.province import sm2
from infra.province.mapping import DEFAULT, ProvincialMapping, to_record, wrap
from infra.province.profile import Codec, EnvelopeError, ProfileKeys, ProvinceProfile, RecordKind
from infra.province.signing import sign
from infra.settings import ProvinceSettings

logger = logging.getLogger(__name__)

RETRYABLE_4XX = frozenset({408, 425, 429})
AUTH_STATUSES = frozenset({401, 403})
DEFAULT_TIMEOUT = (2.0, 5.0)
_REASON_MAX = 500
DEFAULT_POOL_SIZE = 10
MIN_SEND_SECONDS = 1.0  # a province's ordinary answer fits well within it (tens to hundreds of ms)
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("province_send_deadline", default=None)


@contextlib.contextmanager
def send_deadline(at: float | None) -> Iterator[None]:
    """Sends in this block (this thread) are answered by `at` (`time.monotonic()`) or given up as timeouts:
    the forward function's remaining time, less a margin, so no send outlives its invocation."""
    token = _deadline.set(at)
    try:
        yield
    finally:
        _deadline.reset(token)
_BASE_HEADERS = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}


class ProvinceError(Exception):
    """Anything that kept a rating from being received by the province."""


class ProvinceRejected(ProvinceError):
    """The province refused the rating (4xx): park it with `reason`; do not retry."""

    def __init__(self, status: int, reason: str, code: str | None = None) -> None:
        super().__init__(f"province rejected ({status}{f' {code}' if code else ''}): {reason}")
        self.status = status
        self.reason = reason
        self.code = code


class ProvinceUnavailable(ProvinceError):
    """The rating did not get through this time (5xx, timeout, connection): retry with backoff."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(f"province unavailable{f' ({status})' if status else ''}: {reason}")
        self.reason = reason
        self.status = status


class ProvinceAuthFailed(ProvinceUnavailable):
    """401/403: our credentials or clock, not the rating. Retried and dead-lettered, never parked."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """The province's acknowledgement. `duplicate`: it already had this idempotency key."""

    receipt_id: str | None
    idempotency_key: str
    duplicate: bool
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Credentials:
    """`app_id` / `secret` (an Epoint gateway's appMark / appWord); SM2 keys for a profile that encrypts."""

    app_id: str
    secret: str = field(repr=False)
    sm2_private_key: str | None = field(default=None, repr=False)
    province_public_key: str | None = None


_credentials_cache: dict[str, Credentials] = {}
_credentials_lock = threading.Lock()


def load_credentials(secret_arn: str, client: Any = None, *, refresh: bool = False) -> Credentials:
    """App id and secret from Secrets Manager (JSON `{"app_id": ..., "secret": ...}`), cached per container.

    boto3 is imported here only, so the mapping and client import without it (and start faster).
    """
    with _credentials_lock:
        if not refresh and secret_arn in _credentials_cache:
            return _credentials_cache[secret_arn]
    if client is None:
        import boto3

        client = boto3.client("secretsmanager")
    data = json.loads(client.get_secret_value(SecretId=secret_arn)["SecretString"])
    try:
        credentials = Credentials(
            app_id=str(data["app_id"]),
            secret=str(data["secret"]),
            sm2_private_key=data.get("sm2_private_key") or None,
            province_public_key=data.get("province_public_key") or None,
        )
    except KeyError as exc:
        raise ValueError(f"the province secret lacks {exc.args[0]!r}") from None
    with _credentials_lock:
        _credentials_cache[secret_arn] = credentials
    return credentials


def _path(data: Any, dotted: str | None) -> Any:
    if not dotted:
        return None
    for part in dotted.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data


def _short(text: str) -> str:
    return text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 1] + "…"


class ProvincialClient:
    """Sends ratings to one provincial endpoint. Build it once per container; the connection pool is reused.

    `url` is the push endpoint, posted to as given. `timeout` is (connect, read) in seconds. Work-order
    outcomes (`send_outcome`) go to `outcome_url`: by default `url` with its last `/ratings` segment
    replaced by `/outcomes`, or `/outcomes` appended.
    """

    def __init__(
        self,
        url: str,
        app_id: str,
        secret: str,
        mapping: ProvincialMapping = DEFAULT,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        *,
        refresh_credentials: Callable[[], Credentials] | None = None,
        outcome_url: str | None = None,
        profile: ProvinceProfile | None = None,
        credentials: Credentials | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
    ) -> None:
        self.url = url
        self.outcome_url = outcome_url or default_outcome_url(url)
        self.profile = profile
        self.mapping = profile.mapping if profile is not None else mapping
        self._credentials = credentials or Credentials(app_id, secret)
        self._refresh_credentials = refresh_credentials
        self._codec = self._build_codec(self._credentials)
        # Only connection set-up is retried here (nothing was sent); everything else is the forwarder's
        # retry with backoff, and redirects are a misconfigured URL to be seen, not followed.
        retries = urllib3.Retry(total=1, connect=1, read=0, redirect=0, status=0, other=0, raise_on_status=False)
        # One connection per concurrent send (`pool_size`, the forward function's FORWARD_CONCURRENCY): urllib3
        # would open more than `maxsize` under load and throw them away after one request each.
        self._timeout = timeout
        self._pool = urllib3.PoolManager(
            num_pools=4,
            maxsize=max(1, pool_size),
            timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
            retries=retries,
        )
        self._routes: dict[str, tuple[HTTPConnectionPool, str]] = {}  # url -> its host's pool and the request path

    @classmethod
    def from_settings(cls, settings: ProvinceSettings, *, secrets_client: Any = None) -> ProvincialClient:
        """The client of `ProvinceSettings` (infra.settings): credentials from its secret, its mapping or profile."""
        arn = settings.secret_arn
        credentials = load_credentials(arn, secrets_client)
        return cls(
            settings.url,
            credentials.app_id,
            credentials.secret,
            ProvincialMapping.configured(settings.mapping, settings.mapping_file),
            (settings.connect_timeout, settings.read_timeout),
            refresh_credentials=lambda: load_credentials(arn, secrets_client, refresh=True),
            outcome_url=settings.outcome_url or None,
            profile=ProvinceProfile.configured(settings.profile),
            credentials=credentials,
            pool_size=settings.pool_size,
        )

    def _build_codec(self, creds: Credentials) -> Codec | None:
        """The profile's codec with this secret's keys: a key off the curve fails here, at start, not per send."""
        if self.profile is None:
            return None
        settings = self.profile.sm2
        public = creds.province_public_key or (settings.province_public_key if settings else None)
        try:
            keys = ProfileKeys(
                encrypt_to=sm2.load_public_key(public) if public else None,
                decrypt_with=sm2.load_private_key(creds.sm2_private_key) if creds.sm2_private_key else None,
            )
        except sm2.SM2Error as exc:
            raise ValueError(f"the province secret's SM2 key is unusable: {exc}") from None
        if settings is not None and keys.encrypt_to is None:
            raise ValueError(f"profile {self.profile.name} encrypts: the secret needs province_public_key")
        return Codec(self.profile, keys)

    @property
    def app_id(self) -> str:
        return self._credentials.app_id

    def send(self, rating: Rating) -> Receipt:
        """Deliver one rating; the same rating always goes out under the same idempotency key (evalId)."""
        if self.profile is not None:
            return self._deliver(rating.rating_id, self.profile.record(rating), b"", self.url, kind="evaluate")
        record = to_record(rating, self.mapping)
        body = json.dumps(wrap(record, self.mapping), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return self._deliver(rating.rating_id, record, body, self.url)

    @property
    def two_step(self) -> bool:
        return self.profile is not None and self.profile.service_record is not None

    def send_service(self, rating: Rating) -> Receipt | None:
        """The service record (办件服务) of the rating's case, for a two-step profile; None for the others.

        Its idempotency key is projectNo#assessNumber: the province answers a repeat as such."""
        if self.profile is None or self.profile.service_record is None:
            return None
        record = self.profile.record(rating, "service")
        national = self.profile.national(rating)
        key = f"{national['projectNo']}#{national['assessNumber']}"
        url = default_service_url(self.url, self.profile.service_record.path)
        return self._deliver(key, record, b"", url, kind="service")

    def encode(self, rating: Rating, kind: RecordKind = "evaluate") -> tuple[dict[str, str], bytes, dict[str, str]]:
        """The record, body and headers a rating becomes (what `hcp province encode` prints)."""
        if self.profile is None:
            record = to_record(rating, self.mapping)
            body = json.dumps(wrap(record, self.mapping), ensure_ascii=False, separators=(",", ":")).encode()
            return record, body, self._sign_headers(record, body)
        record = self.profile.record(rating, kind)
        body, headers = self._profile_body(record, kind)
        return record, body, headers

    def _profile_body(self, record: dict[str, str], kind: RecordKind) -> tuple[bytes, dict[str, str]]:
        assert self._codec is not None
        creds = self._credentials
        body, headers = self._codec.encode_request(
            [record], kind, app_mark=creds.app_id, app_word=creds.secret, now=datetime.now(UTC)
        )
        if self.profile is not None and self.profile.envelope.kind == "plain":
            headers = {**headers, **self._sign_headers(record, body)}
        return body, headers

    def _sign_headers(self, record: dict[str, str], body: bytes) -> dict[str, str]:
        creds = self._credentials
        return sign(self.mapping.signature, app_id=creds.app_id, secret=creds.secret, body=body, params=record)

    def send_outcome(self, record: dict[str, str]) -> Receipt:
        """Deliver one work-order outcome record (`infra.province.outcome`), bare and signed like a rating;
        its idempotency key is `outcomeId`, the same on every retry."""
        body = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return self._deliver(record["outcomeId"], record, body, self.outcome_url)

    def _deliver(
        self, key: str, record: dict[str, str], body: bytes, url: str, kind: RecordKind | None = None
    ) -> Receipt:
        try:
            return self._post(key, record, body, url, kind)
        except ProvinceAuthFailed:
            if self._refresh_credentials is None:
                raise
            fresh = self._refresh_credentials()
            if fresh == self._credentials:
                raise
            logger.info("province credentials re-read after an auth failure", extra={"rating_id": key})
            self._codec = self._build_codec(fresh)
            self._credentials = fresh
            return self._post(key, record, body, url, kind)

    def _post(
        self, key: str, record: dict[str, str], body: bytes, url: str | None = None, kind: RecordKind | None = None
    ) -> Receipt:
        if kind is not None:  # a profile's envelope: the body is built per attempt (fresh time and sign)
            body, extra = self._profile_body(record, kind)
            headers = {**_BASE_HEADERS, **extra}
        else:
            headers = {**_BASE_HEADERS, **self._sign_headers(record, body)}
        started = time.perf_counter()
        deadline = _deadline.get()
        within: dict[str, Any] = {}  # timeout=None would mean none at all to urllib3: only pass a real one
        if deadline is not None:
            left = deadline - time.monotonic()
            # A send is started only with its read timeout left (at most `MIN_SEND_SECONDS`, so a read timeout
            # longer than the invocation may run still sends): one cut short by the invocation's deadline turns an
            # answer the province gives in time into an unknown outcome, and its retry into a duplicate no fault
            # caused (issue 16). Not sent, the message comes back: no duplicate at the province.
            if left < min(self._timeout[1], MIN_SEND_SECONDS):
                raise ProvinceUnavailable("timeout: not enough time left in this invocation for a send")
            within["timeout"] = urllib3.Timeout(connect=min(self._timeout[0], left), read=min(self._timeout[1], left))
        pool, path = self._route(url or self.url)
        try:
            response = pool.urlopen("POST", path, body=body, headers=headers, redirect=False, **within)
        except HTTPError as exc:
            reason = _transport_reason(exc)
            logger.warning("province unreachable", extra={"rating_id": key, "reason": reason})
            raise ProvinceUnavailable(reason) from exc
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        status = response.status
        text = response.data.decode("utf-8", errors="replace")
        logger.info("province answered", extra={"rating_id": key, "status": status, "elapsed_ms": elapsed_ms})
        if self._codec is not None and status < 300:
            return self._read_envelope(key, status, text, dict(response.headers.items()))
        try:
            return self._read_answer(key, status, text)
        except ProvinceRejected as rejected:
            if self._codec is not None and self._codec.is_repeat(rejected.reason):
                return self._receipt(key, None, duplicate=True)
            raise

    def _route(self, url: str) -> tuple[HTTPConnectionPool, str]:
        """The host's connection pool and the path, found once per URL: what `PoolManager.request` would parse and
        look up again for every send (the endpoints are a handful, fixed by the settings)."""
        route = self._routes.get(url)
        if route is None:
            route = self._routes[url] = (self._pool.connection_from_url(url), parse_url(url).request_uri)
        return route

    def _read_envelope(self, key: str, status: int, text: str, headers: dict[str, str]) -> Receipt:
        """A profile's answer: its envelope read, a repeat taken as delivered, a wrong envelope retried."""
        assert self._codec is not None
        try:
            answer = self._codec.decode_answer(status, text, headers)
        except EnvelopeError as exc:  # the body is not logged: it may echo what we sent
            logger.warning("province answer unreadable", extra={"rating_id": key, "status": status, "why": str(exc)})
            raise ProvinceUnavailable(f"unreadable answer: {exc}", status) from None
        if answer is None:
            try:
                return self._read_answer(key, status, text)
            except ProvinceRejected as rejected:
                if self._codec.is_repeat(rejected.reason):
                    return self._receipt(key, None, duplicate=True)
                raise
        if answer.auth_failed:  # the gateway never judged the rating: our credentials are wrong for all of them
            raise ProvinceAuthFailed(_short(answer.reason), status)
        if not answer.ok:
            raise ProvinceRejected(status, _short(answer.reason))
        when = current_clock().now()
        return Receipt(answer.receipt_id, key, answer.duplicate, when)

    def _read_answer(self, key: str, status: int, text: str) -> Receipt:
        conf = self.mapping.response
        try:
            answer: Any = json.loads(text) if text.strip() else None
        except ValueError:
            answer = None
        code = _path(answer, conf.code_field)
        code = None if code is None else str(code)
        message = _path(answer, conf.message_field)
        reason = _short(str(message) if message not in (None, "") else text.strip() or f"HTTP {status}")
        if status in AUTH_STATUSES:
            raise ProvinceAuthFailed(reason, status)
        if 400 <= status < 500 and status not in RETRYABLE_4XX:
            raise ProvinceRejected(status, reason, code)
        if not 200 <= status < 300:
            raise ProvinceUnavailable(reason, status)
        if conf.code_field is not None:
            if answer is None:
                raise ProvinceUnavailable("the answer is not JSON", status)
            if code in conf.duplicate_codes:
                return self._receipt(key, answer, duplicate=True)
            if code not in conf.ok_codes:
                raise ProvinceRejected(status, reason, code)
        return self._receipt(key, answer, duplicate=bool(_path(answer, conf.duplicate_field)))

    def _receipt(self, key: str, answer: Any, *, duplicate: bool) -> Receipt:
        conf = self.mapping.response
        receipt_id = _path(answer, conf.receipt_field)
        received_at = _path(answer, conf.received_at_field)
        when = None
        if isinstance(received_at, str):
            try:
                when = datetime.fromisoformat(received_at)
            except ValueError:
                when = None
        if when is None or when.tzinfo is None:
            when = current_clock().now()
        return Receipt(None if receipt_id is None else str(receipt_id), key, duplicate, when)

    def close(self) -> None:
        self._routes.clear()
        self._pool.clear()

    def __enter__(self) -> ProvincialClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def default_outcome_url(url: str) -> str:
    base = url.rstrip("/")
    return (base.removesuffix("/ratings") if base.endswith("/ratings") else base) + "/outcomes"


def default_service_url(url: str, path: str) -> str:
    """The service-record endpoint: `url` with a last `/ratings` replaced by `path` (`/service`), or appended."""
    base = url.rstrip("/")
    return base.removesuffix("/ratings") + "/" + path.lstrip("/")


def _transport_reason(exc: HTTPError) -> str:
    cause: BaseException = exc.reason if isinstance(exc, MaxRetryError) and exc.reason else exc
    if isinstance(cause, Urllib3Timeout):
        return f"timeout: {type(cause).__name__}"
    if isinstance(cause, ProtocolError):
        return f"connection broken: {cause.args[0] if cause.args else type(cause).__name__}"
    return f"connection failed: {type(cause).__name__}"

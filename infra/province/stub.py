"""A stand-in for the provincial 好差评 system: a real HTTP server on loopback, with knobs for faults.

It checks what the real one would: the signature (401), the record against the published schema of
`ProvincialRating` (400, with a reason that names fields and rules, never the values sent), and it
de-duplicates by `evalId`, answering a re-sent rating with its original receipt and `duplicate: true`.

Faults, for the forwarder's retry paths:
  - `error_rate`: answer 503 (or `error_status`, e.g. 500) before looking at the request (nothing is stored);
  - `timeout_rate`: store the rating, then answer only after `timeout_sleep` seconds (default: the client's
    default read timeout + 1 s; keep it longer than the read timeout in use), so the answer is lost and the
    retry arrives as a duplicate (the hard case);
  - `down`: reset every rating connection without answering. The admin routes stay up, so the stub can
    be broken and repaired over HTTP (`POST /_faults`).

Routes: `POST /ratings` (or `/`) takes a rating; `POST /outcomes` takes a work order's outcome (checked against
`ProvincialOutcome`, de-duplicated by `outcomeId`; the same faults apply); `GET /_received` lists accepted
records (national field names) in order, `GET /_outcomes` the outcomes; `GET /_stats`; `GET|POST /_faults`;
`POST /_reset` forgets everything.
Run by hand: `python -m infra.province.stub --port 8788`.
What it checks against (schemas, its test keys and credentials) is `infra.province.stub_checks`; the names
are importable from here as before.

With a profile (`ProvinceStub(profile=ProvinceProfile.load("shandong"))`, `--profile shandong`) it plays that
province: it decrypts with the province's key (the stub's test key, `STUB_PROVINCE_SM2_KEY`), checks the
Epoint "sign" or the signature headers, validates each record against the profile's schema, answers in the
profile's envelope (results SM2-encrypted to the hub's key), refuses an evaluation whose service record
(two-step profiles, `POST /service`) it has not seen, and answers a re-sent rating with the profile's repeat
message. The `repeat` knob (`POST /_faults {"repeat": true}`) answers every rating so, as a province that
already had it would; `GET /_services` lists the service records.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import random
import socket
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from infra.province import sm2
from infra.province.client import DEFAULT_TIMEOUT
from infra.province.mapping import DEFAULT, MappingError, ProvincialMapping, to_national, unwrap
from infra.province.profile import Codec, EnvelopeError, EpointEnvelope, ProfileKeys, ProvinceProfile, RecordKind
from infra.province.signing import SignatureError, verify
from infra.province.stub_checks import (
    STUB_APP_ID,
    STUB_HUB_SM2_KEY,
    STUB_HUB_SM2_PUBLIC,
    STUB_PROVINCE_SM2_KEY,
    STUB_PROVINCE_SM2_PUBLIC,
    STUB_SECRET,
    outcome_validator,
    profile_validator,
    provincial_validator,
    schema_reason,
    stub_credentials,
)
from infra.province.stub_checks import Refusal as _Refusal

__all__ = [  # what callers import from here (the checks and the test identity live in stub_checks)
    "STUB_APP_ID", "STUB_HUB_SM2_KEY", "STUB_HUB_SM2_PUBLIC", "STUB_PROVINCE_SM2_KEY", "STUB_PROVINCE_SM2_PUBLIC",
    "STUB_SECRET", "TIMEOUT_SLEEP", "ProvinceStub", "main", "outcome_validator", "provincial_validator",
    "schema_reason", "stub_credentials",
]  # fmt: skip
logger = logging.getLogger(__name__)

MAX_BODY = 1 << 20
_NONCES_KEPT = 100_000
_BEIJING = ZoneInfo("Asia/Shanghai")
# A timeout fault must outlast the client's read timeout, or it is merely a slow answer.
TIMEOUT_SLEEP = DEFAULT_TIMEOUT[1] + 1.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    stub: ProvinceStub


class ProvinceStub:
    """The provincial stub. `start()` serves in a background thread; `.url` is its base URL."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        app_id: str = STUB_APP_ID,
        secret: str = STUB_SECRET,
        mapping: ProvincialMapping = DEFAULT,
        *,
        timeout_sleep: float = TIMEOUT_SLEEP,
        profile: ProvinceProfile | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.app_id, self._secret = app_id, secret
        self.profile = profile
        self.mapping = profile.mapping if profile is not None else mapping
        self.codec = (
            Codec(
                profile,
                ProfileKeys(sm2.load_public_key(STUB_HUB_SM2_PUBLIC), sm2.load_private_key(STUB_PROVINCE_SM2_KEY)),
            )
            if profile is not None
            else None
        )
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._faults: dict[str, Any] = {}
        self._rng = random.Random()
        self.set_faults(timeout_sleep=timeout_sleep)
        self.reset()

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> ProvinceStub:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server((self.host, self.port), _Handler)
        server.stub = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="province-stub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open connections; a sleeping (timeout fault) answer is abandoned."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ProvinceStub:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def ratings_url(self) -> str:
        return f"{self.url}/ratings"

    # --- what it saw -----------------------------------------------------------------------------
    def received(self) -> list[dict[str, Any]]:
        """Accepted records (national field names), in the order they arrived; duplicates not repeated."""
        with self._lock:
            return [dict(record) for record in self._records]

    def services(self) -> list[dict[str, Any]]:
        """Accepted service records (two-step profiles), national names, in order; repeats not repeated."""
        with self._lock:
            return [dict(record) for record in self._services.values()]

    def outcomes(self) -> list[dict[str, Any]]:
        """Accepted work-order outcomes, in the order they arrived; duplicates not repeated."""
        with self._lock:
            return [dict(record) for record in self._outcomes]

    def arrivals(self) -> dict[str, float]:
        """When each idempotency key was first accepted (`time.monotonic()`): latency benchmarks read it."""
        with self._lock:
            return dict(self._arrivals)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._stats)

    def duplicate_causes(self) -> dict[str, int]:
        """Rating duplicates by what the stub did with the request before: `after_injected_timeout` (it stored the
        rating and hung: the answer was lost by design, `timeouts_injected` of those) or `after_answer` (it
        answered at once, yet the rating came again: the hub's client gave up on an answer given in time, as a
        starved machine's does, or the hub sent a rating it had a receipt for). `after_answer_within_5s`: of those,
        the ones that came within 5 s of that answer — a second copy sent at the same time, not a retry after a
        backoff (which waits 8 s at least)."""
        with self._lock:
            return dict(self._causes)

    def _note(self, key: str, *, duplicate: bool, hung: bool) -> None:
        now = time.monotonic()
        with self._lock:
            if duplicate:
                after_hang = key in self._hung
                self._causes["after_injected_timeout" if after_hang else "after_answer"] += 1
                if not after_hang and now - self._answered.get(key, float("-inf")) < 5.0:
                    self._causes["after_answer_within_5s"] += 1
            if hung:
                self._causes["timeouts_injected"] += 1
                self._hung.add(key)
                self._answered.pop(key, None)
            else:
                self._hung.discard(key)
                self._answered[key] = now

    def faults(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._faults)

    def set_faults(
        self,
        error_rate: float = 0.0,
        timeout_rate: float = 0.0,
        down: bool = False,
        seed: int | None = None,
        timeout_sleep: float | None = None,
        repeat: bool = False,
        error_status: int = 503,
    ) -> None:
        """Set every knob at once (unnamed ones back to no fault); `seed` makes the dice repeatable.
        `error_status` is what an injected error answers: 503 (the province is busy: retried, never counted
        against the rating) or 500 (the province failed on this rating: counted, dead-lettered after the limit)."""
        for name, rate in (("error_rate", error_rate), ("timeout_rate", timeout_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be within 0..1")
        if not 500 <= int(error_status) <= 599:
            raise ValueError("error_status must be a 5xx status")
        with self._lock:
            sleep = self._faults.get("timeout_sleep", TIMEOUT_SLEEP) if timeout_sleep is None else float(timeout_sleep)
            self._faults = {
                "error_rate": float(error_rate),
                "timeout_rate": float(timeout_rate),
                "down": bool(down),
                "seed": seed,
                "timeout_sleep": sleep,
                "repeat": bool(repeat),
                "error_status": int(error_status),
            }
            self._rng = random.Random(seed)

    def reset(self) -> None:
        """Forget every rating, receipt, nonce and count (faults stay)."""
        with self._lock:
            self._records: list[dict[str, Any]] = []
            self._arrivals: dict[str, float] = {}
            self._receipts: dict[str, dict[str, Any]] = {}
            self._outcomes: list[dict[str, Any]] = []
            self._outcome_receipts: dict[str, dict[str, Any]] = {}
            self._services: dict[str, dict[str, Any]] = {}
            self._nonces: set[str] = set()
            self._nonce_order: deque[str] = deque()
            self._stats = {"requests": 0, "accepted": 0, "duplicates": 0, "rejected": 0, "faults_injected": 0}
            self._hung: set[str] = set()  # ratings whose last request was stored and then hung (a timeout fault)
            self._causes = {"timeouts_injected": 0, "after_injected_timeout": 0, "after_answer": 0,
                            "after_answer_within_5s": 0}  # fmt: skip
            self._answered: dict[str, float] = {}  # when each rating's last request was answered at once

    # --- the rating route ------------------------------------------------------------------------
    def error_status(self) -> int:
        with self._lock:
            return int(self._faults.get("error_status", 503))

    def _dice(self) -> tuple[bool, bool, bool, float]:
        with self._lock:
            self._stats["requests"] += 1
            f = self._faults
            error = self._rng.random() < f["error_rate"]
            slow = self._rng.random() < f["timeout_rate"]
            if f["down"] or error or slow:
                self._stats["faults_injected"] += 1
            return f["down"], error, slow, f["timeout_sleep"]

    def _take(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        """Check one signed body and record it; returns the receipt. Raises `_Refusal`."""
        conf = self.mapping.signature
        if not conf.needs_params:
            self._verify(headers, body, None)
        try:
            records = unwrap(json.loads(body), self.mapping)
        except ValueError as exc:  # JSONDecodeError and MappingError alike
            code = "ENVELOPE_INVALID" if isinstance(exc, MappingError) else "BODY_MALFORMED"
            raise _Refusal(400, code, str(exc) if isinstance(exc, MappingError) else "not JSON") from None
        if len(records) != 1:
            raise _Refusal(400, "ENVELOPE_INVALID", "one rating record per request")
        if conf.needs_params:
            self._verify(headers, body, records[0])
        try:
            national = to_national(records[0], self.mapping)
        except MappingError as exc:
            raise _Refusal(400, "SCHEMA_INVALID", str(exc)) from None
        errors = list(provincial_validator().iter_errors(national))
        if errors:
            raise _Refusal(400, "SCHEMA_INVALID", schema_reason(errors))
        key = national["evalId"]
        with self._lock:
            original = self._receipts.get(key)
            if original is not None:
                self._stats["duplicates"] += 1
                return {**original, "duplicate": True}
            receipt = {
                "receiptId": uuid.uuid4().hex,
                "evalId": key,
                "duplicate": False,
                "receivedAt": datetime.now(_BEIJING).isoformat(timespec="milliseconds"),
            }
            self._receipts[key] = receipt
            self._records.append(national)
            self._arrivals[key] = time.monotonic()
            self._stats["accepted"] += 1
            return receipt

    def _take_profile(self, headers: dict[str, str], body: bytes, kind: RecordKind) -> dict[str, Any]:
        """One push in the profile's envelope: decrypted, checked, recorded. Returns the receipt, with
        `repeat` True when the province already had it (or the repeat knob is on). Raises `_Refusal`."""
        profile, codec = self.profile, self.codec
        assert profile is not None and codec is not None
        try:
            records = codec.decode_request(
                body, headers, kind, app_mark=self.app_id, app_word=self._secret, now=datetime.now(_BEIJING)
            )
        except EnvelopeError as exc:
            status = 401 if "sign" in str(exc) or "appMark" in str(exc) else 400
            raise _Refusal(status, "SIGN_INVALID" if status == 401 else "ENVELOPE_INVALID", str(exc)) from None
        if len(records) != 1:
            raise _Refusal(400, "ENVELOPE_INVALID", "one record per request")
        if profile.envelope.kind == "plain":
            self._verify(headers, body, records[0] if self.mapping.signature.needs_params else None)
        try:
            national = to_national(records[0], self.mapping)
        except MappingError as exc:
            raise _Refusal(400, "SCHEMA_INVALID", str(exc)) from None
        errors = list(profile_validator(profile, kind).iter_errors(national))
        if errors:
            raise _Refusal(400, "SCHEMA_INVALID", schema_reason(errors))
        with self._lock:
            repeat_knob = bool(self._faults.get("repeat")) and kind == "evaluate"
            if kind == "service":
                key = f"{national['projectNo']}#{national['assessNumber']}"
                if key in self._services:
                    self._stats["duplicates"] += 1
                    return {"serviceKey": key, "repeat": True}
                self._services[key] = national
                return {"serviceKey": key, "repeat": False}
            if profile.service_record is not None:
                service_key = f"{national['projectNo']}#{national['assessNumber']}"
                if service_key not in self._services:
                    raise _Refusal(400, "SERVICE_MISSING", "办件数据不存在: push the service record first")
            key = national["evalId"]
            original = self._receipts.get(key)
            if original is not None:
                self._stats["duplicates"] += 1
                return {**original, "duplicate": True, "repeat": True}
            receipt = {
                "receiptId": uuid.uuid4().hex,
                "evalId": key,
                "duplicate": False,
                "receivedAt": datetime.now(_BEIJING).isoformat(timespec="milliseconds"),
                "repeat": repeat_knob,
            }
            self._receipts[key] = receipt
            self._records.append(national)
            self._arrivals[key] = time.monotonic()
            self._stats["accepted"] += 1
            return receipt

    def _take_outcome(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        """Check one signed outcome and record it; returns the receipt. Raises `_Refusal`."""
        conf = self.mapping.signature
        try:
            record = json.loads(body)
        except ValueError:
            raise _Refusal(400, "BODY_MALFORMED", "not JSON") from None
        if not isinstance(record, dict):
            raise _Refusal(400, "ENVELOPE_INVALID", "one outcome record per request")
        self._verify(headers, body, record if conf.needs_params else None)
        national = dict(record)
        if self.mapping.time_format != DEFAULT.time_format and isinstance(national.get("handleTime"), str):
            try:
                national["handleTime"] = DEFAULT.format_time(self.mapping.parse_time(national["handleTime"]))
            except MappingError as exc:
                raise _Refusal(400, "SCHEMA_INVALID", str(exc)) from None
        errors = list(outcome_validator().iter_errors(national))
        if errors:
            raise _Refusal(400, "SCHEMA_INVALID", schema_reason(errors))
        key = national["outcomeId"]
        with self._lock:
            original = self._outcome_receipts.get(key)
            if original is not None:
                self._stats["duplicates"] += 1
                return {**original, "duplicate": True}
            receipt = {
                "receiptId": uuid.uuid4().hex,
                "outcomeId": key,
                "duplicate": False,
                "receivedAt": datetime.now(_BEIJING).isoformat(timespec="milliseconds"),
            }
            self._outcome_receipts[key] = receipt
            self._outcomes.append(national)
            return receipt

    def _verify(self, headers: dict[str, str], body: bytes, params: dict[str, Any] | None) -> None:
        conf = self.mapping.signature
        try:
            verify(conf, headers, body=body, secrets={self.app_id: self._secret}, params=params)
        except SignatureError as exc:
            raise _Refusal(401, exc.code, exc.message) from None
        nonce = {k.lower(): v for k, v in headers.items()}[conf.nonce_header.lower()]
        with self._lock:
            if nonce in self._nonces:
                raise _Refusal(401, "NONCE_REUSED", "this nonce was used before (a replayed request)")
            self._nonces.add(nonce)
            self._nonce_order.append(nonce)
            if len(self._nonce_order) > _NONCES_KEPT:
                self._nonces.discard(self._nonce_order.popleft())

    def _count_rejected(self) -> None:
        with self._lock:
            self._stats["rejected"] += 1

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            (self._connections.add if add else self._connections.discard)(conn)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's pool expects
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall
    timeout = 30  # an idle keep-alive connection is closed after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.stub._track(self.connection, True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.stub._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("province stub: " + format, *args)

    # --- plumbing ---------------------------------------------------------------------------------
    def _send_json(self, status: int, data: Any) -> None:
        payload = json.dumps(data, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (timeout fault) or reset
            self.close_connection = True

    def _refuse(self, status: int, code: str, message: str) -> None:
        self._send_json(status, {"code": str(status), "msg": f"{code}: {message}"})

    def _body(self) -> bytes | None:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._refuse(411, "LENGTH_REQUIRED", "Content-Length is required")
            return None
        if int(length) > MAX_BODY:
            self.close_connection = True
            self._refuse(413, "BODY_TOO_LARGE", f"more than {MAX_BODY} bytes")
            return None
        return self.rfile.read(int(length))

    def _reset_connection(self) -> None:
        """Answer nothing and reset (RST) the connection, as a dead gateway does."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    # --- routes -----------------------------------------------------------------------------------
    def do_GET(self) -> None:
        stub = self.server.stub
        path = urlsplit(self.path).path
        if path == "/_received":
            self._send_json(200, stub.received())
        elif path == "/_outcomes":
            self._send_json(200, stub.outcomes())
        elif path == "/_services":
            self._send_json(200, stub.services())
        elif path == "/_stats":
            self._send_json(200, stub.stats())
        elif path == "/_faults":
            self._send_json(200, stub.faults())
        else:
            self._refuse(404, "NOT_FOUND", path)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path in ("/", "/ratings"):
            self._rating()
        elif path == "/service" and self.server.stub.profile is not None:
            self._rating(kind="service")
        elif path == "/outcomes":
            self._rating(outcome=True)
        elif path == "/_faults":
            self._admin_faults()
        elif path == "/_reset":
            self._body()
            self.server.stub.reset()
            self._send_json(200, {"reset": True})
        else:
            self._body()
            self._refuse(404, "NOT_FOUND", path)

    def _admin_faults(self) -> None:
        body = self._body()
        if body is None:
            return
        stub = self.server.stub
        try:
            knobs = json.loads(body or b"{}")
            if not isinstance(knobs, dict):
                raise TypeError("a JSON object of knobs")
            stub.set_faults(**knobs)
        except (ValueError, TypeError) as exc:
            self._refuse(400, "FAULTS_INVALID", str(exc))
            return
        self._send_json(200, stub.faults())

    def _rating(self, outcome: bool = False, kind: RecordKind = "evaluate") -> None:
        stub = self.server.stub
        down, error, slow, sleep = stub._dice()
        if down:
            self._reset_connection()
            return
        body = self._body()
        if body is None:
            stub._count_rejected()
            return
        if error:
            self._refuse(stub.error_status(), "UNAVAILABLE", "injected fault")
            return
        headers = dict(self.headers.items())
        if stub.profile is not None and not outcome:
            status, answer = _profile_answer(stub, headers, body, kind)
            if slow and stub._stopping.wait(sleep):
                self.close_connection = True
                return
            self._send_json(status, answer)
            return
        try:
            receipt = stub._take_outcome(headers, body) if outcome else stub._take(headers, body)
            status, answer = 200, {"code": "200", "msg": "成功", "data": receipt}
            if not outcome:
                stub._note(receipt["evalId"], duplicate=receipt["duplicate"], hung=slow)
        except _Refusal as refusal:
            stub._count_rejected()
            status, answer = refusal.status, {"code": str(refusal.status), "msg": f"{refusal.code}: {refusal.message}"}
        if slow and stub._stopping.wait(sleep):
            self.close_connection = True
            return
        self._send_json(status, answer)


def _profile_answer(stub: ProvinceStub, headers: dict[str, str], body: bytes, kind: RecordKind) -> tuple[int, Any]:
    """The answer a profile's province gives: its envelope, a business refusal in a 200 as gateways do."""
    profile, codec = stub.profile, stub.codec
    assert profile is not None and codec is not None
    repeat_message = profile.repeat_messages[0] if profile.repeat_messages else "duplicate"
    epoint = isinstance(profile.envelope, EpointEnvelope)
    try:
        receipt = stub._take_profile(headers, body, kind)
    except _Refusal as refusal:
        stub._count_rejected()
        if not epoint:
            return refusal.status, {"code": str(refusal.status), "msg": f"{refusal.code}: {refusal.message}"}
        if refusal.status == 401:  # an Epoint gateway answers a bad sign in a 200, in its own words
            envelope = profile.envelope
            assert isinstance(envelope, EpointEnvelope)
            return 200, {envelope.desc_field: "签名错误", envelope.body_field: {}}
        result = {"code": str(refusal.status), "msg": f"{refusal.code}: {refusal.message}"}
        return 200, codec.encode_answer([result], ok=False, desc="failure")
    repeat = receipt.pop("repeat", False)
    if epoint:
        result = {"code": "500" if repeat else "200", "msg": repeat_message if repeat else "success", **receipt}
        return 200, codec.encode_answer([result], ok=not repeat, desc=repeat_message if repeat else None)
    if repeat:
        return 200, {"code": "500", "msg": repeat_message}
    return 200, {"code": "200", "msg": "成功", "data": receipt}


def _iter_lines(stub: ProvinceStub) -> Iterator[str]:
    yield f"province stub on {stub.url} (app id {stub.app_id})"
    yield f"  POST {stub.ratings_url}   signed ratings ({stub.mapping.signature.algorithm})"
    yield f'  GET  {stub.url}/_received | /_stats | /_faults;  POST {stub.url}/_faults {{"down": true}}'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.province.stub", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8788)
    parser.add_argument("--app-id", default=STUB_APP_ID)
    parser.add_argument("--secret", default=STUB_SECRET)
    parser.add_argument("--mapping", help="a ProvincialMapping JSON file (default: the national format)")
    parser.add_argument("--profile", help="play a province profile (a shipped name, e.g. shandong, or a path)")
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--timeout-rate", type=float, default=0.0)
    parser.add_argument("--timeout-sleep", type=float, default=TIMEOUT_SLEEP, help="longer than the read timeout")
    parser.add_argument("--seed", type=int)
    args = parser.parse_args(argv)
    mapping = ProvincialMapping.from_file(args.mapping) if args.mapping else DEFAULT
    profile = ProvinceProfile.load(args.profile) if args.profile else None
    stub = ProvinceStub(
        args.host, args.port, args.app_id, args.secret, mapping, timeout_sleep=args.timeout_sleep, profile=profile
    )
    stub.set_faults(error_rate=args.error_rate, timeout_rate=args.timeout_rate, seed=args.seed)
    stub.start()
    for line in _iter_lines(stub):
        print(line, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        stub.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

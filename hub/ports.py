"""Ports: what the domain needs from the outside world, as small abstract classes.

Adapters live in `infra/` and are named for their technology (`DynamoRatingStore`, `SqsForwardQueue`);
`infra/memory.py` holds an `InMemory*` fake of every port, and one contract test per port runs over both.
Rating types are imported for annotations only, so the clock (read by every edge) stays cheap to import.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from hub.calendar import YearNotice
    from hub.case_notice import CaseNotice
    from hub.cases import Timer
    from hub.errors import Problem
    from hub.rating import Rating


class Clock(ABC):
    @abstractmethod
    def now(self) -> datetime:
        """An aware datetime."""


# --------------------------------------------------------------------------------------------------
# Connectors: who may send ratings, and the secret their requests are signed with


ConnectorStatus = Literal["active", "disabled"]
CONNECTOR_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}$")
_KIND = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


@dataclass(frozen=True, slots=True)
class Connector:
    """A registered source. `settings` are overrides of its family's spec (code tables, time formats);
    a `custom` connector carries its own declarative `spec` (the text its department wrote).

    Scope (R20): `agencies` (credit codes) and `regions` (division-code prefixes) it may rate for; an
    empty list does not restrict (connectors registered through the API always name their agencies).
    After a rotation the `previous_secret` still signs until `previous_valid_until`.
    """

    connector_id: str
    kind: str
    name: str
    department: str
    status: ConnectorStatus
    secret: str = field(repr=False)
    created_at: datetime
    settings: Mapping[str, Any] = field(default_factory=dict, hash=False)
    owner_agency: str = ""
    agencies: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    spec: str | None = field(default=None, repr=False)
    previous_secret: str | None = field(default=None, repr=False)
    previous_valid_until: datetime | None = None
    updated_at: datetime | None = None
    # Secrets older than the previous one, with when each stopped signing: never accepted, kept (sealed) only so
    # a request signed with one is told KEY_RETIRED rather than SIGNATURE_INVALID. Newest first, at most RETIRED_KEPT.
    retired: tuple[tuple[str, datetime], ...] = field(default=(), repr=False)

    @property
    def active(self) -> bool:
        return self.status == "active"


RETIRED_KEPT = 5  # retired secrets remembered per connector, for KEY_RETIRED


class UnknownConnector(LookupError):
    pass


class ConnectorChanged(RuntimeError):
    """Someone else changed the connector between our read and our write (two rotations at once): read again."""


class ConnectorStore(ABC):
    """Connectors by id. `create` owns the id and the secret, so every adapter makes them the same way."""

    def create(
        self,
        kind: str,
        name: str,
        department: str,
        settings: Mapping[str, Any] | None = None,
        *,
        now: datetime,
        owner_agency: str = "",
        agencies: Sequence[str] = (),
        regions: Sequence[str] = (),
        spec: str | None = None,
    ) -> tuple[Connector, str]:
        """A new active connector and its secret (returned here once, to be handed to the source)."""
        if not _KIND.match(kind):
            raise ValueError(f"not a source family name: {kind!r}")
        if not name.strip() or not department.strip():
            raise ValueError("a connector needs a name and an owning department")
        secret = secrets.token_urlsafe(32)
        connector = Connector(
            connector_id=f"{kind.replace('_', '-')}-{secrets.token_hex(6)}",
            kind=kind,
            name=name.strip(),
            department=department.strip(),
            status="active",
            secret=secret,
            created_at=now,
            settings=dict(settings or {}),
            owner_agency=owner_agency,
            agencies=tuple(agencies),
            regions=tuple(regions),
            spec=spec,
            updated_at=now,
        )
        self._insert(connector)
        return connector, secret

    @abstractmethod
    def _insert(self, connector: Connector) -> None:
        """Store a new connector; its id is fresh (an existing one is never overwritten)."""

    @abstractmethod
    def get(self, connector_id: str) -> Connector | None: ...

    @abstractmethod
    def list(self) -> Sequence[Connector]:
        """Every connector, by id."""

    def set_status(self, connector_id: str, status: ConnectorStatus, *, now: datetime | None = None) -> Connector:
        """Disable (or re-enable) a connector; raises `UnknownConnector`."""
        return self.update(connector_id, now=now, status=status)

    def update(self, connector_id: str, *, now: datetime | None = None, **changes: Any) -> Connector:
        """The connector with `changes` (name, scope, spec, settings, status) applied; raises `UnknownConnector`."""
        current = self.get(connector_id)
        if current is None:
            raise UnknownConnector(connector_id)
        updated = replace(current, **changes, updated_at=now or current.updated_at)
        self._replace(updated, previous=current)
        return updated

    def rotate(self, connector_id: str, *, now: datetime, grace: timedelta) -> tuple[Connector, str]:
        """A new secret (returned once); the current one keeps signing until `now + grace`."""
        current = self.get(connector_id)
        if current is None:
            raise UnknownConnector(connector_id)
        secret = secrets.token_urlsafe(32)
        retired = current.retired
        if current.previous_secret and current.previous_valid_until is not None:
            retired = ((current.previous_secret, min(current.previous_valid_until, now)), *retired)[:RETIRED_KEPT]
        updated = replace(
            current, secret=secret, previous_secret=current.secret, previous_valid_until=now + grace, updated_at=now,
            retired=retired,
        )  # fmt: skip
        self._replace(updated, previous=current)
        return updated, secret

    @abstractmethod
    def _replace(self, connector: Connector, previous: Connector | None = None) -> None:
        """Overwrite a stored connector; with `previous`, only if it is still what is stored (else
        `ConnectorChanged`), so of two concurrent rotations one fails rather than one secret being lost."""


class NonceStore(ABC):
    """Nonces of signed requests, remembered long enough that a replay inside the time window is seen."""

    @abstractmethod
    def remember(self, connector_id: str, nonce: str, *, now: datetime, ttl: timedelta) -> bool:
        """True the first time this connector uses `nonce`; False if it is remembered (a replay).

        Atomic: of two concurrent calls with the same nonce, exactly one gets True.
        """


# --------------------------------------------------------------------------------------------------
# Ratings


PutOutcome = Literal["accepted", "duplicate", "conflict"]
ConflictKind = Literal["source_id", "case"]
ForwardState = Literal["pending", "forwarded", "parked"]


@dataclass(frozen=True, slots=True)
class PutResult:
    """`conflict` says what was taken: the source id (other content) or the case's slot (R8, R6)."""

    outcome: PutOutcome
    conflict: ConflictKind | None = None


ACCEPTED = PutResult("accepted")
DUPLICATE = PutResult("duplicate")


# A dead-lettered rating's next attempt is the operator's redrive: never due for the sweep.
DEAD_LETTERED_DUE = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class StoredRating:
    rating: Rating
    raw_ref: str
    content_hash: str
    stored_at: datetime
    forward_state: ForwardState
    receipt: str | None = None
    parked_reason: str | None = None
    service_receipt: str | None = None  # two-step provinces: the service record (办件服务) went through
    not_adopted_by: str | None = None  # the work order whose R14 mark or upheld appeal (R17) took it out
    attempts: int = 0  # sends that did not get through, since stored (or since it was dead-lettered)
    failures: int = 0  # of those, the ones the province gave (`hub.forwarding.ProvinceUnreachable.counted`)
    last_attempt_at: datetime | None = None
    next_due_at: datetime | None = None  # when its queued message comes back (stored_at at first); the sweep waits

    @property
    def adopted(self) -> bool:
        return self.not_adopted_by is None


class UnknownRating(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class RatingQuery:
    """A page of ratings stored in [start, end), newest first. `agencies` (None: any) and `region_prefix`
    are the asker's scope already narrowed by their filters (`hub.rating_reads`); `cursor` is opaque."""

    start: datetime
    end: datetime
    agencies: frozenset[str] | None = None
    region_prefix: str = ""
    grade: str | None = None
    connector_id: str | None = None
    include_not_adopted: bool = False
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class RatingPage:
    ratings: Sequence[StoredRating]
    cursor: str | None = None


SweepPage = tuple[Sequence[str], str | None]  # rating ids due, and the cursor to the next page (None: the last)


class RatingStore(ABC):
    """Ratings, written once. A rating is keyed by its id and by its duplicate key (R8: one per case,
    step and round; R6: the real and the default rating share it), and both are claimed together.
    """

    @abstractmethod
    def put_new(self, rating: Rating, raw_ref: str) -> PutResult:
        """Store `rating` unless its id or its duplicate key is taken; pending forwarding when stored.

        The same id with the same content is a `duplicate`; anything else already there is a
        `conflict`, and what is there stays. `stored_at` is the rating's `source.received_at`.
        """

    @abstractmethod
    def get(self, rating_id: str) -> StoredRating | None: ...

    @abstractmethod
    def mark_forwarded(self, rating_id: str, receipt: str, *, at: datetime) -> None:
        """The province took it; it leaves the backlog. Raises `UnknownRating`."""

    @abstractmethod
    def mark_service_pushed(self, rating_id: str, receipt: str, *, at: datetime) -> None:
        """Two-step provinces: the rating's service record was received; a retry sends the evaluation only."""

    @abstractmethod
    def mark_parked(self, rating_id: str, reason: str, *, at: datetime) -> None:
        """The province refused it (a 4xx); it leaves the backlog for an operator. Raises `UnknownRating`."""

    @abstractmethod
    def pending_older_than(self, cutoff: datetime, limit: int, *, due_by: datetime | None = None) -> Sequence[str]:
        """Ids of ratings stored before `cutoff` and not forwarded, oldest first (for the sweep); with
        `due_by`, only those whose next attempt (if one is scheduled) was due by then."""

    @abstractmethod
    def due_for_sweep(self, due_by: datetime, limit: int, *, cursor: str | None = None) -> SweepPage:
        """Ids of pending ratings whose next attempt was due by `due_by` (a fresh rating is due when stored),
        soonest due first, at most `limit`, read from an index on the due time: what only waits out its
        backoff is not read at all. With the cursor returned (None: nothing more is due) the next page."""

    @abstractmethod
    def requeued(self, rating_id: str, *, next_due: datetime) -> None:
        """The sweep queued it again: not due before `next_due` (the new message's time to be received).
        A rating forwarded meanwhile is left as it is."""

    @abstractmethod
    def record_attempt(self, rating_id: str, *, at: datetime, next_due: datetime, counted: bool) -> None:
        """A send that did not get through: when, when the next is due, and whether it counts as a failure
        the province gave. Raises `UnknownRating`."""

    @abstractmethod
    def mark_dead_lettered(self, rating_id: str, reason: str, *, at: datetime) -> None:
        """Sent to the dead-letter queue with `reason`: the sweep leaves it to the operator (who redrives it,
        and it starts counting afresh). Still pending. Raises `UnknownRating`."""

    @abstractmethod
    def slot_holder(self, duplicate_key: str) -> str | None:
        """The id of the rating holding this case slot (R8; a default one counts, R6), if any.

        What closes a case for its reminders: a rating stored for it, whenever and however it came.
        """

    @abstractmethod
    def mark_not_adopted(self, rating_id: str, *, order_id: str, at: datetime) -> None:
        """R14/R17: the rating is out of the results (lists leave it out by default). Raises `UnknownRating`."""

    @abstractmethod
    def search(self, query: RatingQuery) -> RatingPage:
        """Ratings in the query's window and scope, newest first (an index on the stored time, not a scan)."""

    @abstractmethod
    def ids_of_person(self, *, phone: str | None = None, id_no: str | None = None, limit: int = 100) -> Sequence[str]:
        """Ids of the ratings whose rater has this phone or ID number, through the keyed look-up hashes."""

    @staticmethod
    def content_hash(rating: Rating) -> str:
        """What makes two posts of one source rating the same: everything but when it was received."""
        data = rating.model_dump(mode="json", exclude={"source": {"received_at"}})
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


class PersonalDataSealer(ABC):
    """R20: the rater's personal data is sealed before it is stored (`infra.sealing.EnvelopeSealer`).

    `context` is the record's id (a rating id, a case key): a sealed value opens only with it, so it
    cannot be pasted onto another record.
    """

    @abstractmethod
    def seal(self, plaintext: bytes, *, context: str) -> bytes: ...

    @abstractmethod
    def unseal(self, sealed: bytes, *, context: str) -> bytes:
        """Raises `ValueError` (`infra.sealing.SealError`) for a value tampered with or moved."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One read of personal data in clear (R20): who, when, which ratings, which request; never the data."""

    at: datetime
    subject: str
    role: str
    action: str
    rating_ids: tuple[str, ...]
    request_id: str


class AuditLog(ABC):
    """Every unmasked read is recorded here first; a read whose record fails is not answered."""

    @abstractmethod
    def record(self, entry: AuditEntry) -> None: ...

    @abstractmethod
    def between(self, start: datetime, end: datetime) -> Sequence[AuditEntry]:
        """Entries with `start <= at < end`, oldest first."""


class RawArchive(ABC):
    """The bytes a source sent, exactly, kept before anything is read from them."""

    @abstractmethod
    def put(
        self, connector_id: str, request_id: str, body: bytes, content_type: str | None, received_at: datetime
    ) -> str:
        """Archive `body`; returns its key (`raw/{connector_id}/{yyyy}/{mm}/{dd}/{request_id}`)."""

    @abstractmethod
    def get(self, key: str) -> tuple[bytes, str | None]:
        """The archived bytes and content type. Raises `KeyError`."""


_SHANGHAI = ZoneInfo("Asia/Shanghai")


def archive_key(connector_id: str, request_id: str, received_at: datetime) -> str:
    """Dated by the local day in China (DESIGN §1), so an operator finds a day's payloads under one prefix."""
    day = received_at.astimezone(_SHANGHAI)
    safe_id = re.sub(r"[^A-Za-z0-9._-]", "_", request_id)[:128] or "_"
    return f"raw/{connector_id}/{day:%Y}/{day:%m}/{day:%d}/{safe_id}"


class ForwardQueue(ABC):
    """Ratings waiting to be forwarded to the province (R9)."""

    @abstractmethod
    def enqueue(self, rating_ids: Sequence[str]) -> Sequence[str]:
        """Queue each id once; returns the ids that could not be queued. Never raises for a queue fault:
        the ratings are stored as pending, and the sweep queues what is left behind.
        """

    @abstractmethod
    def dead_letter(self, rating_id: str, reason: str) -> None:
        """Put the rating in the dead-letter queue with `reason`, for an operator (`hcp dlq`). Raises on a
        queue fault: the caller then keeps retrying instead."""


# --------------------------------------------------------------------------------------------------
# Normalization, as the ingest service sees it (the adapters live in connectors/)


class NormalizedItem(Protocol):
    """One record of a body: a valid rating, or the problems that refused it."""

    @property
    def index(self) -> int: ...

    @property
    def outcome(self) -> str: ...

    @property
    def rating(self) -> Rating | None: ...

    @property
    def problems(self) -> Sequence[Problem]: ...

    @property
    def source_rating_id(self) -> str | None: ...


class Normalizer(Protocol):
    """Bytes from a source to normalized items; raises `hub.errors.Refused` for a body it cannot read."""

    def __call__(
        self,
        adapter: Any,
        body: bytes,
        content_type: str | None,
        *,
        connector_id: str,
        received_at: datetime,
        now: datetime,
    ) -> Sequence[NormalizedItem]: ...


# --------------------------------------------------------------------------------------------------
# Completed cases (R5-R7): the stored notice and its window, the timers, SMS, the calendar's notices

CasePutOutcome = Literal["accepted", "duplicate", "conflict"]


@dataclass(frozen=True, slots=True)
class StoredCase:
    """A completed-case notice without a rating, and the rating window it opened (R5).

    `provisional_year` is the first year the window was counted through without a calendar for it;
    the store indexes it (sparse), so loading that year's notice finds every window to recompute.
    """

    notice: CaseNotice
    connector_id: str
    raw_ref: str
    received_at: datetime
    closes_at: datetime
    provisional: bool
    provisional_year: int | None = None

    @property
    def case_key(self) -> str:
        from hub.cases import case_key

        return case_key(self.notice)

    @property
    def content_hash(self) -> str:
        """What makes two posts of one notice the same: the notice itself, not when it came."""
        data = self.notice.model_dump(mode="json")
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


class CaseStore(ABC):
    """Cases by key (`hub.cases.case_key`), written once, with their timers in the same write."""

    @abstractmethod
    def put_new(self, case: StoredCase, timers: Sequence[Timer]) -> CasePutOutcome:
        """Store the case and its timers unless the case is there: the same notice again is a
        `duplicate`, another notice for the case a `conflict`; what is there stays."""

    @abstractmethod
    def get(self, case_key: str) -> StoredCase | None: ...

    @abstractmethod
    def provisional_in(self, year: int, limit: int) -> Sequence[str]:
        """Keys of cases whose window was counted through `year` without a calendar for it (an index
        on `provisional_year`, never a scan)."""

    @abstractmethod
    def update_window(
        self, case_key: str, closes_at: datetime, provisional: bool, provisional_year: int | None
    ) -> None:
        """The window recomputed with a calendar that knows more (a notice was loaded)."""


class TimerStore(ABC):
    """Timers by due time. Pending timers are in an index on their due time, so the scheduler reads
    only what is due; a fired timer leaves the index.

    Firing is claim → act → `finish` (or `defer`). A claim is a lease: the timer stays pending, due
    at the lease's end, so a run that dies mid-way is retried after it, while a second run that read
    the same timer is refused the claim.
    """

    @abstractmethod
    def due(self, now: datetime, limit: int) -> Sequence[Timer]:
        """Up to `limit` pending timers with `due_at <= now`, earliest first."""

    @abstractmethod
    def claim(self, timer: Timer, lease_until: datetime) -> int | None:
        """Take `timer` (as `due` returned it) for this run: the attempt number (1 for the first claim)
        for exactly one of several overlapping callers, None for the others and for a timer fired or
        moved since it was read."""

    @abstractmethod
    def finish(self, timer: Timer, outcome: str, *, at: datetime) -> None:
        """Fired: out of the index for good, its outcome kept."""

    @abstractmethod
    def defer(self, timer: Timer, due_at: datetime) -> None:
        """Still pending, due at `due_at` (quiet hours, a window that moved, an SMS to try again)."""

    @abstractmethod
    def reschedule(self, timer: Timer) -> bool:
        """A pending timer of the same case and kind moves to `timer.due_at`; False if it has fired."""


class SmsFailed(Exception):
    """The SMS service did not take the message; `reason` carries no phone number or text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SmsSender(ABC):
    """Sends one SMS (R7). Adapters: Amazon SNS, a provincial SMS gateway over HTTP."""

    channel: str = "sms"

    @abstractmethod
    def send(self, phone: str, text: str) -> str:
        """The service's message id. `phone` is a checked mainland mobile (11 digits). Raises SmsFailed."""


NotificationOutcome = Literal["sent", "skipped", "deferred", "failed"]


@dataclass(frozen=True, slots=True)
class Notification:
    """One reminder sent, skipped, deferred or failed. `phone` is masked before it gets here (R20)."""

    at: datetime
    case_key: str
    case_no: str
    kind: str
    outcome: NotificationOutcome
    reason: str | None = None
    phone: str | None = None
    channel: str | None = None
    message_id: str | None = None
    attempt: int = 1

    def as_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["at"] = self.at.isoformat()
        return data


class NotificationLog(ABC):
    """What happened to every reminder, with the phone masked: the answer to "was I told?"."""

    @abstractmethod
    def record(self, notification: Notification) -> None: ...

    @abstractmethod
    def between(self, start: datetime, end: datetime) -> Sequence[Notification]:
        """Notifications with `start <= at < end`, oldest first."""


class CalendarStore(ABC):
    """The State Council notices an operator loaded for years the official calendar does not cover."""

    @abstractmethod
    def put(self, notice: YearNotice, *, at: datetime, forced: bool) -> None:
        """Keep `notice` for its year, replacing one loaded before."""

    @abstractmethod
    def notices(self) -> Sequence[YearNotice]:
        """Every loaded notice, by year."""

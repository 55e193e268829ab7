"""In-memory fakes of every port: the same contract as the AWS adapters (the contract tests run both).

Thread-safe, since the local cloud and the race tests call them from several threads at once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from hub.calendar import YearNotice
from hub.cases import Timer
from hub.outcomes import OutcomeQueue
from hub.ports import (
    ACCEPTED,
    DEAD_LETTERED_DUE,
    DUPLICATE,
    AuditEntry,
    AuditLog,
    CalendarStore,
    CasePutOutcome,
    CaseStore,
    Connector,
    ConnectorChanged,
    ConnectorStore,
    ForwardQueue,
    NonceStore,
    Notification,
    NotificationLog,
    PutResult,
    RatingPage,
    RatingQuery,
    RatingStore,
    RawArchive,
    SmsFailed,
    SmsSender,
    StoredCase,
    StoredRating,
    SweepPage,
    TimerStore,
    UnknownConnector,
    UnknownRating,
    archive_key,
)
from hub.rating import Rating


class InMemoryConnectorStore(ConnectorStore):
    def __init__(self, connectors: Sequence[Connector] = ()) -> None:
        self._lock = threading.Lock()
        self._connectors = {c.connector_id: c for c in connectors}

    def _insert(self, connector: Connector) -> None:
        with self._lock:
            if connector.connector_id in self._connectors:
                raise ValueError(f"connector {connector.connector_id} exists")
            self._connectors[connector.connector_id] = connector

    def get(self, connector_id: str) -> Connector | None:
        return self._connectors.get(connector_id)

    def list(self) -> Sequence[Connector]:
        return sorted(self._connectors.values(), key=lambda c: c.connector_id)

    def _replace(self, connector: Connector, previous: Connector | None = None) -> None:
        with self._lock:
            stored = self._connectors.get(connector.connector_id)
            if stored is None:
                raise UnknownConnector(connector.connector_id)
            if previous is not None and stored != previous:
                raise ConnectorChanged(connector.connector_id)
            self._connectors[connector.connector_id] = connector


class InMemoryNonceStore(NonceStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._expires: dict[tuple[str, str], datetime] = {}

    def remember(self, connector_id: str, nonce: str, *, now: datetime, ttl: timedelta) -> bool:
        key = (connector_id, nonce)
        with self._lock:
            expires = self._expires.get(key)
            if expires is not None and expires >= now:
                return False
            self._expires[key] = now + ttl
            return True

    def __len__(self) -> int:
        return len(self._expires)


class InMemoryRatingStore(RatingStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ratings: dict[str, StoredRating] = {}
        self._slots: dict[str, str] = {}  # duplicate key -> rating id

    def put_new(self, rating: Rating, raw_ref: str) -> PutResult:
        content_hash = self.content_hash(rating)
        with self._lock:
            existing = self._ratings.get(rating.rating_id)
            if existing is not None:
                return DUPLICATE if existing.content_hash == content_hash else PutResult("conflict", "source_id")
            if rating.duplicate_key in self._slots:
                return PutResult("conflict", "case")
            self._ratings[rating.rating_id] = StoredRating(
                rating, raw_ref, content_hash, rating.source.received_at, "pending",
                next_due_at=rating.source.received_at,
            )  # fmt: skip
            self._slots[rating.duplicate_key] = rating.rating_id
            return ACCEPTED

    def get(self, rating_id: str) -> StoredRating | None:
        return self._ratings.get(rating_id)

    def slot_holder(self, duplicate_key: str) -> str | None:
        return self._slots.get(duplicate_key)

    def _update(self, rating_id: str, **changes: object) -> None:
        with self._lock:
            stored = self._ratings.get(rating_id)
            if stored is None:
                raise UnknownRating(rating_id)
            self._ratings[rating_id] = replace(stored, **changes)  # type: ignore[arg-type]

    def mark_forwarded(self, rating_id: str, receipt: str, *, at: datetime) -> None:
        self._update(rating_id, forward_state="forwarded", receipt=receipt)

    def mark_service_pushed(self, rating_id: str, receipt: str, *, at: datetime) -> None:
        self._update(rating_id, service_receipt=receipt)

    def mark_parked(self, rating_id: str, reason: str, *, at: datetime) -> None:
        self._update(rating_id, forward_state="parked", parked_reason=reason)

    def pending_older_than(self, cutoff: datetime, limit: int, *, due_by: datetime | None = None) -> Sequence[str]:
        pending = sorted(
            (s.stored_at, s.rating.rating_id)
            for s in list(self._ratings.values())
            if s.forward_state == "pending" and s.stored_at < cutoff
            and (due_by is None or s.next_due_at is None or s.next_due_at <= due_by)
        )
        return [rating_id for _, rating_id in pending[:limit]]

    def due_for_sweep(self, due_by: datetime, limit: int, *, cursor: str | None = None) -> SweepPage:
        due = sorted(
            (s.next_due_at.isoformat(), s.rating.rating_id)
            for s in list(self._ratings.values())
            if s.forward_state == "pending" and s.next_due_at is not None and s.next_due_at <= due_by
        )
        if cursor is not None:
            after = tuple(cursor.split("|", 1))
            due = [key for key in due if key > after]
        page = due[:limit]
        return [rating_id for _, rating_id in page], ("|".join(page[-1]) if len(due) > limit else None)

    def requeued(self, rating_id: str, *, next_due: datetime) -> None:
        with self._lock:
            stored = self._ratings.get(rating_id)
            if stored is None:
                raise UnknownRating(rating_id)
            if stored.forward_state == "pending":
                self._ratings[rating_id] = replace(stored, next_due_at=next_due)

    def record_attempt(self, rating_id: str, *, at: datetime, next_due: datetime, counted: bool) -> None:
        with self._lock:
            stored = self._ratings.get(rating_id)
            if stored is None:
                raise UnknownRating(rating_id)
            if stored.forward_state != "pending":  # forwarded meanwhile: a late record changes nothing
                return
            self._ratings[rating_id] = replace(
                stored, attempts=stored.attempts + 1, failures=stored.failures + counted,
                last_attempt_at=at, next_due_at=next_due,
            )  # fmt: skip

    def mark_dead_lettered(self, rating_id: str, reason: str, *, at: datetime) -> None:
        self._update(rating_id, attempts=0, failures=0, last_attempt_at=at, next_due_at=DEAD_LETTERED_DUE)

    def mark_not_adopted(self, rating_id: str, *, order_id: str, at: datetime) -> None:
        self._update(rating_id, not_adopted_by=order_id)

    def search(self, query: RatingQuery) -> RatingPage:
        def wanted(s: StoredRating) -> bool:
            target = s.rating.target
            return (
                query.start <= s.stored_at < query.end
                and (query.agencies is None or target.agency_code in query.agencies)
                and target.region_code.startswith(query.region_prefix)
                and (query.grade is None or s.rating.grade.value == query.grade)
                and (query.connector_id is None or s.rating.source.connector_id == query.connector_id)
                and (query.include_not_adopted or s.adopted)
            )

        found = sorted((s for s in list(self._ratings.values()) if wanted(s)), key=lambda s: s.stored_at, reverse=True)
        try:
            offset = int(query.cursor or 0)
        except ValueError:
            raise ValueError("not a cursor this list gave") from None
        page = found[offset : offset + query.limit]
        more = offset + query.limit < len(found)
        return RatingPage(page, str(offset + query.limit) if more else None)

    def ids_of_person(self, *, phone: str | None = None, id_no: str | None = None, limit: int = 100) -> Sequence[str]:
        from infra.sealing import normalized

        def same(kind: str, stored: str | None, asked: str | None) -> bool:
            return bool(stored and asked and normalized(kind, stored) == normalized(kind, asked))

        return [
            s.rating.rating_id
            for s in list(self._ratings.values())
            if same("phone", s.rating.rater.phone, phone) or same("id_no", s.rating.rater.id_no, id_no)
        ][:limit]

    def __len__(self) -> int:
        return len(self._ratings)


class InMemoryRawArchive(RawArchive):
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str | None]] = {}

    def put(
        self, connector_id: str, request_id: str, body: bytes, content_type: str | None, received_at: datetime
    ) -> str:
        key = archive_key(connector_id, request_id, received_at)
        self.objects[key] = (bytes(body), content_type)
        return key

    def get(self, key: str) -> tuple[bytes, str | None]:
        return self.objects[key]


class InMemoryForwardQueue(ForwardQueue, OutcomeQueue):
    """`unavailable` makes every enqueue fail, as a queue outage would (the ratings stay pending)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[dict[str, str]] = []
        self.dead_letters: list[dict[str, str]] = []
        self.unavailable = False

    def enqueue(self, rating_ids: Sequence[str]) -> Sequence[str]:
        if self.unavailable:
            return list(rating_ids)
        with self._lock:
            self.messages.extend({"rating_id": rating_id} for rating_id in rating_ids)
        return []

    def dead_letter(self, rating_id: str, reason: str) -> None:
        if self.unavailable:
            raise ConnectionError("the queue is unavailable")
        with self._lock:
            self.dead_letters.append({"rating_id": rating_id, "reason": reason})

    def enqueue_outcomes(self, keys: Sequence[str]) -> Sequence[str]:
        if self.unavailable:
            return list(keys)
        with self._lock:
            self.messages.extend({"outcome": key} for key in keys)
        return []

    def retry_outcome(self, key: str, *, attempt: int, failures: int, delay: int) -> None:
        if self.unavailable:
            raise RuntimeError("memory: queue unavailable")
        with self._lock:
            copy = {"outcome": key, "attempt": str(attempt), "failures": str(failures), "delay": str(delay)}
            self.messages.append(copy)

    def dead_letter_outcome(self, key: str, reason: str) -> None:
        with self._lock:
            self.dead_letters.append({"outcome": key, "reason": reason})

    def rating_ids(self) -> list[str]:
        return [m["rating_id"] for m in self.messages if "rating_id" in m]

    def outcome_keys(self) -> list[str]:
        return [m["outcome"] for m in self.messages if "outcome" in m]


class InMemoryCaseStore(CaseStore):
    """Cases and, since they are written together, a `InMemoryTimerStore` of their timers."""

    def __init__(self, timers: InMemoryTimerStore | None = None) -> None:
        self._lock = threading.Lock()
        self._cases: dict[str, StoredCase] = {}
        self._hashes: dict[str, str] = {}
        self.timers = timers or InMemoryTimerStore()

    def put_new(self, case: StoredCase, timers: Sequence[Timer]) -> CasePutOutcome:
        content_hash = case.content_hash
        with self._lock:
            if case.case_key in self._cases:
                return "duplicate" if self._hashes[case.case_key] == content_hash else "conflict"
            self._cases[case.case_key] = case
            self._hashes[case.case_key] = content_hash
            self.timers.add(timers)
            return "accepted"

    def get(self, case_key: str) -> StoredCase | None:
        return self._cases.get(case_key)

    def provisional_in(self, year: int, limit: int) -> Sequence[str]:
        return [k for k, c in list(self._cases.items()) if c.provisional_year == year][:limit]

    def update_window(
        self, case_key: str, closes_at: datetime, provisional: bool, provisional_year: int | None
    ) -> None:
        with self._lock:
            case = self._cases[case_key]
            self._cases[case_key] = replace(
                case, closes_at=closes_at, provisional=provisional, provisional_year=provisional_year
            )


@dataclass
class _TimerState:
    timer: Timer
    pending: bool = True
    attempts: int = 0
    outcome: str | None = None


class InMemoryTimerStore(TimerStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._timers: dict[str, _TimerState] = {}

    def add(self, timers: Sequence[Timer]) -> None:
        with self._lock:
            for timer in timers:
                self._timers.setdefault(timer.timer_id, _TimerState(timer))

    def due(self, now: datetime, limit: int) -> Sequence[Timer]:
        with self._lock:
            pending = [s.timer for s in self._timers.values() if s.pending and s.timer.due_at <= now]
        return sorted(pending, key=lambda t: t.due_at)[:limit]

    def claim(self, timer: Timer, lease_until: datetime) -> int | None:
        with self._lock:
            state = self._timers.get(timer.timer_id)
            if state is None or not state.pending or state.timer.due_at != timer.due_at:
                return None
            state.timer = replace(state.timer, due_at=lease_until)
            state.attempts += 1
            return state.attempts

    def finish(self, timer: Timer, outcome: str, *, at: datetime) -> None:
        with self._lock:
            state = self._timers.get(timer.timer_id)
            if state is not None:
                state.pending, state.outcome = False, outcome

    def defer(self, timer: Timer, due_at: datetime) -> None:
        self._set_due(timer, due_at)

    def reschedule(self, timer: Timer) -> bool:
        return self._set_due(timer, timer.due_at)

    def _set_due(self, timer: Timer, due_at: datetime) -> bool:
        with self._lock:
            state = self._timers.get(timer.timer_id)
            if state is None or not state.pending:
                return False
            state.timer = replace(state.timer, due_at=due_at)
            return True

    def get(self, timer_id: str) -> tuple[Timer, bool, str | None] | None:
        """(timer, pending, outcome), for tests."""
        state = self._timers.get(timer_id)
        return (state.timer, state.pending, state.outcome) if state else None


class InMemoryNotificationLog(NotificationLog):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: list[Notification] = []

    def record(self, notification: Notification) -> None:
        with self._lock:
            self.entries.append(notification)

    def between(self, start: datetime, end: datetime) -> Sequence[Notification]:
        return sorted((n for n in list(self.entries) if start <= n.at < end), key=lambda n: n.at)


class InMemoryCalendarStore(CalendarStore):
    def __init__(self) -> None:
        self._notices: dict[int, YearNotice] = {}

    def put(self, notice: YearNotice, *, at: datetime, forced: bool) -> None:
        self._notices[notice.year] = notice

    def notices(self) -> Sequence[YearNotice]:
        return [self._notices[year] for year in sorted(self._notices)]


class InMemorySmsSender(SmsSender):
    """Keeps what it sends; `failing` makes every send fail, as a gateway outage would."""

    channel = "memory"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent: list[tuple[str, str]] = []
        self.failing = False

    def send(self, phone: str, text: str) -> str:
        if self.failing:
            raise SmsFailed("memory: failing")
        with self._lock:
            self.sent.append((phone, text))
            return f"m{len(self.sent)}"


class InMemoryAuditLog(AuditLog):
    """`fail` makes the next records raise, to show a read is not answered without its record (R20)."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []
        self.fail = False

    def record(self, entry: AuditEntry) -> None:
        if self.fail:
            raise RuntimeError("the audit log is unavailable")
        self.entries.append(entry)

    def between(self, start: datetime, end: datetime) -> Sequence[AuditEntry]:
        return sorted((e for e in self.entries if start <= e.at < end), key=lambda e: e.at)

"""In-memory fakes of every port: the same contract as the AWS adapters (the contract tests run both).

Thread-safe, since the local cloud and the race tests call them from several threads at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from hub.calendar import YearNotice
from hub.cases import Timer
from hub.forwarding import ProvinceReceipt, ProvinceRefusedRating, ProvinceUnreachable
from hub.outcomes import Notice
from hub.ports import (
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
    Notifier,
    OutcomeQueue,
    OutcomeSink,
    PersonalDataSealer,
    ProvincialSink,
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
from hub.workorders import (
    CursorInvalid,
    OrderFilter,
    OrderPage,
    OutboxEntry,
    VersionConflict,
    WorkOrder,
    WorkOrderStore,
    notice_only,
    owed,
)

if TYPE_CHECKING:
    from hub.workorders import Event
from hub.reports.cells import CellKey, Dim, RollupChange
from hub.reports.ports import Cell, RebuiltPartition, RollupStore


class InMemoryConnectorStore(ConnectorStore):
    """`reads`: how many times `get` was asked (what a GetItem would cost: a cache in front saves them)."""

    def __init__(self, connectors: Sequence[Connector] = ()) -> None:
        self._lock = threading.Lock()
        self._connectors = {c.connector_id: c for c in connectors}
        self.reads = 0

    def _insert(self, connector: Connector) -> None:
        with self._lock:
            if connector.connector_id in self._connectors:
                raise ValueError(f"connector {connector.connector_id} exists")
            self._connectors[connector.connector_id] = connector

    def get(self, connector_id: str) -> Connector | None:
        with self._lock:
            self.reads += 1
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
        handoff = {"rating": rating.model_dump(mode="json"), "raw_ref": raw_ref, "content_hash": content_hash}
        return PutResult("accepted", handoff=json.dumps(handoff, ensure_ascii=False))

    def get(self, rating_id: str) -> StoredRating | None:
        return self._ratings.get(rating_id)

    def from_handoff(self, rating_id: str, handoff: str) -> StoredRating | None:
        data = json.loads(handoff)
        rating = Rating.model_validate(data["rating"])
        if rating.rating_id != rating_id:
            return None
        at = rating.source.received_at  # stored then, due then (the sweep's index, `next_due_at`)
        return StoredRating(rating, data["raw_ref"], data["content_hash"], at, "pending", next_due_at=at)

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

    def enqueue(self, rating_ids: Sequence[str], handoffs: Mapping[str, str] | None = None) -> Sequence[str]:
        if self.unavailable:
            return list(rating_ids)
        handoffs = handoffs or {}
        with self._lock:
            self.messages.extend(
                {"rating_id": rating_id, **({"stored": handoffs[rating_id]} if rating_id in handoffs else {})}
                for rating_id in rating_ids
            )
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


class InMemoryWorkOrderStore(WorkOrderStore):
    """The fake the domain tests use; orders are immutable, so storing the object is storing a copy."""

    def __init__(self) -> None:
        self._orders: dict[str, WorkOrder] = {}
        self._outbox: dict[str, OutboxEntry] = {}
        self._outbox_due: dict[str, datetime] = {}  # set once a copy is queued (`outbox_due`); else the event's time
        self._lock = threading.Lock()

    def get(self, order_id: str) -> WorkOrder | None:
        return self._orders.get(order_id)

    def _owe(self, order: WorkOrder, after_version: int) -> None:
        for event in order.history[after_version:]:
            if owed(event):
                entry = OutboxEntry(order.id, event.version, event)
                self._outbox[entry.key] = entry

    def put_new(self, order: WorkOrder) -> bool:
        with self._lock:
            if order.id in self._orders:
                return False
            self._orders[order.id] = order
            self._owe(order, 0)
            return True

    def save(self, order: WorkOrder, expected_version: int) -> None:
        with self._lock:
            current = self._orders.get(order.id)
            if current is None or current.version != expected_version:
                raise VersionConflict(order.id, expected_version, current.version if current else None)
            self._orders[order.id] = order
            self._owe(order, expected_version)

    def due(self, now: datetime, limit: int = 100) -> list[WorkOrder]:
        found = [(o.next_check_at, o.id) for o in list(self._orders.values()) if o.next_check_at is not None]
        return [self._orders[i] for at, i in sorted(found) if at is not None and at <= now][:limit]

    def outbox(
        self, limit: int = 100, *, due_by: datetime | None = None, notices_only: bool = False
    ) -> list[OutboxEntry]:
        def due(e: OutboxEntry) -> datetime:
            return self._outbox_due.get(e.key, e.event.at)

        kept = [e for e in list(self._outbox.values()) if not notices_only or notice_only(e.event)]
        entries = sorted(kept, key=lambda e: (due(e), e.order_id, e.version))
        return [e for e in entries if due_by is None or due(e) <= due_by][:limit]

    def outbox_due(self, key: str, at: datetime) -> None:
        with self._lock:
            if key in self._outbox:
                self._outbox_due[key] = at

    def outbox_done(self, entry: OutboxEntry) -> None:
        with self._lock:
            self._outbox.pop(entry.key, None)
            self._outbox_due.pop(entry.key, None)

    def owes(self, entry: OutboxEntry) -> bool:
        return entry.key in self._outbox

    def list(self, filters: OrderFilter, *, limit: int = 50, cursor: str | None = None) -> OrderPage:
        try:
            offset = int(cursor or 0)
        except ValueError:
            raise CursorInvalid(cursor) from None
        if offset < 0:
            raise CursorInvalid(cursor)
        found = sorted((o for o in list(self._orders.values()) if filters.admits(o)), key=filters.recency_of,
                       reverse=True)  # fmt: skip
        found.sort(key=filters.group_of)
        more = offset + limit < len(found)
        return OrderPage(found[offset : offset + limit], str(offset + limit) if more else None)


class InMemorySealer(PersonalDataSealer):
    """Not encryption: the value is kept reversed behind a tag of its record and content, so a test sees that
    a store sealed what it stored, and a value altered or moved to another record does not open (R20)."""

    _PREFIX = b"memory-sealed:"

    @staticmethod
    def _tag(plaintext: bytes, context: str) -> bytes:
        return hashlib.sha256(context.encode() + b"\0" + plaintext).digest()[:16]

    def seal(self, plaintext: bytes, *, context: str) -> bytes:
        return self._PREFIX + self._tag(plaintext, context) + plaintext[::-1]

    def unseal(self, sealed: bytes, *, context: str) -> bytes:
        body = sealed.removeprefix(self._PREFIX)
        plaintext = body[16:][::-1]
        if body == sealed or not hmac.compare_digest(body[:16], self._tag(plaintext, context)):
            raise ValueError("memory: not sealed for this record, or altered")
        return plaintext


class InMemoryProvince(ProvincialSink, OutcomeSink):
    """The province, for ratings and work-order outcomes, as the provincial stub behaves: each delivery key is
    taken once and a resend is answered as a duplicate. `answers` script the next calls — "ok", "down" (a 503:
    busy, not counted), "timeout" (no answer), "500" (a failure the province gave: counted) or "refuse" (a 4xx,
    judged) — and then `down` answers every call as "down" while it is set."""

    def __init__(self, *answers: str, down: bool = False, two_step: bool = False) -> None:
        self.answers = list(answers)
        self.down = down
        self.two_step = two_step
        self.keys: list[str] = []  # every delivery that got through, repeats included (rating ids, outcome keys)
        self.ratings: dict[str, Rating] = {}  # by rating id, as first delivered
        self.services: dict[str, Rating] = {}  # two-step: the service records (办件服务), by rating id
        self.outcomes: dict[str, tuple[str, str]] = {}  # outcome key: (event type, what the province is told)
        self._receipts: dict[str, str] = {}
        self._lock = threading.Lock()

    def _answer(self) -> None:
        answer = self.answers.pop(0) if self.answers else "down" if self.down else "ok"
        if answer == "down":
            raise ProvinceUnreachable("503", status=503)
        if answer == "timeout":
            raise ProvinceUnreachable("timeout: ReadTimeoutError")
        if answer == "500":
            raise ProvinceUnreachable("internal error", status=500)
        if answer == "refuse":
            raise ProvinceRefusedRating("400 areaCode unknown")

    def _take(self, key: str) -> ProvinceReceipt:
        self.keys.append(key)
        duplicate = key in self._receipts
        receipt = self._receipts.setdefault(key, f"receipt-{len(self._receipts) + 1}")
        return ProvinceReceipt(receipt, duplicate=duplicate)

    def send(self, rating: Rating) -> ProvinceReceipt:
        with self._lock:
            self._answer()
            self.ratings.setdefault(rating.rating_id, rating)
            return self._take(rating.rating_id)

    def send_service(self, rating: Rating) -> ProvinceReceipt | None:
        if not self.two_step:
            return None
        with self._lock:
            self._answer()
            self.services.setdefault(rating.rating_id, rating)
            return self._take(f"service#{rating.rating_id}")

    def send_outcome(self, order: WorkOrder, event: Event) -> ProvinceReceipt:
        key = f"{order.id}#{event.version}"
        with self._lock:
            self._answer()
            self.outcomes.setdefault(key, (type(event).__name__, str(event.forward_to_province)))
            return self._take(key)


class InMemoryNotifier(Notifier):
    """Keeps every notice it publishes, in order."""

    def __init__(self) -> None:
        self.published: list[Notice] = []
        self._lock = threading.Lock()

    def publish(self, notice: Notice) -> str:
        with self._lock:
            self.published.append(notice)
            return f"m-{len(self.published)}"


class InMemoryRollupStore(RollupStore):
    """Cells in dicts; `applied` holds the change markers, as the table's marker items do."""

    def __init__(self) -> None:
        self._cells: dict[str, dict[str, dict[str, int]]] = {}
        self._labels: dict[CellKey, str] = {}
        self.applied: set[str] = set()
        self.items_read = 0
        self.transactions = 0
        self.items_written = 0
        self._lock = threading.Lock()

    def apply(self, change: RollupChange) -> bool:
        if change.empty:
            return True
        with self._lock:
            if self.applied.intersection(change.change_ids):
                return False
            self.applied.update(change.change_ids)
            self.transactions += 1
            self.items_written += change.items
            for key, deltas in change.deltas.items():
                bag = self._cells.setdefault(key.pk, {}).setdefault(key.sk, {})
                for name, n in deltas.items():
                    bag[name] = bag.get(name, 0) + n
            self._labels.update(change.labels)
        return True

    def query(self, pk: str, prefix: str = "") -> list[Cell]:
        with self._lock:
            partition = self._cells.get(pk, {})
            out = [
                Cell(CellKey(pk, sk), dict(bag), self._labels.get(CellKey(pk, sk)))
                for sk, bag in sorted(partition.items())
                if sk.startswith(prefix)
            ]
        self.items_read += len(out)
        return out

    def agency_partitions(self, stored_period: str, agency_code: str) -> list[CellKey]:
        with self._lock:
            out = [
                CellKey(pk, sk)
                for pk, partition in self._cells.items()
                if pk.startswith(f"{stored_period}#")
                for sk in partition
                if sk.startswith(f"{Dim.SUMMARY}#") and CellKey(pk, sk).agency == agency_code
            ]
        self.items_read += len(out)
        return sorted(out)

    def replace(self, partition: RebuiltPartition) -> None:
        with self._lock:
            self._cells[partition.pk] = {c.key.sk: dict(c.counters) for c in partition.cells}
            for c in partition.cells:
                if c.label:
                    self._labels[c.key] = c.label

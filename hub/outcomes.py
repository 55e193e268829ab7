"""What a work order owes others once it changed: notices to departments (SNS) and outcomes to the province.

The order's store keeps an outbox entry for each owed event, written with the order (see
`hub.workorders.WorkOrderStore`). `OutboxRelay` empties it: an event only departments hear of is published
and done at once; an event the province tracks (the reply, the rectification, a not-adopted decision, the
follow-up satisfaction — 第十七条, 第十九条; R14, R16, R17) goes on the forward queue, and `OutcomeDelivery`,
run by the forward function, sends it under its one key (order id and event version), publishes its
notices, and only then marks the entry done. A send that did not get through is retried with a backoff
that grows with the hub's own count of attempts, carried in the message (`{"outcome", "attempt",
"failures"}`, a fresh copy per retry: `OutcomeDelivery.deliver_queued`), as ratings count theirs on the
rating — not SQS's receive count, which every abandoned invocation raises; only failures the province gave
count towards the dead-letter queue (`hub.forwarding.MAX_FAILURES`). What is left — a lost message, a
province down past the queue's patience — the sweep relays again, so nothing is lost and the province's
de-duplication makes a repeat harmless.

No notice carries personal data (R20): ids, codes, deadlines and the event type; the free texts of the
history stay out too (a department reads them in the hub, signed in).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hub.forwarding import MAX_FAILURES, REQUEUE_LEASE, ProvinceRefusedRating, ProvinceUnreachable, backoff_seconds
from hub.ports import DEAD_LETTERED_DUE, Notifier, OutcomeQueue, OutcomeSink, RatingStore
from hub.workorders import (
    AppealFiled,
    Audience,
    DeadlineEscalated,
    DeadlineReminded,
    Event,
    ExtensionApproved,
    OutboxEntry,
    WorkOrder,
    WorkOrderStore,
)

SWEEP_AGE = timedelta(minutes=3)  # an entry this old was not relayed right after its action: relay it again
RELAY_CHUNK = 50  # entries relayed between looks at the clock: a few seconds' publishes and writes at most
RELAY_SPARE_MS = 5_000  # the sweep stops relaying with less left than this: the answer, and Lambda's own margin


@dataclass(frozen=True, slots=True)
class Notice:
    """One SNS message: what happened to which order, for whom. Departments subscribe by the attributes."""

    key: str  # order id, version and audience: a subscriber drops a repeat by it
    event_type: str
    order_id: str
    rating_id: str
    version: int
    at: datetime
    audience: Audience
    region_code: str
    agency_code: str | None
    status: str
    details: dict[str, Any] = field(default_factory=dict)

    def attributes(self) -> dict[str, str]:
        """The message attributes a subscription's filter policy matches on."""
        out = {
            "audience": self.audience.value,
            "region_code": self.region_code,
            "event_type": self.event_type,
            "key": self.key,
        }
        if self.agency_code:
            out["agency_code"] = self.agency_code
        return out

    def body(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "event_type": self.event_type,
            "order_id": self.order_id,
            "rating_id": self.rating_id,
            "version": self.version,
            "at": self.at.isoformat(),
            "audience": self.audience.value,
            "region_code": self.region_code,
            "agency_code": self.agency_code,
            "status": self.status,
            **self.details,
        }


def _details(event: Event) -> dict[str, Any]:
    """Deadlines and decisions, never free text."""
    if isinstance(event, DeadlineReminded | DeadlineEscalated):
        out: dict[str, Any] = {
            "deadline": event.deadline.value,
            "due_at": event.due.at.isoformat(),
            "provisional": event.due.provisional,
        }
        if isinstance(event, DeadlineEscalated):
            out["escalated_to"] = {"region_code": event.to.region_code, "level": event.to.level.value}
        return out
    if isinstance(event, ExtensionApproved):
        return {"deadline": event.deadline.value, "new_due_date": event.new_time_limit.date.isoformat()}
    if isinstance(event, AppealFiled):
        return {"review_by": event.review_by.at.isoformat()}
    return {}


def notices_for(order: WorkOrder, event: Event) -> list[Notice]:
    """One notice per audience of the event. The rater is an audience by rating_id only: whoever tells
    the rater (SMS, the portal) looks the contact up where it is kept encrypted."""
    notices = []
    for audience in sorted(event.notify):
        agency: str | None = None
        if audience is Audience.UNIT or audience is Audience.RATER:
            region, agency = order.unit.region_code, order.unit.agency_code
        elif audience is Audience.ESCALATION and isinstance(event, DeadlineEscalated):
            region = event.to.region_code
        else:
            region = order.managing_department.region_code
        notices.append(
            Notice(
                key=f"{order.id}#{event.version}#{audience.value}",
                event_type=event.type,  # type: ignore[attr-defined]
                order_id=order.id,
                rating_id=order.rating_id,
                version=event.version,
                at=event.at,
                audience=audience,
                region_code=region,
                agency_code=agency,
                status=order.status.value,
                details=_details(event),
            )
        )
    return notices


def split_key(key: str) -> tuple[str, int]:
    order_id, _, version = key.rpartition("#")
    if not order_id or not version.isdigit():
        raise ValueError(f"not an outbox key: {key!r}")
    return order_id, int(version)


@dataclass
class OutboxRelay:
    store: WorkOrderStore
    notifier: Notifier
    queue: OutcomeQueue

    def relay(self, entries: Sequence[OutboxEntry]) -> Counter[str]:
        """Notices-only entries are published and done; the province's go on the forward queue."""
        return self._relay(entries)[0]

    def _relay(
        self, entries: Sequence[OutboxEntry], out_of_time: Callable[[], bool] = lambda: False
    ) -> tuple[Counter[str], list[str]]:
        """Also the keys queued (not those the queue refused). A notice is published only while `out_of_time()` is
        false ("behind" counted when it stopped; what it did not reach is still owed)."""
        counts: Counter[str] = Counter()
        to_queue: list[str] = []
        for entry in entries:
            if out_of_time():
                counts["behind"] += 1
                break
            if entry.event.forward_to_province is not None:
                to_queue.append(entry.key)
                continue
            order = self.store.get(entry.order_id)
            if order is not None:
                for notice in notices_for(order, entry.event):
                    self.notifier.publish(notice)
                    counts["notified"] += 1
            self.store.outbox_done(entry)
        queued: list[str] = []
        if to_queue:
            failed = self.queue.enqueue_outcomes(to_queue)
            queued = [key for key in to_queue if key not in set(failed)]
            counts["queued"] += len(queued)
            if failed:
                counts["queue_failed"] += len(failed)
        return counts, queued

    def relay_new(self, order: WorkOrder, after_version: int) -> Counter[str]:
        """Right after an action: the owed events the save of `order` added (its versions after `after_version`)."""
        entries = [
            OutboxEntry(order.id, event.version, event)
            for event in order.history[after_version:]
            if event.forward_to_province is not None or event.notify
        ]
        return self.relay(entries)

    def sweep(
        self,
        now: datetime,
        *,
        older_than: timedelta = SWEEP_AGE,
        newer_than: timedelta | None = None,
        limit: int = 500,
        notices_only: bool = False,
        remaining_ms: Callable[[], int] | None = None,
        spare_ms: int = RELAY_SPARE_MS,
    ) -> Counter[str]:
        """Relay again what is still owed and older than `older_than`: a lost relay or message loses nothing.

        An action relays its own events at once (`relay_new`); the scheduler, every minute, publishes every
        owed notice (`notices_only`: done at once); the sweep, every few minutes, re-queues the outcomes older
        than `older_than` and still owed. Only what is due is read: an outcome whose copy is on the queue waiting
        out its backoff is due when that ends (`WorkOrderStore.outbox_due`, set by `OutcomeDelivery`), so it is
        not queued again; one re-queued here is not due for `REQUEUE_LEASE`, so the next run does not queue it
        twice while its copy waits in a deep queue. A copy queued twice is still delivered once
        (`OutcomeDelivery` checks `WorkOrderStore.owes`). With `remaining_ms` (the invocation's time left) it reads the
        outbox, and relays each entry (the province's queued `RELAY_CHUNK` at a time), only while more than `spare_ms`
        is left, and counts "behind" if it stopped: what it did not reach is still due, for the next run. (Checked
        per entry, not per chunk: a notice is a read, a publish and a write, and 50 of them on a slow table outlast
        any spare; issue 16.)
        """
        counts: Counter[str] = Counter()

        def out_of_time() -> bool:
            return remaining_ms is not None and remaining_ms() < spare_ms

        if out_of_time():  # not even the outbox read: it is all still due for the next run
            counts["behind"] += 1
            return counts
        # notices only: the store reads no outcome (a key condition), so owed outcomes piling up in an outage
        # neither push the notices out of `limit` nor spend the run's time (issue 16)
        entries = self.store.outbox(limit, due_by=now - older_than, notices_only=notices_only)
        if newer_than is not None:
            entries = [entry for entry in entries if entry.event.at > now - newer_than]
        for start in range(0, len(entries), RELAY_CHUNK):
            if out_of_time():
                counts["behind"] += 1
                break
            done, queued = self._relay(entries[start : start + RELAY_CHUNK], out_of_time)
            counts.update(done)
            for key in queued:  # owed once queued, time or not: without its lease the next sweep queues it again
                self.store.outbox_due(key, now + REQUEUE_LEASE)
            if done["behind"]:
                break
        return counts


@dataclass
class OutcomeDelivery:
    """The forward function's part: one owed event to the province (if it tracks it), then its notices."""

    store: WorkOrderStore
    province: OutcomeSink
    notifier: Notifier
    ratings: RatingStore | None = None
    queue: OutcomeQueue | None = None  # for `deliver_queued`'s retries
    max_failures: int = MAX_FAILURES

    def deliver_queued(
        self, message: Mapping[str, Any], *, retry_in: Callable[[int], int] = backoff_seconds,
        now: datetime | None = None,
    ) -> str:  # fmt: skip
        """A queued `{"outcome": key}` (with the attempts so far, after a retry): delivered, or queued again after
        a backoff by its own attempt count ("retry_queued"), or, past `max_failures` failures the province gave
        (`ProvinceUnreachable.counted`: a timeout or the province away never counts), dead-lettered with the
        reason. With `now`, the outbox entry is due when the fresh copy comes back (never, once dead-lettered),
        so the sweep leaves it alone meanwhile. Without a queue `ProvinceUnreachable` propagates, for the
        queue's own retry."""
        key = str(message["outcome"])
        attempt, failures = int(message.get("attempt") or 0) + 1, int(message.get("failures") or 0)
        try:
            return self.deliver(key)
        except ProvinceUnreachable as exc:
            if self.queue is None:
                raise
            failures += exc.counted
            reason = str(exc) or type(exc).__name__
            if failures >= self.max_failures:
                self.queue.dead_letter_outcome(key, f"{failures} failures the province gave (last: {reason})")
                if now is not None:
                    self.store.outbox_due(key, DEAD_LETTERED_DUE)  # `hcp dlq redrive` puts it back
                return "dead_lettered"
            delay = retry_in(attempt)
            self.queue.retry_outcome(key, attempt=attempt, failures=failures, delay=delay)
            if now is not None:
                self.store.outbox_due(key, now + timedelta(seconds=delay))
            return "retry_queued"

    def deliver(self, key: str) -> str:
        """`ProvinceUnreachable` propagates: the message is retried with the queue's backoff."""
        order_id, version = split_key(key)
        order = self.store.get(order_id)
        if order is None or not 1 <= version <= order.version:
            return "unknown"
        event = order.history[version - 1]
        entry = OutboxEntry(order.id, version, event)
        if not self.store.owes(entry):
            return "done"  # a second copy (an action's relay and a sweep): delivered and announced already
        if event.forward_to_province == "not_adopted" and self.ratings is not None:
            # R14, R17: the rating leaves the results; idempotent, so a retry repeats it harmlessly
            self.ratings.mark_not_adopted(order.rating_id, order_id=order.id, at=event.at)
        outcome = "forwarded"
        if event.forward_to_province is not None:
            try:
                receipt = self.province.send_outcome(order, event)
            except ProvinceRefusedRating:
                outcome = "refused"  # judged and refused: sending it again cannot help; the caller logs the reason
            else:
                outcome = "duplicate" if receipt.duplicate else "forwarded"
        for notice in notices_for(order, event):
            self.notifier.publish(notice)
        self.store.outbox_done(entry)
        return outcome

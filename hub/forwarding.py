"""Forwarding to the provincial system (R9): every stored rating reaches it, once, whatever the retries.

The province is a port: it answers with a receipt, refuses for good (the rating is parked with the
province's reason, for an operator), or is unreachable for now: retried with backoff, each attempt recorded
on the rating (when it was, when the next is due), so the sweep leaves alone what only waits out its
backoff. Only failures the province itself gave (it answered, and not with "busy") are counted; past
`max_failures` of them the rating is dead-lettered with the reason (`hcp dlq redrive` puts it back). A
slow or absent province — timeouts, refused connections, 502/503/504/429 — is retried for as long as it
lasts and never fills the dead-letter queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from hub.calendar import SHANGHAI, WorkingDayCalendar
from hub.ports import ForwardQueue, ProvincialSink, RatingStore
from hub.rating import Rating
from hub.workorders import WorkOrderStore, open_work_order


class ProvinceRefusedRating(Exception):
    """The province judged the rating and said no (a 4xx with a reason): retrying cannot help."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


OUTAGE_STATUSES = frozenset({408, 425, 429, 502, 503, 504})  # "busy" or "away": the province did not judge it


class ProvinceUnreachable(Exception):
    """5xx, timeout, connection refused, or our credentials refused: it may work later.

    `status` is the province's HTTP status when it answered (None: a timeout or no connection)."""

    def __init__(self, reason: str = "", *, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status

    @property
    def counted(self) -> bool:
        """Whether this failure counts towards dead-lettering: the province answered and failed this send
        (a 500, an unreadable answer, our credentials refused). A timeout is an unknown outcome, a refused
        connection or a 502/503/504/429 the province being away or busy: retried however long it lasts."""
        return self.status is not None and self.status not in OUTAGE_STATUSES


class RetryLater(ProvinceUnreachable):
    """The send did not get through, and that is recorded: the message comes back in `delay` seconds.
    `attempt` counts every attempt so far, `failures` those the province gave (`ProvinceUnreachable.counted`)."""

    def __init__(self, delay: int, attempt: int, failures: int, reason: str, *, status: int | None = None) -> None:
        super().__init__(f"retry in {delay} s (attempt {attempt}, {failures} counted): {reason}", status=status)
        self.delay, self.attempt, self.failures, self.reason = delay, attempt, failures, reason


@dataclass(frozen=True, slots=True)
class ProvinceReceipt:
    receipt_id: str
    duplicate: bool


ForwardOutcome = Literal["forwarded", "already_forwarded", "parked", "dead_lettered", "unknown"]

SWEEP_AGE = timedelta(minutes=3)  # older than any ingest in flight: what is pending this long was dropped
REQUEUE_LEASE = timedelta(minutes=15)  # a re-queued rating's message is received well within it, however deep the queue
SWEEP_PAGE = 500  # ratings per due-index read: a page's enqueue and marks take a few seconds
SWEEP_SPARE_MS = 15_000  # a sweep stops with less than this left: one more page, the outbox relay, the answer
MAX_FAILURES = 5  # counted provincial failures (`ProvinceUnreachable.counted`) before dead-lettering
BACKOFF_BASE_SECONDS = 10.0
# The cap sets how soon a rating goes once a province comes back (at most cap × 1.2 after, jitter included) and
# what a province that stays away sees (each waiting rating once per cap × 0.8..1.2): docs/forwarding.md §2.
MAX_BACKOFF_SECONDS = 120


def backoff_seconds(
    attempt: int, base: float = BACKOFF_BASE_SECONDS, *, jitter: float = 1.0, cap: float = MAX_BACKOFF_SECONDS
) -> int:
    """10 s, 20 s, 40 s ... capped at 2 min; `jitter` (0.8..1.2, the caller's dice) spreads a burst, also at the
    cap, so ratings that failed together do not come back together."""
    return max(0, int(min(cap, base * 2 ** max(attempt - 1, 0)) * jitter))


@dataclass
class ForwardService:
    """With `work_orders`, a bad rating opens its work order (R10) before it is sent: a provincial outage
    delays no dispatch, and a re-delivered rating finds its order there (`put_new` is False)."""

    ratings: RatingStore
    province: ProvincialSink
    queue: ForwardQueue
    work_orders: WorkOrderStore | None = None
    calendars: Callable[[], WorkingDayCalendar] = WorkingDayCalendar
    max_failures: int = MAX_FAILURES

    def forward(
        self, rating_id: str, now: datetime, *, retry_in: Callable[[int], int] = backoff_seconds,
        handoff: str | None = None,
    ) -> ForwardOutcome:  # fmt: skip
        """Send one stored rating. Raises `RetryLater` (the attempt recorded on the rating) when it did not
        get through; past `max_failures` counted failures it is dead-lettered instead, with the reason.
        `handoff` (a first delivery's message carries it, `PutResult.handoff`) spares the read: the rating as
        stored; a send that fails reads the stored attempts before counting."""
        stored = (self.ratings.from_handoff(rating_id, handoff) if handoff else None) or self.ratings.get(rating_id)
        if stored is None:
            return "unknown"
        self.open_work_order(stored.rating, now)
        if stored.forward_state != "pending":
            return "already_forwarded"
        try:
            if stored.service_receipt is None:  # two steps: a service record already received is not re-sent
                service = self.province.send_service(stored.rating)
                if service is not None:
                    self.ratings.mark_service_pushed(rating_id, service.receipt_id, at=now)
            receipt = self.province.send(stored.rating)
        except ProvinceRefusedRating as refused:
            self.ratings.mark_parked(rating_id, refused.reason, at=now)
            return "parked"
        except ProvinceUnreachable as exc:
            if handoff:  # the attempts so far are the store's (a copy requeued after a long outage carries it too)
                stored = self.ratings.get(rating_id) or stored
            attempt = stored.attempts + 1
            failures = stored.failures + exc.counted
            reason = str(exc) or type(exc).__name__
            if failures >= self.max_failures:
                why = f"{failures} failures the province gave (last: {reason})"
                self.queue.dead_letter(rating_id, why)
                self.ratings.mark_dead_lettered(rating_id, why, at=now)
                return "dead_lettered"
            delay = retry_in(attempt)
            self.ratings.record_attempt(
                rating_id, at=now, next_due=now + timedelta(seconds=delay), counted=exc.counted
            )
            raise RetryLater(delay, attempt, failures, reason, status=exc.status) from exc
        self.ratings.mark_forwarded(rating_id, receipt.receipt_id, at=now)
        return "forwarded"

    def open_work_order(self, rating: Rating, now: datetime) -> bool:
        """R10: dispatched at `now` (the business clock), deadlines from the calendar as loaded; True if new."""
        if self.work_orders is None or not rating.is_bad:
            return False
        return self.work_orders.put_new(open_work_order(rating, now.astimezone(SHANGHAI), self.calendars()))

    def sweep(
        self,
        now: datetime,
        *,
        older_than: timedelta = SWEEP_AGE,
        limit: int | None = None,
        remaining_ms: Callable[[], int] | None = None,
        spare_ms: int = SWEEP_SPARE_MS,
        page: int = SWEEP_PAGE,
    ) -> SweepResult:
        """Queue again whatever was stored but not forwarded: a crash between store and queue loses nothing.

        Only what is due is read (`RatingStore.due_for_sweep`, an index on the next attempt's time): a rating
        waiting out its backoff is not due (its message is on the queue, invisible) and is not even read; one
        whose next attempt is `older_than` overdue lost its message, and is queued again — and marked not due
        for `REQUEUE_LEASE`, so the next run does not queue it twice. Pages of `page` are read while
        `remaining_ms()` (the invocation's time left) exceeds `spare_ms`; a run out of time stops cleanly and
        says so (`behind`): the index is the cursor, and the next firing goes on with what is still due.
        Without `remaining_ms`, at most `limit` (default 1,000) ratings."""
        cap = limit if limit is not None else (1000 if remaining_ms is None else None)
        found = SweepResult()
        cursor: str | None = None
        while True:
            if remaining_ms is not None and remaining_ms() < spare_ms:
                found.behind = True
                break
            size = page if cap is None else min(page, cap - len(found))
            ids, cursor = self.ratings.due_for_sweep(now - older_than, size, cursor=cursor)
            found.read += len(ids)
            if ids:
                failed = set(self.queue.enqueue(ids))  # what failed stays due: the next run tries again
                for rating_id in ids:
                    if rating_id not in failed:
                        self.ratings.requeued(rating_id, next_due=now + REQUEUE_LEASE)
                        found.append(rating_id)
            if cursor is None:
                break
            if cap is not None and len(found) >= cap:
                found.behind = True
                break
        return found


class SweepResult(list[str]):
    """The ratings a sweep queued again; `read`: index entries it read; `behind`: it stopped (out of time or
    at its limit) with more due, which the next run picks up."""

    read: int = 0
    behind: bool = False

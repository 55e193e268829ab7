"""Forwarding to the provincial system (R9): every stored rating reaches it, once, whatever the retries.

The province is a port: it answers with a receipt, refuses for good (the rating is parked with the
province's reason, for an operator), or is unreachable for now (the caller retries with backoff and,
past its patience, dead-letters the message; `hcp dlq redrive` puts it back).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from hub.calendar import SHANGHAI, WorkingDayCalendar
from hub.ports import ForwardQueue, RatingStore
from hub.rating import Rating
from hub.workorder import WorkOrderStore, open_work_order


class ProvinceRefusedRating(Exception):
    """The province judged the rating and said no (a 4xx with a reason): retrying cannot help."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProvinceUnreachable(Exception):
    """5xx, timeout, connection refused, or our credentials refused: it may work later."""


@dataclass(frozen=True, slots=True)
class ProvinceReceipt:
    receipt_id: str
    duplicate: bool


class ProvincialSink(ABC):
    @abstractmethod
    def send(self, rating: Rating) -> ProvinceReceipt:
        """Deliver under the rating's one idempotency key. Raises ProvinceRefusedRating or ProvinceUnreachable."""

    def send_service(self, rating: Rating) -> ProvinceReceipt | None:
        """Two-step provinces: the case's service record (办件服务), before the evaluation; None: one step."""
        return None


ForwardOutcome = Literal["forwarded", "already_forwarded", "parked", "unknown"]

SWEEP_AGE = timedelta(minutes=3)  # older than any ingest in flight: what is pending this long was dropped


@dataclass
class ForwardService:
    """With `work_orders`, a bad rating opens its work order (R10) before it is sent: a provincial outage
    delays no dispatch, and a re-delivered rating finds its order there (`put_new` is False)."""

    ratings: RatingStore
    province: ProvincialSink
    queue: ForwardQueue
    work_orders: WorkOrderStore | None = None
    calendars: Callable[[], WorkingDayCalendar] = WorkingDayCalendar

    def forward(self, rating_id: str, now: datetime) -> ForwardOutcome:
        """Send one stored rating. `ProvinceUnreachable` propagates: the message is retried."""
        stored = self.ratings.get(rating_id)
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
        self.ratings.mark_forwarded(rating_id, receipt.receipt_id, at=now)
        return "forwarded"

    def open_work_order(self, rating: Rating, now: datetime) -> bool:
        """R10: dispatched at `now` (the business clock), deadlines from the calendar as loaded; True if new."""
        if self.work_orders is None or not rating.is_bad:
            return False
        return self.work_orders.put_new(open_work_order(rating, now.astimezone(SHANGHAI), self.calendars()))

    def sweep(self, now: datetime, *, older_than: timedelta = SWEEP_AGE, limit: int = 1000) -> Sequence[str]:
        """Queue again whatever was stored but not forwarded: a crash between store and queue loses nothing."""
        pending = self.ratings.pending_older_than(now - older_than, limit)
        if pending:
            self.queue.enqueue(pending)
        return pending

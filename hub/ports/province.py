"""Forwarding to the provincial system: the forward queue and the province itself, for ratings (R9) and for
what became of a bad rating's work order (R17: the outcomes)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.forwarding import ProvinceReceipt
    from hub.rating import Rating
    from hub.workorders import Event, WorkOrder

__all__ = ["ForwardQueue", "OutcomeQueue", "OutcomeSink", "ProvincialSink"]


class ForwardQueue(ABC):
    """Ratings waiting to be forwarded to the province (R9)."""

    @abstractmethod
    def enqueue(self, rating_ids: Sequence[str], handoffs: Mapping[str, str] | None = None) -> Sequence[str]:
        """Queue each id once (with its `PutResult.handoff`, when given); returns the ids that could not be
        queued. Never raises for a queue fault: the ratings are stored as pending, and the sweep queues what
        is left behind.
        """

    @abstractmethod
    def dead_letter(self, rating_id: str, reason: str) -> None:
        """Put the rating in the dead-letter queue with `reason`, for an operator (`hcp dlq`). Raises on a
        queue fault: the caller then keeps retrying instead."""


class OutcomeQueue(ABC):
    """The forward queue's second message type: `{"outcome": key}` for an outbox entry's key."""

    @abstractmethod
    def enqueue_outcomes(self, keys: Sequence[str]) -> Sequence[str]:
        """Queue the keys; returns those that could not be queued (they stay owed for the sweep)."""

    @abstractmethod
    def retry_outcome(self, key: str, *, attempt: int, failures: int, delay: int) -> None:
        """A fresh copy `{"outcome", "attempt", "failures"}`, received after `delay` seconds (at most 15 min).
        Raises on a queue fault (the message being handled then comes back as it is)."""

    @abstractmethod
    def dead_letter_outcome(self, key: str, reason: str) -> None:
        """`{"outcome", "dead_letter": {"reason"}}` into the dead-letter queue, for an operator."""


class ProvincialSink(ABC):
    @abstractmethod
    def send(self, rating: Rating) -> ProvinceReceipt:
        """Deliver under the rating's one idempotency key. Raises ProvinceRefusedRating or ProvinceUnreachable."""

    def send_service(self, rating: Rating) -> ProvinceReceipt | None:
        """Two-step provinces: the case's service record (办件服务), before the evaluation; None: one step."""
        return None


class OutcomeSink(ABC):
    """The province, for work-order outcomes. Raises `ProvinceRefusedRating` (judged and refused) or
    `ProvinceUnreachable` (retry later), as `ProvincialSink` does for ratings."""

    @abstractmethod
    def send_outcome(self, order: WorkOrder, event: Event) -> ProvinceReceipt: ...

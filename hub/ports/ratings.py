"""Ratings: stored once under their id and their duplicate key (R8, R6), forwarded (R9), read by scope (R20)."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from hub.rating import Rating

__all__ = [
    "ACCEPTED",
    "DEAD_LETTERED_DUE",
    "DUPLICATE",
    "ConflictKind",
    "ForwardState",
    "PutOutcome",
    "PutResult",
    "RatingPage",
    "RatingQuery",
    "RatingStore",
    "StoredRating",
    "UnknownRating",
]


PutOutcome = Literal["accepted", "duplicate", "conflict"]
ConflictKind = Literal["source_id", "case"]
ForwardState = Literal["pending", "forwarded", "parked"]


@dataclass(frozen=True, slots=True)
class PutResult:
    """`conflict` says what was taken: the source id (other content) or the case's slot (R8, R6).
    `handoff`, when stored: the rating as the forward queue's message carries it, so the forward function
    sends it without reading it back (`RatingStore.from_handoff`); None: the forward reads the store."""

    outcome: PutOutcome
    conflict: ConflictKind | None = None
    handoff: str | None = None


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

    def from_handoff(self, rating_id: str, handoff: str) -> StoredRating | None:
        """The rating as `put_new` handed it off (`PutResult.handoff`): as stored, pending, not attempted
        yet. None when it is not one this store gave for `rating_id` (the caller reads the store)."""
        return None

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

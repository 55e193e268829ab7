"""Completed cases (R5-R7): the stored notice and the rating window it opened, and the timers due on it."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from hub.case_notice import CaseNotice
    from hub.cases import Timer

__all__ = [
    "CasePutOutcome",
    "CaseStore",
    "StoredCase",
    "TimerStore",
]


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

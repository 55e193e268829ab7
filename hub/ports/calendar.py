"""The working-day calendar's notices, loaded by an operator for years the official calendar does not cover."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.calendar import YearNotice

__all__ = [
    "CalendarStore",
]


class CalendarStore(ABC):
    """The State Council notices an operator loaded for years the official calendar does not cover."""

    @abstractmethod
    def put(self, notice: YearNotice, *, at: datetime, forced: bool) -> None:
        """Keep `notice` for its year, replacing one loaded before."""

    @abstractmethod
    def notices(self) -> Sequence[YearNotice]:
        """Every loaded notice, by year."""

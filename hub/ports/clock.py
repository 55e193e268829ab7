"""The clock: only the edges read it; services take `now` (STYLE: time is an argument)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

__all__ = [
    "Clock",
]


class Clock(ABC):
    @abstractmethod
    def now(self) -> datetime:
        """An aware datetime."""

"""Ports: what the domain needs from the outside world, as small abstract classes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime


class Clock(ABC):
    @abstractmethod
    def now(self) -> datetime:
        """An aware datetime."""

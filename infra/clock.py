"""The clocks the services carry (`infra.bootstrap` builds each function's services with one).

Production reads the system clock and nothing else. The local cloud installs a `LocalClock` it can
set and advance, so days of schedules can be watched in a minute and old sample files still fall
inside their rating window; the functions it runs carry an `InstalledClock`, which reads that one.
Tests build services with a `LocalClock` of their own and never install one.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from hub.ports import Clock


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)


class LocalClock(Clock):
    """A clock that runs at real speed from a settable starting point."""

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        if start is not None:
            self.set(start)

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("the clock takes an aware datetime (with an offset)")
        with self._lock:
            self._offset = when - datetime.now(UTC)

    def advance(self, by: timedelta) -> None:
        with self._lock:
            self._offset += by


_installed: Clock = SystemClock()


def install_clock(clock: Clock) -> None:
    """Make `clock` the process-wide clock (the local cloud does this; production never does)."""
    global _installed
    _installed = clock


def current_clock() -> Clock:
    return _installed


class InstalledClock(Clock):
    """Whichever clock is installed at each reading: the system's, or the local cloud's (`install_clock`).
    What `infra.bootstrap` gives the services it builds from the environment, unless told another."""

    def now(self) -> datetime:
        return _installed.now()

"""Loaded holiday notices in DynamoDB (the template's CalendarTable), and the calendar functions count with.

Items: `pk=NOTICE, sk={year}`, the notice as JSON. All of them are one small partition, read with
one query. Functions keep the calendar built from them for a short while (`StoredCalendars`), so a
notice an operator loads reaches every container within `CALENDAR_CACHE_SECONDS` (60 by default);
the container that loaded it drops its copy at once, and the scheduler reads afresh on every run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from hub.calendar import WorkingDayCalendar, YearNotice
from hub.ports import CalendarStore
from infra import dynamo_pages

DEFAULT_CACHE_SECONDS = 60.0


class DynamoCalendarStore(CalendarStore):
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def put(self, notice: YearNotice, *, at: datetime, forced: bool) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": "NOTICE"},
                "sk": {"S": str(notice.year)},
                "notice": {"S": notice.model_dump_json()},
                "loaded_at": {"S": at.isoformat()},
                "forced": {"BOOL": forced},
            },
        )

    def notices(self) -> Sequence[YearNotice]:
        request = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "NOTICE"}},
            "ConsistentRead": True,
        }
        items = dynamo_pages.items(self._client.query, request)
        return [YearNotice.model_validate_json(item["notice"]["S"]) for item in items]


class StoredCalendars:
    """The working-day calendar with the stored notices, rebuilt at most every `ttl` seconds (wall time).

    Callable, so a service that needs "the calendar now" takes it as a `Callable[[], WorkingDayCalendar]`.
    """

    def __init__(self, store: CalendarStore, ttl: float = DEFAULT_CACHE_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._store = store
        self._ttl = ttl
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cached: tuple[float, WorkingDayCalendar] | None = None

    def __call__(self) -> WorkingDayCalendar:
        cached = self._cached
        if cached is not None and self._monotonic() - cached[0] < self._ttl:
            return cached[1]
        return self.fresh()

    def fresh(self) -> WorkingDayCalendar:
        calendar = WorkingDayCalendar(self._store.notices(), force=True)
        with self._lock:
            self._cached = (self._monotonic(), calendar)
        return calendar

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None


_shared: dict[tuple[str, str], StoredCalendars] = {}
_shared_lock = threading.Lock()


def shared_calendars(client: Any, table: str, ttl: float = DEFAULT_CACHE_SECONDS) -> StoredCalendars:
    """One cache per table and endpoint in a process, so the rating and case routes of one container
    (and a load through either) see the same calendar."""
    key = (table, str(getattr(getattr(client, "meta", None), "endpoint_url", "")))
    with _shared_lock:
        calendars = _shared.get(key)
        if calendars is None:
            calendars = _shared[key] = StoredCalendars(DynamoCalendarStore(client, table), ttl)
        return calendars

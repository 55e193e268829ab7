"""Loading a year's holiday notice, and recomputing every rating window counted without it.

Until the State Council publishes a year, the hub counts it Monday–Friday and marks what it computed
as provisional (DESIGN §1). An operator loads the notice (`hcp calendar load`, or the operator API);
from then on the functions count with it, and every stored window that was provisional through that
year is recounted — found through an index on the year, never a scan — with its pending timers moved.
A year the official calendar covers is refused unless forced, as `WorkingDayCalendar.load` refuses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from hub.calendar import NoticeInvalid, NoticeRefused, WorkingDayCalendar, YearNotice, parse_notice
from hub.cases import TimerKind, open_rating_window
from hub.errors import Problem, Refused, problem
from hub.jsonbody import loads_object
from hub.ports import CalendarStore, CaseStore, TimerStore
from hub.rules import RatingPolicy
from hub.validation import problems_from


@dataclass(frozen=True, slots=True)
class Recomputed:
    case_key: str
    closes_at: datetime
    provisional: bool

    def as_dict(self) -> dict[str, Any]:
        return {"case_key": self.case_key, "closes_at": self.closes_at.isoformat(), "provisional": self.provisional}


@dataclass(frozen=True, slots=True)
class LoadReport:
    """`remaining`: more windows wait; the scheduler's next runs recompute them (`recompute_known`)."""

    notice: YearNotice
    forced: bool
    recomputed: tuple[Recomputed, ...]
    remaining: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "year": self.notice.year,
            "title": self.notice.title,
            "forced": self.forced,
            "recomputed": len(self.recomputed),
            "remaining": self.remaining,
            "windows": [r.as_dict() for r in self.recomputed[:100]],
        }


class CalendarAdmin:
    def __init__(
        self,
        store: CalendarStore,
        cases: CaseStore,
        timers: TimerStore,
        *,
        on_change: Callable[[], None] = lambda: None,
        policy: RatingPolicy | None = None,
    ) -> None:
        self.store = store
        self.cases = cases
        self.timers = timers
        self.on_change = on_change  # drop cached calendars in this container
        self.policy = policy or RatingPolicy()

    def calendar(self) -> WorkingDayCalendar:
        """The calendar with every stored notice, read now (forced ones were forced when loaded)."""
        return WorkingDayCalendar(self.store.notices(), force=True)

    def load(
        self, text: str | bytes, *, force: bool, now: datetime, origin: str = "notice", limit: int = 1000
    ) -> LoadReport:
        """Validate, store and apply a notice. Raises `Refused`: NOTICE_INVALID (one problem per line of
        the calendar's message) or NOTICE_REFUSED (the year is official and `force` was not given)."""
        unknown = unknown_in_notice(text)
        if unknown:
            raise Refused(unknown)
        try:
            notice = parse_notice(text, origin)
        except NoticeInvalid as exc:
            raise Refused([problem("NOTICE_INVALID", *_where_what(line)) for line in problem_lines(exc)]) from None
        calendar = self.calendar()
        try:
            calendar.load(notice, force=force)
        except NoticeRefused as exc:
            raise Refused([problem("NOTICE_REFUSED", "year", str(exc))]) from None
        self.store.put(notice, at=now, forced=force)
        self.on_change()
        recomputed, remaining = self.recompute(notice.year, calendar, limit)
        return LoadReport(notice, force, tuple(recomputed), remaining)

    def recompute(
        self, year: int, calendar: WorkingDayCalendar, limit: int, *, remaining_ms: Callable[[], int] | None = None,
        spare_ms: int = 0,
    ) -> tuple[list[Recomputed], bool]:  # fmt: skip
        """Recount up to `limit` windows that were provisional through `year`; True when more wait.

        With `remaining_ms` (the invocation's time left) it stops before a window with less than `spare_ms` left:
        a window is recounted whole or not at all (its case updated last), so the ones not reached are still in
        the year's index for the next run, and none is recounted twice."""
        keys = self.cases.provisional_in(year, limit)
        done: list[Recomputed] = []
        for key in keys:
            if remaining_ms is not None and remaining_ms() < spare_ms:
                return done, True
            case = self.cases.get(key)
            if case is None:
                continue
            window = open_rating_window(case.notice, calendar, self.policy)
            for timer in window.timers:
                if timer.kind is not TimerKind.FIRST_REMINDER:  # the first one does not depend on the calendar
                    self.timers.reschedule(timer)
            # last, so a recompute cut short is found again through the index
            self.cases.update_window(key, window.closes_at, window.provisional, window.provisional_year)
            done.append(Recomputed(key, window.closes_at, window.provisional))
        return done, len(keys) >= limit

    def recompute_known(
        self, calendar: WorkingDayCalendar, limit: int, *, remaining_ms: Callable[[], int] | None = None,
        spare_ms: int = 0,
    ) -> list[Recomputed]:  # fmt: skip
        """Windows still marked provisional for a year the calendar now knows: a load's recompute cut
        short, or a notice counted with a calendar cached from before the load. With `remaining_ms`, within the
        time left (the scheduler's first step, which must leave the reminders their time): checked before each
        year's index read and each window, as `recompute` does."""
        done: list[Recomputed] = []
        for year, source in calendar.known_years().items():
            if source != "override" or len(done) >= limit:
                continue
            if remaining_ms is not None and remaining_ms() < spare_ms:
                break
            done += self.recompute(year, calendar, limit - len(done), remaining_ms=remaining_ms, spare_ms=spare_ms)[0]
        return done


def unknown_in_notice(text: str | bytes) -> list[Problem]:
    """FIELD_UNKNOWN for every field schemas/calendar-notice.json does not have, at its path; raises `Refused`
    (BODY_MALFORMED) for a body that is not one JSON object or writes a key twice."""
    loads_object(text, "one notice, a JSON object (schemas/calendar-notice.json)")
    try:
        YearNotice.model_validate_json(text)
    except ValidationError as exc:
        return [p for p in problems_from(exc, model=YearNotice) if p.code == "FIELD_UNKNOWN"]
    return []


def problem_lines(exc: NoticeInvalid) -> list[str]:
    """The calendar's "where: what" lines (its consistency check gives every finding in one line)."""
    return list(exc.problems)


def _where_what(line: str) -> tuple[str, str]:
    where, sep, what = line.partition(": ")
    return (where, what) if sep and " " not in where else ("", line)

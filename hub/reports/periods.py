"""Report periods in Beijing time, by `rated_at`: day, ISO week, month, quarter, year.

Rollup cells are kept per day and per month (`stored_keys`): a week sums its 7 days, a quarter or a
year its months, so a rating change touches two periods, not five.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hub.reports.document import PeriodKind

BEIJING = ZoneInfo("Asia/Shanghai")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


class PeriodError(ValueError):
    code = "PERIOD_INVALID"

    def __init__(self, text: str) -> None:
        super().__init__(f"{text!r} is not a period: use 2026-11-28, 2026-W48, 2026-11, 2026-Q4 or 2026")
        self.message_zh = f"“{text}”不是有效的统计期：应为 2026-11-28、2026-W48、2026-11、2026-Q4 或 2026"


def day_key(d: date) -> str:
    return d.isoformat()


def month_key(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def stored_keys_of(moment: datetime) -> tuple[str, str]:
    """The day and the month (Beijing time) whose cells a moment counts in."""
    local = moment.astimezone(BEIJING).date()
    return day_key(local), month_key(local)


def _month_start(year: int, month: int) -> date:
    return date(year, month, 1)


def _next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


@dataclass(frozen=True, slots=True)
class Period:
    kind: PeriodKind
    key: str
    first_day: date
    end_day: date  # exclusive

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, datetime.min.time(), BEIJING)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.end_day, datetime.min.time(), BEIJING)

    @property
    def stored_keys(self) -> tuple[str, ...]:
        """The stored cells' periods that add up to this one: days for a day or week, months otherwise."""
        if self.kind in (PeriodKind.DAY, PeriodKind.WEEK):
            days = (self.end_day - self.first_day).days
            return tuple(day_key(self.first_day + timedelta(days=n)) for n in range(days))
        keys, d = [], self.first_day
        while d < self.end_day:
            keys.append(month_key(d))
            d = _next_month(d)
        return tuple(keys)

    @property
    def months(self) -> tuple[Period, ...]:
        """The whole months that overlap this period (what `rebuild` recomputes)."""
        out, d = [], _month_start(self.first_day.year, self.first_day.month)
        while d < self.end_day:
            out.append(parse_period(month_key(d)))
            d = _next_month(d)
        return tuple(out)

    def previous(self) -> Period:
        """The period before, of the same kind (for `lowest_two_periods`)."""
        return period_containing(self.kind, self.first_day - timedelta(days=1))

    def contains(self, moment: datetime) -> bool:
        return self.first_day <= moment.astimezone(BEIJING).date() < self.end_day


def period_containing(kind: PeriodKind, d: date) -> Period:
    if kind is PeriodKind.DAY:
        return parse_period(day_key(d))
    if kind is PeriodKind.WEEK:
        year, week, _ = d.isocalendar()
        return parse_period(f"{year:04d}-W{week:02d}")
    if kind is PeriodKind.MONTH:
        return parse_period(month_key(d))
    if kind is PeriodKind.QUARTER:
        return parse_period(f"{d.year:04d}-Q{(d.month - 1) // 3 + 1}")
    return parse_period(f"{d.year:04d}")


def parse_period(text: str) -> Period:
    """`2026-11-28`, `2026-W48` (ISO), `2026-11`, `2026-Q4` or `2026`; PeriodError otherwise."""
    t = text.strip()
    try:
        if m := _DAY.match(t):
            d = date(int(m[1]), int(m[2]), int(m[3]))
            return Period(PeriodKind.DAY, t, d, d + timedelta(days=1))
        if m := _WEEK.match(t):
            monday = date.fromisocalendar(int(m[1]), int(m[2]), 1)
            return Period(PeriodKind.WEEK, t, monday, monday + timedelta(days=7))
        if m := _MONTH.match(t):
            first = _month_start(int(m[1]), int(m[2]))
            return Period(PeriodKind.MONTH, t, first, _next_month(first))
        if m := _QUARTER.match(t):
            first = _month_start(int(m[1]), 3 * int(m[2]) - 2)
            return Period(PeriodKind.QUARTER, t, first, _next_month(_next_month(_next_month(first))))
        if m := _YEAR.match(t):
            return Period(PeriodKind.YEAR, t, date(int(m[1]), 1, 1), date(int(m[1]) + 1, 1, 1))
    except ValueError:
        pass
    raise PeriodError(text)

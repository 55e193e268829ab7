"""The rules that need a clock or the calendar: the rating window (R5) and the clock-skew guard.

Time is an argument: callers pass `now`; nothing here reads the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.calendar import Deadline, WorkingDayCalendar
from hub.errors import Problem, beijing_time, duration_en, duration_zh, problem
from hub.rating import EvaluationType, RatingBody

RATING_WINDOW_WORKING_DAYS = 5  # R5, 第十一条


@dataclass(frozen=True, slots=True)
class RatingPolicy:
    clock_skew: timedelta = timedelta(minutes=5)
    window_working_days: int = RATING_WINDOW_WORKING_DAYS


def rating_window(handled_at: datetime, calendar: WorkingDayCalendar, policy: RatingPolicy) -> Deadline:
    """R5: the rater may rate until the end of the 5th working day after the service."""
    return calendar.deadline(handled_at, policy.window_working_days)


def check_timing(
    body: RatingBody, now: datetime, calendar: WorkingDayCalendar, policy: RatingPolicy | None = None
) -> list[Problem]:
    policy = policy or RatingPolicy()
    problems: list[Problem] = []
    if body.rated_at > now + policy.clock_skew:
        ahead = body.rated_at - now
        problems.append(problem("RATED_IN_FUTURE", "rated_at", f"{duration_en(ahead)} ahead of the hub's clock",
                                detail_zh=f"超前 {duration_zh(ahead)}"))  # fmt: skip
    handled_at = body.case.handled_at
    if body.evaluation_type == EvaluationType.ACTIVE and handled_at is not None:
        window = rating_window(handled_at, calendar, policy)
        if body.rated_at > window.at:
            problems.append(problem("RATING_WINDOW_CLOSED", "rated_at", window.at.isoformat(),
                                    detail_zh=beijing_time(window.at)))  # fmt: skip
    return problems

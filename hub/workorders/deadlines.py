"""The order's time limits in working days (R11, R12, R15, R17), and what has become of them by a moment."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from hub.calendar import END_OF_DAY, SHANGHAI, Deadline, WorkingDayCalendar
from hub.types import AwareDatetime
from hub.workorders.parties import ManagingDepartment
from hub.workorders.values import Frozen

__all__ = [
    "APPEAL_REVIEW_WORKING_DAYS",
    "APPEAL_WORKING_DAYS",
    "CONTACT_WORKING_DAYS",
    "MAX_APPROVED_EXTENSIONS",
    "REMINDER_TIME",
    "REPLY_WORKING_DAYS",
    "RESOLVE_WORKING_DAYS",
    "DeadlineKind",
    "Deadlines",
    "OverdueCheck",
    "TimeLimit",
]

REPLY_WORKING_DAYS = 1  # R11, 第十七条(一)
CONTACT_WORKING_DAYS = 2  # R12, 第十七条(二)
RESOLVE_WORKING_DAYS = 10  # R12, 第十七条(二)
MAX_APPROVED_EXTENSIONS = 2  # R15: "延期办理以2次为限" — extended handling, so approvals count
APPEAL_WORKING_DAYS = 3  # R17, 第十九条: counted from dispatch (see FileAppeal)
APPEAL_REVIEW_WORKING_DAYS = 3  # R17: "收到申诉后3个工作日内"
REMINDER_TIME = dt.time(8, 0)  # the unit is reminded at 08:00 Beijing time on the day a deadline falls due


class DeadlineKind(StrEnum):
    REPLY = "reply"  # R11: simple orders
    CONTACT = "contact"  # R12: complex orders
    RESOLVE = "resolve"  # R12: complex orders
    APPEAL = "appeal"  # R17: the unit's window to appeal (a right, never overdue)
    APPEAL_REVIEW = "appeal_review"  # R17: the managing department's review of a filed appeal


class TimeLimit(Frozen):
    """A deadline as the order keeps it: met by a moment `t <= at`.

    `basis` says where it came from: N working days counted from a moment (recomputable when the
    calendar learns a provisional year), or an approved extension's new time limit (a literal date).
    """

    at: AwareDatetime
    date: dt.date
    provisional: bool
    basis: Literal["working_days", "extension"] = "working_days"
    working_days: int | None = None
    counted_from: AwareDatetime | None = None

    @classmethod
    def counted(cls, calendar: WorkingDayCalendar, start: datetime, working_days: int) -> TimeLimit:
        deadline: Deadline = calendar.deadline(start, working_days)
        return cls(
            at=deadline.at,
            date=deadline.date,
            provisional=deadline.provisional,
            working_days=working_days,
            counted_from=start,
        )

    @classmethod
    def extended_to(cls, day: dt.date) -> TimeLimit:
        return cls(
            at=datetime.combine(day, END_OF_DAY, tzinfo=SHANGHAI), date=day, provisional=False, basis="extension"
        )

    def recomputed(self, calendar: WorkingDayCalendar) -> TimeLimit:
        if self.basis != "working_days" or not self.provisional:
            return self
        assert self.counted_from is not None and self.working_days is not None
        return TimeLimit.counted(calendar, self.counted_from, self.working_days)


class Deadlines(Frozen):
    """All counted from dispatch; which of them bind depends on the kind (see `WorkOrder.open_deadlines`)."""

    reply: TimeLimit
    contact: TimeLimit
    resolve: TimeLimit
    appeal: TimeLimit


@dataclass(frozen=True, slots=True)
class OverdueCheck:
    """A deadline that has passed: what the scheduler marks, and where it escalates (if anywhere)."""

    deadline: DeadlineKind
    due: TimeLimit
    escalate_to: ManagingDepartment | None
    escalated_at: datetime | None

    @property
    def escalation_due(self) -> bool:
        return self.escalate_to is not None and self.escalated_at is None

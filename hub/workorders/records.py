"""What an order records as it is handled: its kind and status, the reply, contact, resolution, the not-adopted
finding (R14), extensions (R15), the appeal (R17), the follow-up visit (R13), the survey (R16), escalations."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

from hub.rating import Grade
from hub.types import AwareDatetime
from hub.workorders.deadlines import DeadlineKind, TimeLimit
from hub.workorders.parties import ManagingDepartment
from hub.workorders.values import Frozen, Name, Text

__all__ = [
    "Appeal",
    "Contact",
    "ContactMethod",
    "Escalation",
    "Extension",
    "FollowUpVisit",
    "Grounds",
    "Kind",
    "NotAdoption",
    "Reply",
    "Resolution",
    "Status",
    "Survey",
]


class Kind(StrEnum):
    SIMPLE = "simple"  # 情况清楚、诉求合理
    COMPLEX = "complex"  # 情况复杂，一时难以解决


class Status(StrEnum):
    DISPATCHED = "dispatched"
    SIMPLE = "simple"
    COMPLEX = "complex"
    REPLIED = "replied"
    CONTACTED = "contacted"
    RESOLVED = "resolved"
    NOT_ADOPTED = "not_adopted"
    FOLLOW_UP_VISITED = "follow_up_visited"
    SURVEYED = "surveyed"
    CLOSED = "closed"


Grounds = Literal["mistaken", "malicious"]  # 误评, 恶意差评
ContactMethod = Literal["phone", "sms", "visit", "online"]


class Reply(Frozen):
    at: AwareDatetime
    summary: Text
    on_time: bool


class Contact(Frozen):
    at: AwareDatetime
    note: Text
    on_time: bool


class Resolution(Frozen):
    at: AwareDatetime
    rectification: Text
    on_time: bool


class NotAdoption(Frozen):
    """R14: the unit's own finding after verification, reported to the managing department."""

    at: AwareDatetime
    grounds: Grounds
    verification: Text


class Extension(Frozen):
    """R15: a written request with reason and new time limit, and the managing department's decision."""

    deadline: DeadlineKind
    requested_at: AwareDatetime
    reason: Text
    until: date
    document_ref: Name | None = None
    status: Literal["requested", "approved", "refused"] = "requested"
    decided_at: AwareDatetime | None = None
    decision_note: Text | None = None
    previous: TimeLimit


class Appeal(Frozen):
    """R17: the unit's written appeal, and the managing department's finding within 3 working days."""

    filed_at: AwareDatetime
    grounds: Grounds
    reason: Text
    document_ref: Name | None = None
    review_by: TimeLimit
    status: Literal["filed", "upheld", "rejected"] = "filed"
    decided_at: AwareDatetime | None = None
    finding: Text | None = None


class FollowUpVisit(Frozen):
    """R13: the visit by a named person (专人回访核实). The visitor is staff; the rater stays the rating_id."""

    at: AwareDatetime
    visitor_name: Name
    method: ContactMethod
    note: Text


class Survey(Frozen):
    """R16: how satisfied the rater is with the handling; None when the rater declined or was unreachable
    (rating is voluntary, 第十六条)."""

    at: AwareDatetime
    method: ContactMethod
    satisfaction: Grade | None
    note: Text | None = None


class Escalation(Frozen):
    at: AwareDatetime
    deadline: DeadlineKind
    due_at: AwareDatetime
    to: ManagingDepartment

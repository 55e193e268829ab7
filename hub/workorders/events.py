"""The order's history, one past-tense event per change, and the outbound intents the pipeline acts on."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from hub.rating import Grade
from hub.types import AwareDatetime
from hub.workorders.deadlines import DeadlineKind, Deadlines, TimeLimit
from hub.workorders.parties import ActorRef, HandlingUnit, ManagingDepartment
from hub.workorders.records import ContactMethod, Grounds, Kind
from hub.workorders.values import Frozen, Text

__all__ = [
    "AppealFiled",
    "AppealRejected",
    "AppealUpheld",
    "Audience",
    "DeadlineChange",
    "DeadlineEscalated",
    "DeadlineReminded",
    "DeadlinesRecomputed",
    "Event",
    "ExtensionApproved",
    "ExtensionRefused",
    "ExtensionRequested",
    "FollowUpVisited",
    "OrderClassified",
    "OrderClosed",
    "OrderResolved",
    "ProvincialAction",
    "RaterContacted",
    "RatingNotAdopted",
    "ReplySent",
    "SatisfactionSurveyed",
    "WorkOrderDispatched",
    "WorkOrderEvent",
]


class Audience(StrEnum):
    """Who the pipeline notifies (SNS). The rater is reached through the rating_id, never by data here."""

    UNIT = "unit"
    MANAGING_DEPARTMENT = "managing_department"
    RATER = "rater"
    ESCALATION = "escalation"  # the department named in the event's `to`


ProvincialAction = Literal["reply", "rectification", "not_adopted", "satisfaction"]


class Event(Frozen):
    """One entry of an order's history. `forward_to_province` and `notify` are the outbound intents the
    pipeline acts on; no field carries the rater's personal data (R20) — the rater is the rating_id."""

    order_id: str
    rating_id: str
    version: int
    at: AwareDatetime
    actor: ActorRef

    forward_to_province: ClassVar[ProvincialAction | None] = None
    notify: ClassVar[frozenset[Audience]] = frozenset()


class WorkOrderDispatched(Event):
    type: Literal["WorkOrderDispatched"] = "WorkOrderDispatched"
    unit: HandlingUnit
    managing_department: ManagingDepartment
    real_name: bool
    deadlines: Deadlines
    notify: ClassVar[frozenset[Audience]] = frozenset({Audience.UNIT})


class OrderClassified(Event):
    type: Literal["OrderClassified"] = "OrderClassified"
    kind: Kind


class ReplySent(Event):
    type: Literal["ReplySent"] = "ReplySent"
    summary: Text
    on_time: bool
    forward_to_province: ClassVar[ProvincialAction | None] = "reply"


class RaterContacted(Event):
    type: Literal["RaterContacted"] = "RaterContacted"
    note: Text
    on_time: bool


class OrderResolved(Event):
    type: Literal["OrderResolved"] = "OrderResolved"
    rectification: Text
    on_time: bool
    forward_to_province: ClassVar[ProvincialAction | None] = "rectification"


class RatingNotAdopted(Event):
    type: Literal["RatingNotAdopted"] = "RatingNotAdopted"
    grounds: Grounds
    verification: Text
    forward_to_province: ClassVar[ProvincialAction | None] = "not_adopted"
    notify: ClassVar[frozenset[Audience]] = frozenset({Audience.MANAGING_DEPARTMENT})  # 报备, 第十七条(四)


class ExtensionRequested(Event):
    type: Literal["ExtensionRequested"] = "ExtensionRequested"
    deadline: DeadlineKind
    current: TimeLimit
    until: date
    reason: Text
    notify: ClassVar[frozenset[Audience]] = frozenset({Audience.MANAGING_DEPARTMENT})


class ExtensionApproved(Event):
    type: Literal["ExtensionApproved"] = "ExtensionApproved"
    deadline: DeadlineKind
    new_time_limit: TimeLimit
    note: Text | None = None
    notify: ClassVar[frozenset[Audience]] = frozenset({Audience.UNIT, Audience.RATER})  # 告知评价人


class ExtensionRefused(Event):
    type: Literal["ExtensionRefused"] = "ExtensionRefused"
    reason: Text
    notify: ClassVar[frozenset[Audience]] = frozenset({Audience.UNIT})


class AppealFiled(Event):
    type: Literal["AppealFiled"] = "AppealFiled"
    grounds: Grounds
    reason: Text
    review_by: TimeLimit
    notify: ClassVar[frozenset[Audience]] = frozenset({Audience.MANAGING_DEPARTMENT})


class AppealUpheld(Event):
    """The rating is not adopted: excluded from results, and the province is told (R17)."""

    type: Literal["AppealUpheld"] = "AppealUpheld"
    finding: Text
    forward_to_province: ClassVar[ProvincialAction | None] = "not_adopted"
    notify: ClassVar[frozenset[Audience]] = frozenset({Audience.UNIT})


class AppealRejected(Event):
    type: Literal["AppealRejected"] = "AppealRejected"
    reason: Text
    notify: ClassVar[frozenset[Audience]] = frozenset({Audience.UNIT})


class FollowUpVisited(Event):
    type: Literal["FollowUpVisited"] = "FollowUpVisited"
    method: ContactMethod


class SatisfactionSurveyed(Event):
    type: Literal["SatisfactionSurveyed"] = "SatisfactionSurveyed"
    method: ContactMethod
    satisfaction: Grade | None
    forward_to_province: ClassVar[ProvincialAction | None] = "satisfaction"


class OrderClosed(Event):
    type: Literal["OrderClosed"] = "OrderClosed"
    rating_adopted: bool
    notify: ClassVar[frozenset[Audience]] = frozenset({Audience.UNIT})


class DeadlineEscalated(Event):
    type: Literal["DeadlineEscalated"] = "DeadlineEscalated"
    deadline: DeadlineKind
    due: TimeLimit
    to: ManagingDepartment
    notify: ClassVar[frozenset[Audience]] = frozenset({Audience.ESCALATION})


class DeadlineReminded(Event):
    """The unit was reminded, on the morning of the day it falls due, of a deadline it has not met yet."""

    type: Literal["DeadlineReminded"] = "DeadlineReminded"
    deadline: DeadlineKind
    due: TimeLimit
    notify: ClassVar[frozenset[Audience]] = frozenset({Audience.UNIT})


class DeadlineChange(Frozen):
    deadline: DeadlineKind
    before: TimeLimit
    after: TimeLimit


class DeadlinesRecomputed(Event):
    type: Literal["DeadlinesRecomputed"] = "DeadlinesRecomputed"
    changes: tuple[DeadlineChange, ...]


WorkOrderEvent = Annotated[
    WorkOrderDispatched
    | OrderClassified
    | ReplySent
    | RaterContacted
    | OrderResolved
    | RatingNotAdopted
    | ExtensionRequested
    | ExtensionApproved
    | ExtensionRefused
    | AppealFiled
    | AppealUpheld
    | AppealRejected
    | FollowUpVisited
    | SatisfactionSurveyed
    | OrderClosed
    | DeadlineEscalated
    | DeadlineReminded
    | DeadlinesRecomputed,
    Field(discriminator="type"),
]

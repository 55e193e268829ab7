"""Bad-rating work orders (差评工单, R10–R18 of DESIGN §1; 第十七条–第十九条): model, state machine, deadlines, events.

A work order is immutable. Every command either raises a `WorkOrderError` and leaves the order as it
was, or returns a `Transition`: the next order (version + 1) and the one event appended to its
history. The history therefore tells the whole story, and `version == len(history)` always.

Extensions and appeals run beside the handling status rather than inside it: the regulation keeps
the unit working while an extension is decided (第十七条 "由承办单位继续办理") and suspends no time
limit for an appeal, so neither may block a reply or a resolution.

Time and the calendar are arguments; nothing here reads the clock.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, NamedTuple

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, model_validator
from pydantic_core import PydanticCustomError

from hub.calendar import END_OF_DAY, SHANGHAI, Deadline, WorkingDayCalendar
from hub.codes import CodeError, Level, check_id_number, county_of, region_level
from hub.errors import Problem, beijing_time
from hub.rating import Grade, Rating
from hub.types import AwareDatetime, RegionCode

__all__ = [
    "APPEAL_REVIEW_WORKING_DAYS",
    "APPEAL_WORKING_DAYS",
    "COMMAND_ADAPTER",
    "CONTACT_WORKING_DAYS",
    "HANDLING",
    "MAX_APPROVED_EXTENSIONS",
    "OPEN",
    "REFUSALS",
    "REMINDER_TIME",
    "REPLY_WORKING_DAYS",
    "RESOLVE_WORKING_DAYS",
    "SYSTEM",
    "TRANSITIONS",
    "WORK_ORDER_SCHEMAS",
    "Actor",
    "ActorRef",
    "Appeal",
    "AppealFiled",
    "AppealRejected",
    "AppealUpheld",
    "ApproveExtension",
    "Audience",
    "Classify",
    "Close",
    "Command",
    "Contact",
    "DeadlineChange",
    "DeadlineEscalated",
    "DeadlineKind",
    "DeadlineReminded",
    "Deadlines",
    "DeadlinesRecomputed",
    "Escalate",
    "Escalation",
    "Event",
    "Extension",
    "ExtensionApproved",
    "ExtensionRefused",
    "ExtensionRequested",
    "FileAppeal",
    "FollowUpVisit",
    "FollowUpVisited",
    "HandlingUnit",
    "InMemoryWorkOrderStore",
    "Kind",
    "ManagingDepartment",
    "MarkNotAdopted",
    "NotAdoption",
    "OrderClassified",
    "OrderClosed",
    "OrderResolved",
    "OutboxEntry",
    "OverdueCheck",
    "ProvincialAction",
    "RaterContacted",
    "RatingNotAdopted",
    "RecomputeDeadlines",
    "RecordContact",
    "RecordFollowUpVisit",
    "RefuseExtension",
    "RejectAppeal",
    "RemindDeadline",
    "Reply",
    "ReplySent",
    "RequestExtension",
    "Resolution",
    "Resolve",
    "Role",
    "SatisfactionSurveyed",
    "SendReply",
    "Status",
    "Survey",
    "SurveySatisfaction",
    "TimeLimit",
    "Transition",
    "TransitionRule",
    "UpholdAppeal",
    "VersionConflict",
    "WorkOrder",
    "WorkOrderDispatched",
    "WorkOrderError",
    "WorkOrderEvent",
    "WorkOrderStore",
    "managing_department_for",
    "open_work_order",
    "owed",
    "work_order_id_for",
]

REPLY_WORKING_DAYS = 1  # R11, 第十七条(一)
CONTACT_WORKING_DAYS = 2  # R12, 第十七条(二)
RESOLVE_WORKING_DAYS = 10  # R12, 第十七条(二)
MAX_APPROVED_EXTENSIONS = 2  # R15: "延期办理以2次为限" — extended handling, so approvals count
APPEAL_WORKING_DAYS = 3  # R17, 第十九条: counted from dispatch (see FileAppeal)
APPEAL_REVIEW_WORKING_DAYS = 3  # R17: "收到申诉后3个工作日内"
REMINDER_TIME = dt.time(8, 0)  # the unit is reminded at 08:00 Beijing time on the day a deadline falls due


# --------------------------------------------------------------------------------------------------
# Refusals

# code -> (rule, HTTP status, English, Chinese). Messages may use {detail}.
REFUSALS: dict[str, tuple[str | None, int, str, str]] = {
    "NOT_A_BAD_RATING": ("R10", 409, "only a bad rating (dissatisfied or very dissatisfied, item or staff) opens a "
                         "work order", "仅“不满意”或“非常不满意”的差评生成差评工单"),
    "WORK_ORDER_STATE": (None, 409, "not allowed now: {detail}", "工单当前状态不允许此操作：{detail}"),
    "ORDER_CLOSED": (None, 409, "the work order is closed; nothing more can be done on it",
                     "工单已关闭，不能再进行任何操作"),
    "NOT_YOUR_ORDER": (None, 403, "this work order is not yours: {detail}", "无权操作该工单：{detail}"),
    "ACTION_NOT_FOR_ROLE": (None, 403, "this role may not take this action: {detail}",
                            "该角色无权执行此操作：{detail}"),
    "EXTENSION_LIMIT": ("R15", 409, "at most 2 extensions per work order, and {detail} approved already",
                        "延期办理以2次为限，已批准 {detail} 次"),
    "EXTENSION_AFTER_DEADLINE": ("R15", 409, "an extension must be requested before the deadline, which passed at "
                                 "{detail}", "延期申请须在办理期限届满前提出，期限已于 {detail} 届满"),
    "EXTENSION_PENDING": ("R15", 409, "an extension request is awaiting the managing department's decision",
                          "已有延期申请正待同级政务服务管理部门审核"),
    "NO_PENDING_EXTENSION": ("R15", 409, "there is no extension request to decide", "没有待审核的延期申请"),
    "EXTENSION_TIME_LIMIT_INVALID": ("R15", 409, "the new time limit must be later than the current deadline "
                                     "({detail})", "新的整改时限须晚于当前办理期限（{detail}）"),
    "APPEAL_WINDOW_CLOSED": ("R17", 409, "an appeal must be filed within 3 working days after dispatch; the window "
                             "closed at {detail}", "申诉须在工单派发后3个工作日内提出，已于 {detail} 截止"),
    "APPEAL_ALREADY_FILED": ("R17", 409, "this work order has been appealed already", "该工单已提出过申诉"),
    "APPEAL_PENDING": ("R17", 409, "an appeal is awaiting the managing department's review",
                       "申诉正待同级政务服务管理部门核实"),
    "APPEAL_REJECTED": ("R17", 409, "the managing department rejected the appeal; the rating stands",
                        "申诉经核实未予支持，差评结果予以采纳"),
    "NO_PENDING_APPEAL": ("R17", 409, "there is no appeal to decide", "没有待核实的申诉"),
    "FOLLOW_UP_REQUIRED": ("R13", 409, "a real-name bad rating needs its follow-up visit first",
                           "实名差评件须先由专人回访核实"),
    "SURVEY_REQUIRED": ("R16", 409, "the rater's satisfaction with the handling must be surveyed first",
                        "须先完成差评整改回访满意度测评"),
    "ESCALATION_NOT_DUE": (None, 409, "no escalation is due: {detail}", "无需升级督办：{detail}"),
    "REMINDER_NOT_DUE": (None, 409, "no reminder is due: {detail}", "无需提醒：{detail}"),
    "DEADLINES_CURRENT": (None, 409, "no provisional deadline changes with the calendar as loaded",
                          "按当前已加载的日历，暂定期限无需重算"),
    "TIME_BEFORE_HISTORY": (None, 409, "the action's time {detail} is earlier than the order's last event",
                            "操作时间 {detail} 早于工单的最近一条记录"),
    "VERSION_CONFLICT": (None, 409, "the work order changed meanwhile ({detail}); reload it and try again",
                         "工单已被修改（{detail}），请刷新后重试"),
}  # fmt: skip


def _when_zh(at: Any) -> str:
    return beijing_time(at) if isinstance(at, datetime) else str(at)


class WorkOrderError(Exception):
    """A refused work-order action. `http_status` is 403 for ownership and role, 409 for state and deadline."""

    def __init__(self, code: str, detail: str = "", detail_zh: str | None = None) -> None:
        """`detail_zh` says the detail in Chinese; without it the detail is a value (a count) and reads the same."""
        rule, status, en, zh = REFUSALS[code]
        self.code = code
        self.rule = rule
        self.http_status = status
        self.detail = detail
        self.message = en.format(detail=detail)
        self.message_zh = zh.format(detail=detail if detail_zh is None else detail_zh)
        super().__init__(f"{code}: {self.message}")

    def as_problem(self, path: str = "") -> Problem:
        return Problem(self.code, path, self.message, self.message_zh, self.rule)


class VersionConflict(WorkOrderError):
    """Someone saved the order after it was read: optimistic locking refuses the lost update."""

    def __init__(self, order_id: str, expected: int, actual: int | None) -> None:
        super().__init__(
            "VERSION_CONFLICT", f"{order_id}: expected version {expected}, found {actual}",
            f"{order_id}：应为第 {expected} 版，实为第 {actual} 版",
        )  # fmt: skip
        self.order_id = order_id
        self.expected = expected
        self.actual = actual


# --------------------------------------------------------------------------------------------------
# Parties


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_MOBILE_IN_TEXT = re.compile(r"(?<!\d)1[3-9]\d(?:[\s-]?\d){8}(?!\d)")
_ID_NUMBER_IN_TEXT = re.compile(r"(?<![\dXx])\d{17}[\dXx](?![\dXx])")


def _no_personal_numbers(text: str) -> str:
    """R20: free texts travel in events to the province and SNS; a rater's phone or ID number must not."""
    if _MOBILE_IN_TEXT.search(text):
        raise PydanticCustomError("PERSONAL_DATA_IN_TEXT", "the text contains a mobile number")
    for candidate in _ID_NUMBER_IN_TEXT.findall(text):
        try:
            check_id_number(candidate)
        except CodeError:
            continue
        raise PydanticCustomError("PERSONAL_DATA_IN_TEXT", "the text contains a resident ID number")
    return text


Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), AfterValidator(_no_personal_numbers)
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class Role(StrEnum):
    UNIT = "unit"  # the handling unit (承办单位): acts on its own orders
    MANAGEMENT = "management"  # a 政务服务管理部门: acts on the orders it manages (R18)
    OPERATOR = "operator"  # the hub operator: all orders
    SYSTEM = "system"  # the hub itself: dispatch, escalation, recomputation


class ActorRef(_Frozen):
    """Who acted, as the history keeps it: a role and an account id, nothing personal."""

    role: Role
    id: Name


class Actor(_Frozen):
    """The signed-in party; a unit is known by its agency code, a management department by its region."""

    role: Role
    id: Name
    agency_code: str | None = None
    region_code: RegionCode | None = None

    @model_validator(mode="after")
    def _scoped(self) -> Actor:
        if self.role is Role.UNIT and not self.agency_code:
            raise ValueError("a unit actor needs its agency_code")
        if self.role is Role.MANAGEMENT and not self.region_code:
            raise ValueError("a management actor needs its region_code")
        return self

    @property
    def ref(self) -> ActorRef:
        return ActorRef(role=self.role, id=self.id)


SYSTEM = Actor(role=Role.SYSTEM, id="hub")


class HandlingUnit(_Frozen):
    """The rated agency (承办单位); an intermediary provider's order goes to the agency supervising it."""

    agency_code: str
    agency_name: str | None = None
    region_code: RegionCode
    level: Level


class ManagingDepartment(_Frozen):
    """A 政务服务管理部门, known by its region and level; the real departments' codes are configuration."""

    region_code: RegionCode
    level: Level

    def above(self) -> ManagingDepartment | None:
        """One level up, where an overdue appeal review is escalated; nothing is above the province."""
        if self.level in (Level.COUNTY, Level.TOWNSHIP, Level.VILLAGE):
            return ManagingDepartment(region_code=self.region_code[:4] + "0" * 8, level=Level.CITY)
        if self.level is Level.CITY:
            return ManagingDepartment(region_code=self.region_code[:2] + "0" * 10, level=Level.PROVINCE)
        return None


def managing_department_for(region_code: str) -> ManagingDepartment:
    """The same level's department (第十七条(四)), or the county's for townships and villages (R18, 第十九条)."""
    level = region_level(region_code)
    if level in (Level.TOWNSHIP, Level.VILLAGE):
        return ManagingDepartment(region_code=county_of(region_code), level=Level.COUNTY)
    return ManagingDepartment(region_code=region_code, level=level)


# --------------------------------------------------------------------------------------------------
# Time limits


class DeadlineKind(StrEnum):
    REPLY = "reply"  # R11: simple orders
    CONTACT = "contact"  # R12: complex orders
    RESOLVE = "resolve"  # R12: complex orders
    APPEAL = "appeal"  # R17: the unit's window to appeal (a right, never overdue)
    APPEAL_REVIEW = "appeal_review"  # R17: the managing department's review of a filed appeal


class TimeLimit(_Frozen):
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
    def extended_to(cls, day: date) -> TimeLimit:
        return cls(
            at=datetime.combine(day, END_OF_DAY, tzinfo=SHANGHAI), date=day, provisional=False, basis="extension"
        )

    def recomputed(self, calendar: WorkingDayCalendar) -> TimeLimit:
        if self.basis != "working_days" or not self.provisional:
            return self
        assert self.counted_from is not None and self.working_days is not None
        return TimeLimit.counted(calendar, self.counted_from, self.working_days)


class Deadlines(_Frozen):
    """All counted from dispatch; which of them bind depends on the kind (see `WorkOrder.open_deadlines`)."""

    reply: TimeLimit
    contact: TimeLimit
    resolve: TimeLimit
    appeal: TimeLimit


# --------------------------------------------------------------------------------------------------
# What the order records


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


class Reply(_Frozen):
    at: AwareDatetime
    summary: Text
    on_time: bool


class Contact(_Frozen):
    at: AwareDatetime
    note: Text
    on_time: bool


class Resolution(_Frozen):
    at: AwareDatetime
    rectification: Text
    on_time: bool


class NotAdoption(_Frozen):
    """R14: the unit's own finding after verification, reported to the managing department."""

    at: AwareDatetime
    grounds: Grounds
    verification: Text


class Extension(_Frozen):
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


class Appeal(_Frozen):
    """R17: the unit's written appeal, and the managing department's finding within 3 working days."""

    filed_at: AwareDatetime
    grounds: Grounds
    reason: Text
    document_ref: Name | None = None
    review_by: TimeLimit
    status: Literal["filed", "upheld", "rejected"] = "filed"
    decided_at: AwareDatetime | None = None
    finding: Text | None = None


class FollowUpVisit(_Frozen):
    """R13: the visit by a named person (专人回访核实). The visitor is staff; the rater stays the rating_id."""

    at: AwareDatetime
    visitor_name: Name
    method: ContactMethod
    note: Text


class Survey(_Frozen):
    """R16: how satisfied the rater is with the handling; None when the rater declined or was unreachable
    (rating is voluntary, 第十六条)."""

    at: AwareDatetime
    method: ContactMethod
    satisfaction: Grade | None
    note: Text | None = None


class Escalation(_Frozen):
    at: AwareDatetime
    deadline: DeadlineKind
    due_at: AwareDatetime
    to: ManagingDepartment


# --------------------------------------------------------------------------------------------------
# Events: the history, and the outbound intents the pipeline acts on


class Audience(StrEnum):
    """Who the pipeline notifies (SNS). The rater is reached through the rating_id, never by data here."""

    UNIT = "unit"
    MANAGING_DEPARTMENT = "managing_department"
    RATER = "rater"
    ESCALATION = "escalation"  # the department named in the event's `to`


ProvincialAction = Literal["reply", "rectification", "not_adopted", "satisfaction"]


class Event(_Frozen):
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


class DeadlineChange(_Frozen):
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


# --------------------------------------------------------------------------------------------------
# Commands: what a party asks for, in the imperative


class Classify(_Frozen):
    action: Literal["classify"] = "classify"
    kind: Kind


class SendReply(_Frozen):
    """R11: the handling opinion sent to the rater (处理意见)."""

    action: Literal["send_reply"] = "send_reply"
    summary: Text


class RecordContact(_Frozen):
    action: Literal["record_contact"] = "record_contact"
    note: Text


class Resolve(_Frozen):
    action: Literal["resolve"] = "resolve"
    rectification: Text


class MarkNotAdopted(_Frozen):
    action: Literal["mark_not_adopted"] = "mark_not_adopted"
    grounds: Grounds
    verification: Text


class RequestExtension(_Frozen):
    """R15: in writing — the reason and the new time limit (整改时限); `document_ref` names the letter."""

    action: Literal["request_extension"] = "request_extension"
    reason: Text
    until: date
    document_ref: Name | None = None


class ApproveExtension(_Frozen):
    action: Literal["approve_extension"] = "approve_extension"
    note: Text | None = None


class RefuseExtension(_Frozen):
    action: Literal["refuse_extension"] = "refuse_extension"
    reason: Text


class FileAppeal(_Frozen):
    """R17: within 3 working days after dispatch.

    第十九条 says "可在3个工作日内提出书面申诉" without naming the start. Dispatch is when the unit
    learns of the rating, and it is the moment every other time limit of the order counts from
    (第十七条 "工单派发次日起"); the rating's own time would shorten the window by however long the
    rating took to arrive, up to the whole of it.
    """

    action: Literal["file_appeal"] = "file_appeal"
    grounds: Grounds
    reason: Text
    document_ref: Name | None = None


class UpholdAppeal(_Frozen):
    action: Literal["uphold_appeal"] = "uphold_appeal"
    finding: Text


class RejectAppeal(_Frozen):
    action: Literal["reject_appeal"] = "reject_appeal"
    reason: Text


class RecordFollowUpVisit(_Frozen):
    action: Literal["record_follow_up_visit"] = "record_follow_up_visit"
    visitor_name: Name
    method: ContactMethod
    note: Text


class SurveySatisfaction(_Frozen):
    action: Literal["survey_satisfaction"] = "survey_satisfaction"
    method: ContactMethod
    satisfaction: Grade | None
    note: Text | None = None


class Close(_Frozen):
    action: Literal["close"] = "close"


class Escalate(_Frozen):
    action: Literal["escalate"] = "escalate"
    deadline: DeadlineKind


class RecomputeDeadlines(_Frozen):
    action: Literal["recompute_deadlines"] = "recompute_deadlines"


class RemindDeadline(_Frozen):
    action: Literal["remind_deadline"] = "remind_deadline"
    deadline: DeadlineKind


Command = Annotated[
    Classify
    | SendReply
    | RecordContact
    | Resolve
    | MarkNotAdopted
    | RequestExtension
    | ApproveExtension
    | RefuseExtension
    | FileAppeal
    | UpholdAppeal
    | RejectAppeal
    | RecordFollowUpVisit
    | SurveySatisfaction
    | Close
    | Escalate
    | RecomputeDeadlines
    | RemindDeadline,
    Field(discriminator="action"),
]
COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)
"""Parses `{"action": "...", ...}` from the API or the CLI into a command."""


# --------------------------------------------------------------------------------------------------
# The state machine, as a table


@dataclass(frozen=True, slots=True)
class TransitionRule:
    """One command: who may send it, from which statuses, to which, recording which event.

    `keeps_status` marks the commands that run beside the handling (extensions, appeals but the
    upheld one, escalation, recomputation); their target is the status they came from.
    """

    command: type[BaseModel]
    event: type[Event]
    roles: frozenset[Role]
    sources: frozenset[Status]
    targets: frozenset[Status]
    rule: str | None
    keeps_status: bool = False


S = Status
_UNIT = frozenset({Role.UNIT, Role.OPERATOR})
_MANAGEMENT = frozenset({Role.MANAGEMENT, Role.OPERATOR})
_VISITORS = frozenset({Role.UNIT, Role.MANAGEMENT, Role.OPERATOR})  # 第八条, 第十七条(三), 第十九条
_HUB = frozenset({Role.SYSTEM, Role.OPERATOR})
OPEN = frozenset(Status) - {S.CLOSED}
HANDLING = frozenset({S.DISPATCHED, S.SIMPLE, S.COMPLEX, S.CONTACTED})
_EXTENDABLE = frozenset({S.SIMPLE, S.COMPLEX, S.CONTACTED})
_CLOSABLE = frozenset({S.REPLIED, S.RESOLVED, S.NOT_ADOPTED, S.FOLLOW_UP_VISITED, S.SURVEYED})


def _rule(
    command: type[BaseModel],
    event: type[Event],
    roles: frozenset[Role],
    sources: frozenset[Status],
    targets: frozenset[Status] | None,
    rule: str | None,
) -> TransitionRule:
    """`targets=None`: the command keeps the status it found."""
    return TransitionRule(
        command, event, roles, sources, sources if targets is None else targets, rule, targets is None
    )


TRANSITIONS: dict[str, TransitionRule] = {
    "classify": _rule(Classify, OrderClassified, _UNIT, frozenset({S.DISPATCHED}), frozenset({S.SIMPLE, S.COMPLEX}),
                      "R11"),
    "send_reply": _rule(SendReply, ReplySent, _UNIT, frozenset({S.SIMPLE}), frozenset({S.REPLIED}), "R11"),
    "record_contact": _rule(RecordContact, RaterContacted, _UNIT, frozenset({S.COMPLEX}), frozenset({S.CONTACTED}),
                            "R12"),
    "resolve": _rule(Resolve, OrderResolved, _UNIT, frozenset({S.CONTACTED}), frozenset({S.RESOLVED}), "R12"),
    "mark_not_adopted": _rule(MarkNotAdopted, RatingNotAdopted, _UNIT, HANDLING, frozenset({S.NOT_ADOPTED}), "R14"),
    "request_extension": _rule(RequestExtension, ExtensionRequested, _UNIT, _EXTENDABLE, None, "R15"),
    "approve_extension": _rule(ApproveExtension, ExtensionApproved, _MANAGEMENT, OPEN, None, "R15"),
    "refuse_extension": _rule(RefuseExtension, ExtensionRefused, _MANAGEMENT, OPEN, None, "R15"),
    "file_appeal": _rule(FileAppeal, AppealFiled, _UNIT, OPEN - {S.NOT_ADOPTED}, None, "R17"),
    "uphold_appeal": _rule(UpholdAppeal, AppealUpheld, _MANAGEMENT, OPEN, frozenset({S.NOT_ADOPTED}), "R17"),
    "reject_appeal": _rule(RejectAppeal, AppealRejected, _MANAGEMENT, OPEN, None, "R17"),
    "record_follow_up_visit": _rule(RecordFollowUpVisit, FollowUpVisited, _VISITORS,
                                    frozenset({S.REPLIED, S.RESOLVED, S.NOT_ADOPTED}),
                                    frozenset({S.FOLLOW_UP_VISITED, S.NOT_ADOPTED}), "R13"),
    "survey_satisfaction": _rule(SurveySatisfaction, SatisfactionSurveyed, _MANAGEMENT,
                                 frozenset({S.REPLIED, S.RESOLVED, S.FOLLOW_UP_VISITED}), frozenset({S.SURVEYED}),
                                 "R16"),
    "close": _rule(Close, OrderClosed, _MANAGEMENT, _CLOSABLE, frozenset({S.CLOSED}), None),
    "escalate": _rule(Escalate, DeadlineEscalated, _HUB, OPEN, None, None),
    "recompute_deadlines": _rule(RecomputeDeadlines, DeadlinesRecomputed, _HUB, OPEN, None, None),
    "remind_deadline": _rule(RemindDeadline, DeadlineReminded, _HUB, OPEN, None, None),
}  # fmt: skip
del S


class Transition(NamedTuple):
    order: WorkOrder
    event: Event


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


# --------------------------------------------------------------------------------------------------
# The work order


def work_order_id_for(rating_id: str) -> str:
    """One order per rating, however often it is re-delivered (R10): the id is the rating's."""
    return f"wo-{rating_id}"


class WorkOrder(_Frozen):
    """A bad rating's work order (R10–R18) with its whole history. Change it only through `handle`."""

    id: str
    rating_id: str
    version: int = Field(ge=1, description="incremented by every transition; equals len(history)")
    status: Status
    kind: Kind | None = None
    grade: Grade
    staff_grade: Grade | None = None
    staff_id: str | None = Field(default=None, description="the rated staff member (R19 reports per staff)")
    case_no: str
    service_code: str | None = None
    service_name: str | None = None
    real_name: bool = Field(description="R13: a real-name rating needs a follow-up visit before closing")
    unit: HandlingUnit
    managing_department: ManagingDepartment
    dispatched_at: AwareDatetime
    deadlines: Deadlines
    reply: Reply | None = None
    contact: Contact | None = None
    resolution: Resolution | None = None
    not_adoption: NotAdoption | None = None
    extensions: tuple[Extension, ...] = ()
    appeal: Appeal | None = None
    follow_up: FollowUpVisit | None = None
    survey: Survey | None = None
    escalations: tuple[Escalation, ...] = ()
    closed_at: AwareDatetime | None = None
    history: tuple[WorkOrderEvent, ...]

    @model_validator(mode="after")
    def _consistent(self) -> WorkOrder:
        problems = self.problems()
        if problems:
            raise ValueError("inconsistent work order: " + "; ".join(problems))
        return self

    # ---- reading

    @property
    def rating_adopted(self) -> bool:
        """False once not adopted, by the unit (R14) or by an upheld appeal (R17): out of the results."""
        return self.not_adoption is None and not (self.appeal is not None and self.appeal.status == "upheld")

    @property
    def pending_extension(self) -> Extension | None:
        return next((e for e in self.extensions if e.status == "requested"), None)

    @property
    def approved_extensions(self) -> int:
        return sum(1 for e in self.extensions if e.status == "approved")

    @property
    def appeal_pending(self) -> bool:
        return self.appeal is not None and self.appeal.status == "filed"

    @property
    def handling_deadline(self) -> DeadlineKind | None:
        """The deadline an extension moves: the reply for a simple order, the resolution for a complex one.

        Contact (R12) is not rectification; 第十七条 extends "整改时限" only.
        """
        if self.status is Status.SIMPLE:
            return DeadlineKind.REPLY
        if self.status in (Status.COMPLEX, Status.CONTACTED):
            return DeadlineKind.RESOLVE
        return None

    def time_limit(self, kind: DeadlineKind) -> TimeLimit | None:
        if kind is DeadlineKind.APPEAL_REVIEW:
            return self.appeal.review_by if self.appeal is not None else None
        return getattr(self.deadlines, kind.value)  # type: ignore[no-any-return]

    def open_deadlines(self) -> dict[DeadlineKind, TimeLimit]:
        """The deadlines that still bind, for reminders and overdue checks.

        An order not yet classified is held to all three handling limits: the regulation gives no
        time for classifying, and the shortest limit (R11) is the one an unread order risks missing.
        """
        kinds: tuple[DeadlineKind, ...] = {
            Status.DISPATCHED: (DeadlineKind.REPLY, DeadlineKind.CONTACT, DeadlineKind.RESOLVE),
            Status.SIMPLE: (DeadlineKind.REPLY,),
            Status.COMPLEX: (DeadlineKind.CONTACT, DeadlineKind.RESOLVE),
            Status.CONTACTED: (DeadlineKind.RESOLVE,),
        }.get(self.status, ())
        open_ = {kind: getattr(self.deadlines, kind.value) for kind in kinds}
        if self.appeal is not None and self.appeal_pending:
            open_[DeadlineKind.APPEAL_REVIEW] = self.appeal.review_by
        return open_

    def escalation_target(self, kind: DeadlineKind) -> ManagingDepartment | None:
        """The unit's overdue deadlines go to its managing department; an overdue review one level up."""
        if kind is DeadlineKind.APPEAL_REVIEW:
            return self.managing_department.above()
        return self.managing_department

    def overdue_checks(self, now: datetime) -> list[OverdueCheck]:
        """Which binding deadlines have passed at `now`, and whether their escalation is still due."""
        checks = []
        for kind, due in self.open_deadlines().items():
            if now > due.at:
                escalated = next((e.at for e in self.escalations if e.deadline is kind and e.due_at == due.at), None)
                checks.append(OverdueCheck(kind, due, self.escalation_target(kind), escalated))
        return checks

    def _escalated(self, kind: DeadlineKind, due: TimeLimit) -> bool:
        return any(e.deadline is kind and e.due_at == due.at for e in self.escalations)

    def _reminded(self, kind: DeadlineKind, due: TimeLimit) -> bool:
        return any(isinstance(e, DeadlineReminded) and e.deadline is kind and e.due.at == due.at for e in self.history)

    @staticmethod
    def reminder_at(due: TimeLimit) -> datetime:
        """08:00 Beijing time on the day the deadline falls due."""
        return datetime.combine(due.at.astimezone(SHANGHAI).date(), REMINDER_TIME, tzinfo=SHANGHAI)

    def pending_reminders(self) -> dict[DeadlineKind, TimeLimit]:
        """The unit's binding deadlines not yet reminded of (nor escalated: a passed one is past reminding)."""
        return {
            kind: due
            for kind, due in self.open_deadlines().items()
            if kind is not DeadlineKind.APPEAL_REVIEW
            and not self._reminded(kind, due)
            and not self._escalated(kind, due)
        }

    def reminders_due(self, now: datetime) -> list[DeadlineKind]:
        """Deadlines falling due today whose morning reminder is owed at `now` (from 08:00 until the deadline)."""
        return [kind for kind, due in self.pending_reminders().items() if self.reminder_at(due) <= now <= due.at]

    @property
    def next_check_at(self) -> datetime | None:
        """The earliest moment the scheduler owes this order something: a deadline's morning reminder, or its
        escalation once passed. The due-time a store indexes."""
        pending = [
            due.at
            for kind, due in self.open_deadlines().items()
            if self.escalation_target(kind) is not None and not self._escalated(kind, due)
        ]
        pending += [self.reminder_at(due) for due in self.pending_reminders().values()]
        return min(pending, default=None)

    def owned_by(self, actor: Actor) -> bool:
        """A unit owns its agency's orders; a department the orders it manages (R18); the hub all."""
        if actor.role is Role.UNIT:
            return actor.agency_code == self.unit.agency_code
        if actor.role is Role.MANAGEMENT:
            return actor.region_code == self.managing_department.region_code
        return True

    def problems(self) -> list[str]:
        """Broken invariants (empty when the order is consistent); checked on every load."""
        out: list[str] = []
        if self.version != len(self.history):
            out.append(f"version {self.version} but {len(self.history)} events")
        if not self.history or not isinstance(self.history[0], WorkOrderDispatched):
            out.append("history does not start with WorkOrderDispatched")
        for i, event in enumerate(self.history):
            if event.version != i + 1 or event.order_id != self.id or event.rating_id != self.rating_id:
                out.append(f"event {i} ({event.type}) does not belong at this place of this order")
            if i and event.at < self.history[i - 1].at:
                out.append(f"event {i} ({event.type}) is earlier than the one before it")
        expected_kind = {
            Status.DISPATCHED: None,
            Status.SIMPLE: Kind.SIMPLE,
            Status.REPLIED: Kind.SIMPLE,
            Status.COMPLEX: Kind.COMPLEX,
            Status.CONTACTED: Kind.COMPLEX,
            Status.RESOLVED: Kind.COMPLEX,
        }
        if self.status in expected_kind and self.kind != expected_kind[self.status]:
            out.append(f"status {self.status} with kind {self.kind}")
        needs = {
            Status.REPLIED: self.reply,
            Status.CONTACTED: self.contact,
            Status.RESOLVED: self.resolution,
            Status.FOLLOW_UP_VISITED: self.follow_up,
            Status.SURVEYED: self.survey,
            Status.CLOSED: self.closed_at,
        }
        if self.status in needs and needs[self.status] is None:
            out.append(f"status {self.status} without its record")
        if self.status is Status.NOT_ADOPTED and self.rating_adopted:
            out.append("status not_adopted but the rating is adopted")
        if not self.rating_adopted and self.status not in (Status.NOT_ADOPTED, Status.CLOSED):
            out.append(f"the rating is not adopted but the order is {self.status}")
        if (self.closed_at is not None) != (self.status is Status.CLOSED):
            out.append("closed_at and status disagree")
        if self.resolution is not None and self.contact is None:
            out.append("resolved without contact (R12)")
        if sum(1 for e in self.extensions if e.status == "requested") > 1:
            out.append("more than one pending extension")
        if self.approved_extensions > MAX_APPROVED_EXTENSIONS:
            out.append(f"{self.approved_extensions} approved extensions (R15)")
        if self.survey is not None and self.real_name and self.follow_up is None:
            out.append("surveyed before the follow-up visit of a real-name rating (R13)")
        if self.status is Status.CLOSED:
            if self.pending_extension is not None or self.appeal_pending:
                out.append("closed with a pending extension or appeal")
            if self.real_name and self.follow_up is None:
                out.append("closed without the follow-up visit (R13)")
            if self.rating_adopted and self.survey is None:
                out.append("closed without the satisfaction survey (R16)")
        return out

    # ---- acting

    def handle(self, command: Command, *, by: Actor, at: datetime, calendar: WorkingDayCalendar) -> Transition:
        """The one way to change an order: checks role, ownership, status and the command's guards, in that
        order, so a stranger learns nothing of the order's state from a refusal."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"naive datetime {at.isoformat()} refused: give it a time zone")
        rule = TRANSITIONS[command.action]
        if by.role not in rule.roles:
            raise WorkOrderError(
                "ACTION_NOT_FOR_ROLE", f"{by.role} may not {command.action}", f"{by.role} 角色不能执行 {command.action}"
            )
        if not self.owned_by(by):
            raise WorkOrderError("NOT_YOUR_ORDER", f"{self.id} is {self._owner_text()}", self._owner_text_zh())
        if self.status is Status.CLOSED:
            raise WorkOrderError("ORDER_CLOSED")
        if at < self.history[-1].at:
            raise WorkOrderError("TIME_BEFORE_HISTORY", at.isoformat(), beijing_time(at))
        if self.status not in rule.sources:
            raise WorkOrderError(
                "WORK_ORDER_STATE", f"{command.action} while {self.status}",
                f"工单状态为 {self.status} 时不能执行 {command.action}",
            )  # fmt: skip
        step = _Step(self, by, at, calendar)
        event, changes = _HANDLERS[command.action](self, command, step)
        order = self.model_copy(update={**changes, "version": self.version + 1, "history": (*self.history, event)})
        return Transition(order, event)

    def _owner_text(self) -> str:
        return f"unit {self.unit.agency_code}, managed by {self.managing_department.region_code}"

    def _owner_text_zh(self) -> str:
        unit, region = self.unit.agency_code, self.managing_department.region_code
        return f"工单 {self.id} 的承办单位为 {unit}，管理部门辖区为 {region}"

    def _classify(self, cmd: Classify, step: _Step) -> _Outcome:
        status = Status.SIMPLE if cmd.kind is Kind.SIMPLE else Status.COMPLEX
        return step.event(OrderClassified, kind=cmd.kind), {"kind": cmd.kind, "status": status}

    def _send_reply(self, cmd: SendReply, step: _Step) -> _Outcome:
        on_time = step.at <= self.deadlines.reply.at
        reply = Reply(at=step.at, summary=cmd.summary, on_time=on_time)
        return step.event(ReplySent, summary=cmd.summary, on_time=on_time), {"reply": reply, "status": Status.REPLIED}

    def _record_contact(self, cmd: RecordContact, step: _Step) -> _Outcome:
        on_time = step.at <= self.deadlines.contact.at
        contact = Contact(at=step.at, note=cmd.note, on_time=on_time)
        event = step.event(RaterContacted, note=cmd.note, on_time=on_time)
        return event, {"contact": contact, "status": Status.CONTACTED}

    def _resolve(self, cmd: Resolve, step: _Step) -> _Outcome:
        on_time = step.at <= self.deadlines.resolve.at
        resolution = Resolution(at=step.at, rectification=cmd.rectification, on_time=on_time)
        event = step.event(OrderResolved, rectification=cmd.rectification, on_time=on_time)
        return event, {"resolution": resolution, "status": Status.RESOLVED}

    def _mark_not_adopted(self, cmd: MarkNotAdopted, step: _Step) -> _Outcome:
        if self.appeal_pending:  # the managing department is deciding the same question
            raise WorkOrderError("APPEAL_PENDING")
        if self.appeal is not None and self.appeal.status == "rejected":  # and has decided it
            raise WorkOrderError("APPEAL_REJECTED")
        finding = NotAdoption(at=step.at, grounds=cmd.grounds, verification=cmd.verification)
        event = step.event(RatingNotAdopted, grounds=cmd.grounds, verification=cmd.verification)
        return event, {"not_adoption": finding, "status": Status.NOT_ADOPTED}

    def _request_extension(self, cmd: RequestExtension, step: _Step) -> _Outcome:
        kind = self.handling_deadline
        assert kind is not None  # every source status of request_extension has one
        current = getattr(self.deadlines, kind.value)
        if self.pending_extension is not None:
            raise WorkOrderError("EXTENSION_PENDING")
        if self.approved_extensions >= MAX_APPROVED_EXTENSIONS:
            raise WorkOrderError("EXTENSION_LIMIT", str(self.approved_extensions))
        if step.at > current.at:
            raise WorkOrderError("EXTENSION_AFTER_DEADLINE", current.at.isoformat(), beijing_time(current.at))
        if cmd.until <= current.date:
            raise WorkOrderError(
                "EXTENSION_TIME_LIMIT_INVALID", f"{cmd.until} is not after {current.date}",
                f"{cmd.until} 不晚于 {current.date}",
            )  # fmt: skip
        extension = Extension(
            deadline=kind,
            requested_at=step.at,
            reason=cmd.reason,
            until=cmd.until,
            document_ref=cmd.document_ref,
            previous=current,
        )
        event = step.event(ExtensionRequested, deadline=kind, current=current, until=cmd.until, reason=cmd.reason)
        return event, {"extensions": (*self.extensions, extension)}

    def _decide_extension(self, approved: bool, note: str | None, step: _Step) -> tuple[Extension, dict[str, Any]]:
        pending = self.pending_extension
        if pending is None:
            raise WorkOrderError("NO_PENDING_EXTENSION")
        decided = pending.model_copy(
            update={"status": "approved" if approved else "refused", "decided_at": step.at, "decision_note": note}
        )
        extensions = tuple(decided if e is pending else e for e in self.extensions)
        return decided, {"extensions": extensions}

    def _approve_extension(self, cmd: ApproveExtension, step: _Step) -> _Outcome:
        decided, changes = self._decide_extension(True, cmd.note, step)
        new = TimeLimit.extended_to(decided.until)
        changes["deadlines"] = self.deadlines.model_copy(update={decided.deadline.value: new})
        event = step.event(ExtensionApproved, deadline=decided.deadline, new_time_limit=new, note=cmd.note)
        return event, changes

    def _refuse_extension(self, cmd: RefuseExtension, step: _Step) -> _Outcome:
        _, changes = self._decide_extension(False, cmd.reason, step)
        return step.event(ExtensionRefused, reason=cmd.reason), changes

    def _file_appeal(self, cmd: FileAppeal, step: _Step) -> _Outcome:
        if self.appeal is not None:
            raise WorkOrderError("APPEAL_ALREADY_FILED")
        if step.at > self.deadlines.appeal.at:
            raise WorkOrderError(
                "APPEAL_WINDOW_CLOSED", self.deadlines.appeal.at.isoformat(), beijing_time(self.deadlines.appeal.at)
            )
        review_by = TimeLimit.counted(step.calendar, step.at, APPEAL_REVIEW_WORKING_DAYS)
        appeal = Appeal(
            filed_at=step.at, grounds=cmd.grounds, reason=cmd.reason, document_ref=cmd.document_ref, review_by=review_by
        )
        event = step.event(AppealFiled, grounds=cmd.grounds, reason=cmd.reason, review_by=review_by)
        return event, {"appeal": appeal}

    def _decided_appeal(self, upheld: bool, finding: str, step: _Step) -> Appeal:
        if self.appeal is None or not self.appeal_pending:
            raise WorkOrderError("NO_PENDING_APPEAL")
        status = "upheld" if upheld else "rejected"
        return self.appeal.model_copy(update={"status": status, "decided_at": step.at, "finding": finding})

    def _uphold_appeal(self, cmd: UpholdAppeal, step: _Step) -> _Outcome:
        appeal = self._decided_appeal(True, cmd.finding, step)
        return step.event(AppealUpheld, finding=cmd.finding), {"appeal": appeal, "status": Status.NOT_ADOPTED}

    def _reject_appeal(self, cmd: RejectAppeal, step: _Step) -> _Outcome:
        appeal = self._decided_appeal(False, cmd.reason, step)
        return step.event(AppealRejected, reason=cmd.reason), {"appeal": appeal}

    def _record_follow_up_visit(self, cmd: RecordFollowUpVisit, step: _Step) -> _Outcome:
        if self.follow_up is not None:
            raise WorkOrderError("WORK_ORDER_STATE", "the follow-up visit is recorded already", "回访已记录")
        visit = FollowUpVisit(at=step.at, visitor_name=cmd.visitor_name, method=cmd.method, note=cmd.note)
        status = Status.NOT_ADOPTED if self.status is Status.NOT_ADOPTED else Status.FOLLOW_UP_VISITED
        return step.event(FollowUpVisited, method=cmd.method), {"follow_up": visit, "status": status}

    def _survey_satisfaction(self, cmd: SurveySatisfaction, step: _Step) -> _Outcome:
        if self.real_name and self.follow_up is None:
            raise WorkOrderError("FOLLOW_UP_REQUIRED")
        survey = Survey(at=step.at, method=cmd.method, satisfaction=cmd.satisfaction, note=cmd.note)
        event = step.event(SatisfactionSurveyed, method=cmd.method, satisfaction=cmd.satisfaction)
        return event, {"survey": survey, "status": Status.SURVEYED}

    def _close(self, cmd: Close, step: _Step) -> _Outcome:
        if self.appeal_pending:
            raise WorkOrderError("APPEAL_PENDING")
        if self.pending_extension is not None:
            raise WorkOrderError("EXTENSION_PENDING")
        if self.real_name and self.follow_up is None:
            raise WorkOrderError("FOLLOW_UP_REQUIRED")
        if self.rating_adopted and self.survey is None:
            raise WorkOrderError("SURVEY_REQUIRED")
        event = step.event(OrderClosed, rating_adopted=self.rating_adopted)
        return event, {"closed_at": step.at, "status": Status.CLOSED}

    def _escalate(self, cmd: Escalate, step: _Step) -> _Outcome:
        check = next((c for c in self.overdue_checks(step.at) if c.deadline is cmd.deadline), None)
        if check is None:
            raise WorkOrderError("ESCALATION_NOT_DUE", f"{cmd.deadline} is not overdue", f"{cmd.deadline} 期限尚未逾期")
        if check.escalate_to is None:
            raise WorkOrderError(
                "ESCALATION_NOT_DUE", "there is no level above the province", "省级之上没有可升级的层级"
            )
        if check.escalated_at is not None:
            raise WorkOrderError(
                "ESCALATION_NOT_DUE", f"{cmd.deadline} was escalated at {check.escalated_at}",
                f"{cmd.deadline} 期限已于 {_when_zh(check.escalated_at)} 升级督办",
            )  # fmt: skip
        escalation = Escalation(at=step.at, deadline=cmd.deadline, due_at=check.due.at, to=check.escalate_to)
        event = step.event(DeadlineEscalated, deadline=cmd.deadline, due=check.due, to=check.escalate_to)
        return event, {"escalations": (*self.escalations, escalation)}

    def _remind_deadline(self, cmd: RemindDeadline, step: _Step) -> _Outcome:
        if cmd.deadline not in self.reminders_due(step.at):
            raise WorkOrderError(
                "REMINDER_NOT_DUE", f"{cmd.deadline} at {step.at.isoformat()}",
                f"{cmd.deadline} 期限，{beijing_time(step.at)}",
            )  # fmt: skip
        due = self.open_deadlines()[cmd.deadline]
        return step.event(DeadlineReminded, deadline=cmd.deadline, due=due), {}

    def _recompute_deadlines(self, cmd: RecomputeDeadlines, step: _Step) -> _Outcome:
        """A year's notice was loaded: provisional limits counted in working days are counted again."""
        changes: list[DeadlineChange] = []
        fields: dict[str, TimeLimit] = {}
        for kind in (DeadlineKind.REPLY, DeadlineKind.CONTACT, DeadlineKind.RESOLVE, DeadlineKind.APPEAL):
            before = getattr(self.deadlines, kind.value)
            after = before.recomputed(step.calendar)
            if after != before:
                fields[kind.value] = after
                changes.append(DeadlineChange(deadline=kind, before=before, after=after))
        update: dict[str, Any] = {"deadlines": self.deadlines.model_copy(update=fields)}
        if self.appeal is not None:
            after = self.appeal.review_by.recomputed(step.calendar)
            if after != self.appeal.review_by:
                changes.append(DeadlineChange(deadline=DeadlineKind.APPEAL_REVIEW, before=self.appeal.review_by,
                                              after=after))  # fmt: skip
                update["appeal"] = self.appeal.model_copy(update={"review_by": after})
        if not changes:
            raise WorkOrderError("DEADLINES_CURRENT")
        return step.event(DeadlinesRecomputed, changes=tuple(changes)), update


_Outcome = tuple[Event, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Step:
    order: WorkOrder
    actor: Actor
    at: datetime
    calendar: WorkingDayCalendar

    def event(self, cls: type[Event], **fields: Any) -> Any:
        return cls(
            order_id=self.order.id,
            rating_id=self.order.rating_id,
            version=self.order.version + 1,
            at=self.at,
            actor=self.actor.ref,
            **fields,
        )


_HANDLERS: dict[str, Callable[[WorkOrder, Any, _Step], _Outcome]] = {
    action: getattr(WorkOrder, f"_{action}") for action in TRANSITIONS
}


# --------------------------------------------------------------------------------------------------
# Creation


def open_work_order(rating: Rating, now: datetime, calendar: WorkingDayCalendar) -> WorkOrder:
    """R10: a bad rating, item or staff, opens one order dispatched to the rated agency at `now`."""
    if not rating.is_bad:
        raise WorkOrderError("NOT_A_BAD_RATING")
    target = rating.target
    assert target.level is not None  # derived from the region code by the rating model (R3)
    unit = HandlingUnit(
        agency_code=target.agency_code,
        agency_name=target.agency_name,
        region_code=target.region_code,
        level=target.level,
    )
    managing = managing_department_for(target.region_code)
    deadlines = Deadlines(
        reply=TimeLimit.counted(calendar, now, REPLY_WORKING_DAYS),
        contact=TimeLimit.counted(calendar, now, CONTACT_WORKING_DAYS),
        resolve=TimeLimit.counted(calendar, now, RESOLVE_WORKING_DAYS),
        appeal=TimeLimit.counted(calendar, now, APPEAL_WORKING_DAYS),
    )
    order_id = work_order_id_for(rating.rating_id)
    dispatched = WorkOrderDispatched(
        order_id=order_id,
        rating_id=rating.rating_id,
        version=1,
        at=now,
        actor=SYSTEM.ref,
        unit=unit,
        managing_department=managing,
        real_name=rating.rater.real_name,
        deadlines=deadlines,
    )
    return WorkOrder(
        id=order_id,
        rating_id=rating.rating_id,
        version=1,
        status=Status.DISPATCHED,
        grade=rating.grade,
        staff_grade=rating.staff_grade,
        staff_id=target.staff.staff_id if target.staff is not None else None,
        case_no=rating.case.case_no,
        service_code=rating.case.service_code,
        service_name=rating.case.service_name,
        real_name=rating.rater.real_name,
        unit=unit,
        managing_department=managing,
        dispatched_at=now,
        deadlines=deadlines,
        history=(dispatched,),
    )


# --------------------------------------------------------------------------------------------------
# The store port


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """An event the pipeline still owes someone: the province (`forward_to_province`) or an SNS
    audience (`notify`). Written in the same atomic write as the order version that produced it, so
    no outcome is lost between saving an order and telling the province (the transactional outbox)."""

    order_id: str
    version: int
    event: WorkOrderEvent

    @property
    def key(self) -> str:
        return f"{self.order_id}#{self.version}"


def owed(event: Event) -> bool:
    """Whether an event goes into the outbox."""
    return event.forward_to_province is not None or bool(event.notify)


class WorkOrderStore(ABC):
    """Work orders by id, with optimistic locking: a save names the version it read.

    Every `put_new` and `save` also records, in the same atomic write, an `OutboxEntry` for each new
    event that is `owed` (see `outbox`). The store indexes `order.next_check_at`, so the scheduler
    reads only the orders whose check is due (`due`).
    """

    @abstractmethod
    def get(self, order_id: str) -> WorkOrder | None: ...

    @abstractmethod
    def put_new(self, order: WorkOrder) -> bool:
        """Store a freshly opened order; False (and nothing written) if its id exists — the re-delivered
        rating's case (R10: exactly one order per rating)."""

    @abstractmethod
    def save(self, order: WorkOrder, expected_version: int) -> None:
        """Replace the stored order if its version is still `expected_version`; else `VersionConflict`."""

    @abstractmethod
    def due(self, now: datetime, limit: int = 100) -> list[WorkOrder]:
        """Orders whose `next_check_at` is at or before `now`, earliest first, at most `limit`."""

    @abstractmethod
    def outbox(self, limit: int = 100) -> list[OutboxEntry]:
        """Entries not yet marked done, oldest first."""

    @abstractmethod
    def outbox_done(self, entry: OutboxEntry) -> None:
        """The entry was delivered; it is not returned by `outbox` again."""

    @abstractmethod
    def owes(self, entry: OutboxEntry) -> bool:
        """Whether the entry is still owed (a strongly consistent read): a second copy of a queued outcome,
        from a relay and a sweep, finds it done and does nothing."""

    def apply(
        self, order_id: str, command: Command, *, by: Actor, at: datetime, calendar: WorkingDayCalendar
    ) -> Transition:
        """Load, act, save: one command, never a lost update. Raises LookupError for an unknown id."""
        order = self.get(order_id)
        if order is None:
            raise LookupError(order_id)
        transition = order.handle(command, by=by, at=at, calendar=calendar)
        self.save(transition.order, expected_version=order.version)
        return transition


class InMemoryWorkOrderStore(WorkOrderStore):
    """The fake the domain tests use; orders are immutable, so storing the object is storing a copy."""

    def __init__(self) -> None:
        self._orders: dict[str, WorkOrder] = {}
        self._outbox: dict[str, OutboxEntry] = {}
        self._lock = threading.Lock()

    def get(self, order_id: str) -> WorkOrder | None:
        return self._orders.get(order_id)

    def _owe(self, order: WorkOrder, after_version: int) -> None:
        for event in order.history[after_version:]:
            if owed(event):
                entry = OutboxEntry(order.id, event.version, event)
                self._outbox[entry.key] = entry

    def put_new(self, order: WorkOrder) -> bool:
        with self._lock:
            if order.id in self._orders:
                return False
            self._orders[order.id] = order
            self._owe(order, 0)
            return True

    def save(self, order: WorkOrder, expected_version: int) -> None:
        with self._lock:
            current = self._orders.get(order.id)
            if current is None or current.version != expected_version:
                raise VersionConflict(order.id, expected_version, current.version if current else None)
            self._orders[order.id] = order
            self._owe(order, expected_version)

    def due(self, now: datetime, limit: int = 100) -> list[WorkOrder]:
        found = [(o.next_check_at, o.id) for o in list(self._orders.values()) if o.next_check_at is not None]
        return [self._orders[i] for at, i in sorted(found) if at is not None and at <= now][:limit]

    def outbox(self, limit: int = 100) -> list[OutboxEntry]:
        entries = sorted(self._outbox.values(), key=lambda e: (e.event.at, e.order_id, e.version))
        return entries[:limit]

    def outbox_done(self, entry: OutboxEntry) -> None:
        with self._lock:
            self._outbox.pop(entry.key, None)

    def owes(self, entry: OutboxEntry) -> bool:
        return entry.key in self._outbox


WORK_ORDER_SCHEMAS: dict[str, type[BaseModel]] = {"work-order.json": WorkOrder}

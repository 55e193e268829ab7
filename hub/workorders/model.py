"""The work order (R10-R18): immutable, changed only through `handle`, its whole story in its history.

Every command either raises a `WorkOrderError` and leaves the order as it was, or returns a `Transition`:
the next order (version + 1) and the one event appended to its history, so `version == len(history)`.

Extensions and appeals run beside the handling status rather than inside it: the regulation keeps
the unit working while an extension is decided (第十七条 "由承办单位继续办理") and suspends no time
limit for an appeal, so neither may block a reply or a resolution.

Time and the calendar are arguments; nothing here reads the clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from pydantic import BaseModel, Field, model_validator

from hub.calendar import SHANGHAI, WorkingDayCalendar
from hub.errors import beijing_time
from hub.rating import Grade
from hub.types import AwareDatetime
from hub.workorders.actions import HANDLERS, Step
from hub.workorders.commands import Command
from hub.workorders.deadlines import (
    MAX_APPROVED_EXTENSIONS,
    REMINDER_TIME,
    DeadlineKind,
    Deadlines,
    OverdueCheck,
    TimeLimit,
)
from hub.workorders.events import DeadlineReminded, Event, WorkOrderDispatched, WorkOrderEvent
from hub.workorders.parties import Actor, HandlingUnit, ManagingDepartment, Role
from hub.workorders.records import (
    Appeal,
    Contact,
    Escalation,
    Extension,
    FollowUpVisit,
    Kind,
    NotAdoption,
    Reply,
    Resolution,
    Status,
    Survey,
)
from hub.workorders.refusals import WorkOrderError
from hub.workorders.transitions import TRANSITIONS
from hub.workorders.values import Frozen

__all__ = ["WORK_ORDER_SCHEMAS", "Transition", "WorkOrder"]


class WorkOrder(Frozen):
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
        step = Step(self, by, at, calendar)
        event, changes = HANDLERS[command.action](self, command, step)
        order = self.model_copy(update={**changes, "version": self.version + 1, "history": (*self.history, event)})
        return Transition(order, event)

    def _owner_text(self) -> str:
        return f"unit {self.unit.agency_code}, managed by {self.managing_department.region_code}"

    def _owner_text_zh(self) -> str:
        unit, region = self.unit.agency_code, self.managing_department.region_code
        return f"工单 {self.id} 的承办单位为 {unit}，管理部门辖区为 {region}"


class Transition(NamedTuple):
    order: WorkOrder
    event: Event


WORK_ORDER_SCHEMAS: dict[str, type[BaseModel]] = {"work-order.json": WorkOrder}

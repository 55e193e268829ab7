"""What each command does to an order once the table allowed it: its guards, what it records, the event.

Each returns the event and the order's changed fields; `WorkOrder.handle` applies them as the next version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hub.calendar import WorkingDayCalendar
from hub.errors import beijing_time
from hub.workorders.commands import (
    ApproveExtension,
    Classify,
    Close,
    Escalate,
    FileAppeal,
    MarkNotAdopted,
    RecomputeDeadlines,
    RecordContact,
    RecordFollowUpVisit,
    RefuseExtension,
    RejectAppeal,
    RemindDeadline,
    RequestExtension,
    Resolve,
    SendReply,
    SurveySatisfaction,
    UpholdAppeal,
)
from hub.workorders.deadlines import APPEAL_REVIEW_WORKING_DAYS, MAX_APPROVED_EXTENSIONS, DeadlineKind, TimeLimit
from hub.workorders.events import (
    AppealFiled,
    AppealRejected,
    AppealUpheld,
    DeadlineChange,
    DeadlineEscalated,
    DeadlineReminded,
    DeadlinesRecomputed,
    Event,
    ExtensionApproved,
    ExtensionRefused,
    ExtensionRequested,
    FollowUpVisited,
    OrderClassified,
    OrderClosed,
    OrderResolved,
    RaterContacted,
    RatingNotAdopted,
    ReplySent,
    SatisfactionSurveyed,
)
from hub.workorders.parties import Actor
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

if TYPE_CHECKING:
    from collections.abc import Callable

    from hub.workorders.model import WorkOrder

__all__ = ["HANDLERS", "Outcome", "Step"]

Outcome = tuple[Event, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Step:
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


def _when_zh(at: Any) -> str:
    return beijing_time(at) if isinstance(at, datetime) else str(at)


def _classify(order: WorkOrder, cmd: Classify, step: Step) -> Outcome:
    status = Status.SIMPLE if cmd.kind is Kind.SIMPLE else Status.COMPLEX
    return step.event(OrderClassified, kind=cmd.kind), {"kind": cmd.kind, "status": status}


def _send_reply(order: WorkOrder, cmd: SendReply, step: Step) -> Outcome:
    on_time = step.at <= order.deadlines.reply.at
    reply = Reply(at=step.at, summary=cmd.summary, on_time=on_time)
    return step.event(ReplySent, summary=cmd.summary, on_time=on_time), {"reply": reply, "status": Status.REPLIED}


def _record_contact(order: WorkOrder, cmd: RecordContact, step: Step) -> Outcome:
    on_time = step.at <= order.deadlines.contact.at
    contact = Contact(at=step.at, note=cmd.note, on_time=on_time)
    event = step.event(RaterContacted, note=cmd.note, on_time=on_time)
    return event, {"contact": contact, "status": Status.CONTACTED}


def _resolve(order: WorkOrder, cmd: Resolve, step: Step) -> Outcome:
    on_time = step.at <= order.deadlines.resolve.at
    resolution = Resolution(at=step.at, rectification=cmd.rectification, on_time=on_time)
    event = step.event(OrderResolved, rectification=cmd.rectification, on_time=on_time)
    return event, {"resolution": resolution, "status": Status.RESOLVED}


def _mark_not_adopted(order: WorkOrder, cmd: MarkNotAdopted, step: Step) -> Outcome:
    if order.appeal_pending:  # the managing department is deciding the same question
        raise WorkOrderError("APPEAL_PENDING")
    if order.appeal is not None and order.appeal.status == "rejected":  # and has decided it
        raise WorkOrderError("APPEAL_REJECTED")
    finding = NotAdoption(at=step.at, grounds=cmd.grounds, verification=cmd.verification)
    event = step.event(RatingNotAdopted, grounds=cmd.grounds, verification=cmd.verification)
    return event, {"not_adoption": finding, "status": Status.NOT_ADOPTED}


def _request_extension(order: WorkOrder, cmd: RequestExtension, step: Step) -> Outcome:
    kind = order.handling_deadline
    assert kind is not None  # every source status of request_extension has one
    current = getattr(order.deadlines, kind.value)
    if order.pending_extension is not None:
        raise WorkOrderError("EXTENSION_PENDING")
    if order.approved_extensions >= MAX_APPROVED_EXTENSIONS:
        raise WorkOrderError("EXTENSION_LIMIT", str(order.approved_extensions))
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
    return event, {"extensions": (*order.extensions, extension)}


def _decide_extension(
    order: WorkOrder, approved: bool, note: str | None, step: Step
) -> tuple[Extension, dict[str, Any]]:
    pending = order.pending_extension
    if pending is None:
        raise WorkOrderError("NO_PENDING_EXTENSION")
    decided = pending.model_copy(
        update={"status": "approved" if approved else "refused", "decided_at": step.at, "decision_note": note}
    )
    extensions = tuple(decided if e is pending else e for e in order.extensions)
    return decided, {"extensions": extensions}


def _approve_extension(order: WorkOrder, cmd: ApproveExtension, step: Step) -> Outcome:
    decided, changes = _decide_extension(order, True, cmd.note, step)
    new = TimeLimit.extended_to(decided.until)
    changes["deadlines"] = order.deadlines.model_copy(update={decided.deadline.value: new})
    event = step.event(ExtensionApproved, deadline=decided.deadline, new_time_limit=new, note=cmd.note)
    return event, changes


def _refuse_extension(order: WorkOrder, cmd: RefuseExtension, step: Step) -> Outcome:
    _, changes = _decide_extension(order, False, cmd.reason, step)
    return step.event(ExtensionRefused, reason=cmd.reason), changes


def _file_appeal(order: WorkOrder, cmd: FileAppeal, step: Step) -> Outcome:
    if order.appeal is not None:
        raise WorkOrderError("APPEAL_ALREADY_FILED")
    if step.at > order.deadlines.appeal.at:
        raise WorkOrderError(
            "APPEAL_WINDOW_CLOSED", order.deadlines.appeal.at.isoformat(), beijing_time(order.deadlines.appeal.at)
        )
    review_by = TimeLimit.counted(step.calendar, step.at, APPEAL_REVIEW_WORKING_DAYS)
    appeal = Appeal(
        filed_at=step.at, grounds=cmd.grounds, reason=cmd.reason, document_ref=cmd.document_ref, review_by=review_by
    )
    event = step.event(AppealFiled, grounds=cmd.grounds, reason=cmd.reason, review_by=review_by)
    return event, {"appeal": appeal}


def _decided_appeal(order: WorkOrder, upheld: bool, finding: str, step: Step) -> Appeal:
    if order.appeal is None or not order.appeal_pending:
        raise WorkOrderError("NO_PENDING_APPEAL")
    status = "upheld" if upheld else "rejected"
    return order.appeal.model_copy(update={"status": status, "decided_at": step.at, "finding": finding})


def _uphold_appeal(order: WorkOrder, cmd: UpholdAppeal, step: Step) -> Outcome:
    appeal = _decided_appeal(order, True, cmd.finding, step)
    return step.event(AppealUpheld, finding=cmd.finding), {"appeal": appeal, "status": Status.NOT_ADOPTED}


def _reject_appeal(order: WorkOrder, cmd: RejectAppeal, step: Step) -> Outcome:
    appeal = _decided_appeal(order, False, cmd.reason, step)
    return step.event(AppealRejected, reason=cmd.reason), {"appeal": appeal}


def _record_follow_up_visit(order: WorkOrder, cmd: RecordFollowUpVisit, step: Step) -> Outcome:
    if order.follow_up is not None:
        raise WorkOrderError("WORK_ORDER_STATE", "the follow-up visit is recorded already", "回访已记录")
    visit = FollowUpVisit(at=step.at, visitor_name=cmd.visitor_name, method=cmd.method, note=cmd.note)
    status = Status.NOT_ADOPTED if order.status is Status.NOT_ADOPTED else Status.FOLLOW_UP_VISITED
    return step.event(FollowUpVisited, method=cmd.method), {"follow_up": visit, "status": status}


def _survey_satisfaction(order: WorkOrder, cmd: SurveySatisfaction, step: Step) -> Outcome:
    if order.real_name and order.follow_up is None:
        raise WorkOrderError("FOLLOW_UP_REQUIRED")
    survey = Survey(at=step.at, method=cmd.method, satisfaction=cmd.satisfaction, note=cmd.note)
    event = step.event(SatisfactionSurveyed, method=cmd.method, satisfaction=cmd.satisfaction)
    return event, {"survey": survey, "status": Status.SURVEYED}


def _close(order: WorkOrder, cmd: Close, step: Step) -> Outcome:
    if order.appeal_pending:
        raise WorkOrderError("APPEAL_PENDING")
    if order.pending_extension is not None:
        raise WorkOrderError("EXTENSION_PENDING")
    if order.real_name and order.follow_up is None:
        raise WorkOrderError("FOLLOW_UP_REQUIRED")
    if order.rating_adopted and order.survey is None:
        raise WorkOrderError("SURVEY_REQUIRED")
    event = step.event(OrderClosed, rating_adopted=order.rating_adopted)
    return event, {"closed_at": step.at, "status": Status.CLOSED}


def _escalate(order: WorkOrder, cmd: Escalate, step: Step) -> Outcome:
    check = next((c for c in order.overdue_checks(step.at) if c.deadline is cmd.deadline), None)
    if check is None:
        raise WorkOrderError("ESCALATION_NOT_DUE", f"{cmd.deadline} is not overdue", f"{cmd.deadline} 期限尚未逾期")
    if check.escalate_to is None:
        raise WorkOrderError("ESCALATION_NOT_DUE", "there is no level above the province", "省级之上没有可升级的层级")
    if check.escalated_at is not None:
        raise WorkOrderError(
            "ESCALATION_NOT_DUE", f"{cmd.deadline} was escalated at {check.escalated_at}",
            f"{cmd.deadline} 期限已于 {_when_zh(check.escalated_at)} 升级督办",
        )  # fmt: skip
    escalation = Escalation(at=step.at, deadline=cmd.deadline, due_at=check.due.at, to=check.escalate_to)
    event = step.event(DeadlineEscalated, deadline=cmd.deadline, due=check.due, to=check.escalate_to)
    return event, {"escalations": (*order.escalations, escalation)}


def _remind_deadline(order: WorkOrder, cmd: RemindDeadline, step: Step) -> Outcome:
    if cmd.deadline not in order.reminders_due(step.at):
        raise WorkOrderError(
            "REMINDER_NOT_DUE", f"{cmd.deadline} at {step.at.isoformat()}",
            f"{cmd.deadline} 期限，{beijing_time(step.at)}",
        )  # fmt: skip
    due = order.open_deadlines()[cmd.deadline]
    return step.event(DeadlineReminded, deadline=cmd.deadline, due=due), {}


def _recompute_deadlines(order: WorkOrder, cmd: RecomputeDeadlines, step: Step) -> Outcome:
    """A year's notice was loaded: provisional limits counted in working days are counted again."""
    changes: list[DeadlineChange] = []
    fields: dict[str, TimeLimit] = {}
    for kind in (DeadlineKind.REPLY, DeadlineKind.CONTACT, DeadlineKind.RESOLVE, DeadlineKind.APPEAL):
        before = getattr(order.deadlines, kind.value)
        after = before.recomputed(step.calendar)
        if after != before:
            fields[kind.value] = after
            changes.append(DeadlineChange(deadline=kind, before=before, after=after))
    update: dict[str, Any] = {"deadlines": order.deadlines.model_copy(update=fields)}
    if order.appeal is not None:
        after = order.appeal.review_by.recomputed(step.calendar)
        if after != order.appeal.review_by:
            changes.append(DeadlineChange(deadline=DeadlineKind.APPEAL_REVIEW, before=order.appeal.review_by,
                                          after=after))  # fmt: skip
            update["appeal"] = order.appeal.model_copy(update={"review_by": after})
    if not changes:
        raise WorkOrderError("DEADLINES_CURRENT")
    return step.event(DeadlinesRecomputed, changes=tuple(changes)), update


HANDLERS: dict[str, Callable[[WorkOrder, Any, Step], Outcome]] = {
    action: globals()[f"_{action}"] for action in TRANSITIONS
}

"""What a party asks of an order, in the imperative; `COMMAND_ADAPTER` reads one from the API or the CLI."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from hub.rating import Grade
from hub.workorders.deadlines import DeadlineKind
from hub.workorders.records import ContactMethod, Grounds, Kind
from hub.workorders.values import Frozen, Name, Text

__all__ = [
    "COMMAND_ADAPTER",
    "ApproveExtension",
    "Classify",
    "Close",
    "Command",
    "Escalate",
    "FileAppeal",
    "MarkNotAdopted",
    "RecomputeDeadlines",
    "RecordContact",
    "RecordFollowUpVisit",
    "RefuseExtension",
    "RejectAppeal",
    "RemindDeadline",
    "RequestExtension",
    "Resolve",
    "SendReply",
    "SurveySatisfaction",
    "UpholdAppeal",
]


class Classify(Frozen):
    action: Literal["classify"] = "classify"
    kind: Kind


class SendReply(Frozen):
    """R11: the handling opinion sent to the rater (处理意见)."""

    action: Literal["send_reply"] = "send_reply"
    summary: Text


class RecordContact(Frozen):
    action: Literal["record_contact"] = "record_contact"
    note: Text


class Resolve(Frozen):
    action: Literal["resolve"] = "resolve"
    rectification: Text


class MarkNotAdopted(Frozen):
    action: Literal["mark_not_adopted"] = "mark_not_adopted"
    grounds: Grounds
    verification: Text


class RequestExtension(Frozen):
    """R15: in writing — the reason and the new time limit (整改时限); `document_ref` names the letter."""

    action: Literal["request_extension"] = "request_extension"
    reason: Text
    until: date
    document_ref: Name | None = None


class ApproveExtension(Frozen):
    action: Literal["approve_extension"] = "approve_extension"
    note: Text | None = None


class RefuseExtension(Frozen):
    action: Literal["refuse_extension"] = "refuse_extension"
    reason: Text


class FileAppeal(Frozen):
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


class UpholdAppeal(Frozen):
    action: Literal["uphold_appeal"] = "uphold_appeal"
    finding: Text


class RejectAppeal(Frozen):
    action: Literal["reject_appeal"] = "reject_appeal"
    reason: Text


class RecordFollowUpVisit(Frozen):
    action: Literal["record_follow_up_visit"] = "record_follow_up_visit"
    visitor_name: Name
    method: ContactMethod
    note: Text


class SurveySatisfaction(Frozen):
    action: Literal["survey_satisfaction"] = "survey_satisfaction"
    method: ContactMethod
    satisfaction: Grade | None
    note: Text | None = None


class Close(Frozen):
    action: Literal["close"] = "close"


class Escalate(Frozen):
    action: Literal["escalate"] = "escalate"
    deadline: DeadlineKind


class RecomputeDeadlines(Frozen):
    action: Literal["recompute_deadlines"] = "recompute_deadlines"


class RemindDeadline(Frozen):
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

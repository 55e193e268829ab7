"""The state machine, as a table: for each command, who may send it, from which statuses, to which (R11-R17)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

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
from hub.workorders.events import (
    AppealFiled,
    AppealRejected,
    AppealUpheld,
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
from hub.workorders.parties import Role
from hub.workorders.records import Status

__all__ = ["HANDLING", "OPEN", "TRANSITIONS", "TransitionRule"]


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

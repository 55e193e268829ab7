"""Bad-rating work orders: creation (R10), deadlines (R11, R12), visits and surveys (R13, R16), not adopted
(R14), extensions (R15), appeals (R17), routing (R18), ownership, optimistic locking, the published schema."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any, get_args

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from hub.calendar import SHANGHAI, WorkingDayCalendar, parse_notice
from hub.codes import Level
from hub.rating import Grade, Rating
from hub.workorders import (
    COMMAND_ADAPTER,
    REFUSALS,
    SYSTEM,
    TRANSITIONS,
    WORK_ORDER_SCHEMAS,
    Actor,
    ApproveExtension,
    Audience,
    Classify,
    Close,
    Command,
    DeadlineKind,
    Escalate,
    FileAppeal,
    Kind,
    ManagingDepartment,
    MarkNotAdopted,
    RecomputeDeadlines,
    RecordContact,
    RecordFollowUpVisit,
    RefuseExtension,
    RejectAppeal,
    RequestExtension,
    Resolve,
    Role,
    SendReply,
    Status,
    SurveySatisfaction,
    Transition,
    UpholdAppeal,
    VersionConflict,
    WorkOrder,
    WorkOrderError,
    WorkOrderEvent,
    managing_department_for,
    open_work_order,
    work_order_id_for,
)
from infra.memory import InMemoryWorkOrderStore
from tests.conftest import ROOT

CALENDAR = WorkingDayCalendar()
COUNTY = "360704000000"  # 赣县区
TOWNSHIP = "360704101000"
VILLAGE = "360704101001"
COUNTY_AGENCY = "11360704MB1C000102"
TOWNSHIP_AGENCY = "11360704MB1C000203"
OTHER_AGENCY = "11360704MB1C000405"
DISPATCHED = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)  # the Wednesday before the National Day holiday

UNIT = Actor(role=Role.UNIT, id="u-zhang", agency_code=COUNTY_AGENCY)
OTHER_UNIT = Actor(role=Role.UNIT, id="u-li", agency_code=OTHER_AGENCY)
COUNTY_MANAGEMENT = Actor(role=Role.MANAGEMENT, id="m-county", region_code=COUNTY)
CITY_MANAGEMENT = Actor(role=Role.MANAGEMENT, id="m-city", region_code="360700000000")
OPERATOR = Actor(role=Role.OPERATOR, id="op-1")

PHONE = "13912345678"
ID_NO = "11010519491231002X"
RATER_NAME = "王小明"


def bad_rating(
    *,
    region: str = COUNTY,
    agency: str = COUNTY_AGENCY,
    grade: str = "dissatisfied",
    staff_grade: str | None = None,
    real_name: bool = False,
    rating_id: str = "r0001",
) -> Rating:
    return Rating.model_validate(
        {
            "rating_id": rating_id,
            "source": {"connector_id": "kiosk-1", "kind": "kiosk", "source_rating_id": "s1",
                       "received_at": "2026-09-30T09:59:00+08:00"},
            "case": {"case_no": "GX2026093000045", "service_code": "360704-001", "service_name": "营业执照办理"},
            "target": {"agency_code": agency, "region_code": region,
                       **({"staff": {"staff_id": "st-9"}} if staff_grade else {})},
            "channel": "window" if staff_grade else "kiosk",
            "grade": grade,
            "staff_grade": staff_grade,
            "tags": ["ITEM_EFFICIENCY"],
            "comment": "等候时间太长",
            "rater": {"type": "person", "name": RATER_NAME, "phone": PHONE, "id_no": ID_NO, "real_name": real_name},
            "rated_at": "2026-09-30T09:58:00+08:00",
        }
    )  # fmt: skip


def new_order(**kwargs: Any) -> WorkOrder:
    return open_work_order(bad_rating(**kwargs), DISPATCHED, CALENDAR)


def at(day: str, hm: str = "10:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{hm}:00+08:00")


def act(order: WorkOrder, command: Command, by: Actor = UNIT, when: datetime | None = None) -> WorkOrder:
    return order.handle(command, by=by, at=when or order.history[-1].at, calendar=CALENDAR).order


def refused(order: WorkOrder, command: Command, by: Actor = UNIT, when: datetime | None = None) -> WorkOrderError:
    with pytest.raises(WorkOrderError) as caught:
        order.handle(command, by=by, at=when or order.history[-1].at, calendar=CALENDAR)
    return caught.value


def simple(order: WorkOrder | None = None) -> WorkOrder:
    return act(order or new_order(), Classify(kind=Kind.SIMPLE), when=at("2026-09-30", "11:00"))


def complex_(order: WorkOrder | None = None) -> WorkOrder:
    return act(order or new_order(), Classify(kind=Kind.COMPLEX), when=at("2026-09-30", "11:00"))


def replied(order: WorkOrder | None = None) -> WorkOrder:
    return act(simple(order), SendReply(summary="已优化叫号流程，增开窗口"), when=at("2026-10-08", "09:00"))


def visited(order: WorkOrder) -> WorkOrder:
    visit = RecordFollowUpVisit(visitor_name="李专员", method="phone", note="评价人确认已整改")
    return act(order, visit, when=at("2026-10-09"))


def surveyed(order: WorkOrder) -> WorkOrder:
    return act(
        order, SurveySatisfaction(method="sms", satisfaction=Grade.SATISFIED), COUNTY_MANAGEMENT, at("2026-10-09")
    )


EXTEND = RequestExtension(
    reason="需协调市级部门调整系统", until=date(2026, 10, 30), document_ref="赣县政务〔2026〕12号"
)
APPEAL = FileAppeal(grounds="malicious", reason="评价人未在本单位办理业务，系误评")


# --------------------------------------------------------------------------------------------------
# Creation and routing


def test_a_bad_rating_opens_one_dispatched_order_for_the_rated_agency_R10() -> None:
    order = new_order()
    assert order.id == work_order_id_for("r0001") and order.rating_id == "r0001"
    assert order.status is Status.DISPATCHED and order.kind is None
    assert order.version == 1 and len(order.history) == 1
    assert order.unit.agency_code == COUNTY_AGENCY and order.unit.level is Level.COUNTY
    assert order.history[0].type == "WorkOrderDispatched" and order.history[0].actor.role is Role.SYSTEM
    assert order.problems() == []


def test_a_bad_staff_grade_alone_opens_an_order_R10() -> None:
    order = new_order(grade="satisfied", staff_grade="very_dissatisfied")
    assert order.staff_grade is Grade.VERY_DISSATISFIED and order.staff_id == "st-9"


@pytest.mark.parametrize("grade", ["very_satisfied", "satisfied", "basically_satisfied"])
def test_a_good_rating_opens_no_order_R10(grade: str) -> None:
    with pytest.raises(WorkOrderError) as caught:
        open_work_order(bad_rating(grade=grade), DISPATCHED, CALENDAR)
    assert caught.value.code == "NOT_A_BAD_RATING" and caught.value.rule == "R10"


def test_a_re_delivered_rating_opens_its_order_exactly_once_R10() -> None:
    store = InMemoryWorkOrderStore()
    first = open_work_order(bad_rating(), DISPATCHED, CALENDAR)
    again = open_work_order(bad_rating(), DISPATCHED + timedelta(hours=2), CALENDAR)
    assert first.id == again.id
    assert store.put_new(first) is True
    assert store.put_new(again) is False
    assert store.get(first.id) == first


@pytest.mark.parametrize(
    ("region", "department"),
    [
        ("360000000000", ManagingDepartment(region_code="360000000000", level=Level.PROVINCE)),
        ("360700000000", ManagingDepartment(region_code="360700000000", level=Level.CITY)),
        (COUNTY, ManagingDepartment(region_code=COUNTY, level=Level.COUNTY)),
        (TOWNSHIP, ManagingDepartment(region_code=COUNTY, level=Level.COUNTY)),
        (VILLAGE, ManagingDepartment(region_code=COUNTY, level=Level.COUNTY)),
    ],
)
def test_the_same_level_department_manages_and_the_county_for_townships_and_villages_R18(
    region: str, department: ManagingDepartment
) -> None:
    assert managing_department_for(region) == department


def test_a_townships_order_is_managed_by_its_county_R18() -> None:
    order = new_order(region=TOWNSHIP, agency=TOWNSHIP_AGENCY)
    assert order.unit.level is Level.TOWNSHIP and order.unit.region_code == TOWNSHIP
    assert order.managing_department == ManagingDepartment(region_code=COUNTY, level=Level.COUNTY)
    township_unit = Actor(role=Role.UNIT, id="u-t", agency_code=TOWNSHIP_AGENCY)
    order = act(order, Classify(kind=Kind.COMPLEX), township_unit, at("2026-09-30", "11:00"))
    order = act(order, EXTEND, township_unit)
    order = act(order, ApproveExtension(), COUNTY_MANAGEMENT)  # the county decides
    township_management = Actor(role=Role.MANAGEMENT, id="m-t", region_code=TOWNSHIP)
    assert refused(order, Close(), township_management).code == "NOT_YOUR_ORDER"


# --------------------------------------------------------------------------------------------------
# Deadlines (the acceptance facts of issue 5)


def test_a_simple_order_dispatched_2026_09_30_is_overdue_for_reply_after_2026_10_08_R11() -> None:
    order = simple()
    assert order.deadlines.reply.at == datetime(2026, 10, 8, 23, 59, 59, tzinfo=SHANGHAI)
    assert not order.deadlines.reply.provisional
    assert order.overdue_checks(at("2026-10-08", "23:59")) == []
    (check,) = order.overdue_checks(at("2026-10-09", "00:00"))
    assert check.deadline is DeadlineKind.REPLY and check.escalation_due
    assert check.escalate_to == order.managing_department


def test_a_complex_order_dispatched_2026_09_30_contacts_by_10_09_and_resolves_by_10_20_R12() -> None:
    order = complex_()
    assert order.deadlines.contact.date == date(2026, 10, 9)
    assert order.deadlines.resolve.date == date(2026, 10, 20)  # 10-10 is an adjusted working Saturday
    assert [c.deadline for c in order.overdue_checks(at("2026-10-10"))] == [DeadlineKind.CONTACT]
    order = act(order, RecordContact(note="已电话沟通"), when=at("2026-10-10"))
    assert order.contact is not None and not order.contact.on_time
    assert order.overdue_checks(at("2026-10-20", "23:59")) == []
    assert [c.deadline for c in order.overdue_checks(at("2026-10-21"))] == [DeadlineKind.RESOLVE]


def test_a_late_reply_is_taken_and_marked_late_R11() -> None:
    order = act(simple(), SendReply(summary="已整改"), when=at("2026-10-09"))
    assert order.status is Status.REPLIED and order.reply is not None and not order.reply.on_time
    assert order.history[-1].on_time is False  # type: ignore[union-attr]
    assert order.overdue_checks(at("2026-12-01")) == []  # answered: nothing binds any more


def test_an_unclassified_order_is_held_to_every_handling_limit() -> None:
    order = new_order()
    assert set(order.open_deadlines()) == {DeadlineKind.REPLY, DeadlineKind.CONTACT, DeadlineKind.RESOLVE}
    assert [c.deadline for c in order.overdue_checks(at("2026-10-09"))] == [DeadlineKind.REPLY]
    # the scheduler wakes it on the reply deadline's morning first (the reminder), then when it passes
    assert order.next_check_at == datetime.combine(order.deadlines.reply.date, time(8), tzinfo=SHANGHAI)


def test_a_complex_order_is_resolved_only_after_the_rater_was_contacted_R12() -> None:
    assert refused(complex_(), Resolve(rectification="已整改")).code == "WORK_ORDER_STATE"


def test_escalation_of_an_overdue_deadline_is_recorded_once() -> None:
    order = simple()
    assert refused(order, Escalate(deadline=DeadlineKind.REPLY), SYSTEM, at("2026-10-08")).code == "ESCALATION_NOT_DUE"
    transition = order.handle(Escalate(deadline=DeadlineKind.REPLY), by=SYSTEM, at=at("2026-10-09"), calendar=CALENDAR)
    event = transition.event
    assert event.type == "DeadlineEscalated" and Audience.ESCALATION in event.notify
    assert event.to == order.managing_department  # type: ignore[attr-defined]
    order = transition.order
    (check,) = order.overdue_checks(at("2026-10-10"))
    assert check.escalated_at == at("2026-10-09") and not check.escalation_due
    assert order.next_check_at is None
    assert refused(order, Escalate(deadline=DeadlineKind.REPLY), SYSTEM).code == "ESCALATION_NOT_DUE"


def test_a_unit_may_not_escalate_its_own_order() -> None:
    assert refused(simple(), Escalate(deadline=DeadlineKind.REPLY), when=at("2026-10-09")).code == "ACTION_NOT_FOR_ROLE"


def test_provisional_deadlines_are_recomputed_when_the_year_is_loaded() -> None:
    dispatched = at("2026-12-28")  # 10 working days reach into 2027, which chinesecalendar 1.11 does not know
    order = open_work_order(bad_rating(), dispatched, CALENDAR)
    assert order.deadlines.resolve.provisional and order.deadlines.resolve.date == date(2027, 1, 11)
    assert not order.deadlines.reply.provisional
    loaded = WorkingDayCalendar([parse_notice((ROOT / "tests/fixtures/calendar/2027.json").read_bytes())])
    transition = order.handle(RecomputeDeadlines(), by=SYSTEM, at=at("2026-12-29"), calendar=loaded)
    order = transition.order
    assert order.deadlines.resolve.date == date(2027, 1, 12) and not order.deadlines.resolve.provisional
    assert {c.deadline for c in transition.event.changes} == {DeadlineKind.RESOLVE}  # type: ignore[attr-defined]
    with pytest.raises(WorkOrderError) as again:
        order.handle(RecomputeDeadlines(), by=SYSTEM, at=at("2026-12-29"), calendar=loaded)
    assert again.value.code == "DEADLINES_CURRENT"


# --------------------------------------------------------------------------------------------------
# Extensions (R15)


def test_an_approved_extension_moves_the_resolve_deadline_and_tells_the_rater_R15() -> None:
    order = act(complex_(), EXTEND, when=at("2026-10-12"))
    requested = order.history[-1]
    assert requested.type == "ExtensionRequested" and Audience.MANAGING_DEPARTMENT in requested.notify
    assert order.deadlines.resolve.date == date(2026, 10, 20)  # nothing moves before the decision
    transition = order.handle(ApproveExtension(), by=COUNTY_MANAGEMENT, at=at("2026-10-13"), calendar=CALENDAR)
    order = transition.order
    assert transition.event.type == "ExtensionApproved" and Audience.RATER in transition.event.notify
    assert order.deadlines.resolve.date == date(2026, 10, 30) and order.deadlines.resolve.basis == "extension"
    assert order.deadlines.contact.date == date(2026, 10, 9)  # contacting is not rectification
    assert order.extensions[0].status == "approved" and order.extensions[0].previous.date == date(2026, 10, 20)


def test_a_simple_orders_extension_moves_its_reply_deadline_R15() -> None:
    order = act(simple(), RequestExtension(reason="需现场核查", until=date(2026, 10, 12)), when=at("2026-10-08"))
    order = act(order, ApproveExtension(), COUNTY_MANAGEMENT)
    assert order.deadlines.reply.date == date(2026, 10, 12)
    assert order.overdue_checks(at("2026-10-12", "23:00")) == []


def test_an_order_with_two_approved_extensions_refuses_a_third_R15() -> None:
    order = complex_()
    for until in (date(2026, 10, 30), date(2026, 11, 13)):
        order = act(order, EXTEND.model_copy(update={"until": until}), when=at("2026-10-12"))
        order = act(order, ApproveExtension(), COUNTY_MANAGEMENT)
    error = refused(order, EXTEND.model_copy(update={"until": date(2026, 11, 30)}))
    assert (error.code, error.rule, error.http_status) == ("EXTENSION_LIMIT", "R15", 409)
    assert "2" in error.message and "延期办理以2次为限" in error.message_zh


def test_a_refused_extension_does_not_count_and_the_unit_keeps_working_R15() -> None:
    order = act(complex_(), EXTEND, when=at("2026-10-12"))
    transition = order.handle(RefuseExtension(reason="整改内容简单，无需延期"), by=COUNTY_MANAGEMENT,
                              at=at("2026-10-12", "15:00"), calendar=CALENDAR)  # fmt: skip
    order = transition.order
    assert transition.event.notify == {Audience.UNIT}
    assert order.deadlines.resolve.date == date(2026, 10, 20) and order.approved_extensions == 0
    order = act(order, RecordContact(note="已沟通"))  # still working
    for until in (date(2026, 10, 30), date(2026, 11, 13)):
        order = act(order, EXTEND.model_copy(update={"until": until}))
        order = act(order, ApproveExtension(), COUNTY_MANAGEMENT)
    assert order.approved_extensions == 2 and len(order.extensions) == 3


def test_an_extension_asked_after_the_deadline_is_refused_R15() -> None:
    order = simple()
    assert act(order, EXTEND, when=at("2026-10-08", "23:59")).pending_extension is not None  # still in time
    error = refused(order, EXTEND, when=at("2026-10-09", "00:00"))
    assert error.code == "EXTENSION_AFTER_DEADLINE" and "2026-10-08T23:59:59+08:00" in error.message


def test_an_extension_must_name_a_time_limit_after_the_current_one_R15() -> None:
    error = refused(complex_(), EXTEND.model_copy(update={"until": date(2026, 10, 20)}))
    assert error.code == "EXTENSION_TIME_LIMIT_INVALID"


def test_one_extension_request_is_decided_before_the_next_R15() -> None:
    order = act(complex_(), EXTEND)
    assert refused(order, EXTEND).code == "EXTENSION_PENDING"
    order = act(order, RecordContact(note="已沟通"))
    order = act(order, Resolve(rectification="已整改"))
    order = surveyed(order)
    assert refused(order, Close(), COUNTY_MANAGEMENT).code == "EXTENSION_PENDING"


def test_deciding_an_extension_nobody_asked_for_is_refused_R15() -> None:
    assert refused(complex_(), ApproveExtension(), COUNTY_MANAGEMENT).code == "NO_PENDING_EXTENSION"
    assert refused(complex_(), RefuseExtension(reason="无"), COUNTY_MANAGEMENT).code == "NO_PENDING_EXTENSION"


def test_an_extension_is_asked_in_writing_with_a_reason_R15() -> None:
    with pytest.raises(ValidationError):
        RequestExtension(reason="   ", until=date(2026, 10, 30))
    with pytest.raises(ValidationError):
        COMMAND_ADAPTER.validate_python({"action": "request_extension", "reason": "需协调"})  # no new time limit


def test_a_unit_may_not_approve_its_own_extension_R15() -> None:
    order = act(complex_(), EXTEND)
    error = refused(order, ApproveExtension(), UNIT)
    assert (error.code, error.http_status) == ("ACTION_NOT_FOR_ROLE", 403)


def test_an_unclassified_order_has_no_deadline_to_extend_R15() -> None:
    assert refused(new_order(), EXTEND).code == "WORK_ORDER_STATE"


# --------------------------------------------------------------------------------------------------
# Not adopted (R14) and appeals (R17)


def test_the_unit_may_mark_a_mistaken_rating_not_adopted_and_report_it_R14() -> None:
    transition = complex_().handle(MarkNotAdopted(grounds="mistaken", verification="经调取监控核实，系误评"),
                                   by=UNIT, at=at("2026-10-08"), calendar=CALENDAR)  # fmt: skip
    order, event = transition
    assert order.status is Status.NOT_ADOPTED and not order.rating_adopted
    assert event.forward_to_province == "not_adopted" and Audience.MANAGING_DEPARTMENT in event.notify
    assert order.open_deadlines() == {}
    closed = act(order, Close(), COUNTY_MANAGEMENT)  # nothing to survey: no handling happened
    assert closed.status is Status.CLOSED and closed.history[-1].rating_adopted is False  # type: ignore[union-attr]


def test_an_appeal_on_the_3rd_working_day_after_dispatch_is_accepted_R17() -> None:
    order = simple()
    assert order.deadlines.appeal.at == datetime(2026, 10, 10, 23, 59, 59, tzinfo=SHANGHAI)
    order = act(order, APPEAL, when=at("2026-10-10", "23:59"))
    assert order.appeal is not None and order.appeal.status == "filed"
    assert order.appeal.review_by.date == date(2026, 10, 14)  # 3 working days after receipt: 12, 13, 14
    assert order.history[-1].notify == {Audience.MANAGING_DEPARTMENT}


def test_an_appeal_after_3_working_days_is_refused_R17() -> None:
    error = refused(simple(), APPEAL, when=at("2026-10-11", "00:00"))
    assert (error.code, error.rule) == ("APPEAL_WINDOW_CLOSED", "R17")
    assert "3个工作日" in error.message_zh


def test_an_order_is_appealed_once_R17() -> None:
    order = act(act(simple(), APPEAL), RejectAppeal(reason="经核实，评价属实"), COUNTY_MANAGEMENT)
    assert refused(order, APPEAL).code == "APPEAL_ALREADY_FILED"


def test_an_upheld_appeal_makes_the_rating_not_adopted_and_tells_the_province_R17() -> None:
    order = act(replied(), APPEAL, when=at("2026-10-08", "10:00"))
    transition = order.handle(UpholdAppeal(finding="经核实为恶意评价"), by=COUNTY_MANAGEMENT, at=at("2026-10-09"),
                              calendar=CALENDAR)  # fmt: skip
    order = transition.order
    assert order.status is Status.NOT_ADOPTED and not order.rating_adopted
    assert transition.event.type == "AppealUpheld" and transition.event.forward_to_province == "not_adopted"
    assert act(order, Close(), COUNTY_MANAGEMENT).status is Status.CLOSED


def test_a_rejected_appeal_leaves_the_handling_and_the_rating_standing_R17_R14() -> None:
    order = act(complex_(), APPEAL)
    order = act(order, RecordContact(note="已沟通"))  # the appeal suspends no time limit: the unit works on
    order = act(order, RejectAppeal(reason="经核实，评价属实"), COUNTY_MANAGEMENT)
    assert order.status is Status.CONTACTED and order.rating_adopted
    error = refused(order, MarkNotAdopted(grounds="malicious", verification="仍认为恶意"))
    assert error.code == "APPEAL_REJECTED"


def test_the_unit_may_not_mark_not_adopted_while_its_appeal_is_reviewed_R14_R17() -> None:
    order = act(complex_(), APPEAL)
    assert refused(order, MarkNotAdopted(grounds="malicious", verification="核实")).code == "APPEAL_PENDING"


def test_an_order_with_an_appeal_under_review_does_not_close_R17() -> None:
    order = surveyed(act(replied(), APPEAL, when=at("2026-10-08", "10:00")))
    assert refused(order, Close(), COUNTY_MANAGEMENT).code == "APPEAL_PENDING"


def test_an_overdue_appeal_review_is_escalated_one_level_up_R17() -> None:
    order = act(simple(), APPEAL, when=at("2026-10-08"))
    assert order.appeal is not None and order.appeal.review_by.date == date(2026, 10, 12)
    checks = {c.deadline: c for c in order.overdue_checks(at("2026-10-13"))}
    review = checks[DeadlineKind.APPEAL_REVIEW]
    assert review.escalate_to == ManagingDepartment(region_code="360700000000", level=Level.CITY)
    escalated = act(order, Escalate(deadline=DeadlineKind.APPEAL_REVIEW), SYSTEM, at("2026-10-13"))
    assert escalated.escalations[-1].to.level is Level.CITY


def test_a_province_level_appeal_review_has_nowhere_above_to_go_R17() -> None:
    province_unit = Actor(role=Role.UNIT, id="u-p", agency_code=COUNTY_AGENCY)
    order = new_order(region="360000000000")
    order = act(order, APPEAL, province_unit, at("2026-10-08"))
    (check,) = [c for c in order.overdue_checks(at("2026-10-13")) if c.deadline is DeadlineKind.APPEAL_REVIEW]
    assert check.escalate_to is None and not check.escalation_due
    # the review never wakes the scheduler again; the reply's morning reminder does
    assert order.next_check_at == datetime.combine(order.deadlines.reply.date, time(8), tzinfo=SHANGHAI)
    error = refused(order, Escalate(deadline=DeadlineKind.APPEAL_REVIEW), SYSTEM, at("2026-10-13"))
    assert error.code == "ESCALATION_NOT_DUE"


# --------------------------------------------------------------------------------------------------
# Follow-up visit (R13), satisfaction survey (R16), closing


def test_closing_a_real_name_order_without_its_follow_up_visit_is_refused_R13() -> None:
    order = replied(new_order(real_name=True))
    error = refused(order, Close(), COUNTY_MANAGEMENT)
    assert (error.code, error.rule) == ("FOLLOW_UP_REQUIRED", "R13")
    assert refused(order, SurveySatisfaction(method="sms", satisfaction=None), COUNTY_MANAGEMENT).code == (
        "FOLLOW_UP_REQUIRED"
    )


def test_closing_without_the_satisfaction_survey_is_refused_R16() -> None:
    error = refused(replied(), Close(), COUNTY_MANAGEMENT)
    assert (error.code, error.rule) == ("SURVEY_REQUIRED", "R16")


def test_a_rater_who_cannot_be_reached_still_lets_the_order_close_R16() -> None:
    order = act(replied(), SurveySatisfaction(method="phone", satisfaction=None, note="三次未接通"), COUNTY_MANAGEMENT)
    assert act(order, Close(), COUNTY_MANAGEMENT).status is Status.CLOSED


def test_the_unit_may_not_survey_its_own_handling_R16() -> None:
    assert refused(replied(), SurveySatisfaction(method="sms", satisfaction=Grade.SATISFIED)).code == (
        "ACTION_NOT_FOR_ROLE"
    )


def test_the_whole_story_of_a_real_name_order_is_in_its_history_R10_to_R16() -> None:
    order = new_order(real_name=True)
    order = act(order, Classify(kind=Kind.COMPLEX), when=at("2026-09-30", "11:00"))
    order = act(order, RecordContact(note="已电话联系评价人"), when=at("2026-10-08"))
    order = act(order, EXTEND, when=at("2026-10-15"))
    order = act(order, ApproveExtension(note="同意延期"), COUNTY_MANAGEMENT, at("2026-10-16"))
    order = act(order, Resolve(rectification="增设自助终端两台"), when=at("2026-10-28"))
    order = act(order, RecordFollowUpVisit(visitor_name="李专员", method="phone", note="已整改"), when=at("2026-10-29"))
    order = act(order, SurveySatisfaction(method="sms", satisfaction=Grade.SATISFIED), COUNTY_MANAGEMENT,
                at("2026-10-30"))  # fmt: skip
    order = act(order, Close(), COUNTY_MANAGEMENT, at("2026-10-30", "16:00"))
    assert [e.type for e in order.history] == [
        "WorkOrderDispatched", "OrderClassified", "RaterContacted", "ExtensionRequested", "ExtensionApproved",
        "OrderResolved", "FollowUpVisited", "SatisfactionSurveyed", "OrderClosed",
    ]  # fmt: skip
    assert [e.version for e in order.history] == list(range(1, 10)) and order.version == 9
    assert order.resolution is not None and order.resolution.on_time  # by the extended limit
    assert [e.forward_to_province for e in order.history if e.forward_to_province] == ["rectification", "satisfaction"]
    assert order.problems() == []


def test_any_action_on_a_closed_order_is_refused() -> None:
    order = act(surveyed(replied()), Close(), COUNTY_MANAGEMENT)
    for command, actor in [
        (Close(), COUNTY_MANAGEMENT),
        (APPEAL, UNIT),
        (SendReply(summary="再次回复"), UNIT),
        (RecomputeDeadlines(), SYSTEM),
        (Escalate(deadline=DeadlineKind.REPLY), OPERATOR),
    ]:
        error = refused(order, command, actor, at("2026-12-01"))
        assert error.code == "ORDER_CLOSED", command


# --------------------------------------------------------------------------------------------------
# Who may act


def test_a_unit_acting_on_another_units_order_is_refused() -> None:
    error = refused(new_order(), Classify(kind=Kind.SIMPLE), OTHER_UNIT)
    assert (error.code, error.http_status) == ("NOT_YOUR_ORDER", 403)
    assert error.as_problem("action").as_dict()["message_zh"].startswith("无权操作该工单")


def test_a_department_of_another_region_may_not_act_even_from_above() -> None:
    order = act(complex_(), EXTEND)
    assert refused(order, ApproveExtension(), CITY_MANAGEMENT).code == "NOT_YOUR_ORDER"


def test_a_stranger_learns_nothing_of_a_closed_orders_state() -> None:
    order = act(surveyed(replied()), Close(), COUNTY_MANAGEMENT)
    assert refused(order, APPEAL, OTHER_UNIT).code == "NOT_YOUR_ORDER"


def test_the_operator_may_act_on_every_order() -> None:
    order = act(new_order(region=TOWNSHIP, agency=TOWNSHIP_AGENCY), Classify(kind=Kind.SIMPLE), OPERATOR)
    order = act(order, SendReply(summary="已处理"), OPERATOR)
    order = act(order, SurveySatisfaction(method="sms", satisfaction=Grade.SATISFIED), OPERATOR)
    assert act(order, Close(), OPERATOR).status is Status.CLOSED


def test_a_unit_or_a_management_actor_must_say_whom_it_acts_for() -> None:
    with pytest.raises(ValidationError):
        Actor(role=Role.UNIT, id="u-x")
    with pytest.raises(ValidationError):
        Actor(role=Role.MANAGEMENT, id="m-x")


def test_an_action_dated_before_the_orders_last_event_is_refused() -> None:
    order = simple()
    assert refused(order, SendReply(summary="已处理"), when=at("2026-09-30", "10:30")).code == "TIME_BEFORE_HISTORY"
    with pytest.raises(ValueError, match="naive"):
        order.handle(SendReply(summary="x"), by=UNIT, at=datetime(2026, 10, 1), calendar=CALENDAR)


def test_a_refused_action_leaves_the_order_as_it_was() -> None:
    order = simple()
    before = order.model_dump()
    refused(order, APPEAL, when=at("2026-10-12"))
    assert order.model_dump() == before and order.version == 2


# --------------------------------------------------------------------------------------------------
# Personal data (R20) in events and texts


def test_events_carry_no_personal_data_of_the_rater_R20() -> None:
    order = act(surveyed(visited(replied(new_order(real_name=True)))), Close(), COUNTY_MANAGEMENT)
    events = json.dumps([e.model_dump(mode="json") for e in order.history], ensure_ascii=False)
    stored = order.model_dump_json()
    for secret in (PHONE, ID_NO, RATER_NAME):
        assert secret not in events and secret not in stored
    assert "李专员" not in events  # the visitor is named on the order, not broadcast


@pytest.mark.parametrize("text", [f"请致电{PHONE}", "电话 139-1234-5678", f"身份证{ID_NO}"])
def test_a_text_with_a_phone_or_id_number_is_refused_R20(text: str) -> None:
    with pytest.raises(ValidationError, match=r"contains a (mobile|resident ID) number"):
        SendReply(summary=text)


def test_a_text_with_ordinary_numbers_is_kept() -> None:
    assert SendReply(summary="已增开3号、12号窗口，文号2026-118").summary.startswith("已增开")


# --------------------------------------------------------------------------------------------------
# Optimistic locking


def test_two_units_acting_at_once_lose_no_update() -> None:
    store = InMemoryWorkOrderStore()
    order = simple()
    store.put_new(order)
    seen_by_a = store.get(order.id)
    seen_by_b = store.get(order.id)
    assert seen_by_a is not None and seen_by_b is not None
    reply = seen_by_a.handle(SendReply(summary="已处理"), by=UNIT, at=at("2026-10-08"), calendar=CALENDAR)
    appeal = seen_by_b.handle(APPEAL, by=UNIT, at=at("2026-10-08"), calendar=CALENDAR)
    store.save(reply.order, expected_version=seen_by_a.version)
    with pytest.raises(VersionConflict) as caught:
        store.save(appeal.order, expected_version=seen_by_b.version)
    assert caught.value.code == "VERSION_CONFLICT" and caught.value.http_status == 409
    store.apply(order.id, APPEAL, by=UNIT, at=at("2026-10-08"), calendar=CALENDAR)  # reload and retry
    final = store.get(order.id)
    assert final is not None and final.version == 4 and final.reply is not None and final.appeal is not None


def test_saving_an_order_that_was_never_stored_is_a_conflict() -> None:
    with pytest.raises(VersionConflict):
        InMemoryWorkOrderStore().save(new_order(), expected_version=1)


# --------------------------------------------------------------------------------------------------
# The contract: JSON, the schema, the table


def test_an_order_round_trips_through_json_with_its_history() -> None:
    order = act(surveyed(visited(replied(new_order(real_name=True)))), Close(), COUNTY_MANAGEMENT)
    assert WorkOrder.model_validate_json(order.model_dump_json()) == order


def test_the_order_validates_against_its_published_schema() -> None:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              **WORK_ORDER_SCHEMAS["work-order.json"].model_json_schema(mode="serialization")}  # fmt: skip
    Draft202012Validator.check_schema(schema)
    order = act(act(act(complex_(), EXTEND), ApproveExtension(), COUNTY_MANAGEMENT), APPEAL)
    errors = list(Draft202012Validator(schema).iter_errors(order.model_dump(mode="json")))
    assert not errors, [e.message for e in errors]


def test_a_stored_order_with_a_broken_history_is_refused_on_load() -> None:
    data = simple().model_dump(mode="json")
    data["version"] = 5
    with pytest.raises(ValidationError, match="version 5 but 2 events"):
        WorkOrder.model_validate(data)


def test_every_command_has_one_transition_rule_and_every_event_a_command() -> None:
    (union, _field) = get_args(Command)
    commands = set(get_args(union))
    assert {rule.command for rule in TRANSITIONS.values()} == commands
    (events_union, _f) = get_args(WorkOrderEvent)
    events = {e.__name__ for e in get_args(events_union)}
    assert {rule.event.__name__ for rule in TRANSITIONS.values()} | {"WorkOrderDispatched"} == events
    for action, rule in TRANSITIONS.items():
        assert rule.command.model_fields["action"].default == action


def test_every_refusal_has_both_languages_and_a_4xx_status() -> None:
    for code, (rule, status, en, zh) in REFUSALS.items():
        assert status in (403, 409) and en and zh, code
        assert rule is None or rule.startswith("R")
    assert isinstance(Transition, type)

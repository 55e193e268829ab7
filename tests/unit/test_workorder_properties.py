"""Work orders under random commands: never an invalid order, a version that counts successes only, a history
one longer than them, and closed for good."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import event, given
from hypothesis import strategies as st

from hub.calendar import SHANGHAI, WorkingDayCalendar, parse_notice
from hub.rating import Grade
from hub.workorders import (
    REFUSALS,
    SYSTEM,
    TRANSITIONS,
    Actor,
    ApproveExtension,
    Classify,
    Close,
    Command,
    DeadlineKind,
    Escalate,
    FileAppeal,
    Kind,
    MarkNotAdopted,
    RecomputeDeadlines,
    RecordContact,
    RecordFollowUpVisit,
    RefuseExtension,
    RejectAppeal,
    RemindDeadline,
    RequestExtension,
    Resolve,
    Role,
    SendReply,
    Status,
    SurveySatisfaction,
    UpholdAppeal,
    WorkOrder,
    WorkOrderError,
    open_work_order,
)
from infra.memory import InMemoryWorkOrderStore
from tests.conftest import ROOT
from tests.unit.test_workorder import (
    CITY_MANAGEMENT,
    COUNTY,
    COUNTY_AGENCY,
    COUNTY_MANAGEMENT,
    ID_NO,
    OPERATOR,
    OTHER_UNIT,
    PHONE,
    RATER_NAME,
    TOWNSHIP,
    TOWNSHIP_AGENCY,
    VILLAGE,
    bad_rating,
)

OFFICIAL = WorkingDayCalendar()
LOADED_2027 = WorkingDayCalendar([parse_notice((ROOT / "tests/fixtures/calendar/2027.json").read_bytes())])
STRANGERS = (OTHER_UNIT, CITY_MANAGEMENT)
PERMISSION_CODES = {"ACTION_NOT_FOR_ROLE", "NOT_YOUR_ORDER"}

texts = st.sampled_from(["已处理", "已整改完毕", "经核实属实"])
grounds = st.sampled_from(["mistaken", "malicious"])
methods = st.sampled_from(["phone", "sms", "visit", "online"])
COMMANDS: dict[str, st.SearchStrategy[Command]] = {
    "classify": st.builds(Classify, kind=st.sampled_from(Kind)),
    "send_reply": st.builds(SendReply, summary=texts),
    "record_contact": st.builds(RecordContact, note=texts),
    "resolve": st.builds(Resolve, rectification=texts),
    "mark_not_adopted": st.builds(MarkNotAdopted, grounds=grounds, verification=texts),
    "request_extension": st.builds(RequestExtension, reason=texts, until=st.dates(date(2026, 9, 1), date(2027, 3, 31))),
    "approve_extension": st.builds(ApproveExtension, note=st.none() | texts),
    "refuse_extension": st.builds(RefuseExtension, reason=texts),
    "file_appeal": st.builds(FileAppeal, grounds=grounds, reason=texts),
    "uphold_appeal": st.builds(UpholdAppeal, finding=texts),
    "reject_appeal": st.builds(RejectAppeal, reason=texts),
    "record_follow_up_visit": st.builds(
        RecordFollowUpVisit, visitor_name=st.just("李专员"), method=methods, note=texts
    ),
    "survey_satisfaction": st.builds(
        SurveySatisfaction, method=methods, satisfaction=st.none() | st.sampled_from(Grade)
    ),
    "close": st.just(Close()),
    "escalate": st.builds(Escalate, deadline=st.sampled_from(DeadlineKind)),
    "recompute_deadlines": st.just(RecomputeDeadlines()),
    "remind_deadline": st.builds(RemindDeadline, deadline=st.sampled_from(DeadlineKind)),
}
assert set(COMMANDS) == set(TRANSITIONS)
dispatch_times = st.datetimes(
    min_value=datetime(2026, 9, 1), max_value=datetime(2026, 12, 31), timezones=st.just(SHANGHAI)
)
homes = st.sampled_from([(COUNTY, COUNTY_AGENCY), (TOWNSHIP, TOWNSHIP_AGENCY), (VILLAGE, TOWNSHIP_AGENCY)])
calendars = st.sampled_from([OFFICIAL, OFFICIAL, LOADED_2027])  # a year's notice may arrive mid-life


class Walk:
    """A random walk over one order: mostly a command its status allows, by a party whose role may send it;
    sometimes anything, by anyone, strangers included — so both the paths and the guards are exercised."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data
        region, agency = data.draw(homes, label="home")
        self.now = data.draw(dispatch_times, label="dispatched")
        rating = bad_rating(region=region, agency=agency, real_name=data.draw(st.booleans(), label="real_name"))
        self.order = open_work_order(rating, self.now, OFFICIAL)
        unit = Actor(role=Role.UNIT, id="u-1", agency_code=agency)
        self.owners = {
            Role.UNIT: unit,
            Role.MANAGEMENT: COUNTY_MANAGEMENT,
            Role.OPERATOR: OPERATOR,
            Role.SYSTEM: SYSTEM,
        }
        self.anyone = [*self.owners.values(), *STRANGERS]

    def step(self) -> tuple[Command, Actor, datetime, WorkingDayCalendar]:
        draw = self.data.draw
        self.now += draw(st.timedeltas(timedelta(0), timedelta(days=3)), label="later")
        plausible = [action for action, rule in TRANSITIONS.items() if self.order.status in rule.sources]
        if plausible and draw(st.integers(0, 3), label="plausible") > 0:
            action = draw(st.sampled_from(plausible), label="action")
            roles = sorted(TRANSITIONS[action].roles)
            actor = self.owners[draw(st.sampled_from(roles), label="role")]
        else:
            action = draw(st.sampled_from(sorted(COMMANDS)), label="action")
            actor = draw(st.sampled_from(self.anyone), label="actor")
        return draw(COMMANDS[action], label="command"), actor, self.now, draw(calendars, label="calendar")


@given(st.data(), st.integers(0, 40))
def test_random_commands_never_leave_an_invalid_order(data: st.DataObject, length: int) -> None:
    walk = Walk(data)
    order = walk.order
    successes = 0
    for _ in range(length):
        command, actor, now, calendar = walk.step()
        before = order
        try:
            order, recorded = order.handle(command, by=actor, at=now, calendar=calendar)
        except WorkOrderError as refusal:
            assert refusal.code in REFUSALS
            event(f"refused: {refusal.code}")
            assert order is before and order.version == successes + 1  # a refusal changes nothing
            if before.status is Status.CLOSED:
                assert refusal.code in PERMISSION_CODES | {"ORDER_CLOSED"}
            continue
        finally:
            walk.order = order
        successes += 1
        rule = TRANSITIONS[command.action]
        assert before.status is not Status.CLOSED, "closed is terminal"
        assert actor.role in rule.roles and before.owned_by(actor)
        assert before.status in rule.sources and order.status in rule.targets
        if rule.keeps_status:
            assert order.status is before.status
        assert order.version == before.version + 1 == successes + 1
        assert len(order.history) == successes + 1 and order.history[-1] is recorded
        assert recorded.version == order.version and recorded.at == now and recorded.actor == actor.ref
        assert order.problems() == []
    event(f"final status: {order.status}")
    assert WorkOrder.model_validate_json(order.model_dump_json()) == order
    dumped = order.model_dump_json()
    assert PHONE not in dumped and ID_NO not in dumped and RATER_NAME not in dumped


@given(st.data(), st.integers(0, 40))
def test_the_store_holds_every_successful_transition_and_nothing_else(data: st.DataObject, length: int) -> None:
    walk = Walk(data)
    store = InMemoryWorkOrderStore()
    assert store.put_new(walk.order)
    for _ in range(length):
        command, actor, now, calendar = walk.step()
        read = store.get(walk.order.id)
        assert read is not None
        try:
            store.apply(read.id, command, by=actor, at=now, calendar=calendar)
        except WorkOrderError:
            assert store.get(read.id) is read  # refused: nothing written
        walk.order = store.get(read.id)  # type: ignore[assignment]
        assert walk.order.version == len(walk.order.history)
    final = store.get(walk.order.id)
    assert final is not None
    assert [e.version for e in final.history] == list(range(1, final.version + 1))


@given(dispatch_times)
def test_deadlines_fall_at_the_end_of_working_days_in_order_R11_R12_R17(dispatched: datetime) -> None:
    order = open_work_order(bad_rating(), dispatched, OFFICIAL)
    limits = order.deadlines
    assert limits.reply.date < limits.contact.date < limits.resolve.date
    assert limits.reply.date <= limits.appeal.date <= limits.resolve.date
    for limit in (limits.reply, limits.contact, limits.resolve, limits.appeal):
        assert limit.at.astimezone(SHANGHAI).time().isoformat() == "23:59:59"
        assert (limit.date > dispatched.date() and OFFICIAL.is_workday(limit.date)) or limit.provisional
    assert order.overdue_checks(dispatched) == []


@given(dispatch_times, st.timedeltas(timedelta(0), timedelta(days=40)))
def test_an_overdue_check_names_only_binding_deadlines_that_have_passed(dispatched: datetime, later: timedelta) -> None:
    order = open_work_order(bad_rating(), dispatched, OFFICIAL)
    now = dispatched + later
    binding = order.open_deadlines()
    for check in order.overdue_checks(now):
        assert binding[check.deadline] == check.due and now > check.due.at
        assert check.escalation_due and check.escalate_to == order.managing_department
    assert {c.deadline for c in order.overdue_checks(now)} == {k for k, due in binding.items() if now > due.at}

"""Deadline checks on the scheduler's clock (R11, R12, R17): the unit's morning reminder, the overdue mark and
escalation exactly once however runs overlap, an appeal review escalated one level up, provisional deadlines
recounted; and the outbox relayed — notices at once, the province's outcomes through the forward queue."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from hub.calendar import WorkingDayCalendar, parse_notice
from hub.forwarding import MAX_FAILURES, ProvinceReceipt, ProvinceUnreachable
from hub.outcomes import Notice, OutboxRelay, OutcomeDelivery
from hub.ports import OutcomeSink
from hub.workorders import (
    Audience,
    DeadlineKind,
    Event,
    Kind,
    UpholdAppeal,
    WorkOrder,
    WorkOrderMonitor,
    open_work_order,
)
from infra.memory import (
    InMemoryForwardQueue,
    InMemoryNotifier,
    InMemoryProvince,
    InMemoryRatingStore,
    InMemoryWorkOrderStore,
)
from tests.conftest import ROOT
from tests.unit.test_scheduler_budget import Invocation, slow
from tests.unit.test_workorder import (
    APPEAL,
    CALENDAR,
    COUNTY,
    COUNTY_AGENCY,
    COUNTY_MANAGEMENT,
    UNIT,
    Classify,
    act,
    at,
    bad_rating,
    new_order,
    replied,
    simple,
)

LOADED_2027 = WorkingDayCalendar([parse_notice((ROOT / "tests/fixtures/calendar/2027.json").read_bytes())])


class Hub:
    """The monitor over the in-memory store, with the relay's notifier and queue to look at."""

    def __init__(self, *orders: WorkOrder, store: InMemoryWorkOrderStore | None = None) -> None:
        self.store = store or InMemoryWorkOrderStore()
        for order in orders:
            assert self.store.put_new(order)
        self.notifier = InMemoryNotifier()
        self.queue = InMemoryForwardQueue()
        self.relay = OutboxRelay(self.store, self.notifier, self.queue)
        self.monitor = WorkOrderMonitor(self.store, lambda: CALENDAR, self.relay)

    def run(self, when: datetime, calendar: WorkingDayCalendar = CALENDAR) -> dict[str, int]:
        report = self.monitor.run(when, calendar)
        assert report.errors == ()
        return dict(report.counts)

    def order(self, order_id: str = "wo-r0001") -> WorkOrder:
        order = self.store.get(order_id)
        assert order is not None
        return order

    def notices(self, event_type: str) -> list[Notice]:
        return [n for n in self.notifier.published if n.event_type == event_type]


def test_the_unit_is_reminded_once_on_the_morning_its_reply_falls_due_R11() -> None:
    hub = Hub(simple())  # dispatched 2026-09-30 10:00; reply due 2026-10-08 23:59:59 (after the holiday)
    hub.relay.sweep(at("2026-09-30", "12:00"), older_than=at("2026-09-30", "12:00") - at("2026-09-30", "10:00"))
    hub.notifier.published.clear()  # the dispatch notice, relayed by the sweep
    assert hub.run(at("2026-10-08", "07:59")) == {}  # not due: the due index returns nothing
    assert hub.run(at("2026-10-08", "08:00")) == {"reminded": 1, "relay:notified": 1}
    assert hub.run(at("2026-10-08", "08:01")) == {}
    assert hub.run(at("2026-10-08", "23:59:59")) == {}  # due, but not passed yet
    [notice] = hub.notices("DeadlineReminded")
    assert (notice.audience, notice.agency_code, notice.region_code) == (Audience.UNIT, COUNTY_AGENCY, COUNTY)
    assert notice.details == {"deadline": "reply", "due_at": "2026-10-08T23:59:59+08:00", "provisional": False}
    assert [e.type for e in hub.order().history].count("DeadlineReminded") == 1
    assert hub.store.outbox() == []  # a notice-only entry is done once published


def test_a_simple_order_unanswered_after_2026_10_08_is_overdue_and_escalated_once_R11() -> None:
    hub = Hub(simple())
    assert hub.run(at("2026-10-08", "10:00")) == {"reminded": 1, "relay:notified": 1}
    assert hub.run(at("2026-10-09", "00:00:00")) == {"escalated": 1, "relay:notified": 1}
    assert hub.run(at("2026-10-09", "00:01")) == {}  # nothing binds until it is answered
    order = hub.order()
    [check] = order.overdue_checks(at("2026-10-09", "09:00"))
    assert check.deadline is DeadlineKind.REPLY and check.escalated_at == at("2026-10-09", "00:00:00")
    [notice] = hub.notices("DeadlineEscalated")
    assert (notice.audience, notice.region_code, notice.agency_code) == (Audience.ESCALATION, COUNTY, None)
    assert notice.details["escalated_to"] == {"region_code": COUNTY, "level": "county"}


def test_an_order_checked_only_after_its_deadline_is_escalated_without_a_late_reminder() -> None:
    hub = Hub(simple())
    assert hub.run(at("2026-10-12")) == {"escalated": 1, "relay:notified": 1}  # the scheduler was down for days
    assert hub.notices("DeadlineReminded") == []


class RacingStore(InMemoryWorkOrderStore):
    """Two runs read the due orders before either saves: the overlap a slow run and the next one have."""

    def __init__(self) -> None:
        super().__init__()
        self.barrier = threading.Barrier(2)

    def due(self, now: datetime, limit: int = 100) -> list[WorkOrder]:
        found = super().due(now, limit)
        self.barrier.wait(timeout=5)
        return found


def test_two_overlapping_runs_escalate_an_overdue_order_exactly_once_R11() -> None:
    store = RacingStore()
    hub = Hub(simple(), store=store)
    reports = []

    def run() -> None:
        reports.append(hub.monitor.run(at("2026-10-09"), CALENDAR))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sum(r.counts["escalated"] for r in reports) == 1
    assert [e.type for e in hub.order().history].count("DeadlineEscalated") == 1
    assert len(hub.notices("DeadlineEscalated")) == 1


def test_the_loser_of_a_race_reads_again_and_finds_nothing_left_to_do() -> None:
    hub = Hub(simple())
    stale = hub.order()
    hub.run(at("2026-10-09"))
    # a run that read `stale` before the first saved: its save is refused, it reads again, it does nothing
    loser = WorkOrderMonitor(hub.store, lambda: CALENDAR)
    assert dict(loser.check(stale.id, at("2026-10-09", "10:01"), CALENDAR)) == {}


def test_an_overdue_appeal_review_is_escalated_one_level_up_R17() -> None:
    order = act(replied(), APPEAL, UNIT, at("2026-10-08", "09:30"))  # review due 2026-10-12 23:59:59
    assert order.appeal is not None and order.appeal.review_by.date == date(2026, 10, 12)
    hub = Hub(order)
    assert hub.run(at("2026-10-13", "00:00")) == {"escalated": 1, "relay:notified": 1}
    [notice] = hub.notices("DeadlineEscalated")
    assert notice.region_code == "360700000000"  # the city above the county that reviews
    assert notice.details["deadline"] == "appeal_review"


def test_a_provisional_deadline_is_recounted_when_the_year_is_known_before_anything_fires() -> None:
    dispatched = at("2026-12-28")  # 10 working days reach into 2027, unknown to chinesecalendar 1.11
    order = act(open_work_order(bad_rating(), dispatched, CALENDAR), Classify(kind=Kind.COMPLEX), when=dispatched)
    assert order.deadlines.resolve.provisional and order.deadlines.resolve.date == date(2027, 1, 11)
    unloaded = Hub(order)
    assert unloaded.run(at("2026-12-30", "08:00")) == {"reminded": 1, "relay:notified": 1}  # contact due today
    assert unloaded.order().deadlines.resolve.provisional  # still a guess: nothing to recount with

    hub = Hub(order)
    assert hub.run(at("2026-12-30", "08:00"), LOADED_2027) == {"recomputed": 1, "reminded": 1, "relay:notified": 1}
    resolve = hub.order().deadlines.resolve
    assert resolve.date == date(2027, 1, 12) and not resolve.provisional
    assert [n.details for n in hub.notices("DeadlineReminded")] == [
        {"deadline": "contact", "due_at": "2026-12-30T23:59:59+08:00", "provisional": False}
    ]


def test_notices_carry_no_personal_data_R20() -> None:
    hub = Hub(new_order(real_name=True))
    hub.run(at("2026-10-08", "08:00"))
    hub.run(at("2026-10-21"))
    text = repr([(n.body(), n.attributes()) for n in hub.notifier.published])
    assert len(hub.notifier.published) == 4  # reminders of reply and contact, escalations of all three
    for personal in ("王小明", "13912345678", "11010519491231002X", "等候时间太长"):
        assert personal not in text


def test_an_upheld_appeal_reaches_the_province_as_not_adopted_once_through_retries_R17() -> None:
    order = act(simple(), APPEAL, UNIT, at("2026-10-08", "09:30"))
    order = act(order, UpholdAppeal(finding="核实为误评"), COUNTY_MANAGEMENT, at("2026-10-09"))
    hub = Hub()
    ratings = InMemoryRatingStore()
    ratings.put_new(bad_rating(), "raw/1")
    assert hub.store.put_new(order)
    counts = hub.relay.sweep(at("2026-10-09", "10:10"))
    assert counts == {"queued": 1, "notified": 2}  # dispatched (unit), appeal filed (department); upheld queued
    [key] = hub.queue.outcome_keys()
    province = InMemoryProvince("down", "down")
    delivery = OutcomeDelivery(hub.store, province, hub.notifier, ratings)
    for _ in range(2):
        with pytest.raises(ProvinceUnreachable):  # the message comes back after the forward queue's backoff
            delivery.deliver(key)
    assert hub.store.outbox() != []  # owed until the province acknowledged
    assert delivery.deliver(key) == "forwarded"
    assert delivery.deliver(key) == "done"  # a re-queued copy (a relay and a sweep) finds it delivered
    assert province.outcomes == {key: ("AppealUpheld", "not_adopted")}
    assert hub.store.outbox() == []
    stored = ratings.get("r0001")
    assert stored is not None and not stored.adopted  # R17: out of the results
    assert [n.audience for n in hub.notices("AppealUpheld")] == [Audience.UNIT]  # announced once


class FailingProvince(OutcomeSink):
    """Answers each send with the next of `answers`: a status (500 counted, 503 the province away) or None (a
    timeout); "ok" takes it."""

    def __init__(self, *answers: int | str | None) -> None:
        self.answers, self.sends = list(answers), 0

    def send_outcome(self, order: WorkOrder, event: Event) -> ProvinceReceipt:
        self.sends += 1
        answer = self.answers.pop(0)
        if answer == "ok":
            return ProvinceReceipt(f"{order.id}#{event.version}", False)
        raise ProvinceUnreachable(f"province unavailable ({answer})", status=answer)  # type: ignore[arg-type]


def queued_outcome(*answers: int | str | None) -> tuple[Hub, OutcomeDelivery, FailingProvince, dict[str, str]]:
    order = act(simple(), APPEAL, UNIT, at("2026-10-08", "09:30"))
    order = act(order, UpholdAppeal(finding="核实为误评"), COUNTY_MANAGEMENT, at("2026-10-09"))
    hub = Hub()
    assert hub.store.put_new(order)
    hub.relay.sweep(at("2026-10-09", "10:10"))
    [message] = [m for m in hub.queue.messages if "outcome" in m]
    province = FailingProvince(*answers)
    return hub, OutcomeDelivery(hub.store, province, hub.notifier, None, hub.queue), province, message


def test_an_outcome_backs_off_by_its_own_attempts_not_the_queues_receive_count() -> None:
    # GIVEN an outcome the province answers 503, a timeout, 503, then takes
    hub, delivery, province, message = queued_outcome(503, None, 503, "ok")
    delays = []
    for _ in range(3):
        # WHEN the forward function handles its message (a copy received any number of times: it does not matter)
        assert delivery.deliver_queued(message, retry_in=lambda attempt: 10 * 2 ** (attempt - 1)) == "retry_queued"
        message = hub.queue.messages[-1]  # THEN a fresh copy carries the attempts so far
        delays.append(int(message["delay"]))
    assert delays == [10, 20, 40] and message["attempt"] == "3" and message["failures"] == "0"
    assert delivery.deliver_queued(message) == "forwarded" and province.sends == 4
    assert hub.queue.dead_letters == []


def test_an_outcome_is_dead_lettered_only_after_failures_the_province_gave_with_the_reason() -> None:
    hub, delivery, _, message = queued_outcome(*([503, 500] * MAX_FAILURES))
    outcomes = []
    for _ in range(2 * MAX_FAILURES):
        outcomes.append(delivery.deliver_queued(message))
        message = hub.queue.messages[-1]
    assert outcomes == ["retry_queued"] * (2 * MAX_FAILURES - 1) + ["dead_lettered"]
    [letter] = hub.queue.dead_letters
    assert letter["outcome"].endswith("#4") and f"{MAX_FAILURES} failures the province gave" in letter["reason"]
    assert hub.store.outbox() != []  # still owed: an operator's redrive sends it again


def test_the_sweep_leaves_alone_an_outcome_waiting_out_its_backoff() -> None:
    """Issue 16: the sweep (every 5 min) queued a fresh copy of every owed outcome, also one whose copy was on the
    queue waiting out its backoff: in a long outage a new copy every run. Now the entry is due when its copy
    comes back, and only a copy lost for 3 minutes past that is replaced."""
    # GIVEN an outcome queued at 10:10 (the sweep's), the province away at 10:12: its copy comes back at 10:27
    hub, delivery, _, message = queued_outcome(503, "ok")
    assert delivery.deliver_queued(message, retry_in=lambda _: 900, now=at("2026-10-09", "10:12")) == "retry_queued"
    copies = len(hub.queue.outcome_keys())
    # WHEN the sweep runs every 5 minutes THEN it queues nothing while the copy waits, and 3 minutes more
    for hm in ("10:15", "10:20", "10:25"):
        assert hub.relay.sweep(at("2026-10-09", hm)).get("queued", 0) == 0, hm
    assert len(hub.queue.outcome_keys()) == copies
    # WHEN the copy was lost (still owed 3 minutes after it was due) THEN a sweep replaces it, once in its lease
    assert hub.relay.sweep(at("2026-10-09", "10:30"))["queued"] == 1
    for hm in ("10:35", "10:40", "10:45"):
        assert hub.relay.sweep(at("2026-10-09", hm)).get("queued", 0) == 0, hm
    assert hub.relay.sweep(at("2026-10-09", "10:50"))["queued"] == 1  # its lease (15 min) over, 3 overdue


def test_a_dead_lettered_outcome_waits_for_its_redrive_not_the_sweep() -> None:
    hub, delivery, _, message = queued_outcome(*([500] * MAX_FAILURES))
    for _ in range(MAX_FAILURES):
        outcome = delivery.deliver_queued(message, now=at("2026-10-09", "10:12"))
        message = hub.queue.messages[-1]
    assert outcome == "dead_lettered"
    copies = len(hub.queue.outcome_keys())
    assert hub.relay.sweep(at("2026-10-10")).get("queued", 0) == 0 and len(hub.queue.outcome_keys()) == copies


def test_each_scheduler_run_queues_the_outcomes_of_its_own_minute_once() -> None:
    order = act(replied(), APPEAL, UNIT, at("2026-10-08", "09:30"))  # the reply of 09:00 is owed to the province
    hub = Hub(order)
    minute = timedelta(minutes=1)
    queued = [
        hub.relay.sweep(at("2026-10-08", hm), older_than=timedelta(0), newer_than=minute)["queued"]
        for hm in ("09:00", "09:01", "09:02")
    ]
    assert queued == [1, 0, 0] and hub.queue.outcome_keys() == [f"{order.id}#3"]
    assert hub.relay.sweep(at("2026-10-08", "09:04")).get("queued", 0) == 0  # its copy's lease (15 min) holds
    assert hub.relay.sweep(at("2026-10-08", "09:18"))["queued"] == 1  # the sweep's: still owed, 3 min past its lease


def test_the_outbox_sweep_stops_before_its_timeout_and_the_next_run_goes_on() -> None:
    """Issue 16: the sweep function relays the outbox after the ratings' sweep, in what time is left. Each notice is
    a read, a publish and a write (here 0.5 s each); with less than 5 s left it stops before the next notice, what
    it did not reach still due. (Checked per chunk of 50, the first run ran 75 s of its 15.)"""
    orders = [new_order(rating_id=f"r{i:04d}") for i in range(120)]  # each owes its unit the dispatch notice
    hub = Hub(*orders)
    calls: Counter[Any] = Counter()
    invocation = Invocation(timeout_s=15)
    relay = OutboxRelay(slow(hub.store, lambda: invocation, 0.5, calls), slow(hub.notifier, lambda: invocation, 0.5,
                                                                               calls), hub.queue)  # fmt: skip

    first = relay.sweep(at("2026-10-08", "10:00"), remaining_ms=invocation.get_remaining_time_in_millis)
    assert first["behind"] == 1 and 0 < first["notified"] < 120
    assert invocation.get_remaining_time_in_millis() >= 5_000 - 1_500  # stopped with its spare, less one notice
    invocation = Invocation(timeout_s=600)
    second = relay.sweep(at("2026-10-08", "10:05"), remaining_ms=invocation.get_remaining_time_in_millis)
    assert (first["notified"] + second["notified"], second.get("behind", 0)) == (120, 0) and hub.store.outbox() == []
    assert len({n.key for n in hub.notifier.published}) == len(hub.notifier.published) == 120  # none twice


def test_the_deadline_checks_stop_before_the_timeout_when_store_calls_turn_slow_R11() -> None:
    """Issue 16: the scheduler's work-order checks look at the time left before the due read, every order and
    every command of an order, as its timers do: a batch whose store calls turn slow (throttling, a loaded table;
    here 2 s each) ends before Lambda's timeout with `full` set, and the next run escalates what it did not reach,
    each order once."""
    orders = [simple(new_order(rating_id=f"r{i:04d}")) for i in range(5)]
    hub = Hub(*orders)
    calls: Counter[Any] = Counter()
    invocation = Invocation(timeout_s=40)
    store = slow(hub.store, lambda: invocation, 2.0, calls)
    relay = OutboxRelay(store, slow(hub.notifier, lambda: invocation, 2.0, calls), hub.queue)
    monitor = WorkOrderMonitor(store, lambda: CALENDAR, relay)

    first = monitor.run(at("2026-10-09"), CALENDAR, remaining_ms=invocation.get_remaining_time_in_millis,
                        spare_ms=15_000)  # fmt: skip
    assert first.full and 0 < first.counts["escalated"] < 5
    assert invocation.get_remaining_time_in_millis() >= 15_000 - 10_000  # its spare, less one command's calls
    invocation = Invocation(timeout_s=600)
    second = monitor.run(at("2026-10-09", "00:01"), CALENDAR, remaining_ms=invocation.get_remaining_time_in_millis,
                         spare_ms=15_000)  # fmt: skip
    assert first.counts["escalated"] + second.counts["escalated"] == 5 and not second.full
    assert all([e.type for e in hub.order(o.id).history].count("DeadlineEscalated") == 1 for o in orders)
    late = Invocation(timeout_s=10)  # less than the spare: the due index is not even read
    assert monitor.run(at("2026-10-09", "00:02"), CALENDAR, remaining_ms=late.get_remaining_time_in_millis,
                       spare_ms=15_000).full and late.spent == 0  # fmt: skip

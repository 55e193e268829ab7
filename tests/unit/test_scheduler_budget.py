"""The scheduler function within its timeout when its store calls turn slow (issue 16; R6, R7, R11, R17).

Every fake the scheduler's services use (case, timer, rating, calendar and work-order stores, the queue, the SMS
gateway, the notifier) is wrapped so that each call takes driven seconds of the invocation's time; the Lambda
context reads that time. A run must stop with time to spare, and the runs that follow must end where one
unhurried run ends: every window recounted, reminder sent, order escalated and notice published, none twice.
No wall clock: the time is the sum of the calls' driven seconds.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import pytest

import functions.scheduler as scheduler_function
from hub.calendar import WorkingDayCalendar, parse_notice
from hub.outcomes import OutboxRelay
from hub.ports import Clock, Connector
from hub.workorders import WorkOrder
from infra.bootstrap import OutboxServices, SchedulerServices, build_outbox, build_scheduler, in_memory_cases
from infra.memory import InMemoryForwardQueue, InMemoryNotifier, InMemoryWorkOrderStore
from tests.conftest import ROOT, SAMPLES
from tests.unit.test_workorder import new_order, simple

TIMEOUT_S = 60  # the SchedulerFunction's (template.yaml)
NOW = datetime.fromisoformat("2027-01-05T09:00:00+08:00")  # the second reminders of 12-28's cases are due
NOTICE: dict[str, Any] = json.loads((SAMPLES / "cases" / "01-completed-no-rating.json").read_text("utf-8"))
CONNECTOR = Connector("vertical-system-demo01", "vertical_system", "demo", "赣县区市场监管局", "active", "s",
                      datetime.fromisoformat("2026-11-01T00:00:00+08:00"))  # fmt: skip
NOTICE_2027 = parse_notice((ROOT / "tests" / "fixtures" / "calendar" / "2027.json").read_bytes())
LOADED = WorkingDayCalendar([NOTICE_2027])


class Invocation:
    """A Lambda context whose time left is the timeout less the driven seconds the calls have taken."""

    def __init__(self, timeout_s: float = TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self.spent = 0.0

    def get_remaining_time_in_millis(self) -> int:
        return int((self.timeout_s - self.spent) * 1000)


class Slow:
    """A fake whose every public call takes `seconds` of the current invocation's time (a throttled table, a
    starved moto), counted by method and first argument so a test can tell work done twice."""

    def __init__(self, inner: Any, clock: Callable[[], Invocation], seconds: float, calls: Counter[Any]) -> None:
        self._inner, self._clock, self._seconds, self._calls = inner, clock, seconds, calls

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name.startswith("_") or not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            self._clock().spent += self._seconds
            self._calls[(type(self._inner).__name__, name, args[0] if args and isinstance(args[0], str) else None)] += 1
            return value(*args, **kwargs)

        return call


def slow(inner: Any, clock: Callable[[], Invocation], seconds: float, calls: Counter[Any]) -> Any:
    """`inner` slowed (typed as whatever port it fakes)."""
    return Slow(inner, clock, seconds, calls)


class FixedClock(Clock):
    def now(self) -> datetime:
        return NOW


class Hub:
    """12 windows provisional through 2027 with its notice stored but not yet recounted (each recount: a read, two
    timers moved, the case updated), their reminders due; 4 work orders overdue (R11), each owing notices (R17)."""

    def __init__(self, seconds: float) -> None:
        self.calls: Counter[Any] = Counter()
        self.invocation = Invocation()
        intake, _, fakes = in_memory_cases()
        for i in range(12):
            body = json.dumps([{**NOTICE, "case_no": f"GX20261228{i:05d}", "handled_at": "2026-12-28T10:00:00+08:00"}])
            intake.intake.receive(CONNECTOR, body.encode(), "application/json", f"req-{i}",
                                  datetime.fromisoformat("2026-12-28T10:00:00+08:00"))  # fmt: skip
        fakes["calendar_store"].put(NOTICE_2027, at=NOW, forced=False)  # loaded; its recompute left to the scheduler
        self.fakes = fakes
        self.orders = InMemoryWorkOrderStore()
        self.order_ids = []
        for i in range(4):
            order: WorkOrder = simple(new_order(rating_id=f"r{i:04d}"))
            assert self.orders.put_new(order)
            self.order_ids.append(order.id)
        self.notifier, self.outcomes = InMemoryNotifier(), InMemoryForwardQueue()

        def slowed(fake: Any) -> Any:
            return slow(fake, lambda: self.invocation, seconds, self.calls)

        self.services: SchedulerServices = build_scheduler(
            ratings=slowed(fakes["ratings"]), cases=slowed(fakes["cases"]), timers=slowed(fakes["timers"]),
            queue=slowed(fakes["queue"]), sms=slowed(fakes["sms"]), log=slowed(fakes["log"]),
            calendar_store=slowed(fakes["calendar_store"]), rating_link="https://hcp.example/rate", clock=FixedClock(),
        )  # fmt: skip
        self.outbox: OutboxServices = build_outbox(store=slowed(self.orders), notifier=slowed(self.notifier),
                                                   queue=slowed(self.outcomes), calendars=lambda: LOADED)  # fmt: skip
        assert isinstance(self.outbox.relay, OutboxRelay)

    def invoke(self) -> float:
        """One scheduler invocation; the driven seconds it took."""
        self.invocation = Invocation()
        scheduler_function._run(self.services, lambda: self.outbox, cast(Any, self.invocation))
        return self.invocation.spent

    def outcome(self) -> dict[str, Any]:
        """What the runs did, as a user sees it: the SMS sent, the notices published, each order's history, each
        case's window and each timer's state."""
        cases = self.fakes["cases"]
        windows = sorted((k, c.closes_at, c.provisional) for k, c in cases._cases.items())
        timers = sorted((s.timer.timer_id, s.timer.due_at, s.pending) for s in self.fakes["timers"]._timers.values())
        histories = {i: [e.type for e in self.orders.get(i).history] for i in self.order_ids}  # type: ignore[union-attr]
        return {"sms": sorted(self.fakes["sms"].sent), "notices": sorted(n.key for n in self.notifier.published),
                "histories": histories, "windows": windows, "timers": timers}  # fmt: skip


def unhurried() -> dict[str, Any]:
    hub = Hub(seconds=0.0)
    hub.invoke()
    assert hub.invoke() == 0.0 and hub.outcome()["sms"]  # nothing left for a second run; reminders were due
    return hub.outcome()


@pytest.mark.parametrize("seconds", [1.0, 2.5])
def test_every_scheduler_run_stops_with_time_to_spare_and_the_next_ones_finish_the_work_R6_R7_R11(
    seconds: float,
) -> None:
    """Each call takes `seconds`: one unhurried run's work (48 recount calls, 36 timers, 4 escalations and their
    notices) is several invocations' worth. Before the fix the recount ran before any look at the clock and the
    owed notices were relayed 50 between looks: the first invocation ran 120 s and more of its 60."""
    expected = unhurried()
    hub = Hub(seconds)
    spent = [hub.invoke() for _ in range(40)]

    assert max(spent) <= TIMEOUT_S - 5, spent  # every invocation ended with at least 5 s of its timeout left
    assert hub.outcome() == expected  # everything done: no window, reminder, escalation or notice skipped
    assert len(hub.fakes["sms"].sent) == len(set(hub.fakes["sms"].sent))  # and none twice (R7)
    recounted = Counter(key for (_, name, key), n in hub.calls.items() if name == "update_window" for _ in range(n))
    assert set(recounted.values()) == {1} and len(recounted) == 12  # each window recounted once


def test_a_run_with_no_time_left_reads_no_index_and_does_nothing() -> None:
    """A run that starts with less than its spare left (a cold start on a starved machine) reads the calendar
    and stops: no due index, no outbox, no window."""
    hub = Hub(seconds=1.0)
    hub.invocation = Invocation(timeout_s=12)  # less than TIME_TO_SPARE_MS
    before = hub.outcome()
    scheduler_function._run(hub.services, lambda: hub.outbox, cast(Any, hub.invocation))

    assert hub.outcome() == before
    assert [name for (_, name, _) in hub.calls] == ["notices"]  # the calendar read, then nothing

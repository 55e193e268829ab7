"""Deadline checks on the scheduler: the unit's morning reminder, the overdue mark and escalation (R11, R12, R17).

The scheduler reads only the orders whose `next_check_at` is due (`WorkOrderStore.due`), and for each does
what it owes, as the hub (`SYSTEM`), one command at a time:
  - a provisional deadline whose year is now known is counted again first (`RecomputeDeadlines`), so a
    reminder or escalation never fires on a guessed date;
  - a binding deadline falling due today gets its reminder to the unit from 08:00 Beijing time on;
  - a passed one is marked overdue and escalated (`Escalate`): the unit's to its managing department, an
    appeal review one level up (`WorkOrder.escalation_target`).
Each is recorded in the order's history and saved under optimistic locking: of two overlapping runs one
saves, the other meets `VersionConflict`, reads the order again and finds nothing left to do — so every
reminder and escalation happens exactly once. The new events are relayed at once (`OutboxRelay`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from hub.calendar import WorkingDayCalendar
from hub.workorders.commands import Command, Escalate, RecomputeDeadlines, RemindDeadline
from hub.workorders.model import WorkOrder
from hub.workorders.parties import SYSTEM
from hub.workorders.records import Status
from hub.workorders.refusals import VersionConflict, WorkOrderError
from hub.workorders.store import WorkOrderStore

if TYPE_CHECKING:
    from hub.outcomes import OutboxRelay  # hub.outcomes reads the orders: imported for the annotation only

__all__ = ["MonitorReport", "WorkOrderMonitor", "owed_commands"]

MAX_STEPS = 12  # commands per order per run: a handful at most (recompute, three reminders, four escalations)
MAX_CONFLICTS = 3  # re-reads after losing a race before leaving the order to the next run


@dataclass(frozen=True, slots=True)
class MonitorReport:
    """`full`: as many orders were due as one run takes; the caller may run again at once."""

    due: int
    counts: Counter[str] = field(default_factory=Counter)
    errors: tuple[str, ...] = ()
    full: bool = False


def _recomputable(order: WorkOrder, calendar: WorkingDayCalendar) -> bool:
    limits = [order.deadlines.reply, order.deadlines.contact, order.deadlines.resolve, order.deadlines.appeal]
    if order.appeal is not None:
        limits.append(order.appeal.review_by)
    return any(limit.provisional and limit.recomputed(calendar) != limit for limit in limits)


def owed_commands(order: WorkOrder, now: datetime, calendar: WorkingDayCalendar) -> list[Command]:
    """What the hub owes this order at `now`, in the order it is done."""
    if order.status is Status.CLOSED:
        return []
    if _recomputable(order, calendar):
        return [RecomputeDeadlines()]  # first: the rest is decided on the recounted deadlines
    commands: list[Command] = [RemindDeadline(deadline=kind) for kind in order.reminders_due(now)]
    commands += [Escalate(deadline=check.deadline) for check in order.overdue_checks(now) if check.escalation_due]
    return commands


_OUTCOME = {"recompute_deadlines": "recomputed", "remind_deadline": "reminded", "escalate": "escalated"}


class WorkOrderMonitor:
    def __init__(
        self,
        store: WorkOrderStore,
        calendars: Callable[[], WorkingDayCalendar],
        relay: OutboxRelay | None = None,
        *,
        batch: int = 100,
    ) -> None:
        self.store = store
        self.calendars = calendars
        self.relay = relay
        self.batch = batch

    def run(
        self,
        now: datetime,
        calendar: WorkingDayCalendar | None = None,
        *,
        remaining_ms: Callable[[], int] | None = None,
        spare_ms: int = 15_000,
    ) -> MonitorReport:
        """Check every due order at `now`; one order's fault is counted and does not hold up the others.

        With `remaining_ms` (the invocation's time left) the time is checked before every order, as the timers'
        run does: a batch whose store calls turn slow (throttling, retries) ends with `full` set before Lambda's
        timeout, and the orders it did not reach are still due for the next run. The due index is read only with
        time left, and an order's commands stop between two saves when time runs short: each is saved under its
        version, so the next run reads the order and does what is still owed, nothing twice."""
        calendar = calendar or self.calendars()

        def out_of_time() -> bool:
            return remaining_ms is not None and remaining_ms() < spare_ms

        if out_of_time():
            return MonitorReport(0, full=True)
        due = self.store.due(now, self.batch)
        counts: Counter[str] = Counter()
        errors: list[str] = []
        for checked, order in enumerate(due):
            if out_of_time():
                return MonitorReport(checked, counts, tuple(errors), full=True)
            try:
                counts.update(self.check(order.id, now, calendar, out_of_time=out_of_time))
            except Exception as exc:  # ids and exception types only: no personal data in a report
                counts["error"] += 1
                errors.append(f"{order.id}: {type(exc).__name__}")
        return MonitorReport(len(due), counts, tuple(errors), full=len(due) >= self.batch or counts["behind"] > 0)

    def check(
        self, order_id: str, now: datetime, calendar: WorkingDayCalendar, *,
        out_of_time: Callable[[], bool] = lambda: False,
    ) -> Counter[str]:  # fmt: skip
        """Do what one order is owed, one command at a time, each saved under its version; after the first,
        another only while `out_of_time()` is false (the rest is still owed, and the order still due)."""
        counts: Counter[str] = Counter()
        conflicts = 0
        for step in range(MAX_STEPS):
            if step and out_of_time():
                counts["behind"] += 1
                break
            order = self.store.get(order_id)
            if order is None:
                counts["missing"] += 1
                break
            commands = owed_commands(order, now, calendar)
            if not commands:
                break
            command = commands[0]
            try:
                transition = order.handle(command, by=SYSTEM, at=now, calendar=calendar)
            except WorkOrderError as refused:  # e.g. an action stamped after `now`: the next run comes back
                counts[f"refused:{refused.code}"] += 1
                break
            try:
                self.store.save(transition.order, expected_version=order.version)
            except VersionConflict:
                conflicts += 1
                counts["conflict"] += 1
                if conflicts >= MAX_CONFLICTS:
                    break
                continue  # read again: the other run may have done it
            counts[_OUTCOME[command.action]] += 1
            if self.relay is not None:
                for what, n in self.relay.relay_new(transition.order, order.version).items():
                    counts[f"relay:{what}"] += n
        return counts

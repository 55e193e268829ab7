"""The work-order store port: orders by id under optimistic locking, the transactional outbox, the due index,
and the scoped lists people read. Adapters: `infra.workorder_store.DynamoWorkOrderStore`, and the fake
`infra.memory.InMemoryWorkOrderStore`; one contract test runs over both."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from hub.calendar import WorkingDayCalendar
from hub.codes import Level, county_of, region_level
from hub.workorders.commands import Command
from hub.workorders.events import Event, WorkOrderEvent
from hub.workorders.model import Transition, WorkOrder
from hub.workorders.parties import Actor
from hub.workorders.records import Status

__all__ = ["CursorInvalid", "OrderFilter", "OrderPage", "OutboxEntry", "WorkOrderStore", "owed"]

_PREFIX_DIGITS = {Level.PROVINCE: 2, Level.CITY: 4, Level.COUNTY: 6, Level.TOWNSHIP: 9, Level.VILLAGE: 12}


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


def notice_only(event: Event) -> bool:
    """Whether an owed event is for departments only (a notice), not an outcome the province tracks: the two are
    kept apart in the outbox so notices are not read behind outcomes (issue 16)."""
    return event.forward_to_province is None


def region_prefix(region_code: str) -> str:
    """The digits a division shares with everything inside it: 360704000000 -> "360704"."""
    return region_code[: _PREFIX_DIGITS[region_level(region_code)]]


def managing_partition(region_code: str) -> str:
    """Where a department's orders are kept together: its city, or the province itself for a province."""
    if region_level(region_code) is Level.PROVINCE:
        return region_code
    return region_code[:4] + "0" * 8


def due_at(order: WorkOrder) -> datetime | None:
    """The earliest binding deadline: what `due_before` and `overdue_at` compare; None when none binds."""
    return min((limit.at for limit in order.open_deadlines().values()), default=None)


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """What a list asks for, already inside the asker's scope (`hub.access`).

    `agencies`: those units' orders, unit by unit in the order given. Else `region`: the orders its
    department manages — a city's or a province's whole partition, a county's own and its townships'
    and villages' (R18). Else every order, status by status. Then the unit's region lies inside
    `region`, the status is `status`, the earliest binding deadline is at or before `due_before`, and
    one has passed before `overdue_at`. Within each group the newest dispatch comes first (for a
    region, by managing department, then newest dispatch)."""

    agencies: tuple[str, ...] = ()
    region: str | None = None
    status: Status | None = None
    due_before: datetime | None = None
    overdue_at: datetime | None = None  # overdue: a binding deadline passed before this moment

    def admits(self, order: WorkOrder) -> bool:
        """Whether the order belongs in the list (in which group and where: `group_of`, `recency_of`)."""
        if self.agencies and order.unit.agency_code not in self.agencies:
            return False
        if self.region is not None:
            if not order.unit.region_code.startswith(region_prefix(self.region)):
                return False
            if not self.agencies and not self._manages(order.managing_department.region_code):
                return False
        if self.status is not None and order.status is not self.status:
            return False
        due = due_at(order)
        if self.due_before is not None and (due is None or due > self.due_before):
            return False
        return not (self.overdue_at is not None and (due is None or due >= self.overdue_at))

    def _manages(self, managing_region: str) -> bool:
        assert self.region is not None
        if region_level(self.region) in (Level.PROVINCE, Level.CITY):
            return managing_partition(managing_region) == managing_partition(self.region)
        return managing_region == county_of(self.region)  # R18: a township's orders are its county's

    def group_of(self, order: WorkOrder) -> int:
        """The list's groups are read in turn: a unit's orders, the region's, or one status's."""
        if self.agencies:
            return self.agencies.index(order.unit.agency_code)
        if self.region is not None:
            return 0
        return list(Status).index(order.status)

    def recency_of(self, order: WorkOrder) -> tuple[str, datetime, str]:
        """Descending within a group: for a region by managing department first, then newest dispatch."""
        managing = order.managing_department.region_code if self.region is not None and not self.agencies else ""
        return managing, order.dispatched_at, order.id


@dataclass(frozen=True, slots=True)
class OrderPage:
    """A page of a list; `cursor` reads the next one (None: this was the last)."""

    orders: list[WorkOrder]
    cursor: str | None = None


class CursorInvalid(ValueError):
    """The page cursor was not one this store handed out."""


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
    def outbox(
        self, limit: int = 100, *, due_by: datetime | None = None, notices_only: bool = False
    ) -> list[OutboxEntry]:
        """Entries not yet marked done, earliest due first. An entry is due from its event's time, and once its
        copy is on the queue from when `outbox_due` says; with `due_by`, only those due by then (the index's
        key: an entry whose copy waits out its backoff is not even read). With `notices_only`, only the entries
        the province does not track (`forward_to_province` None), and the outcomes are not read at all: in an
        outage thousands of them are owed, and the notices (R11, R17 deadlines) must not wait behind them."""

    @abstractmethod
    def outbox_due(self, key: str, at: datetime) -> None:
        """The entry `key` (`OutboxEntry.key`) is next due at `at`: its queued copy comes back then (a backoff, a
        sweep's lease; `DEAD_LETTERED_DUE`: never, it waits in the dead-letter queue), and the sweep leaves it
        alone till then. Harmless once the entry is done."""

    @abstractmethod
    def outbox_done(self, entry: OutboxEntry) -> None:
        """The entry was delivered; it is not returned by `outbox` again."""

    @abstractmethod
    def owes(self, entry: OutboxEntry) -> bool:
        """Whether the entry is still owed (a strongly consistent read): a second copy of a queued outcome,
        from a relay and a sweep, finds it done and does nothing."""

    @abstractmethod
    def list(self, filters: OrderFilter, *, limit: int = 50, cursor: str | None = None) -> OrderPage:
        """At most `limit` orders the filter admits, in its order, from where `cursor` left off; index
        reads, never a scan. Raises `CursorInvalid` for a cursor it did not hand out. A page may hold
        fewer than `limit` while a cursor follows; the pages together hold every admitted order once."""

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

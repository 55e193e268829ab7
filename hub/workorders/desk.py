"""The work-order desk: what a signed-in person does with orders — list them, read one, act on one.

The person's role and scope decide what they see and who they act as (`hub.access`); the order's own
rules decide the rest, and their refusals come back with their code and status (403 role or ownership,
409 state, deadline, version). Time is an argument: the edge reads the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from hub.access import Principal, work_order_actor, work_order_list_scope
from hub.calendar import SHANGHAI, WorkingDayCalendar
from hub.codes import CodeError, check_region_code, check_uscc
from hub.errors import Problem, problem
from hub.validation import detail_zh
from hub.workorders.commands import COMMAND_ADAPTER, Command
from hub.workorders.events import Event
from hub.workorders.model import WorkOrder
from hub.workorders.records import Status
from hub.workorders.refusals import VersionConflict, WorkOrderError
from hub.workorders.store import CursorInvalid, OrderFilter, WorkOrderStore
from hub.workorders.transitions import TRANSITIONS
from hub.workorders.views import order_summary, order_view

if TYPE_CHECKING:
    from hub.outcomes import OutboxRelay

__all__ = ["DEFAULT_PAGE", "MAX_PAGE", "Acted", "DeskRefusal", "WorkOrderDesk"]

DEFAULT_PAGE = 50
MAX_PAGE = 100


class DeskRefusal(Exception):
    """A request the desk refuses: its HTTP status and problems; `action` when an order's rule refused it."""

    def __init__(self, status: int, *problems: Problem, action: str | None = None) -> None:
        super().__init__(", ".join(p.code for p in problems))
        self.status = status
        self.problems = list(problems)
        self.action = action


@dataclass(frozen=True, slots=True)
class Acted:
    """An action done: the order after it, the event it recorded, and what was relayed at once."""

    action: str
    order: WorkOrder
    event: Event
    relayed: Mapping[str, int] = field(default_factory=dict)
    relay_failed: str | None = None  # the exception's type: the events wait in the outbox for the scheduler

    def as_dict(self, now: datetime) -> dict[str, Any]:
        return {"order": order_view(self.order, now), "event": self.event.model_dump(mode="json")}


class WorkOrderDesk:
    """`relay` gives the outbox relay that sends an action's notices and outcome at once (None: the scheduler's
    next run does); it is called only after a save, and its failure never undoes the person's action."""

    def __init__(
        self,
        store: WorkOrderStore,
        calendars: Callable[[], WorkingDayCalendar],
        relay: Callable[[], OutboxRelay] | None = None,
    ) -> None:
        self.store = store
        self.calendars = calendars
        self.relay = relay

    # ---- reading

    def show(self, principal: Principal, order_id: str, now: datetime) -> dict[str, Any]:
        return order_view(self._visible(principal, order_id), now)

    def list(self, principal: Principal, query: Mapping[str, str | None], now: datetime) -> dict[str, Any]:
        """A page of the orders the person may see, filtered by `query` (status, unit, region, due_before,
        overdue, limit, cursor: the strings as asked), newest dispatch first, and the next page's cursor."""
        filters, limit = self._filters(principal, {k: (v or "").strip() or None for k, v in query.items()}, now)
        try:
            page = self.store.list(filters, limit=limit, cursor=(query.get("cursor") or "").strip() or None)
        except CursorInvalid:
            raise DeskRefusal(
                400, problem("CURSOR_INVALID", "cursor", "start again without it", detail_zh="请去掉 cursor 重新查询")
            ) from None
        return {"items": [order_summary(o, now) for o in page.orders], "next_cursor": page.cursor}

    def _filters(self, principal: Principal, query: Mapping[str, str | None], now: datetime) -> tuple[OrderFilter, int]:
        problems: list[Problem] = []
        status = _parsed(problems, "status", query.get("status"), Status)
        unit = _parsed(problems, "unit", query.get("unit"), check_uscc)
        region = _parsed(problems, "region", query.get("region"), check_region_code)
        due_before = _parsed(problems, "due_before", query.get("due_before"), _moment)
        limit = _parsed(problems, "limit", query.get("limit"), _page_size) or DEFAULT_PAGE
        overdue = (query.get("overdue") or "").lower() in ("1", "true", "yes")
        if problems:
            raise DeskRefusal(422, *problems)
        agencies, scoped_region = work_order_list_scope(principal, unit=unit, region=region)
        filters = OrderFilter(agencies, scoped_region, status, due_before, now if overdue else None)
        return filters, limit

    def _visible(self, principal: Principal, order_id: str) -> WorkOrder:
        order = self.store.get(order_id)
        if order is None:
            raise DeskRefusal(404, problem("WORK_ORDER_UNKNOWN", "order_id", order_id))
        principal.require(
            principal.may_see(agency_code=order.unit.agency_code, region_code=order.unit.region_code),
            f"see work order {order_id}",
            f"查看工单 {order_id}",
        )
        return order

    # ---- acting

    def act(self, principal: Principal, order_id: str, body: dict[str, Any], now: datetime) -> Acted:
        """One command (`{"action": ..., fields..., "expected_version": n}`), as the person, saved under the
        version it was decided on; then relayed at once (best effort: the outbox holds what is owed)."""
        command, expected = parse_command(body)
        order = self._visible(principal, order_id)
        actor = work_order_actor(principal, order_id=order.id, agency_code=order.unit.agency_code)
        try:
            if expected is not None and expected != order.version:
                raise VersionConflict(order.id, expected, order.version)
            transition = order.handle(command, by=actor, at=now, calendar=self.calendars())
            self.store.save(transition.order, expected_version=order.version)
        except WorkOrderError as exc:
            path = "action" if exc.http_status == 409 else ""
            raise DeskRefusal(exc.http_status, exc.as_problem(path), action=command.action) from None
        relayed: Mapping[str, int] = {}
        failed: str | None = None
        if self.relay is not None:
            try:
                relayed = dict(self.relay().relay_new(transition.order, order.version))
            except Exception as exc:  # owed events stay in the outbox: the scheduler and the sweep relay them
                failed = type(exc).__name__
        return Acted(command.action, transition.order, transition.event, relayed, failed)


def parse_command(body: dict[str, Any]) -> tuple[Command, int | None]:
    """The command and the optional `expected_version` of an action's JSON object, or 422 with field paths."""
    data = dict(body)
    expected = data.pop("expected_version", None)
    problems: list[Problem] = []
    if expected is not None and (not isinstance(expected, int) or isinstance(expected, bool) or expected < 1):
        problems.append(
            problem("FIELD_INVALID", "expected_version", "a version number, from 1", detail_zh="应为从 1 起的版本号")
        )
    command: Command | None = None
    try:
        command = COMMAND_ADAPTER.validate_python(data)
    except ValidationError as exc:
        problems.extend(_field_problems(exc))
    if problems or command is None:
        raise DeskRefusal(422, *problems)
    return command, expected


def _field_problems(exc: ValidationError) -> list[Problem]:
    found = []
    for error in exc.errors(include_url=False, include_input=False):
        # the union's tag (e.g. "send_reply") is in the location; the body's field path is what helps
        loc = [str(part) for part in error["loc"]]
        if len(loc) > 1 and loc[0] in TRANSITIONS:
            loc = loc[1:]
        path = ".".join(loc) or "action"
        kind = error["type"]
        if kind == "missing":
            found.append(problem("FIELD_REQUIRED", path))
        elif kind == "extra_forbidden":
            found.append(problem("FIELD_UNKNOWN", path))
        elif kind == "PERSONAL_DATA_IN_TEXT":
            found.append(problem("PERSONAL_DATA_IN_TEXT", path, error["msg"], detail_zh=path))
        else:
            zh = detail_zh(error, "FIELD_INVALID", "")
            found.append(problem("FIELD_INVALID", path, error["msg"], detail_zh=zh))
    return found


def _parsed(problems: list[Problem], name: str, value: str | None, parse: Callable[[str], Any]) -> Any:
    if value is None:
        return None
    try:
        return parse(value)
    except (ValueError, CodeError) as exc:
        zh = getattr(exc, "detail_zh", None) or "取值无法识别"
        problems.append(problem("FIELD_INVALID", name, str(getattr(exc, "detail", "") or exc)[:200], detail_zh=zh))
        return None


def _moment(text: str) -> datetime:
    """An ISO time with its offset, or a date: the end of that day in Beijing."""
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(23, 59, 59), tzinfo=SHANGHAI)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("a time needs its UTC offset")
    return moment


def _page_size(text: str) -> int:
    size = int(text)
    if not 1 <= size <= MAX_PAGE:
        raise ValueError(f"between 1 and {MAX_PAGE}")
    return size

"""A work order's reporting facts (the one place hub/reports reads the work-order model)."""

from __future__ import annotations

from hub.reports.cells import OrderFacts
from hub.workorders import DeadlineKind, Status, WorkOrder

_HANDLING = frozenset({Status.DISPATCHED, Status.SIMPLE, Status.COMPLEX, Status.CONTACTED})


def order_facts(order: WorkOrder | None) -> OrderFacts | None:
    if order is None:
        return None
    done = order.resolution or order.reply
    open_ = set(order.open_deadlines()) - {DeadlineKind.APPEAL_REVIEW}
    return OrderFacts(
        order_id=order.id,
        dispatched_at=order.dispatched_at,
        region_code=order.unit.region_code,
        agency_code=order.unit.agency_code,
        adopted=order.rating_adopted,
        fixed=done is not None,
        on_time=bool(done and done.on_time),
        real_name=order.real_name,
        visited=order.follow_up is not None,
        survey=order.survey.satisfaction if order.survey is not None else None,
        extensions=order.approved_extensions,
        appealed=order.appeal is not None,
        upheld=order.appeal is not None and order.appeal.status == "upheld",
        overdue=order.status in _HANDLING and any(e.deadline in open_ for e in order.escalations),
    )

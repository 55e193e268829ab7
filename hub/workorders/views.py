"""What a person is shown of an order: a list's summary line, and the whole order with what binds and is overdue.

Neither carries the rater's personal data (R20): an order names the rating, never the person.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.workorders.model import WorkOrder

__all__ = ["order_summary", "order_view"]


def order_summary(order: WorkOrder, now: datetime) -> dict[str, Any]:
    """One line of a list: ids, status, the unit and its department, the binding deadlines, what is overdue."""
    return {
        "id": order.id,
        "rating_id": order.rating_id,
        "version": order.version,
        "status": order.status.value,
        "kind": order.kind.value if order.kind else None,
        "grade": order.grade.value,
        "real_name": order.real_name,
        "case_no": order.case_no,
        "service_name": order.service_name,
        "unit": order.unit.model_dump(mode="json"),
        "managing_department": order.managing_department.model_dump(mode="json"),
        "dispatched_at": order.dispatched_at.isoformat(),
        "deadlines": {kind.value: limit.at.isoformat() for kind, limit in order.open_deadlines().items()},
        "overdue": [check.deadline.value for check in order.overdue_checks(now)],
        "closed_at": order.closed_at.isoformat() if order.closed_at else None,
    }


def order_view(order: WorkOrder, now: datetime) -> dict[str, Any]:
    """The order with its whole history, its open deadlines and what is overdue at `now`."""
    return {
        **order.model_dump(mode="json"),
        "open_deadlines": {k.value: v.model_dump(mode="json") for k, v in order.open_deadlines().items()},
        "overdue": [check.deadline.value for check in order.overdue_checks(now)],
    }

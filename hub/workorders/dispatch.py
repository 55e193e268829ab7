"""R10: a bad rating opens one work order, dispatched to the rated unit, managed by its department (R18)."""

from __future__ import annotations

from datetime import datetime

from hub.calendar import WorkingDayCalendar
from hub.rating import Rating
from hub.workorders.deadlines import (
    APPEAL_WORKING_DAYS,
    CONTACT_WORKING_DAYS,
    REPLY_WORKING_DAYS,
    RESOLVE_WORKING_DAYS,
    Deadlines,
    TimeLimit,
)
from hub.workorders.events import WorkOrderDispatched
from hub.workorders.model import WorkOrder
from hub.workorders.parties import SYSTEM, HandlingUnit, managing_department_for
from hub.workorders.records import Status
from hub.workorders.refusals import WorkOrderError

__all__ = ["open_work_order", "work_order_id_for"]


def work_order_id_for(rating_id: str) -> str:
    """One order per rating, however often it is re-delivered (R10): the id is the rating's."""
    return f"wo-{rating_id}"


def open_work_order(rating: Rating, now: datetime, calendar: WorkingDayCalendar) -> WorkOrder:
    """R10: a bad rating, item or staff, opens one order dispatched to the rated agency at `now`."""
    if not rating.is_bad:
        raise WorkOrderError("NOT_A_BAD_RATING")
    target = rating.target
    assert target.level is not None  # derived from the region code by the rating model (R3)
    unit = HandlingUnit(
        agency_code=target.agency_code,
        agency_name=target.agency_name,
        region_code=target.region_code,
        level=target.level,
    )
    managing = managing_department_for(target.region_code)
    deadlines = Deadlines(
        reply=TimeLimit.counted(calendar, now, REPLY_WORKING_DAYS),
        contact=TimeLimit.counted(calendar, now, CONTACT_WORKING_DAYS),
        resolve=TimeLimit.counted(calendar, now, RESOLVE_WORKING_DAYS),
        appeal=TimeLimit.counted(calendar, now, APPEAL_WORKING_DAYS),
    )
    order_id = work_order_id_for(rating.rating_id)
    dispatched = WorkOrderDispatched(
        order_id=order_id,
        rating_id=rating.rating_id,
        version=1,
        at=now,
        actor=SYSTEM.ref,
        unit=unit,
        managing_department=managing,
        real_name=rating.rater.real_name,
        deadlines=deadlines,
    )
    return WorkOrder(
        id=order_id,
        rating_id=rating.rating_id,
        version=1,
        status=Status.DISPATCHED,
        grade=rating.grade,
        staff_grade=rating.staff_grade,
        staff_id=target.staff.staff_id if target.staff is not None else None,
        case_no=rating.case.case_no,
        service_code=rating.case.service_code,
        service_name=rating.case.service_name,
        real_name=rating.rater.real_name,
        unit=unit,
        managing_department=managing,
        dispatched_at=now,
        deadlines=deadlines,
        history=(dispatched,),
    )

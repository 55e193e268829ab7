"""Work-order outcomes to the province: an order's event to a `ProvincialOutcome` record, and the sink.

The record is pure and deterministic (the same event always gives the same record), so its `outcomeId`
— the order id and the event's version — is an idempotency key the province can trust on every retry.
Grades and times follow the province's mapping (grade direction, time format), like the ratings.
"""

from __future__ import annotations

from hub.forwarding import ProvinceReceipt
from hub.ports import OutcomeSink
from hub.workorders import (
    AppealUpheld,
    Event,
    Kind,
    OrderResolved,
    RatingNotAdopted,
    ReplySent,
    SatisfactionSurveyed,
    WorkOrder,
)
from infra.province.client import ProvincialClient
from infra.province.mapping import DEFAULT, ProvincialMapping
from infra.province.payload import OUTCOME_FIELD_NAMES
from infra.province.sink import translated

OUTCOME_TYPES = {"reply": "1", "rectification": "2", "not_adopted": "3", "satisfaction": "4"}
_GROUNDS = {"mistaken": "1", "malicious": "2"}


def outcome_record(order: WorkOrder, event: Event, mapping: ProvincialMapping = DEFAULT) -> dict[str, str]:
    """The record for one event the province tracks (`event.forward_to_province`); ValueError otherwise."""
    action = event.forward_to_province
    if action is None:
        raise ValueError(f"{type(event).__name__} is not forwarded to the province")
    values: dict[str, str | None] = {
        "outcomeId": f"{order.id}#{event.version}",
        "evalId": order.rating_id,
        "workOrderNo": order.id,
        "projectNo": order.case_no,
        "deptCode": order.unit.agency_code,
        "areaCode": order.unit.region_code,
        "outcomeType": OUTCOME_TYPES[action],
        "handleTime": mapping.format_time(event.at),
        "workOrderType": {Kind.SIMPLE: "1", Kind.COMPLEX: "2", None: None}[order.kind],
    }
    if isinstance(event, ReplySent):
        values |= {"handleOpinion": event.summary, "onTime": "1" if event.on_time else "0"}
    elif isinstance(event, OrderResolved):
        values |= {"handleOpinion": event.rectification, "onTime": "1" if event.on_time else "0"}
    elif isinstance(event, RatingNotAdopted):
        grounds: str | None = _GROUNDS[event.grounds]
        values |= {"handleOpinion": event.verification, "notAdoptedBy": "1", "notAdoptedReason": grounds}
    elif isinstance(event, AppealUpheld):
        grounds = _GROUNDS[order.appeal.grounds] if order.appeal is not None else None
        values |= {"handleOpinion": event.finding, "notAdoptedBy": "2", "notAdoptedReason": grounds}
    elif isinstance(event, SatisfactionSurveyed):
        grade = mapping.grade_codes[event.satisfaction] if event.satisfaction is not None else None
        values |= {"satisfaction": grade, "visitMethod": event.method}
    return {name: value for name in OUTCOME_FIELD_NAMES if (value := values.get(name)) not in (None, "")}


class ClientOutcomeSink(OutcomeSink):
    """The provincial client as the domain's `OutcomeSink`: its failures translated to the domain's two."""

    def __init__(self, client: ProvincialClient) -> None:
        self.client = client

    def send_outcome(self, order: WorkOrder, event: Event) -> ProvinceReceipt:
        record = outcome_record(order, event, self.client.mapping)
        return translated(lambda: self.client.send_outcome(record))

"""The province hears what became of a bad rating (第十七条, 第十九条): one record per outcome it tracks — the
reply (R11), the rectification (R12), not adopted by the unit (R14) or by an upheld appeal (R17), the follow-up
satisfaction (R16) — valid against the published schema, keyed by order and event version, nothing personal."""

from __future__ import annotations

import json

from hub.rating import Grade
from hub.workorders import (
    Classify,
    Kind,
    MarkNotAdopted,
    RecordContact,
    RecordFollowUpVisit,
    Resolve,
    SurveySatisfaction,
    UpholdAppeal,
    WorkOrder,
)
from infra.province.mapping import ProvincialMapping
from infra.province.outcome import outcome_record
from infra.province.payload import PROVINCIAL_SCHEMAS
from infra.province.stub import outcome_validator
from tests.conftest import ROOT
from tests.unit.test_workorder import (
    APPEAL,
    COUNTY_AGENCY,
    COUNTY_MANAGEMENT,
    ID_NO,
    PHONE,
    RATER_NAME,
    UNIT,
    act,
    at,
    new_order,
    replied,
    simple,
)


def last_record(order: WorkOrder, mapping: ProvincialMapping | None = None) -> dict[str, str]:
    record = outcome_record(order, order.history[-1], *([mapping] if mapping else []))
    assert list(outcome_validator().iter_errors(record)) == []
    return record


def test_a_reply_is_forwarded_with_its_opinion_and_whether_it_was_on_time_R11() -> None:
    order = replied(new_order(real_name=True))
    record = last_record(order)
    assert record == {
        "outcomeId": f"{order.id}#3",
        "evalId": "r0001",
        "workOrderNo": order.id,
        "projectNo": "GX2026093000045",
        "deptCode": COUNTY_AGENCY,
        "areaCode": "360704000000",
        "outcomeType": "1",
        "handleTime": "2026-10-08 09:00:00",
        "workOrderType": "1",
        "handleOpinion": "已优化叫号流程，增开窗口",
        "onTime": "1",
    }
    for personal in (RATER_NAME, PHONE, ID_NO):  # R20
        assert personal not in json.dumps(record, ensure_ascii=False)


def test_the_rectification_of_a_complex_order_is_forwarded_late_when_late_R12() -> None:
    order = act(new_order(), Classify(kind=Kind.COMPLEX), when=at("2026-09-30", "11:00"))
    order = act(order, RecordContact(note="已电话沟通"), when=at("2026-10-09"))
    order = act(order, Resolve(rectification="已调整预约号源"), when=at("2026-10-21"))
    record = last_record(order)
    assert (record["outcomeType"], record["workOrderType"], record["onTime"]) == ("2", "2", "0")


def test_not_adopted_says_by_whom_and_why_R14_R17() -> None:
    by_unit = act(simple(), MarkNotAdopted(grounds="malicious", verification="监控核实未办理业务"))
    assert {k: last_record(by_unit)[k] for k in ("outcomeType", "notAdoptedBy", "notAdoptedReason")} == {
        "outcomeType": "3",
        "notAdoptedBy": "1",
        "notAdoptedReason": "2",
    }
    appealed = act(simple(), APPEAL, UNIT, at("2026-10-08", "09:30"))
    upheld = act(appealed, UpholdAppeal(finding="核实系恶意差评"), COUNTY_MANAGEMENT, at("2026-10-09"))
    record = last_record(upheld)
    assert (record["notAdoptedBy"], record["notAdoptedReason"], record["handleOpinion"]) == ("2", "2", "核实系恶意差评")


def test_the_follow_up_satisfaction_uses_the_provinces_grade_direction_R16() -> None:
    order = act(
        replied(), RecordFollowUpVisit(visitor_name="李专员", method="phone", note="已回访"), when=at("2026-10-09")
    )
    order = act(order, SurveySatisfaction(method="phone", satisfaction=Grade.SATISFIED), COUNTY_MANAGEMENT)
    assert (last_record(order)["satisfaction"], last_record(order)["visitMethod"]) == ("4", "phone")
    gbt = ProvincialMapping(grade_scale="one_is_best")
    assert last_record(order, gbt)["satisfaction"] == "2"
    declined = act(replied(), SurveySatisfaction(method="sms", satisfaction=None), COUNTY_MANAGEMENT)
    assert "satisfaction" not in last_record(declined)  # the rater declined: absent, never null


def test_the_outcome_schema_is_published_and_current() -> None:
    published = json.loads((ROOT / "schemas" / "provincial-outcome.json").read_text("utf-8"))
    model = PROVINCIAL_SCHEMAS["provincial-outcome.json"]
    assert published["title"] == "ProvincialOutcome"
    assert set(published["required"]) == {name for name, f in model.model_fields.items() if f.is_required()}

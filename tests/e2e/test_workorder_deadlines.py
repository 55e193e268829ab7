"""Work orders on the local cloud's clock: the unit's morning reminder and the overdue escalation fired by the
scheduler function and published to WorkOrderTopic (moto's SNS); an upheld appeal reaching the provincial stub
as not adopted through the sweep and the forward queue. Nothing mocked. Rules: R11, R17, R20.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from infra.notify import published_on_moto
from tests.e2e.conftest import Hub, own_hub
from tests.e2e.test_workorders import MARKET, act, at, hcp, kiosk_rating

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A cloud of this module's own (tests/e2e/conftest.py `own_hub`): its tests move the clock weeks back and
    forth, and on the session's cloud each move would run the scheduler and the sweep over every other test's
    orders and ratings."""
    with own_hub(tmp_path_factory, "hcp-workorder-deadlines") as hub:
        yield hub


def notices(hub: Hub, order_id: str) -> list[dict[str, Any]]:
    published = published_on_moto(hub.cloud.aws_endpoint, hub.cloud.resources["WorkOrderTopic"])
    return [m for m in published if isinstance(m["message"], dict) and m["message"].get("order_id") == order_id]


def history(hub: Hub, order_id: str) -> list[str]:
    status, order = hub.call("GET", f"/v1/work-orders/{order_id}", user="ganxian-management")
    assert status == 200, order
    return [event["type"] for event in order["history"]]


def test_an_order_unanswered_past_its_deadline_is_reminded_then_escalated_once_and_published_R11(hub: Hub) -> None:
    # GIVEN a simple order dispatched 2026-09-30 10:00 (reply due 2026-10-08, after the National Day holiday)
    order_id = kiosk_rating(hub, "K20260930200001", when="2026-09-30T10:00:00")
    assert act(hub, order_id, "market-dept", action="classify", kind="simple")[0] == 200
    # WHEN the clock reaches the morning the reply falls due, and then passes the deadline
    hub.cloud.move_clock(set_to=at("2026-10-08T08:00:30"))
    assert history(hub, order_id)[-1] == "DeadlineReminded"
    hub.cloud.move_clock(set_to=at("2026-10-08T20:00:00"))
    hub.cloud.move_clock(set_to=at("2026-10-09T00:00:30"))
    hub.cloud.move_clock(set_to=at("2026-10-09T00:05:30"))
    # THEN one reminder and one escalation are in its history, each published once to its audience
    events = history(hub, order_id)
    assert (events.count("DeadlineReminded"), events.count("DeadlineEscalated")) == (1, 1)
    published = [(m["attributes"]["event_type"], m["attributes"]["audience"]) for m in notices(hub, order_id)]
    assert published.count(("DeadlineReminded", "unit")) == 1
    assert published.count(("DeadlineEscalated", "escalation")) == 1
    escalation = next(m for m in notices(hub, order_id) if m["attributes"]["event_type"] == "DeadlineEscalated")
    assert escalation["attributes"]["region_code"] == MARKET[2]  # the county's management department
    assert escalation["message"]["due_at"] == "2026-10-08T23:59:59+08:00"
    assert "13807970002" not in json.dumps(notices(hub, order_id), ensure_ascii=False)  # R20
    code, out = hcp(hub, "local", "notifications", "--order", order_id)
    assert code == 0 and "DeadlineEscalated" in out and "escalation 360704000000" in out, out


def test_an_upheld_appeal_reaches_the_province_as_not_adopted_R17(hub: Hub) -> None:
    # GIVEN an order dispatched 2026-10-09 10:00, appealed by the unit, the appeal upheld by the county
    order_id = kiosk_rating(hub, "K20261009200002", when="2026-10-09T10:00:00")
    status, answer = act(hub, order_id, "market-dept", action="file_appeal", grounds="mistaken",
                         reason="评价人所办事项不属本单位")  # fmt: skip
    assert status == 200, answer
    status, answer = act(hub, order_id, "ganxian-management", action="uphold_appeal", finding="经核实系误评")
    assert status == 200, answer
    version = answer["order"]["version"]
    # WHEN the action relays what the order owes, the forward function delivers it at once
    key = f"{order_id}#{version}"
    hub.cloud.drain()
    assert any(o["outcomeId"] == key for o in hub.province.outcomes()), "the outcome"
    fired = hub.cloud.move_clock(advance=timedelta(minutes=6))  # the scheduler and the sweep find nothing owed
    assert {"SchedulerFunction", "SweepFunction"} <= {f.function for f in fired}
    # THEN the province has it once, as not adopted by an upheld appeal, and the rating left the results
    [outcome] = [o for o in hub.province.outcomes() if o["outcomeId"] == key]
    assert (outcome["outcomeType"], outcome["notAdoptedBy"], outcome["notAdoptedReason"]) == ("3", "2", "1")
    assert outcome["evalId"] == order_id.removeprefix("wo-") and outcome["deptCode"] == MARKET[0]
    stored = hub.ratings().get(outcome["evalId"])
    assert stored is not None and not stored.adopted
    upheld = [m for m in notices(hub, order_id) if m["attributes"]["event_type"] == "AppealUpheld"]
    assert [m["attributes"]["audience"] for m in upheld] == ["unit"]
    code, out = hcp(hub, "local", "province", "--outcomes", "--last", "5")
    assert code == 0 and key in out

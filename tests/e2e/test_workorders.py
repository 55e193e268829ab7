"""Bad-rating work orders on the local cloud, driven by its clock: ratings posted by the demo kiosk and vertical
system, orders opened on the forward path, read and acted on by the demo people through /v1/work-orders and
`hcp workorders`. Nothing mocked. Rules: R10 (one order per bad rating), R11/R12 (deadlines over the National
Day holiday), R13 (visit before close), R15 (extensions), R16 (survey), R17 (appeal window), R18 (county).
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from cli.main import main
from tests.conftest import SAMPLES
from tests.e2e.conftest import BUSINESS_NOW, Hub, own_hub

pytestmark = pytest.mark.e2e
MARKET = ("11360704MB1C000102", "赣州市赣县区市场监督管理局", "360704000000")
TOWNSHIP = ("11360704MB1C000203", "赣县区某镇便民服务中心", "360704101000")


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}+08:00")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A cloud of this module's own (tests/e2e/conftest.py `own_hub`): its tests move the clock weeks back and
    forth, and on the session's cloud each move would run the scheduler and the sweep over every other test's
    orders and ratings."""
    with own_hub(tmp_path_factory, "hcp-workorders") as hub:
        yield hub


def kiosk_rating(hub: Hub, order_no: str, unit: tuple[str, str, str] = MARKET, when: str = "2026-09-30T09:30:00",
                 result: str = "不满意") -> str:  # fmt: skip
    """A kiosk's bad rating posted at the business clock's `when`; the order's id once the forward path ran."""
    # Never set the clock back over an order dispatched moments ago (its next action would be refused as
    # TIME_BEFORE_HISTORY): a re-post within the hour keeps the clock where it is.
    if not at(when) <= hub.cloud.clock.now() < at(when) + timedelta(hours=1):
        hub.cloud.move_clock(set_to=at(when))
    moment = int(at(when).timestamp() * 1000)
    body = {"terminalId": "ZZ-GX-0007", "orderId": order_no,
            "matter": {"code": f"{unit[0]}-4000333000", "name": "营业执照办理"},
            "org": {"creditCode": unit[0], "name": unit[1], "areaCode": unit[2]},
            "result": result, "labels": ["办理时间过长"], "remark": "", "serviceTime": moment - 600_000,
            "evaluateTime": moment, "user": {"mobile": "13807970002"}}  # fmt: skip
    status, answer = hub.post("kiosk", json.dumps(body, ensure_ascii=False).encode())
    assert status == 202 and answer["results"][0]["outcome"] in ("accepted", "duplicate"), answer
    hub.cloud.drain()
    return f"wo-{answer['results'][0]['rating_id']}"


def act(hub: Hub, order_id: str, user: str, **body: Any) -> tuple[int, Any]:
    return hub.call("POST", f"/v1/work-orders/{order_id}/actions", user=user, body=body)


def code_of(answer: Any) -> str:
    return str(answer["errors"][0]["code"])


def listed(hub: Hub, user: str, **query: str) -> list[str]:
    """Every page: the session's cloud holds other tests' orders, newer ones first."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page = {"limit": "100", **query, **({"cursor": cursor} if cursor else {})}
        status, answer = hub.call("GET", "/v1/work-orders", user=user, query=page)
        assert status == 200, answer
        ids.extend(item["id"] for item in answer["items"])
        cursor = answer.get("next_cursor")
        if not cursor:
            return ids


def hcp(hub: Hub, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main([*args, "--state-dir", str(hub.cloud.state_dir)])
    return code, out.getvalue()


# --------------------------------------------------------------------------------------------------


def test_a_bad_rating_of_2026_09_30_is_overdue_for_reply_after_the_holiday_R10_R11_R12(hub: Hub) -> None:
    # GIVEN a kiosk's bad rating on the Wednesday before the National Day holiday, posted twice
    order_id = kiosk_rating(hub, "K20260930100001")
    assert kiosk_rating(hub, "K20260930100001") == order_id
    # THEN exactly one order, dispatched at the business clock, with the working-day deadlines
    status, order = hub.call("GET", f"/v1/work-orders/{order_id}", user="market-dept")
    assert status == 200 and order["version"] >= 1 and order["history"][0]["type"] == "WorkOrderDispatched"
    assert order["dispatched_at"].startswith("2026-09-30T")
    deadlines = {kind: limit["date"] for kind, limit in order["deadlines"].items()}
    assert deadlines["reply"] == "2026-10-08"  # R11: 1 working day, Oct 1-7 off
    assert (deadlines["contact"], deadlines["resolve"]) == ("2026-10-09", "2026-10-20")  # R12
    assert act(hub, order_id, "market-dept", action="classify", kind="simple")[0] == 200
    # WHEN the last evening of the reply limit comes, it is not overdue; the next morning it is
    hub.cloud.move_clock(set_to=at("2026-10-08T20:00:00"))
    assert order_id not in listed(hub, "ganxian-management", overdue="true")
    hub.cloud.move_clock(set_to=at("2026-10-09T09:00:00"))
    assert order_id in listed(hub, "ganxian-management", overdue="true")
    status, order = hub.call("GET", f"/v1/work-orders/{order_id}", user="ganxian-management")
    assert "reply" in order["overdue"]
    # AND an extension asked after the deadline is refused (R15); so is an appeal after 3 working days (R17)
    status, answer = act(hub, order_id, "market-dept", action="request_extension", reason="需协调", until="2026-10-30")
    assert (status, code_of(answer)) == (409, "EXTENSION_AFTER_DEADLINE")
    hub.cloud.move_clock(set_to=at("2026-10-12T09:00:00"))
    status, answer = act(hub, order_id, "market-dept", action="file_appeal", grounds="mistaken", reason="非本单位业务")
    assert (status, code_of(answer)) == (409, "APPEAL_WINDOW_CLOSED") and answer["errors"][0]["rule"] == "R17"


def test_two_extensions_are_approved_and_a_third_refused_R15(hub: Hub) -> None:
    order_id = kiosk_rating(hub, "K20260930100002")
    assert act(hub, order_id, "market-dept", action="classify", kind="complex")[0] == 200
    for until in ("2026-10-30", "2026-11-30"):
        status, answer = act(hub, order_id, "market-dept", action="request_extension", reason="需协调市级部门",
                             until=until, document_ref="赣县政务〔2026〕12号")  # fmt: skip
        assert status == 200, answer
        status, answer = act(hub, order_id, "market-dept", action="approve_extension")
        assert (status, code_of(answer) if status != 200 else None) == (403, "ACTION_NOT_FOR_ROLE")  # wrong role
        status, answer = act(hub, order_id, "ganxian-management", action="approve_extension", note="同意")
        assert status == 200 and answer["order"]["deadlines"]["resolve"]["date"] == until
    status, answer = act(
        hub, order_id, "market-dept", action="request_extension", reason="仍需协调", until="2026-12-31"
    )
    assert (status, code_of(answer)) == (409, "EXTENSION_LIMIT")


def test_a_townships_order_is_managed_by_its_county_R18(hub: Hub) -> None:
    order_id = kiosk_rating(hub, "K20260930100003", unit=TOWNSHIP)
    status, order = hub.call("GET", f"/v1/work-orders/{order_id}", user="township-unit")
    assert status == 200 and order["managing_department"] == {"region_code": "360704000000", "level": "county"}
    assert order_id in listed(hub, "ganxian-management") and order_id in listed(hub, "township-unit")
    assert order_id not in listed(hub, "market-dept") and order_id not in listed(hub, "other-dept")
    status, answer = hub.call("GET", f"/v1/work-orders/{order_id}", user="other-dept")
    assert (status, code_of(answer)) == (403, "FORBIDDEN")
    status, answer = act(hub, order_id, "other-dept", action="classify", kind="complex")
    assert (status, code_of(answer)) == (403, "FORBIDDEN")
    assert act(hub, order_id, "township-unit", action="classify", kind="complex")[0] == 200
    assert (
        act(hub, order_id, "township-unit", action="request_extension", reason="需县级协调", until="2026-11-30")[0]
        == 200
    )
    status, answer = act(hub, order_id, "ganzhou-management", action="approve_extension")
    assert (status, code_of(answer)) == (403, "NOT_YOUR_ORDER")  # the city sees it; the county decides (R18)
    assert act(hub, order_id, "ganxian-management", action="approve_extension")[0] == 200
    status, answer = act(hub, order_id, "auditor", action="refuse_extension", reason="x")
    assert (status, code_of(answer)) == (403, "FORBIDDEN")


def test_two_people_acting_at_once_one_gets_a_version_conflict(hub: Hub) -> None:
    order_id = kiosk_rating(hub, "K20260930100004")
    _, answer = act(hub, order_id, "market-dept", action="classify", kind="simple")
    version = answer["order"]["version"]
    barrier = threading.Barrier(2)
    results: list[tuple[int, Any]] = []

    def send(body: dict[str, Any]) -> None:
        barrier.wait()
        results.append(act(hub, order_id, "market-dept", expected_version=version, **body))

    bodies = [{"action": "send_reply", "summary": "已增开窗口"},
              {"action": "file_appeal", "grounds": "mistaken", "reason": "非本单位业务"}]  # fmt: skip
    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(status for status, _ in results) == [200, 409]
    assert [code_of(a) for s, a in results if s == 409] == ["VERSION_CONFLICT"]


def test_the_whole_story_of_a_real_name_order_is_told_by_hcp_workorders_show_R10_to_R16(hub: Hub) -> None:
    # GIVEN the vertical system's real-name bad rating (its own case number), posted on the samples' day
    hub.cloud.move_clock(set_to=BUSINESS_NOW)
    sample = json.loads((SAMPLES / "vertical_system" / "01-bad-realname.json").read_text("utf-8"))
    sample["params"]["projectNo"] = "GX2026112800901"
    status, answer = hub.post("vertical_system", json.dumps(sample, ensure_ascii=False).encode())
    assert status == 202 and answer["results"][0]["outcome"] in ("accepted", "duplicate"), answer
    hub.cloud.drain()
    order_id = f"wo-{answer['results'][0]['rating_id']}"
    # WHEN the unit handles it and the county closes it
    code, out = hcp(hub, "workorders", "act", order_id, "classify", "--kind", "simple", "--as", "market-dept")
    assert code == 0, out
    hub.cloud.move_clock(set_to=at("2026-11-30T10:15:00"))  # Monday: the reply is due today (R11)
    assert act(hub, order_id, "market-dept", action="send_reply", summary="已统一窗口告知口径并致歉")[0] == 200
    hub.cloud.move_clock(set_to=at("2026-12-01T09:30:00"))
    status, answer = act(hub, order_id, "ganxian-management", action="close")
    assert (status, code_of(answer)) == (409, "FOLLOW_UP_REQUIRED")  # R13: real name, no visit yet
    assert act(hub, order_id, "ganxian-management", action="record_follow_up_visit", visitor_name="李专员",
               method="phone", note="评价人确认已整改")[0] == 200  # fmt: skip
    status, answer = act(hub, order_id, "ganxian-management", action="close")
    assert (status, code_of(answer)) == (409, "SURVEY_REQUIRED")  # R16
    hub.cloud.move_clock(set_to=at("2026-12-01T15:00:00"))
    assert act(hub, order_id, "ganxian-management", action="survey_satisfaction", method="sms",
               satisfaction="satisfied")[0] == 200  # fmt: skip
    assert act(hub, order_id, "ganxian-management", action="close")[0] == 200
    status, answer = act(hub, order_id, "market-dept", action="send_reply", summary="再次答复")
    assert (status, code_of(answer)) == (409, "ORDER_CLOSED")
    # THEN `hcp workorders show` tells the story: each event, when, who, what
    code, out = hcp(hub, "workorders", "show", order_id, "--as", "market-dept")
    assert code == 0, out
    story = [line for line in out.splitlines() if not line.startswith("{")]  # not the functions' EMF lines
    text = "\n".join(story)
    assert f"{order_id}  closed (simple)" in text and "real name" in text
    events = [line for line in story if line[:4].strip().isdigit()]
    wanted = ["system/hub", "dispatched to", "unit/market-dept", "classified simple", "replied to the rater",
              "management/ganxian-management", "follow-up visit by phone", "surveyed", "satisfied",
              "closed"]  # fmt: skip
    joined = "\n".join(events)
    positions = [joined.find(w) for w in wanted]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), (wanted, joined)
    assert "13907970001" not in out and "王五" not in out and "360721198501011233" not in out  # R20
    print(text)  # the story, for `pytest -s`


def test_the_work_order_routes_publish_their_openapi_document(hub: Hub) -> None:
    status, document = hub.call("GET", "/v1/work-orders/openapi.json")
    assert status == 200 and "/v1/work-orders/{order_id}/actions" in document["paths"]


def test_an_upheld_appeal_makes_the_rating_not_adopted_and_lets_the_order_close_R17(hub: Hub) -> None:
    order_id = kiosk_rating(hub, "K20260930100005", when="2026-09-30T09:45:00")
    hub.cloud.move_clock(set_to=at("2026-10-09T16:00:00"))  # the 2nd working day after dispatch: in time
    # review within 3 working days of receipt: 10-10 (an adjusted working Saturday), 10-12, 10-13
    status, answer = act(hub, order_id, "market-dept", action="file_appeal", grounds="malicious",
                         reason="评价人未在本单位办理业务", document_ref="赣县市监〔2026〕3号")  # fmt: skip
    assert status == 200 and answer["order"]["appeal"]["review_by"]["date"] == "2026-10-13", answer
    status, answer = act(hub, order_id, "ganxian-management", action="uphold_appeal", finding="经核实系恶意差评")
    assert status == 200 and answer["order"]["status"] == "not_adopted"
    assert act(hub, order_id, "ganxian-management", action="close")[0] == 200  # no survey: the rating is out
    status, order = hub.call("GET", f"/v1/work-orders/{order_id}", user="auditor")
    assert status == 200 and order["status"] == "closed" and order["history"][-1]["rating_adopted"] is False

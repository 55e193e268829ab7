"""The demo month through the local cloud, read as a user would (issue 13 "Done when"; R19, R20).

`demo_month.run` (what `hcp local demo-month` runs) posts a small month through the signed API and handles its work
orders; then the city's, a county's and a department's November report, each read by its own people through
`GET /v1/reports` as JSON, HTML and XLSX and found in the reports bucket, and every figure checked against a recount
of the stored ratings and work orders themselves (a scan of the tables, not the rollups).
"""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from infra.localcloud import demo_month
from infra.localcloud.people import id_token
from infra.workorder_store import order_of
from tests.e2e.conftest import Hub

BEIJING = ZoneInfo("Asia/Shanghai")
MARKET = "11360704MB1C000102"
# scope query, who reads it, how a rating or an order is in it
SCOPES = {
    "city": ("region=360700", "ganzhou-management", lambda region, agency: region.startswith("3607")),
    "county": ("region=360704", "ganxian-management", lambda region, agency: region.startswith("360704")),
    "department": (f"agency={MARKET}", "market-dept", lambda region, agency: agency == MARKET),
}
BAD = ("dissatisfied", "very_dissatisfied")


@pytest.fixture(scope="module")
def month(hub: Hub) -> demo_month.Outcome:
    client = demo_month.Hub(hub.cloud.api_url, lambda user: id_token(hub.cloud.seeded, user),
                            lambda when: hub.cloud.move_clock(set_to=when), hub.cloud.drain)  # fmt: skip
    return demo_month.run(client, ratings=120, say=lambda _: None)


def _get(hub: Hub, path: str, user: str) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {id_token(hub.cloud.seeded, user)}"}
    request = urllib.request.Request(hub.cloud.api_url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _scan(hub: Hub, table: str) -> list[dict[str, Any]]:
    dynamodb, items, start = hub.cloud.client("dynamodb"), [], None
    while True:
        page = dynamodb.scan(TableName=hub.cloud.resources[table], **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def _in_november(text: str) -> bool:
    return datetime.fromisoformat(text).astimezone(BEIJING).strftime("%Y-%m") == "2026-11"


def test_the_demo_month_posts_everything_and_handles_its_orders_R11_R17(month: demo_month.Outcome) -> None:
    assert month.accepted == month.posted >= 100 and not month.refused, month.summary()
    assert {"on_time", "late", "complex", "appeal_upheld", "open"} <= set(month.orders), month.summary()
    assert not month.action_failures, month.summary()  # every move of the units and management was taken


@pytest.mark.parametrize("scope", list(SCOPES))
def test_each_figure_matches_a_recount_of_the_ratings_and_orders_R19(hub: Hub, month: demo_month.Outcome,
                                                                      scope: str) -> None:  # fmt: skip
    query, user, inside = SCOPES[scope]
    status, body = _get(hub, f"/v1/reports?period=2026-11&{query}&format=json", user)
    assert status == 200, body[:300]
    report = json.loads(body)

    grades: Counter[str] = Counter()
    channels: Counter[str] = Counter()
    for item in _scan(hub, "RatingsTable"):
        if item["sk"]["S"] != "RATING" or "not_adopted_by" in item:
            continue
        rating = json.loads(item["rating"]["S"])
        target = rating["target"]
        if _in_november(rating["rated_at"]) and inside(target["region_code"], target["agency_code"]):
            grades[rating["grade"]] += 1
            channels[rating["channel"]] += 1
    values = report["summary"]["values"]
    assert values["rated_total"]["value"] == sum(grades.values()) > 0
    assert {g: n for g, n in report["summary"]["grades"].items() if n} == dict(grades)
    assert values["bad_count"]["value"] == sum(grades[g] for g in BAD)
    by_channel = {r["key"]: r["values"]["rated_total"]["value"] for r in _view(report, "by_channel")["rows"]}
    assert by_channel == dict(channels)

    orders = [json.loads(order_of(i["order"]).model_dump_json()) for i in _scan(hub, "WorkOrdersTable")
              if i["sk"]["S"] == "ORDER"]  # fmt: skip
    orders = [o for o in orders if _in_november(o["dispatched_at"])
              and inside(o["unit"]["region_code"], o["unit"]["agency_code"])]  # fmt: skip
    due = [o for o in orders if o["status"] != "not_adopted"]
    fixed = [o for o in due if o.get("reply") or o.get("resolution")]
    assert (values["rectification_rate"]["numerator"], values["rectification_rate"]["denominator"]) == (
        len(fixed), len(due))  # fmt: skip
    assert values["appeals_filed"]["value"] == sum(1 for o in orders if o.get("appeal"))
    upheld = [o for o in orders if (o.get("appeal") or {}).get("status") == "upheld"]
    assert values["appeals_upheld"]["value"] == len(upheld)
    assert "演示用户" not in body.decode("utf-8") and "139" not in json.dumps(report["summary"])  # no rater data (R20)


def _view(report: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(v for v in report["views"] if v["view"] == kind)


@pytest.mark.parametrize("scope", list(SCOPES))
def test_each_report_is_html_with_charts_and_xlsx_from_the_api_and_the_bucket_R19(hub: Hub, month: demo_month.Outcome,
                                                                                   scope: str) -> None:  # fmt: skip
    query, user, _ = SCOPES[scope]
    status, html = _get(hub, f"/v1/reports?period=2026-11&{query}&format=html", user)
    assert status == 200 and html.startswith(b"<!DOCTYPE html>") and html.count(b"<svg") >= 3
    status, xlsx = _get(hub, f"/v1/reports?period=2026-11&{query}&format=xlsx", user)
    assert status == 200
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx))
    assert sum(1 for sheet in workbook.worksheets if sheet._charts) >= 3  # native Excel charts

    key = query.split("=", 1)[1]
    scope_key = f"agency-{key}" if scope == "department" else key.ljust(12, "0")
    s3, bucket = hub.cloud.client("s3"), hub.cloud.resources["ReportsBucket"]
    for fmt, magic in (("html", b"<!DOCTYPE html>"), ("xlsx", b"PK"), ("json", b"{")):  # one queued job each
        found = s3.get_object(Bucket=bucket, Key=f"reports/month/2026-11/{scope_key}/management.{fmt}")["Body"].read()
        assert found.startswith(magic), found[:40]
    if scope == "city":  # the weekly run went through the queue too (its departments: test_reports_service.py)
        weekly = s3.list_objects_v2(Bucket=bucket, Prefix=f"reports/week/2026-W48/{scope_key}/management.")
        assert weekly.get("KeyCount", 0) == 3


@pytest.mark.parametrize(
    ("path", "user", "status", "code"),
    [
        ("/v1/reports?period=2026-11-31&region=360704", "ganxian-management", 400, "REPORT_PERIOD_INVALID"),
        ("/v1/reports?period=2026-11&region=360703", "ganxian-management", 403, "FORBIDDEN"),
        (f"/v1/reports?period=2026-11&agency={MARKET}", "other-dept", 403, "FORBIDDEN"),
        ("/v1/reports?period=2026-11&region=360704&format=docx", "ganxian-management", 400, "REPORT_FORMAT_UNKNOWN"),
        ("/v1/reports?period=2026-W49&region=360704", "ganxian-management", 404, "REPORT_NOT_READY"),
    ],
)
def test_bad_requests_are_refused_with_code_and_chinese_message(hub: Hub, month: demo_month.Outcome, path: str,
                                                                user: str, status: int, code: str) -> None:  # fmt: skip
    got, body = _get(hub, path, user)
    error = json.loads(body)["errors"][0]
    assert (got, error["code"]) == (status, code), body
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error["message_zh"])
    if code == "REPORT_NOT_READY":  # when it will be: the Monday after the week, 10:00 Beijing time
        assert "2026-12-07 10:00" in error["message_zh"]

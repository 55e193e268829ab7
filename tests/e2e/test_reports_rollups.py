"""Reports' rollups on the local cloud: the ratings' and work orders' DynamoDB streams, played by the local
cloud (infra/localcloud/streams.py), reach ReportingFunction, whose cells count each change once (R19)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from cli.normalize_cmd import content_type_for
from hub.reports.cells import Dim, cell_key
from infra.rollup_store import DynamoRollupStore
from tests.conftest import SAMPLES
from tests.e2e.conftest import Hub

pytestmark = pytest.mark.e2e
WINDOW = SAMPLES / "window_device" / "01-very-bad-staff.gbk.form"
AGENCY, REGION = "11360704MB1C000102", "360704000000"
BEIJING = ZoneInfo("Asia/Shanghai")


def counters(hub: Hub, dim: str, key: str = "-", period: str = "2026-11") -> dict[str, int]:
    store = DynamoRollupStore(hub.cloud.client("dynamodb"), hub.cloud.resources["RollupsTable"])
    wanted = cell_key(period, REGION, AGENCY, dim, key)
    return next((dict(c.counters) for c in store.query(wanted.pk, wanted.sk) if c.key == wanted), {})


def test_a_posted_rating_and_its_work_order_show_up_in_the_rollup_cells_once_R19(hub: Hub) -> None:
    # a work order counts in the month it was dispatched: the session's clock may have moved past November
    dispatched = hub.cloud.clock.now().astimezone(BEIJING).strftime("%Y-%m")
    before = counters(hub, Dim.SUMMARY)
    orders_before = counters(hub, Dim.SUMMARY, period=dispatched)
    # WHEN the window evaluator's bad rating is posted twice (the second a duplicate) and the cloud drains
    # (a case and a time of its own: earlier tests of the session posted the sample itself)
    fresh = WINDOW.read_bytes().replace(b"biz=GX2026112800051", b"biz=GX2026112800951")
    fresh = fresh.replace(b"t=20261128102233", b"t=20261128102301")
    for _ in range(2):
        status, _answer = hub.post("window_device", fresh, content_type_for(WINDOW))
        assert status == 202
    hub.cloud.drain(redeliver=True)
    # THEN the agency's month cell counts it once, as an active very-dissatisfied rating with its order (R10)
    after = counters(hub, Dim.SUMMARY)
    grew = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    assert grew.get("g.very_dissatisfied") == 1 and grew.get("act") == 1
    orders = counters(hub, Dim.SUMMARY, period=dispatched)
    # the forward function opened its work order: that stream counted too
    assert orders.get("wo", 0) - orders_before.get("wo", 0) == 1
    assert counters(hub, Dim.WINDOW, "赣县区政务服务中心/A12").get("g.very_dissatisfied", 0) >= 1
    assert counters(hub, Dim.STAFF, "GX0231", period="2026-11-28").get("g.very_dissatisfied", 0) >= 1
    assert counters(hub, Dim.TAG, "STAFF_ATTITUDE").get("t", 0) >= 1


def test_the_reporting_function_reads_the_streams_it_is_mapped_to(hub: Hub) -> None:
    tables = {m.table: m.function for m in hub.cloud.stream_mappings}
    assert tables == {"RatingsTable": "ReportingFunction", "WorkOrdersTable": "ReportingFunction"}
    assert all(m.report_batch_item_failures and m.filters for m in hub.cloud.stream_mappings)


def _november_cells(hub: Hub) -> dict[tuple[str, str], dict[str, int]]:
    """Every November cell (the month's and its days'), zeros dropped: a test may scan, a report never does."""
    client, table = hub.cloud.client("dynamodb"), hub.cloud.resources["RollupsTable"]
    cells: dict[tuple[str, str], dict[str, int]] = {}
    for page in client.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            pk = item["pk"]["S"]
            if not pk.startswith("2026-11"):
                continue
            counters = {k: int(v["N"]) for k, v in item.items() if "N" in v and int(v["N"])}
            if counters:
                cells[(pk, item["sk"]["S"])] = counters
    return cells


def test_a_rebuild_from_the_ratings_and_orders_gives_the_cells_the_stream_kept_R19(hub: Hub) -> None:
    from hub.reports.order_facts import order_facts
    from hub.reports.rebuild import rebuild
    from hub.workorders import work_order_id_for
    from infra.workorder_store import DynamoWorkOrderStore

    # GIVEN a kiosk rating too, and everything the session posted so far, counted through the streams
    kiosk = SAMPLES / "kiosk" / "01-dissatisfied-labels.json"
    hub.post("kiosk", kiosk.read_bytes().replace(b"K20261128093011", b"K-REBUILD-1"), content_type_for(kiosk))
    hub.cloud.drain(redeliver=True)
    incremental = _november_cells(hub)
    assert incremental
    # ... and one cell damaged, one stray cell added (what a repair is for)
    client, table = hub.cloud.client("dynamodb"), hub.cloud.resources["RollupsTable"]
    (pk, sk), _ = next(iter(incremental.items()))
    client.update_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, UpdateExpression="ADD act :n",
                       ExpressionAttributeValues={":n": {"N": "5"}})  # fmt: skip
    client.put_item(TableName=table, Item={"pk": {"S": pk}, "sk": {"S": "ch#360704#X#web"}, "act": {"N": "1"}})
    assert _november_cells(hub) != incremental
    # WHEN November is rebuilt from the tables
    orders = DynamoWorkOrderStore(client, hub.cloud.resources["WorkOrdersTable"])

    def order_of(rating_id: str) -> object:
        return order_facts(orders.get(work_order_id_for(rating_id)))

    done = rebuild("2026-11", ratings=hub.ratings(), order_of=order_of, rollups=DynamoRollupStore(client, table))
    # THEN every cell holds what the stream had counted, no more, no less
    assert done.ratings_read >= 2 and done.orders_read >= 2
    assert _november_cells(hub) == incremental

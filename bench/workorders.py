"""What the work-order store reads: N open orders in 40 counties, a few of them due; one county's list.

The orders are stored as the hub stores them (infra/workorder_store.py, the WorkOrdersTable of
template.yaml) in moto in-process. Then, once each, with a full scan of the table as the baseline:
  - `due(now)`: the sparse `by_next_check` index, 8 shards, `next_check_at <= now`
  - one county management department's list (`by_managing_region`, its prefix)
Printed: items read (DynamoDB's ScannedCount, what read capacity is charged for) per item returned, and
the ratio scan / index. moto's times say little about DynamoDB (it walks the table in Python either way).

    .venv/bin/python bench/workorders.py [--orders 5000] [--due 50]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
import yaml  # noqa: E402
from moto import mock_aws  # noqa: E402

from hub.calendar import SHANGHAI, WorkingDayCalendar  # noqa: E402
from hub.rating import Rating  # noqa: E402
from hub.workorders import OrderFilter, open_work_order  # noqa: E402
from infra.localcloud.motoserver import serialize_dynamodb_writes  # noqa: E402
from infra.rating_store import utc_text  # noqa: E402
from infra.workorder_store import DynamoWorkOrderStore  # noqa: E402

COUNTIES = [f"3607{n:02d}000000" for n in range(1, 41)]


def _loader() -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    return Loader


def rating(i: int, county: str) -> Rating:
    return Rating.model_validate({
        "rating_id": f"b{i:07d}",
        "source": {"connector_id": "bench", "kind": "kiosk", "source_rating_id": str(i),
                   "received_at": "2026-09-30T09:59:00+08:00"},
        "case": {"case_no": f"B{i:07d}"},
        "target": {"agency_code": "11360704MB1C000102", "region_code": county},
        "channel": "kiosk", "grade": "dissatisfied", "tags": ["ITEM_EFFICIENCY"],
        "rated_at": "2026-09-30T09:58:00+08:00",
    })  # fmt: skip


def scan_count(client: Any, table: str, **kwargs: Any) -> tuple[int, int]:
    read = found = 0
    page: dict[str, Any] = {"TableName": table, **kwargs}
    while True:
        response = client.scan(**page)
        read += int(response["ScannedCount"])
        found += int(response["Count"])
        if "LastEvaluatedKey" not in response:
            return read, found
        page["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--due", type=int, default=50)
    args = parser.parse_args()
    calendar = WorkingDayCalendar()
    serialize_dynamodb_writes()  # moto otherwise deep-copies the whole table on every transaction
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        props = yaml.load((ROOT / "template.yaml").read_text("utf-8"), Loader=_loader())["Resources"][
            "WorkOrdersTable"]["Properties"]  # fmt: skip
        keys = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")
        client.create_table(TableName="wo", BillingMode="PAY_PER_REQUEST", **{k: props[k] for k in keys})
        store = DynamoWorkOrderStore(client, "wo")
        early = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)
        late = datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)
        for i in range(args.orders):
            store.put_new(open_work_order(rating(i, COUNTIES[i % len(COUNTIES)]), early if i < args.due else late,
                                          calendar))  # fmt: skip
        now = early + timedelta(days=9)  # past the first orders' reply limit, before the others' first check
        store.items_read = 0
        due = store.due(now, limit=args.due * 2)
        due_read = store.items_read
        scan_read, scan_found = scan_count(client, "wo", FilterExpression="next_check_at <= :n",
                                           ExpressionAttributeValues={":n": {"S": utc_text(now)}})  # fmt: skip
        page = store.list(OrderFilter(region=COUNTIES[0]), limit=100)
        county_found = len(page.orders)
        while page.cursor:
            page = store.list(OrderFilter(region=COUNTIES[0]), limit=100, cursor=page.cursor)
            county_found += len(page.orders)
        county_scan, _ = scan_count(client, "wo")
        print(json.dumps({
            "orders": args.orders, "due": len(due),
            "due_items_read": due_read, "due_read_per_due": round(due_read / max(len(due), 1), 2),
            "scan_items_read": scan_read, "scan_found": scan_found,
            "ratio_scan_over_index": round(scan_read / max(due_read, 1), 1),
            "county_list_orders": county_found, "county_list_vs_full_scan_items": county_scan,
        }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()

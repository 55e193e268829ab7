"""Reports (R19): what rollups cost to keep and what a city's monthly report reads, against reading the ratings.

One month of N ratings (default 1,000,000) over 18 counties, 300 agencies, 2,000 staff, their windows,
channels, service items and tags, 8 % bad (each with its work order, some resolved, appealed, not adopted),
8 % default ratings (R6). Two parts:

  1. The big month, the domain's deltas applied to the in-memory store (hub/reports/cells.py: exactly the
     changes the DynamoDB adapter writes): transactions and items written per rating change, and the
     city's monthly report (compose_report) — items read against the cells it uses and against a full read
     of the month's ratings (the baseline: what a report computed from the ratings reads).
  2. A sample (default 2,000 ratings) on moto in-process through the real adapter (infra/rollup_store.py,
     the template's RollupsTable): DynamoDB calls and items per change counted from the requests sent, the
     city's report's Query calls, items and bytes read, and the month's ratings read through RatingsTable's
     by_month index as the baseline, items and bytes.

moto's timings say little about DynamoDB; counts of calls, items and bytes carry over.

    .venv/bin/python bench/reports.py [--ratings 1000000] [--sample 2000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.rating import Channel, EvaluationType, Grade  # noqa: E402
from hub.reports.cells import Dim, OrderFacts, RatingFacts  # noqa: E402
from hub.reports.compose import ReportRequest, compose_report  # noqa: E402
from hub.reports.rollups import RollupService  # noqa: E402
from hub.tags import TagCode  # noqa: E402
from infra.memory import InMemoryRollupStore  # noqa: E402

CITY = "360700000000"
MONTH_START = datetime.fromisoformat("2026-11-01T00:00:00+08:00")
GRADE_MIX = [(Grade.VERY_SATISFIED, 60), (Grade.SATISFIED, 22), (Grade.BASICALLY_SATISFIED, 10),
             (Grade.DISSATISFIED, 5), (Grade.VERY_DISSATISFIED, 3)]  # fmt: skip
CHANNEL_MIX = [(Channel.WINDOW, 45), (Channel.MOBILE, 25), (Channel.WEB, 15), (Channel.KIOSK, 10), (Channel.QR, 5)]


class World:
    """18 counties (and the city's own agencies), 300 agencies, 2,000 staff, a hall per county, 3 windows per agency."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.counties = [f"3607{n:02d}000000" for n in (2, 3, 4, *range(21, 36))][:18]
        regions = [CITY, *self.counties]
        self.agencies = [(f"1136{n:014d}"[:18], regions[n % len(regions)]) for n in range(300)]
        self.staff = [(f"S{n:05d}", n % 300) for n in range(2000)]
        self.grades = [g for g, w in GRADE_MIX for _ in range(w)]
        self.channels = [c for c, w in CHANNEL_MIX for _ in range(w)]

    def rating(self, n: int) -> RatingFacts:
        rng = self.rng
        staff_id, agency_index = self.staff[rng.randrange(len(self.staff))]
        agency, region = self.agencies[agency_index]
        if region != CITY and rng.random() < 0.3:  # a township or village service of the county (R18)
            region = region[:6] + f"{rng.randrange(101, 120):03d}" + f"{rng.randrange(0, 3):03d}"
        default = rng.random() < 0.08
        grade = Grade.SATISFIED if default else self.grades[rng.randrange(len(self.grades))]
        channel = Channel.WINDOW if default else self.channels[rng.randrange(len(self.channels))]
        at_window = channel in (Channel.WINDOW, Channel.QR)
        return RatingFacts(
            rating_id=f"r{n}", rated_at=MONTH_START + timedelta(seconds=rng.randrange(30 * 86400)), region_code=region,
            agency_code=agency, channel=channel,
            evaluation_type=EvaluationType.DEFAULT if default else EvaluationType.ACTIVE, grade=grade,
            agency_name=f"部门{agency_index}", staff_id=staff_id if at_window else None,
            staff_name=f"工作人员{staff_id}" if at_window else None,
            hall=f"{region[:6]}政务服务中心" if at_window else None,
            window_no=f"W{agency_index % 100:02d}{rng.randrange(3)}" if at_window else None,
            service_code=f"{agency}-{rng.randrange(10):03d}", service_name="事项",
            tags=tuple(rng.sample(list(TagCode), rng.randrange(1, 3))) if grade.is_bad else (),
        )  # fmt: skip


def order_steps(rating: RatingFacts, rng: random.Random) -> list[tuple[OrderFacts | None, OrderFacts]]:
    """A bad rating's order: opened, then resolved (mostly on time), sometimes appealed and upheld."""
    opened = OrderFacts(f"wo-{rating.rating_id}", rating.rated_at + timedelta(minutes=5), rating.region_code,
                        rating.agency_code, real_name=rng.random() < 0.4)  # fmt: skip
    steps: list[tuple[OrderFacts | None, OrderFacts]] = [(None, opened)]
    if rng.random() < 0.05:
        steps.append((opened, replace(opened, appealed=True, upheld=True, adopted=False)))
        return steps
    fixed = replace(opened, fixed=True, on_time=rng.random() < 0.9, extensions=int(rng.random() < 0.05))
    steps.append((opened, fixed))
    if opened.real_name:
        steps.append((fixed, replace(fixed, visited=True, survey=Grade.SATISFIED)))
    return steps


def feed(service: RollupService, world: World, count: int, rng: random.Random) -> dict[str, Any]:
    rating_items: Counter[int] = Counter()
    order_items: Counter[int] = Counter()
    changes = 0
    for n in range(count):
        rating = world.rating(n)
        changes += 1
        rating_items[service.rating_changed(f"c{n}", None, rating).items] += 1
        if rating.is_bad:
            for i, (old, new) in enumerate(order_steps(rating, rng)):
                changes += 1
                order_items[service.order_changed(f"o{n}.{i}", old, new).items] += 1
                if not new.adopted and (old is None or old.adopted):  # upheld: the rating is not adopted (R17)
                    changes += 1
                    not_adopted = replace(rating, adopted=False)
                    rating_items[service.rating_changed(f"c{n}.na", rating, not_adopted).items] += 1
        if n and n % 3 == 0:  # a forwarding receipt on the rating item: a change that moves no figure
            changes += 1
            rating_items[service.rating_changed(f"c{n}.fwd", rating, rating).items] += 1
    return {"changes": changes, "rating_items": rating_items, "order_items": order_items}


def report_cells(store: InMemoryRollupStore, month: str = "2026-11") -> int:
    """The cells the city's monthly report uses: its month partition whole, the month before's staff and
    window cells (the lowest-two-periods flag), the summary cells of the trend's six months."""
    city = CITY[:4]
    used = len(store.query(f"{month}#{city}"))
    used += len(store.query(f"2026-10#{city}", f"{Dim.STAFF}#")) + len(store.query(f"2026-10#{city}", f"{Dim.WINDOW}#"))
    for m in ("2026-06", "2026-07", "2026-08", "2026-09", "2026-10"):
        used += len(store.query(f"{m}#{city}", f"{Dim.SUMMARY}#"))
    used += len(store.query(f"{month}#{city}", f"{Dim.SUMMARY}#"))
    return used


def city_request() -> ReportRequest:
    return ReportRequest(period="2026-11", region_code=CITY, generated_at=datetime.now().astimezone())


def big_month(count: int) -> dict[str, Any]:
    rng = random.Random(13)
    world = World(rng)
    store = InMemoryRollupStore()
    started = time.perf_counter()
    fed = feed(RollupService(store), world, count, rng)
    feed_seconds = time.perf_counter() - started
    store.items_read = 0
    started = time.perf_counter()
    report = compose_report(store, city_request())
    compose_seconds = time.perf_counter() - started
    read = store.items_read
    store.items_read = 0
    used = report_cells(store)
    return {"fed": fed, "store": store, "read": read, "used": used, "report": report,
            "feed_seconds": feed_seconds, "compose_seconds": compose_seconds}  # fmt: skip


def _read_cells_seconds(store: InMemoryRollupStore, month: str = "2026-11") -> float:
    """The cells' read alone, as compose_report does it (the median of five)."""
    times = []
    for _ in range(5):
        started = time.perf_counter()
        report_cells(store, month)
        times.append(time.perf_counter() - started)
    return sorted(times)[2]


def _render_seconds(report: Any, fmt: str) -> tuple[float, int]:
    from infra.reports import render

    render(report, fmt)  # warm: vl-convert's engine starts once per process, as in a warm Lambda
    started = time.perf_counter()
    body = render(report, fmt).body
    return time.perf_counter() - started, len(body)


def sample_calls_hint(cells: int) -> int:
    """Query pages of 1 MB for `cells` items of about 100 bytes."""
    return max(1, -(-cells * 100 // (1024 * 1024)))


def moto_sample(count: int) -> dict[str, Any]:
    """The adapter on moto: calls and items per change; the city's report against the month's ratings read."""
    import boto3
    import yaml
    from moto import mock_aws

    from infra.rollup_store import DynamoRollupStore

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    resources = yaml.load((ROOT / "template.yaml").read_text("utf-8"), Loader=Loader)["Resources"]
    with mock_aws():
        client = boto3.client("dynamodb", region_name="cn-north-1", aws_access_key_id="k", aws_secret_access_key="s")
        for logical, name in (("RollupsTable", "rollups"), ("RatingsTable", "ratings")):
            props = resources[logical]["Properties"]
            keys = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")
            client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **{k: props[k] for k in keys})
        writes: Counter[str] = Counter()
        transact_items: list[int] = []

        def count_write(params: dict[str, Any], model: Any, **_: Any) -> None:
            writes[model.name] += 1
            if model.name == "TransactWriteItems":
                transact_items.append(len(params["TransactItems"]))

        client.meta.events.register("provide-client-params.dynamodb.*", count_write)
        rng = random.Random(7)
        world = World(rng)
        store = DynamoRollupStore(client, "rollups")
        fed = feed(RollupService(store), world, count, rng)
        for n in range(count):  # the baseline's items: each rating as RatingsTable holds it (~1 KB of JSON)
            r = world.rating(n)
            body = json.dumps({"rating_id": r.rating_id, "case": {"case_no": f"C{n}", "service_code": r.service_code},
                               "target": {"agency_code": r.agency_code, "region_code": r.region_code,
                                          "agency_name": r.agency_name, "staff": {"staff_id": r.staff_id}},
                               "channel": r.channel, "grade": r.grade, "rated_at": r.rated_at.isoformat(),
                               "tags": list(r.tags), "comment": "办事很方便" * 10}, ensure_ascii=False)  # fmt: skip
            client.put_item(TableName="ratings", Item={
                "pk": {"S": f"RATING#{r.rating_id}"}, "sk": {"S": "RATING"}, "rating": {"S": body},
                "stored_month": {"S": "2026-11"}, "stored_at": {"S": r.rated_at.isoformat()},
                "rater": {"B": b"x" * 200}})  # fmt: skip
        before = dict(writes)
        store.items_read, store.calls = 0, 0
        compose_report(store, city_request())
        report_calls, report_items = store.calls, store.items_read
        cell_bytes = _bytes_of_query(client, "rollups", [f"2026-11#{CITY[:4]}"])
        baseline_items = baseline_calls = 0
        kwargs: dict[str, Any] = {"TableName": "ratings", "IndexName": "by_month",
                                  "KeyConditionExpression": "stored_month = :m",
                                  "ExpressionAttributeValues": {":m": {"S": "2026-11"}}}  # fmt: skip
        rating_bytes = 0
        while True:
            response = client.query(**kwargs)
            baseline_calls += 1
            baseline_items += response["ScannedCount"]
            rating_bytes += sum(_item_bytes(i) for i in response["Items"])
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return {"fed": fed, "writes": before, "transact_items": transact_items, "report_calls": report_calls,
            "report_items": report_items, "baseline_items": baseline_items, "baseline_calls": baseline_calls,
            "cell_bytes": cell_bytes, "rating_bytes": rating_bytes}  # fmt: skip


def _item_bytes(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values (UTF-8; numbers ~ their digits)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        ((_kind, v),) = value.items()
        size += len(v) if isinstance(v, bytes) else len(str(v).encode())
    return size


def _bytes_of_query(client: Any, table: str, pks: list[str]) -> int:
    total = 0
    for pk in pks:
        kwargs: dict[str, Any] = {"TableName": table, "KeyConditionExpression": "pk = :p",
                                  "ExpressionAttributeValues": {":p": {"S": pk}}}  # fmt: skip
        while True:
            response = client.query(**kwargs)
            total += sum(_item_bytes(i) for i in response["Items"])
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return total


def _histogram(counter: Counter[int]) -> str:
    return ", ".join(f"{items} items: {n}" for items, n in sorted(counter.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=2_000)
    args = parser.parse_args()

    big = big_month(args.ratings)
    fed, store = big["fed"], big["store"]
    print(f"1. One month of {args.ratings:,} ratings (in-memory store, the adapter's exact changes), "
          f"fed in {big['feed_seconds']:.0f} s")  # fmt: skip
    changes, transactions = fed["changes"], store.transactions
    print(f"   changes (stream records): {changes:,}; transactions: {transactions:,} "
          f"({transactions / changes:.3f} per change, at most 1); items written {store.items_written:,} "
          f"({store.items_written / max(transactions, 1):.1f} per transaction)")  # fmt: skip
    print(f"   rating changes by items per transaction: {_histogram(fed['rating_items'])}")
    print(f"   work-order changes by items per transaction: {_histogram(fed['order_items'])}")
    cells = sum(len(p) for p in store._cells.values())
    print(f"   cells kept: {cells:,} in {len(store._cells):,} partitions (days and months x city)")
    print(f"   the city's monthly report: {big['read']:,} cells read, {big['used']:,} cells it uses: "
          f"ratio {big['read'] / big['used']:.3f} (target <= 1.05)")  # fmt: skip
    print(f"   baseline, the month's ratings read: {args.ratings:,} items: {args.ratings / big['read']:.0f} x the "
          f"report's reads (report/baseline {big['read'] / args.ratings:.4f}); composed in "
          f"{big['compose_seconds']:.2f} s")  # fmt: skip
    summary = big["report"].summary.values
    read_seconds = _read_cells_seconds(store)
    rendered = {fmt: _render_seconds(big["report"], fmt) for fmt in ("html", "xlsx")}
    print(f"   reading its cells (the month partition, in memory): {read_seconds * 1000:.1f} ms; rendering: "
          f"HTML {rendered['html'][0]:.2f} s ({rendered['html'][1] / 1024:.0f} KiB), XLSX {rendered['xlsx'][0]:.2f} s "
          f"({rendered['xlsx'][1] / 1024:.0f} KiB): render / read "
          f"{(rendered['html'][0] + rendered['xlsx'][0]) / max(read_seconds, 1e-9):.0f} x (DynamoDB would take "
          f"its {sample_calls_hint(big['read'])} Query pages' round trips for the read)")  # fmt: skip
    print(f"   its summary: 评价总量 {summary['rated_total'].value:,}, 差评率 {summary['bad_rate'].value:.4f}, "
          f"不予采纳 {summary['not_adopted'].value:,}, 差评整改率 {summary['rectification_rate'].value:.4f}")

    sample = moto_sample(args.sample)
    fed = sample["fed"]
    transact = sample["transact_items"]
    writes = sample["writes"]
    print(f"2. A sample of {args.sample:,} ratings on moto, through infra/rollup_store.py")
    others = sum(v for k, v in writes.items() if k not in ("TransactWriteItems", "PutItem", "CreateTable"))
    print(f"   changes: {fed['changes']:,}; TransactWriteItems calls: {writes.get('TransactWriteItems', 0):,} "
          f"({writes.get('TransactWriteItems', 0) / fed['changes']:.3f} per change); other rollup writes: {others}")
    print(f"   items per transaction: mean {sum(transact) / len(transact):.1f}, max {max(transact)} "
          f"(limit 100): a rating's marker + 2 periods x (summary, channel, service, township?, window?, staff?, tags)")
    print(f"   city report: {sample['report_calls']} Query calls, {sample['report_items']:,} items, month partition "
          f"{sample['cell_bytes'] / 1024:.0f} KiB; baseline by_month: {sample['baseline_calls']} calls, "
          f"{sample['baseline_items']:,} items, {sample['rating_bytes'] / 1024:.0f} KiB "
          f"(items ratio {sample['report_items'] / sample['baseline_items']:.3f}, "
          f"bytes ratio {sample['cell_bytes'] / sample['rating_bytes']:.3f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

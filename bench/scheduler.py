"""What the scheduler reads to find what is due: 100,000 open cases, 1,000 timers due.

The cases are stored as the hub stores them (infra/case_store.py: a case item and three timers each, in
the CasesTable template.yaml declares), in moto in-process. Then, once each:
  - the scheduler's due query (`DynamoTimerStore.due`: the sparse `by_due` index, 8 shards, `due_at <= now`)
  - the baseline: a full scan of the table filtered to the same timers (what "no index" would cost).
Printed: items read (DynamoDB's ScannedCount: what it charges read capacity for) as a ratio to the due
count (target <= 1.1), and each one's time. Both run in the same process on the same table.

moto answers a query on an index by sorting and walking every item of the table in Python (8 shards: 8
walks), and a scan page by page the same way, so the *times* printed here say little about DynamoDB,
where a query reads only the index range it returns and is billed for it; the items-read ratio is the
figure that carries over.

Then the scheduler itself fires them (`CaseScheduler.run` over the Dynamo case and timer stores in moto),
invocation after invocation of a `--timeout` second budget (the SchedulerFunction's 60 s), as the function
drives it — before: batches of 500 checked against the time left only between batches (`run(now)` in the
function's loop, as it was); now: the time left (`remaining_ms`) checked before every timer, stopping with
15 s to spare, the next firing resuming. An invocation's time is modelled, not moto's (which walks the
whole table per query): `--dynamodb-ms` (10) per DynamoDB request plus `--sms-latency` (50 ms) per SMS —
what the invocation would spend in AWS. This part runs on a table of its own, `--due` due timers for each
case among 3 x `--due` open cases: what the scheduler reads and does depends on what is due (the index reads
1.00 item per due timer at 100,000 open cases, above), not on how many are open. Printed per case:
invocations, the longest against the timeout, timers read, SMS sent, timers still due after the last
invocation; target met when no invocation runs past its timeout and nothing due is left (what "before" left
due, its short reads, the "now" runs an hour later fire too).

    .venv/bin/python bench/scheduler.py [--cases 100000] [--due 1000] [--sms-latency 0.05] [--timeout 60]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
import yaml  # noqa: E402
from moto import mock_aws  # noqa: E402

from hub.case_notice import CaseNotice  # noqa: E402
from hub.cases import Timer, TimerKind  # noqa: E402
from hub.ports import StoredCase  # noqa: E402
from infra.case_store import SHARDS, DynamoCaseStore, DynamoTimerStore  # noqa: E402
from infra.memory import InMemorySealer  # noqa: E402

SAMPLE = ROOT.parent / "shared" / "samples" / "cases" / "01-completed-no-rating.json"
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
TABLE = "cases"
FIRE_TABLE = "cases-fired"


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def create_table(dynamodb: Any, table: str = TABLE) -> None:
    props = yaml.load((ROOT / "template.yaml").read_text("utf-8"), Loader=_Loader)["Resources"]["CasesTable"][
        "Properties"
    ]
    dynamodb.create_table(
        TableName=table,
        BillingMode=props["BillingMode"],
        **{k: props[k] for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")},
    )


def item_bytes(item: dict[str, Any]) -> int:
    """DynamoDB's size of an item: attribute names plus values (strings and binaries by length)."""
    total = 0
    for name, value in item.items():
        (kind, raw), = value.items()
        total += len(name.encode()) + (len(raw) if kind == "B" else 1 if kind == "BOOL" else len(str(raw).encode()))
    return total


def load(dynamodb: Any, cases: int, due: int, table: str = TABLE) -> tuple[int, int]:
    """`cases` open cases, each with its three timers; the first reminders of `due` of them are due at NOW.

    Items are the adapter's own (`DynamoCaseStore._case_item`, `_timer_item`), built once and re-keyed per
    case, so the table holds what the hub would write, at the size it would write it.
    """
    store = DynamoCaseStore(dynamodb, table, sealer=InMemorySealer())
    notice = CaseNotice.model_validate(json.loads(SAMPLE.read_text("utf-8")))
    template = StoredCase(notice, "bench", "raw/bench", NOW, NOW + timedelta(days=7), False)
    case_item = store._case_item(template, template.content_hash)
    sealer = InMemorySealer()
    applicant = sealer.unseal(bytes(case_item["applicant"]["B"]), context=template.case_key)
    items: list[dict[str, Any]] = []
    written = size = 0
    for i in range(cases):
        key = f"{notice.agency.code}/GX{i:012d}/-"
        # the first `due` are due at NOW, the next `due` an hour later (the second case's), the rest days ahead
        handled = (NOW - timedelta(minutes=11) if i < due else NOW + timedelta(minutes=50) if i < 2 * due
                   else NOW + timedelta(minutes=180 + i % 10_000))  # fmt: skip
        # the applicant is sealed for its case (R20: the case key is the seal's context), so sealed again per case
        sealed = {"B": sealer.seal(applicant, context=key)} if i < 2 * due else case_item["applicant"]
        items.append({**case_item, "pk": {"S": f"CASE#{key}"}, "case_key": {"S": key}, "applicant": sealed})
        items += [
            store._timer_item(Timer(key, TimerKind.FIRST_REMINDER, handled + timedelta(minutes=10))),
            store._timer_item(Timer(key, TimerKind.SECOND_REMINDER, handled + timedelta(days=6))),
            store._timer_item(Timer(key, TimerKind.DEFAULT_RATING, handled + timedelta(days=7))),
        ]
        if len(items) >= 1000 or i == cases - 1:
            for start in range(0, len(items), 25):
                pending = {table: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]}
                while pending:
                    pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            written += len(items)
            size += sum(item_bytes(item) for item in items)
            items = []
    return written, size


def scan_baseline(dynamodb: Any, now: datetime) -> tuple[int, int]:
    """(items read, timers found): every item of the table read, the due timers kept.

    moto re-sorts and re-walks the whole table for every 1 MB page of a scan, so 400,000 items (~160 pages)
    would take it most of an hour; its page is raised to 64 MB while the baseline runs. The items read
    are the same whatever the page size; only moto's time changes.
    """
    from moto.dynamodb.models import table as moto_table

    from infra.rating_store import utc_text

    kwargs: dict[str, Any] = {
        "TableName": TABLE,
        "FilterExpression": "attribute_exists(due_shard) AND due_at <= :now",
        "ExpressionAttributeValues": {":now": {"S": utc_text(now)}},
    }
    read = found = 0
    page, moto_table.RESULT_SIZE_LIMIT = moto_table.RESULT_SIZE_LIMIT, 64 << 20
    try:
        while True:
            response = dynamodb.scan(**kwargs)
            read += response["ScannedCount"]
            found += response["Count"]
            if not response.get("LastEvaluatedKey"):
                return read, found
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    finally:
        moto_table.RESULT_SIZE_LIMIT = page


class ModelledTime:
    """The time an invocation would spend in AWS: `ms`, advanced by each DynamoDB request and SMS."""

    def __init__(self) -> None:
        self.ms = 0.0


class Modelled:
    """The DynamoDB client, each request costing `per_request_ms` of modelled time."""

    def __init__(self, client: Any, clock: ModelledTime, per_request_ms: float) -> None:
        self._client, self._clock, self._ms = client, clock, per_request_ms

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._client, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            self._clock.ms += self._ms
            return call(*args, **kwargs)

        return timed


class SlowSms:
    """An SMS gateway answering after `latency` seconds (modelled), counting what it sent."""

    channel = "bench"

    def __init__(self, latency: float, clock: ModelledTime) -> None:
        self.latency, self.clock, self.sent = latency, clock, 0

    def send(self, phone: str, text: str) -> str:
        self.clock.ms += self.latency * 1000
        self.sent += 1
        return f"bench-{self.sent}"


def fire_all(dynamodb: Any, now: datetime, args: argparse.Namespace, *, budgeted: bool) -> dict[str, Any]:
    """Invocations of a `args.timeout` budget until nothing is due; each invocation as the function runs it."""
    from hub.ports import SmsSender
    from infra.bootstrap import build_scheduler
    from infra.memory import InMemoryCalendarStore, InMemoryForwardQueue, InMemoryNotificationLog, InMemoryRatingStore

    SmsSender.register(SlowSms)
    clock = ModelledTime()
    client = Modelled(dynamodb, clock, args.dynamodb_ms)
    cases = DynamoCaseStore(client, FIRE_TABLE, sealer=InMemorySealer())
    timers = DynamoTimerStore(client, FIRE_TABLE)
    sms = SlowSms(args.sms_latency, clock)
    services = build_scheduler(
        ratings=InMemoryRatingStore(), cases=cases, timers=timers, queue=InMemoryForwardQueue(), sms=sms,
        log=InMemoryNotificationLog(), calendar_store=InMemoryCalendarStore(), rating_link="https://hcp.example/rate",
    )  # fmt: skip
    scheduler = services.scheduler
    calendar = scheduler.calendars()
    spare_ms = 15_000
    durations: list[float] = []
    outcomes: Counter[str] = Counter()
    while True:
        started = clock.ms

        def remaining_ms(started: float = started) -> int:
            return int(args.timeout * 1000 - (clock.ms - started))

        fired = 0
        while True:  # the function's own loop
            budget = {"remaining_ms": remaining_ms} if budgeted else {}
            report = scheduler.run(now, calendar, **budget)  # type: ignore[arg-type]
            fired += report.due
            outcomes.update(report.counts)
            if not report.full or remaining_ms() < spare_ms:
                break
        durations.append((clock.ms - started) / 1000)
        if not fired or not report.full:
            break
        now += timedelta(minutes=1)  # the next firing
    return {"invocations": len(durations), "longest": max(durations), "past": sum(d > args.timeout for d in durations),
            "read": timers.items_read, "sent": sms.sent, "outcomes": dict(outcomes),
            "left": len(DynamoTimerStore(dynamodb, FIRE_TABLE).due(now, 10_000))}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--sms-latency", type=float, default=0.05, help="seconds the SMS gateway takes a message")
    parser.add_argument("--timeout", type=float, default=60, help="the SchedulerFunction's Timeout")
    parser.add_argument("--dynamodb-ms", type=float, default=10, help="modelled time of one DynamoDB request")
    args = parser.parse_args()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "testing")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="cn-north-1")
        create_table(dynamodb)
        started = time.perf_counter()
        items, table_bytes = load(dynamodb, args.cases, args.due)
        print(f"loaded {args.cases:,} open cases ({items:,} items: a case and 3 timers each, "
              f"{args.due:,} timers due) in {time.perf_counter() - started:.1f} s")  # fmt: skip

        timers = DynamoTimerStore(dynamodb, TABLE)
        started = time.perf_counter()
        due = timers.due(NOW, limit=2 * args.due)  # a limit above the due count: one query per shard reads all
        index_seconds = time.perf_counter() - started
        started = time.perf_counter()
        scan_read, scan_found = scan_baseline(dynamodb, NOW)
        scan_seconds = time.perf_counter() - started
        create_table(dynamodb, FIRE_TABLE)
        load(dynamodb, 3 * args.due, args.due, FIRE_TABLE)
        runs = {"before (batches of 500, time checked between batches)": fire_all(dynamodb, NOW, args, budgeted=False),
                "now (time checked before every timer, 15 s to spare)": fire_all(
                    dynamodb, NOW + timedelta(hours=1), args, budgeted=True)}  # fmt: skip

    assert len(due) == scan_found == args.due, (len(due), scan_found, args.due)
    # What DynamoDB would bill, eventually consistent: 0.5 read unit per 4 KB read, per request. An index entry
    # (KEYS_ONLY) holds pk, sk, due_shard and due_at.
    key_bytes = max(len(f"pkCASE#{t.case_key}skTIMER#{t.kind.value}due_sharddue#0due_at{t.due_at.isoformat()}")
                    for t in due)  # fmt: skip
    index_units = SHARDS * 0.5 * -(-(key_bytes * len(due) // SHARDS) // 4096)
    scan_units = 0.5 * -(-table_bytes // 4096)
    ratio, baseline_ratio = timers.items_read / args.due, scan_read / args.due
    print(f"{'':22} {'items read':>12} {'÷ due':>9} {'time s':>8}")
    print(f"{'due-time index query':22} {timers.items_read:>12,} {ratio:>9.2f} {index_seconds:>8.2f}")
    print(f"{'full scan (baseline)':22} {scan_read:>12,} {baseline_ratio:>9.2f} {scan_seconds:>8.2f}")
    print(f"{'read units (estimate)':22} {index_units:>12,.0f} (index) vs {scan_units:,.0f} (scan): "
          f"{table_bytes / 1e6:,.0f} MB of table against ~{key_bytes * len(due) / 1e3:,.0f} KB of index")  # fmt: skip
    print(f"the index reads {scan_read / max(timers.items_read, 1):,.0f}x fewer items than the scan; "
          f"target <= 1.1 items per due timer: {'met' if ratio <= 1.1 else 'NOT met'} ({ratio:.2f})")  # fmt: skip
    print("(times are moto's, which walks the whole table for each of the 8 shard queries and for the scan; "
          "DynamoDB reads only the index range a query returns)")  # fmt: skip
    print(f"firing {args.due:,} due reminders (modelled: {args.dynamodb_ms:.0f} ms a DynamoDB request, "
          f"{args.sms_latency * 1000:.0f} ms an SMS), a {args.timeout:.0f} s timeout:")  # fmt: skip
    for label, run in runs.items():
        met = run["past"] == 0 and run["left"] == 0
        print(f"  {label}: {run['invocations']} invocations, longest {run['longest']:.1f} s of {args.timeout:.0f} s "
              f"({run['longest'] / args.timeout:.2f} of it), {run['past']} past it; {run['read']:,} timers read, "
              f"{run['sent']:,} sent {run['outcomes']}, {run['left']} still due after it — target "
              f"{'met' if met else 'MISSED'}")  # fmt: skip
    before, now = runs.values()
    print(f"  longest invocation now / before: {now['longest'] / before['longest']:.2f}")


if __name__ == "__main__":
    main()

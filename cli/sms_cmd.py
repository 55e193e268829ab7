"""`hcp local sms`: the reminders the running local cloud sent, skipped or deferred — numbers masked (R20).

It reads the hub's notification log (CasesTable in the local cloud's moto), the same record an operator
would read in AWS: every SMS with its masked number and message id, every skip with its reason.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cli.main import UsageError
from cli.state import load_state
from cli.table import table

SHANGHAI = ZoneInfo("Asia/Shanghai")


def notifications(state: dict[str, Any], now: datetime, days: int) -> list[dict[str, Any]]:
    """The log's entries of the last `days` days up to `now` (the local cloud's clock), oldest first."""
    import boto3

    from infra.case_store import DynamoNotificationLog

    table = state.get("resources", {}).get("CasesTable")
    if not table:
        raise UsageError("the local cloud's state names no CasesTable; restart it with `hcp local up`")
    client = boto3.session.Session().client(
        "dynamodb", endpoint_url=state["aws_endpoint"], region_name=state.get("region", "us-east-1"),
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    log = DynamoNotificationLog(client, table)
    return [n.as_dict() for n in log.between(now - timedelta(days=days), now + timedelta(minutes=1))]


COLUMNS = ("AT (Beijing)", "CASE", "KIND", "TO", "OUTCOME", "VIA")


def row(entry: dict[str, Any]) -> list[Any]:
    at = datetime.fromisoformat(entry["at"]).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    what = entry["outcome"] + (f" ({entry['reason']})" if entry.get("reason") else "")
    via = f"{entry['channel']} {entry['message_id']}" if entry.get("message_id") else ""
    return [at, entry["case_no"], entry["kind"], entry.get("phone"), what, via]


def describe(entry: dict[str, Any]) -> str:
    return table(COLUMNS, [row(entry)]).splitlines()[1]


def run(args: argparse.Namespace) -> int:
    from cli.clock_cmd import NotRunning, call_clock

    state = load_state(args.state_dir)
    try:
        now = datetime.fromisoformat(call_clock(args.state_dir, None)["now"])
    except NotRunning as exc:
        raise UsageError(str(exc)) from None
    entries = notifications(state, now, args.days)
    if args.json:
        print(json.dumps(entries, ensure_ascii=False, indent=1))
        return 0
    if not entries:
        print(f"no reminders in the {args.days} days up to {now.astimezone(SHANGHAI).isoformat(timespec='seconds')}")
    else:
        print(table(COLUMNS, [row(entry) for entry in entries]))
    return 0


def register_local(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "sms",
        help="the SMS reminders sent, skipped or deferred (numbers masked)",
        description="Lists the notification log of the running local cloud, oldest first: each reminder's "
        "time (Asia/Shanghai), case, kind, masked number and outcome — sent (with the message id), "
        "skipped (why: RATED, WINDOW_CLOSED, SUPERSEDED, NO_PHONE, PHONE_NOT_MOBILE), deferred "
        "(QUIET_HOURS, SMS_FAILED) or failed.",
    )
    parser.add_argument("--days", type=int, default=31, help="how far back from the local clock (default 31)")
    parser.add_argument("--json", action="store_true", help="print the entries as JSON")
    parser.add_argument("--state-dir", help="where local.json is (default .hcp)")
    parser.set_defaults(func=run)

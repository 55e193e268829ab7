"""`hcp local notifications`: the work-order notices the running local cloud published to `WorkOrderTopic`.

moto keeps every message an SNS topic was sent; this lists them as a department subscribed to the topic
would receive them: the event, the audience and its region or agency (the message attributes a filter
policy matches), the order and its deadline. Notices carry no personal data (R20), so nothing is masked.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cli.main import UsageError
from cli.state import load_state
from cli.table import table

SHANGHAI = ZoneInfo("Asia/Shanghai")


def published(state: dict[str, Any]) -> list[dict[str, Any]]:
    from infra.notify import published_on_moto

    topic = state.get("resources", {}).get("WorkOrderTopic")
    if not topic or not state.get("aws_endpoint"):
        raise UsageError("the local cloud's state names no WorkOrderTopic; restart it with `hcp local up`")
    try:
        return published_on_moto(state["aws_endpoint"], topic)
    except OSError as exc:
        raise UsageError(f"the local cloud's moto at {state['aws_endpoint']} does not answer ({exc})") from None


COLUMNS = ("AT (Beijing)", "EVENT", "AUDIENCE", "ORDER", "WHAT")


def row(message: dict[str, Any]) -> list[Any]:
    body = message["message"] if isinstance(message["message"], dict) else {}
    attributes = message.get("attributes", {})
    at = body.get("at", "")
    if at:
        at = datetime.fromisoformat(at).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    who = f"{attributes.get('audience', '?')} {attributes.get('agency_code') or attributes.get('region_code', '')}"
    what = body.get("deadline", "")
    if body.get("due_at"):
        what += f" due {datetime.fromisoformat(body['due_at']).astimezone(SHANGHAI):%Y-%m-%d %H:%M}"
        what += " (provisional)" if body.get("provisional") else ""
    if body.get("escalated_to"):
        what += f" -> {body['escalated_to']['region_code']}"
    return [at, attributes.get("event_type", "?"), who.strip(), body.get("order_id", ""), what.strip()]


def describe(message: dict[str, Any]) -> str:
    return table(COLUMNS, [row(message)]).splitlines()[1]


def run(args: argparse.Namespace) -> int:
    messages = published(load_state(args.state_dir))
    if args.order:
        ours = [m for m in messages if isinstance(m["message"], dict)]  # report notices share the topic
        messages = [m for m in ours if m["message"].get("order_id") == args.order]
    if args.last:
        messages = messages[-args.last :]
    if args.json:
        print(json.dumps(messages, ensure_ascii=False, indent=1))
        return 0
    if not messages:
        print("no work-order notices published yet")
    else:
        print(table(COLUMNS, [row(message) for message in messages]))
    return 0


def register_local(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "notifications",
        help="the work-order notices published to WorkOrderTopic (reminders, escalations, decisions)",
        description="Lists what the hub published to the work-order SNS topic, oldest first: the event, "
        "the audience with its region or agency (the attributes departments filter on), the order.",
    )
    parser.add_argument("--order", help="only this work order's notices")
    parser.add_argument("--last", type=int, default=0, help="only the last N")
    parser.add_argument("--json", action="store_true", help="the messages with their attributes, as JSON")
    parser.add_argument("--state-dir", help="where local.json is (default .hcp)")
    parser.set_defaults(func=run)

"""`hcp workorders list|show|act`: bad-rating work orders (R10-R18) as a signed-in person.

    hcp workorders list --as ganxian-management --overdue
    hcp workorders show wo-xxxx --as market-dept              # the story: each event, when, who, what
    hcp workorders act wo-xxxx classify --kind complex --as market-dept
    hcp workorders act wo-xxxx request_extension --reason 需协调 --until 2026-10-30 --as market-dept
    hcp workorders act wo-xxxx approve_extension --body '{"note": "同意"}' --as ganxian-management
    hcp workorders act --help                                 # every action and its fields

On the local cloud the person is a demo user (`--as`, default operator) whose token `cli.people.bearer`
fetches; elsewhere `--url` and `--token`. People get tables and stories, scripts `--json`. Exit codes: 0 done,
1 refused by the hub (status, code and message_zh on one stderr line), 2 unusable arguments.
"""

from __future__ import annotations

import argparse
import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cli.api_call import json_call as _call
from cli.main import UsageError
from cli.table import shown, table

SHANGHAI = ZoneInfo("Asia/Shanghai")


def run_list(args: argparse.Namespace) -> int:
    query = {name: value for name, value in (("status", args.status), ("unit", args.unit), ("region", args.region),
             ("due_before", args.due_before), ("cursor", args.cursor)) if value}  # fmt: skip
    if args.overdue:
        query["overdue"] = "true"
    if args.limit:
        query["limit"] = str(args.limit)
    return shown(*_call(args, "GET", "/v1/work-orders", query=query), args.json, listing)


def listing(answer: dict[str, Any]) -> str:
    """One line per order: id first, then what a unit scans for (status, grade, unit, case, next deadline)."""
    rows = []
    for order in answer.get("items", []):
        deadlines = order.get("deadlines") or {}
        due = min(deadlines.items(), key=lambda item: item[1]) if deadlines else None
        unit = order.get("unit") or {}
        rows.append([
            order["id"], order["status"] + (f" ({order['kind']})" if order.get("kind") else ""), order.get("grade"),
            unit.get("agency_name") or unit.get("agency_code"), order.get("case_no"),
            f"{due[0]} {_when(due[1])}" if due else "-", ",".join(order.get("overdue") or []) or "-",
        ])  # fmt: skip
    if not rows:
        return "no work orders"
    text = table(["ID", "STATUS", "GRADE", "UNIT", "CASE", "NEXT DEADLINE", "OVERDUE"], rows, widest=30)
    if answer.get("next_cursor"):
        text += f"\nmore: --cursor {answer['next_cursor']}"
    return text


def run_show(args: argparse.Namespace) -> int:
    status, answer = _call(args, "GET", f"/v1/work-orders/{urllib.parse.quote(args.id)}")
    return shown(status, answer, args.json, lambda order: story(order, _demo_names(args)))


_OWN_OPTIONS = {"--as": "as_user", "--token": "token", "--url": "url", "--state-dir": "state_dir",
                "--body": "json_body"}


def run_act(args: argparse.Namespace) -> int:
    fields = list(args.fields)
    while "--json" in fields:  # the output flag, given after the fields
        fields.remove("--json")
        args.as_json = True
    for option, attribute in _OWN_OPTIONS.items():  # given after the fields, they are the command's own
        while option in fields:
            i = fields.index(option)
            if i + 1 >= len(fields):
                raise UsageError(f"{option} needs a value")
            setattr(args, attribute, fields[i + 1])
            del fields[i : i + 2]
    body = _body(args.action, fields, args.json_body)
    status, answer = _call(args, "POST", f"/v1/work-orders/{urllib.parse.quote(args.id)}/actions", body)
    return shown(status, answer, args.as_json, acted)


def acted(answer: dict[str, Any]) -> str:
    """`wo-…  version 3  replied: replied to the rater: 已答复` — what the action did, and where the order is."""
    order, event = answer.get("order") or {}, answer.get("event") or {}
    line = f"{order.get('id')}  version {order.get('version')}  {order.get('status')}: {_what(event) if event else ''}"
    open_deadlines = order.get("open_deadlines") or {}
    if open_deadlines:
        line += "\nopen deadlines: " + ", ".join(f"{k} {_limit(v)}" for k, v in open_deadlines.items())
    return line


def _body(action: str, fields: list[str], raw: str | None) -> dict[str, Any]:
    """`--name value` pairs (dashes become underscores; null/true/false and numbers as JSON), or --body."""
    body: dict[str, Any] = {}
    if raw:
        try:
            loaded = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--body is not JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise UsageError('--body takes an object, e.g. \'{"kind": "simple"}\'')
        body.update(loaded)
    rest = list(fields)
    while rest:
        name = rest.pop(0)
        if not name.startswith("--") or not rest:
            raise UsageError(f"fields go as --name value pairs; got {name!r}")
        value = rest.pop(0)
        body[name[2:].replace("-", "_")] = _value(value)
    return {"action": action, **body}


def _value(text: str) -> Any:
    if text in ("null", "true", "false") or text.lstrip("-").isdigit():
        return json.loads(text)
    return text


# --------------------------------------------------------------------------------------------------
# The story of an order, readably


def _demo_names(args: argparse.Namespace) -> dict[str, str]:
    """Account id (the token's sub) -> demo user name, read from the local cloud's cached tokens."""
    if args.url:
        return {}
    from cli.state import load_state

    try:
        users = load_state(args.state_dir).get("users") or {}
    except UsageError:
        return {}
    names = {}
    for name, user in users.items():
        token = str(user.get("id_token") or "")
        try:
            payload = token.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            names[str(claims["sub"])] = name
        except (IndexError, ValueError, KeyError):
            continue
    return names


def _when(text: str | None) -> str:
    if not text:
        return "-"
    return datetime.fromisoformat(text).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _limit(limit: dict[str, Any]) -> str:
    return limit["date"] + (" (provisional)" if limit.get("provisional") else "")


def _what(event: dict[str, Any]) -> str:
    kind = event["type"]
    if kind == "WorkOrderDispatched":
        d = event["deadlines"]
        unit, managing = event["unit"], event["managing_department"]
        visit = " - real name: follow-up visit required (R13)" if event["real_name"] else ""
        return (f"dispatched to {unit.get('agency_name') or unit['agency_code']} ({unit['agency_code']}), managed by "
                f"{managing['region_code']}{visit}"
                f"; reply by {_limit(d['reply'])} (simple), contact by {_limit(d['contact'])} and resolve by "
                f"{_limit(d['resolve'])} (complex), appeal by {_limit(d['appeal'])}")  # fmt: skip
    on_time = "" if event.get("on_time", True) else " - LATE"
    described = {
        "OrderClassified": lambda: f"classified {event.get('kind')}",
        "ReplySent": lambda: f"replied to the rater: {event.get('summary')}{on_time}",
        "RaterContacted": lambda: f"contacted the rater: {event.get('note')}{on_time}",
        "OrderResolved": lambda: f"resolved: {event.get('rectification')}{on_time}",
        "RatingNotAdopted": lambda: f"marked not adopted ({event.get('grounds')}): {event.get('verification')}",
        "ExtensionRequested": lambda: f"asked to extend the {event.get('deadline')} deadline from "
        f"{event['current']['date']} to {event.get('until')}: {event.get('reason')}",
        "ExtensionApproved": lambda: f"approved the extension: {event.get('deadline')} now by "
        f"{event['new_time_limit']['date']}" + (f" ({event['note']})" if event.get("note") else ""),
        "ExtensionRefused": lambda: f"refused the extension: {event.get('reason')}",
        "AppealFiled": lambda: f"appealed ({event.get('grounds')}): {event.get('reason')}; review by "
        f"{event['review_by']['date']}",
        "AppealUpheld": lambda: f"upheld the appeal - the rating is not adopted: {event.get('finding')}",
        "AppealRejected": lambda: f"rejected the appeal: {event.get('reason')}",
        "FollowUpVisited": lambda: f"follow-up visit by {event.get('method')}",
        "SatisfactionSurveyed": lambda: f"surveyed the rater's satisfaction by {event.get('method')}: "
        f"{event.get('satisfaction') or 'declined / unreachable'}",
        "OrderClosed": lambda: "closed" + ("" if event.get("rating_adopted", True) else " (rating not adopted)"),
        "DeadlineEscalated": lambda: f"escalated the overdue {event.get('deadline')} deadline "
        f"(due {event['due']['date']}) to {event['to']['region_code']}",
        "DeadlineReminded": lambda: f"reminded the unit: the {event.get('deadline')} deadline falls due today "
        f"({event['due']['date']})",
        "DeadlinesRecomputed": lambda: "recomputed provisional deadlines: " + ", ".join(
            f"{c['deadline']} {c['before']['date']} -> {c['after']['date']}" for c in event.get("changes", [])),
    }  # fmt: skip
    return described[kind]() if kind in described else kind


def story(order: dict[str, Any], names: dict[str, str] | None = None) -> str:
    """The order's header and its history, one line per event: when (Beijing), who (role/account), what."""
    names = names or {}
    unit = order["unit"]
    lines = [
        f"{order['id']}  {order['status']}{' (' + order['kind'] + ')' if order.get('kind') else ''}  "
        f"version {order['version']}",
        f"rating {order['rating_id']}  case {order['case_no']}  {order.get('service_name') or ''}  grade "
        f"{order['grade']}{'  real name' if order['real_name'] else ''}".rstrip(),
        f"unit {unit.get('agency_name') or ''} {unit['agency_code']} ({unit['region_code']}, {unit['level']})  "
        f"managed by {order['managing_department']['region_code']} ({order['managing_department']['level']})",
    ]
    open_deadlines = order.get("open_deadlines") or {}
    if open_deadlines:
        lines.append("open deadlines: " + ", ".join(f"{k} {_limit(v)}" for k, v in open_deadlines.items()))
    if order.get("overdue"):
        lines.append("OVERDUE: " + ", ".join(order["overdue"]))
    lines.append("")
    for event in order["history"]:
        actor = event["actor"]
        who = f"{actor['role']}/{names.get(actor['id'], actor['id'])}"
        lines.append(f"{event['version']:>3}  {_when(event['at'])}  {who:<32}  {_what(event)}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------


def actions_help() -> str:
    """Every action with its fields, read from the command models the API validates against (hub.workorders)."""
    from hub.workorders import COMMAND_ADAPTER

    schema = COMMAND_ADAPTER.json_schema()
    definitions = schema.get("$defs", {})

    def choices(prop: dict[str, Any]) -> str:
        ref = prop.get("$ref") or next((p.get("$ref") for p in prop.get("anyOf", []) if "$ref" in p), None)
        target = definitions.get(str(ref).rsplit("/", 1)[-1], {}) if ref else prop
        if "enum" in target:
            return "{" + ",".join(str(v) for v in target["enum"]) + "}"
        return "DATE" if target.get("format") == "date" else "TEXT"

    lines = ["actions and their fields ([...] optional; every action also takes --expected-version N):"]
    for definition in sorted(definitions.values(), key=lambda d: str(d.get("properties", {}).get("action", {}))):
        props = definition.get("properties", {})
        if "action" not in props:
            continue
        name = props["action"].get("const") or props["action"].get("default")
        required = set(definition.get("required", []))
        fields = []
        for key, prop in props.items():
            if key not in ("action", "expected_version"):
                field = f"--{key.replace('_', '-')} {choices(prop)}"
                fields.append(field if key in required else f"[{field}]")
        lines.append(f"  {name:<22} {' '.join(fields)}".rstrip())
    lines.append("\ne.g. hcp workorders act ID request_extension --reason 需协调 --until 2026-12-20 --as market-dept")
    return "\n".join(lines)


class _ActionsHelp(argparse.Action):
    """-h: the usage, then the actions (built only when asked: it imports the domain's models)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: Any, **__: Any) -> None:
        parser.epilog = actions_help()
        parser.print_help()
        parser.exit()


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as", dest="as_user", default="operator", help="the demo user to act as (default operator)")
    parser.add_argument("--token", help="an ID token instead of a demo user's")
    parser.add_argument("--url", help="the hub's API base URL (default: the local cloud's)")
    parser.add_argument("--state-dir", help="where local.json is (default .hcp)")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "workorders",
        help="bad-rating work orders: list, show the story, act",
        description="Work orders (差评工单, R10-R18) through /v1/work-orders as a signed-in person.",
    )
    commands = parser.add_subparsers(dest="workorders_command", metavar="COMMAND", required=True)

    listing = commands.add_parser("list", help="the orders you may see, newest first")
    listing.add_argument("--status", help="dispatched, simple, complex, replied, contacted, resolved, ..., closed")
    listing.add_argument("--overdue", action="store_true", help="only orders with a deadline passed (local clock)")
    listing.add_argument("--due-before", help="a binding deadline before this time or date")
    listing.add_argument("--unit", help="an agency code")
    listing.add_argument("--region", help="a division code (a county lists its townships' too)")
    listing.add_argument("--limit", type=int, help="page size, 1-100 (default 50)")
    listing.add_argument("--cursor", help="the next_cursor of the previous page")
    listing.add_argument("--json", action="store_true", help="the page as the API answers it")
    _common(listing)
    listing.set_defaults(func=run_list)

    show = commands.add_parser("show", help="one order: its deadlines and its whole story")
    show.add_argument("id")
    show.add_argument("--json", action="store_true", help="the order as the API answers it")
    _common(show)
    show.set_defaults(func=run_show)

    act = commands.add_parser(
        "act",
        help="one action: classify, send_reply, record_contact, resolve, request_extension, approve_extension, ...",
        description="ACTION and its fields as --name value pairs (or --body JSON); --expected-version N refuses "
        "the action if the order changed since you read it. Prints what the action did and the order's open "
        "deadlines (--json: the order and the event as the API answers them); a refusal is one line on stderr.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    act.add_argument("-h", "--help", action=_ActionsHelp, nargs=0, help="this help, with every action's fields")
    act.add_argument("id")
    act.add_argument("action")
    act.add_argument("--body", dest="json_body", help="the command's fields as a JSON object")
    act.add_argument("--json", dest="as_json", action="store_true", help="print the answer as JSON")
    _common(act)
    act.add_argument("fields", nargs=argparse.REMAINDER, help="--name value pairs, e.g. --kind simple")
    act.set_defaults(func=run_act)

"""`hcp clock show | set ISO | advance 3d`: the running local cloud's clock.

The services read time through one clock (infra.clock). In the local cloud it can be set and
advanced; moving it fires the schedule rules it passes — once per rule per move, at the latest due
time passed (infra/localcloud/schedules.py says why). Production has no such clock.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cli.main import UsageError
from cli.state import load_state

SHANGHAI = ZoneInfo("Asia/Shanghai")


class NotRunning(Exception):
    """The local cloud's state file is missing or stale, or its API does not answer."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "clock",
        help="show, set or advance the local cloud's clock",
        description="The running local cloud's clock: show it, set it, or advance it (firing the "
        "schedule rules it passes).",
    )
    parser.add_argument("--state-dir", default=None, help="where local.json is (default .hcp, or $HCP_STATE_DIR)")
    parser.add_argument("--json", action="store_true", help="print the local cloud's answer as JSON")
    sub = parser.add_subparsers(dest="clock_command", metavar="SUBCOMMAND", required=True)
    sub.add_parser("show", help="the clock and when each schedule rule is due").set_defaults(func=run)
    set_parser = sub.add_parser("set", help="set the clock to an ISO 8601 time with its UTC offset")
    set_parser.add_argument("when", metavar="ISO", help="e.g. 2026-11-28T12:00:00+08:00")
    set_parser.set_defaults(func=run)
    advance = sub.add_parser("advance", help="advance the clock, e.g. 3d, 2h30m, 90s, 1w")
    advance.add_argument("by", metavar="DURATION")
    advance.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    request: dict[str, Any] | None = None
    if args.clock_command == "set":
        request = {"set": _moment(args.when).isoformat()}
    elif args.clock_command == "advance":
        from infra.localcloud.schedules import parse_duration

        try:
            by = parse_duration(args.by)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if by.total_seconds() <= 0:
            raise UsageError("advance takes a positive duration; use `hcp clock set` to go back")
        request = {"advance": args.by}
    try:
        answer = call_clock(args.state_dir, request)
    except NotRunning as exc:
        print(f"hcp: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(answer, ensure_ascii=False, indent=1))
    else:
        print(describe(answer))
    return 1 if any(not f.get("ok") for f in answer.get("fired", [])) else 0


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{text!r} is not an ISO 8601 time, e.g. 2026-11-28T12:00:00+08:00") from None
    if moment.tzinfo is None:
        raise UsageError(f"{text!r} has no UTC offset, e.g. 2026-11-28T12:00:00+08:00")
    return moment


def call_clock(directory: str | None, request: dict[str, Any] | None) -> dict[str, Any]:
    """GET (request None) or POST the running local cloud's `/_local/clock`."""
    try:
        state = load_state(directory)
    except UsageError as exc:
        raise NotRunning(str(exc)) from None
    if state.get("stopped_at"):
        raise NotRunning(f"the local cloud stopped at {state['stopped_at']}: start it with `hcp local up`")
    url = state["api_url"].rstrip("/") + "/_local/clock"
    data = json.dumps(request).encode() if request is not None else None
    http_request = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                          headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(http_request, timeout=300) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as exc:
        message = json.loads(exc.read() or b"{}").get("message", exc.reason)
        raise UsageError(f"the local cloud refused: {message}") from None
    except urllib.error.URLError as exc:
        raise NotRunning(f"the local cloud does not answer at {url} ({exc.reason}): start it with `hcp local up`"
                         ) from None


def describe(answer: dict[str, Any]) -> str:
    now = datetime.fromisoformat(answer["now"])
    lines = [f"now   {now.astimezone(SHANGHAI).isoformat(timespec='seconds')}  "
             f"({now.isoformat(timespec='seconds')})"]
    for firing in answer.get("fired", []):
        when = datetime.fromisoformat(firing["scheduled_time"]).astimezone(SHANGHAI).isoformat(timespec="seconds")
        outcome = "ok" if firing["ok"] else f"FAILED: {firing.get('error')}"
        lines.append(f"fired {firing['rule']} -> {firing['function']} (due {when}): {outcome}")
    for rule in answer.get("rules", []):
        due = rule.get("next_due")
        due_text = datetime.fromisoformat(due).astimezone(SHANGHAI).isoformat(timespec="seconds") if due else "-"
        lines.append(f"next  {rule['rule']} {rule['schedule']}: {due_text}")
    return "\n".join(lines)

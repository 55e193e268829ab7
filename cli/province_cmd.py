"""`hcp local province`: what the provincial stub received — ratings, or with `--outcomes` the work orders'
outcomes — and its fault knobs (break it, watch it recover)."""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from typing import Any

from cli.main import UsageError
from cli.state import load_state


def _call(url: str, payload: dict[str, Any] | None = None) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.URLError as err:
        raise UsageError(f"the provincial stub at {url} does not answer ({err}); is `make run` running?") from None


def run(args: argparse.Namespace) -> int:
    state = load_state(args.state_dir)
    base = state.get("province_url")
    if not base:
        raise UsageError("the local cloud's state names no provincial stub")
    faults: dict[str, Any] = {}
    if args.down:
        faults["down"] = True
    if args.up:
        faults |= {"down": False, "error_rate": 0.0, "timeout_rate": 0.0}
    if args.error_rate is not None:
        faults["error_rate"] = args.error_rate
    if args.timeout_rate is not None:
        faults["timeout_rate"] = args.timeout_rate
    if faults:
        _call(f"{base}/_faults", faults)
        print(json.dumps({"faults": _call(f"{base}/_faults")}, ensure_ascii=False, indent=2))
        return 0
    if args.stats:
        print(json.dumps(_call(f"{base}/_stats"), ensure_ascii=False, indent=2))
        return 0
    received = _call(f"{base}/_outcomes" if args.outcomes else f"{base}/_received")
    shown = received[-args.last :] if args.last else received
    print(json.dumps(shown, ensure_ascii=False, indent=2))
    return 0


def register_local(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "province",
        help="what the provincial stub received; --down/--up and rates to inject faults",
        description="Lists the payloads the stub accepted (newest last), or changes its fault knobs.",
    )
    parser.add_argument("--stats", action="store_true", help="counts: accepted, duplicates, rejected, faults")
    parser.add_argument("--last", type=int, default=0, help="only the last N payloads")
    parser.add_argument("--outcomes", action="store_true", help="the work-order outcomes received instead (R17)")
    parser.add_argument("--down", action="store_true", help="the stub stops answering ratings")
    parser.add_argument("--up", action="store_true", help="the stub answers again, every fault off")
    parser.add_argument("--error-rate", type=float, help="share of requests answered 503 (0..1)")
    parser.add_argument("--timeout-rate", type=float, help="share of requests answered too late (0..1)")
    parser.add_argument("--state-dir", help="where local.json is (default .hcp)")
    parser.set_defaults(func=run)

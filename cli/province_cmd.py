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
from cli.table import flatten, story, table


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
        faults |= {"down": False, "error_rate": 0.0, "timeout_rate": 0.0, "error_status": 503}
    if args.error_rate is not None:
        faults["error_rate"] = args.error_rate
    if args.error_status is not None:
        faults["error_status"] = args.error_status
    if args.timeout_rate is not None:
        faults["timeout_rate"] = args.timeout_rate
    if faults:
        _call(f"{base}/_faults", {**_call(f"{base}/_faults"), **faults})  # the knobs not named stay as they were
        now = _call(f"{base}/_faults")
        print(json.dumps({"faults": now}, ensure_ascii=False, indent=2) if args.json else f"province: {health(now)}")
        return 0
    if args.stats:
        counts, now = _call(f"{base}/_stats"), _call(f"{base}/_faults")
        queues = forward_queues(state)
        if args.json:
            print(json.dumps({"stats": counts, "faults": now, "queues": queues}, ensure_ascii=False, indent=2))
        else:
            print(stats_story(base, counts, now, queues))
        return 0
    received = _call(f"{base}/_outcomes" if args.outcomes else f"{base}/_received")
    shown = received[-args.last :] if args.last else received
    if args.json:
        print(json.dumps(shown, ensure_ascii=False, indent=2))
    elif not shown:
        print("the provincial stub has received no " + ("outcomes" if args.outcomes else "ratings") + " yet")
    elif len(shown) == 1:  # one record: every field, national names as the province reads them
        print(story(flatten(shown[0])))
    else:
        columns = OUTCOME_COLUMNS if args.outcomes else RATING_COLUMNS
        print(table(columns, [[record.get(c) for c in columns] for record in shown], widest=24))
    return 0


RATING_COLUMNS = ("evalId", "assessTime", "satisfaction", "isDefault", "deptName", "projectNo", "pf")
OUTCOME_COLUMNS = ("outcomeId", "workOrderNo", "outcomeType", "handleTime", "onTime", "notAdoptedBy", "satisfaction")


def health(faults: dict[str, Any]) -> str:
    if faults.get("down"):
        return "DOWN (every rating connection is reset, unanswered)"
    broken = [f"{name.replace('_', ' ')} {faults[name]:g}" for name in ("error_rate", "timeout_rate")
              if faults.get(name)]  # fmt: skip
    if faults.get("error_rate") and faults.get("error_status", 503) != 503:
        broken.append(f"errors answered {faults['error_status']}")
    if faults.get("reject_status"):
        broken.append(f"answers every rating {faults['reject_status']}")
    return "up" + (f", faults: {', '.join(broken)}" if broken else ", no faults")


def forward_queues(state: dict[str, Any]) -> dict[str, int] | None:
    """Messages on the forward queue (waiting for a retry included) and its dead-letter queue, from moto."""
    resources = state.get("resources", {})
    if "ForwardQueue" not in resources or not state.get("aws_endpoint"):
        return None
    import boto3

    sqs = boto3.session.Session().client(
        "sqs", endpoint_url=state["aws_endpoint"], region_name=state.get("region", "us-east-1"),
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
             "ApproximateNumberOfMessagesDelayed"]
    depths = {}
    for label, logical_id in (("forward", "ForwardQueue"), ("dead_letter", "ForwardDeadLetterQueue")):
        if logical_id in resources:
            got = sqs.get_queue_attributes(QueueUrl=resources[logical_id], AttributeNames=names)["Attributes"]
            depths[label] = sum(int(got.get(n, 0)) for n in names)
    return depths


def stats_story(base: str, counts: dict[str, int], faults: dict[str, Any], queues: dict[str, int] | None) -> str:
    """What the forward function is up against, and what it has got through."""
    pairs = [
        ("province stub", f"{base}  {health(faults)}"),
        ("accepted", f"{counts.get('accepted', 0)} ratings and outcomes since it started"
                     f" ({counts.get('duplicates', 0)} re-sent duplicates, {counts.get('rejected', 0)} rejected)"),
        ("refused by faults", f"{counts.get('faults_injected', 0)} of {counts.get('requests', 0)} requests"),
    ]  # fmt: skip
    if queues is not None:
        pairs.append(("forward queue", f"{queues.get('forward', 0)} waiting (retried with backoff: 10 s, 20 s, ...)"))
        pairs.append(("dead-letter queue", f"{queues.get('dead_letter', 0)} (hcp dlq show | redrive)"))
    return story(pairs)


def register_local(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "province",
        help="what the provincial stub received; --down/--up and rates to inject faults",
        description="Lists the payloads the stub accepted (newest last): a table, or every field of one "
        "(--last 1); --stats: its health, counts and the forward queues; or changes its fault knobs.",
    )
    parser.add_argument("--stats", action="store_true", help="counts: accepted, duplicates, rejected, faults")
    parser.add_argument("--last", type=int, default=0, help="only the last N payloads")
    parser.add_argument("--outcomes", action="store_true", help="the work-order outcomes received instead (R17)")
    parser.add_argument("--down", action="store_true", help="the stub stops answering ratings")
    parser.add_argument("--up", action="store_true", help="the stub answers again, every fault off")
    parser.add_argument("--error-rate", type=float, help="share of requests answered 503 (0..1)")
    parser.add_argument("--error-status", type=int, choices=[500, 503],
                        help="what those errors answer: 503 busy (retried, never dead-letters) or 500 "
                        "(the province failed on the rating: counted; dead-lettered after 5)")
    parser.add_argument("--timeout-rate", type=float, help="share of requests answered too late (0..1)")
    parser.add_argument("--json", action="store_true", help="the records (or stats, or faults) as JSON")
    parser.add_argument("--state-dir", help="where local.json is (default .hcp)")
    parser.set_defaults(func=run)

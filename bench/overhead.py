"""Per-request overhead of the ingest function, in-process with the fakes: one signed one-rating request through
the real handler (`functions.ingest.make_handler`: Powertools' Logger, Metrics and REST resolver, the signature
check, the reply), against the normalize cost of its rating, measured in the same requests.

    handler overhead = whole handler - the ingest service (normalize, scope, archive, store, queue: the fakes)
    target (issue 15 item 3): handler overhead <= the normalize cost of the rating

CPU time per request (`time.thread_time`: a loaded machine's waiting is not counted), the median of `--requests`
requests, each a new rating (its own order id and nonce; signed before the clock starts: signing is the
source's cost), after `--warmup` requests. LOG_LEVEL is INFO as deployed; logs and metrics are written to a
null stream (their formatting is counted, the terminal is not). `--breakdown` also times the overhead's parts
(each wrapped, so the whole grows by a few µs); `--profile` prints cProfile's top 70 of the handler.

    .venv/bin/python bench/overhead.py [--requests 400] [--breakdown] [--profile]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LOG_LEVEL", "INFO")

from functions import ingest  # noqa: E402
from infra import bootstrap  # noqa: E402
from infra.clock import LocalClock  # noqa: E402
from infra.signing import sign  # noqa: E402

KIOSK = (ROOT.parent / "shared" / "samples" / "kiosk" / "01-dissatisfied-labels.json").read_bytes()
NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")  # the sample's day


class Context:
    function_name, memory_limit_in_mb, aws_request_id = "IngestFunction", 1024, "overhead"
    invoked_function_arn = "arn:aws-cn:lambda:cn-north-1:0:function:IngestFunction"

    def get_remaining_time_in_millis(self) -> int:
        return 15000


def event(connector_id: str, secret: str, n: int) -> dict[str, Any]:
    """One kiosk rating (a new order id: a new rating), signed, as API Gateway passes it (binary, base64)."""
    body = KIOSK.replace(b"K20261128093011", f"K{n:014d}".encode())
    headers = sign(secret, body, int(time.time()), f"overhead-nonce-{n:010d}", connector_id=connector_id)
    return {
        "resource": "/v1/connectors/{connector_id}/ratings", "path": f"/v1/connectors/{connector_id}/ratings",
        "httpMethod": "POST", "headers": {**headers, "Content-Type": "application/json"},
        "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": {"connector_id": connector_id}, "stageVariables": None,
        "requestContext": {"requestId": f"overhead-{n}", "stage": "prod", "identity": {"sourceIp": "10.0.0.8"},
                           "requestTimeEpoch": int(time.time() * 1000), "httpMethod": "POST"},
        "body": base64.b64encode(body).decode(), "isBase64Encoded": True,
    }  # fmt: skip


class Meter:
    """CPU time spent inside a wrapped callable, per request."""

    def __init__(self) -> None:
        self.spent = 0.0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent += time.thread_time() - started

        return timed


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Logs and EMF metrics go to stdout (CloudWatch in Lambda): formatted and written, to a null stream."""
    sys.stdout.flush()
    saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--breakdown", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    services, fakes = bootstrap.in_memory_ingest(clock=LocalClock(NOW))
    connector, secret = fakes["connectors"].create("kiosk", "大厅评价器", "数据局", now=NOW)
    service, normalizing = Meter(), Meter()
    services.service.normalize = normalizing.wrap(services.service.normalize)
    services.service.ingest = service.wrap(services.service.ingest)  # type: ignore[method-assign]
    parts: dict[str, Meter] = {}
    if args.breakdown:  # the parts of the overhead that are ours to shape; the rest is Powertools' own
        for label, owner, name in (("signature check (verify, nonce)", ingest, "signed_request"),
                                   ("log line 'ingested'", ingest.logger, "info"),
                                   ("metrics (4 outcomes)", ingest.metrics, "add_metric"),
                                   ("reply (JSON)", ingest, "reply"),
                                   ("adapter look-up", ingest, "_adapter")):  # fmt: skip
            parts[label] = Meter()
            setattr(owner, name, parts[label].wrap(getattr(owner, name)))
    handler = ingest.make_handler(build=lambda: services)
    total = args.warmup + args.requests
    events = [event(connector.connector_id, secret, n) for n in range(total)]
    whole: list[float] = []
    by_part: dict[str, list[float]] = {label: [] for label in parts}
    inside: list[float] = []
    normalize: list[float] = []
    profiler = None
    with quiet():
        for n, ev in enumerate(events):
            if n == args.warmup and args.profile:
                import cProfile

                profiler = cProfile.Profile(time.thread_time)
                profiler.enable()
            service.spent = normalizing.spent = 0.0
            for meter in parts.values():
                meter.spent = 0.0
            started = time.thread_time()
            reply = handler(ev, Context())
            spent = time.thread_time() - started
            assert reply["statusCode"] == 202 and '"accepted"' in reply["body"], reply
            if n >= args.warmup:
                whole.append(spent)
                inside.append(service.spent)
                normalize.append(normalizing.spent)
                for label, meter in parts.items():
                    by_part[label].append(meter.spent)
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(70)
    assert len(fakes["ratings"].stored()) == total if hasattr(fakes["ratings"], "stored") else True
    per = {name: statistics.median(values) * 1e6 for name, values in
           (("whole", whole), ("service", inside), ("normalize", normalize))}  # fmt: skip
    overhead = statistics.median(w - s for w, s in zip(whole, inside, strict=True)) * 1e6
    print(f"one signed one-rating request (kiosk), in-process with the fakes, CPU µs, median of {args.requests}:")
    print(f"  whole handler {per['whole']:7.1f}   ingest service {per['service']:7.1f}   "
          f"of it normalize {per['normalize']:7.1f}")  # fmt: skip
    if by_part:
        medians = {label: statistics.median(values) * 1e6 for label, values in by_part.items()}
        for label, value in medians.items():
            print(f"  of the overhead: {label:34} {value:7.1f}")
        print(f"  of the overhead: {'Powertools (resolver, Logger/Metrics)':34} {overhead - sum(medians.values()):7.1f}"
              " (the rest)")  # fmt: skip
    ratio = overhead / per["normalize"]
    verdict = "met" if ratio <= 1.0 else "MISSED"
    print(f"handler overhead {overhead:.1f} µs = {ratio:.2f}x the normalize cost; "
          f"target <= 1.0x (issue 15 item 3): {verdict}")  # fmt: skip


if __name__ == "__main__":
    main()

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
The environment is the template's for Powertools (service name, metrics namespace: the EMF carries the
service dimension as deployed). `--compare REF` also runs git REF's code (e.g. main) with this same bench,
interleaved with this tree's, `--rounds` times each: a before/after from one run on a shared machine.

    .venv/bin/python bench/overhead.py [--requests 400] [--breakdown] [--profile] [--compare main --rounds 3]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path(os.environ.get("HCP_OVERHEAD_SOURCE") or ROOT)  # the code measured: this tree, or --compare's REF
sys.path.insert(0, str(SOURCE))
for name, value in {"LOG_LEVEL": "INFO", "POWERTOOLS_SERVICE_NAME": "hcp-hub",
                    "POWERTOOLS_METRICS_NAMESPACE": "HcpHub"}.items():  # template.yaml's Globals  # fmt: skip
    os.environ.setdefault(name, value)

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


def source_at(ref: str) -> Path:
    """The tree as of git `ref`, extracted (the before of a before/after)."""
    source = Path(tempfile.mkdtemp(prefix="hcp-overhead-ref-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    return source


def compare(ref: str, rounds: int, requests: int) -> None:
    """This tree and `ref`'s, each in its own process, alternately; every run's last lines, then the medians."""
    sources = {"this tree": ROOT, ref: source_at(ref)}
    ratios: dict[str, list[float]] = {label: [] for label in sources}
    for n in range(rounds):
        for label, source in sources.items() if n % 2 == 0 else reversed(sources.items()):
            out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--requests", str(requests)],
                                 env={**os.environ, "HCP_OVERHEAD_SOURCE": str(source)}, check=True,
                                 capture_output=True, text=True).stdout.strip().splitlines()  # fmt: skip
            print("\n".join(f"[{label}] {line}" for line in out[1:]))
            ratios[label].append(float(out[-1].split(" = ")[1].split("x")[0]))
    for label, values in ratios.items():
        print(f"{label}: overhead / normalize median {statistics.median(values):.2f}x over {rounds} runs "
              f"({', '.join(f'{v:.2f}' for v in values)})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--breakdown", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--compare", metavar="REF", help="also run git REF's code (e.g. main), interleaved")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each with --compare")
    args = parser.parse_args()
    if args.compare:
        compare(args.compare, args.rounds, args.requests)
        return
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
    print("load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"handler overhead {overhead:.1f} µs = {ratio:.2f}x the normalize cost; "
          f"target <= 1.0x (issue 15 item 3): {verdict}")  # fmt: skip


if __name__ == "__main__":
    main()

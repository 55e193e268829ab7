"""End to end on the local cloud: ratings posted in batches, latency from POST to the stub's receipt.

Prints p50/p99 latency and throughput, none lost, and the ratio of the hub's p50 to a baseline
measured in the same run: the provincial client sending the same kind of rating straight to the stub
(the least any path to the province can cost here). Target (issue 3): p99 <= 1 s, none lost.

    .venv/bin/python bench/e2e.py [--ratings 10000] [--batch 100] [--clients 2] [--rate 50]

`--rate 50` offers the ratings at 50 a second (an integrator's load test, issue 15 item 6), each batch leaving on
its schedule, and latency is counted from when it left; without it the clients post as fast as they are answered.

The fault case (issue 16): `--faults 0.3,0.1` has the stub answer 503 to 30 % of requests and hang past the
read timeout on 10 % (`--hang` seconds, default read timeout + 1 s); `--province-latency 2.0[,0.5]` has it
answer 2 s late (to half the requests). Either prints, besides latency: delivered, lost, duplicate sends,
the dead-letter queue's depth, provincial requests per second, and each function's longest invocation
against its timeout (the local cloud abandons a queue invocation past it, as Lambda does). An invocation
past its timeout is told apart: past it by design, or only because the machine starved the process (the
local cloud's starvation probe, `infra.localcloud.lambdas.PROBE`: the time its Python was kept waiting during
the invocation, taken off its wall time, brings it within the timeout). The load average during the run and
the process's CPU time against wall time are printed with it: the machine is shared. Each invocation past its
timeout is printed with where its time went: moto's answers beyond the 10 ms a call takes in AWS, this process kept
from the CPU (the probe), and its own work (the rest: the part that would run past the timeout in AWS too).

    .venv/bin/python bench/e2e.py --ratings 1000 --faults 0.3,0.1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.posting import Poster, Tally, kiosk_body  # noqa: E402
from connectors.normalize import normalize  # noqa: E402
from connectors.registry import adapter_for  # noqa: E402
from hub.calendar import WorkingDayCalendar  # noqa: E402
from infra.localcloud.hubcloud import HubLocalCloud  # noqa: E402
from infra.province.client import ProvincialClient  # noqa: E402

KIOSK = json.loads((ROOT.parent / "shared" / "samples" / "kiosk" / "01-dissatisfied-labels.json").read_text("utf-8"))
NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratings", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--clients", type=int, default=2, help="concurrent posting clients")
    parser.add_argument("--rate", type=float, default=None,
                        help="ratings per second offered (an integrator's load test: 50); default as fast as answered")
    parser.add_argument("--baseline", type=int, default=300, help="direct sends for the baseline")
    parser.add_argument("--faults", help="ERROR_RATE,TIMEOUT_RATE at the stub, e.g. 0.3,0.1")
    parser.add_argument("--hang", type=float, default=None, help="seconds a timeout fault hangs (default: read + 1)")
    parser.add_argument("--province-latency", help="SECONDS[,SHARE]: the stub answers that late (to that share)")
    parser.add_argument("--attempts", type=int, default=4,
                        help="a POST answered 5xx/429 or not at all is sent this many times in all (a vendor's retry)")
    parser.add_argument("--wait", type=float, default=900, help="seconds to wait for every rating at the stub")
    parser.add_argument("--faults-for", type=float, default=None,
                        help="seconds after the first POST the faults last (default: the whole run)")  # fmt: skip
    args = parser.parse_args()
    faults: dict[str, float] = {}
    if args.faults:
        error_rate, timeout_rate = (float(x) for x in args.faults.split(","))
        read_timeout = float(os.environ.get("PROVINCE_READ_TIMEOUT") or 5.0)
        faults = {"error_rate": error_rate, "timeout_rate": timeout_rate,
                  "timeout_sleep": args.hang if args.hang is not None else read_timeout + 1}  # fmt: skip
    if args.province_latency:
        if faults:
            parser.error("--province-latency and --faults both set the stub's late answers: choose one")
        seconds, _, share = args.province_latency.partition(",")
        faults = {"timeout_rate": float(share or 1.0), "timeout_sleep": float(seconds)}

    import logging

    logging.disable(logging.WARNING)  # the functions' lines (retries are warnings) would dominate; counts are printed
    from bench.localcloud import CpuMeter, cpu_lines, process_cpu

    meter = CpuMeter().install() if args.rate else None  # CPU per rating by who spent it: what a busy machine keeps
    cpu_report: list[str] = []
    with HubLocalCloud(state_dir=tempfile.mkdtemp(prefix="hcp-bench-")) as cloud:
        cloud.move_clock(set_to=NOW)
        if faults:
            cloud.province.set_faults(**faults, seed=16)
        demo = cloud.seeded["connectors"]["kiosk"]
        url = f"{cloud.api_url}/v1/connectors/{demo['connector_id']}/ratings"
        poster = Poster(url, demo["connector_id"], demo["secret"], attempts=args.attempts)
        tally = Tally()
        posted_at = tally.posted_at
        lock = threading.Lock()
        batches = [
            list(range(start, min(start + args.batch, args.ratings))) for start in range(0, args.ratings, args.batch)
        ]
        lags: list[float] = []  # how late a paced POST left against its schedule (the clients could not keep up)

        def client(my_batches: list[list[int]]) -> None:
            for numbers in my_batches:
                if args.rate:  # batch k leaves at t0 + k * batch / rate, whichever client sends it
                    due = t0 + numbers[0] / args.rate
                    wait = due - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    else:
                        with lock:
                            lags.append(-wait)
                body = kiosk_body(KIOSK, numbers, "BENCH")
                started = time.monotonic()
                tally.add(poster.post(body, len(numbers)), started)

        loads: list[float] = []
        sampling = threading.Event()

        def sample_load() -> None:
            while not sampling.wait(5):
                loads.append(os.getloadavg()[0])

        threading.Thread(target=sample_load, daemon=True).start()
        cpu0 = time.process_time()
        moto_pid = cloud._moto._process.pid if cloud._moto and cloud._moto._process else 0
        metered = (meter.snapshot(), process_cpu(moto_pid)) if meter and moto_pid else None
        t0 = time.monotonic()
        threads = [threading.Thread(target=client, args=(batches[i :: args.clients],)) for i in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        posting = time.monotonic() - t0
        deadline = time.monotonic() + args.wait
        faults_stopped: float | None = None
        while time.monotonic() < deadline:
            ending = faults and args.faults_for is not None and faults_stopped is None
            if ending and time.monotonic() - t0 >= args.faults_for:
                cloud.province.set_faults()
                faults_stopped = time.monotonic()
            arrivals = cloud.province.arrivals()
            if set(posted_at) <= set(arrivals):
                break
            time.sleep(0.2)
        arrivals = cloud.province.arrivals()
        wall, cpu = time.monotonic() - t0, time.process_time() - cpu0
        if meter and metered:
            moto_cpu = process_cpu(moto_pid) - metered[1]
            cpu_report = cpu_lines(metered[0], meter.snapshot(), moto_cpu, len(posted_at), None)
        sampling.set()
        stats = cloud.province.stats()
        causes = cloud.province.duplicate_causes()
        cloud.province.set_faults()
        faults_stopped = faults_stopped or time.monotonic()
        sqs = cloud.client("sqs")
        dlq = sqs.get_queue_attributes(QueueUrl=cloud.resources["ForwardDeadLetterQueue"],
                                       AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]  # fmt: skip
        limits = {name: f.limits() for name, f in cloud.functions.items() if f.invocations}
        delivered = [k for k in posted_at if k in arrivals]
        latencies = [arrivals[k] - posted_at[k] for k in delivered]
        elapsed = max(arrivals[k] for k in delivered) - t0

        # Baseline: the same client straight to the stub, one rating at a time.
        credentials = json.loads(cloud.client("secretsmanager").get_secret_value(
            SecretId=cloud.resources["ProvinceCredentialsSecret"])["SecretString"])  # fmt: skip
        direct = ProvincialClient(cloud.province.url, credentials["app_id"], credentials["secret"])
        adapter = adapter_for("kiosk")
        base: list[float] = []
        for n in range(args.baseline):
            body = json.dumps({**KIOSK, "orderId": f"BASE{n:07d}"}).encode()
            [item] = normalize(adapter, body, "application/json", connector_id="baseline", received_at=NOW, now=NOW,
                               calendar=WorkingDayCalendar())  # fmt: skip
            started = time.monotonic()
            direct.send(item.rating)
            base.append(time.monotonic() - started)

    lost = len(posted_at) - len(delivered)
    p50, p99 = statistics.median(latencies), quantile(latencies, 0.99)
    print(f"ratings posted {len(posted_at)} (refused {tally.refused}), delivered {len(delivered)}, lost {lost}")
    for line in tally.lines():
        print(line)
    offered = f", offered at {args.rate:g} ratings/s" if args.rate else ""
    late = f"; POSTs late against the schedule: {len(lags)}, max {max(lags, default=0):.1f} s" if args.rate else ""
    print(f"posting took {posting:.1f} s with {args.clients} clients, batches of {args.batch}{offered}{late}")
    print(
        f"latency POST -> stub receipt: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms"
    )
    print(f"throughput {len(delivered) / elapsed:.0f} ratings/s end to end")
    b50 = statistics.median(base)
    print(f"baseline (client straight to the stub, one rating): p50 {b50 * 1000:.1f} ms")
    print(f"ratio hub p50 / direct p50: {p50 / b50:.0f}x   (target: p99 <= 1 s, none lost)")
    if faults:
        print(f"faults {faults}: injected {stats['faults_injected']} of {stats['requests']} provincial requests "
              f"({stats['requests'] / elapsed:.1f}/s)")  # fmt: skip
        print(f"delivered {len(delivered)}, lost {lost}, duplicate sends {stats['duplicates']} (answered by the "
              f"province's idempotency), dead-letter queue depth {dlq['ApproximateNumberOfMessages']}")  # fmt: skip
        bound = "within" if stats["duplicates"] <= causes["timeouts_injected"] else "NOT within"
        print(f"duplicates {stats['duplicates']} {bound} the timeouts injected ({causes['timeouts_injected']}: ratings "
              f"stored, then the answer held past the read timeout): {causes['after_injected_timeout']} came after "
              f"one, {causes['after_answer']} after an answer the stub gave at once (the hub's client gave up on it "
              f"— a starved process reads late — or sent a rating it had the receipt for; "
              f"{causes['after_answer_within_5s']} of them within 5 s of that answer: a second copy at the same "
              f"time, not a retry after a backoff)")  # fmt: skip
        last_post = t0 + posting
        last = max(arrivals[k] for k in delivered)
        stopped = (f"{last - faults_stopped:.0f} s after the faults stopped ({faults_stopped - t0:.0f} s after the "
                   f"first POST)" if faults_stopped < last else "the faults still on")  # fmt: skip
        print(f"all {len(posted_at)} delivered {last - last_post:.0f} s after the last POST, {stopped}" if not lost
              else f"{lost} not delivered within --wait {args.wait:.0f} s (still queued, waiting out backoffs)")
    for line in cpu_report:
        print(line)
    if args.rate:
        unposted = tally.unposted  # refusals (duplicates) are answers
        verdict = "met" if p99 <= 1 and not lost and not unposted else "MISSED"
        print(f"verdict at {args.rate:g} ratings/s: p99 {p99 * 1000:.0f} ms, lost {lost}, POSTs failed {unposted}: "
              f"target (p99 <= 1 s, none lost) {verdict}{' (faults on: reported, not held to it)' if faults else ''}")
    print(f"machine: load average (1 min) {min(loads, default=0):.1f}..{max(loads, default=0):.1f} during the run "
          f"({os.cpu_count()} cores); this process used {cpu:.0f} s of CPU in {wall:.0f} s ({cpu / wall:.2f} cores)")
    for name, limit in sorted(limits.items()):
        flag = "  PAST ITS TIMEOUT BY DESIGN" if limit["over_timeout_design"] else ""
        print(f"  {name}: {limit['invocations']} invocations, longest {limit['longest_s']:.1f} s of "
              f"{limit['timeout_s']} s, {limit['over_timeout']} past it ({limit['over_timeout_starved']} only because "
              f"the process was starved, {limit['over_timeout_design']} by design), {limit['timed_out']} abandoned; "
              f"most starved {limit['most_starved_s']:.1f} s{flag}")
        for past in limit.get("past", [])[:10]:  # where each invocation past its timeout spent its time
            cause = max(("moto's answers", past["moto_wait_s"]), ("this process kept from the CPU",
                        past["process_starved_s"]), ("its own work", past["own_s"]), key=lambda c: c[1])[0]  # fmt: skip
            own = "  — PAST ITS TIMEOUT ON ITS OWN WORK" if past["own_s"] > limit["timeout_s"] else ""
            print(f"    past: {past['elapsed_s']:.1f} s = moto's answers beyond 10 ms a call "
                  f"{past['moto_wait_s']:.1f} s ({past['aws_calls']:.0f} calls) + process kept from the CPU "
                  f"{past['process_starved_s']:.1f} s + its own work {past['own_s']:.1f} s; mostly {cause}{own}")


if __name__ == "__main__":
    main()

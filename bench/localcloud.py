"""The local cloud's CPU per rating: an integrator's load test, counted in CPU seconds rather than wall time.

The machine is shared, so a p99 in wall time says as much about the neighbours as about the local cloud.
CPU seconds do not: this bench offers ratings at `--rate` (batches of `--batch`, `--clients` posting), waits
until the provincial stub has every one, and prints the CPU this process and the moto child spent per rating,
by who spent it:

  - each function's handler (the ingest and authorizer in the API's request threads, the forward and
    reporting functions in their invocation and send-pool threads),
  - the local API Gateway around them (HTTP, routing, the proxy event), the SQS and stream pollers,
  - the provincial stub, this bench's own clients, and the moto server (the child process, all of it).

Against a baseline measured in the same run: the CPU (both processes) of one bare PutItem round trip on a
scratch table, so "a rating costs N PutItems" carries over between machines. Budget: 2 cores at 50
ratings/s are 40 ms of CPU per rating in all; queueing keeps p99 <= 1 s only well under that (target here:
<= 20 ms, half the cores). The wall-clock latency (POST -> the stub's receipt) is printed too, with the load
average beside it.

    .venv/bin/python bench/localcloud.py [--ratings 1500] [--rate 50] [--batch 10] [--clients 8]
    .venv/bin/python bench/localcloud.py --py-spy /path/to/py-spy   # and where the CPU goes (both processes)

`bench/e2e.py --rate 50` prints the same CPU line (it uses `CpuMeter` from here).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.posting import Poster, Tally, kiosk_body  # noqa: E402
from infra.localcloud.hubcloud import HubLocalCloud  # noqa: E402
from infra.localcloud.lambdas import LocalFunction  # noqa: E402
from infra.localcloud.motoserver import STATS_ENV  # noqa: E402

KIOSK = json.loads((ROOT.parent / "shared" / "samples" / "kiosk" / "01-dissatisfied-labels.json").read_text("utf-8"))
NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")
TICK = os.sysconf("SC_CLK_TCK")
BUDGET_MS = 20.0  # half of 2 cores / 50 ratings a second


def _proc_cpu(path: str) -> float:
    """utime + stime of a /proc/<pid>[/task/<tid>]/stat, in seconds (the fields after the command's ')')."""
    with open(path, encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def process_cpu(pid: int) -> float:
    return _proc_cpu(f"/proc/{pid}/stat")


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU seconds of this process by who spent it (see the module docstring), and of the moto child.

    Threads are told apart by name and target; every thread started after `install()` adds its CPU when it
    ends, live ones are read from /proc. A function invoked in a thread that is not its own (the ingest
    function in an API request thread) is timed around the call and taken out of the thread's share."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ended: dict[str, float] = collections.defaultdict(float)
        self._in_thread: dict[int, float] = collections.defaultdict(float)  # thread id -> CPU in functions
        self._functions: dict[str, float] = collections.defaultdict(float)
        self._undo: list[Callable[[], None]] = []

    @staticmethod
    def category(thread: threading.Thread) -> str:
        name = thread.name
        target = getattr(getattr(thread, "_target", None), "__self__", None)
        if name.startswith("lambda-"):
            return f"function {name.removeprefix('lambda-')}"
        if name.startswith("forward_"):
            return "function ForwardFunction"  # its send pool (functions/edge/batch.py)
        if name.startswith("sqs-"):
            return "pollers (SQS)"
        if name.startswith("stream-"):
            return "pollers (DynamoDB streams)"
        if name.startswith("bench-"):
            return "bench clients"
        kind = type(target).__name__ if target is not None else ""
        if kind == "ApiServer" or name == "local-api":
            return "API Gateway (local)"
        if kind == "_Server" or name == "province-stub":
            return "province stub"
        if name == "starvation-probe":
            return "starvation probe"
        if name.startswith("scheduler") or name.startswith("schedule"):
            return "schedules"
        return "other threads"

    def install(self) -> CpuMeter:
        meter, original_run, original_invoke = self, threading.Thread.run, LocalFunction.invoke

        def run(thread: threading.Thread) -> None:
            try:
                original_run(thread)
            finally:
                spent = time.thread_time() - meter._in_thread.pop(threading.get_ident(), 0.0)
                with meter._lock:
                    meter._ended[meter.category(thread)] += spent

        def invoke(function: LocalFunction, event: Any, *, enforce_timeout: bool = False) -> Any:
            if enforce_timeout:  # runs in its own lambda-<id> thread, counted as that function's
                return original_invoke(function, event, enforce_timeout=True)
            started = time.thread_time()
            try:
                return original_invoke(function, event)
            finally:
                spent = time.thread_time() - started
                meter._in_thread[threading.get_ident()] += spent
                with meter._lock:
                    meter._functions[f"function {function.spec.logical_id}"] += spent

        threading.Thread.run = run  # type: ignore[method-assign,assignment]
        LocalFunction.invoke = invoke  # type: ignore[method-assign,assignment]
        self._undo = [lambda: setattr(threading.Thread, "run", original_run),
                      lambda: setattr(LocalFunction, "invoke", original_invoke)]  # fmt: skip
        return self

    def uninstall(self) -> None:
        for undo in self._undo:
            undo()

    def snapshot(self) -> dict[str, float]:
        """CPU seconds so far by category; `process` is getrusage's total, `unattributed` what no thread shows."""
        totals: dict[str, float] = collections.defaultdict(float)
        with self._lock:
            for name, spent in [*self._ended.items(), *self._functions.items()]:
                totals[name] += spent
        for thread in threading.enumerate():
            if thread.native_id is None:
                continue
            try:
                spent = _proc_cpu(f"/proc/self/task/{thread.native_id}/stat")
            except OSError:
                continue  # it ended just now: counted in _ended
            totals[self.category(thread) if thread is not threading.main_thread() else "bench main"] += (
                spent - self._in_thread.get(thread.ident or 0, 0.0)
            )
        process = own_cpu()
        totals["unattributed"] = max(0.0, process - sum(totals.values()))
        totals["process"] = process
        return totals


@contextmanager
def py_spy(executable: str | None, pids: dict[str, int], out_dir: Path) -> Iterator[dict[str, Path]]:
    """Sample each pid with py-spy (CPU only: idle threads left out) while the block runs; collapsed stacks."""
    if not executable:
        yield {}
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {name: out_dir / f"{name}.txt" for name in pids}
    procs = [
        subprocess.Popen([executable, "record", "--pid", str(pid), "--format", "raw", "--rate", "200",
                          "--nonblocking", "--output", str(files[name])],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for name, pid in pids.items()
    ]
    try:
        yield files
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            proc.wait(30)


def top_frames(collapsed: Path, count: int = 25) -> list[tuple[float, float, str]]:
    """(inclusive share, self share, frame) of the busiest frames in py-spy's collapsed stacks."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, samples = line.rpartition(" ")
        if not samples.isdigit():
            continue
        n = int(samples)
        total += n
        frames = [f.split(" (", 1)[0] + " " + f.rsplit("/", 1)[-1].split(":")[0].rstrip(")")
                  for f in stack.split(";") if f]  # fmt: skip
        for frame in set(frames[1:]):  # the first is the thread
            inclusive[frame] += n
        if frames:
            own[frames[-1]] += n
    return [(inclusive[f] / total, own[f] / total, f) for f, _ in inclusive.most_common(count)] if total else []


def baseline_put_item(cloud: HubLocalCloud, calls: int = 300) -> float:
    """CPU seconds (this process + moto) of one PutItem round trip on a scratch table, a rating-sized item."""
    dynamodb = cloud.client("dynamodb")
    table = "bench-localcloud-baseline"
    dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])  # fmt: skip
    body = {"S": json.dumps(KIOSK, ensure_ascii=False)}
    moto = cloud._moto._process.pid if cloud._moto and cloud._moto._process else None
    cloud.suspend()  # pollers and schedules paused: moto's CPU is the PutItems'
    for n in range(20):  # warm: the client's models, moto's first-request paths
        dynamodb.put_item(TableName=table, Item={"pk": {"S": f"warm{n}"}, "body": body})
    mine, theirs = time.thread_time(), process_cpu(moto) if moto else 0.0
    for n in range(calls):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": f"k{n}"}, "body": body})
    spent = time.thread_time() - mine + (process_cpu(moto) - theirs if moto else 0.0)
    cloud.resume()
    dynamodb.delete_table(TableName=table)
    return spent / calls


def offer(cloud: HubLocalCloud, ratings: int, rate: float, batch: int, clients: int,
          prefix: str = "LOAD") -> tuple[Tally, list[float]]:  # fmt: skip
    """Post `ratings` in batches, batch k due at k * batch / rate, as a vendor would (`bench.posting`: a POST
    answered 5xx/429 or not at all is sent again); returns what was answered (`Tally.posted_at`: rating id ->
    when its POST first left) and how late each late POST left."""
    demo = cloud.seeded["connectors"]["kiosk"]
    url = f"{cloud.api_url}/v1/connectors/{demo['connector_id']}/ratings"
    batches = [list(range(start, min(start + batch, ratings))) for start in range(0, ratings, batch)]
    poster, tally = Poster(url, demo["connector_id"], demo["secret"]), Tally()
    lags: list[float] = []
    lock = threading.Lock()
    t0 = time.monotonic()

    def client(mine: list[list[int]]) -> None:
        for numbers in mine:
            wait = t0 + numbers[0] / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            else:
                with lock:
                    lags.append(-wait)
            started = time.monotonic()
            tally.add(poster.post(kiosk_body(KIOSK, numbers, prefix), len(numbers)), started)

    threads = [threading.Thread(target=client, args=(batches[i::clients],), name=f"bench-client-{i}")
               for i in range(clients)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally, lags


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def cpu_lines(before: dict[str, float], after: dict[str, float], moto: float, ratings: int,
              put_item: float | None) -> list[str]:  # fmt: skip
    """The CPU report: ms per rating by category, the shares of moto / functions / pollers / the rest."""
    spent = {k: after[k] - before.get(k, 0.0) for k in after if k != "process"}
    mine = after["process"] - before["process"]
    total = mine + moto
    per = 1000 / max(1, ratings)
    lines = [f"CPU per rating: {total * per:.1f} ms (this process {mine * per:.1f}, moto {moto * per:.1f}); "
             f"budget 2 cores / 50 per s = 40 ms, target <= {BUDGET_MS:g} ms: "
             f"{'met' if total * per <= BUDGET_MS else 'MISSED'}"]  # fmt: skip
    if put_item:
        lines.append(f"  = {total / max(1, ratings) / put_item:.1f} bare PutItem round trips "
                     f"({put_item * 1000:.2f} ms CPU each, both processes, same run)")  # fmt: skip
    functions = sum(v for k, v in spent.items() if k.startswith("function "))
    pollers = sum(v for k, v in spent.items() if k.startswith("pollers"))
    rest = total - moto - functions - pollers
    lines.append(f"  share: moto {moto / total:.0%}, functions {functions / total:.0%}, pollers {pollers / total:.0%}, "
                 f"the rest {rest / total:.0%} (API Gateway, stub, bench)")  # fmt: skip
    rows = [("moto server (child process)", moto), *sorted(spent.items(), key=lambda kv: -kv[1])]
    lines.extend(f"  {name:<36} {value * per:7.2f} ms" for name, value in rows if value * per >= 0.01)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratings", type=int, default=1500)
    parser.add_argument("--rate", type=float, default=50.0, help="ratings per second offered")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--wait", type=float, default=300, help="seconds to wait for every rating at the stub")
    parser.add_argument("--baseline", type=int, default=300, help="PutItem round trips for the baseline")
    parser.add_argument("--idle", type=float, default=10, help="seconds the idle local cloud is measured for")
    parser.add_argument("--py-spy", dest="py_spy", help="py-spy executable: sample both processes during the load")
    parser.add_argument("--profile-dir", type=Path, default=None, help="where py-spy's collapsed stacks go")
    args = parser.parse_args()

    import logging

    logging.disable(logging.WARNING)
    report, sys.stdout = sys.stdout, open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (the functions' EMF lines)
    meter = CpuMeter().install()
    stats_file = Path(tempfile.mkdtemp(prefix="hcp-bench-moto-")) / "stats.json"
    os.environ[STATS_ENV] = str(stats_file)  # the moto child counts its requests and CPU by operation
    cloud = HubLocalCloud(state_dir=tempfile.mkdtemp(prefix="hcp-bench-"))
    with cloud:
        cloud.move_clock(set_to=NOW)
        offer(cloud, 50, 1000.0, args.batch, 2, prefix="WARM")  # imports, clients, first invocations
        cloud.drain(timeout=120)
        put_item = baseline_put_item(cloud, args.baseline)
        moto_pid = cloud._moto._process.pid  # type: ignore[union-attr]
        idle0, idle_moto0, idle_t0 = meter.snapshot(), process_cpu(moto_pid), time.monotonic()
        time.sleep(args.idle)  # nothing offered: what the pollers and schedules cost by the second
        idle_wall = time.monotonic() - idle_t0
        idle = (meter.snapshot()["process"] - idle0["process"] + process_cpu(moto_pid) - idle_moto0) / idle_wall
        loads: list[float] = [os.getloadavg()[0]]
        os.kill(moto_pid, signal.SIGUSR1)  # its counts start here
        before, moto0, t0 = meter.snapshot(), process_cpu(moto_pid), time.monotonic()
        out_dir = args.profile_dir or Path(tempfile.mkdtemp(prefix="hcp-bench-profile-"))
        with py_spy(args.py_spy, {"local-cloud": os.getpid(), "moto": moto_pid}, out_dir) as profiles:
            tally, lags = offer(cloud, args.ratings, args.rate, args.batch, args.clients)
            posted_at = tally.posted_at
            posting = time.monotonic() - t0
            loads.append(os.getloadavg()[0])
            deadline = time.monotonic() + args.wait
            while time.monotonic() < deadline and not set(posted_at) <= set(cloud.province.arrivals()):  # type: ignore[attr-defined]
                time.sleep(0.2)
            with contextlib.suppress(TimeoutError):  # a message waiting out a backoff: counted as not delivered
                cloud.drain(timeout=60)  # the reporting stream too: its CPU belongs to these ratings
        after, moto = meter.snapshot(), process_cpu(moto_pid) - moto0
        wall = time.monotonic() - t0
        loads.append(os.getloadavg()[0])
        arrivals = cloud.province.arrivals()  # type: ignore[attr-defined]
    meter.uninstall()
    moto_ops = json.loads(stats_file.read_text(encoding="utf-8")) if stats_file.exists() else {}
    sys.stdout = report

    delivered = [k for k in posted_at if k in arrivals]
    latencies = [arrivals[k] - posted_at[k] for k in delivered]
    lost = len(posted_at) - len(delivered)
    p50, p99 = (statistics.median(latencies), quantile(latencies, 0.99)) if latencies else (float("nan"),) * 2
    unposted = tally.unposted  # refusals (duplicates) are answers
    print(f"ratings posted {len(posted_at)} (refused {tally.refused}), delivered {len(delivered)}, lost {lost}")
    for line in tally.lines():
        print(line)
    print(f"offered at {args.rate:g}/s in batches of {args.batch} by {args.clients} clients: posting took "
          f"{posting:.1f} s, {len(lags)} POSTs left late (max {max(lags, default=0):.1f} s)")  # fmt: skip
    print(f"latency POST -> stub receipt: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms "
          f"(target p99 <= 1 s, none lost: {'met' if p99 <= 1 and not lost and not unposted else 'MISSED'})")
    for line in cpu_lines(before, after, moto, len(posted_at), put_item):
        print(line)
    total = after["process"] - before["process"] + moto
    print(f"  idle local cloud (pollers, schedules; measured {args.idle:g} s before): {idle:.3f} cores; over "
          f"this run's {wall:.0f} s that is {idle * wall * 1000 / max(1, len(posted_at)):.1f} ms a rating, the rest "
          f"{(total - idle * wall) * 1000 / max(1, len(posted_at)):.1f} ms")  # fmt: skip
    mine = after["process"] - before["process"]
    print(f"machine: load average (1 min) {min(loads):.1f}..{max(loads):.1f} ({os.cpu_count()} cores); "
          f"{wall:.0f} s wall, this process {mine / wall:.2f} cores, moto {moto / wall:.2f} cores")  # fmt: skip
    if moto_ops:
        requests = sum(n for n, _ in moto_ops.values())
        per = max(1, len(posted_at))
        print(f"moto: {requests / per:.1f} requests a rating; CPU of its request threads by operation (ms a rating):")
        for op, (n, spent) in sorted(moto_ops.items(), key=lambda kv: -kv[1][1])[:14]:
            print(f"  {op:<40} {n / max(1, len(posted_at)):6.2f} calls {spent * 1000 / max(1, len(posted_at)):7.2f} ms"
                  f"  ({spent * 1000 / max(1, n):.2f} ms a call)")  # fmt: skip
    for name, path in profiles.items():
        if path.exists():
            print(f"py-spy, {name} (inclusive / self share of its samples; {path}):")
            for inclusive, own, frame in top_frames(path):
                print(f"  {inclusive:6.1%} {own:6.1%}  {frame}")


if __name__ == "__main__":
    main()

"""What one AWS call costs on the local cloud: a function's botocore client against the moto server (a child
process), with connections kept open between requests (now) against werkzeug's own connection per request (the
baseline, the same server with `keep_alive=False`), interleaved in one run.

    .venv/bin/python bench/aws_calls.py [--calls 300] [--rounds 3]

Prints per call: wall time (median, p90), the CPU of this process (botocore) and of the moto server's process,
and the ratio now / baseline (issue 15 item 6: the local cloud keeping up with an integrator's load test). The
machine is shared, so CPU per call is the steadier figure; the load average is printed with it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra.localcloud.motoserver import MotoServer  # noqa: E402


def server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client(endpoint: str) -> Any:
    import botocore.session
    from botocore.config import Config

    config = Config(connect_timeout=1, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})
    return botocore.session.get_session().create_client(
        "dynamodb", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="testing",
        aws_secret_access_key="testing", config=config,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300, help="calls per round and server (PutItem, GetItem)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    servers = {"keep-alive (now)": MotoServer(keep_alive=True), "a connection per call (baseline)": MotoServer(
        keep_alive=False)}  # fmt: skip
    figures: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": [], "server": []} for name in servers}
    loads = []
    try:
        clients = {}
        for name, server in servers.items():
            c = clients[name] = client(server.start())
            c.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                           KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                           AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])  # fmt: skip
        for _ in range(args.rounds):
            for name, server in servers.items():
                c = clients[name]
                assert server._process is not None
                pid = server._process.pid
                cpu0, srv0 = time.process_time(), server_cpu(pid)
                for n in range(args.calls):
                    started = time.perf_counter()
                    if n % 2:
                        c.get_item(TableName="t", Key={"pk": {"S": f"k{n - 1}"}})
                    else:
                        c.put_item(TableName="t", Item={"pk": {"S": f"k{n}"}, "rating": {"S": "x" * 700}})
                    figures[name]["wall"].append(time.perf_counter() - started)
                figures[name]["cpu"].append((time.process_time() - cpu0) / args.calls)
                figures[name]["server"].append((server_cpu(pid) - srv0) / args.calls)
                loads.append(os.getloadavg()[0])
    finally:
        for server in servers.values():
            server.stop()
    summary = {}
    for name, f in figures.items():
        wall = sorted(f["wall"])
        summary[name] = (statistics.median(wall), wall[int(0.9 * len(wall))],
                         statistics.median(f["cpu"]), statistics.median(f["server"]))  # fmt: skip
        w50, w90, cpu, srv = summary[name]
        print(f"{name:34} wall median {w50 * 1000:6.2f} ms, p90 {w90 * 1000:6.2f} ms; CPU per call: botocore "
              f"{cpu * 1000:5.2f} ms, moto server {srv * 1000:5.2f} ms, together {(cpu + srv) * 1000:5.2f} ms")
    now, base = summary["keep-alive (now)"], summary["a connection per call (baseline)"]
    cpu_ratio = (now[2] + now[3]) / (base[2] + base[3])
    print(f"ratio now / baseline: wall median {now[0] / base[0]:.2f}x, CPU per call {cpu_ratio:.2f}x")
    print(f"machine: load average (1 min) {min(loads):.1f}..{max(loads):.1f} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()

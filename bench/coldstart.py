"""Cold start of the ingest function from the built artifact: a fresh process importing the handler and serving
its first signed request, stored.

The artifact is what `make package` ships (deploy/build.py: the runtime packages, and the dependency layer from
deploy/requirements-runtime.txt), built for this machine's platform with the same pins, byte-compiled
(`python -m compileall`, as a deployed package should be: read-only /var/task cannot cache bytecode), and
imported alone: `python -I -S` with the function's code and the layer on sys.path, as /var/task and /opt/python.

Printed as a ratio to a baseline measured in the same run, from the same layer: a fresh process doing
`import boto3` and creating one client. Both are whole-process wall times (interpreter start included on both
sides), the median of several runs, against the local cloud's moto (so the first request really stores a
rating). Target (issue 15): <= 1.3x. Then the top-15 of `-X importtime` (self time per top-level package, each
module's least of 3 runs).
CPU time (user + system of the child) is printed beside the wall time: on a loaded, shared machine it is the
steadier of the two. `--compare main` also times main's ingest code (same layer), interleaved, for a
before/after from one run.

    .venv/bin/python bench/coldstart.py [--runs 7] [--artifact DIR] [--compare REF]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import secrets
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra.localcloud.hubcloud import HubLocalCloud  # noqa: E402
from infra.signing import sign  # noqa: E402

_spec = importlib.util.spec_from_file_location("deploy_build", ROOT / "deploy" / "build.py")
assert _spec and _spec.loader
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)
HOST = {
    "platform": sysconfig.get_platform().replace("linux-", "manylinux2014_").replace("-", "_"),
    "python_version": f"{sys.version_info.major}.{sys.version_info.minor}",
    "abi": f"cp{sys.version_info.major}{sys.version_info.minor}",
}

KIOSK = (ROOT.parent / "shared" / "samples" / "kiosk" / "01-dissatisfied-labels.json").read_bytes()

# sys.path as Lambda lays it out: the function's code (/var/task), then the layer (/opt/python).
PATHS = "import sys; sys.path[:0] = sys.argv[1:3]\n"
HUB_CHILD = PATHS + """
import json
event = json.loads(sys.argv[3])
import functions.ingest
assert functions.ingest.__file__.startswith(sys.argv[1]), functions.ingest.__file__
from datetime import datetime
from infra.clock import LocalClock, install_clock
class Context:
    function_name, memory_limit_in_mb, aws_request_id = "IngestFunction", 1024, "cold"
    invoked_function_arn = "arn:aws:lambda:local:0:function:IngestFunction"
    def get_remaining_time_in_millis(self): return 15000
install_clock(LocalClock(datetime.fromisoformat("2026-11-28T12:00:00+08:00")))  # the sample's day
reply = functions.ingest.handler(event, Context())
assert reply["statusCode"] == 202, reply
"""
BASELINE_CHILD = PATHS + "import boto3; boto3.client('dynamodb')"


def timed(code: str, env: dict[str, str], paths: list[str], *args: str) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of a fresh process: on a shared, loaded machine the CPU time
    is the steadier figure (waiting for a core is not the cold start's cost)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-I", "-S", "-c", code, *paths, *args], env=env, cwd=paths[0], check=True,
                   capture_output=True)  # fmt: skip
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def built_at(ref: str, artifact: Path, layer: str) -> list[str]:
    """The ingest function's code as of git `ref` (e.g. main), beside the same layer, byte-compiled: the
    before of a before/after measured in the same run."""
    source = Path(tempfile.mkdtemp(prefix="hcp-cold-ref-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, *build.RUNTIME_PACKAGES], check=True,
                             capture_output=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    code = artifact / f"IngestFunction@{ref.replace('/', '_')}"
    root, build.ROOT = build.ROOT, source
    try:
        build.code(code)
    finally:
        build.ROOT = root
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", str(code)], check=True)
    return [str(code), layer]


def built(artifact: Path) -> list[str]:
    """The ingest function's code and the layer for this machine, byte-compiled; rebuilt only when missing."""
    code, layer = artifact / "IngestFunction", artifact / "DependenciesLayer" / "python"
    if not (layer / "pydantic").is_dir():
        print(f"building the artifact for {HOST['platform']}/cp{HOST['python_version']} into {artifact} ...")
        build.deps(layer, lock_file=build.RUNTIME_LOCK, pip=[sys.executable, "-m", "pip"], **HOST)
    build.code(code)
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", str(code), str(layer)], check=True)
    return [str(code), str(layer)]


def importtime(env: dict[str, str], paths: list[str], events: list[str], top: int = 15) -> list[tuple[str, int]]:
    """Self import time per top-level package, from `-X importtime` of a few more cold starts (one per event),
    each module's smallest (microseconds): one run on a loaded machine can double any line."""
    per_module: dict[str, int] = {}
    for event in events:
        done = subprocess.run([sys.executable, "-I", "-S", "-X", "importtime", "-c", HUB_CHILD, *paths, event],
                              env=env, cwd=paths[0], check=True, capture_output=True, text=True)  # fmt: skip
        for line in done.stderr.splitlines():
            if line.startswith("import time:") and "|" in line and "self [us]" not in line:
                self_us, _cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
                per_module[name] = min(per_module.get(name, int(self_us)), int(self_us))
    per_package: dict[str, int] = {}
    for name, self_us in per_module.items():
        per_package[name.split(".")[0]] = per_package.get(name.split(".")[0], 0) + self_us
    return sorted(per_package.items(), key=lambda kv: -kv[1])[:top]


def signed_event(demo: dict[str, str], order_id: str) -> dict[str, object]:
    """The API Gateway event of one kiosk rating, signed as the demo connector (a new order id: a new rating)."""
    body = KIOSK.replace(b"K20261128093011", order_id.encode())
    headers = sign(demo["secret"], body, int(time.time()), secrets.token_hex(16), connector_id=demo["connector_id"])
    return {
        "resource": "/v1/connectors/{connector_id}/ratings",
        "path": f"/v1/connectors/{demo['connector_id']}/ratings",
        "httpMethod": "POST", "headers": {**headers, "Content-Type": "application/json"},
        "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": {"connector_id": demo["connector_id"]}, "stageVariables": None,
        "requestContext": {"requestId": f"cold-{order_id}", "stage": "prod", "identity": {"sourceIp": "127.0.0.1"},
                           "requestTimeEpoch": int(time.time() * 1000), "httpMethod": "POST"},
        "body": body.decode(), "isBase64Encoded": False,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--artifact", type=Path, default=ROOT / "build" / "coldstart-artifact",
                        help="where the host-platform artifact is built (kept between runs)")
    parser.add_argument("--compare", metavar="REF", help="also time git REF's ingest code (e.g. main), interleaved")
    args = parser.parse_args()
    paths = built(args.artifact)
    other = built_at(args.compare, args.artifact, paths[1]) if args.compare else None
    with HubLocalCloud(state_dir=tempfile.mkdtemp(prefix="hcp-cold-")) as cloud:
        # the ingest function's environment as deployed, the local cloud's endpoint and fake credentials
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **cloud.environment,
               **cloud.functions["IngestFunction"].spec.environment, "LOG_LEVEL": "WARNING"}
        demo = cloud.seeded["connectors"]["kiosk"]
        hub: list[tuple[float, float]] = []
        base: list[tuple[float, float]] = []
        then: list[tuple[float, float]] = []
        for run in range(-1, args.runs):  # run -1 warms the page cache; not counted
            b_run = timed(BASELINE_CHILD, env, paths)
            h_run = timed(HUB_CHILD, env, paths, json.dumps(signed_event(demo, f"COLD{run + 1:04d}")))
            o_run = other and timed(HUB_CHILD, env, other, json.dumps(signed_event(demo, f"THEN{run + 1:04d}")))
            if run >= 0:
                base.append(b_run)
                hub.append(h_run)
                if o_run:
                    then.append(o_run)
        top = importtime(env, paths, [json.dumps(signed_event(demo, f"IMPORTTIME{n}")) for n in range(3)])
    print(f"artifact: {paths[0]} + {paths[1]} (byte-compiled, python -I -S); {args.runs} runs, medians")
    b_wall, b_cpu = (statistics.median(x[i] for x in base) for i in (0, 1))
    print(f"baseline (import boto3 + one client, fresh process): wall {b_wall * 1000:.0f} ms, "
          f"CPU {b_cpu * 1000:.0f} ms")  # fmt: skip
    for label, runs in (("ingest", hub), (f"ingest as of {args.compare}", then)):
        if not runs:
            continue
        wall, cpu = (statistics.median(x[i] for x in runs) for i in (0, 1))
        print(f"{label} (import handler + first signed request stored, fresh process): wall {wall * 1000:.0f} ms, "
              f"CPU {cpu * 1000:.0f} ms")  # fmt: skip
        verdict = {True: "met", False: "MISSED"}
        print(f"  ratio wall {wall / b_wall:.2f}x, CPU {cpu / b_cpu:.2f}x; target <= 1.3x (issue 15): "
              f"{verdict[wall / b_wall <= 1.3]} (wall), {verdict[cpu / b_cpu <= 1.3]} (CPU)")  # fmt: skip
    print("top 15 of -X importtime (each module's least of 3 runs), self time per top-level package:")
    for package, us in top:
        print(f"  {us / 1000:7.1f} ms  {package}")


if __name__ == "__main__":
    main()

"""Cold start of the ingest function from the built artifact: a fresh process importing the handler and serving
its first signed request, stored.

The artifact is what `make package` ships (deploy/build.py: the runtime packages, and the dependency layer from
deploy/requirements-runtime.txt, each with the bytecode the build compiles for python3.12), built for this
machine's platform with the same pins and the same steps (the bench compiles nothing itself), and imported
alone by the runtime's interpreter: python3.12 (deploy/build.py's `lambda_python`) `-I -S` with the function's
code and the layer on sys.path, as /var/task and /opt/python. The same artifact without its `__pycache__`
directories (`-B`: nothing written, as on Lambda's read-only disk) is timed too: what every cold start paid
while the build shipped no bytecode.

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
import shutil
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
# The runtime's interpreter runs the children; without one, this machine's (and the artifact has no bytecode).
PYTHON = build.lambda_python()
CHILD_PYTHON = PYTHON or sys.executable
VERSION = build.LAMBDA_PYTHON_VERSION if PYTHON else sys.version_info[:2]
HOST = {
    "platform": sysconfig.get_platform().replace("linux-", "manylinux2014_").replace("-", "_"),
    "python_version": "{}.{}".format(*VERSION),
    "abi": "cp{}{}".format(*VERSION),
}

KIOSK = (ROOT.parent / "shared" / "samples" / "kiosk" / "01-dissatisfied-labels.json").read_bytes()

# sys.path as Lambda lays it out: the function's code (/var/task), then the layer (/opt/python).
PATHS = "import sys; sys.path[:0] = sys.argv[1:3]\n"
# A cold start ends with its first answer: the container lives on, its interpreter is never torn down per request,
# so neither child pays the interpreter's shutdown (module teardown, a last collection over every object).
EXIT = "\nimport os; os._exit(0)\n"
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
""" + EXIT
BASELINE_CHILD = PATHS + "import boto3; boto3.client('dynamodb')" + EXIT


def timed(
    code: str, env: dict[str, str], paths: list[str], *args: str, flags: tuple[str, ...] = ()
) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of a fresh process: on a shared, loaded machine the CPU time
    is the steadier figure (waiting for a core is not the cold start's cost)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([CHILD_PYTHON, "-I", "-S", *flags, "-c", code, *paths, *args], env=env, cwd=paths[0], check=True,
                   capture_output=True)  # fmt: skip
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def built_at(ref: str, artifact: Path, layer: str) -> list[str]:
    """The ingest function's code as of git `ref` (e.g. main), beside the same layer, built (and byte-compiled)
    by this build: the before of a before/after of the code measured in the same run."""
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
    return [str(code), layer]


def built(artifact: Path) -> list[str]:
    """The ingest function's code and the layer for this machine, as deploy/build.py builds them (with their
    bytecode, and botocore's model cache); the layer is rebuilt only when missing (or when it lacks the bytecode
    the build now ships)."""
    code, layer = artifact / "IngestFunction", artifact / "DependenciesLayer" / "python"
    if not (layer / "pydantic").is_dir() or (PYTHON and not (layer / "pydantic" / "__pycache__").is_dir()):
        print(f"building the artifact for {HOST['platform']}/{HOST['abi']} into {artifact} ...")
        build.deps(layer, lock_file=build.RUNTIME_LOCK, pip=[sys.executable, "-m", "pip"], **HOST)
    elif PYTHON and not (layer / build.BOTOCORE_CACHE / "STAMP").is_file():  # a layer built before the model cache
        build.botocore_cache(layer / "botocore" / "data", layer / build.BOTOCORE_CACHE)
    build.code(code)
    return [str(code), str(layer)]


def without_bytecode(artifact: Path, paths: list[str]) -> list[str]:
    """A copy of the built artifact without its `__pycache__` directories: the artifact as AWS loaded it
    until the build shipped bytecode (run with -B: nothing written, as on read-only /var/task and /opt)."""
    bare = artifact / "without-bytecode"
    shutil.rmtree(bare, ignore_errors=True)
    copies = [bare / "IngestFunction", bare / "DependenciesLayer" / "python"]
    for source, copy in zip(paths, copies, strict=True):
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return [str(c) for c in copies]


def importtime(env: dict[str, str], paths: list[str], events: list[str], top: int = 15) -> list[tuple[str, int]]:
    """Self import time per top-level package, from `-X importtime` of a few more cold starts (one per event),
    each module's smallest (microseconds): one run on a loaded machine can double any line."""
    per_module: dict[str, int] = {}
    for event in events:
        done = subprocess.run([CHILD_PYTHON, "-I", "-S", "-X", "importtime", "-c", HUB_CHILD, *paths, event],
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
    parser.add_argument("--artifact", type=Path, default=ROOT / "build" / "coldstart-artifact" / HOST["abi"],
                        help="where the host-platform artifact is built (kept between runs)")
    parser.add_argument("--compare", metavar="REF", help="also time git REF's ingest code (e.g. main), interleaved")
    args = parser.parse_args()
    if PYTHON is None:
        print("*** NO python3.12 FOUND: the artifact is built and timed WITHOUT BYTECODE, with "
              f"{sys.executable} (set LAMBDA_PYTHON) ***")  # fmt: skip
    paths = built(args.artifact)
    bare = without_bytecode(args.artifact, paths)
    other = built_at(args.compare, args.artifact, paths[1]) if args.compare else None
    with HubLocalCloud(state_dir=tempfile.mkdtemp(prefix="hcp-cold-")) as cloud:
        # the ingest function's environment as deployed, the local cloud's endpoint and fake credentials
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **cloud.environment,
               **cloud.functions["IngestFunction"].spec.environment, "LOG_LEVEL": "WARNING"}
        demo = cloud.seeded["connectors"]["kiosk"]
        hub: list[tuple[float, float]] = []
        base: list[tuple[float, float]] = []
        uncompiled: list[tuple[float, float]] = []
        then: list[tuple[float, float]] = []
        for run in range(-1, args.runs):  # run -1 warms the page cache; not counted
            b_run = timed(BASELINE_CHILD, env, paths)
            h_run = timed(HUB_CHILD, env, paths, json.dumps(signed_event(demo, f"COLD{run + 1:04d}")))
            u_run = timed(HUB_CHILD, env, bare, json.dumps(signed_event(demo, f"BARE{run + 1:04d}")), flags=("-B",))
            o_run = other and timed(HUB_CHILD, env, other, json.dumps(signed_event(demo, f"THEN{run + 1:04d}")))
            if run >= 0:
                base.append(b_run)
                hub.append(h_run)
                uncompiled.append(u_run)
                if o_run:
                    then.append(o_run)
        top = importtime(env, paths, [json.dumps(signed_event(demo, f"IMPORTTIME{n}")) for n in range(3)])
    compiled = "with the build's python3.12 bytecode" if PYTHON else "WITHOUT bytecode (no python3.12)"
    print(f"artifact: {paths[0]} + {paths[1]} ({compiled}); {CHILD_PYTHON} -I -S; {args.runs} runs, medians")
    b_wall, b_cpu = (statistics.median(x[i] for x in base) for i in (0, 1))
    print(f"baseline (import boto3 + one client, fresh process): wall {b_wall * 1000:.0f} ms, "
          f"CPU {b_cpu * 1000:.0f} ms")  # fmt: skip
    for label, runs in (("ingest", hub), ("ingest without bytecode, as deployed until now", uncompiled),
                        (f"ingest as of {args.compare}", then)):  # fmt: skip
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

"""Cold start of the ingest function: a fresh process importing the handler and serving its first request.

Printed as a ratio to a baseline measured in the same run: a fresh process doing `import boto3` and
creating one client. Both are whole-process wall times (interpreter start included on both sides),
the median of several runs, against the local cloud's moto (so the first request really stores a
rating). Target (issue 3): <= 1.3x.

    .venv/bin/python bench/coldstart.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra.localcloud.hubcloud import HubLocalCloud  # noqa: E402
from infra.signing import sign  # noqa: E402

KIOSK = (ROOT.parent / "shared" / "samples" / "kiosk" / "01-dissatisfied-labels.json").read_bytes()

HUB_CHILD = """
import json, sys
event = json.loads(sys.argv[1])
import functions.ingest
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
BASELINE_CHILD = "import boto3; boto3.client('dynamodb')"


def timed(code: str, env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with HubLocalCloud(state_dir=tempfile.mkdtemp(prefix="hcp-cold-")) as cloud:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "POWERTOOLS_METRICS_DISABLED": "false", "LOG_LEVEL": "WARNING"}
        demo = cloud.seeded["connectors"]["kiosk"]
        hub, base = [], []
        for run in range(args.runs):
            body = KIOSK.replace(b"K20261128093011", f"COLD{run:04d}".encode())
            headers = sign(
                demo["secret"], body, int(time.time()), secrets.token_hex(16), connector_id=demo["connector_id"]
            )
            event = {
                "resource": "/v1/connectors/{connector_id}/ratings",
                "path": f"/v1/connectors/{demo['connector_id']}/ratings",
                "httpMethod": "POST", "headers": {**headers, "Content-Type": "application/json"},
                "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
                "pathParameters": {"connector_id": demo["connector_id"]}, "stageVariables": None,
                "requestContext": {"requestId": f"cold-{run}", "stage": "prod", "identity": {"sourceIp": "127.0.0.1"},
                                   "requestTimeEpoch": int(time.time() * 1000), "httpMethod": "POST"},
                "body": body.decode(), "isBase64Encoded": False,
            }  # fmt: skip
            base.append(timed(BASELINE_CHILD, env))
            hub.append(timed(HUB_CHILD, env, json.dumps(event)))
    b, h = statistics.median(base), statistics.median(hub)
    print(f"baseline (import boto3 + one client, fresh process): median {b * 1000:.0f} ms over {args.runs} runs")
    print(f"ingest (import handler + first signed request stored, fresh process): median {h * 1000:.0f} ms")
    print(f"ratio {h / b:.2f}x  (target <= 1.3x)")


if __name__ == "__main__":
    main()

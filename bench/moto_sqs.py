"""The local cloud's moto SQS patch (`infra.localcloud.motoserver.sqs_counts_on_demand`) against moto as shipped.

N messages sent in batches of 10, then received ten at a time until the queue is empty, in moto in-process:
once as moto 5.2.5 ships (its queue's Approximate* counts — three scans of the whole queue — computed for
every message received and sent), once patched, each in a fresh process. Prints both times and the ratio.
The counts a caller asks for are checked to be the same.

    .venv/bin/python bench/moto_sqs.py [--messages 1000] [--cap 600]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(patched: bool, messages: int) -> str:
    sys.path.insert(0, str(ROOT))
    import boto3
    from moto import mock_aws

    if patched:
        from infra.localcloud.motoserver import sqs_counts_on_demand

        sqs_counts_on_demand()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        started = time.perf_counter()
        for _ in range(0, messages, 10):
            sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(j), "MessageBody": "x"} for j in range(10)])
        received = 0
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            received += len(batch)
        took = time.perf_counter() - started
        counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return f"{took:.2f} {received} {counts['ApproximateNumberOfMessagesNotVisible']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--cap", type=float, default=600, help="seconds before a run is given up")
    parser.add_argument("--child", choices=["moto", "patched"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(run(args.child == "patched", args.messages))
        return
    results: dict[str, tuple[float, str]] = {}
    for mode in ("patched", "moto"):
        try:
            command = [sys.executable, __file__, "--child", mode, "--messages", str(args.messages)]
            out = subprocess.run(command, capture_output=True, text=True, timeout=args.cap, check=True).stdout.split()
            results[mode] = (float(out[0]), f"{out[1]} received, {out[2]} in flight (as counted)")
        except subprocess.TimeoutExpired:
            results[mode] = (float("inf"), f"given up after {args.cap:.0f} s")
        print(f"{mode:8} {args.messages} messages sent and received: {results[mode][0]:.1f} s ({results[mode][1]})")
    ratio = results["moto"][0] / results["patched"][0]
    print(f"ratio moto as shipped / patched: {'>' if ratio == float('inf') else ''}"
          f"{ratio if ratio != float('inf') else args.cap / results['patched'][0]:.0f}x")


if __name__ == "__main__":
    main()

"""`hcp dlq`: what the forward dead-letter queue holds (with the forward queue's maxReceiveCount, its backstop
for crashes) and putting it back (`redrive`). The maxReceiveCount is no knob: the forward function queues a
copy afresh as a message nears it (`FORWARD_MAX_RECEIVES`, set from the template), so lowering it on the queue
alone would dead-letter ratings the province never refused."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cli.main import UsageError
from cli.state import load_state


def _queues(args: argparse.Namespace) -> tuple[Any, str, str]:
    import boto3

    if args.dlq_url or args.queue_url:
        if not (args.dlq_url and args.queue_url):
            raise UsageError("--dlq-url and --queue-url go together")
        return boto3.client("sqs"), args.dlq_url, args.queue_url
    state = load_state(args.state_dir)
    resources = state.get("resources", {})
    try:
        queue_url, dlq_url = resources["ForwardQueue"], resources["ForwardDeadLetterQueue"]
    except KeyError:
        raise UsageError("the local cloud's state has no forward queues; pass --queue-url and --dlq-url") from None
    client = boto3.client(
        "sqs", endpoint_url=state["aws_endpoint"], region_name=state.get("region", "us-east-1"),
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    return client, dlq_url, queue_url


def redrive(sqs: Any, dlq_url: str, queue_url: str, limit: int | None = None) -> int:
    """Move messages from the dead-letter queue back to the forward queue; each is deleted only once sent."""
    moved = 0
    while limit is None or moved < limit:
        batch = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            break
        entries = [{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(batch)]
        sent = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        ok = {entry["Id"] for entry in sent.get("Successful", [])}
        done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch) if str(i) in ok]
        if done:
            sqs.delete_message_batch(QueueUrl=dlq_url, Entries=done)
        moved += len(done)
        if len(done) < len(batch):
            break  # the rest stay in the dead-letter queue, visible again after their timeout
    return moved


def peek(sqs: Any, dlq_url: str, count: int = 10) -> list[dict[str, Any]]:
    """The first messages of the dead-letter queue, left where they are (visible again at once): which rating,
    and why it is there — the forward function names the failures the province gave; a message moto moved
    there after maxReceiveCount receives has no reason of its own."""
    got = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=min(count, 10), VisibilityTimeout=0,
                              MessageAttributeNames=["All"]).get("Messages", [])  # fmt: skip
    seen = []
    for message in got:
        try:
            body = json.loads(message["Body"])
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        reason = (body.get("dead_letter") or {}).get("reason") or "moved after maxReceiveCount receives"
        seen.append({"rating_id": body.get("rating_id"), "outcome": body.get("outcome"), "reason": reason})
    return [{k: v for k, v in m.items() if v is not None} for m in seen]


def max_receives(sqs: Any, queue_url: str) -> int:
    """The forward queue's maxReceiveCount (receives before SQS dead-letters a message)."""
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
    policy = json.loads(attributes.get("RedrivePolicy") or "{}")
    if not policy.get("deadLetterTargetArn"):
        raise UsageError(f"{queue_url} has no dead-letter queue")
    return int(policy["maxReceiveCount"])


def run(args: argparse.Namespace) -> int:
    sqs, dlq_url, queue_url = _queues(args)
    if args.action == "show":
        attributes = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
        print(json.dumps({"dead_letter_queue": dlq_url,
                          "messages": int(attributes["Attributes"]["ApproximateNumberOfMessages"]),
                          "max_receives": max_receives(sqs, queue_url),
                          "first": peek(sqs, dlq_url)}, ensure_ascii=False))  # fmt: skip
        return 0
    moved = redrive(sqs, dlq_url, queue_url, args.limit)
    print(json.dumps({"redriven": moved, "to": queue_url}))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "dlq", help="the forward dead-letter queue: show it or redrive it",
        description="show: the messages waiting, each with why (the failures the province gave), and the forward "
        "queue's maxReceiveCount (a backstop for crashes, 100); redrive: back to the forward queue. A province "
        "answering 500 to every rating fills it after 5 attempts (about 3 minutes: `hcp local province "
        "--error-rate 1 --error-status 500`); an outage never does.",
    )  # fmt: skip
    parser.add_argument("action", choices=["show", "redrive"])
    parser.add_argument("--limit", type=int, help="redrive at most this many messages")
    parser.add_argument("--queue-url", help="the forward queue (default: the local cloud's)")
    parser.add_argument("--dlq-url", help="the dead-letter queue (default: the local cloud's)")
    parser.add_argument("--state-dir", help="where local.json is (default .hcp)")
    parser.set_defaults(func=run)

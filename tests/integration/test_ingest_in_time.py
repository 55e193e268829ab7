"""The ingest function within its time when DynamoDB, S3, SQS answer slowly (issue 16): it answers 503 HUB_BUSY
with Retry-After before Lambda would stop it, and a re-post gets each rating's answer (R8: a rating the first
attempt stored is `duplicate` with its rating id), one stored rating and one queued key per rating.

The slowness is driven, not slept: every HTTP attempt a client makes moves the invocation's clock (the context's
remaining time) on by `per_attempt_ms`, as a moto answering that late would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import functions.ingest as ingest_function
from infra import bootstrap, deadline
from infra.signing import sign
from tests.integration.test_ingest_function import Hub, api_event, as_json, built_with, hub, unified
from tests.lambda_context import LambdaContext

__all__ = ["hub"]  # the fixture, shared with test_ingest_function

TIMEOUT_MS = 15_000  # the template's IngestFunction Timeout


@dataclass
class SlowAws:
    """What each AWS attempt costs the invocation's clock, and the attempts seen (operation names)."""

    per_attempt_ms: int = 0
    spent_ms: int = 0
    attempts: int = 0

    def hook(self, client: Any) -> None:
        def before_send(**kwargs: Any) -> None:
            self.attempts += 1
            self.spent_ms += self.per_attempt_ms

        client.meta.events.register("before-send", before_send, unique_id="test-slow-aws")


@dataclass
class DrivenContext(LambdaContext):
    """A Lambda context whose remaining time is the function's timeout less what the driven AWS took."""

    function_name: str = "hcp-hub-IngestFunction"
    memory_limit_in_mb: int = 1024
    slow: SlowAws | None = None
    started_ms: int = 0

    def __post_init__(self) -> None:
        self.started_ms = self.slow.spent_ms if self.slow else 0  # this invocation's clock starts now

    def get_remaining_time_in_millis(self) -> int:
        return TIMEOUT_MS - ((self.slow.spent_ms if self.slow else 0) - self.started_ms)


@pytest.fixture
def slow() -> Iterator[SlowAws]:
    aws = SlowAws()
    bootstrap.CLIENT_HOOKS.append(aws.hook)
    yield aws
    bootstrap.CLIENT_HOOKS.remove(aws.hook)


def post(hub: Hub, handler: Any, body: bytes, context: Any) -> tuple[int, dict[str, str], Any]:
    connector_id, secret = hub.connectors["unified"]
    headers = {"Content-Type": "application/json", **sign(secret, body, int(time.time()), connector_id=connector_id)}
    reply = handler(api_event("POST", "/v1/ratings", "/v1/ratings", headers=headers, body=body), context)
    flat = {name: values[-1] for name, values in reply["multiValueHeaders"].items()}
    return reply["statusCode"], flat, json.loads(reply["body"])


BODY = as_json([unified(f"SLOW-{n}") for n in range(6)])


def test_slow_aws_is_answered_503_before_the_timeout_and_a_repost_gets_every_rating_once_R8(
    hub: Hub, slow: SlowAws
) -> None:
    # GIVEN every AWS attempt answered 1.5 s late: the POST's calls (connector, nonce, keys, archive, one
    # transaction per rating, the queue) would take longer than the function's 15 s
    slow.per_attempt_ms = 1_500
    handler = ingest_function.make_handler(built_with(hub.clock))

    # WHEN it is posted
    status, headers, answer = post(hub, handler, BODY, DrivenContext(slow=slow))

    # THEN a clear retryable 503 before the timeout, with time left to answer
    [problem] = answer["errors"]
    assert (status, problem["code"], headers["Retry-After"]) == (503, "HUB_BUSY", str(deadline.RETRY_AFTER_S))
    assert "Retry-After" in problem["message"] and "重新发送" in problem["message_zh"]
    assert TIMEOUT_MS - slow.spent_ms >= deadline.SPARE_MS
    stored_first = {i["rating_id"]["S"] for i in hub.stored_ratings()}
    assert 0 < len(stored_first) < 6  # some ratings were stored before the time ran out: they must not be lost

    # WHEN the vendor sends the same ratings again (signed afresh), AWS answering at once
    slow.per_attempt_ms = 0
    status, _, again = post(hub, handler, BODY, DrivenContext(slow=slow))

    # THEN every rating has its answer: the ones stored before are duplicates with their rating ids (R8), the others
    # accepted; each is stored once and queued at most once (the stored-before wait for the sweep, pending)
    assert status == 202
    outcomes = {r["rating_id"]: r["outcome"] for r in again["results"]}
    assert len(outcomes) == 6
    assert {k for k, v in outcomes.items() if v == "duplicate"} == stored_first
    assert {k for k, v in outcomes.items() if v == "accepted"} == set(outcomes) - stored_first
    stored = hub.stored_ratings()
    assert sorted(i["rating_id"]["S"] for i in stored) == sorted(outcomes)
    queued = hub.queued()
    assert sorted(queued) == sorted(set(outcomes) - stored_first)
    assert {i["forward_state"]["S"] for i in stored if i["rating_id"]["S"] in stored_first} == {"pending"}


def test_without_the_deadline_the_same_slow_aws_runs_past_the_timeout(hub: Hub, slow: SlowAws) -> None:
    """The negative control: the function's clients without the guard wait for every slow answer."""
    slow.per_attempt_ms = 1_500
    handler = ingest_function.make_handler(built_with(hub.clock))
    bootstrap.CLIENT_HOOKS.remove(deadline.guard)  # the services are built on the first request, without it
    try:
        status, _, answer = post(hub, handler, BODY, DrivenContext(slow=slow))
    finally:
        bootstrap.CLIENT_HOOKS.insert(0, deadline.guard)
    assert status == 202 and len(answer["results"]) == 6
    assert slow.spent_ms > TIMEOUT_MS  # Lambda would have stopped it: API Gateway answers 502, the answer lost


def test_a_throttled_or_unanswered_call_is_503_and_a_call_in_time_is_not_refused() -> None:
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        ParamValidationError,
        ReadTimeoutError,
    )

    throttled = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "TransactWriteItems")
    answer: Any = {"Error": {"Code": "ValidationException"}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    refused = ClientError(answer, "PutItem")
    racing: Any = {"Error": {"Code": "TransactionCanceledException"},
                   "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}]}  # fmt: skip
    duplicate: Any = {"Error": {"Code": "TransactionCanceledException"},
                      "CancellationReasons": [{"Code": "ConditionalCheckFailed"}]}  # fmt: skip
    assert deadline.retryable(throttled) and deadline.retryable(ReadTimeoutError(endpoint_url="x"))
    assert deadline.retryable(ClientError(racing, "TransactWriteItems"))  # a resend racing its first attempt
    assert not deadline.retryable(ClientError(duplicate, "TransactWriteItems"))
    assert not deadline.retryable(refused) and not deadline.retryable(ValueError("a bug"))
    # a fault of the function's own, not of AWS's answer: a 500 to look into, not a 503 to send again
    assert not deadline.retryable(NoCredentialsError()) and not deadline.retryable(ParamValidationError(report="x"))
    assert deadline.retryable(EndpointConnectionError(endpoint_url="x"))

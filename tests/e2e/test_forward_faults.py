"""Forwarding through a failing and a hanging province, on the local cloud (R9; issue 16).

The stub answers 503 to 30 % of requests and too late to 10 % (it stores the rating, then hangs past the
client's read timeout: an unknown outcome, the one case that may reach it twice). The local cloud plays
Lambda's timeout (an invocation past it is abandoned, its batch returns to the queue), so "no invocation
past its timeout" is what Lambda would have seen too.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.e2e.conftest import Hub, environment
from tests.e2e.test_pipeline import kiosk_batch

pytestmark = pytest.mark.e2e


def dead_letter_depth(hub: Hub) -> int:
    sqs = hub.cloud.client("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=hub.cloud.resources["ForwardDeadLetterQueue"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


def post_kiosk(hub: Hub, prefix: str, batches: int, size: int) -> list[str]:
    ids: list[str] = []
    for batch in range(batches):
        status, answer = hub.post("kiosk", kiosk_batch(f"{prefix}{batch:02d}-", size))
        assert status == 202, answer
        ids += [r["rating_id"] for r in answer["results"] if r["outcome"] == "accepted"]
    return ids


def forward_limits(hub: Hub) -> dict[str, Any]:
    return hub.cloud.functions["ForwardFunction"].limits()  # type: ignore[no-any-return]


def test_a_failing_province_gets_every_rating_once_none_dead_lettered_no_invocation_past_its_timeout_R9(
    hub: Hub,
) -> None:
    # GIVEN a province answering 503 to 30 % of requests and hanging past the read timeout on 10 %
    before = forward_limits(hub)
    stats_before = hub.province.stats()
    hub.province.set_faults(error_rate=0.3, timeout_rate=0.1, seed=16, timeout_sleep=1.0)
    try:
        ids = post_kiosk(hub, "FWDFAULT", 3, 100)
        assert len(ids) == 300
        # WHEN the queues have worked through it (retries back off 1 s, 2 s, 4 s ... in this session)
        hub.cloud.drain(180, redeliver=True, parallel=True)  # driven: each backoff taken as passed
    finally:
        stats = hub.province.stats()
        hub.province.set_faults()
    after = forward_limits(hub)
    # THEN every rating arrived, once, under its one key
    received = Counter(i for i in hub.received_ids() if i in set(ids))
    assert set(received) == set(ids)
    assert max(received.values()) == 1
    # ... nothing went to the dead-letter queue: the province never refused any of them
    assert dead_letter_depth(hub) == 0
    # ... no invocation ran past its timeout (Lambda would have stopped it and redelivered its whole batch)
    assert after["over_timeout"] == before["over_timeout"]
    assert after["timed_out"] == before["timed_out"]
    assert after["longest_s"] < after["timeout_s"]
    # ... and the faults were real: retries happened, and re-sends after lost answers were duplicates
    injected = stats["faults_injected"] - stats_before["faults_injected"]
    duplicates = stats["duplicates"] - stats_before["duplicates"]
    assert injected > 50
    assert duplicates <= injected  # only a lost answer (a timeout) makes a re-send


def test_a_send_hanging_longer_than_the_function_may_run_ends_within_the_invocation(hub: Hub) -> None:
    # GIVEN a read timeout longer than the function's own (30 s) and a province hanging for a minute; the
    # safety margin leaves each invocation 3 s for its sends, so this takes seconds, not minutes
    before = forward_limits(hub)
    hub.province.set_faults(timeout_rate=0.5, seed=3, timeout_sleep=60.0)
    try:
        with environment(PROVINCE_READ_TIMEOUT="120", FORWARD_SAFETY_MARGIN_MS="27000"):
            ids = post_kiosk(hub, "FWDHANG", 1, 20)
            hub.cloud.drain(120)
    finally:
        hub.province.set_faults()
    after = forward_limits(hub)
    # THEN the hanging sends were given up at the invocation's deadline, never past its timeout
    assert set(ids) <= set(hub.received_ids())
    # ... and their held retries, once the province answers again, find the ratings there (duplicates)
    hub.cloud.drain(redeliver=True)
    assert hub.cloud.held()["ForwardQueue"] == 0
    assert after["over_timeout"] == before["over_timeout"] and after["timed_out"] == before["timed_out"]
    assert after["invocations"] > before["invocations"]
    assert dead_letter_depth(hub) == 0

"""The pipeline on the local cloud: ingest -> store -> queue -> forward -> provincial stub (R9).

Nothing here is mocked: the real template deployed into moto, the functions played in-process, the
stub a real HTTP server on loopback. The cloud is driven: `drain()` runs the forward queue in the
test's thread, `drain(redeliver=True)` retries at once what the province failed (the backoff taken
as passed). Rule ids: R8 (duplicates), R9 (real-time forwarding).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from cli.dlq_cmd import redrive
from cli.normalize_cmd import content_type_for
from connectors.normalize import normalize
from connectors.registry import adapter_for
from hub.calendar import WorkingDayCalendar
from tests.conftest import SAMPLES, expected_for, sample_files
from tests.e2e.conftest import BUSINESS_NOW, Hub

pytestmark = pytest.mark.e2e
KIOSK = json.loads((SAMPLES / "kiosk" / "01-dissatisfied-labels.json").read_text("utf-8"))


def kiosk_batch(prefix: str, count: int) -> bytes:
    """`count` distinct kiosk ratings in one body (a JSON list is the kiosk's batch envelope)."""
    return json.dumps([{**KIOSK, "orderId": f"{prefix}{i:06d}"} for i in range(count)], ensure_ascii=False).encode()


def test_every_sample_reaches_the_province_with_its_payload_R9(hub: Hub) -> None:
    samples = [p for p in sample_files() if p.parent.name != "cases"]
    accepted: dict[str, str] = {}
    for sample in samples:
        status, answer = hub.post(sample.parent.name, sample.read_bytes(), content_type_for(sample))
        expected = expected_for(sample)
        [result] = answer["results"]
        assert result["outcome"] == expected["outcome"], (sample.name, answer)
        assert status == (202 if expected["outcome"] == "accepted" else 422)
        if result["outcome"] == "accepted":
            accepted[result["rating_id"]] = sample.parent.name
    hub.cloud.drain()
    assert set(accepted) <= set(hub.received_ids()), "every accepted sample at the stub"
    payloads = {p["evalId"]: p for p in hub.province.received()}
    window = next(k for k, v in accepted.items() if v == "window_device")
    assert (payloads[window]["pf"], payloads[window]["satisfaction"]) == ("4", "1")  # key 5 = 非常不满意
    kiosk = next(k for k, v in accepted.items() if v == "kiosk")
    assert payloads[kiosk]["evalDetail"] == "PLATFORM_STABILITY,ITEM_EFFICIENCY"
    assert payloads[kiosk]["assessTime"] == "2026-11-28 09:30:00"
    assert all("mobile" not in p and "userCert" not in p for p in payloads.values())  # R20: no personal data


def test_a_repost_is_one_delivery_R8(hub: Hub) -> None:
    body = kiosk_batch("REPOST", 1)
    first = hub.post("kiosk", body)[1]["results"][0]
    again = hub.post("kiosk", body)[1]["results"][0]
    assert (first["outcome"], again["outcome"]) == ("accepted", "duplicate")
    hub.cloud.drain()
    assert hub.received_ids().count(first["rating_id"]) == 1


def test_unsigned_tampered_and_replayed_requests_are_refused_and_store_nothing(hub: Hub) -> None:
    before = len(hub.province.received())
    body = kiosk_batch("AUTH", 1)
    status, answer = hub.post("kiosk", body, headers={"X-Hcp-Signature": ""})
    assert (status, answer["errors"][0]["code"]) == (401, "SIGNATURE_MISSING")
    status, answer = hub.post("kiosk", body, headers={"X-Hcp-Signature": "0" * 64})
    assert (status, answer["errors"][0]["code"]) == (401, "SIGNATURE_INVALID")
    assert hub.post("kiosk", kiosk_batch("REPLAY", 1), nonce="replayed-nonce-0001")[0] == 202
    status, answer = hub.post("kiosk", kiosk_batch("REPLAY", 1), nonce="replayed-nonce-0001")
    assert (status, answer["errors"][0]["code"]) == (401, "NONCE_REUSED")
    hub.cloud.drain(30)
    store = hub.ratings()
    adapter = adapter_for("kiosk")
    [refused] = normalize(
        adapter, body, "application/json", connector_id=hub.connector("kiosk")["connector_id"],
        received_at=BUSINESS_NOW, now=BUSINESS_NOW, calendar=WorkingDayCalendar(),
    )  # fmt: skip
    assert store.get(refused.rating.rating_id) is None
    assert len(hub.province.received()) == before + 1  # only the first REPLAY rating


def test_a_crash_between_store_and_queue_is_delivered_by_the_sweep(hub: Hub) -> None:
    # GIVEN a rating stored as ingest stores it, and never queued (the function died in between)
    [outcome] = normalize(
        adapter_for("kiosk"), kiosk_batch("CRASH", 1), "application/json",
        connector_id=hub.connector("kiosk")["connector_id"], received_at=hub.cloud.clock.now(),
        now=hub.cloud.clock.now(), calendar=WorkingDayCalendar(),
    )  # fmt: skip
    store = hub.ratings()
    assert store.put_new(outcome.rating, "raw/crash").outcome == "accepted"
    hub.cloud.run_due()  # what is due now: the sweep is not, and nothing else forwards it
    assert outcome.rating.rating_id not in hub.received_ids()
    # WHEN the schedule passes the sweep's next run
    fired = hub.cloud.move_clock(advance=timedelta(minutes=6))
    # THEN the sweep re-queued it and it reached the province
    assert "SweepFunction" in {f.function for f in fired}
    assert outcome.rating.rating_id in hub.received_ids(), "the swept rating at the stub"


def test_the_province_down_then_up_drains_the_backlog(hub: Hub) -> None:
    hub.province.set_faults(down=True)
    ids = [r["rating_id"] for r in hub.post("kiosk", kiosk_batch("DOWN", 60))[1]["results"]]
    hub.cloud.drain()  # every one tried once, and failed: held on the queue for its backoff
    assert not set(ids) & set(hub.received_ids())
    assert hub.cloud.held()["ForwardQueue"] == 60
    hub.province.set_faults()
    hub.cloud.drain(redeliver=True)  # their backoff passes
    assert set(ids) <= set(hub.received_ids()), "the backlog at the stub"


@pytest.mark.slow
def test_faults_at_the_province_lose_nothing_and_each_rating_keeps_one_key_R9(hub: Hub) -> None:
    # GIVEN a province answering 503 to 30 % of requests and too late to 10 %
    hub.province.set_faults(error_rate=0.3, timeout_rate=0.1, seed=7, timeout_sleep=1.0)
    # WHEN 2000 ratings come in 20 posts and the queue works through each (five batches at once, as the
    # mapping's MaximumConcurrency), each failure retried once its backoff passed, what kept failing redriven
    sqs = hub.cloud.client("sqs")
    resources = hub.cloud.resources
    ids: list[str] = []
    try:
        for batch in range(20):
            status, answer = hub.post("kiosk", kiosk_batch(f"FAULT{batch:02d}-", 100))
            assert status == 202
            ids += [r["rating_id"] for r in answer["results"] if r["outcome"] == "accepted"]
            hub.cloud.drain(redeliver=True, parallel=True)
        assert len(ids) == 2000
        for _ in range(10):
            if set(ids) <= set(hub.received_ids()):
                break
            redrive(sqs, resources["ForwardDeadLetterQueue"], resources["ForwardQueue"])
            hub.cloud.drain(redeliver=True, parallel=True)
        assert set(ids) <= set(hub.received_ids()), "2000 ratings at the stub through faults"
    finally:
        stats = hub.province.stats()
        hub.province.set_faults()
    # THEN each rating arrived exactly once under its one key; retries of late answers were duplicates
    received = [i for i in hub.received_ids() if i in set(ids)]
    assert sorted(received) == sorted(ids)
    assert stats["faults_injected"] > 0
    # What is still queued are retries of ratings the province has (their backoff can run minutes):
    # cleared so later tests can wait for an empty queue.
    for queue in ("ForwardQueue", "ForwardDeadLetterQueue"):
        sqs.purge_queue(QueueUrl=resources[queue])

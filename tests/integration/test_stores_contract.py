"""One contract per port, run over the AWS adapter (in moto) and its in-memory fake, so the fake stays honest.

The tables are created from template.yaml's own definitions, so the adapters are tested against the
keys and indexes that are deployed.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import threading
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, cast

import boto3
import pytest
import yaml
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber
from moto import mock_aws
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from hub.ports import (
    ConnectorChanged,
    ConnectorStore,
    ForwardQueue,
    NonceStore,
    RatingStore,
    RawArchive,
    UnknownConnector,
    UnknownRating,
)
from hub.rating import Rating, rating_id_for
from infra.archive import S3RawArchive
from infra.clock import LocalClock
from infra.connector_store import CachedConnectorStore, DynamoConnectorStore
from infra.forward_queue import SqsForwardQueue
from infra.memory import (
    InMemoryConnectorStore,
    InMemoryForwardQueue,
    InMemoryNonceStore,
    InMemoryRatingStore,
    InMemoryRawArchive,
    InMemorySealer,
)
from infra.rating_store import DynamoRatingStore
from infra.signing import DynamoNonceStore
from tests.conftest import ROOT

REGION = "cn-north-1"
NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")
TABLES = {"RatingsTable": "ratings", "ConnectorsTable": "connectors", "NoncesTable": "nonces"}


# --------------------------------------------------------------------------------------------------
# The AWS side, as template.yaml declares it


class _CloudFormationLoader(yaml.SafeLoader):
    pass


_CloudFormationLoader.add_multi_constructor("!", lambda loader, suffix, node: None)



def backlog(ratings: RatingStore, due_by: datetime, limit: int = 100) -> list[str]:
    """The sweep's view of the backlog: pending ratings due by `due_by`, soonest due first."""
    return list(ratings.due_for_sweep(due_by, limit)[0])

def template_resources() -> dict[str, Any]:
    """template.yaml's resources, a copy of its one parse per process and file content (the pure-Python YAML
    parse costs about 0.2 s of CPU, and a fixture of every moto test here calls this)."""
    return copy.deepcopy(_parsed_resources((ROOT / "template.yaml").read_text("utf-8")))


@functools.lru_cache(maxsize=2)
def _parsed_resources(text: str) -> dict[str, Any]:
    return cast(dict[str, Any], yaml.load(text, Loader=_CloudFormationLoader)["Resources"])


def create_aws_resources() -> dict[str, Any]:
    """Inside `mock_aws`: the template's tables, a bucket and a queue; the clients and names."""
    resources = template_resources()
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for logical_id, name in TABLES.items():
        props = resources[logical_id]["Properties"]
        kwargs: dict[str, Any] = {
            key: props[key] for key in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes") if key in props
        }
        dynamodb.create_table(TableName=name, BillingMode=props["BillingMode"], **kwargs)
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="raw", CreateBucketConfiguration={"LocationConstraint": REGION})
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="forward")["QueueUrl"]
    # R20: the KMS key and the look-up key secret the stores seal with (infra.sealing; `personal_data_env`)
    data_key = boto3.client("kms", region_name=REGION).create_key(Description="DataKey")["KeyMetadata"]["KeyId"]
    lookup = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="lookup", SecretString=json.dumps({"key": "k" * 64})
    )["ARN"]
    return {"dynamodb": dynamodb, "s3": s3, "sqs": sqs, "queue_url": queue_url, "bucket": "raw", **TABLES,
            "DATA_KEY_ID": data_key, "LOOKUP_KEY_SECRET_ARN": lookup}  # fmt: skip


def personal_data_env(aws: dict[str, Any]) -> dict[str, str]:
    """The variables `infra.bootstrap.sealed_stores` reads, for the resources `create_aws_resources` made."""
    return {name: aws[name] for name in ("DATA_KEY_ID", "LOOKUP_KEY_SECRET_ARN")}


def queued_messages(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []
    while True:
        response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60)
        messages = response.get("Messages", [])
        if not messages:
            return bodies
        bodies.extend(json.loads(m["Body"]) for m in messages)


def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    fake_credentials(monkeypatch)
    with mock_aws():
        yield create_aws_resources()


@pytest.fixture
def serial_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto's server on loopback, answering one request at a time, for the races.

    In-process `mock_aws` cannot stand for DynamoDB in a race: it runs a transaction item by item and
    undoes a cancelled one by restoring a snapshot of the table, so two threads' transactions
    interleave (a loser's item survived in a probe). A server that takes one request at a time makes
    each call isolated, as DynamoDB's conditional writes and transactions are; the clients still race.
    """
    fake_credentials(monkeypatch)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app), threaded=False,
                         request_handler=MotoRequestHandler)  # fmt: skip
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    try:
        yield create_aws_resources()
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
        server.shutdown()
        thread.join()


BACKENDS = ["memory", "aws"]


def backend(request: pytest.FixtureRequest, memory: Callable[[], Any], aws: Callable[[dict[str, Any]], Any]) -> Any:
    if request.param == "memory":
        return memory()
    return aws(request.getfixturevalue("aws"))


@pytest.fixture(params=BACKENDS)
def ratings(request: pytest.FixtureRequest) -> RatingStore:
    def dynamo(a: dict[str, Any]) -> RatingStore:
        return DynamoRatingStore(a["dynamodb"], a["RatingsTable"], sealer=InMemorySealer())

    return backend(request, InMemoryRatingStore, dynamo)


@pytest.fixture(params=[*BACKENDS, "aws, cached"])
def connectors(request: pytest.FixtureRequest) -> ConnectorStore:
    if request.param == "aws, cached":  # as the ingest function reads them: a warm container's copies
        return CachedConnectorStore(sealed_connector_store(request.getfixturevalue("aws")), LocalClock(NOW))
    return backend(request, InMemoryConnectorStore, sealed_connector_store)


def sealed_connector_store(aws: dict[str, Any]) -> DynamoConnectorStore:
    """As production wires it: secrets sealed under the KMS key (infra.bootstrap)."""
    from infra.sealing import EnvelopeSealer

    sealer = EnvelopeSealer(boto3.client("kms", region_name=REGION), aws["DATA_KEY_ID"])
    return DynamoConnectorStore(aws["dynamodb"], aws["ConnectorsTable"], sealer)


def test_connector_secrets_are_never_stored_in_clear_R20(aws: dict[str, Any]) -> None:
    """Secrets are sealed under KMS and bound to their connector; the raw item holds neither secret."""
    store = sealed_connector_store(aws)
    now = datetime.fromisoformat("2026-11-28T12:00:00+08:00")
    connector, secret = store.create("kiosk", "终端", "行政服务中心", now=now)
    _, new_secret = store.rotate(
        connector.connector_id, now=datetime.fromisoformat("2026-11-28T12:05:00+08:00"), grace=timedelta(hours=24)
    )
    key = {"pk": {"S": f"CONNECTOR#{connector.connector_id}"}}
    raw = aws["dynamodb"].get_item(TableName=aws["ConnectorsTable"], Key=key)
    text = json.dumps(raw["Item"], default=repr)
    assert secret not in text and new_secret not in text
    assert "secret" not in raw["Item"] and "previous_secret" not in raw["Item"]
    read = store.get(connector.connector_id)
    assert read is not None and (read.secret, read.previous_secret) == (new_secret, secret)
    # moved onto another connector's item, a sealed secret does not open
    other, _ = store.create("kiosk", "终端二", "行政服务中心", now=now)
    aws["dynamodb"].update_item(
        TableName=aws["ConnectorsTable"], Key={"pk": {"S": f"CONNECTOR#{other.connector_id}"}},
        UpdateExpression="SET secret_sealed = :s", ExpressionAttributeValues={":s": raw["Item"]["secret_sealed"]},
    )  # fmt: skip
    with pytest.raises(ValueError):
        store.get(other.connector_id)


@pytest.fixture(params=BACKENDS)
def nonces(request: pytest.FixtureRequest) -> NonceStore:
    return backend(request, InMemoryNonceStore, lambda a: DynamoNonceStore(a["dynamodb"], a["NoncesTable"]))


@pytest.fixture(params=BACKENDS)
def archive(request: pytest.FixtureRequest) -> RawArchive:
    return backend(request, InMemoryRawArchive, lambda a: S3RawArchive(a["s3"], a["bucket"]))


# --------------------------------------------------------------------------------------------------
# Ratings


def make_rating(source_id: str = "S-1", *, case_no: str = "GX2026112700045", received_at: datetime = NOW,
                connector_id: str = "portal-1", **changes: Any) -> Rating:  # fmt: skip
    data: dict[str, Any] = {
        "rating_id": rating_id_for(connector_id, source_id),
        "source": {"connector_id": connector_id, "kind": "unified", "source_rating_id": source_id,
                   "received_at": received_at.isoformat()},
        "case": {"case_no": case_no, "handled_at": "2026-11-27T16:02:11+08:00"},
        "target": {"agency_code": "11360704MB1C000102", "region_code": "360704000000"},
        "channel": "window",
        "grade": "dissatisfied",
        "tags": ["ITEM_MATERIALS"],
        "rater": {"name": "王五", "phone": "13907970001", "id_no": "360721198501011233", "real_name": True},
        "rated_at": "2026-11-28T10:21:33+08:00",
    }  # fmt: skip
    data.update(changes)
    return Rating.model_validate(data)


def default_rating(case_no: str = "GX2026112700045") -> Rating:
    """R6: what the hub records when the window closes unrated (the same slot as a real rating)."""
    return make_rating(f"default-{case_no}", case_no=case_no, connector_id="hub", evaluation_type="default",
                       grade="satisfied", tags=[], rater={}, rated_at="2026-12-04T23:59:59+08:00")  # fmt: skip


def test_a_new_rating_is_accepted_and_reads_back_whole(ratings: RatingStore) -> None:
    rating = make_rating()
    assert ratings.put_new(rating, "raw/portal-1/2026/11/28/req").outcome == "accepted"
    stored = ratings.get(rating.rating_id)
    assert stored is not None
    assert stored.rating == rating  # the rater included: sealed apart, read back the same
    assert (stored.forward_state, stored.raw_ref, stored.stored_at) == ("pending", "raw/portal-1/2026/11/28/req", NOW)
    assert stored.content_hash == RatingStore.content_hash(rating)
    assert ratings.get("r-none") is None


def test_a_stored_ratings_handoff_reads_as_the_store_would_R9(ratings: RatingStore) -> None:
    """What the forward queue's message carries (issue 15): the rating as stored, pending, so the forward
    function need not read it back; another rating's id does not take it."""
    rating = make_rating()
    put = ratings.put_new(rating, "raw/portal-1/2026/11/28/req")
    assert put.outcome == "accepted" and put.handoff is not None
    assert ratings.from_handoff(rating.rating_id, put.handoff) == ratings.get(rating.rating_id)
    assert ratings.from_handoff("r-other", put.handoff) is None
    assert ratings.put_new(rating, "raw/again").handoff is None  # a duplicate is not queued again


def test_the_same_rating_again_is_a_duplicate_whenever_it_arrives(ratings: RatingStore) -> None:
    ratings.put_new(make_rating(), "raw/1")
    again = make_rating(received_at=NOW + timedelta(hours=1))
    assert ratings.put_new(again, "raw/2").outcome == "duplicate"
    assert ratings.get(again.rating_id).raw_ref == "raw/1"  # type: ignore[union-attr]


def test_the_same_source_id_with_other_content_is_a_conflict_and_the_original_stays(ratings: RatingStore) -> None:
    original = make_rating()
    ratings.put_new(original, "raw/1")
    changed = make_rating(grade="very_dissatisfied")
    assert (ratings.put_new(changed, "raw/2").outcome, ratings.put_new(changed, "raw/2").conflict) == (
        "conflict",
        "source_id",
    )
    assert ratings.get(original.rating_id).rating.grade == "dissatisfied"  # type: ignore[union-attr]


def test_a_second_rating_for_the_same_case_is_a_conflict_R8(ratings: RatingStore) -> None:
    ratings.put_new(make_rating("S-1"), "raw/1")
    second = make_rating("S-2", grade="satisfied", tags=[])
    result = ratings.put_new(second, "raw/2")
    assert (result.outcome, result.conflict) == ("conflict", "case")
    assert ratings.get(second.rating_id) is None


def test_an_additional_rating_has_its_own_slot_R8(ratings: RatingStore) -> None:
    ratings.put_new(make_rating("S-1"), "raw/1")
    assert ratings.put_new(make_rating("S-2", evaluation_type="additional"), "raw/2").outcome == "accepted"


@pytest.mark.parametrize("first", ["default", "real"])
def test_the_default_and_the_real_rating_exactly_one_wins_R6(ratings: RatingStore, first: str) -> None:
    real, default = make_rating(), default_rating()
    winner, loser = (default, real) if first == "default" else (real, default)
    assert ratings.put_new(winner, "raw/1").outcome == "accepted"
    assert ratings.put_new(loser, "raw/2").conflict == "case"
    assert ratings.get(winner.rating_id) is not None and ratings.get(loser.rating_id) is None


@pytest.fixture(params=["memory", "aws"])
def racing_ratings(request: pytest.FixtureRequest) -> RatingStore:
    if request.param == "memory":
        return InMemoryRatingStore()
    resources = request.getfixturevalue("serial_aws")
    return DynamoRatingStore(resources["dynamodb"], resources["RatingsTable"], sealer=InMemorySealer())


def race(attempts: list[Callable[[], Any]]) -> list[Any]:
    """Run the attempts at once, in real threads, released together."""
    barrier = threading.Barrier(len(attempts))
    results: list[Any] = [None] * len(attempts)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = attempts[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_twenty_concurrent_ratings_for_one_case_exactly_one_is_accepted_R6_R8(racing_ratings: RatingStore) -> None:
    contenders = [default_rating()] + [make_rating(f"S-{i}", connector_id=f"c{i % 3}") for i in range(19)]
    results = race([lambda r=r: racing_ratings.put_new(r, "raw/x") for r in contenders])
    assert Counter(r.outcome for r in results) == {"accepted": 1, "conflict": 19}
    assert sum(racing_ratings.get(r.rating_id) is not None for r in contenders) == 1


def test_twenty_concurrent_posts_of_one_rating_store_it_once(racing_ratings: RatingStore) -> None:
    results = race([lambda i=i: racing_ratings.put_new(make_rating(received_at=NOW + timedelta(seconds=i)), f"raw/{i}")
                    for i in range(20)])  # fmt: skip
    assert Counter(r.outcome for r in results) == {"accepted": 1, "duplicate": 19}


def test_forwarded_and_parked_ratings_leave_the_backlog(ratings: RatingStore) -> None:
    a, b, c = (make_rating(f"S-{i}", case_no=f"GX{i}", received_at=NOW + timedelta(minutes=i)) for i in range(3))
    for rating in (a, b, c):
        ratings.put_new(rating, "raw/1")
    later = NOW + timedelta(hours=1)
    assert backlog(ratings, later) == [a.rating_id, b.rating_id, c.rating_id]
    ratings.mark_forwarded(a.rating_id, "receipt-1", at=later)
    ratings.mark_parked(b.rating_id, "province: 40001 unknown deptCode", at=later)
    assert backlog(ratings, later) == [c.rating_id]
    forwarded, parked = ratings.get(a.rating_id), ratings.get(b.rating_id)
    assert (forwarded.forward_state, forwarded.receipt) == ("forwarded", "receipt-1")  # type: ignore[union-attr]
    assert (parked.forward_state, parked.parked_reason) == ("parked", "province: 40001 unknown deptCode")  # type: ignore[union-attr]
    with pytest.raises(UnknownRating):
        ratings.mark_forwarded("r-none", "x", at=later)
    with pytest.raises(UnknownRating):
        ratings.mark_parked("r-none", "x", at=later)


def test_a_pushed_service_record_is_kept_and_the_rating_stays_in_the_backlog(ratings: RatingStore) -> None:
    """Two-step provinces: the service record's receipt is the rating's; the evaluation is still owed."""
    rating = make_rating("S-svc", case_no="GX-svc")
    ratings.put_new(rating, "raw/1")
    assert ratings.get(rating.rating_id).service_receipt is None  # type: ignore[union-attr]
    ratings.mark_service_pushed(rating.rating_id, "svc-1", at=NOW)
    stored = ratings.get(rating.rating_id)
    assert (stored.service_receipt, stored.forward_state) == ("svc-1", "pending")  # type: ignore[union-attr]
    assert rating.rating_id in backlog(ratings, NOW + timedelta(hours=1))
    with pytest.raises(UnknownRating):
        ratings.mark_service_pushed("r-none", "x", at=NOW)


def test_the_backlog_is_read_oldest_first_up_to_the_cutoff_and_the_limit(ratings: RatingStore) -> None:
    """A fresh rating is due when stored: the sweep's index reads the oldest first (R9)."""
    stored = [make_rating(f"S-{i}", case_no=f"GX{i}", received_at=NOW + timedelta(minutes=i)) for i in range(7)]
    for rating in reversed(stored):
        ratings.put_new(rating, "raw/1")
    assert backlog(ratings, NOW + timedelta(minutes=3, seconds=30)) == [r.rating_id for r in stored[:4]]
    assert backlog(ratings, NOW + timedelta(hours=1), 3) == [r.rating_id for r in stored[:3]]
    assert backlog(ratings, NOW - timedelta(seconds=1)) == []


def test_an_attempt_is_recorded_and_the_backlog_skips_what_is_not_due_yet(ratings: RatingStore) -> None:
    waiting, dropped, fresh = (make_rating(f"A-{i}", case_no=f"GA{i}", received_at=NOW + timedelta(minutes=i))
                               for i in range(3))  # fmt: skip
    for rating in (waiting, dropped, fresh):
        ratings.put_new(rating, "raw/1")
    later = NOW + timedelta(hours=1)
    ratings.record_attempt(waiting.rating_id, at=later, next_due=later + timedelta(minutes=10), counted=False)
    ratings.record_attempt(dropped.rating_id, at=later, next_due=later + timedelta(minutes=1), counted=True)
    ratings.record_attempt(dropped.rating_id, at=later, next_due=later + timedelta(minutes=2), counted=False)
    stored = ratings.get(dropped.rating_id)
    assert stored is not None
    assert (stored.attempts, stored.failures, stored.last_attempt_at) == (2, 1, later)
    assert stored.next_due_at == later + timedelta(minutes=2)
    due_by = later + timedelta(minutes=5)  # soonest due first: the fresh one was due when stored
    assert backlog(ratings, due_by) == [fresh.rating_id, dropped.rating_id]
    assert backlog(ratings, due_by, 1) == [fresh.rating_id]
    assert backlog(ratings, later + timedelta(days=1)) == [fresh.rating_id, dropped.rating_id, waiting.rating_id]
    ratings.mark_dead_lettered(dropped.rating_id, "5 failures the province gave", at=later)
    assert backlog(ratings, later + timedelta(days=365)) == [fresh.rating_id, waiting.rating_id]
    revived = ratings.get(dropped.rating_id)
    assert revived is not None and (revived.forward_state, revived.failures) == ("pending", 0)
    ratings.mark_forwarded(waiting.rating_id, "receipt-1", at=later)
    ratings.record_attempt(waiting.rating_id, at=later, next_due=later, counted=True)  # a late thread: no effect
    assert ratings.get(waiting.rating_id).failures == 0  # type: ignore[union-attr]
    with pytest.raises(UnknownRating):
        ratings.record_attempt("r-none", at=later, next_due=later, counted=False)


def test_dynamo_keeps_the_rater_apart_from_the_rating_R20(aws: dict[str, Any]) -> None:
    store = DynamoRatingStore(aws["dynamodb"], aws["RatingsTable"], sealer=InMemorySealer())
    rating = make_rating()
    store.put_new(rating, "raw/1")
    items = aws["dynamodb"].scan(TableName=aws["RatingsTable"])["Items"]
    item = next(i for i in items if i["pk"]["S"].startswith("RATING#"))
    assert "13907970001" not in item["rating"]["S"] and "360721198501011233" not in item["rating"]["S"]
    handoff = store.put_new(make_rating("S-2", case_no="GX2026112700046"), "raw/2").handoff or ""
    assert "S-2" in handoff and "13907970001" not in handoff and "360721198501011233" not in handoff  # sealed
    assert sorted(i["pk"]["S"] for i in items) == sorted([f"RATING#{rating.rating_id}", f"DUP#{rating.duplicate_key}"])


# --------------------------------------------------------------------------------------------------
# Connectors


def test_a_created_connector_reads_back_with_its_secret(connectors: ConnectorStore) -> None:
    settings = {"fields": {"grade": {"table": {"A": "very_satisfied"}}}, "weight": 0.5}
    connector, secret = connectors.create("window_device", "大厅评价器", "赣县区政务服务中心", settings, now=NOW)
    assert connector.status == "active" and connector.secret == secret and len(secret) >= 43
    assert connector.connector_id.startswith("window-device-")
    assert connectors.get(connector.connector_id) == connector
    assert secret not in repr(connector)
    assert connectors.get("window-device-000000000000") is None


def test_connectors_are_listed_and_can_be_disabled(connectors: ConnectorStore) -> None:
    a, _ = connectors.create("kiosk", "一号机", "政务服务中心", now=NOW)
    b, _ = connectors.create("kiosk", "二号机", "政务服务中心", now=NOW)
    assert [c.connector_id for c in connectors.list()] == sorted([a.connector_id, b.connector_id])
    disabled = connectors.set_status(a.connector_id, "disabled")
    assert connectors.get(a.connector_id) == disabled and not disabled.active
    with pytest.raises(UnknownConnector):
        connectors.set_status("kiosk-000000000000", "disabled")


def test_scope_spec_and_rotation_read_back_as_written(connectors: ConnectorStore) -> None:
    """The registry's fields survive the store (R20 scope; the previous key and its grace period)."""
    spec = "kind: village_pad\nformat: json\n# 中文注释\n"
    connector, old = connectors.create("custom", "平板", "梅林镇", now=NOW, owner_agency="11360704MB1C000203",
                                       agencies=["11360704MB1C000203"], regions=["360704101"], spec=spec)  # fmt: skip
    assert connectors.get(connector.connector_id) == connector and connector.spec == spec
    rotated, new = connectors.rotate(connector.connector_id, now=NOW, grace=timedelta(hours=24))
    assert new != old and rotated.secret == new and rotated.previous_secret == old
    assert rotated.previous_valid_until == NOW + timedelta(hours=24)
    assert connectors.get(connector.connector_id) == rotated
    twice, _ = connectors.rotate(connector.connector_id, now=NOW + timedelta(hours=1), grace=timedelta(hours=24))
    assert twice.retired == ((old, NOW + timedelta(hours=1)),)  # KEY_RETIRED for it, never accepted
    assert connectors.get(connector.connector_id) == twice
    changed = connectors.update(connector.connector_id, now=NOW + timedelta(minutes=1), regions=("360704",))
    assert connectors.get(connector.connector_id) == changed and changed.regions == ("360704",)
    with pytest.raises(UnknownConnector):
        connectors.rotate("custom-000000000000", now=NOW, grace=timedelta(0))


def test_of_two_concurrent_rotations_one_fails_rather_than_a_secret_being_lost(connectors: ConnectorStore) -> None:
    connector, _ = connectors.create("kiosk", "一号机", "中心", now=NOW)
    read_by_both = connectors.get(connector.connector_id)
    connectors.rotate(connector.connector_id, now=NOW + timedelta(seconds=1), grace=timedelta(hours=1))
    stale = replace(read_by_both, secret="lost", updated_at=NOW + timedelta(seconds=2))  # type: ignore[arg-type]
    with pytest.raises(ConnectorChanged):
        connectors._replace(stale, previous=read_by_both)
    assert connectors.get(connector.connector_id).secret != "lost"  # type: ignore[union-attr]


@pytest.mark.parametrize(("kind", "name"), [("Kiosk!", "x"), ("kiosk", " ")])
def test_a_connector_needs_a_family_name_and_a_department(connectors: ConnectorStore, kind: str, name: str) -> None:
    with pytest.raises(ValueError):
        connectors.create(kind, name, "政务服务中心", now=NOW)


# --------------------------------------------------------------------------------------------------
# Nonces


def test_a_nonce_is_remembered_per_connector_until_it_expires(nonces: NonceStore) -> None:
    ttl = timedelta(minutes=10)
    assert nonces.remember("c1", "n" * 16, now=NOW, ttl=ttl)
    assert not nonces.remember("c1", "n" * 16, now=NOW + timedelta(minutes=5), ttl=ttl)
    assert nonces.remember("c2", "n" * 16, now=NOW, ttl=ttl)
    assert nonces.remember("c1", "n" * 16, now=NOW + timedelta(minutes=11), ttl=ttl)  # TTL deletion may lag


@pytest.fixture(params=["memory", "aws"])
def racing_nonces(request: pytest.FixtureRequest) -> NonceStore:
    if request.param == "memory":
        return InMemoryNonceStore()
    resources = request.getfixturevalue("serial_aws")
    return DynamoNonceStore(resources["dynamodb"], resources["NoncesTable"])


class _SentTwice:
    """A DynamoDB client whose first put_item is stored but answered late, so botocore sends it again (a read
    timeout on a slow table): the second attempt is what the caller gets back."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def put_item(self, **request: Any) -> Any:
        self._client.put_item(**request)
        return self._client.put_item(**request)


def test_a_put_sent_again_after_a_late_answer_is_not_a_replay(aws: dict[str, Any]) -> None:
    nonces = DynamoNonceStore(_SentTwice(aws["dynamodb"]), aws["NoncesTable"])
    assert nonces.remember("c1", "r" * 16, now=NOW, ttl=timedelta(minutes=10))  # was False: 401 NONCE_REUSED
    replay = DynamoNonceStore(aws["dynamodb"], aws["NoncesTable"])
    assert not replay.remember("c1", "r" * 16, now=NOW, ttl=timedelta(minutes=10))  # a real replay still is


def test_of_twenty_concurrent_uses_of_a_nonce_one_passes(racing_nonces: NonceStore) -> None:
    nonces = racing_nonces
    results = race([lambda: nonces.remember("c1", "m" * 16, now=NOW, ttl=timedelta(minutes=10))] * 20)
    assert results.count(True) == 1


# --------------------------------------------------------------------------------------------------
# The raw archive


def test_the_archive_keeps_the_bytes_exactly(archive: RawArchive) -> None:
    body = "projectNo=GX1&deptName=赣县区".encode("gbk")
    key = archive.put("window-device-1", "req-9", body, "application/x-www-form-urlencoded; charset=GBK", NOW)
    assert key == "raw/window-device-1/2026/11/28/req-9"
    assert archive.get(key) == (body, "application/x-www-form-urlencoded; charset=GBK")
    with pytest.raises(KeyError):
        archive.get("raw/none")


# --------------------------------------------------------------------------------------------------
# The forward queue


@pytest.fixture(params=BACKENDS)
def queue(request: pytest.FixtureRequest) -> tuple[ForwardQueue, Callable[[], list[dict[str, Any]]]]:
    if request.param == "memory":
        fake = InMemoryForwardQueue()
        return fake, lambda: fake.messages
    resources = request.getfixturevalue("aws")
    return (
        SqsForwardQueue(resources["sqs"], resources["queue_url"]),
        lambda: queued_messages(resources["sqs"], resources["queue_url"]),
    )


def test_every_id_is_queued_once_in_batches(queue: tuple[ForwardQueue, Callable[[], list[dict[str, Any]]]]) -> None:
    forward_queue, messages = queue
    ids = [f"r{i:03}" for i in range(23)]
    assert list(forward_queue.enqueue(ids)) == []
    assert sorted(m["rating_id"] for m in messages()) == ids


def stubbed_sqs(responses: list[dict[str, Any]]) -> tuple[SqsForwardQueue, Stubber]:
    """The SQS client itself, with botocore answering as SQS does when some entries of a batch fail."""
    client = boto3.client("sqs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    for response in responses:
        stubber.add_response("send_message_batch", response)
    stubber.activate()
    return SqsForwardQueue(client, "https://sqs.cn-north-1.amazonaws.com.cn/1/forward", backoff=0), stubber


def _ok(*ids: str) -> list[dict[str, str]]:
    return [{"Id": i, "MessageId": f"m{i}", "MD5OfMessageBody": "x"} for i in ids]


def _failed(*ids: str, sender: bool = False) -> list[dict[str, Any]]:
    return [{"Id": i, "SenderFault": sender, "Code": "InternalError"} for i in ids]


def test_entries_that_fail_are_sent_again() -> None:
    queue, stubber = stubbed_sqs([
        {"Successful": _ok("0", "2"), "Failed": _failed("1", "3")},
        {"Successful": _ok("1", "3"), "Failed": []},
    ])  # fmt: skip
    assert list(queue.enqueue(["a", "b", "c", "d"])) == []
    stubber.assert_no_pending_responses()


def test_entries_that_keep_failing_are_left_for_the_sweep() -> None:
    queue, _ = stubbed_sqs([
        {"Successful": _ok("0"), "Failed": _failed("1")},
        {"Successful": [], "Failed": _failed("1")},
        {"Successful": [], "Failed": _failed("1")},
    ])  # fmt: skip
    assert list(queue.enqueue(["a", "b"])) == ["b"]


def test_an_entry_sqs_blames_on_the_sender_is_not_sent_again() -> None:
    queue, stubber = stubbed_sqs([{"Successful": _ok("0"), "Failed": _failed("1", sender=True)}])
    assert list(queue.enqueue(["a", "b"])) == ["b"]
    stubber.assert_no_pending_responses()


def test_a_queue_that_cannot_be_reached_leaves_everything_pending() -> None:
    client = boto3.client("sqs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    for _ in range(3):
        stubber.add_client_error("send_message_batch", "ServiceUnavailable", http_status_code=503)
    stubber.activate()
    queue = SqsForwardQueue(client, "https://sqs.cn-north-1.amazonaws.com.cn/1/forward", backoff=0)
    assert list(queue.enqueue([f"r{i}" for i in range(12)])) == [f"r{i}" for i in range(10)] + ["r10", "r11"]


def test_a_batch_sent_again_after_no_answer_goes_without_the_handoff_so_a_second_copy_reads_the_store() -> None:
    """Issue 16: a send_message_batch that got no answer (a read timeout on a starved machine) may have put the
    batch on the queue; a copy sent again with the handoff would be forwarded unread, a duplicate at the
    province. The copies sent again carry no handoff: the second of two reads the store and finds it forwarded."""
    client = boto3.client("sqs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.add_client_error("send_message_batch", "ServiceUnavailable", http_status_code=503)  # a definite no
    stubber.add_response("send_message_batch", {"Successful": _ok("0"), "Failed": []})
    stubber.activate()
    sent: list[list[dict[str, Any]]] = []
    timed_out = iter([False, True, False])  # the second call: no answer

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append([json.loads(e["MessageBody"]) for e in params["Entries"]])
        if next(timed_out):
            raise ReadTimeoutError(endpoint_url="https://sqs")

    client.meta.events.register("provide-client-params.sqs.SendMessageBatch", record)
    queue = SqsForwardQueue(client, "https://sqs.cn-north-1.amazonaws.com.cn/1/forward", backoff=0)
    assert list(queue.enqueue(["a"], {"a": "handoff-a"})) == []
    # a refused batch went again with the handoff (nothing was queued); after no answer, without it
    assert [batch[0].get("stored") for batch in sent] == ["handoff-a", "handoff-a", None]
    stubber.assert_no_pending_responses()


def test_the_sweep_reads_only_what_is_due_soonest_first_page_by_page_and_a_requeue_leaves_the_due_range(
    ratings: RatingStore,
) -> None:
    """R9: the sweep's index (by_next_due): a fresh rating is due when stored, one retried when its backoff
    ends, a dead-lettered or forwarded one never; pages go on from their cursor."""
    stored = [make_rating(f"D-{i}", case_no=f"GD{i}", received_at=NOW + timedelta(minutes=i)) for i in range(6)]
    for rating in stored:
        ratings.put_new(rating, "raw/1")
    later = NOW + timedelta(hours=1)
    ratings.record_attempt(stored[0].rating_id, at=later, next_due=later + timedelta(minutes=10), counted=False)
    ratings.mark_forwarded(stored[1].rating_id, "receipt-1", at=later)
    ratings.mark_dead_lettered(stored[2].rating_id, "5 failures the province gave", at=later)
    ratings.mark_parked(stored[3].rating_id, "refused", at=later)
    first, cursor = ratings.due_for_sweep(later, 1)
    assert first == [stored[4].rating_id] and cursor is not None
    rest, cursor = ratings.due_for_sweep(later, 10, cursor=cursor)
    assert (list(rest), cursor) == ([stored[5].rating_id], None)
    assert list(ratings.due_for_sweep(later + timedelta(minutes=10), 10)[0]) == [
        stored[4].rating_id, stored[5].rating_id, stored[0].rating_id]  # fmt: skip
    ratings.requeued(stored[4].rating_id, next_due=later + timedelta(minutes=15))
    assert list(ratings.due_for_sweep(later + timedelta(minutes=10), 10)[0]) == [
        stored[5].rating_id, stored[0].rating_id]  # fmt: skip
    ratings.requeued(stored[1].rating_id, next_due=later)  # forwarded meanwhile: stays out of the due range
    assert stored[1].rating_id not in ratings.due_for_sweep(later + timedelta(days=1), 10)[0]
    with pytest.raises(UnknownRating):
        ratings.requeued("r-none", next_due=later)

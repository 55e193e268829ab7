"""The contract of the ports the stores' contract (test_stores_contract.py, test_case_stores.py) leaves out, each run
over its in-memory fake and its real adapter: moto for the AWS ones, the provincial stub over loopback HTTP for the
two provincial sinks. A fake that drifts from its adapter fails here, not in a test that trusted it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from hub.forwarding import ProvinceRefusedRating, ProvinceUnreachable, ProvincialSink
from hub.outcomes import Notice, Notifier, OutcomeSink
from hub.ports import AuditEntry, AuditLog, Clock, PersonalDataSealer, SmsFailed, SmsSender
from hub.rating import Rating
from hub.workorders import Audience
from infra.audit_log import DynamoAuditLog
from infra.case_store import DynamoCaseStore
from infra.clock import LocalClock, SystemClock
from infra.forward_queue import SqsForwardQueue
from infra.memory import (
    InMemoryAuditLog,
    InMemoryForwardQueue,
    InMemoryNotifier,
    InMemoryProvince,
    InMemorySealer,
    InMemorySmsSender,
)
from infra.notify import SnsNotifier
from infra.province.client import ProvincialClient
from infra.province.mapping import ProvincialMapping
from infra.province.outcome import ClientOutcomeSink
from infra.province.sink import ClientSink
from infra.province.stub import STUB_APP_ID, STUB_SECRET, ProvinceStub
from infra.rating_store import DynamoRatingStore
from infra.sealing import EnvelopeSealer, NoPersonalData, SealError
from infra.sms import SnsSmsSender
from tests.integration.test_personal_data import create_audit_table
from tests.integration.test_stores_contract import (  # noqa: F401 (aws: a fixture)
    NOW,
    REGION,
    aws,
    make_rating,
    queued_messages,
)
from tests.integration.test_workorder_outbox import upheld_appeal
from tests.unit.test_province_mapping import sample_ratings

BACKENDS = ["memory", "aws"]
KIOSK = "kiosk/01-dissatisfied-labels"


def one_of(request: pytest.FixtureRequest, memory: Callable[[], Any], real: Callable[[dict[str, Any]], Any]) -> Any:
    return memory() if request.param == "memory" else real(request.getfixturevalue("aws"))


# --------------------------------------------------------------------------------------------------
# PersonalDataSealer (R20)


@pytest.fixture(params=BACKENDS)
def sealer(request: pytest.FixtureRequest) -> PersonalDataSealer:
    return one_of(request, InMemorySealer, lambda a: EnvelopeSealer(boto3.client("kms", region_name=REGION),
                                                                    a["DATA_KEY_ID"]))  # fmt: skip


def test_a_sealed_value_opens_for_its_record_and_shows_nothing_in_clear_R20(sealer: PersonalDataSealer) -> None:
    plaintext = '{"name":"王五","phone":"13907970001"}'.encode()
    sealed = sealer.seal(plaintext, context="rating-1")
    assert b"13907970001" not in sealed and "王五".encode() not in sealed
    assert sealer.unseal(sealed, context="rating-1") == plaintext


def test_a_value_moved_to_another_record_or_altered_does_not_open_R20(sealer: PersonalDataSealer) -> None:
    sealed = sealer.seal(b"13907970001", context="rating-1")
    with pytest.raises(ValueError):
        sealer.unseal(sealed, context="rating-2")
    with pytest.raises(ValueError):
        sealer.unseal(sealed[:-1] + bytes([sealed[-1] ^ 1]), context="rating-1")
    with pytest.raises(ValueError):
        sealer.unseal(b"13907970001", context="rating-1")  # a value stored in clear is not taken for a sealed one


def test_the_dynamo_stores_of_personal_data_have_no_default_sealer_R20() -> None:
    with pytest.raises(TypeError, match="sealer"):
        DynamoRatingStore(None, "ratings")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="sealer"):
        DynamoCaseStore(None, "cases")  # type: ignore[call-arg]


def test_a_store_built_without_the_key_marks_ratings_but_refuses_personal_data_R20(aws: dict[str, Any]) -> None:  # noqa: F811
    """The outbox's rating store (infra.bootstrap.outbox_from_env): R14/R17 marks, and not one rater in clear."""
    sealed = DynamoRatingStore(aws["dynamodb"], aws["RatingsTable"], sealer=InMemorySealer())
    keyless = DynamoRatingStore(aws["dynamodb"], aws["RatingsTable"], sealer=NoPersonalData())
    rating = make_rating()
    with pytest.raises(SealError):
        keyless.put_new(rating, "raw/1")
    assert sealed.put_new(rating, "raw/1").outcome == "accepted"
    keyless.mark_not_adopted(rating.rating_id, order_id="wo-1", at=NOW)
    stored = sealed.get(rating.rating_id)
    assert stored is not None and stored.not_adopted_by == "wo-1" and stored.rating == rating
    with pytest.raises(SealError):
        keyless.get(rating.rating_id)


# --------------------------------------------------------------------------------------------------
# AuditLog (R20)


@pytest.fixture(params=BACKENDS)
def audit(request: pytest.FixtureRequest) -> AuditLog:
    return one_of(request, InMemoryAuditLog, lambda a: DynamoAuditLog(a["dynamodb"], create_audit_table(a["dynamodb"])))


def entry(at: datetime, request_id: str) -> AuditEntry:
    return AuditEntry(at, "sub-auditor", "auditor", "lookup:phone", ("r-1", "r-2"), request_id)


def test_audit_entries_read_back_oldest_first_across_days_end_excluded_R20(audit: AuditLog) -> None:
    # NOW is 04:00 UTC: the entries fall on three UTC days (the Dynamo log keeps a partition per day)
    entries = [entry(NOW + timedelta(hours=h), f"req-{h}") for h in (30, -5, 0, 21)]
    twin = entry(NOW, "req-0")  # the same moment and request twice: both are kept
    for e in [*entries, twin]:
        audit.record(e)
    window = audit.between(NOW - timedelta(hours=5), NOW + timedelta(hours=30))
    assert [e.request_id for e in window] == ["req--5", "req-0", "req-0", "req-21"]  # req-30 is the end: out
    assert list(window)[-1] == entries[3]
    assert audit.between(NOW + timedelta(days=3), NOW + timedelta(days=4)) == []


# --------------------------------------------------------------------------------------------------
# SmsSender (R7)


@dataclass
class Sms:
    sender: SmsSender
    sent: Callable[[], list[tuple[str, str]]]  # (mainland number, text), in order
    fail: Callable[[], tuple[str, str]]  # makes the next send fail; the phone and text to send


@pytest.fixture(params=BACKENDS)
def sms(request: pytest.FixtureRequest) -> Sms:
    if request.param == "memory":
        fake = InMemorySmsSender()

        def fail_fake() -> tuple[str, str]:
            fake.failing = True
            return "13907970009", "x"

        return Sms(fake, lambda: list(fake.sent), fail_fake)
    request.getfixturevalue("aws")
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    backend = sns_backends[DEFAULT_ACCOUNT_ID][REGION]
    return Sms(
        SnsSmsSender(boto3.client("sns", region_name=REGION)),
        lambda: [(phone.removeprefix("+86"), text) for phone, text in backend.sms_messages.values()],
        lambda: ("13907970009", "x" * 2000),  # longer than one publish takes
    )


def test_each_sms_is_sent_once_with_its_own_message_id_R7(sms: Sms) -> None:
    first = sms.sender.send("13907970004", "【政务服务好差评】请您评价")
    second = sms.sender.send("13907970005", "【政务服务好差评】请您评价")
    assert first and second and first != second
    assert sms.sent() == [("13907970004", "【政务服务好差评】请您评价"), ("13907970005", "【政务服务好差评】请您评价")]


def test_a_send_that_fails_is_sms_failed_without_the_number_or_text_R20(sms: Sms) -> None:
    phone, text = sms.fail()
    with pytest.raises(SmsFailed) as failed:
        sms.sender.send(phone, text)
    assert phone not in failed.value.reason and phone not in str(failed.value)
    assert sms.sent() == []


# --------------------------------------------------------------------------------------------------
# Notifier (work-order notices)


def notice(version: int, audience: Audience = Audience.UNIT) -> Notice:
    return Notice(
        key=f"wo-r1#{version}#{audience.value}", event_type="WorkOrderDispatched", order_id="wo-r1", rating_id="r1",
        version=version, at=NOW, audience=audience, region_code="360704000000", agency_code="11360704MB1C000102",
        status="dispatched", details={},
    )  # fmt: skip


@pytest.fixture(params=BACKENDS)
def notifier(request: pytest.FixtureRequest) -> tuple[Notifier, Callable[[], list[str]]]:
    """The notifier and the keys of what it published, in order."""
    if request.param == "memory":
        fake = InMemoryNotifier()
        return fake, lambda: [n.key for n in fake.published]
    request.getfixturevalue("aws")
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    sns = boto3.client("sns", region_name=REGION)
    arn = sns.create_topic(Name="work-orders")["TopicArn"]
    topic = sns_backends[DEFAULT_ACCOUNT_ID][REGION].topics[arn]

    def keys() -> list[str]:
        sent = [attributes["key"] for *_, attributes, _group in topic.sent_notifications]
        return [key.get("StringValue", key.get("Value")) for key in sent]

    return SnsNotifier(sns, arn), keys


def test_every_notice_is_published_with_its_key_and_a_message_id(
    notifier: tuple[Notifier, Callable[[], list[str]]],
) -> None:
    publisher, published = notifier
    ids = [publisher.publish(notice(1)), publisher.publish(notice(2, Audience.MANAGING_DEPARTMENT))]
    assert all(ids) and ids[0] != ids[1]
    assert published() == ["wo-r1#1#unit", "wo-r1#2#managing_department"]
    publisher.publish(notice(1))  # at least once: a repeat goes out again, and the subscriber drops it by key
    assert published()[-1] == "wo-r1#1#unit"


# --------------------------------------------------------------------------------------------------
# OutcomeQueue (the forward queue's second message type)


@pytest.fixture(params=BACKENDS)
def outcome_queue(request: pytest.FixtureRequest) -> tuple[Any, Callable[[], list[dict[str, Any]]]]:
    """The queue (a `ForwardQueue` and an `OutcomeQueue`) and the bodies queued, as the forward function reads them."""
    if request.param == "memory":
        fake = InMemoryForwardQueue()

        def bodies() -> list[dict[str, Any]]:
            return [*({"rating_id": r} for r in fake.rating_ids()), *({"outcome": k} for k in fake.outcome_keys())]

        return fake, bodies
    sqs, url = request.getfixturevalue("aws")["sqs"], request.getfixturevalue("aws")["queue_url"]
    return SqsForwardQueue(sqs, url), lambda: queued_messages(sqs, url)


def test_outcome_keys_are_queued_once_each_and_told_apart_from_ratings(
    outcome_queue: tuple[Any, Callable[[], list[dict[str, Any]]]],
) -> None:
    queue, queued = outcome_queue
    keys = [f"wo-r{i}#4" for i in range(12)]  # more than one SQS batch
    assert list(queue.enqueue_outcomes(keys)) == []
    assert list(queue.enqueue(["r-1"])) == []
    bodies = queued()
    assert sorted(b["outcome"] for b in bodies if "outcome" in b) == sorted(keys)
    assert [b for b in bodies if "outcome" not in b] == [{"rating_id": "r-1"}]


# --------------------------------------------------------------------------------------------------
# The two provincial sinks (R9, R17): the fake against ClientSink / ClientOutcomeSink over the stub


@dataclass
class Province:
    ratings: ProvincialSink
    outcomes: OutcomeSink
    received: Callable[[], list[str]]  # the rating ids the province holds, each once
    outcome_keys: Callable[[], list[str]]  # the outcome keys it holds, each once
    go_down: Callable[[], None]  # no answer at all until `come_up`
    come_up: Callable[[], None]
    fail: Callable[[], None]  # the next answers are 500s: failures the province gave
    refusing: Callable[[], ProvincialSink]  # a sink whose ratings the province refuses


@pytest.fixture(params=["memory", "stub"])
def province(request: pytest.FixtureRequest) -> Iterator[Province]:
    if request.param == "memory":
        fake = InMemoryProvince()

        def down(state: bool) -> None:
            fake.down = state

        yield Province(
            fake, fake, lambda: list(fake.ratings), lambda: list(fake.outcomes),
            lambda: down(True), lambda: down(False), lambda: fake.answers.extend(["500"] * 3),
            lambda: InMemoryProvince("refuse"),
        )  # fmt: skip
        return
    with ProvinceStub(timeout_sleep=1.5) as stub:

        def client(mapping: ProvincialMapping | None = None) -> ProvincialClient:
            extra = {"mapping": mapping} if mapping is not None else {}
            return ProvincialClient(stub.ratings_url, STUB_APP_ID, STUB_SECRET, timeout=(0.5, 0.5), **extra)

        broken = ProvincialMapping.model_validate({"renames": {"evalId": "onlyId"}})  # the province misses evalId
        with client() as c:
            yield Province(
                ClientSink(c), ClientOutcomeSink(c), lambda: [r["evalId"] for r in stub.received()],
                lambda: [o["outcomeId"] for o in stub.outcomes()], lambda: stub.set_faults(down=True),
                lambda: stub.set_faults(), lambda: stub.set_faults(error_rate=1.0, error_status=500),
                lambda: ClientSink(client(broken)),
            )  # fmt: skip


def kiosk() -> Rating:
    return sample_ratings()[KIOSK]


def test_a_rating_is_taken_once_and_a_resend_is_answered_as_a_duplicate_R9(province: Province) -> None:
    rating = kiosk()
    first = province.ratings.send(rating)
    again = province.ratings.send(rating)
    assert (first.duplicate, again.duplicate) == (False, True) and first.receipt_id
    assert province.received() == [rating.rating_id]


def test_a_province_away_is_unreachable_not_counted_and_the_retry_gets_through_R9(province: Province) -> None:
    rating = kiosk()
    province.go_down()
    with pytest.raises(ProvinceUnreachable) as away:
        province.ratings.send(rating)
    assert not away.value.counted and province.received() == []
    province.come_up()
    assert not province.ratings.send(rating).duplicate
    assert province.received() == [rating.rating_id]


def test_a_500_is_a_failure_the_province_gave_and_counts_against_the_rating_R9(province: Province) -> None:
    province.fail()
    with pytest.raises(ProvinceUnreachable) as failed:
        province.ratings.send(kiosk())
    assert failed.value.counted and failed.value.status == 500 and province.received() == []


def test_a_refused_rating_is_province_refused_and_not_held_R9(province: Province) -> None:
    with pytest.raises(ProvinceRefusedRating) as refused:
        province.refusing().send(kiosk())
    assert refused.value.args[0].startswith("400") and province.received() == []


def test_an_outcome_is_taken_once_under_its_key_and_a_resend_is_a_duplicate_R17(province: Province) -> None:
    order = upheld_appeal()
    event = order.history[-1]
    assert event.forward_to_province == "not_adopted"
    first = province.outcomes.send_outcome(order, event)
    again = province.outcomes.send_outcome(order, event)
    assert (first.duplicate, again.duplicate) == (False, True)
    assert province.outcome_keys() == [f"{order.id}#{event.version}"]


def test_an_outcome_to_a_province_away_is_unreachable_and_not_held_R17(province: Province) -> None:
    order = upheld_appeal()
    province.go_down()
    with pytest.raises(ProvinceUnreachable):
        province.outcomes.send_outcome(order, order.history[-1])
    assert province.outcome_keys() == []


# --------------------------------------------------------------------------------------------------
# Clock: the system's, and the local cloud's that can be set (the fake a test or `hcp local` moves)


@pytest.fixture(params=["system", "local"])
def clock(request: pytest.FixtureRequest) -> Clock:
    return SystemClock() if request.param == "system" else LocalClock(NOW)


def test_the_clock_gives_aware_times_that_do_not_go_back(clock: Clock) -> None:
    first, second = clock.now(), clock.now()
    assert first.tzinfo is not None and first.utcoffset() is not None
    assert second >= first


def test_the_local_clock_starts_where_it_is_set_and_moves_when_advanced() -> None:
    clock = LocalClock(NOW)
    assert timedelta(0) <= clock.now() - NOW < timedelta(seconds=5)
    clock.advance(timedelta(days=2))
    assert timedelta(days=2) <= clock.now() - NOW < timedelta(days=2, seconds=5)
    with pytest.raises(ValueError):
        clock.set(datetime(2026, 1, 1))
    assert clock.now().astimezone(UTC).tzinfo is UTC

"""Every shipped province profile end to end over loopback HTTP: the hub's client, the stub playing the province.

Every rating sample in ../shared/samples goes to the stub running each profile; the stub decrypts, checks
the sign or signature, validates against the profile's schema and accepts (R9: every stored rating reaches
the province, once). The e2e local cloud starts one stub for its whole session (one profile), so the
per-profile sweep is here, driving `ProvincialClient` and `ClientSink` — the forward path's own adapter.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import urllib3

from hub.forwarding import ForwardService
from hub.rating import Rating
from infra.memory import InMemoryForwardQueue, InMemoryRatingStore
from infra.province.client import (
    Credentials,
    ProvinceAuthFailed,
    ProvinceRejected,
    ProvinceUnavailable,
    ProvincialClient,
)
from infra.province.profile import ProvinceProfile, shipped_profiles
from infra.province.sink import ClientSink
from infra.province.stub import ProvinceStub, stub_credentials
from tests.conftest import expected_for, sample_files
from tests.unit.test_samples import normalize_sample

SAMPLES = [p for p in sample_files() if p.parent.name != "cases" and expected_for(p)["outcome"] == "accepted"]
PROFILES = shipped_profiles()


def sample_ratings() -> list[Rating]:
    return [normalize_sample(sample)[0].rating for sample in SAMPLES]


def client_for(profile: ProvinceProfile, stub: ProvinceStub) -> ProvincialClient:
    creds = Credentials(**stub_credentials())
    return ProvincialClient(stub.ratings_url, creds.app_id, creds.secret, profile=profile, credentials=creds)


@pytest.fixture(params=PROFILES)
def played(request: pytest.FixtureRequest) -> Iterator[tuple[ProvinceProfile, ProvinceStub, ProvincialClient]]:
    profile = ProvinceProfile.load(request.param)
    with ProvinceStub(profile=profile) as stub, client_for(profile, stub) as client:
        yield profile, stub, client


def test_the_shipped_profiles_are_the_four_of_the_issue() -> None:
    assert {"national", "zhejiang", "shandong", "jiangxi"} <= set(PROFILES)
    assert len(SAMPLES) >= 4


def test_every_sample_reaches_the_stub_playing_each_profile(
    played: tuple[ProvinceProfile, ProvinceStub, ProvincialClient],
) -> None:
    # GIVEN the stub playing one province and the hub's forward service in front of it
    profile, stub, client = played
    ratings = InMemoryRatingStore()
    service = ForwardService(ratings, ClientSink(client), InMemoryForwardQueue())
    now = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
    stored = sample_ratings()
    for rating in stored:
        ratings.put_new(rating, "s3://raw/x")
    # WHEN each is forwarded
    outcomes = [service.forward(rating.rating_id, now) for rating in stored]
    # THEN the province decrypted and accepted every one, under the profile's codes
    assert outcomes == ["forwarded"] * len(stored)
    received = {record["evalId"]: record for record in stub.received()}
    assert set(received) == {rating.rating_id for rating in stored}
    for record in received.values():
        for name, value in profile.constants.items():
            assert record[name] == value
        assert record["projectNo"].startswith(profile.project_no_prefix)
        assert len(record["areaCode"]) == 12
    if profile.service_record is not None:  # two steps: each case's service record came first
        assert {r["projectNo"] for r in stub.services()} == {r["projectNo"] for r in received.values()}
    assert stub.stats()["rejected"] == 0


def test_shandong_goes_out_as_the_epoint_envelope_with_every_record_encrypted() -> None:
    profile = ProvinceProfile.load("shandong")
    with ProvinceStub(profile=profile) as stub, client_for(profile, stub) as client:
        rating = sample_ratings()[0]
        _, body, headers = client.encode(rating)
    wire = json.loads(body)
    assert set(wire) == {"txnBodyCom", "txnCommCom"} and wire["txnCommCom"] == {}
    txn = wire["txnBodyCom"]
    assert set(txn) == {"sign", "params", "time", "appMark"} and len(txn["time"]) == 14
    [cipher] = txn["params"]["evaluate"]
    assert cipher.startswith("04") and rating.rating_id not in body.decode()  # nothing readable on the wire
    assert headers["C-Tenancy-Id"] == "370000"


def test_shandong_user_prop_and_promise_time_follow_its_own_tables() -> None:
    shandong, zhejiang = ProvinceProfile.load("shandong"), ProvinceProfile.load("zhejiang")
    rating = next(r for r in sample_ratings() if r.rater.type.value == "company")
    assert shandong.national(rating)["userProp"] == "2"
    assert shandong.national(rating)["promiseTime"] == "2"  # 承诺件 in Shandong …
    assert zhejiang.national(rating)["promiseTime"] == "1"  # … is 1 in Zhejiang: the reverse
    assert shandong.national(rating)["dataSource"] == "165" and zhejiang.national(rating)["dataSource"] == "133"


def test_a_service_record_already_pushed_is_not_pushed_twice() -> None:
    profile = ProvinceProfile.load("shandong")
    with ProvinceStub(profile=profile) as stub, client_for(profile, stub) as client:
        ratings = InMemoryRatingStore()
        service = ForwardService(ratings, ClientSink(client), InMemoryForwardQueue())
        now = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
        rating = sample_ratings()[0]
        ratings.put_new(rating, "s3://raw/x")
        stub.set_faults(error_rate=0.0)
        # GIVEN the service record went through and the evaluation then failed (the province broke between)
        client.send_service(rating)
        ratings.mark_service_pushed(rating.rating_id, "svc", at=now)
        requests_before = stub.stats()["requests"]
        # WHEN the forward is retried
        assert service.forward(rating.rating_id, now) == "forwarded"
        # THEN only the evaluation went out this time
        assert stub.stats()["requests"] == requests_before + 1
        assert stub.stats()["duplicates"] == 0


def test_a_retry_after_the_evaluation_failed_sends_only_the_evaluation() -> None:
    profile = ProvinceProfile.load("shandong")
    with ProvinceStub(profile=profile) as stub, client_for(profile, stub) as client:
        ratings = InMemoryRatingStore()
        sink = ClientSink(client)
        service = ForwardService(ratings, sink, InMemoryForwardQueue())
        now = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
        rating = sample_ratings()[0]
        ratings.put_new(rating, "s3://raw/x")
        original = client.send

        def broken(_rating: Rating) -> object:
            raise ProvinceUnavailable("the gateway broke after the service record")

        client.send = broken  # type: ignore[method-assign]
        with pytest.raises(Exception, match="broke"):
            service.forward(rating.rating_id, now)
        client.send = original  # type: ignore[method-assign]
        assert len(stub.services()) == 1
        before = stub.stats()["requests"]
        assert service.forward(rating.rating_id, now) == "forwarded"
        assert stub.stats()["requests"] == before + 1  # the service record was not pushed again
        assert ratings.get(rating.rating_id).service_receipt  # recorded with the rating's forwarding state


@pytest.mark.parametrize("name", ["shandong", "national", "zhejiang", "jiangxi"])
def test_a_repeat_answer_marks_the_rating_delivered(name: str) -> None:
    profile = ProvinceProfile.load(name)
    with ProvinceStub(profile=profile) as stub, client_for(profile, stub) as client:
        stub.set_faults(repeat=True)
        rating = sample_ratings()[0]
        client.send_service(rating)
        receipt = client.send(rating)
        assert receipt.duplicate, "评价数据不可重复 is a success for an idempotent sender"


def test_without_the_repeat_rule_a_repeat_answer_is_a_refusal() -> None:
    """Negative control: the repeat rule is what turns the answer into a delivery."""
    profile = ProvinceProfile.load("shandong").model_copy(update={"repeat_messages": ()})
    with ProvinceStub(profile=ProvinceProfile.load("shandong")) as stub, client_for(profile, stub) as client:
        stub.set_faults(repeat=True)
        rating = sample_ratings()[0]
        client.send_service(rating)
        with pytest.raises(ProvinceRejected):
            client.send(rating)


def test_an_evaluation_before_its_service_record_is_refused_by_a_two_step_province() -> None:
    profile = ProvinceProfile.load("shandong")
    with ProvinceStub(profile=profile) as stub, client_for(profile, stub) as client:
        with pytest.raises(ProvinceRejected, match="SERVICE_MISSING"):
            client.send(sample_ratings()[0])
        assert stub.received() == []


def test_an_answer_that_does_not_decrypt_is_retried_and_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    profile = ProvinceProfile.load("shandong")
    with ProvinceStub(profile=profile) as stub:
        creds = Credentials(**{**stub_credentials(), "sm2_private_key": "11" * 32})  # not the key it answers to
        client = ProvincialClient(stub.ratings_url, creds.app_id, creds.secret, profile=profile, credentials=creds)
        with caplog.at_level("INFO", logger="infra.province.client"), pytest.raises(
            ProvinceUnavailable, match="unreadable answer"
        ):
            client.send_service(sample_ratings()[0])
    [warning] = [r for r in caplog.records if r.getMessage() == "province answer unreadable"]
    assert "does not decrypt" in warning.why  # type: ignore[attr-defined]
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "C-Response-Body" not in logged and "result" not in logged  # the answer's body is not logged


def test_an_answer_in_the_wrong_envelope_is_retried() -> None:
    profile = ProvinceProfile.load("shandong")
    national = ProvinceStub()  # answers the national {"code", "msg", "data"}, not C-Response-Desc
    with national, client_for(profile, national) as client, pytest.raises(ProvinceUnavailable):
        client.send(sample_ratings()[0])


def test_a_wrong_app_word_is_an_auth_failure_not_a_refusal() -> None:
    """The Epoint gateway says 签名错误 in a 200: retried and dead-lettered like a 401, never parked."""
    profile = ProvinceProfile.load("shandong")
    with ProvinceStub(profile=profile) as stub:
        creds = Credentials(**{**stub_credentials(), "secret": "wrong word"})
        client = ProvincialClient(stub.ratings_url, creds.app_id, creds.secret, profile=profile, credentials=creds)
        with pytest.raises(ProvinceAuthFailed, match="签名错误"):
            client.send_service(sample_ratings()[0])
        fixed = Credentials(**stub_credentials())
        client = ProvincialClient(
            stub.ratings_url, fixed.app_id, fixed.secret, profile=profile, credentials=creds,
            refresh_credentials=lambda: fixed,
        )  # fmt: skip
        assert client.send_service(sample_ratings()[0]) is not None  # re-read the secret once, then through


def test_the_stub_shows_its_service_records_over_http() -> None:
    profile = ProvinceProfile.load("shandong")
    with ProvinceStub(profile=profile) as stub, client_for(profile, stub) as client:
        client.send_service(sample_ratings()[0])
        answer = urllib3.request("GET", f"{stub.url}/_services")
    [record] = answer.json()
    assert record["dataSource"] == "165" and record["assessNumber"] == "1"


def test_profiles_in_the_repo_are_what_the_loader_reads() -> None:
    for path in Path("infra/province/profiles").glob("*.json"):
        assert ProvinceProfile.load(str(path)).name == path.stem

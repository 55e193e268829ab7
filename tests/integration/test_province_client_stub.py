"""The provincial client against the stub over real loopback HTTP: receipts, duplicates, refusals, faults (R9)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import urllib3

from hub.forwarding import ProvinceUnreachable
from hub.rating import Rating
from infra.province.client import (
    ProvinceAuthFailed,
    ProvinceError,
    ProvinceRejected,
    ProvinceUnavailable,
    ProvincialClient,
    Receipt,
    send_deadline,
)
from infra.province.mapping import DEFAULT, ProvincialMapping, national_record, to_national, to_provincial
from infra.province.signing import sign, verify
from infra.province.stub import STUB_APP_ID, STUB_SECRET, ProvinceStub
from infra.settings import ProvinceSettings
from tests.conftest import ROOT
from tests.unit.test_province_mapping import PROVINCE_X, rating, sample_ratings

READ_TIMEOUT = 0.3
KIOSK = "kiosk/01-dissatisfied-labels"


@pytest.fixture
def stub() -> Iterator[ProvinceStub]:
    with ProvinceStub(timeout_sleep=1.5) as running:
        yield running


def client_for(stub: ProvinceStub, secret: str = STUB_SECRET, mapping: ProvincialMapping = DEFAULT) -> ProvincialClient:
    return ProvincialClient(stub.ratings_url, STUB_APP_ID, secret, mapping, timeout=(0.5, READ_TIMEOUT))


@pytest.fixture
def client(stub: ProvinceStub) -> Iterator[ProvincialClient]:
    with client_for(stub) as c:
        yield c


def admin(stub: ProvinceStub, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    response = urllib3.request(method, f"{stub.url}{path}", body=data, timeout=2.0, retries=False)
    return response.status, json.loads(response.data)


def deliver(client: ProvincialClient, r: Rating, attempts: int = 50) -> Receipt:
    """What the forwarder does: retry what may succeed later, give up on a refusal."""
    for _ in range(attempts):
        try:
            return client.send(r)
        except ProvinceUnavailable:
            continue
    raise AssertionError("not delivered")


# --- the happy path -----------------------------------------------------------------------------------


def test_accepted_with_a_receipt(stub: ProvinceStub, client: ProvincialClient) -> None:
    r = sample_ratings()[KIOSK]
    receipt = client.send(r)
    assert receipt.receipt_id and not receipt.duplicate
    assert receipt.idempotency_key == r.rating_id
    assert receipt.received_at.tzinfo is not None
    assert stub.received() == [national_record(r)]
    assert stub.stats() == {"requests": 1, "accepted": 1, "duplicates": 0, "rejected": 0, "faults_injected": 0}


def test_every_sample_reaches_the_stub_with_its_provincial_payload(
    stub: ProvinceStub, client: ProvincialClient
) -> None:
    ratings = [sample_ratings()[name] for name in sorted(sample_ratings())]
    for r in ratings:
        client.send(r)
    assert stub.received() == [national_record(r) for r in ratings]


def test_a_resend_is_one_delivery(stub: ProvinceStub, client: ProvincialClient) -> None:
    r = sample_ratings()[KIOSK]
    first, second = client.send(r), client.send(r)
    assert second.duplicate and second.receipt_id == first.receipt_id
    assert len(stub.received()) == 1
    assert stub.stats()["duplicates"] == 1


def test_a_province_with_its_own_format_end_to_end() -> None:
    """Renames, list envelope, compact times, GB/T grade direction and an MD5 sorted-params signature."""
    mapping = ProvincialMapping.model_validate(PROVINCE_X)
    r = sample_ratings()["window_device/01-very-bad-staff"]
    with ProvinceStub(mapping=mapping) as stub, client_for(stub, mapping=mapping) as client:
        assert not client.send(r).duplicate
        [received] = stub.received()
    assert received["evalId"] == r.rating_id and received["satisfaction"] == "5"  # 5 = 非常不满意 there
    assert received == to_national(national_record(r, mapping), mapping)


# --- refusals -------------------------------------------------------------------------------------------


def test_a_wrong_secret_is_an_auth_failure_to_retry_not_a_refusal_to_park(
    stub: ProvinceStub, client: ProvincialClient
) -> None:
    with client_for(stub, secret="not-the-secret") as wrong, pytest.raises(ProvinceAuthFailed) as failure:
        wrong.send(sample_ratings()[KIOSK])
    assert isinstance(failure.value, ProvinceUnavailable) and not isinstance(failure.value, ProvinceRejected)
    assert failure.value.status == 401 and "SIGNATURE_INVALID" in failure.value.reason
    assert stub.received() == [] and stub.stats()["rejected"] == 1


def test_rotated_credentials_are_read_again_once(stub: ProvinceStub) -> None:
    """from_settings: the secret in Secrets Manager (moto) was rotated after the container cached it."""
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    with moto.mock_aws():
        sm = boto3.client("secretsmanager", region_name="cn-north-1")
        arn = sm.create_secret(Name="province", SecretString=json.dumps({"app_id": STUB_APP_ID, "secret": "old"}))[
            "ARN"
        ]
        env = {"PROVINCE_URL": stub.ratings_url, "PROVINCE_SECRET_ARN": arn, "PROVINCE_READ_TIMEOUT": "0.5"}
        client = ProvincialClient.from_settings(ProvinceSettings.from_env(env), secrets_client=sm)
        sm.put_secret_value(SecretId=arn, SecretString=json.dumps({"app_id": STUB_APP_ID, "secret": STUB_SECRET}))
        receipt = client.send(sample_ratings()[KIOSK])
    assert not receipt.duplicate
    assert stub.stats() == {"requests": 2, "accepted": 1, "duplicates": 0, "rejected": 1, "faults_injected": 0}


def test_an_invalid_payload_is_rejected_with_the_reason_and_without_the_values(stub: ProvinceStub) -> None:
    """The client's tag table breaks the evalDetail pattern: a 400 to park, naming the field and the rule."""
    broken = ProvincialMapping.model_validate({"tag_codes": {"ITEM_EFFICIENCY": "效率慢"}})
    with client_for(stub, mapping=broken) as client, pytest.raises(ProvinceRejected) as refusal:
        client.send(sample_ratings()[KIOSK])
    assert refusal.value.status == 400 and refusal.value.code == "400"
    assert refusal.value.reason.startswith("SCHEMA_INVALID: evalDetail: fails pattern")
    assert "效率慢" not in refusal.value.reason
    assert stub.received() == []


def test_a_mapping_mismatch_names_the_missing_field(stub: ProvinceStub) -> None:
    renamed = ProvincialMapping.model_validate({"renames": {"evalId": "onlyId"}})
    with client_for(stub, mapping=renamed) as client, pytest.raises(ProvinceRejected) as refusal:
        client.send(sample_ratings()[KIOSK])
    assert "'evalId' is a required property" in refusal.value.reason


def test_unsigned_malformed_and_replayed_requests(stub: ProvinceStub) -> None:
    body = json.dumps(to_national(national_record(sample_ratings()[KIOSK]))).encode()
    post = lambda data, headers: urllib3.request("POST", stub.ratings_url, body=data, headers=headers, retries=False)  # noqa: E731
    unsigned = post(body, {"Content-Type": "application/json"})
    assert unsigned.status == 401 and "SIGNATURE_MISSING" in unsigned.json()["msg"]
    garbage = b"{not json"
    malformed = post(garbage, sign(DEFAULT.signature, app_id=STUB_APP_ID, secret=STUB_SECRET, body=garbage))
    assert malformed.status == 400 and "BODY_MALFORMED" in malformed.json()["msg"]
    headers = sign(DEFAULT.signature, app_id=STUB_APP_ID, secret=STUB_SECRET, body=body)
    assert post(body, headers).status == 200
    replayed = post(body, headers)
    assert replayed.status == 401 and "NONCE_REUSED" in replayed.json()["msg"]
    assert len(stub.received()) == 1


# --- faults -----------------------------------------------------------------------------------------------


def test_a_send_is_not_started_without_its_whole_read_timeout_left(stub: ProvinceStub) -> None:
    """Issue 16: a send cut short by the invocation's deadline loses an answer the province gives in time, and its
    retry is a duplicate no fault caused. With less than the read timeout left (at most 1 s) nothing is sent."""
    r = sample_ratings()[KIOSK]
    with ProvincialClient(stub.ratings_url, STUB_APP_ID, STUB_SECRET, timeout=(2.0, 3.0)) as client:  # loaded CI
        with send_deadline(time.monotonic() + 0.5), pytest.raises(ProvinceUnavailable, match="not enough"):
            client.send(r)
        assert stub.stats()["requests"] == 0
        with send_deadline(time.monotonic() + 10):
            assert not client.send(r).duplicate
    assert stub.stats()["requests"] == 1


def test_the_stub_tells_duplicates_after_an_injected_timeout_from_those_after_an_answer(stub: ProvinceStub) -> None:
    r = sample_ratings()[KIOSK]
    with ProvincialClient(stub.ratings_url, STUB_APP_ID, STUB_SECRET, timeout=(2.0, 2.0)) as client:
        stub.set_faults(timeout_rate=1.0, timeout_sleep=4.0)
        with pytest.raises(ProvinceUnavailable):  # stored, the answer lost
            client.send(r)
        stub.set_faults()
        assert client.send(r).duplicate  # the retry: a duplicate the fault caused
        assert client.send(r).duplicate  # sent again though answered: not the fault's
    assert stub.duplicate_causes() == {"timeouts_injected": 1, "after_injected_timeout": 1, "after_answer": 1,
                                       "after_answer_within_5s": 1}  # fmt: skip


def test_error_rate_1_is_unavailable(stub: ProvinceStub, client: ProvincialClient) -> None:
    stub.set_faults(error_rate=1.0)
    with pytest.raises(ProvinceUnavailable) as failure:
        client.send(sample_ratings()[KIOSK])
    assert failure.value.status == 503
    assert stub.received() == [] and stub.stats()["faults_injected"] == 1


def test_errors_answered_500_are_failures_the_province_gave_and_count_against_the_rating(
    stub: ProvinceStub, client: ProvincialClient
) -> None:
    """The tour's way to fill the dead-letter queue: a 500 is counted, a 503 (busy) is not."""
    stub.set_faults(error_rate=1.0, error_status=500)
    with pytest.raises(ProvinceUnavailable) as failure:
        client.send(sample_ratings()[KIOSK])
    stub.set_faults(error_rate=1.0)
    with pytest.raises(ProvinceUnavailable) as busy:
        client.send(sample_ratings()[KIOSK])
    counted = [ProvinceUnreachable(status=e.value.status).counted for e in (failure, busy)]
    assert ([failure.value.status, busy.value.status], counted) == ([500, 503], [True, False])
    with pytest.raises(ValueError, match="5xx"):
        stub.set_faults(error_rate=1.0, error_status=404)


def test_a_timeout_is_unavailable_within_the_read_timeout_and_the_retry_is_a_duplicate(
    stub: ProvinceStub, client: ProvincialClient
) -> None:
    stub.set_faults(timeout_rate=1.0)
    started = time.perf_counter()
    with pytest.raises(ProvinceUnavailable, match="timeout"):
        client.send(sample_ratings()[KIOSK])
    assert time.perf_counter() - started < READ_TIMEOUT + 0.5 < 1.5  # did not wait for the stub's sleep
    stub.set_faults()
    assert client.send(sample_ratings()[KIOSK]).duplicate, "the answer was lost, the rating was not"
    assert len(stub.received()) == 1


def test_down_then_up(stub: ProvinceStub, client: ProvincialClient) -> None:
    client.send(sample_ratings()[KIOSK])  # a pooled keep-alive connection exists
    stub.set_faults(down=True)
    for name in ("vertical_system/01-bad-realname", "intermediary/01-company-stars"):
        started = time.perf_counter()
        with pytest.raises(ProvinceUnavailable, match="connection"):
            client.send(sample_ratings()[name])
        assert time.perf_counter() - started < 1.0
    stub.set_faults(down=False)
    assert not client.send(sample_ratings()["intermediary/01-company-stars"]).duplicate
    assert len(stub.received()) == 2


def test_faults_over_http_break_the_stub_and_it_recovers(stub: ProvinceStub, client: ProvincialClient) -> None:
    r = sample_ratings()[KIOSK]
    assert admin(stub, "POST", "/_faults", {"error_rate": 1}) == (200, stub.faults())
    with pytest.raises(ProvinceUnavailable):
        client.send(r)
    status, faults = admin(stub, "POST", "/_faults", {"down": True})
    assert status == 200 and faults["down"] is True and faults["error_rate"] == 0.0
    with pytest.raises(ProvinceUnavailable):
        client.send(r)
    assert admin(stub, "GET", "/_stats")[1]["faults_injected"] == 2, "the admin routes stay up while down"
    admin(stub, "POST", "/_faults", {})
    client.send(r)
    status, received = admin(stub, "GET", "/_received")
    assert status == 200 and [x["evalId"] for x in received] == [r.rating_id]
    assert admin(stub, "POST", "/_faults", {"error_rate": 2})[0] == 400
    assert admin(stub, "POST", "/_faults", {"bogus": 1})[0] == 400
    assert admin(stub, "POST", "/_reset", {})[0] == 200 and stub.received() == []


def test_under_errors_and_timeouts_every_rating_arrives_once(stub: ProvinceStub, client: ProvincialClient) -> None:
    """A small version of the e2e soak: 30 % 5xx, 10 % timeouts, each rating under one key, none lost."""
    stub.set_faults(error_rate=0.3, timeout_rate=0.1, seed=7, timeout_sleep=0.4)
    base = sample_ratings()[KIOSK].model_dump(mode="json", exclude_none=True)
    ratings = [rating(KIOSK, rating_id=f"r-soak-{i:03d}", case={**base["case"], "case_no": f"K{i}"}) for i in range(30)]
    for r in ratings:
        deliver(client, r)
    stats = stub.stats()
    assert [x["evalId"] for x in stub.received()] == [r.rating_id for r in ratings]
    assert stats["accepted"] == 30 and stats["faults_injected"] > 0
    assert stats["requests"] >= 30 + stats["faults_injected"] - stats["duplicates"]


# --- answers a real province gives ----------------------------------------------------------------------


class _Canned(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    answer: tuple[int, bytes] = (200, b"")

    def do_POST(self) -> None:
        self.server.seen = (dict(self.headers.items()), self.rfile.read(int(self.headers["Content-Length"])))  # type: ignore[attr-defined]
        status, body = self.server.answer  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def canned() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Canned)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, {"code": "0", "msg": "ok", "data": {"receiptId": 77}}, "receipt"),
        (200, {"code": "1001", "msg": "数据已存在"}, "duplicate"),
        (200, {"code": "E12", "msg": "事项编码不存在"}, ProvinceRejected),
        (200, "<html>gateway</html>", ProvinceUnavailable),
        (404, {"code": "404", "msg": "no such path"}, ProvinceRejected),
        (403, {"code": "403", "msg": "ip not allowed"}, ProvinceAuthFailed),
        (429, {"code": "429", "msg": "slow down"}, ProvinceUnavailable),
        (502, "Bad Gateway", ProvinceUnavailable),
        (302, "", ProvinceUnavailable),
    ],
)
def test_how_answers_are_read(canned: ThreadingHTTPServer, status: int, body: Any, outcome: Any) -> None:
    canned.answer = (status, (body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)).encode())  # type: ignore[attr-defined]
    mapping = ProvincialMapping.model_validate({"response": {"duplicate_codes": ["1001"]}})
    url = f"http://127.0.0.1:{canned.server_address[1]}/push"
    with ProvincialClient(url, "a", "s", mapping, timeout=(0.5, 1.0)) as client:
        if isinstance(outcome, str):
            receipt = client.send(sample_ratings()[KIOSK])
            assert receipt.duplicate is (outcome == "duplicate")
            assert receipt.receipt_id == ("77" if outcome == "receipt" else None)
        else:
            with pytest.raises(outcome) as failure:
                client.send(sample_ratings()[KIOSK])
            if outcome is ProvinceRejected:
                assert failure.value.reason == body["msg"] and failure.value.code == body["code"]


def test_the_request_as_the_province_sees_it(canned: ThreadingHTTPServer) -> None:
    canned.answer = (200, b'{"code": "200"}')  # type: ignore[attr-defined]
    r = sample_ratings()[KIOSK]
    with ProvincialClient(f"http://127.0.0.1:{canned.server_address[1]}/p", "app", "s3") as client:
        client.send(r)
    headers, body = canned.seen  # type: ignore[attr-defined]
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert body == json.dumps(to_provincial(r), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert verify(DEFAULT.signature, headers, body=body, secrets={"app": "s3"}) == "app"


def test_connection_refused_is_unavailable() -> None:
    with ProvinceStub() as stub:
        url = stub.ratings_url
    with ProvincialClient(url, "a", "s", timeout=(0.5, 0.5)) as client, pytest.raises(ProvinceUnavailable):
        client.send(sample_ratings()[KIOSK])


# --- R20 and the manual entry ---------------------------------------------------------------------------


def test_no_personal_data_in_any_log_line(
    stub: ProvinceStub, client: ProvincialClient, caplog: pytest.LogCaptureFixture
) -> None:
    r = sample_ratings()["vertical_system/01-bad-realname"]
    caplog.set_level(logging.DEBUG)
    client.send(r)
    stub.set_faults(error_rate=1.0)
    with pytest.raises(ProvinceError):
        client.send(r)
    logged = " ".join(str(record.__dict__) for record in caplog.records)
    assert r.rating_id in logged
    for secret in (r.rater.phone, r.rater.id_no, r.rater.name, r.comment):
        assert secret and secret not in logged


def test_python_m_stub_serves_until_stopped() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.province.stub", "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        first = process.stdout.readline() if process.stdout else ""
        url = first.split(" on ")[1].split()[0]
        assert urllib3.request("GET", f"{url}/_stats", timeout=2.0).json()["requests"] == 0
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_sends_reuse_the_hosts_kept_alive_connections_at_most_one_a_concurrent_send(stub: ProvinceStub) -> None:
    """Issue 15: a send pays no connect. Forty sends by ten threads at once (the forward function's concurrency)
    open at most ten connections to the province, and sends after them open none; the province has each rating
    once, under its own key (R9)."""
    ratings = [rating(KIOSK, rating_id=f"r{n:032x}") for n in range(40)]
    with ProvincialClient(stub.ratings_url, STUB_APP_ID, STUB_SECRET, pool_size=10) as client:
        threads = [threading.Thread(target=lambda mine=ratings[i::10]: [client.send(r) for r in mine])
                   for i in range(10)]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        pool = client._pool.connection_from_url(stub.ratings_url)  # the host's pool (urllib3's count of connects)
        assert 1 <= pool.num_connections <= 10
        for r in ratings[:5]:
            assert client.send(r).duplicate  # sent again, one after another: the province answers a repeat
        assert pool.num_connections <= 10
    assert sorted(r["evalId"] for r in stub.received()) == sorted(r.rating_id for r in ratings)

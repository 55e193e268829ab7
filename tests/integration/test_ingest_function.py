"""The ingest function end to end in one process: API Gateway REST proxy events in, moto behind.

Events are built as API Gateway builds them for this API: every media type is binary (template.yaml's
BinaryMediaTypes `*/*`), so bodies arrive base64-encoded and byte-exact, GBK included.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from moto import mock_aws
from openapi_spec_validator import validate

import functions.ingest as ingest_function
from cli.normalize_cmd import content_type_for
from functions.edge import contract
from infra import bootstrap
from infra.clock import LocalClock
from infra.connector_store import CONNECTOR_CACHE_TTL, DynamoConnectorStore
from infra.localcloud.moto_dynamodb import serialize_dynamodb_writes
from infra.settings import MissingSettings
from infra.signing import sign
from tests.conftest import SAMPLES, expected_for, sample_files
from tests.integration.test_stores_contract import (
    create_aws_resources,
    fake_credentials,
    personal_data_env,
    queued_messages,
)
from tests.lambda_context import LambdaContext

NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")
RATING_SAMPLES = [p for p in sample_files() if p.parent.name != "cases"]
SESSION = botocore.session.get_session()  # one session for every test's clients: its models load once
PERSONAL = ("13907970001", "360721198501011233", "王五", "13807970002", "13607970003", "赣州某置业")


def from_env() -> bootstrap.IngestServices:
    return bootstrap.ingest_from_env(session=SESSION)


def built_with(clock: LocalClock) -> Callable[[], bootstrap.IngestServices]:
    """The function's services from the environment (moto), reading `clock`: no process-wide clock is installed."""
    return lambda: bootstrap.ingest_from_env(session=SESSION, clock=clock)


def invocation() -> LambdaContext:
    return LambdaContext("hcp-hub-IngestFunction", 1024)


def api_event(method: str, path: str, resource: str, *, headers: dict[str, str] | None = None, body: bytes = b"",
              path_parameters: dict[str, str] | None = None, binary: bool = True) -> dict[str, Any]:  # fmt: skip
    """A REST API (v1) Lambda proxy event, stage `prod`, as API Gateway sends it."""
    headers = {"Host": "abc123.execute-api.cn-north-1.amazonaws.com.cn", "User-Agent": "source/1.0", **(headers or {})}
    request_id = str(uuid.uuid4())
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource, "httpMethod": method, "path": f"/prod{path}", "stage": "prod",
            "requestId": request_id, "extendedRequestId": request_id, "accountId": "123456789012",
            "apiId": "abc123", "protocol": "HTTP/1.1", "requestTimeEpoch": int(NOW.timestamp() * 1000),
            "identity": {"sourceIp": "10.0.0.8", "userAgent": "source/1.0"},
        },
        "body": (base64.b64encode(body).decode() if binary else body.decode("utf-8")) if body else None,
        "isBase64Encoded": binary and bool(body),
    }  # fmt: skip


@dataclass
class Hub:
    aws: dict[str, Any]
    handler: Any
    connectors: dict[str, tuple[str, str]]  # kind -> (id, secret)
    clock: LocalClock

    def post(self, kind: str, body: bytes, content_type: str = "application/json", *, unified: bool = False,
             sign_as: str | None = None, nonce: str | None = None, binary: bool = True) -> tuple[int, Any]:  # fmt: skip
        """Signed as the connector of `kind` (or `sign_as`), with the hub's time."""
        connector_id, secret = self.connectors[sign_as or kind]
        headers = sign(secret, body, int(time.time()), nonce, connector_id=connector_id)  # transport: wall clock
        return self.send(None if unified else connector_id, body, {"Content-Type": content_type, **headers}, binary)

    def send(self, path_connector: str | None, body: bytes, headers: dict[str, str],
             binary: bool = True) -> tuple[int, Any]:  # fmt: skip
        """To the unified route when `path_connector` is None."""
        if path_connector is None:
            return self.answer(api_event("POST", "/v1/ratings", "/v1/ratings", headers=headers, body=body,
                                         binary=binary))  # fmt: skip
        return self.answer(api_event(
            "POST", f"/v1/connectors/{path_connector}/ratings", "/v1/connectors/{connector_id}/ratings",
            headers=headers, body=body, path_parameters={"connector_id": path_connector}, binary=binary,
        ))  # fmt: skip

    def answer(self, event: dict[str, Any]) -> tuple[int, Any]:
        reply = self.handler(event, invocation())
        data = json.loads(reply["body"]) if "json" in reply["multiValueHeaders"]["Content-Type"][0] else reply["body"]
        return reply["statusCode"], conforms(reply["statusCode"], data)

    def stored_ratings(self) -> list[dict[str, Any]]:
        items = self.aws["dynamodb"].scan(TableName=self.aws["RatingsTable"])["Items"]
        return [i for i in items if i["pk"]["S"].startswith("RATING#")]

    def archived(self) -> list[str]:
        return [o["Key"] for o in self.aws["s3"].list_objects_v2(Bucket=self.aws["bucket"]).get("Contents", [])]

    def nonces(self) -> int:
        return int(self.aws["dynamodb"].scan(TableName=self.aws["NoncesTable"], Select="COUNT")["Count"])

    def queued(self) -> list[str]:
        return [m["rating_id"] for m in queued_messages(self.aws["sqs"], self.aws["queue_url"])]


def conforms(status: int, data: Any) -> Any:
    """Every JSON reply is what the OpenAPI document says it is (no field it does not describe)."""
    if not isinstance(data, dict) or not {"results", "errors"} & set(data):
        return data
    model = contract.IngestAnswer if "results" in data else contract.RefusalAnswer
    model.model_validate(data)
    errors = data.get("errors", []) + [e for r in data.get("results", []) for e in r.get("errors", [])]
    for result in data.get("results", []):
        assert set(result) <= set(contract.ItemResult.model_fields)
    for error in errors:
        assert set(error) <= set(contract.Error.model_fields) and error["message_zh"]
    return data


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    fake_credentials(monkeypatch)
    clock = LocalClock(NOW)
    with mock_aws():
        aws = create_aws_resources()
        for name, value in {
            "RATINGS_TABLE": aws["RatingsTable"], "CONNECTORS_TABLE": aws["ConnectorsTable"],
            "NONCES_TABLE": aws["NoncesTable"], "RAW_PAYLOAD_BUCKET": aws["bucket"],
            "FORWARD_QUEUE_URL": aws["queue_url"], **personal_data_env(aws),
        }.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        store = DynamoConnectorStore(aws["dynamodb"], aws["ConnectorsTable"])
        connectors = {}
        for kind in ("vertical_system", "kiosk", "intermediary", "window_device", "unified"):
            connector, secret = store.create(kind, f"demo {kind}", "赣县区行政审批局", now=NOW)
            connectors[kind] = (connector.connector_id, secret)
        yield Hub(aws, ingest_function.make_handler(built_with(clock)), connectors, clock)


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Every record the function logs, with its extra fields, as text."""
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.dumps(record.__dict__, default=str, ensure_ascii=False))

    capture = Capture()
    ingest_function.logger.addHandler(capture)
    yield lines
    ingest_function.logger.removeHandler(capture)


def unified(source_id: str, **changes: Any) -> dict[str, Any]:
    rating: dict[str, Any] = {
        "source_rating_id": source_id,
        "case": {"case_no": f"WEB-{source_id}", "handled_at": "2026-11-27T16:02:11+08:00"},
        "target": {"agency_code": "11360704MB1C000102", "region_code": "360704000000"},
        "channel": "web", "grade": "satisfied", "rated_at": "2026-11-28T10:21:33+08:00",
    }  # fmt: skip
    return rating | changes


def as_json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", RATING_SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_sample_is_answered_as_its_expectation_says(hub: Hub, sample: Path, log_lines: list[str]) -> None:
    expected = expected_for(sample)
    body = sample.read_bytes()
    status, answer = hub.post(sample.parent.name, body, content_type_for(sample))
    [result] = answer["results"]
    assert result["outcome"] == expected["outcome"], result
    if expected["outcome"] == "accepted":
        assert status == 202
        assert [r["rating_id"]["S"] for r in hub.stored_ratings()] == [result["rating_id"]] == hub.queued()
    else:
        assert status == 422  # every item rejected: a 4xx, with the same per-item body
        assert {e["rule"] for e in expected["errors"]} <= {e["rule"] for e in result["errors"]}
        assert hub.stored_ratings() == [] and hub.queued() == []
    [key] = hub.archived()  # archived first, byte for byte, whatever the outcome
    assert hub.aws["s3"].get_object(Bucket=hub.aws["bucket"], Key=key)["Body"].read() == body
    assert log_lines and not [p for p in PERSONAL if any(p in line for line in log_lines)]  # R20


def test_a_repost_is_a_duplicate_and_the_queue_still_holds_one_message(hub: Hub) -> None:
    sample = SAMPLES / "window_device" / "01-very-bad-staff.gbk.form"
    first = hub.post("window_device", sample.read_bytes(), content_type_for(sample))
    again = hub.post("window_device", sample.read_bytes(), content_type_for(sample))
    assert [r["outcome"] for r in (first[1]["results"] + again[1]["results"])] == ["accepted", "duplicate"]
    assert again == (202, again[1]) and again[1]["results"][0]["rating_id"] == first[1]["results"][0]["rating_id"]
    assert len(hub.stored_ratings()) == 1 and len(hub.queued()) == 1


KIOSK = (SAMPLES / "kiosk" / "01-dissatisfied-labels.json").read_bytes()


def badly_signed(hub: Hub, case: str) -> tuple[int, Any]:
    connector_id, secret = hub.connectors["kiosk"]
    now = int(time.time())  # freshness is checked against the wall clock
    path_connector, body = connector_id, KIOSK
    headers = sign(secret, KIOSK, now, connector_id=connector_id)
    if case == "unsigned":
        headers = {}
    elif case == "tampered":
        body = KIOSK.replace("不满意".encode(), "非常满意".encode())
    elif case == "wrong secret":
        headers = sign("not-the-secret", KIOSK, now, connector_id=connector_id)
    elif case == "expired":
        headers = sign(secret, KIOSK, now - 360, connector_id=connector_id)
    elif case == "from the future":
        headers = sign(secret, KIOSK, now + 360, connector_id=connector_id)
    elif case == "unknown connector":
        headers["X-Hcp-Connector"] = path_connector = "kiosk-000000000000"
    elif case == "another connector's path":
        path_connector = hub.connectors["vertical_system"][0]
    return hub.send(path_connector, body, {"Content-Type": "application/json", **headers})


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("unsigned", "SIGNATURE_MISSING"),
        ("tampered", "SIGNATURE_INVALID"),
        ("wrong secret", "SIGNATURE_INVALID"),
        ("expired", "TIMESTAMP_EXPIRED"),
        ("from the future", "TIMESTAMP_EXPIRED"),
        ("unknown connector", "CONNECTOR_UNKNOWN"),
        ("another connector's path", "CONNECTOR_UNKNOWN"),
    ],
)
def test_a_request_not_signed_right_is_401_and_stores_nothing(hub: Hub, case: str, code: str) -> None:
    status, answer = badly_signed(hub, case)
    assert (status, [e["code"] for e in answer["errors"]]) == (401, [code])
    assert hub.stored_ratings() == [] and hub.archived() == [] and hub.queued() == [] and hub.nonces() == 0


def test_a_replayed_request_is_401_and_stores_nothing_more(hub: Hub) -> None:
    assert hub.post("kiosk", KIOSK, nonce="replay-nonce-000001")[0] == 202
    status, answer = hub.post("kiosk", KIOSK, nonce="replay-nonce-000001")
    assert (status, answer["errors"][0]["code"]) == (401, "NONCE_REUSED")
    assert len(hub.stored_ratings()) == 1 and len(hub.archived()) == 1 and len(hub.queued()) == 1


class MeetingClock(LocalClock):
    """The services' clock, whose first reading in each thread (the start of a request: functions.ingest) waits
    until `parties` threads have read it: so many requests inside the handler at once, as a local-cloud run's first
    concurrent requests are, held together by the cold build."""

    def __init__(self, start: datetime, parties: int) -> None:
        super().__init__(start)
        self._meeting = threading.Barrier(parties, timeout=30)
        self._met = threading.local()

    def now(self) -> datetime:
        if not getattr(self._met, "done", False):
            self._met.done = True
            self._meeting.wait()
        return super().now()


def test_concurrent_requests_are_each_answered_for_their_own_body(hub: Hub) -> None:
    # issue 16: each of 4 concurrent first requests signed a fresh nonce, and 3 were refused 401 NONCE_REUSED:
    # Powertools keeps the current event on its resolver class, so all four read the last one set
    # moto in-process is not thread-safe (a transaction deep-copies what another thread is writing: "dictionary
    # changed size"); DynamoDB's writes are atomic, and the local cloud's patch makes moto's so
    serialize_dynamodb_writes()
    handler = ingest_function.make_handler(built_with(MeetingClock(NOW, parties=4)))
    connector_id, secret = hub.connectors["kiosk"]
    bodies = [kiosk(f"CONCURRENT{n}") for n in range(4)]

    def post(body: bytes) -> tuple[int, Any]:
        signed = sign(secret, body, int(time.time()), connector_id=connector_id)
        headers = {"Content-Type": "application/json", **signed}
        event = api_event("POST", f"/v1/connectors/{connector_id}/ratings", "/v1/connectors/{connector_id}/ratings",
                          headers=headers, body=body, path_parameters={"connector_id": connector_id})  # fmt: skip
        reply = handler(event, invocation())
        return reply["statusCode"], json.loads(reply["body"])

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(post, bodies))
    assert [status for status, _ in answers] == [202] * 4, [a.get("errors") for _, a in answers]
    ids = [answer["results"][0]["rating_id"] for _, answer in answers]
    assert len(set(ids)) == 4 and sorted(r["rating_id"]["S"] for r in hub.stored_ratings()) == sorted(ids)
    assert hub.nonces() == 4


def test_a_disabled_connector_is_403(hub: Hub) -> None:
    DynamoConnectorStore(hub.aws["dynamodb"], hub.aws["ConnectorsTable"]).set_status(
        hub.connectors["kiosk"][0], "disabled"
    )
    status, answer = hub.post("kiosk", KIOSK)
    assert (status, answer["errors"][0]["code"]) == (403, "CONNECTOR_DISABLED")
    assert hub.stored_ratings() == [] and hub.archived() == [] and hub.nonces() == 0


def kiosk(order_id: str) -> bytes:
    return as_json({**json.loads(KIOSK), "orderId": order_id})


@pytest.fixture
def connector_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tables the function's clients GetItem from, one entry a call (a hook on every client bootstrap builds)."""
    reads: list[str] = []

    def count(client: Any) -> None:
        def before(params: dict[str, Any], **_: Any) -> None:
            reads.append(params["TableName"])

        client.meta.events.register("provide-client-params.dynamodb.GetItem", before)

    monkeypatch.setattr(bootstrap, "CLIENT_HOOKS", [*bootstrap.CLIENT_HOOKS, count])
    return reads


def test_a_warm_function_reads_a_connector_once_per_ttl(hub: Hub, connector_reads: list[str]) -> None:
    # issue 15: the GetItem every signed request paid; a copy is trusted for the TTL, by the services' clock
    assert [hub.post("kiosk", kiosk(f"WARM{n}"))[0] for n in range(3)] == [202] * 3
    assert connector_reads.count(hub.aws["ConnectorsTable"]) == 1
    hub.clock.advance(CONNECTOR_CACHE_TTL + timedelta(seconds=1))
    assert hub.post("kiosk", kiosk("WARM3"))[0] == 202
    assert connector_reads.count(hub.aws["ConnectorsTable"]) == 2


def test_disabling_reaches_a_warm_function_within_the_ttl(hub: Hub) -> None:
    connector_id = hub.connectors["kiosk"][0]
    assert hub.post("kiosk", KIOSK)[0] == 202  # warm: the function holds a copy
    DynamoConnectorStore(hub.aws["dynamodb"], hub.aws["ConnectorsTable"]).set_status(connector_id, "disabled")
    hub.clock.advance(CONNECTOR_CACHE_TTL + timedelta(seconds=1))
    status, answer = hub.post("kiosk", KIOSK)
    assert (status, answer["errors"][0]["code"]) == (403, "CONNECTOR_DISABLED")


def test_a_rotated_key_works_at_once_in_a_warm_function(hub: Hub, connector_reads: list[str]) -> None:
    connector_id = hub.connectors["kiosk"][0]
    assert hub.post("kiosk", KIOSK)[0] == 202
    _, secret = DynamoConnectorStore(hub.aws["dynamodb"], hub.aws["ConnectorsTable"]).rotate(
        connector_id, now=NOW, grace=timedelta(0)
    )
    hub.connectors["kiosk"] = (connector_id, secret)
    status, answer = hub.post("kiosk", kiosk("ROTATED"))
    assert status == 202, answer
    assert connector_reads.count(hub.aws["ConnectorsTable"]) == 2  # the copy refused it; the fresh read did not


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        (b'{"orderId": "K1", ', "application/json", "BODY_MALFORMED"),
        (b"", "application/json", "BODY_EMPTY"),
        ("<评价/>".encode("gbk"), "application/xml; charset=GBK", "CONTENT_TYPE_UNSUPPORTED"),
        (b'{"orderId": "\xb2\xbb"}', "application/json", "BODY_UNDECODABLE"),
    ],
)
def test_a_body_that_cannot_be_read_is_a_4xx_with_its_code(hub: Hub, body: bytes, content_type: str,
                                                           code: str) -> None:  # fmt: skip
    status, answer = hub.post("kiosk", body, content_type)
    assert status == (415 if code == "CONTENT_TYPE_UNSUPPORTED" else 400)
    assert [e["code"] for e in answer["errors"]] == [code]
    assert hub.stored_ratings() == [] and hub.queued() == []


def test_a_body_that_says_base64_but_is_not_is_400(hub: Hub) -> None:
    connector_id, secret = hub.connectors["kiosk"]
    event = api_event("POST", f"/v1/connectors/{connector_id}/ratings", "/v1/connectors/{connector_id}/ratings",
                      headers=sign(secret, b"x", int(time.time()), connector_id=connector_id),
                      body=b"x", path_parameters={"connector_id": connector_id})  # fmt: skip
    event["body"] = "not base64!"
    status, answer = hub.answer(event)
    assert (status, answer["errors"][0]["code"]) == (400, "BODY_MALFORMED")


def test_more_than_100_items_are_refused_whole(hub: Hub) -> None:
    batch = [unified(f"U-{i}") for i in range(101)]
    status, answer = hub.post("unified", as_json(batch), unified=True)
    assert (status, [e["code"] for e in answer["errors"]]) == (413, ["BATCH_TOO_LARGE"])
    assert hub.stored_ratings() == [] and hub.queued() == []


def test_a_body_over_1_mib_is_413_before_anything_else(hub: Hub) -> None:
    body = as_json([unified("U-1", comment="长" * 400_000)])
    status, answer = hub.post("unified", body, unified=True)
    assert (status, answer["errors"][0]["code"]) == (413, "BODY_TOO_LARGE")
    assert hub.archived() == [] and hub.nonces() == 0


def test_the_unified_route_takes_one_rating_or_a_batch_from_any_connector(hub: Hub) -> None:
    status, answer = hub.post("unified", as_json(unified("U-1")), unified=True, binary=False)
    assert (status, [r["outcome"] for r in answer["results"]]) == (202, ["accepted"])
    batch = [
        unified("K-1"),
        unified("K-2", grade="very bad"),
        unified("K-3", grade="dissatisfied", tags=["STAFF_SKILL"]),
    ]
    status, answer = hub.post("unified", as_json(batch), unified=True, sign_as="kiosk")
    assert status == 202
    assert [(r["index"], r["outcome"]) for r in answer["results"]] == [
        (0, "accepted"),
        (1, "rejected"),
        (2, "accepted"),
    ]
    assert answer["results"][1]["errors"][0]["code"] == "GRADE_UNKNOWN"
    assert len(hub.stored_ratings()) == 3 and len(hub.queued()) == 3


def test_a_misspelt_comment_is_refused_not_stored_without_it(hub: Hub) -> None:
    """Issue 11 item 1: `commnet` was stored with no comment, forwarded, and opened a work order."""
    rating = unified("U-1", grade="dissatisfied", tags=["ITEM_MATERIALS"], commnet="材料要求重复提交",
                     rater={"type": "person", "mobile": "13907970001"})  # fmt: skip
    status, answer = hub.post("unified", as_json(rating), unified=True)
    assert status == 422
    [result] = answer["results"]
    found = {e["path"]: e for e in result["errors"] if e["code"] == "FIELD_UNKNOWN"}
    assert set(found) == {"commnet", "rater.mobile"}
    assert "did you mean comment?" in found["commnet"]["message"]
    assert hub.stored_ratings() == [] and hub.queued() == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"])
def test_the_unified_route_takes_json_only_415(hub: Hub, content_type: str) -> None:
    status, answer = hub.post("unified", as_json(unified("U-1")), content_type, unified=True)
    assert (status, [e["code"] for e in answer["errors"]]) == (415, ["CONTENT_TYPE_UNSUPPORTED"])
    assert hub.stored_ratings() == []


@pytest.mark.parametrize("body", [b"null", b'"x"', b"42", b"[1, 2]", b"true"])
@pytest.mark.parametrize("route", ["unified", "kiosk"])
def test_a_body_that_is_not_an_object_is_400_body_malformed_on_both_routes(hub: Hub, body: bytes, route: str) -> None:
    status, answer = hub.post(route, body, unified=route == "unified")
    assert (status, [e["code"] for e in answer["errors"]]) == (400, ["BODY_MALFORMED"])


def test_a_rating_whose_grade_is_given_twice_is_not_stored(hub: Hub) -> None:
    twice = b'"grade": "satisfied", "grade": "very_dissatisfied"'
    body = as_json(unified("U-1")).replace(b'"grade": "satisfied"', twice)
    status, answer = hub.post("unified", body, unified=True)
    assert (status, [e["code"] for e in answer["errors"]]) == (400, ["BODY_MALFORMED"])
    assert '"grade"' in answer["errors"][0]["message"]
    assert hub.stored_ratings() == [] and hub.queued() == []
    assert len(hub.archived()) == 1  # archived (encrypted) for audit, as docs/signing.md says


def test_a_second_rating_for_a_case_is_a_conflict_that_keeps_the_first_R8(hub: Hub) -> None:
    hub.post("unified", as_json(unified("U-1")), unified=True)
    status, answer = hub.post("unified", as_json(unified("U-9", case={"case_no": "WEB-U-1"})), unified=True)
    [result] = answer["results"]
    assert (status, result["outcome"], result["errors"][0]["code"]) == (202, "conflict", "ALREADY_RATED")
    assert len(hub.stored_ratings()) == 1


def test_a_queue_outage_still_accepts_and_leaves_the_rating_for_the_sweep(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORWARD_QUEUE_URL", hub.aws["queue_url"] + "-gone")
    handler = ingest_function.make_handler(built_with(hub.clock))
    hub = Hub(hub.aws, handler, hub.connectors, hub.clock)
    status, answer = hub.post("kiosk", KIOSK)
    assert (status, answer["results"][0]["outcome"]) == (202, "accepted")
    [item] = hub.stored_ratings()
    assert item["forward_state"]["S"] == "pending" and hub.queued() == []


def test_a_missing_setting_fails_the_first_invocation_not_the_import(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NONCES_TABLE")
    hub = Hub(hub.aws, ingest_function.make_handler(built_with(hub.clock)), hub.connectors, hub.clock)
    status, answer = hub.post("kiosk", KIOSK)
    assert (status, answer["errors"][0]["code"]) == (500, "INTERNAL_ERROR")
    with pytest.raises(MissingSettings, match="NONCES_TABLE"):
        from_env()


def test_an_unknown_route_is_404(hub: Hub) -> None:
    status, answer = hub.answer(api_event("GET", "/v1/nothing", "/v1/nothing"))
    assert (status, answer["errors"][0]["code"]) == (404, "ROUTE_UNKNOWN")


def test_openapi_json_is_valid_and_describes_routes_headers_and_answers(hub: Hub) -> None:
    status, text = hub.answer(api_event("GET", "/openapi.json", "/openapi.json"))
    document = text if isinstance(text, dict) else json.loads(text)
    assert status == 200
    validate(document)
    assert document["servers"] == [{"url": "/prod"}]
    for path in ("/v1/connectors/{connector_id}/ratings", "/v1/ratings"):
        operation = document["paths"][path]["post"]
        assert {"202", "400", "401", "403", "413", "422"} <= set(operation["responses"])
        assert operation["requestBody"]["content"] and operation["security"]
    schemes = document["components"]["securitySchemes"]
    signed = {s["name"] for s in schemes.values() if s["type"] == "apiKey"}  # people's routes add a bearer scheme
    assert signed == {"X-Hcp-Connector", "X-Hcp-Timestamp", "X-Hcp-Nonce", "X-Hcp-Signature"}
    schemas = document["components"]["schemas"]
    assert set(schemas["Error"]["properties"]) == {"code", "path", "message", "message_zh", "rule", "source_path"}
    assert set(schemas["ItemResult"]["properties"]) >= {"index", "outcome", "rating_id", "errors"}
    assert "source_rating_id" in schemas["UnifiedRating"]["required"]
    examples = document["paths"]["/v1/ratings"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert hub.post("unified", as_json(examples["batch"]["value"]), unified=True)[0] == 202  # the examples work


def test_docs_serves_swagger_ui(hub: Hub) -> None:
    reply = hub.handler(api_event("GET", "/docs", "/docs"), invocation())
    assert reply["statusCode"] == 200 and "text/html" in reply["multiValueHeaders"]["Content-Type"][0]
    assert "SwaggerUIBundle" in reply["body"] and "/v1/ratings" in reply["body"]


def test_a_handler_is_built_fresh_without_reloading_modules() -> None:
    # the services are built on first use, so making a handler touches nothing (no env, no AWS)
    assert callable(ingest_function.make_handler(lambda: (_ for _ in ()).throw(AssertionError("built too early"))))


def test_time_comes_from_the_clock_the_services_carry(hub: Hub) -> None:
    hub.clock.set(NOW - timedelta(days=1))
    status, answer = hub.post("kiosk", KIOSK)  # signed with the hub's time; rated "tomorrow" by that clock
    assert (status, answer["results"][0]["errors"][0]["code"]) == (422, "RATED_IN_FUTURE")
    assert hub.archived()[0].startswith(f"raw/{hub.connectors['kiosk'][0]}/2026/11/27/")

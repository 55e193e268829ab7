"""What one ingest request writes to the function's log, with the fakes: one 'ingested' line with the fields
operators search by (the API request id as correlation_id, the invocation's ids, the connector, the counts
and each item's outcome) and one EMF line with the outcome counts (and ColdStart's on a process's first);
issue 15 item 3 changed how they are written, not what they say. No personal data in either (R20)."""

from __future__ import annotations

import base64
import io
import json
import time
from contextlib import redirect_stdout
from datetime import datetime
from typing import Any

from functions import ingest
from functions.edge.telemetry import logger
from infra import bootstrap
from infra.clock import LocalClock
from infra.signing import sign
from tests.conftest import SAMPLES
from tests.lambda_context import LambdaContext

NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")
PHONE = "13807970002"  # the sample rater's


def invocation() -> LambdaContext:
    return LambdaContext("hcp-hub-IngestFunction", 1024, "lambda-request-1")


def test_one_request_writes_one_ingested_line_and_one_emf_line_without_personal_data_R20() -> None:
    services, fakes = bootstrap.in_memory_ingest(clock=LocalClock(NOW))
    connector, secret = fakes["connectors"].create("kiosk", "大厅评价器", "数据局", now=NOW)
    body = (SAMPLES / "kiosk" / "01-dissatisfied-labels.json").read_bytes()
    headers = sign(secret, body, int(time.time()), "log-line-nonce-0001", connector_id=connector.connector_id)
    path = f"/v1/connectors/{connector.connector_id}/ratings"
    event: dict[str, Any] = {
        "resource": "/v1/connectors/{connector_id}/ratings", "path": path, "httpMethod": "POST",
        "headers": {**headers, "Content-Type": "application/json"}, "multiValueHeaders": {},
        "pathParameters": {"connector_id": connector.connector_id}, "queryStringParameters": None,
        "requestContext": {"requestId": "api-request-1", "stage": "prod"},
        "body": base64.b64encode(body).decode(), "isBase64Encoded": True,
    }  # fmt: skip
    handler = ingest.make_handler(build=lambda: services)
    log, stdout = io.StringIO(), io.StringIO()
    stream_handler = logger.registered_handler
    saved, stream_handler.stream = stream_handler.stream, log  # type: ignore[attr-defined]
    try:
        with redirect_stdout(stdout):  # the EMF line is printed
            reply = handler(event, invocation())
    finally:
        stream_handler.stream = saved  # type: ignore[attr-defined]
    assert reply["statusCode"] == 202
    [line] = [json.loads(text) for text in log.getvalue().splitlines()]
    assert line["message"] == "ingested" and line["level"] == "INFO" and line["service"] == "hcp-hub"
    assert (line["correlation_id"], line["function_request_id"]) == ("api-request-1", "lambda-request-1")
    assert line["connector_id"] == connector.connector_id and line["counts"] == {"accepted": 1}
    assert [item[1] for item in line["items"]] == ["accepted"] and line["location"].startswith("_ingest:")
    [emf] = [e for e in map(json.loads, stdout.getvalue().splitlines()) if "ColdStart" not in e]
    assert (emf["RatingsAccepted"], emf["RatingsRejected"], emf["RatingsDuplicate"], emf["RatingsConflict"]) == (
        [1.0], [0.0], [0.0], [0.0])  # fmt: skip
    assert PHONE not in log.getvalue() + stdout.getvalue() and "13807970002" in body.decode()  # the control

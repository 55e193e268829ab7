"""What the forward function logs per record: a dead-lettered rating or work-order outcome is an error an operator
looks at (`hcp dlq show`), not an info line among the forwarded ones (issue 16)."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions.edge.telemetry import metrics
from functions.forward import report


@pytest.mark.parametrize(
    ("body", "outcome", "level"),
    [
        ({"outcome": "wo-r0001#4"}, "outcome_dead_lettered", "ERROR"),
        ({"rating_id": "r-1"}, "dead_lettered", "ERROR"),
        ({"outcome": "wo-r0001#4"}, "outcome_forwarded", "INFO"),  # the control: an ordinary outcome stays info
    ],
)
def test_a_dead_lettered_outcome_is_logged_as_an_error(
    caplog: pytest.LogCaptureFixture, body: dict[str, str], outcome: str, level: str
) -> None:
    record = SQSRecord({"messageId": "m-1", "body": json.dumps(body), "attributes": {}})
    with caplog.at_level("INFO", logger="hcp-hub"):
        assert report(record, lambda: outcome) == outcome
    metrics.clear_metrics()
    [line] = [r for r in caplog.records if r.name == "hcp-hub"]
    assert line.levelname == level
    if "outcome" in body and level == "ERROR":
        assert getattr(line, "outcome_key", None) == "wo-r0001#4"

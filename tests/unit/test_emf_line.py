"""The functions' EMF lines (functions.edge.emf) are the ones Powertools' own provider prints, byte for byte
(issue 15 item 3: only written faster): the same metrics, dimensions, metadata and timestamp, in one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from functions.edge.emf import OrjsonEMFProvider, emf_line

WHEN = 1796218510291


def ingest_request(provider: AmazonCloudWatchEMFProvider) -> None:
    for name, value in (
        ("RatingsAccepted", 1),
        ("RatingsDuplicate", 0),
        ("RatingsConflict", 0),
        ("RatingsRejected", 2),
    ):
        provider.add_metric(name=name, unit=MetricUnit.Count, value=value)


def with_dimension_and_metadata(provider: AmazonCloudWatchEMFProvider) -> None:
    provider.add_metric(name="ReportSeconds", unit=MetricUnit.Seconds, value=1.25, resolution=1)
    provider.add_metric(name="ReportSeconds", unit=MetricUnit.Seconds, value=0.5, resolution=1)
    provider.add_dimension(name="kind", value="monthly")
    provider.add_metadata(key="period", value="2026-11")


def with_chinese_metadata(provider: AmazonCloudWatchEMFProvider) -> None:
    provider.add_metric(name="ReportsWritten", unit=MetricUnit.Count, value=3)
    provider.add_metadata(key="region", value="赣县区")  # json.dumps escapes it: so must the line


def with_a_huge_value(provider: AmazonCloudWatchEMFProvider) -> None:
    provider.add_metric(name="Bytes", unit=MetricUnit.Bytes, value=1 << 70)


CASES: dict[str, Callable[[AmazonCloudWatchEMFProvider], None]] = {
    "an ingest request": ingest_request,
    "a dimension, metadata, high resolution": with_dimension_and_metadata,
    "non-ASCII metadata": with_chinese_metadata,
    "a value beyond 64 bits": with_a_huge_value,
}


def printed(provider: AmazonCloudWatchEMFProvider, add: Callable[[AmazonCloudWatchEMFProvider], None],
            capsys: pytest.CaptureFixture[str]) -> str:  # fmt: skip
    add(provider)
    provider.set_timestamp(WHEN)
    provider.flush_metrics()
    return capsys.readouterr().out


@pytest.mark.parametrize("case", CASES)
def test_every_flush_prints_the_line_powertools_prints(case: str, capsys: pytest.CaptureFixture[str]) -> None:
    reference = printed(AmazonCloudWatchEMFProvider(namespace="HcpHub", service="hcp-hub"), CASES[case], capsys)
    ours = printed(OrjsonEMFProvider(namespace="HcpHub", service="hcp-hub"), CASES[case], capsys)
    assert ours == reference and ours.count("\n") == 1
    assert json.loads(ours)["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "HcpHub"


def test_metrics_are_added_as_powertools_adds_them(capsys: pytest.CaptureFixture[str]) -> None:
    """The same metric set for every kind of call, and the 100-value limit flushes as Powertools' does."""
    calls: list[dict[str, Any]] = [
        {"name": " RatingsAccepted ", "unit": MetricUnit.Count, "value": 1},
        {"name": "RatingsAccepted", "unit": MetricUnit.Count, "value": 2.5},
        {"name": "RatingsRejected", "unit": "Count", "value": 0},
        {"name": "Latency", "unit": MetricUnit.Milliseconds, "value": 3, "resolution": 1},
        {"name": "Flag", "unit": MetricUnit.Count, "value": True},
        *({"name": "Many", "unit": MetricUnit.Count, "value": n} for n in range(130)),
    ]
    reference, ours = (provider(namespace="HcpHub", service="hcp-hub")
                       for provider in (AmazonCloudWatchEMFProvider, OrjsonEMFProvider))  # fmt: skip
    for each in (reference, ours):
        each.set_timestamp(WHEN)
        for call in calls:
            each.add_metric(**call)
    assert ours.metric_set == reference.metric_set and ours.metric_set["Many"]["Value"] == [
        float(n) for n in range(100, 130)
    ]
    flushed = capsys.readouterr().out.splitlines()
    assert len(flushed) == 2 and flushed[0] == flushed[1]  # the 100th value of Many flushes all
    assert json.loads(flushed[0])["RatingsAccepted"] == [1.0, 2.5]
    bad_calls: list[dict[str, Any]] = [
        {"name": "", "unit": MetricUnit.Count, "value": 1},
        {"name": "X", "unit": "Apples", "value": 1},
        {"name": "X", "unit": MetricUnit.Count, "value": "1"},
        {"name": "X", "unit": MetricUnit.Count, "value": 1, "resolution": 60.0},
    ]
    for bad in bad_calls:
        with pytest.raises(Exception) as expected:
            reference.add_metric(**bad)
        with pytest.raises(type(expected.value)):
            ours.add_metric(**bad)


def test_nothing_to_flush_and_disabled_metrics_behave_as_powertools(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = OrjsonEMFProvider(namespace="HcpHub", service="hcp-hub")
    with pytest.warns(UserWarning, match="No application metrics"):
        provider.flush_metrics()
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    ingest_request(provider)
    provider.flush_metrics()
    assert capsys.readouterr().out == "" and provider.metric_set  # Powertools keeps them when disabled
    provider.clear_metrics()


def test_a_different_document_would_be_seen() -> None:
    """Negative control: the line is the document's (a changed value or key order reads differently)."""
    document: dict[str, Any] = {"_aws": {"Timestamp": WHEN}, "RatingsAccepted": [1.0]}
    assert emf_line(document) == json.dumps(document, separators=(",", ":"))
    assert emf_line({**document, "RatingsAccepted": [2.0]}) != json.dumps(document, separators=(",", ":"))


def test_the_functions_metrics_flush_with_it(capsys: pytest.CaptureFixture[str]) -> None:
    from functions.edge.telemetry import metrics

    assert isinstance(metrics.provider, OrjsonEMFProvider)
    metrics.add_metric(name="RatingsAccepted", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()
    line = json.loads(capsys.readouterr().out)
    assert line["RatingsAccepted"] == [1.0] and line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "HcpHub"

"""The local cloud's DynamoDB stream mappings (infra/localcloud/streams.py): taken out of what moto deploys,
filtered as Lambda filters, retried from the first failed record."""

from __future__ import annotations

from infra.localcloud.streams import failed_from, matches, take_stream_mappings
from infra.localcloud.translate import translate
from tests.conftest import ROOT

RATING_ONLY = {"dynamodb": {"Keys": {"sk": {"S": ["RATING"]}}}}


def record(sk: str) -> dict:
    return {"eventID": "1", "dynamodb": {"Keys": {"pk": {"S": "x"}, "sk": {"S": sk}}, "SequenceNumber": "1"}}


def test_the_template_s_stream_mappings_are_played_locally_not_by_moto() -> None:
    cfn = translate(ROOT / "template.yaml").cloudformation
    left, mappings = take_stream_mappings(cfn)
    assert {(m.function, m.table) for m in mappings} == {
        ("ReportingFunction", "RatingsTable"), ("ReportingFunction", "WorkOrdersTable")}  # fmt: skip
    assert all(m.report_batch_item_failures and m.batch_size == 100 for m in mappings)
    assert all(m.batching_window == 1.0 for m in mappings)  # MaximumBatchingWindowInSeconds, kept by the poller
    assert not [r for r in left["Resources"].values() if r["Type"] == "AWS::Lambda::EventSourceMapping"
                and "StreamArn" in str(r["Properties"]["EventSourceArn"])]  # fmt: skip
    assert any(r["Type"] == "AWS::Lambda::EventSourceMapping" for r in left["Resources"].values())  # SQS stays


def test_a_filter_lets_only_the_named_items_through() -> None:
    assert matches(RATING_ONLY, record("RATING"))
    assert not matches(RATING_ONLY, record("DUP"))
    assert not matches(RATING_ONLY, {"dynamodb": {}})


def test_a_batch_is_retried_from_its_lowest_failed_record_and_a_bad_report_retries_it_all() -> None:
    numbers = ["10", "11", "12", "13"]
    assert failed_from(None, numbers) is None
    assert failed_from({"batchItemFailures": []}, numbers) is None
    assert failed_from({"batchItemFailures": [{"itemIdentifier": "13"}, {"itemIdentifier": "11"}]}, numbers) == 1
    assert failed_from({"batchItemFailures": [{"itemIdentifier": "99"}]}, numbers) == 0

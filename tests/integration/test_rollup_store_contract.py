"""The RollupStore contract over the DynamoDB adapter (moto, the template's RollupsTable) and its fake, and the
reporting function on moto: a stream batch with a re-delivered record and a record that fails (R19)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from hub.rating import Channel, EvaluationType, Grade
from hub.reports.cells import CellKey, Dim, RatingFacts, cell_key, rating_change
from hub.reports.ports import Cell, RebuiltPartition, RollupStore
from hub.tags import TagCode
from infra.memory import InMemoryRollupStore
from infra.rollup_store import DynamoRollupStore
from tests.integration.test_stores_contract import REGION, fake_credentials, template_resources

NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")
COUNTY, AGENCY = "360704000000", "11360704MB1C000102"


def create_rollups_table(dynamodb: Any, name: str = "rollups") -> str:
    props = template_resources()["RollupsTable"]["Properties"]
    dynamodb.create_table(
        TableName=name, BillingMode=props["BillingMode"],
        **{k: props[k] for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")},
    )  # fmt: skip
    return name


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    fake_credentials(monkeypatch)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_rollups_table(client)
        yield client


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> RollupStore:
    if request.param == "memory":
        return InMemoryRollupStore()
    return DynamoRollupStore(request.getfixturevalue("dynamodb"), "rollups")


def facts(n: int, grade: Grade = Grade.SATISFIED, **changes: Any) -> RatingFacts:
    base = RatingFacts(
        rating_id=f"r{n}", rated_at=NOW, region_code=COUNTY, agency_code=AGENCY, channel=Channel.WINDOW,
        evaluation_type=EvaluationType.ACTIVE, grade=grade, agency_name="赣县区市场监督管理局", staff_id="GX0231",
        staff_name="李四", hall="赣县区#1 中心", window_no="A12", tags=(),
    )  # fmt: skip
    return replace(base, **changes)


def summary(store: RollupStore, period: str = "2026-11") -> Cell | None:
    key = cell_key(period, COUNTY, AGENCY, Dim.SUMMARY)
    return next((c for c in store.query(key.pk, key.sk) if c.key == key), None)


def test_a_change_is_applied_once_with_its_labels(store: RollupStore) -> None:
    change = rating_change("c1", None, facts(1))
    assert store.apply(change) is True
    assert store.apply(change) is False  # the marker: a re-delivery adds nothing
    cell = summary(store)
    assert cell is not None and cell.label == "赣县区市场监督管理局"
    assert {k: v for k, v in cell.counters.items() if v} == {"g.satisfied": 1, "act": 1}


def test_deltas_add_up_and_a_shift_leaves_a_zero(store: RollupStore) -> None:
    store.apply(rating_change("c1", None, facts(1)))
    store.apply(rating_change("c2", None, facts(2, Grade.DISSATISFIED)))
    store.apply(rating_change("c3", facts(2, Grade.DISSATISFIED), facts(2, Grade.DISSATISFIED, adopted=False)))
    cell = summary(store)
    assert cell is not None
    assert {k: v for k, v in cell.counters.items() if v} == {"g.satisfied": 1, "act": 1, "na": 1}


def test_a_partition_is_queried_by_prefix_in_key_order_and_a_hash_in_a_key_survives(store: RollupStore) -> None:
    store.apply(rating_change("c1", None, facts(1)))
    pk = cell_key("2026-11", COUNTY, AGENCY, Dim.SUMMARY).pk
    dims = [c.key.dim for c in store.query(pk)]
    assert dims == sorted(dims) and set(dims) == {Dim.SUMMARY, Dim.CHANNEL, Dim.WINDOW, Dim.STAFF}
    [window] = store.query(pk, f"{Dim.WINDOW}#")
    assert window.key.key == "赣县区%231 中心/A12" and window.label == "赣县区#1 中心 A12"


def test_an_agency_finds_its_counties_through_its_summary_cells(store: RollupStore) -> None:
    store.apply(rating_change("c1", None, facts(1)))
    store.apply(rating_change("c2", None, facts(2, region_code="360702000000")))
    keys = store.agency_partitions("2026-11", AGENCY)
    assert [(k.county, k.dim) for k in keys] == [("360702", Dim.SUMMARY), ("360704", Dim.SUMMARY)]
    assert store.agency_partitions("2026-11", "11360704MB1C00010X") == []


def test_replace_leaves_exactly_the_rebuilt_cells(store: RollupStore) -> None:
    store.apply(rating_change("c1", None, facts(1)))
    pk = cell_key("2026-11", COUNTY, AGENCY, Dim.SUMMARY).pk
    key = CellKey(pk, f"{Dim.SUMMARY}#360704#{AGENCY}#-")
    store.replace(RebuiltPartition(pk, (Cell(key, {"g.very_satisfied": 2}, "名称"),)))
    [cell] = store.query(pk)
    assert (cell.key, dict(cell.counters), cell.label) == (key, {"g.very_satisfied": 2}, "名称")
    assert [k.sk for k in store.agency_partitions("2026-11", AGENCY)] == [key.sk]


def test_the_transaction_holds_the_marker_and_one_update_per_cell(dynamodb: Any) -> None:
    store = DynamoRollupStore(dynamodb, "rollups")
    sent: list[dict[str, Any]] = []
    dynamodb.meta.events.register("provide-client-params.dynamodb.TransactWriteItems",
                                  lambda params, **_: sent.append(params))  # fmt: skip
    change = rating_change("c1", None, facts(1, Grade.DISSATISFIED, tags=(TagCode.STAFF_ATTITUDE,)))
    store.apply(change)
    [params] = sent
    kinds = [next(iter(item)) for item in params["TransactItems"]]
    assert kinds == ["Put"] + ["Update"] * (change.items - 1) and change.items == 1 + 2 * 5
    assert params["TransactItems"][0]["Put"]["ConditionExpression"] == "attribute_not_exists(pk)"


# --------------------------------------------------------------------------------------------------
# The function, on moto: a stream batch as Lambda delivers it


def stream_record(event_id: str, new: dict[str, Any] | None, old: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"Keys": {"pk": {"S": "RATING#r1"}, "sk": {"S": "RATING"}},
                            "SequenceNumber": event_id, "StreamViewType": "NEW_AND_OLD_IMAGES"}  # fmt: skip
    if new is not None:
        body["NewImage"] = new
    if old is not None:
        body["OldImage"] = old
    return {"eventID": event_id, "eventName": "INSERT" if old is None else "MODIFY", "eventSource": "aws:dynamodb",
            "awsRegion": REGION, "dynamodb": body, "eventSourceARN": "arn:aws:dynamodb:cn-north-1:1:table/r/stream/x"}


def rating_image(sample: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"pk": {"S": "RATING#r1"}, "sk": {"S": "RATING"}, "rating": {"S": json.dumps(sample, ensure_ascii=False)},
            "rater": {"B": "c2VhbGVk"}, **extra}  # fmt: skip


def test_the_function_counts_a_redelivered_record_once_and_reports_a_bad_one_alone(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions import reporting
    from tests.lambda_context import LambdaContext

    monkeypatch.setenv("ROLLUPS_TABLE", "rollups")
    rating = {
        "rating_id": "r1", "source": {"connector_id": "c", "kind": "kiosk", "source_rating_id": "1",
                                      "received_at": "2026-11-28T12:00:00+08:00"},
        "case": {"case_no": "K1"}, "target": {"agency_code": AGENCY, "region_code": COUNTY},
        "channel": "kiosk", "grade": "satisfied", "rated_at": "2026-11-28T11:00:00+08:00",
    }  # fmt: skip
    good = stream_record("e1", rating_image(rating))
    broken = stream_record("e2", {"pk": {"S": "RATING#r2"}, "sk": {"S": "RATING"}, "rating": {"S": "{not json"}})
    event = {"Records": [good, broken, good]}
    answer = reporting.handler(event, LambdaContext("ReportingFunction", 1024))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "e2"}]}  # retried alone, from its sequence number
    cell = summary(DynamoRollupStore(dynamodb, "rollups"))
    assert cell is not None and cell.counters["g.satisfied"] == 1

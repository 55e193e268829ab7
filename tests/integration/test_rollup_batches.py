"""A stream batch's rollup changes merged into one transaction (issue 15 item 5), over the fake and DynamoDB (moto),
and the reporting function taking a batch together: each change still counted exactly once (R19)."""

from __future__ import annotations

from typing import Any

import pytest

from hub.rating import Grade
from hub.reports.cells import merged, rating_change
from hub.reports.ports import RollupStore
from hub.reports.rollups import RollupService
from infra.rollup_store import DynamoRollupStore
from tests.integration.test_rollup_store_contract import (  # noqa: F401  (fixtures)
    dynamodb,
    facts,
    rating_image,
    store,
    stream_record,
    summary,
)


def test_a_batch_writes_each_cell_once_with_a_marker_per_change_R19(store: RollupStore) -> None:  # noqa: F811
    changes = [rating_change(f"c{n}", None, facts(n)) for n in range(10)]
    [together] = merged(changes)
    assert together.change_ids == tuple(f"c{n}" for n in range(10))
    assert together.items == 10 + len(changes[0].deltas)  # ten markers, the cells once (not ten times)
    applied = RollupService(store).applied_together(changes)
    assert applied is not None and sum(a.items for a in applied) == together.items
    cell = summary(store)
    assert cell is not None and cell.counters["g.satisfied"] == 10
    # a re-delivery of any one of them, alone or in another batch, meets its marker and adds nothing
    assert store.apply(changes[3]) is False
    assert RollupService(store).applied_together([changes[3], rating_change("c99", None, facts(99))]) is None
    cell = summary(store)
    assert cell is not None and cell.counters["g.satisfied"] == 10


def test_merging_counts_a_repeated_change_once_and_keeps_a_shift_as_a_zero_sum() -> None:
    first = rating_change("c1", None, facts(1))
    shift = rating_change("c2", facts(1), facts(1, Grade.DISSATISFIED))
    [together] = merged([first, first, shift])
    assert together.change_ids == ("c1", "c2")
    bags = {k.sk.split("#", 1)[0]: dict(v) for k, v in together.deltas.items()}
    assert bags["_"] == {"g.dissatisfied": 1, "act": 1}  # satisfied +1 -1 is dropped, not written as 0


def test_a_batch_too_big_for_one_transaction_is_split() -> None:
    changes = [rating_change(f"c{n}", None, facts(n, staff_id=f"S{n}")) for n in range(40)]
    parts = merged(changes)
    assert len(parts) > 1 and all(p.items <= 100 for p in parts)
    assert sum(len(p.change_ids) for p in parts) == 40


def test_the_function_takes_a_batch_in_one_transaction_and_a_redelivered_one_record_by_record(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    from functions import reporting
    from tests.lambda_context import LambdaContext

    monkeypatch.setenv("ROLLUPS_TABLE", "rollups")
    sent: list[int] = []
    dynamodb.meta.events.register("provide-client-params.dynamodb.TransactWriteItems",
                                  lambda params, **_: sent.append(len(params["TransactItems"])))  # fmt: skip
    monkeypatch.setattr(reporting, "_service", lambda: RollupService(DynamoRollupStore(dynamodb, "rollups")))
    rating = {
        "rating_id": "r1", "source": {"connector_id": "c", "kind": "kiosk", "source_rating_id": "1",
                                      "received_at": "2026-11-28T12:00:00+08:00"},
        "case": {"case_no": "K1"}, "target": {"agency_code": facts(1).agency_code, "region_code": facts(1).region_code},
        "channel": "kiosk", "grade": "satisfied", "rated_at": "2026-11-28T11:00:00+08:00",
    }  # fmt: skip
    records = [stream_record(f"e{n}", rating_image({**rating, "rating_id": f"r{n}"})) for n in range(5)]
    assert reporting.handler({"Records": records}, LambdaContext("ReportingFunction", 1024)) == {
        "batchItemFailures": []
    }
    assert len(sent) == 1 and sent[0] == 5 + 4  # five markers, the four cells (summary, channel x day, month) once
    # Lambda retries the batch from its third record (a timeout, say), with two new ones
    again = records[2:] + [stream_record(f"e{n}", rating_image({**rating, "rating_id": f"r{n}"})) for n in (5, 6)]
    assert reporting.handler({"Records": again}, LambdaContext("ReportingFunction", 1024)) == {
        "batchItemFailures": []
    }
    cell = summary(DynamoRollupStore(dynamodb, "rollups"))
    assert cell is not None and cell.counters["g.satisfied"] == 7  # not 10: e2..e4 counted once

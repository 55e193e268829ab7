"""`hcp ops backfill-next-due` over DynamoDB in moto (the template's ratings table): ratings stored before the
sweep's `by_next_due` index existed get their next-due time, so the sweep finds them; paged, resumable, and a
re-run changes nothing (issue 16, R9)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from cli.main import main
from infra.backfill import backfill_next_due_page
from infra.memory import InMemorySealer
from infra.rating_store import DynamoRatingStore
from tests.integration.test_stores_contract import NOW, aws, make_rating  # noqa: F401  (aws: the fixture)


def hcp(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else {}, err.splitlines()


def test_ratings_stored_before_the_due_index_are_backfilled_once_and_the_sweep_finds_them_R9(
    aws: dict[str, Any], capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    client, table = aws["dynamodb"], aws["RatingsTable"]
    store = DynamoRatingStore(client, table, sealer=InMemorySealer())
    ratings = [make_rating(f"B-{i}", case_no=f"GB{i}", received_at=NOW + timedelta(minutes=i)) for i in range(7)]
    for rating in ratings:
        store.put_new(rating, "raw/1")
    later = NOW + timedelta(hours=1)
    store.mark_forwarded(ratings[5].rating_id, "receipt-5", at=later)
    store.record_attempt(ratings[6].rating_id, at=later, next_due=later + timedelta(hours=2), counted=False)
    # GIVEN five pending ratings as stored before `by_next_due` (no next_due_at), one of them dead-lettered then
    old = [r.rating_id for r in ratings[:5]]
    for rating_id in old:
        client.update_item(TableName=table, Key={"pk": {"S": f"RATING#{rating_id}"}, "sk": {"S": "RATING"}},
                           UpdateExpression="REMOVE next_due_at")  # fmt: skip
    client.update_item(TableName=table, Key={"pk": {"S": f"RATING#{old[4]}"}, "sk": {"S": "RATING"}},
                       UpdateExpression="SET dead_letter_reason = :r",
                       ExpressionAttributeValues={":r": {"S": "5 failures the province gave"}})  # fmt: skip
    assert list(store.due_for_sweep(later, 100)[0]) == []  # the sweep cannot see them: a lost message stays lost
    # WHEN a run is cut short after its first pages of 2 items read (a scan: rating, DUP and PERSON items),
    # once it has given some their due time, and resumed from the cursor it printed
    first = backfill_next_due_page(client, table, page=2)
    done, left = first.updated, first.skipped
    while done == 0 and first.cursor is not None:
        first = backfill_next_due_page(client, table, page=2, cursor=first.cursor)
        done, left = done + first.updated, left + first.skipped
    assert done >= 1 and first.cursor is not None
    code, total, progress = hcp(capsys, "ops", "backfill-next-due", "--table", table, "--page", "2",
                                "--from", first.cursor)  # fmt: skip
    # THEN every pending one is due from when it was stored, the dead-lettered one is left for its redrive
    assert code == 0 and total["updated"] + done == 4 and total["left_alone"] + left == 1  # the dead-lettered
    assert progress and all(line.startswith("page: read ") for line in progress) and progress[-1].endswith("done")
    assert "--from " in progress[0]
    assert sorted(store.due_for_sweep(later, 100)[0]) == sorted(old[:4])
    assert store.get(old[0]).next_due_at == store.get(old[0]).stored_at
    # ... and a second run changes nothing
    code, again, _ = hcp(capsys, "ops", "backfill-next-due", "--table", table)
    assert code == 0 and (again["updated"], again["left_alone"]) == (0, 1)
    # ... nor does a cursor that is not one
    assert hcp(capsys, "ops", "backfill-next-due", "--table", table, "--from", "not-a-cursor")[0] == 2

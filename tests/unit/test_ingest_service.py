"""The ingest use case over the in-memory fakes and the real normalizer: order, outcomes, nothing lost."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cli.normalize_cmd import content_type_for
from connectors.registry import adapter_for
from hub.errors import Refused
from hub.ports import Connector
from infra.bootstrap import in_memory_ingest
from tests.conftest import SAMPLES

NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")
UNIFIED = adapter_for("unified")


def unified(source_id: str = "U-1", **changes: Any) -> dict[str, Any]:
    rating: dict[str, Any] = {
        "source_rating_id": source_id,
        "case": {"case_no": "GX2026112700045", "handled_at": "2026-11-27T16:02:11+08:00"},
        "target": {"agency_code": "11360704MB1C000102", "region_code": "360704000000"},
        "channel": "web",
        "grade": "dissatisfied",
        "tags": ["ITEM_MATERIALS"],
        "rater": {"phone": "13907970001"},
        "rated_at": "2026-11-28T10:21:33+08:00",
    }
    rating.update(changes)
    return rating


@pytest.fixture
def hub() -> Any:
    services, fakes = in_memory_ingest()
    connector, _ = fakes["connectors"].create("unified", "portal", "数据局", now=NOW)

    class Hub:
        def __init__(self) -> None:
            self.service = services.service
            self.connector: Connector = connector
            self.__dict__.update(fakes)

        def post(self, body: bytes | Any, adapter: Any = UNIFIED, content_type: str = "application/json",
                 request_id: str = "req-1", now: datetime = NOW) -> Any:  # fmt: skip
            raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
            return self.service.ingest(self.connector, adapter, raw, content_type, request_id, now)

    return Hub()


def test_an_accepted_rating_is_archived_stored_and_queued(hub: Any) -> None:
    report = hub.post(unified())
    [result] = report.results
    assert result.outcome == "accepted"
    assert hub.queue.rating_ids() == [result.rating_id]
    stored = hub.ratings.get(result.rating_id)
    assert stored.forward_state == "pending" and stored.raw_ref == report.raw_ref
    assert report.raw_ref == f"raw/{hub.connector.connector_id}/2026/11/28/req-1"
    assert json.loads(hub.archive.get(report.raw_ref)[0]) == unified()


def test_a_repost_is_a_duplicate_and_is_queued_once(hub: Any) -> None:
    first = hub.post(unified(), request_id="a")
    again = hub.post(unified(), request_id="b", now=NOW + timedelta(minutes=1))
    assert [r.outcome for r in again.results] == ["duplicate"]
    assert again.results[0].rating_id == first.results[0].rating_id
    assert len(hub.queue.messages) == 1 and len(hub.ratings) == 1


def test_the_same_source_id_with_other_content_is_a_conflict_and_the_original_stays(hub: Any) -> None:
    first = hub.post(unified())
    other = hub.post(unified(grade="very_dissatisfied"))
    [result] = other.results
    assert result.outcome == "conflict" and [e.code for e in result.errors] == ["RATING_CONFLICT"]
    assert hub.ratings.get(first.results[0].rating_id).rating.grade == "dissatisfied"
    assert len(hub.queue.messages) == 1


def test_a_second_rating_for_the_same_case_is_a_conflict_R8(hub: Any) -> None:
    hub.post(unified("U-1"))
    [second] = hub.post(unified("U-2", grade="satisfied", tags=[])).results
    assert second.outcome == "conflict"
    assert [(e.code, e.rule) for e in second.errors] == [("ALREADY_RATED", "R8")]
    assert len(hub.ratings) == 1


def test_an_additional_rating_and_another_step_each_have_their_own_slot_R8(hub: Any) -> None:
    hub.post(unified("U-1"))
    report = hub.post([
        unified("U-2", evaluation_type="additional", rated_at="2026-11-28T11:00:00+08:00"),
        unified("U-3", case={"case_no": "GX2026112700045", "step": "受理"}),
    ])  # fmt: skip
    assert [r.outcome for r in report.results] == ["accepted", "accepted"]


def test_a_batch_answers_by_index_and_stores_only_what_is_valid(hub: Any) -> None:
    report = hub.post([unified("U-1"), unified("U-2", grade="bad"), unified("U-3", case={"case_no": "GX2"})])
    assert [(r.index, r.outcome) for r in report.results] == [(0, "accepted"), (1, "rejected"), (2, "accepted")]
    [error] = report.results[1].errors
    assert (error.code, error.path, error.rule) == ("GRADE_UNKNOWN", "grade", "R1")
    assert len(hub.ratings) == 2 and len(hub.queue.messages) == 2
    assert report.counts() == {"accepted": 2, "rejected": 1}


def test_a_rejected_sample_is_not_stored_and_says_why_R2(hub: Any) -> None:
    sample = SAMPLES / "vertical_system" / "03-bad-no-reason.json"
    report = hub.post(sample.read_bytes(), adapter_for("vertical_system"), content_type_for(sample))
    [result] = report.results
    assert result.outcome == "rejected" and "R2" in {e.rule for e in result.errors}
    assert len(hub.ratings) == 0 and hub.queue.messages == []


@pytest.mark.parametrize(
    "sample",
    sorted(p for p in SAMPLES.glob("*/*") if p.parent.name not in ("cases",) and ".expected." not in p.name
           and p.name != "README.md"),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)  # fmt: skip
def test_every_sample_comes_out_as_expected(hub: Any, sample: Path) -> None:
    expected = json.loads((sample.parent / f"{sample.name.split('.')[0]}.expected.json").read_text("utf-8"))
    report = hub.post(sample.read_bytes(), adapter_for(sample.parent.name), content_type_for(sample))
    assert [r.outcome for r in report.results] == [expected["outcome"]]
    assert len(hub.ratings) == (1 if expected["outcome"] == "accepted" else 0)


def test_an_unreadable_body_is_refused_after_it_is_archived(hub: Any) -> None:
    with pytest.raises(Refused) as refused:
        hub.post(b'{"source_rating_id": ', request_id="broken")
    assert [p.code for p in refused.value.problems] == ["BODY_MALFORMED"]
    assert list(hub.archive.objects) == [f"raw/{hub.connector.connector_id}/2026/11/28/broken"]
    assert len(hub.ratings) == 0 and hub.queue.messages == []


def test_a_queue_outage_leaves_stored_ratings_pending_for_the_sweep(hub: Any) -> None:
    hub.queue.unavailable = True
    report = hub.post([unified("U-1"), unified("U-2", case={"case_no": "GX2"})])
    ids = [r.rating_id for r in report.results]
    assert [r.outcome for r in report.results] == ["accepted", "accepted"]
    assert list(report.not_queued) == ids
    assert sorted(hub.ratings.due_for_sweep(NOW + timedelta(minutes=5), 10)[0]) == sorted(ids)


def test_the_archive_day_is_the_day_in_china(hub: Any) -> None:
    late_utc = datetime.fromisoformat("2026-11-27T17:30:00+00:00")  # 01:30 on the 28th in Beijing
    report = hub.post(unified(rated_at="2026-11-28T01:00:00+08:00"), request_id="r/1", now=late_utc)
    assert report.raw_ref == f"raw/{hub.connector.connector_id}/2026/11/28/r_1"

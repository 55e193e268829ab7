"""One source of truth: schemas/ is generated from the models, and what the hub emits validates against it."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from jsonschema import Draft202012Validator

from cli.normalize_cmd import content_type_for
from cli.schema_cmd import SCHEMA_DIR, all_schemas, render
from connectors.normalize import normalize
from connectors.registry import adapter_for
from hub.calendar import WorkingDayCalendar
from hub.case_notice import CaseNotice
from hub.tags import TAGS
from tests.conftest import SAMPLES, sample_files

NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")


@pytest.mark.parametrize("name", sorted(all_schemas()))
def test_committed_schema_matches_the_models(name: str) -> None:
    committed = SCHEMA_DIR / name
    assert committed.exists(), f"schemas/{name} is missing: run `hcp schema export`"
    assert committed.read_text("utf-8") == render(all_schemas()[name]), (
        f"schemas/{name} drifted from the models: run `hcp schema export` and commit"
    )


def test_no_stale_schema_files() -> None:
    assert {p.name for p in SCHEMA_DIR.glob("*.json")} == set(all_schemas())


@pytest.mark.parametrize("name", sorted(all_schemas()))
def test_every_schema_is_a_valid_draft_2020_12_schema(name: str) -> None:
    Draft202012Validator.check_schema(json.loads((SCHEMA_DIR / name).read_text("utf-8")))


@pytest.mark.parametrize(
    "sample", [p for p in sample_files() if p.parent.name != "cases"], ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_every_accepted_sample_validates_against_rating_json(sample) -> None:
    validator = Draft202012Validator(json.loads((SCHEMA_DIR / "rating.json").read_text("utf-8")))
    outcomes = normalize(
        adapter_for(sample.parent.name), sample.read_bytes(), content_type_for(sample),
        connector_id="t", received_at=NOW, now=NOW, calendar=WorkingDayCalendar(),
    )  # fmt: skip
    for outcome in outcomes:
        if outcome.rating is not None:
            errors = list(validator.iter_errors(outcome.rating.model_dump(mode="json")))
            assert not errors, [e.message for e in errors]


def test_the_case_notice_sample_validates_against_case_json_and_the_model() -> None:
    notice = json.loads((SAMPLES / "cases" / "01-completed-no-rating.json").read_text("utf-8"))
    Draft202012Validator(json.loads((SCHEMA_DIR / "case.json").read_text("utf-8"))).validate(notice)
    assert CaseNotice.model_validate(notice).handled_at.isoformat() == "2026-11-27T16:40:00+08:00"


def test_tag_dictionary_publishes_every_code_with_chinese_labels() -> None:
    published = json.loads((SCHEMA_DIR / "tags.json").read_text("utf-8"))["tags"]
    assert [t["code"] for t in published] == [t.code.value for t in TAGS]
    assert all(t["negative_zh"] and t["positive_zh"] and t["dimension_zh"] for t in published)

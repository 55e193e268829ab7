"""Every sample in ../shared/samples normalizes to what its .expected.json requires."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from cli.normalize_cmd import content_type_for
from connectors.normalize import normalize
from connectors.registry import adapter_for
from hub.calendar import WorkingDayCalendar
from hub.rating import Rating
from tests.conftest import expected_for, sample_files

NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")
RATING_SAMPLES = [p for p in sample_files() if p.parent.name != "cases"]


def assert_subset(expected: Any, actual: Any, path: str = "rating") -> None:
    """Every key the expectation names has the expected value; None also matches an absent field."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        for key, value in expected.items():
            if value is None:
                assert actual.get(key) is None, f"{path}.{key}: expected null, got {actual.get(key)!r}"
            else:
                assert key in actual, f"{path}.{key} is missing"
                assert_subset(value, actual[key], f"{path}.{key}")
    else:
        assert actual == expected, f"{path}: expected {expected!r}, got {actual!r}"


def normalize_sample(sample: Path) -> list[Any]:
    return normalize(
        adapter_for(sample.parent.name), sample.read_bytes(), content_type_for(sample),
        connector_id="test", received_at=NOW, now=NOW, calendar=WorkingDayCalendar(),
    )  # fmt: skip


def test_every_family_has_samples() -> None:
    assert {p.parent.name for p in RATING_SAMPLES} >= {"vertical_system", "kiosk", "intermediary", "window_device"}


@pytest.mark.parametrize("sample", RATING_SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sample_normalizes_as_expected(sample: Path) -> None:
    expected = expected_for(sample)
    [outcome] = normalize_sample(sample)
    assert outcome.outcome == expected["outcome"], [p.as_dict() for p in outcome.problems]
    if expected["outcome"] == "accepted":
        assert_subset(expected["rating"], outcome.rating.model_dump(mode="json"))
    else:
        rules = {p.rule for p in outcome.problems}
        for error in expected["errors"]:
            assert error["rule"] in rules
        for p in outcome.problems:
            assert p.code and p.path and p.message and p.message_zh


def test_kiosk_labels_map_to_dictionary_tags() -> None:
    [outcome] = normalize_sample(next(p for p in RATING_SAMPLES if p.parent.name == "kiosk"))
    assert outcome.rating.tags == ["PLATFORM_STABILITY", "ITEM_EFFICIENCY"]
    assert outcome.rating.is_bad  # a work order will be created (R10)


def test_window_device_rates_staff_and_maps_reason_codes_R4() -> None:
    [outcome] = normalize_sample(next(p for p in RATING_SAMPLES if p.parent.name == "window_device"))
    rating = outcome.rating
    assert rating.staff_grade == "very_dissatisfied"
    assert rating.tags == ["STAFF_ATTITUDE", "ITEM_EFFICIENCY"]  # 03, 07 (07 and 01 are one tag)
    assert rating.target.staff.name == "李四"


def test_window_device_sends_its_hall_and_window_number_for_window_reports_R19() -> None:
    [outcome] = normalize_sample(next(p for p in RATING_SAMPLES if p.parent.name == "window_device"))
    assert (outcome.rating.target.hall, outcome.rating.target.window_no) == ("赣县区政务服务中心", "A12")


def test_a_source_without_a_window_leaves_the_window_unset() -> None:
    [outcome] = normalize_sample(next(p for p in RATING_SAMPLES if p.parent.name == "kiosk"))
    assert (outcome.rating.target.hall, outcome.rating.target.window_no) == (None, None)


def test_gbk_xml_chinese_text_survives() -> None:
    [outcome] = normalize_sample(next(p for p in RATING_SAMPLES if p.suffix == ".xml"))
    assert outcome.rating.case.service_name == "城乡居民基本养老保险参保登记"
    assert outcome.rating.target.agency_name == "赣州市赣县区人力资源和社会保障局"


def test_intermediary_keeps_provider_and_supervisor_and_unchecked_purchaser_code() -> None:
    [outcome] = normalize_sample(next(p for p in RATING_SAMPLES if p.parent.name == "intermediary"))
    target = outcome.rating.target
    assert target.provider.credit_code == "91360702MA35XY7K1U"
    assert target.agency_code == "11360704MB1C000607"
    assert outcome.rating.rater.credit_code == "91360721MA3A1B2C3D"  # invalid check char, kept, not a key
    assert not outcome.rating.is_bad


def test_realname_rater_personal_data_is_kept_for_encryption_R20() -> None:
    [outcome] = normalize_sample(next(p for p in RATING_SAMPLES if p.name.startswith("01-bad-realname")))
    rater = outcome.rating.rater
    assert (rater.phone, rater.id_no, rater.real_name) == ("13907970001", "360721198501011233", True)


def test_rating_id_is_deterministic_per_connector_and_source_id() -> None:
    sample = RATING_SAMPLES[0]
    first, again = normalize_sample(sample)[0], normalize_sample(sample)[0]
    assert first.rating.rating_id == again.rating.rating_id
    other = normalize(
        adapter_for(sample.parent.name), sample.read_bytes(), content_type_for(sample),
        connector_id="another", received_at=NOW, now=NOW, calendar=WorkingDayCalendar(),
    )[0]  # fmt: skip
    assert other.rating.rating_id != first.rating.rating_id


@pytest.mark.parametrize("sample", [p for p in RATING_SAMPLES if "no-reason" not in p.name], ids=lambda p: p.name)
def test_a_stored_rating_reads_back_equal_from_its_json(sample: Path) -> None:
    [outcome] = normalize_sample(sample)
    assert Rating.model_validate_json(outcome.rating.model_dump_json()) == outcome.rating

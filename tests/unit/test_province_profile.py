"""Province profiles (infra/province/profile.py) are refused at load, every problem at its path."""

from __future__ import annotations

import json

import pytest

from infra.province import sm2
from infra.province.profile import ProfileError, ProvinceProfile, shipped_profiles

OFF_CURVE = "04" + "11" * 64


def problems(document: dict[str, object]) -> dict[str, str]:
    with pytest.raises(ProfileError) as caught:
        ProvinceProfile.from_json(json.dumps(document))
    return dict(caught.value.problems)


def test_every_shipped_profile_loads_and_names_itself() -> None:
    for name in shipped_profiles():
        assert ProvinceProfile.load(name).name == name


def test_jiangxi_says_which_of_its_values_are_assumptions() -> None:
    jiangxi = ProvinceProfile.load("jiangxi")
    assert len(jiangxi.assumptions) >= 5 and all("not confirmed" in line for line in jiangxi.assumptions)


def test_every_problem_is_reported_at_its_path_at_once() -> None:
    found = problems({
        "name": "x", "title": "某省", "bogus": 1,
        "sm2": {"order": "C3C1C2", "province_public_key": OFF_CURVE},
        "envelope": {"kind": "epoint"},
    })  # fmt: skip
    assert "Extra inputs" in found["bogus"]
    assert "not a point of the SM2 curve" in found["sm2.province_public_key"]
    assert "C1C3C2" in found["sm2.order"]
    assert "required" in found["envelope.epoint.tenancy_id"]


def test_a_missing_key_and_an_unknown_envelope_kind_are_refused() -> None:
    assert "required" in problems({"title": "某省"})["name"]
    found = problems({"name": "x", "title": "t", "envelope": {"kind": "soap"}})
    assert any(path.startswith("envelope") for path in found)


def test_an_encrypting_envelope_without_an_sm2_section_is_refused() -> None:
    found = problems({"name": "x", "title": "t", "envelope": {"kind": "epoint", "tenancy_id": "370000"}})
    assert "needs an sm2 section" in next(iter(found.values()))


def test_a_code_outside_the_province_table_is_refused() -> None:
    found = problems({"name": "x", "title": "t", "codes": {"user_prop": {"person": "7", "company": "2"}}})
    assert "not in user_prop_table" in found["codes"]


def test_an_unknown_profile_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ProfileError, match="shandong"):
        ProvinceProfile.load("atlantis")


def test_a_valid_province_key_loads() -> None:
    key = sm2.PrivateKey.generate().public.raw().hex()
    profile = ProvinceProfile.from_json(json.dumps({"name": "x", "title": "t", "sm2": {"province_public_key": key}}))
    assert profile.sm2 is not None and profile.sm2.province_public_key == key

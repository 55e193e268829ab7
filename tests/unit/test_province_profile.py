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


def test_every_shipped_profile_fits_the_published_schema() -> None:
    """schemas/province-profile.json is what an editor checks a profile against while it is typed."""
    from pathlib import Path

    from jsonschema import Draft202012Validator

    schema = json.loads(Path("schemas/province-profile.json").read_text("utf-8"))
    validator = Draft202012Validator(schema)
    for path in Path("infra/province/profiles").glob("*.json"):
        assert not list(validator.iter_errors(json.loads(path.read_text("utf-8")))), path.name
    assert list(validator.iter_errors({"name": "x", "title": "t", "bogus": 1}))  # negative control


@pytest.mark.parametrize(("encrypt", "order"), [("records", "asn1"), ("body", "C1C2C3"), ("records", "C1C3C2")])
def test_a_plain_envelope_encrypts_and_reads_back_its_record(encrypt: str, order: str) -> None:
    from datetime import UTC, datetime

    from infra.province.profile import Codec, ProfileKeys

    province = sm2.PrivateKey.generate()
    profile = ProvinceProfile.from_json(json.dumps({
        "name": "x", "title": "t", "mapping": {"envelope": {"key": "data", "as_list": True}},
        "sm2": {"order": order, "encoding": "base64"}, "envelope": {"kind": "plain", "encrypt": encrypt},
    }))  # fmt: skip
    now = datetime(2026, 11, 28, tzinfo=UTC)
    record = {"evalId": "r1", "writingEvaluation": "办事很快"}
    body, _ = Codec(profile, ProfileKeys(province.public)).encode_request(
        [record], "evaluate", app_mark="a", app_word="w", now=now
    )
    assert "办事很快" not in body.decode()
    reader = Codec(profile, ProfileKeys(decrypt_with=province))
    assert reader.decode_request(body, {}, "evaluate", app_mark="a", app_word="w", now=now) == [record]
    other = Codec(profile, ProfileKeys(decrypt_with=sm2.PrivateKey.generate()))
    with pytest.raises(ValueError, match="does not decrypt"):
        other.decode_request(body, {}, "evaluate", app_mark="a", app_word="w", now=now)

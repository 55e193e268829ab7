"""The provincial payload: every sample maps to the national push format, and the mapping is data (R9)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from cli.normalize_cmd import content_type_for
from connectors.normalize import normalize
from connectors.registry import adapter_for
from hub.calendar import WorkingDayCalendar
from hub.rating import Channel, EvaluationType, Grade, RaterType, Rating
from hub.tags import TagCode
from infra.province.mapping import (
    DEFAULT,
    MappingError,
    ProvincialMapping,
    national_record,
    to_national,
    to_provincial,
    to_record,
    unwrap,
)
from infra.province.payload import PROVINCIAL_SCHEMAS, ProvincialRating
from infra.province.signing import SignatureConfig, SignatureError, canonical_bytes, sign, signature, verify
from tests.conftest import sample_files

NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")
SCHEMA = {"$schema": "https://json-schema.org/draft/2020-12/schema", **ProvincialRating.model_json_schema()}
VALIDATOR = Draft202012Validator(SCHEMA)


@cache
def sample_ratings() -> dict[str, Rating]:
    """Every accepted sample, normalized, by `family/stem`."""
    out = {}
    for path in sample_files():
        if path.parent.name == "cases":
            continue
        outcomes = normalize(
            adapter_for(path.parent.name), path.read_bytes(), content_type_for(path),
            connector_id="test", received_at=NOW, now=NOW, calendar=WorkingDayCalendar(),
        )  # fmt: skip
        for outcome in outcomes:
            if outcome.rating is not None:
                out[f"{path.parent.name}/{path.name.split('.')[0]}"] = outcome.rating
    return out


def rating(name: str, **changes: Any) -> Rating:
    """A sample rating with some fields changed (None: removed), validated again (so the rules still hold)."""
    data = sample_ratings()[name].model_dump(mode="json", exclude_none=True)
    data.update(changes)
    return Rating.model_validate({key: value for key, value in data.items() if value is not None})


def assert_valid(record: dict[str, Any]) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(record)]
    assert not errors, errors


# --- every sample -------------------------------------------------------------------------------------

EXPECTED: dict[str, dict[str, str]] = {
    "kiosk/01-dissatisfied-labels": {
        "projectNo": "K20261128093011", "deptCode": "11360704MB1C000405", "areaCode": "360704000000",
        "pf": "5", "satisfaction": "2", "evalDetail": "PLATFORM_STABILITY,ITEM_EFFICIENCY",
        "assessTime": "2026-11-28 09:30:00", "handleTime": "2026-11-28 09:20:00",
        "assessNumber": "1", "userProp": "1", "realName": "0", "isDefault": "0",
    },
    "vertical_system/01-bad-realname": {
        "projectNo": "GX2026112700045", "pf": "1", "satisfaction": "2", "evalDetail": "ITEM_MATERIALS,STAFF_ATTITUDE",
        "writingEvaluation": "材料要求重复提交，窗口说法不一致", "assessTime": "2026-11-28 10:21:33",
        "realName": "1", "userProp": "1",
    },
    "vertical_system/02-good-township": {
        "projectNo": "GX2026112700046", "areaCode": "360704101000", "pf": "2", "satisfaction": "5",
        "deptName": "赣州市赣县区人力资源和社会保障局", "assessTime": "2026-11-28 09:05:00", "realName": "0",
    },
    "window_device/01-very-bad-staff": {
        "projectNo": "GX2026112800051", "pf": "4", "satisfaction": "1", "staffSatisfaction": "1",
        "staffId": "GX0231", "staffName": "李四", "evalDetail": "STAFF_ATTITUDE,ITEM_EFFICIENCY",
        "assessTime": "2026-11-28 10:22:33",
    },
    "intermediary/01-company-stars": {
        "projectNo": "ZJCS-2026-113358", "pf": "1", "satisfaction": "3", "userProp": "2",
        "writingEvaluation": "报告质量一般，进度比约定晚了两天", "assessTime": "2026-11-28 11:15:00",
    },
}  # fmt: skip


def test_every_accepted_sample_has_an_expectation() -> None:
    assert set(sample_ratings()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_maps_to_the_national_push_format(name: str) -> None:
    source = sample_ratings()[name]
    wire = to_provincial(source)
    assert {key: wire.get(key) for key in EXPECTED[name]} == EXPECTED[name]
    assert wire["evalId"] == source.rating_id
    assert_valid(wire)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_rater_identity_leaves_by_default(name: str) -> None:
    """R20: phones, ID numbers, names and credit codes of raters stay home, real-name or not."""
    source = sample_ratings()[name]
    wire = to_provincial(source)
    assert not {"userName", "mobile", "userCert"} & set(wire)
    text = json.dumps(wire, ensure_ascii=False)
    for secret in (source.rater.phone, source.rater.id_no, source.rater.credit_code, source.rater.name):
        assert not secret or secret not in text


def test_the_vertical_systems_own_national_fields_come_back_unchanged() -> None:
    """The inbound national format and the outbound default agree: a vertical system's push, mapped back."""
    raw = json.loads(next(p for p in sample_files() if p.name == "01-bad-realname.json").read_text("utf-8"))["params"]
    wire = to_provincial(sample_ratings()["vertical_system/01-bad-realname"])
    shared = set(wire) & set(raw) - {"areaCode", "realName"}
    assert shared >= {"projectNo", "taskCode", "deptCode", "pf", "satisfaction", "evalDetail", "assessTime"}
    assert {k: wire[k] for k in shared} == {k: raw[k] for k in shared}
    assert wire["areaCode"] == raw["areaCode"].ljust(12, "0")


def test_the_published_schema_is_draft_2020_12_and_describes_every_field() -> None:
    schema = PROVINCIAL_SCHEMAS["provincial.json"].model_json_schema(mode="serialization")
    Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    assert all(prop.get("description") for prop in schema["properties"].values())
    types = {json.dumps(prop.get("type")) for prop in schema["properties"].values()}
    assert types == {'"string"'} and "anyOf" not in json.dumps(schema), "absent, never null"


# --- the code tables and their directions -----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_one_is_best_reverses_every_grade(name: str) -> None:
    """GB/T 39046-2020 codes 1 = 非常满意; push interfaces 5 = 非常满意. Never assume a direction."""
    gbt = ProvincialMapping(grade_scale="one_is_best")
    default, reversed_ = to_provincial(sample_ratings()[name]), to_provincial(sample_ratings()[name], gbt)
    for field in ("satisfaction", "staffSatisfaction"):
        if field in default:
            assert int(reversed_[field]) == 6 - int(default[field])
    assert_valid(reversed_)


@pytest.mark.parametrize(
    ("grade", "five_is_best", "one_is_best"),
    [("very_satisfied", "5", "1"), ("satisfied", "4", "2"), ("basically_satisfied", "3", "3"),
     ("dissatisfied", "2", "4"), ("very_dissatisfied", "1", "5")],
)  # fmt: skip
def test_grade_codes_both_ways(grade: str, five_is_best: str, one_is_best: str) -> None:
    r = rating("kiosk/01-dissatisfied-labels", grade=grade)
    assert to_provincial(r)["satisfaction"] == five_is_best
    assert to_provincial(r, ProvincialMapping(grade_scale="one_is_best"))["satisfaction"] == one_is_best


@pytest.mark.parametrize(
    ("channel", "pf"),
    [("web", "1"), ("mobile", "2"), ("qr", "3"), ("window", "4"), ("kiosk", "5"), ("phone", "6"), ("sms", "7")],
)
def test_channel_codes(channel: str, pf: str) -> None:
    assert to_provincial(rating("vertical_system/02-good-township", channel=channel))["pf"] == pf


def test_channel_codes_are_configurable_and_must_cover_every_channel() -> None:
    codes = {**{c.value: str(i) for i, c in enumerate(Channel, 1)}, "sms": "6", "phone": "8"}
    mapping = ProvincialMapping.model_validate({"channel_codes": codes})
    assert to_provincial(rating("vertical_system/02-good-township", channel="sms"), mapping)["pf"] == "6"
    with pytest.raises(ValidationError, match="channel_codes misses"):
        ProvincialMapping.model_validate({"channel_codes": {"web": "1"}})


def default_rating(**changes: Any) -> Rating:
    """R6: what the scheduler records when the window closes: 满意, marked default, no rater."""
    base = {"evaluation_type": "default", "grade": "satisfied", "tags": [], "comment": None}
    return rating("vertical_system/02-good-township", **base, rater={"type": "person"}, **changes)


def test_a_default_rating_is_flagged_by_default() -> None:
    wire = to_provincial(default_rating())
    assert (wire["isDefault"], wire["assessNumber"], wire["satisfaction"], wire["pf"]) == ("1", "1", "4", "2")
    assert to_provincial(rating("vertical_system/02-good-township"))["isDefault"] == "0"
    assert_valid(wire)


def test_a_province_that_marks_default_ratings_with_pf_7() -> None:
    mapping = ProvincialMapping.model_validate({"default_marker": {"pf": "7"}})
    wire = to_provincial(default_rating(), mapping)
    assert wire["pf"] == "7" and "isDefault" not in wire
    assert to_provincial(rating("vertical_system/02-good-township"), mapping)["pf"] == "2"
    assert_valid(wire)


def test_default_marker_must_name_provincial_fields() -> None:
    with pytest.raises(ValidationError, match="not provincial fields"):
        ProvincialMapping.model_validate({"default_marker": {"channel": "7"}})


def test_an_additional_rating_is_assess_number_2() -> None:
    r = rating("kiosk/01-dissatisfied-labels", evaluation_type="additional")
    assert to_provincial(r)["assessNumber"] == "2"


def test_tags_use_the_provinces_codes_when_it_has_its_own() -> None:
    mapping = ProvincialMapping.model_validate({"tag_codes": {"ITEM_EFFICIENCY": "05", "PLATFORM_STABILITY": "05"}})
    wire = to_provincial(sample_ratings()["kiosk/01-dissatisfied-labels"], mapping)
    assert wire["evalDetail"] == "05", "two tags on one province code are sent once"
    tags = [TagCode.ITEM_FEES, TagCode.OTHER]
    assert to_provincial(rating("kiosk/01-dissatisfied-labels", tags=tags))["evalDetail"] == "ITEM_FEES,OTHER"


def test_a_good_rating_without_tags_sends_no_eval_detail() -> None:
    assert "evalDetail" not in to_provincial(sample_ratings()["vertical_system/02-good-township"])


# --- time ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rated_at", "expected"),
    [
        ("2026-11-28T01:30:00+00:00", "2026-11-28 09:30:00"),
        ("2026-11-27T19:30:00-05:00", "2026-11-28 08:30:00"),  # another calendar day where it was given
        ("2026-11-28T10:30:00+09:00", "2026-11-28 09:30:00"),
        ("2026-11-28T09:30:00+08:00", "2026-11-28 09:30:00"),
    ],
)
def test_assess_time_is_beijing_time_whatever_the_offset(rated_at: str, expected: str) -> None:
    r = rating("kiosk/01-dissatisfied-labels", rated_at=rated_at, case={"case_no": "K1", "handled_at": None})
    assert to_provincial(r)["assessTime"] == expected


def test_time_format_is_configurable() -> None:
    r = sample_ratings()["kiosk/01-dissatisfied-labels"]
    assert to_provincial(r, ProvincialMapping(time_format="yyyyMMddHHmmss"))["assessTime"] == "20261128093000"
    epoch = to_provincial(r, ProvincialMapping(time_format="epoch_ms"))["assessTime"]
    assert int(epoch) == int(r.rated_at.timestamp() * 1000)


# --- personal data ---------------------------------------------------------------------------------------


def test_masked_personal_data_for_a_real_name_rating() -> None:
    wire = to_provincial(sample_ratings()["vertical_system/01-bad-realname"], ProvincialMapping(personal_data="masked"))
    assert (wire["userName"], wire["mobile"], wire["userCert"]) == ("王*", "139****0001", "3607**********1233")
    assert_valid(wire)


def test_clear_personal_data_only_for_real_name_ratings() -> None:
    clear = ProvincialMapping(personal_data="clear")
    wire = to_provincial(sample_ratings()["vertical_system/01-bad-realname"], clear)
    assert (wire["userName"], wire["mobile"], wire["userCert"]) == ("王五", "13907970001", "360721198501011233")
    anonymous = to_provincial(sample_ratings()["kiosk/01-dissatisfied-labels"], clear)  # has a phone, not real-name
    assert "mobile" not in anonymous


# --- renames, envelope, loading ------------------------------------------------------------------------

PROVINCE_X = {
    "renames": {"evalId": "onlyId", "satisfaction": "pj", "assessTime": "pjsj"},
    "omit": ["taskName", "deptName"],
    "envelope": {"key": "data", "as_list": True, "extra": {"version": "1.0"}},
    "time_format": "yyyyMMddHHmmss",
    "grade_scale": "one_is_best",
    "signature": {"algorithm": "md5", "canonical": "sorted_params", "encoding": "HEX"},
}


def test_renames_envelope_and_back() -> None:
    mapping = ProvincialMapping.model_validate(PROVINCE_X)
    source = sample_ratings()["kiosk/01-dissatisfied-labels"]
    body = to_provincial(source, mapping)
    assert body["version"] == "1.0"
    [record] = body["data"]
    assert (record["onlyId"], record["pj"], record["pjsj"]) == (source.rating_id, "4", "20261128093000")
    assert not {"evalId", "taskName", "deptName"} & set(record)
    [back] = [to_national(r, mapping) for r in unwrap(body, mapping)]
    assert back == national_record(source, mapping) | {"assessTime": "2026-11-28 09:30:00"} | {
        "handleTime": "2026-11-28 09:20:00"
    }
    assert_valid(back)


def test_params_envelope() -> None:
    mapping = ProvincialMapping.model_validate({"envelope": {"key": "params"}})
    source = sample_ratings()["kiosk/01-dissatisfied-labels"]
    assert to_provincial(source, mapping) == {"params": to_provincial(source)}
    with pytest.raises(MappingError):
        unwrap({"other": {}}, mapping)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"renames": {"nope": "x"}}, "not provincial fields"),
        ({"omit": ["evalId"]}, "cannot be omitted"),
        ({"renames": {"pf": "satisfaction"}}, "share one wire name"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"envelope": {"as_list": True}}, "need a key"),
        ({"signature": {"secret_format": "{canonical}"}}, "secret_format"),
        ({"grade_scale": "ten_is_best"}, "grade_scale"),
    ],
)
def test_a_wrong_mapping_fails_when_loaded(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ProvincialMapping.model_validate(config)


def test_mapping_loads_from_json_env_and_file(tmp_path: Path) -> None:
    text = json.dumps(PROVINCE_X)
    assert ProvincialMapping.from_json(text) == ProvincialMapping.model_validate(PROVINCE_X)
    assert ProvincialMapping.configured(text).grade_scale == "one_is_best"
    (tmp_path / "m.json").write_text(text, "utf-8")
    assert ProvincialMapping.configured(path=str(tmp_path / "m.json")).time_format == (
        "yyyyMMddHHmmss"
    )
    assert ProvincialMapping.configured() is DEFAULT


# --- signatures ------------------------------------------------------------------------------------------

SIGNED = {"app_id": "app", "timestamp": "1764293400000", "nonce": "n1", "body": b'{"a":"1"}'}


def test_hmac_sha256_over_id_time_nonce_body() -> None:
    config = SignatureConfig()
    expected = hmac.new(b"s3", b'app\n1764293400000\nn1\n{"a":"1"}', hashlib.sha256).hexdigest()
    assert sign(config, secret="s3", **SIGNED)["X-Signature"] == expected


def test_md5_over_sorted_params_and_key() -> None:
    config = SignatureConfig(algorithm="md5", canonical="sorted_params", encoding="HEX")
    params = {"pf": "5", "evalId": "r1", "taskName": "", "deptCode": "X"}
    canonical = canonical_bytes(config, app_id="app", timestamp="1", nonce="n", body=b"", params=params)
    assert canonical == b"appId=app&deptCode=X&evalId=r1&nonce=n&pf=5&timestamp=1"
    assert signature(config, "K", canonical) == hashlib.md5(canonical + b"&key=K").hexdigest().upper()


def test_a_canonical_template_for_gateways_that_sign_time_and_app_id() -> None:
    config = SignatureConfig(canonical="{timestamp}{app_id}")
    assert not config.needs_params
    assert canonical_bytes(config, app_id="app", timestamp="1000", nonce="n", body=b"ignored") == b"1000app"
    for wrong in ("{secret}", "plain text", "{body"):
        with pytest.raises(ValidationError, match="canonical"):
            SignatureConfig(canonical=wrong)


def test_sm3_matches_the_standards_vector() -> None:
    """GB/T 32905-2016 appendix A: SM3("abc")."""
    config = SignatureConfig(algorithm="sm3", secret_format="{canonical}{secret}")
    assert signature(config, "", b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    hmac_sm3 = SignatureConfig(algorithm="hmac-sm3", encoding="base64")
    assert signature(hmac_sm3, "k", b"abc") != signature(hmac_sm3, "other", b"abc")


@pytest.mark.parametrize("algorithm", ["hmac-sha256", "hmac-sm3", "md5", "sha256", "sm3"])
@pytest.mark.parametrize("canonical", ["body", "sorted_params", "{timestamp}|{body}|{sorted_params}"])
def test_sign_then_verify(algorithm: str, canonical: str) -> None:
    config = SignatureConfig.model_validate({"algorithm": algorithm, "canonical": canonical})
    params = {"evalId": "r1", "pf": "5"}
    headers = sign(config, app_id="app", secret="s", body=b"{}", params=params)
    assert verify(config, headers, body=b"{}", params=params, secrets={"app": "s"}) == "app"
    with pytest.raises(SignatureError) as wrong:
        verify(config, headers, body=b"{}", params=params, secrets={"app": "t"})
    assert wrong.value.code == "SIGNATURE_INVALID"
    tampered = b"{}" if canonical == "sorted_params" else b"{ }"
    with pytest.raises(SignatureError):
        verify(config, headers, body=tampered, params={**params, "pf": "4"}, secrets={"app": "s"})


def test_verify_refuses_missing_headers_unknown_apps_and_old_timestamps() -> None:
    config = SignatureConfig()
    headers = sign(config, app_id="app", secret="s", body=b"x", timestamp="1000")
    with pytest.raises(SignatureError, match="TIMESTAMP_EXPIRED"):
        verify(config, headers, body=b"x", secrets={"app": "s"})
    assert verify(config, headers, body=b"x", secrets={"app": "s"}, now=1.0) == "app"
    lower = {k.lower(): v for k, v in headers.items()}  # header names are case-insensitive
    assert verify(config, lower, body=b"x", secrets={"app": "s"}, now=1.0) == "app"
    with pytest.raises(SignatureError, match="APP_UNKNOWN"):
        verify(config, headers, body=b"x", secrets={"other": "s"}, now=1.0)
    with pytest.raises(SignatureError, match="SIGNATURE_MISSING"):
        verify(config, {k: v for k, v in headers.items() if k != "X-Nonce"}, body=b"x", secrets={"app": "s"})


# --- properties ------------------------------------------------------------------------------------------

BEIJING = timezone(timedelta(hours=8))


@st.composite
def ratings(draw: st.DrawFn) -> Rating:
    """Sample ratings varied over every field the mapping reads, still valid under the rules."""
    name = draw(st.sampled_from(sorted(EXPECTED)))
    data = sample_ratings()[name].model_dump(mode="json", exclude_none=True)
    channel = draw(st.sampled_from(list(Channel)))
    grade = draw(st.sampled_from(list(Grade)))
    staff_grade = draw(st.sampled_from(list(Grade))) if channel in (Channel.WINDOW, Channel.QR) else None
    bad = grade.is_bad or (staff_grade is not None and staff_grade.is_bad)
    offset = timedelta(minutes=15 * draw(st.integers(-48, 56)))
    handled = datetime(2026, 11, 20, tzinfo=BEIJING) + timedelta(seconds=draw(st.integers(0, 5 * 86400)))
    rated = handled + timedelta(seconds=draw(st.integers(0, 5 * 86400)))
    data.update(
        rating_id=draw(st.text("abcdef0123456789-", min_size=1, max_size=64)),
        channel=channel,
        grade=grade,
        staff_grade=staff_grade,
        evaluation_type=draw(st.sampled_from(list(EvaluationType))),
        tags=draw(st.lists(st.sampled_from(list(TagCode)), min_size=1 if bad else 0, max_size=4)),
        comment=draw(st.none() | st.text(min_size=1, max_size=50).filter(str.strip)),
        rated_at=rated.astimezone(timezone(offset)).isoformat(),
        rater={**data["rater"], "type": draw(st.sampled_from(list(RaterType)))},
    )
    data["case"] = {**data["case"], "handled_at": handled.isoformat()}
    return Rating.model_validate({key: value for key, value in data.items() if value is not None})


MAPPINGS = st.sampled_from(
    [
        DEFAULT,
        ProvincialMapping(grade_scale="one_is_best", personal_data="masked"),
        ProvincialMapping.model_validate({"default_marker": {"pf": "9"}, "personal_data": "clear"}),
        ProvincialMapping.model_validate(PROVINCE_X),
    ]
)


@given(ratings(), MAPPINGS)
def test_mapping_is_deterministic_keyed_by_rating_id_and_schema_valid(r: Rating, mapping: ProvincialMapping) -> None:
    wire = to_provincial(r, mapping)
    # exclude_none: hub.rating cannot re-read its own `"comment": null` (max_length on an optional text).
    again = to_provincial(Rating.model_validate_json(r.model_dump_json(exclude_none=True)), mapping)
    assert json.dumps(wire, ensure_ascii=False) == json.dumps(again, ensure_ascii=False)
    [record] = unwrap(wire, mapping)
    national = to_national(record, mapping)
    assert national["evalId"] == r.rating_id
    assert national["assessTime"] == r.rated_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    assert to_record(r, mapping) == record
    assert_valid(national)

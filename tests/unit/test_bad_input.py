"""Bad input: each refusal is structured (code, path, message, message_zh, rule where a rule is why)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.normalize import ItemOutcome, normalize
from connectors.registry import adapter_for
from hub.calendar import WorkingDayCalendar
from hub.errors import Refused
from hub.rating import EvaluationType
from tests.conftest import SAMPLES

NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")
CALENDAR = WorkingDayCalendar()
JSON = "application/json"
VERTICAL = json.loads((SAMPLES / "vertical_system" / "01-bad-realname.json").read_text("utf-8"))


def vertical(now: datetime = NOW, **changes: Any) -> ItemOutcome:
    params = {**VERTICAL["params"], **changes}
    params = {k: v for k, v in params.items() if v is not None}
    body = json.dumps({"params": params}, ensure_ascii=False).encode()
    [outcome] = normalize(
        adapter_for("vertical_system"), body, JSON,
        connector_id="t", received_at=now, now=now, calendar=CALENDAR,
    )  # fmt: skip
    return outcome


def refusal(outcome: ItemOutcome) -> dict[str, dict[str, Any]]:
    assert outcome.outcome == "rejected", outcome.rating
    for p in outcome.problems:
        assert p.code and p.message and p.message_zh
    return {p.code: p.as_dict() for p in outcome.problems}


def body_refusal(kind: str, body: bytes, content_type: str) -> dict[str, dict[str, Any]]:
    with pytest.raises(Refused) as err:
        normalize(adapter_for(kind), body, content_type, connector_id="t", received_at=NOW, now=NOW, calendar=CALENDAR)
    return {p.code: p.as_dict() for p in err.value.problems}


@pytest.mark.parametrize(
    ("kind", "body", "content_type"),
    [
        ("vertical_system", b'{"params": {"projectNo": ', JSON),
        ("vertical_system", b"<evaluation><projectNo>1</evaluation>", "application/xml"),
        ("kiosk", b"[1, 2", JSON),
    ],
)
def test_malformed_bodies_are_refused_whole(kind: str, body: bytes, content_type: str) -> None:
    assert "BODY_MALFORMED" in body_refusal(kind, body, content_type)


def test_malformed_form_is_refused() -> None:
    assert "BODY_MALFORMED" in body_refusal("window_device", b"sn=1&&=%ZZ&key", "application/x-www-form-urlencoded")


def test_bytes_that_are_not_the_declared_charset_are_refused() -> None:
    gbk = "赣县区".encode("gbk")
    assert "BODY_UNDECODABLE" in body_refusal(
        "kiosk", b'{"orderId": "' + gbk + b'"}', "application/json; charset=utf-8"
    )
    assert "BODY_UNDECODABLE" in body_refusal(
        "window_device", b"biz=%FF%FF&key=1", "application/x-www-form-urlencoded; charset=utf-8"
    )


def test_xml_entity_expansion_is_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><evaluation><projectNo>&a;</projectNo></evaluation>'
    assert "BODY_MALFORMED" in body_refusal("vertical_system", bomb, "application/xml")


def test_a_content_type_the_family_does_not_read_is_refused() -> None:
    assert "CONTENT_TYPE_UNSUPPORTED" in body_refusal("kiosk", b"<a/>", "application/xml")


def test_missing_required_fields_name_the_source_field() -> None:
    errors = refusal(vertical(projectNo=None, deptCode=None))
    assert errors["FIELD_REQUIRED"]["path"] in {"case.case_no", "target.agency_code", "source_rating_id"}
    assert errors["FIELD_REQUIRED"]["source_path"].startswith("params.")


def test_invalid_uscc_check_character_for_the_rated_agency() -> None:
    errors = refusal(vertical(deptCode="11360704MB1C000103"))
    assert errors["USCC_CHECK_FAILED"]["path"] == "target.agency_code"
    assert errors["USCC_CHECK_FAILED"]["source_path"] == "params.deptCode"


def test_unknown_province_prefix() -> None:
    assert refusal(vertical(areaCode="990704"))["REGION_PROVINCE_UNKNOWN"]["path"] == "target.region_code"


def test_phone_and_id_number_formats() -> None:
    errors = refusal(vertical(mobile="1390797", userCert="360721198501011234"))
    assert errors["PHONE_INVALID"]["path"] == "rater.phone"
    assert errors["ID_NUMBER_CHECK_FAILED"]["path"] == "rater.id_no"


@pytest.mark.parametrize("grade", ["0", "6", "A", "-1"])
def test_grade_outside_the_scale_R1(grade: str) -> None:
    error = refusal(vertical(satisfaction=grade))["GRADE_UNKNOWN"]
    assert error["rule"] == "R1" and error["source_path"] == "params.satisfaction"


def test_bad_grade_with_no_tag_and_a_blank_reason_R2() -> None:
    error = refusal(vertical(evalDetail="", writingEvaluation=" \t "))["BAD_RATING_WITHOUT_REASON"]
    assert error["rule"] == "R2"


@given(st.sampled_from(["1", "2", "3", "4", "5"]), st.booleans(), st.booleans())
def test_only_bad_grades_need_a_tag_or_reason_R2(grade: str, has_tag: bool, has_reason: bool) -> None:
    outcome = vertical(
        satisfaction=grade, evalDetail="ITEM_FEES" if has_tag else "", writingEvaluation="太贵" if has_reason else ""
    )
    bad = grade in ("1", "2")
    assert (outcome.outcome == "accepted") == (not bad or has_tag or has_reason)


@given(st.sampled_from(["1", "2", "5"]))  # web, mobile app, kiosk
def test_staff_grade_off_the_window_is_refused_R4(pf: str) -> None:
    outcome = vertical(pf=pf, staffId="GX0231", staffSatisfaction="5")
    assert refusal(outcome)["STAFF_RATING_NOT_ALLOWED"]["rule"] == "R4"


@pytest.mark.parametrize("pf", ["4", "3"])
def test_staff_grade_at_the_window_or_its_qr_code_is_accepted_R4(pf: str) -> None:
    """第十三条: at the window, on the evaluator or by scanning the evaluator's QR code."""
    assert vertical(pf=pf, staffId="GX0231", staffSatisfaction="5").outcome == "accepted"


def test_rated_before_handled() -> None:
    assert "RATED_BEFORE_HANDLED" in refusal(vertical(handleTime="2026-11-28 10:30:00"))


def test_rated_more_than_the_clock_skew_in_the_future() -> None:
    assert "RATED_IN_FUTURE" in refusal(vertical(now=datetime.fromisoformat("2026-11-28T10:00:00+08:00")))


def test_within_the_clock_skew_is_accepted() -> None:
    assert vertical(now=datetime.fromisoformat("2026-11-28T10:18:00+08:00")).outcome == "accepted"


def test_rated_after_the_window_closed_R5() -> None:
    # handled Friday 2026-11-27: the window closes at the end of Friday 2026-12-04
    late = vertical(assessTime="2026-12-05 00:00:01", now=datetime.fromisoformat("2026-12-05T09:00:00+08:00"))
    error = refusal(late)["RATING_WINDOW_CLOSED"]
    assert error["rule"] == "R5" and "2026-12-04T23:59:59+08:00" in error["message"]
    last_second = vertical(assessTime="2026-12-04 23:59:59", now=datetime.fromisoformat("2026-12-05T09:00:00+08:00"))
    assert last_second.outcome == "accepted"


def test_a_comment_of_100000_characters_is_refused_with_its_limit() -> None:
    error = refusal(vertical(writingEvaluation="差" * 100_000))["FIELD_TOO_LONG"]
    assert error["path"] == "comment" and "2000" in error["message"]


def test_emoji_and_rare_cjk_in_a_comment_survive_intact() -> None:
    text = "等了太久😡𠀀𪚥𰻞 窗口说法不一致"
    outcome = vertical(writingEvaluation=text)
    assert outcome.outcome == "accepted"
    assert outcome.rating.comment == text


def test_unknown_tag_codes_become_other_with_the_text_kept() -> None:
    outcome = vertical(evalDetail="ITEM_FEES,X99")
    assert outcome.rating.tags == ["ITEM_FEES", "OTHER"]
    assert outcome.rating.comment.endswith("其他：X99")


def test_unmapped_channel_code_is_refused_with_the_source_field() -> None:
    error = refusal(vertical(pf="9"))["VALUE_UNMAPPED"]
    assert error["path"] == "channel" and error["source_path"] == "params.pf"


def test_time_in_a_wrong_format_is_refused() -> None:
    assert refusal(vertical(assessTime="28/11/2026 10:21"))["TIME_INVALID"]["path"] == "rated_at"


def test_a_batch_envelope_gives_one_outcome_per_item() -> None:
    good = dict(VERTICAL["params"])
    bad = {**good, "projectNo": "GX2", "satisfaction": "9"}
    body = json.dumps({"params": [good, bad]}, ensure_ascii=False).encode()
    outcomes = normalize(
        adapter_for("vertical_system"), body, JSON, connector_id="t", received_at=NOW, now=NOW, calendar=CALENDAR
    )
    assert [o.outcome for o in outcomes] == ["accepted", "rejected"]


def test_more_than_100_items_are_refused() -> None:
    body = json.dumps({"params": [VERTICAL["params"]] * 101}).encode()
    assert "BATCH_TOO_LARGE" in body_refusal("vertical_system", body, JSON)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(body: bytes) -> None:
    for kind, ct in (("vertical_system", JSON), ("vertical_system", "application/xml"), ("window_device", None)):
        try:
            outcomes = normalize(
                adapter_for(kind), body, ct, connector_id="t", received_at=NOW, now=NOW, calendar=CALENDAR
            )
        except Refused as exc:
            assert exc.problems
        else:
            assert all(o.outcome in ("accepted", "rejected") for o in outcomes)


def test_default_rating_and_real_rating_share_one_duplicate_key_R6_R8() -> None:
    real = vertical().rating
    default = real.model_copy(update={"evaluation_type": EvaluationType.DEFAULT})
    additional = real.model_copy(update={"evaluation_type": EvaluationType.ADDITIONAL})
    assert real.duplicate_key == default.duplicate_key != additional.duplicate_key


def test_later_now_does_not_change_an_in_window_rating() -> None:
    assert vertical(now=NOW + timedelta(days=30)).outcome == "accepted"

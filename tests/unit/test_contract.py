"""The unified contract, as a sender meets it: no field silently dropped, no ambiguous body stored.

Issue 11, items 1-3 and 7: an unknown field at any depth is FIELD_UNKNOWN at its path (with the name it
most likely meant); the unified route reads JSON only; a body that is not an object (or a list of them)
and a body with a duplicate key are BODY_MALFORMED, one code for "not what the route takes".
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from connectors.normalize import normalize
from connectors.registry import adapter_for, builtin_spec
from hub.calendar import WorkingDayCalendar
from hub.errors import Refused
from tests.conftest import ROOT, SAMPLES
from tests.schema_walk import EXTRA, forbidden_extras, schema

NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")
JSON = "application/json"
GOOD: dict[str, Any] = {
    "source_rating_id": "WEB-1",
    "case": {"case_no": "GX2026112700045", "handled_at": "2026-11-27T16:02:11+08:00"},
    "target": {"agency_code": "11360704MB1C000102", "region_code": "360704000000", "agency_name": "赣县区行政审批局"},
    "channel": "web",
    "grade": "dissatisfied",
    "tags": ["ITEM_MATERIALS"],
    "comment": "材料要求重复提交",
    "rater": {"type": "person", "phone": "13907970001", "real_name": True},
    "rated_at": "2026-11-28T10:21:33+08:00",
}


def unified(body: bytes, content_type: str | None = JSON) -> list[Any]:
    return normalize(
        adapter_for("unified"), body, content_type,
        connector_id="t", received_at=NOW, now=NOW, calendar=WorkingDayCalendar(),
    )  # fmt: skip


def refused(body: bytes, content_type: str | None = JSON) -> list[dict[str, Any]]:
    with pytest.raises(Refused) as err:
        unified(body, content_type)
    return [p.as_dict() for p in err.value.problems]


def test_the_good_rating_is_accepted() -> None:  # the negative control of every test below
    [outcome] = unified(json.dumps(GOOD).encode())
    assert outcome.outcome == "accepted", outcome.problems
    assert outcome.rating.comment == "材料要求重复提交"


@pytest.mark.parametrize(
    ("change", "path", "near"),
    [
        (lambda r: r.update(commnet=r.pop("comment")), "commnet", "comment"),
        (lambda r: r["rater"].update(mobile="13907970001"), "rater.mobile", "phone"),
        (lambda r: r["target"].update(agnecy_name=r["target"].pop("agency_name")), "target.agnecy_name",
         "agency_name"),
        (lambda r: r["case"].update(handled=1), "case.handled", "handled_at"),
    ],
)  # fmt: skip
def test_an_unknown_field_at_any_depth_is_refused_at_its_path(change: Any, path: str, near: str | None) -> None:
    record = json.loads(json.dumps(GOOD))
    change(record)
    [outcome] = unified(json.dumps(record).encode())
    assert outcome.outcome == "rejected" and outcome.rating is None
    [p] = [p for p in outcome.problems if p.code == "FIELD_UNKNOWN"]
    assert p.path == path
    if near:
        assert f"did you mean {near}?" in p.message and f"是否应为 {near}" in p.message_zh


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", "application/xml",
                                          "application/x-www-form-urlencoded"])
def test_the_unified_format_is_json_only(content_type: str) -> None:
    [p] = refused(json.dumps(GOOD).encode(), content_type)
    assert p["code"] == "CONTENT_TYPE_UNSUPPORTED"


@pytest.mark.parametrize("body", [b"null", b'"x"', b"42", b"[1, 2]", b"true", b"[{}, 3]"])
def test_a_body_that_is_not_an_object_or_a_list_of_them_is_body_malformed(body: bytes) -> None:
    [p] = refused(body)
    assert p["code"] == "BODY_MALFORMED"


def test_a_duplicate_key_is_refused_naming_it() -> None:
    text = json.dumps(GOOD, ensure_ascii=False)
    body = text.replace('"grade": "dissatisfied"', '"grade": "satisfied", "grade": "very_dissatisfied"').encode()
    assert body.count(b'"grade"') == 2
    [p] = refused(body)
    assert p["code"] == "BODY_MALFORMED" and '"grade"' in p["message"] and '"grade"' in p["message_zh"]


def test_a_duplicate_key_deep_in_a_batch_is_refused() -> None:
    text = json.dumps([GOOD, GOOD], ensure_ascii=False)
    body = text.replace('"real_name": true}', '"real_name": true, "real_name": false}', 1).encode()
    [p] = refused(body)
    assert '"real_name"' in p["message"]


def test_a_key_quoted_inside_a_value_is_not_a_duplicate() -> None:
    record = {**GOOD, "comment": '材料 "grade": 重复'}
    [outcome] = unified(json.dumps(record, ensure_ascii=False).encode())
    assert outcome.outcome == "accepted", outcome.problems


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": "x:y", "a": "z"}',  # the lost value held a colon
        b'{"a": {"b": 1, "b": 2}}',
        b'{"a": "t\\u003a", "a": 1, "c": "::"}',  # an escaped colon takes the exact path
        b'{"k:1": 1, "k:1": 2}',
    ],
)
def test_the_fast_duplicate_check_misses_no_duplicate(body: bytes) -> None:
    from connectors.decode import decode_document

    with pytest.raises(Refused) as err:
        decode_document(body, "json", "utf-8")
    assert "duplicate key" in err.value.problems[0].message


def test_the_fast_duplicate_check_passes_colons_and_escapes_inside_strings() -> None:
    from connectors.decode import decode_document

    body = '{"t": "10:21:33", "u": "a\\":b", "v": ["x:", {"w:": "\\u003a"}], "中文": "：冒号"}'.encode()
    assert decode_document(body, "json", "utf-8")["v"][1] == {"w:": ":"}
    gbk = '{"t": "10:21", "n": "赣县区", "n2": "赣县区"}'.encode("gbk")
    assert decode_document(gbk, "json", "gbk")["n"] == "赣县区"
    with pytest.raises(Refused):
        decode_document('{"n": "赣县区", "n": "x"}'.encode("gbk"), "json", "gbk")


# -- every published request schema's forbidden extra field, refused at its path (item 1)

RICH = {
    **GOOD,
    "target": {**GOOD["target"], "staff": {"staff_id": "GX0232", "name": "钱七"},
               "provider": {"credit_code": "91360704MA35L7G0X3", "name": "中介机构"}},
    "case": {**GOOD["case"], "service_code": "S1", "step": "1"},
}  # fmt: skip
NOTICE = json.loads((SAMPLES / "cases" / "01-completed-no-rating.json").read_text("utf-8"))
NOTICE_WITH_RATING = {
    **NOTICE, "case_no": "GX2", "rating": {"grade": "satisfied", "rated_at": "2026-11-28T10:00:00+08:00"}
}


def test_the_rich_example_is_accepted() -> None:  # the negative control of the walk below
    [outcome] = unified(json.dumps(RICH, ensure_ascii=False).encode())
    assert outcome.outcome == "accepted", outcome.problems


UNIFIED_EXTRAS = list(forbidden_extras(schema("unified-rating.json"), RICH))


def test_the_walk_reaches_every_object_of_the_unified_rating() -> None:
    assert {path for path, _ in UNIFIED_EXTRAS} == {
        EXTRA, f"case.{EXTRA}", f"target.{EXTRA}", f"target.staff.{EXTRA}", f"target.provider.{EXTRA}",
        f"rater.{EXTRA}",
    }  # fmt: skip


@pytest.mark.parametrize(("path", "body"), UNIFIED_EXTRAS, ids=[p for p, _ in UNIFIED_EXTRAS])
def test_every_forbidden_extra_field_of_unified_rating_json_is_field_unknown(path: str, body: Any) -> None:
    [outcome] = unified(json.dumps(body, ensure_ascii=False).encode())
    assert outcome.rating is None
    assert [(p.code, p.path) for p in outcome.problems] == [("FIELD_UNKNOWN", path)]


def test_every_field_of_unified_rating_json_is_read_not_dropped() -> None:
    """The other half of agreeing with the schema: a field it publishes is one the adapter reads."""
    document = schema("unified-rating.json")
    defs = document["$defs"]

    def leaves(node: dict[str, Any], prefix: str) -> set[str]:
        found: set[str] = set()
        for name, prop in node.get("properties", {}).items():
            options = [prop, *prop.get("anyOf", ())]
            refs = [defs[o["$ref"].rsplit("/", 1)[-1]] for o in options if "$ref" in o]
            objects = [r for r in refs if "properties" in r]
            found |= leaves(objects[0], f"{prefix}{name}.") if objects else {prefix + name}
        return found

    spec = builtin_spec("unified")
    assert leaves(document, "") == set(spec.fields) | set(spec.source_rating_id)


@pytest.mark.parametrize("example", [NOTICE, NOTICE_WITH_RATING], ids=["notice", "with rating"])
def test_every_forbidden_extra_field_of_case_json_is_field_unknown(example: dict[str, Any]) -> None:
    extras = list(forbidden_extras(schema("case.json"), example))
    assert len(extras) >= 5
    for path, body in extras:
        problems = CaseNotice_problems(body)
        assert ("FIELD_UNKNOWN", path) in [(p.code, p.path) for p in problems], (path, problems)


def CaseNotice_problems(body: dict[str, Any]) -> list[Any]:
    from tests.unit.test_case_services import Hub

    hub = Hub()
    [result] = hub.post(body)
    assert result["outcome"] == "rejected"
    return [type("P", (), {"code": e["code"], "path": e["path"]}) for e in result["errors"]]


def test_every_forbidden_extra_field_of_calendar_notice_json_is_field_unknown() -> None:
    from hub.calendar_admin import unknown_in_notice

    example = json.loads((ROOT / "tests" / "fixtures" / "calendar" / "2027.json").read_text("utf-8"))
    extras = list(forbidden_extras(schema("calendar-notice.json"), example))
    assert len(extras) > 3
    assert unknown_in_notice(json.dumps(example, ensure_ascii=False)) == []
    for path, body in extras:
        found = unknown_in_notice(json.dumps(body, ensure_ascii=False))
        assert [(p.code, p.path) for p in found] == [("FIELD_UNKNOWN", path)]

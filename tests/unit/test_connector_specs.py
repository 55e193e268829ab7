"""Connector specs as a department writes them: every mistake refused at load time, at its line.

And a spec is tried against a real payload, since a well-formed path can still select nothing.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cli.normalize_cmd import content_type_for
from connectors.engine import SpecAdapter
from connectors.normalize import ItemOutcome, normalize
from connectors.registry import builtin_kinds, builtin_spec
from connectors.spec import REQUIRED_FIELDS, UNIFIED_FIELDS, ConnectorSpec
from connectors.spec_loader import (
    SPEC_CODES,
    LoadedSpec,
    SpecInvalid,
    SpecProblem,
    check_against_sample,
    load_spec,
    parse_spec,
)
from hub.calendar import WorkingDayCalendar

JSON_SPEC = """\
{
  "kind": "hotline",
  "format": "json",
  "timezone": "UTC",
  "records": "data.list",
  "source_rating_id": ["ticketNo"],
  "fields": {
    "case.case_no": "ticketNo",
    "target.agency_code": "dept.uscc",
    "target.region_code": "dept.area",
    "channel": {"const": "phone"},
    "grade": {"path": "level", "table": {"A": "very_satisfied", "B": "satisfied", "C": "basically_satisfied",
                                         "D": "dissatisfied", "E": "very_dissatisfied"}},
    "tags": {"path": "labels", "split": "|", "match": "label"},
    "comment": "content",
    "rated_at": {"path": "at", "time": "yyyy-MM-dd HH:mm:ss"}
  }
}
"""
YAML_SPEC = """\
kind: station
format: xml
charset: gb18030
namespaces:
  pj: urn:example:pj
records: pj:evaluation
source_rating_id: ["@id"]
fields:
  case.case_no: pj:case/@no
  target.agency_code: pj:unit/@code
  target.region_code: pj:unit/@division
  channel: {path: "@channel", table: {窗口: window, 自助机: kiosk}}
  grade:
    path: pj:result/@grade
    table: {"1": very_satisfied, "2": satisfied, "3": basically_satisfied, "4": dissatisfied, "5": very_dissatisfied}
  tags: {path: pj:reasons/pj:reason/@code, table: {R01: ITEM_EFFICIENCY}}
  comment: pj:remark
  rater.phone: pj:rater/pj:mobile
  rated_at: {path: pj:result/@time, time: yyyy/MM/dd HH:mm}
"""
XML_SAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<pj:evaluations xmlns:pj="urn:example:pj">
  <pj:evaluation id="E1" channel="窗口">
    <pj:case no="C1"/>
    <pj:unit code="11360704MB1C00082F" division="360704101000"/>
    <pj:result grade="4" time="2026/11/28 10:05"/>
    <pj:reasons><pj:reason code="R01"/></pj:reasons>
    <pj:remark>排队太久</pj:remark>
    <pj:rater><pj:mobile>13907970003</pj:mobile></pj:rater>
  </pj:evaluation>
</pj:evaluations>
""".encode()
JSON_SAMPLE = json.dumps({"data": {"list": [{
    "ticketNo": "T1", "dept": {"uscc": "11360702MB1E00010A", "area": "360702"}, "level": "D",
    "labels": "服务态度差|回复不及时", "content": "", "at": "2026-11-28 01:15:00",
}]}}, ensure_ascii=False).encode()  # fmt: skip


def line_of(text: str, marker: str) -> int:
    """The 1-based line of the first line holding `marker` (the tests name lines by their content)."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if marker in line)


def refused(text: str, syntax: str = "yaml") -> list[SpecProblem]:
    with pytest.raises(SpecInvalid) as err:
        parse_spec(text, syntax=syntax)  # type: ignore[arg-type]
    problems = err.value.problems
    for p in problems:
        assert p.code in SPEC_CODES and p.message and p.message_zh, p
    return problems


def one(problems: list[SpecProblem], code: str, path: str) -> SpecProblem:
    found = [p for p in problems if p.code == code and p.path == path]
    assert len(found) == 1, [(p.code, p.path, p.message) for p in problems]
    return found[0]


def test_the_reference_specs_load() -> None:
    assert parse_spec(JSON_SPEC, syntax="json").spec.kind == "hotline"
    loaded = parse_spec(YAML_SPEC)
    assert loaded.spec.namespaces == {"pj": "urn:example:pj"}
    assert loaded.locate(("fields", "grade", "table")) == (line_of(YAML_SPEC, 'table: {"1"'), 5)


# -- syntax --


def test_json_syntax_error_points_at_its_line() -> None:
    text = JSON_SPEC.replace('"format": "json",', '"format": "json"')
    [p] = refused(text, "json")
    assert (p.code, p.line) == ("SPEC_SYNTAX", line_of(text, '"timezone"'))


def test_yaml_syntax_error_points_at_its_line() -> None:
    text = YAML_SPEC.replace("  channel: {path:", "  channel: {path: [")
    [p] = refused(text)
    assert p.code == "SPEC_SYNTAX" and line_of(text, "channel:") <= p.line <= line_of(text, "channel:") + 1


@pytest.mark.parametrize("text", ["", "   \n", "- a list\n", "just text"])
def test_an_empty_file_or_a_non_mapping_is_refused_at_line_1(text: str) -> None:
    [p] = refused(text)
    assert p.code in ("SPEC_SYNTAX", "SPEC_INVALID") and p.line == 1


def test_a_file_that_is_not_utf8_is_refused_with_its_line() -> None:
    with pytest.raises(SpecInvalid) as err:
        parse_spec(YAML_SPEC.replace("自助机", "X").encode() + "name: 窗口\n".encode("gbk"))
    [p] = err.value.problems
    assert p.code == "SPEC_SYNTAX" and p.line == YAML_SPEC.count("\n") + 1


# -- the schema --


def test_an_unknown_key_suggests_the_known_one() -> None:
    text = YAML_SPEC.replace("records:", "recods:")
    p = one(refused(text), "SPEC_INVALID", "recods")
    assert p.line == line_of(text, "recods:") and "did you mean records?" in p.message and "records" in p.message_zh


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("grdae", "grade"), ("phone", "rater.phone"), ("case_no", "case.case_no"), ("agency_code", "target.agency_code"),
     ("rater.realname", "rater.real_name"), ("staf_grade", "staff_grade")],
)  # fmt: skip
def test_an_unknown_unified_field_suggests_the_closest(typo: str, meant: str) -> None:
    text = YAML_SPEC.replace("  comment: pj:remark", f"  {typo}: pj:remark")
    p = one(refused(text), "SPEC_INVALID", f"fields.{typo}")
    assert p.line == line_of(text, f"  {typo}:") and p.column == 3
    assert f"did you mean {meant}?" in p.message and meant in p.message_zh


def test_an_unknown_field_rule_key_suggests_the_known_one() -> None:
    text = YAML_SPEC.replace("{path: pj:result/@time, time:", "{path: pj:result/@time, tiem:")
    p = one(refused(text), "SPEC_INVALID", "fields.rated_at.tiem")
    assert p.line == line_of(text, "tiem:") and "did you mean time?" in p.message


@pytest.mark.parametrize("field", REQUIRED_FIELDS)
def test_a_required_unified_field_that_is_not_mapped(field: str) -> None:
    """Without it every rating would be refused: better said once, at load time."""
    lines = YAML_SPEC.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {field}:"))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("    ")), len(lines))
    text = "\n".join(lines[:start] + lines[end:]) + "\n"
    p = one(refused(text), "SPEC_INVALID", "fields")
    assert p.line == line_of(text, "fields:") and field in p.message and field in p.message_zh


def test_a_missing_top_level_key_points_at_the_top() -> None:
    text = YAML_SPEC.replace("format: xml\n", "")
    p = one(refused(text), "SPEC_INVALID", "format")
    assert p.line == 1 and "required" in p.message


def test_tags_match_is_code_or_label() -> None:
    text = YAML_SPEC.replace("tags: {path:", "tags: {match: text, path:")
    p = one(refused(text), "SPEC_INVALID", "fields.tags.match")
    assert p.line == line_of(text, "match: text") and "'code' or 'label'" in p.message


def test_a_value_of_the_wrong_type_gives_one_problem_not_one_per_union_branch() -> None:
    text = YAML_SPEC.replace("  comment: pj:remark", "  comment: [pj:remark]")
    [p] = refused(text)
    assert (p.code, p.path, p.line) == ("SPEC_INVALID", "fields.comment", line_of(text, "comment:"))
    assert p.message == "expected a mapping or text"


def test_a_rule_without_a_source_and_one_with_two() -> None:
    text = YAML_SPEC.replace("  comment: pj:remark", "  comment: {split: ','}").replace(
        '  channel: {path: "@channel",', '  channel: {const: window, path: "@channel",'
    )
    problems = refused(text)
    assert one(problems, "SPEC_INVALID", "fields.comment").line == line_of(text, "comment:")
    assert "path or a const, not both" in one(problems, "SPEC_INVALID", "fields.channel").message


@pytest.mark.parametrize("syntax", ["yaml", "json"])
def test_a_key_given_twice_is_refused_at_the_second(syntax: str) -> None:
    if syntax == "yaml":
        text = YAML_SPEC.replace("  comment: pj:remark\n", "  comment: pj:remark\n  comment: pj:note\n")
        second = line_of(text, "comment: pj:note")
    else:
        text = JSON_SPEC.replace('"comment": "content",', '"comment": "content",\n    "comment": "note",')
        second = line_of(text, '"comment": "note"')
    p = one(refused(text, syntax), "SPEC_INVALID", "fields.comment")
    assert p.line == second and f"line {second - 1}" in p.message


# -- what the schema cannot say --


def test_a_bad_jmespath_points_at_its_line() -> None:
    text = JSON_SPEC.replace('"comment": "content"', '"comment": "content[?"')
    p = one(refused(text, "json"), "SPEC_PATH_INVALID", "fields.comment")
    assert p.line == line_of(text, '"comment"') and "JMESPath" in p.message


@pytest.mark.parametrize("path", ["/pj:remark", "pj:remark/", "pj:re mark", "pj:remark[", "pj:1remark"])
def test_a_bad_xml_path_points_at_its_line(path: str) -> None:
    text = YAML_SPEC.replace("  comment: pj:remark", f'  comment: "{path}"')
    p = one(refused(text), "SPEC_PATH_INVALID", "fields.comment")
    assert p.line == line_of(text, "comment:") and "XML path" in p.message


@pytest.mark.parametrize("path", ["ns:remark", "pj:rater/@ns:mobile"])
def test_an_undeclared_namespace_prefix(path: str) -> None:
    text = YAML_SPEC.replace("  comment: pj:remark", f"  comment: {{path: {path}}}")
    p = one(refused(text), "SPEC_PATH_INVALID", "fields.comment.path")
    assert p.line == line_of(text, "comment:") and "prefix ns is not declared" in p.message


def test_a_path_must_fit_every_format_the_spec_reads() -> None:
    text = JSON_SPEC.replace('"format": "json"', '"format": ["json", "xml"]').replace(
        '"comment": "content"', '"comment": "items[0].text"'
    )
    p = one(refused(text, "json"), "SPEC_PATH_INVALID", "fields.comment")
    assert "XML path" in p.message


@pytest.mark.parametrize("fmt", ["yyyy-MM-dd hh:mm:ss", "dd.MM.yy", "unix"])
def test_an_unknown_time_format(fmt: str) -> None:
    text = YAML_SPEC.replace("time: yyyy/MM/dd HH:mm}", f"time: '{fmt}'}}")
    p = one(refused(text), "SPEC_TIME_FORMAT_UNKNOWN", "fields.rated_at.time")
    assert p.line == line_of(text, "rated_at:") and p.column == text.splitlines()[p.line - 1].index("time:") + 1


def test_a_time_format_on_a_field_that_is_no_time() -> None:
    text = YAML_SPEC.replace("  comment: pj:remark", "  comment: {path: pj:remark, time: iso}")
    assert one(refused(text), "SPEC_INVALID", "fields.comment.time").line == line_of(text, "comment:")


def test_unknown_charset_and_time_zone() -> None:
    text = YAML_SPEC.replace("charset: gb18030", "charset: gb-18030\ntimezone: Asia/Beijing")
    problems = refused(text)
    assert one(problems, "SPEC_CHARSET_UNKNOWN", "charset").line == line_of(text, "charset:")
    assert one(problems, "SPEC_TIMEZONE_UNKNOWN", "timezone").line == line_of(text, "timezone:")


def test_an_unknown_charset_per_format() -> None:
    text = JSON_SPEC.replace(
        '"format": "json",', '"format": ["json", "xml"],\n  "charset": {"json": "utf-8", "xml": "gbkk"},'
    )
    p = one(refused(text, "json"), "SPEC_CHARSET_UNKNOWN", "charset.xml")
    assert p.line == line_of(text, '"gbkk"')


def test_a_grade_table_whose_values_are_not_grades() -> None:
    text = JSON_SPEC.replace('"A": "very_satisfied"', '"A": "非常满意"').replace(
        '"E": "very_dissatisfied"', '"E": "bad"'
    )
    problems = refused(text, "json")
    assert one(problems, "SPEC_VALUE_INVALID", "fields.grade.table.A").line == line_of(text, '"A": "非常满意"')
    e = one(problems, "SPEC_VALUE_INVALID", "fields.grade.table.E")
    assert e.line == line_of(text, '"E": "bad"') and "very_satisfied" in e.message


@pytest.mark.parametrize(
    ("rule", "path"),
    [("tags: {path: x, table: {a: STAFF}}", "fields.tags.table.a"),
     ("tags: {path: x, default: ITEM_FEES}", "fields.tags.default"),
     ("channel: {const: fax}", "fields.channel.const"),
     ("rater.type: {path: t, table: {P: citizen}}", "fields.rater.type.table.P"),
     ("rater.real_name: {path: r, table: {Y: yes please}}", "fields.rater.real_name.table.Y"),
     ("evaluation_type: {const: first}", "fields.evaluation_type.const")],
)  # fmt: skip
def test_table_values_consts_and_defaults_are_unified_values(rule: str, path: str) -> None:
    key = rule.split(":")[0]
    text = "\n".join(line for line in YAML_SPEC.splitlines() if not line.startswith(f"  {key}:")) + f"\n  {rule}\n"
    p = one(refused(text), "SPEC_VALUE_INVALID", path)
    assert p.line == text.count("\n")


def test_records_do_not_apply_to_a_form() -> None:
    text = YAML_SPEC.replace("format: xml", "format: form")
    p = one(refused(text), "SPEC_INVALID", "records")
    assert p.line == line_of(text, "records:")


def test_a_dollar_field_in_source_rating_id_must_be_a_mapped_unified_field() -> None:
    text = YAML_SPEC.replace('source_rating_id: ["@id"]', 'source_rating_id: ["@id", $grdae, $case.step]')
    problems = refused(text)
    assert "did you mean $grade?" in one(problems, "SPEC_INVALID", "source_rating_id.1").message
    assert "does not map" in one(problems, "SPEC_INVALID", "source_rating_id.2").message


def test_every_problem_at_once_sorted_by_line() -> None:
    text = (YAML_SPEC.replace("charset: gb18030", "charset: nope").replace("  comment:", "  commnet:")
            .replace("time: yyyy/MM/dd HH:mm", "time: yyyy/MM/dd hh:mm"))  # fmt: skip
    problems = refused(text)
    assert [p.code for p in problems] == ["SPEC_CHARSET_UNKNOWN", "SPEC_INVALID", "SPEC_TIME_FORMAT_UNKNOWN"]
    assert [p.line for p in problems] == sorted(p.line for p in problems)


def test_the_model_refuses_the_same_without_the_loader() -> None:
    """The registry may validate a spec body directly: the checks beyond the types still run."""
    document = yaml.safe_load(YAML_SPEC.replace("time: yyyy/MM/dd HH:mm", "time: yyyy/MM/dd hh:mm"))
    with pytest.raises(ValidationError) as err:
        ConnectorSpec.model_validate(document)
    assert "fields.rated_at.time" in str(err.value)


def test_yaml_keys_stay_as_written() -> None:
    """YAML 1.1 reads `01` as 1 and `Y` as true: a source's codes must not change under the department's feet."""
    text = YAML_SPEC.replace(
        "tags: {path: pj:reasons/pj:reason/@code, table: {R01: ITEM_EFFICIENCY}}",
        "tags: {path: pj:reasons/pj:reason/@code, table: {01: ITEM_EFFICIENCY, 010: ITEM_FEES}}\n"
        "  rater.real_name: {path: pj:rater/@real, table: {Y: true, N: false}}",
    )
    spec = parse_spec(text).spec
    assert spec.rule("tags").table == {"01": "ITEM_EFFICIENCY", "010": "ITEM_FEES"}
    assert spec.rule("rater.real_name").table == {"Y": True, "N": False}


def test_load_spec_reads_files_by_their_suffix(tmp_path) -> None:
    (tmp_path / "s.yml").write_text(YAML_SPEC, "utf-8")
    (tmp_path / "s.json").write_text(JSON_SPEC, "utf-8")
    assert load_spec(tmp_path / "s.yml").file == str(tmp_path / "s.yml")
    assert load_spec(tmp_path / "s.json").spec.kind == "hotline"
    with pytest.raises(SpecInvalid) as err:
        load_spec(tmp_path / "missing.yaml")
    assert err.value.problems[0].code == "SPEC_SYNTAX"


# -- a spec against a sample --


def test_a_spec_that_fits_its_sample_has_nothing_to_say() -> None:
    assert check_against_sample(parse_spec(YAML_SPEC), XML_SAMPLE, "application/xml") == []
    assert check_against_sample(parse_spec(JSON_SPEC, syntax="json"), JSON_SAMPLE, "application/json") == []


def test_a_required_path_that_finds_nothing_is_an_error_at_its_line() -> None:
    text = YAML_SPEC.replace("target.region_code: pj:unit/@division", "target.region_code: pj:unit/@area")
    [p] = check_against_sample(parse_spec(text), XML_SAMPLE, "application/xml")
    assert (p.code, p.severity, p.path, p.line) == (
        "SPEC_PATH_UNMATCHED",
        "error",
        "fields.target.region_code",
        line_of(text, "target.region_code:"),
    )
    assert "'pj:unit/@area'" in p.message and "its attributes: code, division" in p.message


def test_an_optional_path_that_finds_nothing_is_a_warning_naming_what_is_there() -> None:
    text = YAML_SPEC.replace("rater.phone: pj:rater/pj:mobile", "rater.phone: pj:rater/@mobile")
    [p] = check_against_sample(parse_spec(text), XML_SAMPLE, "application/xml")
    assert (p.severity, p.path, p.line) == ("warning", "fields.rater.phone", line_of(text, "rater.phone:"))
    assert "the child element is pj:rater/pj:mobile" in p.message and "pj:rater/pj:mobile" in p.message_zh


def test_a_required_field_with_a_default_is_only_a_warning() -> None:
    text = JSON_SPEC.replace('"channel": {"const": "phone"}', '"channel": {"path": "via", "default": "phone"}')
    [p] = check_against_sample(parse_spec(text, syntax="json"), JSON_SAMPLE, "application/json")
    assert (p.severity, p.path) == ("warning", "fields.channel.path")


def test_a_records_path_that_repeats_the_root_element() -> None:
    text = YAML_SPEC.replace("records: pj:evaluation", "records: pj:evaluations/pj:evaluation")
    [p] = check_against_sample(parse_spec(text), XML_SAMPLE, "application/xml")
    assert (p.severity, p.path, p.line) == ("error", "records", line_of(text, "records:"))
    assert "drop the leading pj:evaluations/" in p.message


def test_a_json_path_with_a_typo_names_the_key_it_meant() -> None:
    text = JSON_SPEC.replace('"dept.area"', '"dept.areaCode"')
    [p] = check_against_sample(parse_spec(text, syntax="json"), JSON_SAMPLE, "application/json")
    assert p.line == line_of(text, "dept.areaCode") and "did you mean area?" in p.message


def test_unprefixed_paths_in_a_default_namespace_suggest_mapping_it() -> None:
    body = b'<Push xmlns="urn:mp"><Item><No>1</No></Item></Push>'
    text = YAML_SPEC.replace("records: pj:evaluation", "records: Item")
    [records] = check_against_sample(parse_spec(text), body, "application/xml")
    assert 'namespaces: {"": "urn:mp"}' in records.message and records.path == "records"
    mapped = text.replace("  pj: urn:example:pj", '  pj: urn:example:pj\n  "": urn:mp')
    problems = check_against_sample(parse_spec(mapped), body, "application/xml")
    assert "records" not in {p.path for p in problems}  # found now; the pj: paths are what is left


def test_fields_under_an_envelope_key_suggest_records() -> None:
    text = JSON_SPEC.replace('  "records": "data.list",\n', "")
    body = json.dumps({"params": json.loads(JSON_SAMPLE)["data"]["list"][0]}).encode()
    problems = check_against_sample(parse_spec(text, syntax="json"), body, "application/json")
    assert {p.severity for p in problems} == {"error", "warning"}
    assert all("set records: params" in p.message for p in problems)


def test_the_whole_source_rating_id_unmatched_is_an_error() -> None:
    text = YAML_SPEC.replace('source_rating_id: ["@id"]', 'source_rating_id: ["@ref"]')
    [p] = check_against_sample(parse_spec(text), XML_SAMPLE, "application/xml")
    assert (p.severity, p.path, p.line) == ("error", "source_rating_id.0", line_of(text, "source_rating_id:"))


def test_a_sample_that_cannot_be_read_is_reported_with_its_code() -> None:
    [p] = check_against_sample(parse_spec(YAML_SPEC), b"<pj:evaluations", "application/xml")
    assert p.code == "BODY_MALFORMED" and p.line is None


def test_a_spec_without_its_file_is_checked_without_lines() -> None:
    spec = builtin_spec("window_device")
    body = b"biz=1&key=1&t=20261128102233&dept=x&area=360704"
    problems = check_against_sample(spec, body, "application/x-www-form-urlencoded")
    assert problems and all(p.line is None for p in problems)
    assert {p.path for p in problems if p.severity == "error"} == set()  # the required keys are all there
    assert "fields.target.staff.staff_id" in {p.path for p in problems}


# -- XML namespaces and attributes, end to end --


def test_xml_with_namespaces_and_attributes_normalizes() -> None:
    now = datetime.fromisoformat("2026-11-28T12:00:00+08:00")
    [outcome] = normalize(
        SpecAdapter(parse_spec(YAML_SPEC).spec), XML_SAMPLE, "application/xml",
        connector_id="t", received_at=now, now=now, calendar=WorkingDayCalendar(),
    )  # fmt: skip
    assert outcome.outcome == "accepted", [p.as_dict() for p in outcome.problems]
    rating = outcome.rating
    assert (rating.case.case_no, rating.channel, rating.grade, rating.tags) == (
        "C1",
        "window",
        "dissatisfied",
        ["ITEM_EFFICIENCY"],
    )
    assert rating.target.level == "township" and rating.rater.phone == "13907970003"
    assert outcome.source_rating_id == "E1"


# -- properties --


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(builtin_kinds()),
    flow=st.sampled_from([True, False, None]),
    indent=st.integers(2, 6),
    width=st.sampled_from([40, 80, 1000]),
    sort_keys=st.booleans(),
)
def test_any_builtin_spec_dumped_to_yaml_reloads_equal(
    kind: str, flow: Any, indent: int, width: int, sort_keys: bool
) -> None:
    spec = builtin_spec(kind)
    text = yaml.safe_dump(
        spec.model_dump(mode="json", exclude_none=True), allow_unicode=True, default_flow_style=flow,
        indent=indent, width=width, sort_keys=sort_keys,
    )  # fmt: skip
    assert parse_spec(text, syntax="yaml").spec == spec
    assert parse_spec(json.dumps(spec.model_dump(mode="json"), indent=indent), syntax="json").spec == spec


_JUNK = st.one_of(
    st.text(max_size=12), st.integers(-5, 99), st.booleans(), st.none(),
    st.lists(st.text(max_size=4), max_size=2), st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=2),
)  # fmt: skip


def _places(document: Any, loc: tuple = ()) -> list[tuple]:
    out = [loc]
    if isinstance(document, dict):
        for key, value in document.items():
            out += _places(value, (*loc, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            out += _places(value, (*loc, index))
    return out


def _mutated(document: Any, loc: tuple, junk: Any, new_key: str | None) -> Any:
    if not loc:
        if new_key is not None and isinstance(document, dict):
            return {**document, new_key: junk}
        return junk
    head, *rest = loc
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[head] = _mutated(document[head], tuple(rest), junk, new_key)
    return copy


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), syntax=st.sampled_from(["yaml", "json"]), kind=st.sampled_from(builtin_kinds()))
def test_every_problem_points_inside_the_file(data: st.DataObject, syntax: str, kind: str) -> None:
    document = builtin_spec(kind).model_dump(mode="json", exclude_none=True)
    loc = data.draw(st.sampled_from(_places(document)))
    new_key = data.draw(st.one_of(st.none(), st.sampled_from([*UNIFIED_FIELDS, "grdae", "recods", "path", "x"])))
    broken = _mutated(document, loc, data.draw(_JUNK), new_key)
    if syntax == "yaml":
        text = yaml.safe_dump(broken, allow_unicode=True, default_flow_style=data.draw(st.sampled_from([True, False])))
    else:
        text = json.dumps(broken, ensure_ascii=data.draw(st.booleans()), indent=data.draw(st.sampled_from([None, 2])))
    lines = _lines(text, syntax)
    try:
        loaded = parse_spec(text, syntax=syntax)  # type: ignore[arg-type]
    except SpecInvalid as exc:
        assert exc.problems
        for p in exc.problems:
            assert p.line is not None and 1 <= p.line <= len(lines), (p, len(lines))
            assert p.column is not None and 1 <= p.column <= len(lines[p.line - 1]) + 1, p
    else:
        assert isinstance(loaded, LoadedSpec)


def _lines(text: str, syntax: str) -> list[str]:
    """The file's lines as its parser counts them (YAML also breaks at CR, NEL, LS and PS)."""
    return re.split(r"\r\n|[\n\r\x85\u2028\u2029]", text) if syntax == "yaml" else text.split("\n")


@given(st.text(max_size=200))
def test_any_text_loads_or_is_refused_with_lines_inside_it(text: str) -> None:
    for syntax in ("yaml", "json"):
        try:
            parse_spec(text, syntax=syntax)  # type: ignore[arg-type]
        except SpecInvalid as exc:
            lines = _lines(text, syntax)
            for p in exc.problems:
                assert p.line is not None and 1 <= p.line <= len(lines), p
                assert p.column is not None and 1 <= p.column <= len(lines[p.line - 1]) + 1, p


# -- the guide's examples (docs/examples): new formats, none of them in ../shared/samples --

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
EXAMPLE_NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")


def example(name: str, spec: str, payload: str) -> list[ItemOutcome]:
    loaded = load_spec(EXAMPLES / name / spec)
    path = EXAMPLES / name / payload
    assert check_against_sample(loaded, path.read_bytes(), content_type_for(path)) == []
    return normalize(
        SpecAdapter(loaded.spec), path.read_bytes(), content_type_for(path),
        connector_id="guide", received_at=EXAMPLE_NOW, now=EXAMPLE_NOW, calendar=WorkingDayCalendar(),
    )  # fmt: skip


def test_township_xml_namespaces_attributes_and_a_batch() -> None:
    first, second, third = example("township", "spec.yaml", "batch.gb18030.xml")
    assert (first.outcome, second.outcome, third.outcome) == ("accepted", "accepted", "rejected")
    bad = first.rating
    assert (bad.grade, bad.staff_grade, bad.channel) == ("dissatisfied", "very_dissatisfied", "window")  # 1 = best
    assert bad.tags == ["STAFF_ATTITUDE", "ITEM_EFFICIENCY"]  # R03, R01: every <pj:reason> counts
    assert (bad.target.staff.name, bad.target.level, bad.rater.real_name) == ("刘芳", "township", True)
    assert bad.case.handled_at.isoformat() == "2026-11-28T09:40:00+08:00"  # yyyy/MM/dd HH:mm, Beijing time
    assert first.source_rating_id == "ML-20261128-0007"  # @id of the record element
    village = second.rating
    assert (village.target.level, village.channel, village.rater.type) == ("village", "kiosk", "company")
    [error] = third.problems
    assert (error.code, error.rule, error.source_path) == (
        "BAD_RATING_WITHOUT_REASON",
        "R2",
        "pj:evaluation/pj:reasons/pj:reason/@code",
    )


def test_hotline_json_letter_grades_utc_label_tables_and_an_envelope() -> None:
    first, second = example("hotline", "spec.json", "ratings.json")
    bad = first.rating
    assert bad.grade == "dissatisfied" and second.rating.grade == "very_satisfied"  # D, A
    assert bad.rated_at.isoformat() == "2026-11-28T01:15:00+00:00"  # the source is in UTC
    assert bad.rated_at.astimezone(ZoneInfo("Asia/Shanghai")).hour == 9
    # "态度不好" by the spec's table, "办事流程繁琐" by the dictionary's label, "回复不及时" kept as OTHER
    assert bad.tags == ["STAFF_ATTITUDE", "ITEM_PROCESS", "OTHER"]
    assert bad.comment == "打了三次电话才有人回复；其他：回复不及时"
    assert bad.rater.phone == "13807970004"  # the JMESPath filter picks the mobile among the contacts
    assert (bad.channel, second.rating.channel, second.rating.rater.type) == ("phone", "sms", "company")
    assert first.source_rating_id == "GZ12345-20261127-0173-1"
    assert second.rating.target.region_code == "360700000000"  # a 6-digit area, padded


def test_queue_machine_form_in_gb18030() -> None:
    body = (EXAMPLES / "queue-form" / "ticket.gb18030.form").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        urllib.parse.unquote_to_bytes(body.decode("ascii")).decode("gbk")  # GB18030 is needed, not GBK
    [outcome] = example("queue-form", "spec.yaml", "ticket.gb18030.form")
    rating = outcome.rating
    assert (rating.grade, rating.staff_grade, rating.channel) == ("satisfied", "very_satisfied", "window")
    assert rating.target.staff.name == "刘䶮"

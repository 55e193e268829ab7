"""The connector spec: how to read one source's payload, declared as data.

Built-in families are specs shipped in `connectors/specs/`; a department registers its own the same
way. Per-connector settings (code tables, label tables, time formats) are overrides of a spec.

Two layers of checks, so that a spec is refused when it is loaded rather than when its first rating
arrives: the model's types (what `schemas/connector-spec.json` publishes) and `spec_issues`, which
knows what the types cannot say (path syntax, time formats, charsets, zones, table values). Both run
on `ConnectorSpec.model_validate`; `connectors.spec_loader` runs them separately to point at lines.
"""

from __future__ import annotations

import codecs
import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal
from xml.etree.ElementTree import Element
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jmespath
from jmespath.exceptions import IncompleteExpressionError, JMESPathError
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from connectors.timeformats import TimeFormatError, compile_time_format
from hub.codes import Level
from hub.rating import Channel, EvaluationType, Grade, RaterType
from hub.tags import TagCode

UNIFIED_FIELDS: tuple[str, ...] = (
    "case.case_no", "case.service_code", "case.service_name", "case.step", "case.handled_at",
    "target.agency_code", "target.agency_name", "target.region_code", "target.level",
    "target.staff.staff_id", "target.staff.name",
    "target.provider.credit_code", "target.provider.name", "target.hall", "target.window_no",
    "channel", "evaluation_type", "grade", "staff_grade", "tags", "comment",
    "rater.type", "rater.name", "rater.phone", "rater.id_no", "rater.credit_code", "rater.real_name",
    "rated_at",
)  # fmt: skip
UnifiedField = Literal[
    "case.case_no", "case.service_code", "case.service_name", "case.step", "case.handled_at",
    "target.agency_code", "target.agency_name", "target.region_code", "target.level",
    "target.staff.staff_id", "target.staff.name",
    "target.provider.credit_code", "target.provider.name", "target.hall", "target.window_no",
    "channel", "evaluation_type", "grade", "staff_grade", "tags", "comment",
    "rater.type", "rater.name", "rater.phone", "rater.id_no", "rater.credit_code", "rater.real_name",
    "rated_at",
]  # fmt: skip
TIME_FIELDS = frozenset({"case.handled_at", "rated_at"})
# Without these every rating would be refused, so a spec must say where each comes from (a path, a
# const or a default). The rest are optional in the rating: staff and provider, say, only some sources have.
REQUIRED_FIELDS = ("case.case_no", "target.agency_code", "target.region_code", "channel", "grade", "rated_at")
Format = Literal["json", "xml", "form"]

# Unified values a table, a const or a default may produce, per field (the rating schema's enums).
VOCABULARY: dict[str, tuple[str, ...]] = {
    "grade": tuple(Grade),
    "staff_grade": tuple(Grade),
    "channel": tuple(Channel),
    "target.level": tuple(Level),
    "evaluation_type": tuple(EvaluationType),
    "rater.type": tuple(RaterType),
    "tags": tuple(TagCode),
}

TimeFormat = Annotated[
    str,
    Field(description="epoch_ms, epoch_s, iso, or a pattern of yyyy MM dd HH mm ss (e.g. 'yyyy-MM-dd HH:mm:ss')"),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldRule(_Strict):
    """Where one unified field comes from, and how its value is translated."""

    path: str | None = Field(
        default=None,
        description="JSON: a JMESPath (dotted names are the common case); XML: element path a/b, "
        "attribute a/@name, namespaces as prefix:name; form: the key",
    )
    const: Any = Field(default=None, description="a constant instead of a path (a unified value)")
    default: Any = Field(default=None, description="used when the path finds nothing or a blank (a unified value)")
    table: dict[str, Any] | None = Field(
        default=None, description="source value -> unified value; a value missing from it is refused"
    )
    time: TimeFormat | None = None
    split: str | None = Field(default=None, description="tags: the separator inside one string")
    match: Literal["code", "label"] | None = Field(
        default=None, description="tags: the dictionary is matched by code or by Chinese label text"
    )

    @model_validator(mode="after")
    def _one_source(self) -> FieldRule:
        if self.path is None and self.const is None and self.default is None:
            raise PydanticCustomError("rule_without_source", "a field needs a path, a const or a default")
        if self.path is not None and self.const is not None:
            raise PydanticCustomError("rule_two_sources", "a field takes a path or a const, not both")
        return self


class ConnectorSpec(_Strict):
    kind: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$", description="a name for this source family")
    name: str | None = Field(default=None, description="what people call the source")
    format: Format | list[Format] = Field(description="one format, or several told apart by content type")
    charset: str | dict[Format, str] = Field(
        default="utf-8", description="used when the request names none; per format when several"
    )
    timezone: str = Field(default="Asia/Shanghai", description="the zone of the source's times without an offset")
    records: str | dict[Format, str | None] | None = Field(
        default=None,
        description="path to the record, or to a list of records (a batch envelope); per format when several",
    )
    namespaces: dict[str, str] = Field(default_factory=dict, description="XML prefixes used in paths")
    source_rating_id: list[str] = Field(
        min_length=1,
        description="paths whose values, joined by '-', identify the rating at the source; "
        "'$field' takes a unified field's translated value (its default included)",
    )
    fields: dict[UnifiedField, FieldRule | str] = Field(
        description="unified field -> where it comes from: a path, or a rule (path/const/default/table/time/...)"
    )

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> ConnectorSpec:
        if info.context and info.context.get("structure_only"):
            return self  # the loader runs `spec_issues` itself, to point at lines
        issues = list(spec_issues(self.model_dump(exclude_none=True)))
        if issues:
            raise PydanticCustomError(
                "spec_inconsistent", "{issues}", {"issues": "; ".join(f"{i.where}: {i.message}" for i in issues)}
            )
        return self

    @property
    def formats(self) -> tuple[Format, ...]:
        return tuple(self.format) if isinstance(self.format, list) else (self.format,)

    def charset_for(self, fmt: Format) -> str:
        return self.charset if isinstance(self.charset, str) else self.charset.get(fmt, "utf-8")

    def records_for(self, fmt: Format) -> str | None:
        return self.records.get(fmt) if isinstance(self.records, dict) else self.records

    def rule(self, unified: str) -> FieldRule | None:
        rule = self.fields.get(unified)  # type: ignore[call-overload]
        return FieldRule(path=rule) if isinstance(rule, str) else rule

    def with_settings(self, settings: dict[str, Any]) -> ConnectorSpec:
        """This spec with one connector's settings merged in (tables and formats replace per key)."""
        merged = _merge(self.model_dump(exclude_none=True), settings)
        return ConnectorSpec.model_validate(merged)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        current = out.get(key)
        if isinstance(value, dict) and isinstance(current, str) and key in UNIFIED_FIELDS:
            current = {"path": current}  # a shorthand path, now with settings of its own
        if isinstance(value, dict) and isinstance(current, dict):
            out[key] = _merge(current, value)
        else:
            out[key] = value
    return out


# -- what the types cannot say --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpecIssue:
    """One inconsistency, at `loc` (keys and list indexes from the spec's root)."""

    code: str
    loc: tuple[str | int, ...]
    message: str
    message_zh: str

    @property
    def where(self) -> str:
        return ".".join(str(part) for part in self.loc)


def closest(name: str, known: tuple[str, ...] | list[str]) -> str | None:
    """The known name a typo most likely meant: same last segment first (phone -> rater.phone)."""
    tail = name.rsplit(".", 1)[-1]
    same_tail = [k for k in known if k.rsplit(".", 1)[-1] == tail]
    if len(same_tail) == 1:
        return same_tail[0]
    found = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return found[0] if found else None


_XML_NAME = r"(?:[^\W\d][\w-]*:)?[^\W\d][\w-]*"
_XML_STEP = re.compile(rf"^(?:{_XML_NAME}|\*|\.|\.\.)(?:\[[^\]]+\])*$")
_XML_ATTRIBUTE = re.compile(rf"^{_XML_NAME}$")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def split_xml_path(path: str) -> tuple[str, str | None]:
    """`a/b/@x` -> (`a/b`, `x`); `a.b` -> (`a/b`, None): a dotted path serves a JSON and an XML body alike."""
    head, _, last = path.rpartition("/")
    if last.startswith("@") and len(last) > 1:
        element, attribute = head, last[1:]
    else:
        element, attribute = path, None
    if _DOTTED.match(element):
        element = element.replace(".", "/")
    return element, attribute


def path_syntax_error(path: str, fmt: Format, namespaces: Mapping[str, str]) -> tuple[str, str] | None:
    """Why `path` is no path for `fmt` (English, Chinese), or None when it is one."""
    if not path.strip():
        return "an empty path", "路径为空"
    if path in ("@", "."):
        return None
    if fmt == "json":
        if _DOTTED.match(path):
            return None
        try:
            jmespath.compile(path)
        except IncompleteExpressionError:
            return "not a JMESPath expression: it ends too early", "不是有效的 JMESPath 表达式：表达式不完整"
        except JMESPathError as exc:
            column = getattr(exc, "lex_position", None)
            at = f" at column {column + 1}" if isinstance(column, int) else ""
            reason = getattr(exc, "msg", None) or str(exc).splitlines()[0]
            at_zh = f"（第 {column + 1} 个字符附近）" if isinstance(column, int) else ""
            return f"not a JMESPath expression{at}: {reason}", f"不是有效的 JMESPath 表达式{at_zh}：{reason}"
        return None
    if fmt == "xml":
        return _xml_path_error(path, namespaces)
    return None  # a form key is any text


def _xml_path_error(path: str, namespaces: Mapping[str, str]) -> tuple[str, str] | None:
    element, attribute = split_xml_path(path)
    if attribute is not None:
        if not _XML_ATTRIBUTE.match(attribute):
            return f"@{attribute} is not an attribute name", f"@{attribute} 不是有效的属性名"
        prefix = attribute.partition(":")[0] if ":" in attribute else None
        if prefix is not None and prefix not in namespaces:
            return _undeclared(prefix)
    if not element:
        return None
    if element.startswith("/"):
        return "an XML path starts at the record element, not with /", "XML 路径从记录元素开始，不能以 / 开头"
    steps = element.replace("//", "/").split("/")
    for step in steps:
        if not step:
            return (
                "an empty step: a path does not end with / (nor hold ///)",
                "路径中有空步骤：不能以 / 结尾（也不能含 ///）",
            )
        if not _XML_STEP.match(step):
            shown = step
            return (f"{shown!r} is not a step of an XML path (name, prefix:name, *, .. or a [predicate])",
                    f"{shown!r} 不是有效的 XML 路径步骤（元素名、前缀:元素名、*、.. 或 [条件]）")  # fmt: skip
        prefix = step.partition(":")[0] if ":" in step.partition("[")[0] else None
        if prefix is not None and prefix not in namespaces:
            return _undeclared(prefix)
    try:
        Element("probe").find(element, dict(namespaces))
    except (SyntaxError, TypeError, KeyError, ValueError) as exc:
        return f"not an XML path: {exc}", f"不是有效的 XML 路径：{exc}"
    return None


def _undeclared(prefix: str) -> tuple[str, str]:
    return f"the prefix {prefix} is not declared in namespaces", f"命名空间前缀 {prefix} 未在 namespaces 中声明"


@cache
def _zone_known(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _charset_known(name: str) -> bool:
    try:
        codecs.lookup(name)
    except (LookupError, ValueError):  # ValueError: a name with a NUL in it
        return False
    return True


def _formats(value: Any) -> list[Format]:
    items = value if isinstance(value, list) else [value]
    return [f for f in items if f in ("json", "xml", "form")]


def spec_issues(data: Mapping[str, Any]) -> Iterator[SpecIssue]:
    """Everything a spec's types cannot say, found without a payload. Tolerant of a spec that also
    fails its types: a part of the wrong type is skipped here (the types report it)."""
    formats = _formats(data.get("format"))
    raw_ns = data.get("namespaces")
    namespaces = {k: v for k, v in raw_ns.items() if isinstance(v, str)} if isinstance(raw_ns, dict) else {}

    zone = data.get("timezone")
    if isinstance(zone, str) and not _zone_known(zone):
        yield SpecIssue("SPEC_TIMEZONE_UNKNOWN", ("timezone",),
                        f"unknown time zone {zone}: use an IANA name such as Asia/Shanghai or UTC",
                        f"未知的时区 {zone}：请使用 IANA 时区名，如 Asia/Shanghai 或 UTC")  # fmt: skip
    charset = data.get("charset")
    charsets = list(charset.items()) if isinstance(charset, dict) else [(None, charset)]
    for key, name in charsets:
        if isinstance(name, str) and not _charset_known(name):
            yield SpecIssue("SPEC_CHARSET_UNKNOWN", ("charset", key) if key else ("charset",),
                            f"unknown charset {name}: e.g. utf-8, gbk, gb18030",
                            f"未知的字符集 {name}：如 utf-8、gbk、gb18030")  # fmt: skip

    yield from _records_issues(data.get("records"), formats, namespaces)

    fields = data.get("fields")
    fields = fields if isinstance(fields, dict) else {}
    if isinstance(data.get("fields"), dict):
        for required in REQUIRED_FIELDS:
            if required not in fields:
                yield SpecIssue("SPEC_INVALID", ("fields",), f"the spec must say where {required} comes from",
                                f"接入规范必须说明 {required} 的来源")  # fmt: skip
    for unified, rule in fields.items():
        if unified not in UNIFIED_FIELDS:
            continue  # the types report it, with the closest known name
        if isinstance(rule, str):
            yield from _path_issues(rule, ("fields", unified), formats, namespaces)
        elif isinstance(rule, dict):
            yield from _rule_issues(unified, rule, formats, namespaces)

    ids = data.get("source_rating_id")
    for index, item in enumerate(ids if isinstance(ids, list) else []):
        if not isinstance(item, str):
            continue
        if item.startswith("$"):
            name = item[1:]
            if name not in UNIFIED_FIELDS:
                hint = closest(name, UNIFIED_FIELDS)
                yield SpecIssue("SPEC_INVALID", ("source_rating_id", index),
                                f"{name} is not a unified field" + (f"; did you mean ${hint}?" if hint else ""),
                                f"{name} 不是统一字段" + (f"，是否应为 ${hint}？" if hint else ""))  # fmt: skip
            elif name not in fields:
                yield SpecIssue("SPEC_INVALID", ("source_rating_id", index),
                                f"${name} takes the unified field {name}, which the spec does not map",
                                f"${name} 引用统一字段 {name}，但接入规范未映射该字段")  # fmt: skip
        else:
            yield from _path_issues(item, ("source_rating_id", index), formats, namespaces)


def _records_issues(records: Any, formats: list[Format], namespaces: dict[str, str]) -> Iterator[SpecIssue]:
    per_format = records.items() if isinstance(records, dict) else [(None, records)] if records is not None else []
    for fmt, path in per_format:
        loc: tuple[str | int, ...] = ("records", fmt) if fmt else ("records",)
        if not isinstance(path, str):
            continue
        applies = [fmt] if fmt else formats
        if "form" in applies:
            yield SpecIssue("SPEC_INVALID", loc,
                            "a form holds one record: records does not apply to form (give records per format, "
                            "e.g. {json: data.list, form: null})",
                            "表单报文只有一条记录，records 不适用于 form"
                            "（可按格式分别给出，如 {json: data.list, form: null}）")  # fmt: skip
            continue
        if "xml" in applies and split_xml_path(path)[1] is not None:
            yield SpecIssue("SPEC_PATH_INVALID", loc, "records names elements, not an attribute",
                            "records 须指向元素，不能指向属性")  # fmt: skip
            continue
        yield from _path_issues(path, loc, [f for f in applies if f in formats] or applies, namespaces)


def _path_issues(
    path: str, loc: tuple[str | int, ...], formats: list[Format], namespaces: dict[str, str]
) -> Iterator[SpecIssue]:
    for fmt in formats:
        error = path_syntax_error(path, fmt, namespaces)
        if error is not None:
            en, zh = error
            name = {"json": "a JSON", "xml": "an XML", "form": "a form"}[fmt]
            yield SpecIssue("SPEC_PATH_INVALID", loc, f"{path!r} as {name} path: {en}", f"{path!r}（{fmt} 路径）：{zh}")
            return


def _rule_issues(
    unified: str, rule: dict[str, Any], formats: list[Format], namespaces: dict[str, str]
) -> Iterator[SpecIssue]:
    at = ("fields", unified)
    path = rule.get("path")
    if isinstance(path, str):
        yield from _path_issues(path, (*at, "path"), formats, namespaces)
    time = rule.get("time")
    if time is not None and unified not in TIME_FIELDS:
        yield SpecIssue("SPEC_INVALID", (*at, "time"), f"time applies to {' and '.join(sorted(TIME_FIELDS))} only",
                        f"time 只适用于 {'、'.join(sorted(TIME_FIELDS))}")  # fmt: skip
    elif isinstance(time, str):
        try:
            compile_time_format(time, ZoneInfo("UTC"))
        except TimeFormatError:
            yield SpecIssue("SPEC_TIME_FORMAT_UNKNOWN", (*at, "time"),
                            f"unknown time format {time!r}: epoch_ms, epoch_s, iso, or a pattern of "
                            "yyyy MM dd HH mm ss (e.g. yyyy-MM-dd HH:mm:ss, yyyy/MM/dd HH:mm)",
                            f"未知的时间格式 {time!r}：可用 epoch_ms、epoch_s、iso，或由 yyyy MM dd HH mm ss 组成的格式"
                            "（如 yyyy-MM-dd HH:mm:ss、yyyy/MM/dd HH:mm）")  # fmt: skip
    for key in ("split", "match"):
        if rule.get(key) is not None and unified != "tags":
            yield SpecIssue("SPEC_INVALID", (*at, key), f"{key} applies to tags only", f"{key} 只适用于 tags")
    table = rule.get("table")
    if isinstance(table, dict):
        if unified in TIME_FIELDS:
            yield SpecIssue("SPEC_INVALID", (*at, "table"), "a time is read with time, not a table",
                            "时间字段用 time 说明格式，不能用 table")  # fmt: skip
        for key, value in table.items():
            yield from _value_issues(unified, value, (*at, "table", key), in_table=True)
    for key in ("const", "default"):
        if rule.get(key) is not None:
            yield from _value_issues(unified, rule[key], (*at, key), in_table=False)


def _value_issues(unified: str, value: Any, loc: tuple[str | int, ...], *, in_table: bool) -> Iterator[SpecIssue]:
    """A table value, a const or a default is already in the unified vocabulary: check it is."""
    allowed = VOCABULARY.get(unified)
    if unified == "tags" and not in_table:
        items = value if isinstance(value, list) else None
        if items is None or any(item not in allowed for item in items):  # type: ignore[operator]
            yield SpecIssue("SPEC_VALUE_INVALID", loc, f"tags take a list of tag codes: {', '.join(TagCode)}",
                            f"tags 取值应为标签代码列表：{', '.join(TagCode)}")  # fmt: skip
        return
    if allowed is not None:
        if value not in allowed:
            what = "tag code" if unified == "tags" else f"{unified} value"
            yield SpecIssue("SPEC_VALUE_INVALID", loc, f"{value!r} is not a {what}; use one of {', '.join(allowed)}",
                            f"{value!r} 不是有效的 {unified} 取值；可用：{', '.join(allowed)}")  # fmt: skip
    elif unified == "rater.real_name":
        if not isinstance(value, bool):
            yield SpecIssue("SPEC_VALUE_INVALID", loc, f"rater.real_name takes true or false, not {value!r}",
                            f"rater.real_name 取值应为 true 或 false，而不是 {value!r}")  # fmt: skip
    elif unified in TIME_FIELDS and not in_table:
        try:
            aware = isinstance(value, str) and datetime.fromisoformat(value).tzinfo is not None
        except ValueError:
            aware = False
        if not aware:
            yield SpecIssue("SPEC_VALUE_INVALID", loc, f"{value!r}: a time constant is ISO 8601 with its offset",
                            f"{value!r}：时间常量须为带时区偏移的 ISO 8601 格式")  # fmt: skip
    elif not isinstance(value, (str, int, float)) or isinstance(value, bool):
        yield SpecIssue("SPEC_VALUE_INVALID", loc, f"{unified} takes text, not {value!r}",
                        f"{unified} 取值应为文本，而不是 {value!r}")  # fmt: skip

"""Loading a connector spec from a department's file, with every problem pointing at its line.

A department writes its spec by hand, in JSON or YAML; "field required" is no help in a file of
eighty lines. So the loader keeps where every key sits (YAML: the node marks of `yaml.compose`;
JSON: a small scanner over the already-validated text), runs the spec's types and `spec_issues`,
and reports each problem at the line of the key it is about. `check_against_sample` then tries the
spec's paths on a real payload, since a path can be well formed and still select nothing.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ValidationError

from connectors.engine import SpecAdapter
from connectors.spec import REQUIRED_FIELDS, UNIFIED_FIELDS, ConnectorSpec, FieldRule, closest, spec_issues
from hub.errors import CATALOG, Refused

Loc = tuple[str | int, ...]
SourceMap = dict[Loc, tuple[int, int]]

# code -> (English, Chinese): what the code means, from the one catalog (hub.errors.CATALOG); docs/connectors.md
# lists these, and a test checks it does.
SPEC_CODES: dict[str, tuple[str, str]] = {
    code: (en, zh) for code, (_, en, zh) in CATALOG.items() if code.startswith("SPEC_")
}

# Fields without which a rating is refused: a sample in which their path finds nothing is an error.
SAMPLE_REQUIRED = frozenset(REQUIRED_FIELDS)


@dataclass(frozen=True, slots=True)
class SpecProblem:
    """One problem of a spec, where it is: `path` names the key (`fields.grade.table`), `line` its line."""

    code: str
    path: str
    line: int | None
    column: int | None
    message: str
    message_zh: str
    severity: Literal["error", "warning"] = "error"

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code, "path": self.path, "line": self.line, "column": self.column,
            "message": self.message, "message_zh": self.message_zh,
        }  # fmt: skip


@dataclass
class SpecInvalid(Exception):
    """A spec refused at load time; nothing was registered."""

    problems: list[SpecProblem] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"line {p.line}: {p.path}: {p.message}" for p in self.problems)


@dataclass(frozen=True)
class LoadedSpec:
    """A valid spec and where each of its keys sits in the file it came from."""

    spec: ConnectorSpec
    where: SourceMap = field(default_factory=dict)
    file: str | None = None

    def locate(self, loc: Loc) -> tuple[int | None, int | None]:
        return locate(self.where, loc)


def locate(where: SourceMap, loc: Loc) -> tuple[int | None, int | None]:
    """The line and column of `loc`, or of its nearest ancestor the file has (a missing key: its parent)."""
    if not where:
        return None, None
    for end in range(len(loc), -1, -1):
        found = where.get(loc[:end])
        if found is not None:
            return found
    return 1, 1


# -- loading --------------------------------------------------------------------------------------


def load_spec(path: Path | str) -> LoadedSpec:
    """A spec file (`.json`, `.yaml`, `.yml`) as a valid spec, or `SpecInvalid` listing every problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecInvalid([_problem("SPEC_SYNTAX", (), None, f"cannot read {path}: {exc.strerror}",
                                    f"无法读取 {path}：{exc.strerror}")]) from None  # fmt: skip
    suffix = path.suffix.lower()
    syntax: Literal["json", "yaml"] | None = (
        "yaml" if suffix in (".yaml", ".yml") else "json" if suffix == ".json" else None
    )
    return parse_spec(raw, syntax=syntax, file=str(path))


def parse_spec(
    text: str | bytes, *, syntax: Literal["json", "yaml"] | None = None, file: str | None = None
) -> LoadedSpec:
    """A spec from its text (JSON or YAML; told apart by the first character when `syntax` is None)."""
    if isinstance(text, bytes):
        raw = text
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise SpecInvalid([SpecProblem("SPEC_SYNTAX", "", line, None, "a spec file is UTF-8 text",
                                           "接入规范文件须为 UTF-8 编码文本")]) from None  # fmt: skip
    if syntax is None:
        syntax = "json" if text.lstrip().startswith("{") else "yaml"
    document, where, problems = _read_json(text) if syntax == "json" else _read_yaml(text)
    if problems and document is None:
        raise SpecInvalid(problems)
    if not isinstance(document, dict):
        raise SpecInvalid([_problem("SPEC_INVALID", (), where, "a spec is a mapping of keys (kind, format, fields ...)",
                                    "接入规范应为键值映射（kind、format、fields 等）")])  # fmt: skip
    problems += list(_type_problems(document, where))
    problems += [
        _problem(issue.code, issue.loc, where, issue.message, issue.message_zh) for issue in spec_issues(document)
    ]
    if problems:
        raise SpecInvalid(sorted(problems, key=lambda p: (p.line or 0, p.column or 0)))
    spec = ConnectorSpec.model_validate(document, context={"structure_only": True})
    return LoadedSpec(spec, where, file)


def _problem(code: str, loc: Loc, where: SourceMap | None, message: str, message_zh: str) -> SpecProblem:
    line, column = locate(where, loc) if where is not None else (None, None)
    return SpecProblem(code, ".".join(str(part) for part in loc), line, column, message, message_zh)


def _duplicate(loc: Loc, first: tuple[int, int], where: SourceMap, at: tuple[int, int]) -> SpecProblem:
    key = loc[-1]
    return SpecProblem(
        "SPEC_INVALID", ".".join(str(p) for p in loc), at[0], at[1],
        f"the key {key} appears twice (first on line {first[0]}); only the last one would count",
        f"键 {key} 出现了两次（第一次在第 {first[0]} 行），只有最后一个会生效",
    )  # fmt: skip


# -- YAML: the composed node tree keeps every key's mark --


_YAML_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")  # where YAML starts a new line


def _read_yaml(text: str) -> tuple[Any, SourceMap, list[SpecProblem]]:
    where: SourceMap = {}
    problems: list[SpecProblem] = []
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is None:
            return None, {}, [SpecProblem("SPEC_SYNTAX", "", 1, 1, "the file is empty", "文件为空")]
        where[()] = (node.start_mark.line + 1, node.start_mark.column + 1)
        document = _yaml_value(node, (), where, problems, yaml.SafeLoader(""))
    except yaml.MarkedYAMLError as exc:  # a syntax error, or a tag such as !!python/object
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        return None, {}, [_yaml_syntax(line, column, exc.problem or str(exc))]
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, e.g. a control character
        lines = _YAML_BREAK.split(text[: exc.position])
        line, column = len(lines), len(lines[-1]) + 1
        return None, {}, [_yaml_syntax(line, column, f"character #x{exc.character:04x} is not allowed")]
    except yaml.YAMLError as exc:
        return None, {}, [_yaml_syntax(1, 1, str(exc))]
    return document, where, problems


def _yaml_syntax(line: int | None, column: int | None, reason: str) -> SpecProblem:
    return SpecProblem("SPEC_SYNTAX", "", line, column, f"not valid YAML: {reason}", f"不是有效的 YAML：{reason}")


def _yaml_value(node: yaml.Node, loc: Loc, where: SourceMap, problems: list[SpecProblem], ctor: Any) -> Any:
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            at = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(SpecProblem("SPEC_INVALID", ".".join(map(str, loc)), *at,
                                            "a key is plain text", "键应为普通文本"))  # fmt: skip
                continue
            # The key as written: `01:` stays "01" and `Y:` stays "Y" (YAML 1.1 would read 1 and True).
            key = key_node.value
            if key in out:
                problems.append(_duplicate((*loc, key), where[(*loc, key)], where, at))
            where[(*loc, key)] = at
            out[key] = _yaml_value(value_node, (*loc, key), where, problems, ctor)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            where[(*loc, index)] = (item.start_mark.line + 1, item.start_mark.column + 1)
            items.append(_yaml_value(item, (*loc, index), where, problems, ctor))
        return items
    return ctor.construct_object(node, deep=True)


# -- JSON: parse with the json module (its errors have lines), then scan once for key positions --

_JSON_TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|([{}\[\]:,])|([^\s{}\[\]:,"]+))', re.S)


def _read_json(text: str) -> tuple[Any, SourceMap, list[SpecProblem]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, {}, [SpecProblem("SPEC_SYNTAX", "", exc.lineno, exc.colno, f"not valid JSON: {exc.msg}",
                                      f"不是有效的 JSON：{exc.msg}")]  # fmt: skip
    where: SourceMap = {}
    problems: list[SpecProblem] = []
    _JsonScanner(text, where, problems).scan()
    return document, where, problems


class _JsonScanner:
    """Positions of keys and list items in JSON text that `json.loads` accepted already."""

    def __init__(self, text: str, where: SourceMap, problems: list[SpecProblem]) -> None:
        self.tokens = [(m.start(m.lastindex), m.group(m.lastindex)) for m in _JSON_TOKEN.finditer(text) if m.lastindex]
        self.starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
        self.where, self.problems, self.i = where, problems, 0

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1

    def scan(self) -> None:
        if self.tokens:
            self.where[()] = self.position(self.tokens[0][0])
            self.value(())

    def value(self, loc: Loc) -> None:
        _, token = self.tokens[self.i]
        self.i += 1
        if token == "{":
            seen: set[str] = set()
            while self.tokens[self.i][1] != "}":
                offset, raw = self.tokens[self.i]
                key = json.loads(raw)
                at = self.position(offset)
                if key in seen:
                    self.problems.append(_duplicate((*loc, key), self.where[(*loc, key)], self.where, at))
                seen.add(key)
                self.where[(*loc, key)] = at
                self.i += 2  # the key and the colon
                self.value((*loc, key))
                if self.tokens[self.i][1] == ",":
                    self.i += 1
            self.i += 1
        elif token == "[":
            index = 0
            while self.tokens[self.i][1] != "]":
                self.where[(*loc, index)] = self.position(self.tokens[self.i][0])
                self.value((*loc, index))
                index += 1
                if self.tokens[self.i][1] == ",":
                    self.i += 1
            self.i += 1


# -- the types' errors, in the spec's own terms --

_UNION_TAG = re.compile(r"^(str|int|float|bool|none|[A-Z]\w*|(dict|list|literal|nullable|function-\w+)\[.*\])$")
_MISSING = object()
_TYPE_ZH = {
    "string_type": "应为文本（字符串）",
    "dict_type": "应为键值映射",
    "list_type": "应为列表",
    "bool_type": "应为 true 或 false",
}


def _type_problems(document: dict[str, Any], where: SourceMap) -> Iterator[SpecProblem]:
    """The model's validation errors, one per real problem: for a union (`FieldRule | str`), only the
    branch that fits the value's type speaks; a value that fits no branch gets one problem, not one per branch."""
    try:
        ConnectorSpec.model_validate(document, context={"structure_only": True})
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    else:
        return
    unions: dict[Loc, list[str]] = {}
    answered: set[Loc] = set()
    for error in errors:
        loc, fits, tags = _resolve(error["loc"], document)
        for prefix, tag in tags:
            unions.setdefault(prefix, []).append(tag)
        if not fits:
            continue
        answered.update(prefix for prefix, _ in tags)
        en, zh = _explain(error, loc)
        yield _problem("SPEC_INVALID", loc, where, en, zh)
    for prefix, union_tags in unions.items():
        if prefix not in answered:
            kinds = sorted({_kind(tag) for tag in union_tags})
            yield _problem("SPEC_INVALID", prefix, where, f"expected {' or '.join(kinds)}",
                           "应为" + "或".join(_KIND_ZH[k] for k in kinds))  # fmt: skip


def _resolve(raw: tuple[Any, ...], document: Any) -> tuple[Loc, bool, list[tuple[Loc, str]]]:
    """The error's place in the document, whether its union branch fits the value there, and the unions passed."""
    current, loc, fits = document, [], True
    tags: list[tuple[Loc, str]] = []
    for part in raw:
        if part == "[key]":
            continue
        inside = isinstance(current, dict) and part in current
        if inside or (isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)):
            loc.append(part)
            current = current[part]
        elif isinstance(part, str) and _UNION_TAG.match(part) and current is not _MISSING:
            tags.append((tuple(loc), part))
            fits = fits and _fits(part, current)
        else:
            loc.append(part)
            current = _MISSING
    return tuple(loc), fits, tags


def _kind(tag: str) -> str:
    if tag.startswith(("dict[", "function-")) or tag[0].isupper():
        return "a mapping"
    if tag.startswith("list["):
        return "a list"
    return "text"


_KIND_ZH = {"a mapping": "键值映射", "a list": "列表", "text": "文本"}


def _fits(tag: str, value: Any) -> bool:
    kind = _kind(tag)
    if kind == "a mapping":
        return isinstance(value, dict)
    if kind == "a list":
        return isinstance(value, list)
    return isinstance(value, str)


def _known_keys(loc: Loc) -> list[str]:
    model: type[BaseModel] = FieldRule if len(loc) == 3 and loc[0] == "fields" else ConnectorSpec
    return list(model.model_fields)


def _explain(error: Any, loc: Loc) -> tuple[str, str]:
    kind, message, value = error["type"], error["msg"], error.get("input")
    name = str(loc[-1]) if loc else "the spec"
    if kind == "missing":
        return f"{name} is required", f"缺少必填项 {name}"
    if kind == "extra_forbidden":
        known = ", ".join(_known_keys(loc))
        hint = closest(name, _known_keys(loc))
        return (f"unknown key {name}" + (f"; did you mean {hint}?" if hint else f"; known: {known}"),
                f"未知的键 {name}" + (f"，是否应为 {hint}？" if hint else f"；可用：{known}"))  # fmt: skip
    if kind == "literal_error" and error["loc"][-1] == "[key]" and loc[:1] == ("fields",):
        hint = closest(name, UNIFIED_FIELDS)
        return (f"{name} is not a unified field" + (f"; did you mean {hint}?" if hint else ""),
                f"{name} 不是统一字段" + (f"，是否应为 {hint}？" if hint else ""))  # fmt: skip
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return (
            f"{value!r} is not allowed here; use {expected}",
            f"取值 {value!r} 无效，可用：{expected.replace(' or ', '、')}",
        )
    if kind == "string_pattern_mismatch" and loc == ("kind",):
        return (f"{value!r}: kind is 2-41 lowercase letters, digits or _, starting with a letter",
                f"{value!r}：kind 须为 2–41 个小写字母、数字或下划线，以字母开头")  # fmt: skip
    if kind == "too_short":
        return f"{name} needs at least one item", f"{name} 至少需要一项"
    if kind == "rule_without_source":
        return message, "字段须给出 path、const 或 default 之一"
    if kind == "rule_two_sources":
        return message, "字段只能给出 path 或 const 之一，不能同时给出"
    if kind in _TYPE_ZH:
        return f"{message} (got {value!r})", f"{_TYPE_ZH[kind]}（实际为 {value!r}）"
    return message, f"不符合接入规范：{message}"


# -- a spec against a real payload --


def check_against_sample(spec: ConnectorSpec | LoadedSpec, body: bytes, content_type: str | None) -> list[SpecProblem]:
    """Every mapped path that finds nothing in the sample: an error where the rating would be refused
    for it (a required field without a default, the records path, the whole source_rating_id), a
    warning where the field is optional. A body that cannot be read at all gives its own codes."""
    loaded = spec if isinstance(spec, LoadedSpec) else LoadedSpec(spec)
    spec = loaded.spec
    try:
        unmatched = SpecAdapter(spec).unmatched_paths(body, content_type)
    except Refused as exc:
        return [SpecProblem(p.code, "sample", None, None, p.message, p.message_zh) for p in exc.problems]
    unmatched_ids = sum(1 for u in unmatched if u.what == "source_rating_id")
    problems = []
    for u in unmatched:
        if u.what == "records":
            loc: Loc = ("records", u.fmt) if isinstance(spec.records, dict) else ("records",)
            error, en_what, zh_what = True, "the records path", "records 路径"
        elif u.what == "source_rating_id":
            loc = ("source_rating_id", u.index or 0)
            error = unmatched_ids == len(spec.source_rating_id)  # nothing left to identify the rating
            en_what, zh_what = "the source_rating_id path", "source_rating_id 路径"
        else:
            rule = spec.fields[u.what]  # type: ignore[index]
            loc = ("fields", u.what, "path") if isinstance(rule, FieldRule) else ("fields", u.what)
            has_default = isinstance(rule, FieldRule) and rule.default is not None
            error = u.what in SAMPLE_REQUIRED and not has_default
            en_what, zh_what = f"the path of {u.what}", f"字段 {u.what} 的路径"
        hint_en, hint_zh = (f"; {u.hint[0]}", f"；{u.hint[1]}") if u.hint else ("", "")
        line, column = loaded.locate(loc)
        tail = "" if error else " (optional: ratings without it are still read)"
        tail_zh = "" if error else "（可选字段：缺少时评价仍可读取）"
        problems.append(SpecProblem(
            "SPEC_PATH_UNMATCHED", ".".join(map(str, loc)), line, column,
            f"{en_what} {u.path!r} finds nothing in the sample{hint_en}{tail}",
            f"{zh_what} {u.path!r} 在样例报文中找不到对应内容{hint_zh}{tail_zh}",
            "error" if error else "warning",
        ))  # fmt: skip
    return problems


__all__ = [
    "SPEC_CODES", "LoadedSpec", "SpecInvalid", "SpecProblem", "check_against_sample", "load_spec", "locate",
    "parse_spec",
]  # fmt: skip

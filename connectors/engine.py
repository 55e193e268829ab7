"""The declarative mapping engine: a `ConnectorSpec` compiled into an `Adapter`.

Compiling does the per-field work once (paths, tables, time parsers), so the per-record cost is a
handful of dictionary lookups; that cost is what `bench/normalize.py` measures.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element
from zoneinfo import ZoneInfo

import jmespath

from connectors.base import Adapter, Translation
from connectors.decode import decode_document, format_of, parse_content_type
from connectors.spec import TIME_FIELDS, ConnectorSpec, FieldRule, Format
from connectors.timeformats import compile_time_format
from hub.errors import Problem, Refused, problem
from hub.tags import TagCode, match_label

MAX_BATCH = 100
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_GRADE_FIELDS = frozenset({"grade", "staff_grade"})
_TRUE = frozenset({"1", "true", "yes", "y", "是"})
_FALSE = frozenset({"0", "false", "no", "n", "否", ""})

Getter = Callable[[Any], Any]


def _json_getter(path: str) -> Getter:
    if path in ("@", "."):
        return lambda record: record
    if _DOTTED.match(path):
        keys = tuple(path.split("."))
        if len(keys) == 1:
            key = keys[0]
            return lambda record: record.get(key) if isinstance(record, dict) else None

        def get(record: Any) -> Any:
            for key in keys:
                if not isinstance(record, dict):
                    return None
                record = record.get(key)
            return record

        return get
    expression = jmespath.compile(path)
    return expression.search


def _xml_getter(path: str, namespaces: dict[str, str]) -> Getter:
    if path in ("@", "."):
        return lambda element: element
    element_path, _, attribute = path.partition("@")
    element_path = element_path.rstrip("/")
    if _DOTTED.match(element_path):
        element_path = element_path.replace(".", "/")  # one path serves a JSON and an XML body
    if attribute and ":" in attribute:
        prefix, _, local = attribute.partition(":")
        attribute = f"{{{namespaces[prefix]}}}{local}"

    def get(element: Element) -> Any:
        node = element.find(element_path, namespaces) if element_path else element
        if node is None:
            return None
        if attribute:
            return node.get(attribute)
        children = list(node)
        if children and all(child.tag == children[0].tag for child in children) and not (node.text or "").strip():
            return [child.text or "" for child in children]  # a repeated element is a list
        return node.text

    return get


def _flat_children(element: Element) -> dict[str, Any]:
    """An XML record's leaf children by tag, read once; nested elements stay for their paths."""
    flat: dict[str, Any] = {}
    for child in element:
        if len(child):
            continue
        if child.tag in flat:
            previous = flat[child.tag]
            flat[child.tag] = [*previous, child.text] if isinstance(previous, list) else [previous, child.text]
        else:
            flat[child.tag] = child.text
    return flat


def _form_getter(path: str) -> Getter:
    return lambda form: form.get(path)


def _ignore_unified(get: Getter) -> Callable[[Any, dict[str, Any]], Any]:
    return lambda record, _unified: get(record)


def _unified_getter(name: str) -> Callable[[Any, dict[str, Any]], Any]:
    """A `$name` in source_rating_id: the translated unified value (so defaults count)."""
    parts = name.split(".")

    def get(_record: Any, unified: dict[str, Any]) -> Any:
        value: Any = unified
        for part in parts:
            value = value.get(part) if isinstance(value, dict) else None
        return value

    return get


@dataclass(slots=True)
class _Field:
    unified: str
    parts: tuple[str, ...]
    get: Getter | None
    rule: FieldRule
    convert: Callable[[Any], Any]
    source_path: str | None
    is_tags: bool = False


@dataclass(slots=True)
class _Record:
    """A record as `split` found it, with the format it came in."""

    reader: _Reader
    data: Any


class _Reader:
    """The spec compiled for one format: getters, converters and the source path of every field."""

    def __init__(self, spec: ConnectorSpec, fmt: Format, zone: ZoneInfo) -> None:
        self.fmt = fmt
        self.charset = spec.charset_for(fmt)
        records = spec.records_for(fmt)
        self._namespaces = spec.namespaces
        separator = "/" if fmt == "xml" else "."
        prefix = f"{records}{separator}" if records and fmt != "form" else ""
        self.records = self._getter(records) if records else None
        self.records_path = records
        self.id_getters: list[Callable[[Any, dict[str, Any]], Any]] = [
            _unified_getter(path[1:]) if path.startswith("$") else _ignore_unified(self._getter(path))
            for path in spec.source_rating_id
        ]
        self.id_paths = ", ".join(p if p.startswith("$") else prefix + p for p in spec.source_rating_id)
        self.fields: list[_Field] = []
        for unified in spec.fields:
            rule = spec.rule(unified)
            assert rule is not None
            self.fields.append(
                _Field(
                    unified=unified,
                    parts=tuple(unified.split(".")),
                    get=self._getter(rule.path) if rule.path is not None else None,
                    rule=rule,
                    convert=_converter(unified, rule, zone),
                    source_path=(prefix + rule.path) if rule.path is not None else None,
                    is_tags=unified == "tags",
                )
            )
        # A top-level key of a JSON object or a form is read with one dict.get: the common case, made cheap.
        self.plan: list[tuple[_Field, str | None]] = [
            (f, f.rule.path if f.rule.path and _IDENT.match(f.rule.path) else None) for f in self.fields
        ]
        paths = {f.unified: f.source_path for f in self.fields if f.source_path}
        paths["source_rating_id"] = self.id_paths
        self.source_paths: dict[str, str | None] = paths

    def _getter(self, path: str) -> Getter:
        if self.fmt == "json":
            return _json_getter(path)
        if self.fmt == "xml":
            return _xml_getter(path, self._namespaces)
        return _form_getter(path)


def _converter(unified: str, rule: FieldRule, zone: ZoneInfo) -> Callable[[Any], Any]:
    if unified == "tags":
        return lambda value: value  # tags are translated as a list, in `_tags`
    if rule.table is not None:
        table = {str(k): v for k, v in rule.table.items()}

        def lookup(value: Any) -> Any:
            key = str(value).strip()
            if key not in table:
                raise _Unmapped(key)
            return table[key]

        return lookup
    if rule.time is not None or unified in TIME_FIELDS:
        return compile_time_format(rule.time or "iso", zone)
    if unified == "rater.real_name":
        return _boolean
    return _text


class SpecAdapter(Adapter):
    """An adapter defined by a spec: the built-in families and every registered connector."""

    def __init__(self, spec: ConnectorSpec) -> None:
        self.spec = spec
        self.kind = spec.kind
        zone = ZoneInfo(spec.timezone)
        self._readers = {fmt: _Reader(spec, fmt, zone) for fmt in spec.formats}
        self._default = self._readers[spec.formats[0]]

    def _reader_for(self, content_type: str | None) -> tuple[_Reader, str | None]:
        mime, charset = parse_content_type(content_type)
        fmt = format_of(mime)
        if fmt is None and mime is not None and mime not in ("text/plain", "application/octet-stream"):
            fmt = "unsupported"  # type: ignore[assignment]
        if fmt is None:
            return self._default, charset
        reader = self._readers.get(fmt)
        if reader is None:
            reads = " or ".join(self._readers)
            raise Refused([problem("CONTENT_TYPE_UNSUPPORTED", "", f"{mime}; this connector reads {reads}")])
        return reader, charset

    # -- the Adapter interface --

    def split(self, body: bytes, content_type: str | None) -> list[Any]:
        reader, charset = self._reader_for(content_type)
        document = decode_document(body, reader.fmt, charset or reader.charset)
        found = reader.records(document) if reader.records else document
        if found is None:
            raise Refused([problem("FIELD_REQUIRED", "", source_path=reader.records_path)])
        records = found if isinstance(found, list) else [found]
        if len(records) > MAX_BATCH:
            raise Refused([problem("BATCH_TOO_LARGE", "", str(MAX_BATCH))])
        if not records:
            raise Refused([problem("BODY_EMPTY", "")])
        return [_Record(reader, record) for record in records]

    def translate(self, record: Any) -> Translation:
        if not isinstance(record, _Record):
            record = _Record(self._default, record)
        reader, data = record.reader, record.data
        unified: dict[str, Any] = {}
        problems: list[Problem] = []
        unmatched: list[str] = []
        if reader.fmt == "json" and not isinstance(data, dict):
            problems.append(problem("BODY_MALFORMED", "", "a record must be a JSON object"))
            return Translation(unified, None, problems, reader.source_paths.get)
        flat = _flat_children(data) if reader.fmt == "xml" else data
        for f, key in reader.plan:
            raw = flat[key] if key is not None and key in flat else None if f.get is None else f.get(data)
            if raw is None or raw == "" or raw == [] or (raw.__class__ is str and not raw.strip()):
                # const and default are written in the unified vocabulary already: no translation
                value = f.rule.const if f.get is None else f.rule.default
                if value is None:
                    continue
            else:
                try:
                    value = self._tags(raw, f.rule, unmatched) if f.is_tags else f.convert(raw)
                except _Unmapped as exc:
                    code = "GRADE_UNKNOWN" if f.unified in _GRADE_FIELDS else "VALUE_UNMAPPED"
                    problems.append(problem(code, f.unified, repr(exc.args[0])[:80], f.source_path))
                    continue
                except (ValueError, TypeError, OverflowError, OSError) as exc:
                    code = "TIME_INVALID" if f.rule.time or f.unified in TIME_FIELDS else "FIELD_INVALID"
                    problems.append(problem(code, f.unified, f"{str(raw)[:40]!r}: {exc}", f.source_path))
                    continue
            parts = f.parts
            if len(parts) == 1:
                unified[parts[0]] = value
                continue
            target = unified
            for part in parts[:-1]:
                target = target.get(part) or target.setdefault(part, {})
            target[parts[-1]] = value
        if unmatched:
            note = "其他：" + "、".join(unmatched)
            comment = unified.get("comment")
            unified["comment"] = f"{comment}；{note}" if comment else note
        id_parts = [_text(v) for v in (get(data, unified) for get in reader.id_getters) if v not in (None, "")]
        if not id_parts:
            problems.append(problem("FIELD_REQUIRED", "source_rating_id", source_path=reader.id_paths))
        return Translation(unified, "-".join(id_parts) or None, problems, reader.source_paths.get)

    def _tags(self, raw: Any, rule: FieldRule, unmatched: list[str]) -> list[str]:
        items = raw if isinstance(raw, list) else str(raw).split(rule.split) if rule.split else [raw]
        table = rule.table or {}
        tags: list[str] = []
        for item in items:
            text = _text(item)
            if not text:
                continue
            code: str | None = table.get(text)
            if code is None:
                if rule.match == "label":
                    code = match_label(text)
                elif text in TagCode.__members__:
                    code = text
            if code is None:
                unmatched.append(text)
                code = TagCode.OTHER
            if code not in tags:
                tags.append(code)
        return tags


class _Unmapped(Exception):
    pass


def _text(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("expected 1/0 or true/false")

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
from connectors.spec import TIME_FIELDS, ConnectorSpec, FieldRule, Format, closest, split_xml_path
from connectors.timeformats import compile_time_format
from hub.errors import Problem, Refused, problem, unknown_field
from hub.jsonbody import not_an_object
from hub.tags import TagCode, match_label

MAX_BATCH = 100
# Families whose JSON is the hub's own contract (schemas/unified-rating.json: additionalProperties false):
# a field no path reads is a mistake to refuse (FIELD_UNKNOWN), not a source's extra to ignore.
CLOSED_KINDS = frozenset({"unified"})
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_GRADE_FIELDS = frozenset({"grade", "staff_grade"})
_TIME_FORMAT_ZH = {"iso": "带时区偏移的 ISO 8601"}
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


def _xml_name(name: str, namespaces: dict[str, str]) -> str:
    """`prefix:local` as ElementTree spells it, `{uri}local` (the spec's load checks declared the prefix)."""
    if ":" not in name:
        return name
    prefix, _, local = name.partition(":")
    return f"{{{namespaces[prefix]}}}{local}"


def _xml_getter(path: str, namespaces: dict[str, str], *, many: bool = False) -> Getter:
    """An element's text, an attribute's value, or a list of texts for a repeated element.

    `many` (tags): every element the path selects counts, so `tags/tag` and `tags/tag/@code` give lists.
    """
    if path in ("@", "."):
        return lambda element: element
    element_path, attribute = split_xml_path(path)
    if attribute is not None:
        attribute = _xml_name(attribute, namespaces)

    def value_of(node: Element) -> Any:
        if attribute is not None:
            return node.get(attribute)
        children = list(node)
        if children and all(child.tag == children[0].tag for child in children) and not (node.text or "").strip():
            return [child.text or "" for child in children]  # a repeated element is a list
        return node.text

    if many and element_path:

        def get_all(element: Element) -> Any:
            nodes = element.findall(element_path, namespaces)
            if len(nodes) == 1:
                return value_of(nodes[0])
            values = [value_of(node) for node in nodes]
            return [v for v in values if v is not None] or None

        return get_all

    def get(element: Element) -> Any:
        node = element.find(element_path, namespaces) if element_path else element
        return None if node is None else value_of(node)

    return get


def _xml_records(path: str, namespaces: dict[str, str]) -> Getter:
    """Every element the records path selects is one record (one element: a batch of one)."""
    element_path, _ = split_xml_path(path)
    return lambda root: root.findall(element_path, namespaces) or None


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
        self.namespaces = self._namespaces = spec.namespaces
        separator = "/" if fmt == "xml" else "."
        prefix = f"{records}{separator}" if records and fmt != "form" else ""
        if records and fmt == "xml":
            self.records: Getter | None = _xml_records(records, self._namespaces)
        else:
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
                    get=self._getter(rule.path, many=unified == "tags") if rule.path is not None else None,
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
        self.closed: dict[str, Any] | None = None
        if fmt == "json" and spec.kind in CLOSED_KINDS:
            self.closed = _known_tree([*(f.rule.path for f in self.fields if f.rule.path), *spec.source_rating_id])
        paths: dict[str, str | None] = {f.unified: f.source_path for f in self.fields if f.source_path}
        paths["source_rating_id"] = self.id_paths
        self.source_paths = paths

    def _getter(self, path: str, *, many: bool = False) -> Getter:
        if self.fmt == "json":
            return _json_getter(path)
        if self.fmt == "xml":
            return _xml_getter(path, self._namespaces, many=many)
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
        if fmt is None and self.kind in CLOSED_KINDS and mime is not None:
            fmt = "unsupported"  # type: ignore[assignment]  # the hub's own format is JSON, declared or implied
        if fmt is None:
            return self._default, charset
        reader = self._readers.get(fmt)
        if reader is None:
            reads = " or ".join(self._readers)
            reads_zh = "或".join(fmt.upper() for fmt in self._readers)
            raise Refused([problem("CONTENT_TYPE_UNSUPPORTED", "", f"{mime}; this connector reads {reads}",
                                   detail_zh=f"{mime}；该接入方只接受 {reads_zh} 格式")])  # fmt: skip
        return reader, charset

    # -- the Adapter interface --

    def split(self, body: bytes, content_type: str | None) -> list[Any]:
        reader, charset = self._reader_for(content_type)
        document = decode_document(body, reader.fmt, charset or reader.charset)
        if reader.fmt == "json" and not isinstance(document, (dict, list)):
            raise not_an_object("a JSON object, or a list of JSON objects", "一个 JSON 对象或由 JSON 对象组成的列表")
        found = reader.records(document) if reader.records else document
        if found is None:
            raise Refused([problem("FIELD_REQUIRED", "", source_path=reader.records_path)])
        records = found if isinstance(found, list) else [found]
        if len(records) > MAX_BATCH:
            raise Refused([problem("BATCH_TOO_LARGE", "", str(MAX_BATCH))])
        if not records:
            raise Refused([problem("BODY_EMPTY", "")])
        if reader.fmt == "json" and not all(isinstance(record, dict) for record in records):
            raise not_an_object("a JSON object, or a list of JSON objects", "一个 JSON 对象或由 JSON 对象组成的列表")
        return [_Record(reader, record) for record in records]

    def translate(self, record: Any) -> Translation:
        if not isinstance(record, _Record):
            record = _Record(self._default, record)
        reader, data = record.reader, record.data
        unified: dict[str, Any] = {}
        problems: list[Problem] = []
        unmatched: list[str] = []
        if reader.fmt == "json" and not isinstance(data, dict):
            problems.append(problem("BODY_MALFORMED", "", "a record must be a JSON object",
                                    detail_zh="每条记录应为一个 JSON 对象"))  # fmt: skip
            return Translation(unified, None, problems, reader.source_paths.get)
        if reader.closed is not None:
            problems.extend(_unknown_fields(data, reader.closed, ""))
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
                    shown = repr(str(raw)[:40])
                    if f.rule.time or f.unified in TIME_FIELDS:
                        wanted = _TIME_FORMAT_ZH.get(f.rule.time or "iso", f.rule.time)
                        code, zh = "TIME_INVALID", f"{shown}，应为 {wanted} 格式"
                    else:
                        code = "FIELD_INVALID"
                        zh = f"{shown}，应为 1/0 或 true/false" if f.convert is _boolean else f"{shown} 无法识别"
                    problems.append(problem(code, f.unified, f"{shown}: {exc}", f.source_path, detail_zh=zh))
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

    # -- checking a spec against a sample (load time, not the hot path) --

    def unmatched_paths(self, body: bytes, content_type: str | None) -> list[Unmatched]:
        """Every path of the spec that finds nothing in any record of `body`.

        A present but empty value counts as found: the path is right, this sample just leaves it blank.
        Raises `Refused` for a body that cannot be read at all (as `split` does).
        """
        reader, charset = self._reader_for(content_type)
        document = decode_document(body, reader.fmt, charset or reader.charset)
        if reader.records is not None:
            found = reader.records(document)
            if found is None:
                path = reader.records_path or ""
                return [Unmatched("records", None, path, reader.fmt, _hint(reader, document, path))]
            records = found if isinstance(found, list) else [found]
        else:
            records = [document]
        probes: list[tuple[str, int | None, str]] = [
            (f.unified, None, f.rule.path) for f in reader.fields if f.rule.path is not None
        ]
        ids = self.spec.source_rating_id
        probes += [("source_rating_id", i, p) for i, p in enumerate(ids) if not p.startswith("$")]
        out = []
        for what, index, path in probes:
            probe = _probe(reader, path)
            if not any(probe(record) for record in records):
                out.append(Unmatched(what, index, path, reader.fmt, _hint(reader, records[0], path)))
        return out

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


# Names senders use for a unified field, that spelling distance alone would not find.
_SAME_MEANING = {"mobile": "phone", "tel": "phone", "telephone": "phone", "cellphone": "phone", "remark": "comment",
                 "remarks": "comment", "reason": "comment", "score": "grade", "satisfaction": "grade"}  # fmt: skip


def _known_tree(paths: list[str]) -> dict[str, Any]:
    """Dotted paths as a tree of keys; a leaf (None) takes any value."""
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        *parents, leaf = path.split(".")
        for part in parents:
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
        node.setdefault(leaf, None)
    return tree


def _unknown_fields(record: dict[str, Any], known: dict[str, Any], prefix: str) -> list[Problem]:
    """FIELD_UNKNOWN for every key of `record` (at any depth) that `known` does not hold."""
    found: list[Problem] = []
    for key, value in record.items():
        if key not in known:
            near = closest(key, list(known)) or _SAME_MEANING.get(key.lower())
            found.append(unknown_field(prefix + key, near if near in known else None))
        elif known[key] is not None and isinstance(value, dict):
            found.extend(_unknown_fields(value, known[key], f"{prefix}{key}."))
    return found


class _Unmapped(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Unmatched:
    """A spec path that found nothing in a sample: `what` is a unified field, `records` or `source_rating_id`."""

    what: str
    index: int | None
    path: str
    fmt: Format
    hint: tuple[str, str] | None = None  # (English, Chinese)


def _probe(reader: _Reader, path: str) -> Callable[[Any], bool]:
    """Whether `path` selects something in a record (present, even if blank)."""
    if path in ("@", "."):
        return lambda _record: True
    if reader.fmt == "json":
        if _DOTTED.match(path):
            keys = path.split(".")

            def present(record: Any) -> bool:
                for key in keys:
                    if not isinstance(record, dict) or key not in record:
                        return False
                    record = record[key]
                return True

            return present
        expression = jmespath.compile(path)
        return lambda record: expression.search(record) is not None
    if reader.fmt == "xml":
        element_path, attribute = split_xml_path(path)
        name = _xml_name(attribute, reader.namespaces) if attribute else None

        def selected(record: Any) -> bool:
            if not isinstance(record, Element):
                return False
            nodes = record.findall(element_path, reader.namespaces) if element_path else [record]
            return any(node.get(name) is not None for node in nodes) if name else bool(nodes)

        return selected
    return lambda record: isinstance(record, dict) and path in record


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _hint(reader: _Reader, record: Any, path: str | None) -> tuple[str, str] | None:
    """The likely slip behind an unmatched path, as (English, Chinese): a path that repeats the record's
    own element, fields under an envelope key, or the step that fails and what is there instead."""
    if not path:
        return None
    if reader.fmt == "xml" and isinstance(record, Element):
        return _xml_hint(reader.namespaces, record, path)
    if reader.fmt == "json" and isinstance(record, dict):
        return _json_hint(record, path)
    if reader.fmt == "form" and isinstance(record, dict):
        near = closest(path, list(record))
        if near:
            return f"the form has no {path}; did you mean {near}?", f"表单中没有 {path}，是否应为 {near}？"
    return None


_SIMPLE_XML_STEP = re.compile(r"^(?:[^\W\d][\w-]*:)?[^\W\d][\w-]*$")


def _xml_hint(namespaces: dict[str, str], record: Element, path: str) -> tuple[str, str] | None:
    prefixes = {uri: prefix for prefix, uri in namespaces.items() if prefix}

    def qname(tag: str) -> str:
        uri, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
        return f"{prefixes[uri]}:{local}" if uri in prefixes else local if not uri else tag

    element_path, attribute = split_xml_path(path)
    steps = element_path.split("/") if element_path else []
    if steps and steps[0].rpartition(":")[2] == _local(record.tag):
        tag = qname(record.tag)
        return (f"paths start below <{tag}> itself: drop the leading {steps[0]}/",
                f"路径从 <{tag}> 之下开始，不含其自身：去掉开头的 {steps[0]}/")  # fmt: skip
    if not all(_SIMPLE_XML_STEP.match(step) for step in steps):
        return None
    node = record
    for step in steps:
        found = node.find(step, namespaces)
        if found is None:
            local = step.rpartition(":")[2]
            twin = next((child for child in node if _local(child.tag) == local), None)
            if twin is not None:  # the right name in another namespace: the usual default-namespace slip
                uri = twin.tag[1:].partition("}")[0] if twin.tag.startswith("{") else ""
                if uri and ":" not in step and namespaces.get("") != uri:
                    fix = f'map it as the default namespace, namespaces: {{"": "{uri}"}}, or write a prefix'
                    fix_zh = f'请将其声明为默认命名空间 namespaces: {{"": "{uri}"}}，或加上前缀'
                elif uri in prefixes:
                    fix, fix_zh = f"write {qname(twin.tag)}", f"应写作 {qname(twin.tag)}"
                elif uri:
                    fix = f'declare its namespace, e.g. namespaces: {{x: "{uri}"}}, and write x:{local}'
                    fix_zh = f'请声明其命名空间，如 namespaces: {{x: "{uri}"}}，并写作 x:{local}'
                else:
                    fix, fix_zh = f"write {local}, without a prefix", f"应写作 {local}，不带前缀"
                where, where_zh = (f"namespace {uri}", f"命名空间 {uri} 中") if uri else ("no namespace", "无命名空间")
                return (f"<{qname(node.tag)}> has no {step}, but has {local} in {where}: {fix}",
                        f"<{qname(node.tag)}> 下没有 {step}，但有{where_zh}的 {local}：{fix_zh}")  # fmt: skip
            held = ", ".join(sorted({qname(child.tag) for child in node})) or "no elements"
            return (f"<{qname(node.tag)}> has no {step}; it holds {held}",
                    f"<{qname(node.tag)}> 下没有 {step}；其下有：{held}")  # fmt: skip
        node = found
    if attribute is not None and node.get(_xml_name(attribute, namespaces)) is None:
        attributes = ", ".join(qname(a) for a in node.attrib) or "none"
        en = f"<{qname(node.tag)}> has no attribute {attribute}; its attributes: {attributes}"
        zh = f"<{qname(node.tag)}> 没有属性 {attribute}；其属性有：{attributes}"
        child = next((qname(c.tag) for c in node if _local(c.tag) == _local(attribute)), None)
        if child is not None:
            better = f"{element_path}/{child}" if element_path else child
            en, zh = f"{en}; the child element is {better}", f"{zh}；对应的子元素为 {better}"
        return en, zh
    return None


def _json_hint(record: dict[str, Any], path: str) -> tuple[str, str] | None:
    first = path.split(".")[0]
    if len(record) == 1:
        [(key, inner)] = record.items()
        items = inner if isinstance(inner, list) else [inner]
        if first != key and any(isinstance(item, dict) and first in item for item in items):
            return (f"the payload's fields sit under {key!r}: set records: {key}",
                    f"报文字段位于 {key!r} 之下：请设置 records: {key}")  # fmt: skip
    if not _DOTTED.match(path):
        return None
    node: Any = record
    keys = path.split(".")
    for depth, key in enumerate(keys):
        where = ".".join(keys[:depth]) or "the record"
        where_zh = ".".join(keys[:depth]) or "记录"
        if not isinstance(node, dict):
            return f"{where} is not an object", f"{where_zh} 不是对象"
        if key not in node:
            near = closest(key, list(node))
            held = ", ".join(node) or "nothing"
            if near:
                return f"{where} has no {key}; did you mean {near}?", f"{where_zh} 下没有 {key}，是否应为 {near}？"
            return f"{where} has no {key}; it holds {held}", f"{where_zh} 下没有 {key}；其下有：{held}"
        node = node[key]
    return None


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

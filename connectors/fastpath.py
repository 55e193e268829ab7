"""The compiled fast path: source bytes to the validated `Rating`, without interpreting the spec per record.

Each reader of a `SpecAdapter` is compiled once, on first use (not at import: cold start counts too), into one
plain-Python function generated from its spec. It reads the paths, translates the values with the reference's own
converters and tables, checks what `Rating.model_validate` and `check_timing` check — types, lengths, USCC check
character, division code, ID-number check digit, mobile, R1–R5 — with the very functions of `hub.codes`, and builds
the frozen models directly. It only ever *accepts*: whatever it does not prove acceptable (a refusal, an unusual type,
an exception, XML beyond the plain subset) it hands to the reference path (`SpecAdapter.split`/`translate`, then
`Rating.model_validate` and `check_timing`), which decides, so every refusal keeps its code, path and message.
`tests/unit/test_fastpath.py` checks, over generated inputs of every family, that both paths agree.

XML: the reference parses with expat after refusing any DTD or entity declaration. The fast scanner here reads only
a plain subset — one root element holding leaf elements, their text without `&`, `<`, `]]>`, `\\r` or characters
XML forbids — so there is no markup declaration and no entity reference to expand; anything else takes the
reference path (and its refusal of DTDs).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel

from connectors import engine
from connectors.decode import _ESCAPED_COLON, _XML_DECL, _XML_DECL_TEXT, decode_document
from connectors.engine import MAX_BATCH, SpecAdapter, _Field, _Reader, _Record
from connectors.normalize import ItemOutcome, normalize_record
from hub.calendar import WorkingDayCalendar
from hub.codes import Level, check_id_number, check_mobile, check_region_code, check_uscc, region_level
from hub.errors import Refused
from hub.rating import (
    COMMENT_MAX,
    STAFF_RATING_CHANNELS,
    TEXT_MAX,
    Case,
    Channel,
    EvaluationType,
    Grade,
    Provider,
    Rater,
    RaterType,
    Rating,
    Source,
    Staff,
    Target,
    rating_id_for,
)
from hub.rules import RatingPolicy
from hub.tags import TagCode

# A record's function: (data, connector_id, received_at, now, calendar, policy) -> (Rating, source_rating_id) | None
RecordFn = Callable[..., "tuple[Rating, str] | None"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

# -- what each model field takes: the checks pydantic runs for it, restated (tests hold the two equal) ------------
# kind: ("text", min_length, max_length) | ("code", check) | ("enum", {value: member}) | ("dt",) | ("bool",)
#       | ("tags",) | ("comment",) | ("model", layout); default: what an absent field holds (or _REQUIRED)
_REQUIRED = object()
_LIST = object()  # default_factory=list
_DEFAULT_RATER = object()  # default_factory=Rater


def _members(enum: Any) -> dict[str, Any]:
    return {member.value: member for member in enum}


_TEXT = TEXT_MAX
_LAYOUT: dict[type[BaseModel], tuple[tuple[str, str | None, tuple[Any, ...], Any], ...]] = {
    Case: (
        ("case_no", "case.case_no", ("text", 1, 64), _REQUIRED),
        ("service_code", "case.service_code", ("text", 0, 64), None),
        ("service_name", "case.service_name", ("text", 0, _TEXT), None),
        ("step", "case.step", ("text", 0, 64), None),
        ("handled_at", "case.handled_at", ("dt",), None),
    ),
    Staff: (
        ("staff_id", "target.staff.staff_id", ("text", 1, 64), _REQUIRED),
        ("name", "target.staff.name", ("text", 0, 50), None),
    ),
    Provider: (
        ("credit_code", "target.provider.credit_code", ("code", check_uscc), _REQUIRED),
        ("name", "target.provider.name", ("text", 0, _TEXT), None),
    ),
    Target: (
        ("agency_code", "target.agency_code", ("code", check_uscc), _REQUIRED),
        ("agency_name", "target.agency_name", ("text", 0, _TEXT), None),
        ("region_code", "target.region_code", ("code", check_region_code), _REQUIRED),
        ("level", "target.level", ("enum", _members(Level)), None),
        ("staff", None, ("model", Staff), None),
        ("provider", None, ("model", Provider), None),
        ("hall", "target.hall", ("text", 0, _TEXT), None),
        ("window_no", "target.window_no", ("text", 0, 32), None),
    ),
    Rater: (
        ("type", "rater.type", ("enum", _members(RaterType)), RaterType.PERSON),
        ("name", "rater.name", ("text", 0, 100), None),
        ("phone", "rater.phone", ("code", check_mobile), None),
        ("id_no", "rater.id_no", ("code", check_id_number), None),
        ("credit_code", "rater.credit_code", ("text", 0, 32), None),
        ("real_name", "rater.real_name", ("bool",), False),
    ),
}
_RATING_BODY: tuple[tuple[str, str | None, tuple[Any, ...], Any], ...] = (
    ("case", None, ("model", Case), _REQUIRED),
    ("target", None, ("model", Target), _REQUIRED),
    ("channel", "channel", ("enum", _members(Channel)), _REQUIRED),
    ("evaluation_type", "evaluation_type", ("enum", _members(EvaluationType)), EvaluationType.ACTIVE),
    ("grade", "grade", ("enum", _members(Grade)), _REQUIRED),
    ("staff_grade", "staff_grade", ("enum", _members(Grade)), None),
    ("tags", "tags", ("tags",), _LIST),
    ("comment", "comment", ("comment",), None),
    ("rater", None, ("model", Rater), _DEFAULT_RATER),
    ("rated_at", "rated_at", ("dt",), _REQUIRED),
)
_RATING_OWN = ("rating_id", "source")  # filled by the hub, not the source
_SOURCE_FIELDS = ("connector_id", "kind", "source_rating_id", "received_at")


def _layout_is_current() -> bool:
    """The layout above names every field of the models, in order: a model that changed turns the fast path off
    (the reference path then serves everything) rather than letting it build a stale shape."""
    for model, fields in _LAYOUT.items():
        if tuple(model.model_fields) != tuple(name for name, *_ in fields):
            return False
    body = tuple(name for name, *_ in _RATING_BODY) + _RATING_OWN
    return tuple(Rating.model_fields) == body and tuple(Source.model_fields) == _SOURCE_FIELDS


def _leaves(layout: tuple[tuple[str, str | None, tuple[Any, ...], Any], ...]) -> list[str]:
    found: list[str] = []
    for _name, unified, kind, _default in layout:
        if kind[0] == "model":
            found += _leaves(_LAYOUT[kind[1]])
        elif unified is not None:
            found.append(unified)
    return found


_TAG_MEMBERS = _members(TagCode)
_BAD = frozenset({Grade.DISSATISFIED, Grade.VERY_DISSATISFIED})
_DEFAULT_POLICY = RatingPolicy()
_NONE_EMPTY = (None, "")
_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def _clean_text(value: Any) -> bool:
    """A table, const or default value that pydantic's whitespace stripping leaves as it is (Python's strip removes
    a superset of what pydantic-core's does, so a value equal to its Python strip is unchanged by both)."""
    return not isinstance(value, str) or value == value.strip()


class _Unsupported(Exception):
    """This reader is not compiled (the reference path serves it)."""


class _Codegen:
    def __init__(self, adapter: SpecAdapter, reader: _Reader) -> None:
        self.adapter, self.reader = adapter, reader
        self.lines: list[str] = []
        self.consts: dict[str, Any] = {
            "_str": str, "_list": list, "_dict": dict, "_bool": bool, "_datetime": datetime, "_isinstance": isinstance,
            "_text": engine._text, "_new": _new, "_D": _set_dict, "_F": _set_fields, "_X": _set_extra,
            "_P": _set_private, "_region_level": region_level, "_rating_id_for": rating_id_for, "_BAD": _BAD,
            "_STAFF_CHANNELS": STAFF_RATING_CHANNELS, "_ACTIVE": EvaluationType.ACTIVE, "_POLICY": _DEFAULT_POLICY,
            "_NONE_EMPTY": _NONE_EMPTY, "_TAGS": _TAG_MEMBERS, "_MISS": _REQUIRED, "_Rater": Rater,
            "_RaterType": RaterType, "_Rating": Rating, "_Source": Source, "_KIND": adapter.kind,
        }  # fmt: skip
        self.var: dict[str, str] = {}  # unified field -> local holding its translated value

    def const(self, value: Any) -> str:
        name = f"_K{len(self.consts)}"
        self.consts[name] = value
        return name

    def emit(self, line: str, depth: int = 1) -> None:
        self.lines.append("    " * depth + line)

    # -- reading and translating: SpecAdapter.translate, restated per field --

    def raw_expr(self, f: _Field, depth: int) -> str:
        """Code that puts the field's raw source value in `raw`; the expression the reference's plan evaluates."""
        path = f.rule.path
        assert path is not None
        fmt = self.reader.fmt
        if fmt == "form":
            return f"data.get({path!r})"
        if fmt == "xml":
            if not _IDENT.match(path):
                raise _Unsupported(f"XML path {path}")
            return f"data.get({path!r})"
        if _IDENT.match(path):
            return f"data.get({path!r})"
        if _DOTTED.match(path):
            keys = path.split(".")
            self.emit(f"raw = data.get({keys[0]!r})", depth)
            for key in keys[1:]:
                self.emit(f"raw = raw.get({key!r}) if _isinstance(raw, _dict) else None", depth)
            return "raw"
        assert f.get is not None
        return f"{self.const(f.get)}(data)"

    def field(self, f: _Field, var: str) -> None:
        rule = f.rule
        if f.get is None:  # a const: the unified value itself
            self.emit(f"{var} = {self.const(rule.const)}")
            return
        blank = self.const(rule.default)
        expr = self.raw_expr(f, 1)
        if expr != "raw":
            self.emit(f"raw = {expr}")
        convert = f.convert
        if f.is_tags:
            if "unmatched" not in self.var:
                self.var["unmatched"] = "unmatched"
            on_str = on_other = f"{self.const(self.adapter._tags)}(raw, {self.const(rule)}, unmatched)"
            check = None
        elif rule.table is not None:
            table = self.const({str(k): v for k, v in rule.table.items()})
            on_str = f"{table}.get(stripped, _MISS)"
            on_other = f"{table}.get(_str(raw).strip(), _MISS)"
            check = f"if {var} is _MISS: return None"
        elif convert is engine._text:
            on_str, on_other, check = "stripped", "_text(raw)", None
        else:
            on_str = on_other = f"{self.const(convert)}(raw)"
            check = None
        self.emit("if raw.__class__ is _str:")
        self.emit("stripped = raw.strip()", 2)
        self.emit(f"{var} = ({on_str}) if stripped else {blank}", 2)
        self.emit("elif raw is None or raw == [] or raw == '':")
        self.emit(f"{var} = {blank}", 2)
        self.emit("else:")
        self.emit(f"{var} = {on_other}", 2)
        if check:
            self.emit(check)

    # -- the model's checks, restated per kind --

    def coerce(self, var: str, kind: tuple[Any, ...], depth: int) -> None:
        tag = kind[0]
        if tag == "text":
            _, low, high = kind
            short = f" or not {var}" if low else ""
            self.emit(f"if {var}.__class__ is not _str or len({var}) > {high}{short}: return None", depth)
        elif tag == "code":
            self.emit(f"if {var}.__class__ is not _str: return None", depth)
            self.emit(f"{var} = {self.const(kind[1])}({var})", depth)  # a CodeError: the reference refuses it
        elif tag == "enum":
            self.emit(f"{var} = {self.const(kind[1])}.get({var}) if {var}.__class__ is _str else None", depth)
            self.emit(f"if {var} is None: return None", depth)
        elif tag == "dt":
            self.emit(f"if {var}.__class__ is not _datetime or {var}.utcoffset() is None: return None", depth)
        elif tag == "bool":
            self.emit(f"if {var}.__class__ is not _bool: return None", depth)
        elif tag == "tags":
            self.emit(f"if {var}.__class__ is not _list: return None", depth)
            self.emit(f"{var} = [_TAGS[code] for code in {var}]", depth)  # a KeyError: not a tag code
        elif tag == "comment":
            self.emit(f"if {var}.__class__ is not _str or not {var} or len({var}) > {COMMENT_MAX}: return None", depth)
        else:  # pragma: no cover
            raise _Unsupported(tag)

    def model(self, model: type[BaseModel], out: str, default: Any) -> None:
        """Code that builds `out` (an instance of `model`, or None / its default when nothing of it was given)."""
        layout = _LAYOUT[model]
        leaves = [self.var.get(u) for u in _leaves(layout)]
        present = [v for v in leaves if v is not None]
        if not present:
            if default is _REQUIRED:
                raise _Unsupported(f"{model.__name__} is never given")
            self.emit(f"{out} = None")
            if default is _DEFAULT_RATER:
                self.default_rater(out, 1)
            return
        self.emit(f"if {' or '.join(f'{v} is not None' for v in present)}:")
        self.build(model, out, 2)
        self.emit("else:")
        if default is _REQUIRED:
            self.emit("return None", 2)
        elif default is _DEFAULT_RATER:
            self.default_rater(out, 2)
        else:
            self.emit(f"{out} = None", 2)

    def default_rater(self, out: str, depth: int) -> None:
        values = {name: dflt for name, _u, _k, dflt in _LAYOUT[Rater]}
        self.emit(f"{out} = _new(_Rater); _D({out}, {self.const(values)}.copy()); _F({out}, set())", depth)
        self.emit(f"_X({out}, None); _P({out}, None)", depth)

    def build(self, model: type[BaseModel], out: str, depth: int) -> None:
        fs = f"{out}_fs"
        self.emit(f"{fs} = set()", depth)
        values: list[str] = []
        for name, unified, kind, default in _LAYOUT[model]:
            local = f"{out}_{name}"
            if kind[0] == "model":
                self.emit(f"{local} = None", depth)
                inner = [self.var.get(u) for u in _leaves(_LAYOUT[kind[1]])]
                inner = [v for v in inner if v is not None]
                if inner:
                    self.emit(f"if {' or '.join(f'{v} is not None' for v in inner)}:", depth)
                    self.build(kind[1], local, depth + 1)
                    self.emit(f"{fs}.add({name!r})", depth + 1)
                values.append(f"{name!r}: {local}")
                continue
            var = self.var.get(unified) if unified else None
            dflt = "None" if default in (None, _REQUIRED) else self.const(default)
            if var is None:
                self.emit("return None" if default is _REQUIRED else f"{local} = {dflt}", depth)
                values.append(f"{name!r}: {local}")
                continue
            self.emit(f"if {var} is None:", depth)
            self.emit("return None" if default is _REQUIRED else f"{local} = {dflt}", depth + 1)
            self.emit("else:", depth)
            self.emit(f"{local} = {var}", depth + 1)
            self.coerce(local, kind, depth + 1)
            self.emit(f"{fs}.add({name!r})", depth + 1)
            values.append(f"{name!r}: {local}")
        if model is Target:  # Target._level_follows_region (R3)
            self.emit(f"derived = _region_level({out}_region_code)", depth)
            self.emit(f"if {out}_level is None: {out}_level = derived", depth)
            self.emit(f"elif {out}_level != derived: return None", depth)
        self.emit(f"{out} = _new({self.const(model)}); _D({out}, {{{', '.join(values)}}}); _F({out}, {fs})", depth)
        self.emit(f"_X({out}, None); _P({out}, None)", depth)

    # -- the whole record --

    def compile(self) -> RecordFn:
        reader = self.reader
        known = set(_leaves(_RATING_BODY)) | {u for _n, u, k, _d in _RATING_BODY if u is not None}
        for f in reader.fields:
            if f.unified not in known:
                raise _Unsupported(f.unified)
            table = list((f.rule.table or {}).values())
            if None in table or not all(_clean_text(v) for v in (f.rule.const, f.rule.default, *table)):
                raise _Unsupported(f"{f.unified}: a table value None, or a value pydantic would strip")
        if reader.closed is not None:
            raise _Unsupported("a closed family: unknown fields are refused by the reference path")
        self.emit("def record(data, connector_id, received_at, now, calendar, policy):", 0)
        if any(f.is_tags for f in reader.fields):
            self.emit("unmatched = []")
        for index, f in enumerate(reader.fields):
            var = f"u{index}"
            self.var[f.unified] = var
            self.field(f, var)
        comment = self.var.get("comment")
        if "unmatched" in self.var:
            self.emit("if unmatched:")
            self.emit("note = '其他：' + '、'.join(unmatched)", 2)
            if comment is None:
                comment = self.var["comment"] = "u_comment"
                self.emit(f"{comment} = note", 2)
                self.lines.insert(1, f"    {comment} = None")
            else:
                self.emit(f"{comment} = f'{{{comment}}}；{{note}}' if {comment} else note", 2)
        # source_rating_id: the reference's id getters, in order
        self.emit("parts = []")
        for path in self.adapter.spec.source_rating_id:
            if path.startswith("$"):
                held = self.var.get(path[1:])
                if held is None:
                    continue  # an unmapped field reads None
                self.emit(f"v = {held}")
            elif reader.fmt == "json" and not _IDENT.match(path):
                self.emit(f"v = {self.const(engine._json_getter(path))}(data)")
            elif reader.fmt == "xml" and not _IDENT.match(path):
                raise _Unsupported(f"XML path {path}")
            else:
                self.emit(f"v = data.get({path!r})")
            self.emit("if v not in _NONE_EMPTY: parts.append(_text(v))")
        self.emit("if not parts: return None")
        self.emit("sid = '-'.join(parts)")
        self.emit(f"if not sid or len(sid) > {TEXT_MAX}: return None")
        # the models, innermost first; then RatingBody._rules and check_timing
        fs_rating: list[str] = []
        values: list[str] = []
        for name, unified, kind, default in _RATING_BODY:
            local = f"r_{name}"
            if kind[0] == "model":
                self.model(kind[1], local, default)
                if default is _DEFAULT_RATER:
                    present = [v for v in (self.var.get(u) for u in _leaves(_LAYOUT[Rater])) if v is not None]
                    if present:
                        fs_rating.append(f"if {' or '.join(f'{v} is not None' for v in present)}: fs.add('rater')")
                else:
                    fs_rating.append(f"fs.add({name!r})")
                values.append(f"{name!r}: {local}")
                continue
            given = self.var.get(unified) if unified else None
            if given is None:
                if default is _REQUIRED:
                    raise _Unsupported(f"{name} is never given")
                self.emit(f"{local} = " + ("[]" if default is _LIST else self.const(default)))
                values.append(f"{name!r}: {local}")
                continue
            self.emit(f"if {given} is None:")
            if default is _REQUIRED:
                self.emit("return None", 2)
            else:
                self.emit(f"{local} = " + ("[]" if default is _LIST else self.const(default)), 2)
            self.emit("else:")
            self.emit(f"{local} = {given}", 2)
            self.coerce(local, kind, 2)
            fs_rating.append(f"if {given} is not None: fs.add({name!r})")
            values.append(f"{name!r}: {local}")
        # RatingBody._rules: R2, R4, rated after handled
        self.emit("if (r_grade in _BAD or (r_staff_grade is not None and r_staff_grade in _BAD))"
                  " and not r_tags and not r_comment: return None")  # fmt: skip
        self.emit("if r_staff_grade is not None and r_channel not in _STAFF_CHANNELS: return None")
        self.emit("handled_at = r_case.handled_at")
        self.emit("if handled_at is not None and r_rated_at < handled_at: return None")
        # check_timing: the clock-skew guard and R5
        self.emit("policy = policy or _POLICY")
        self.emit("if r_rated_at > now + policy.clock_skew: return None")
        self.emit("if r_evaluation_type == _ACTIVE and handled_at is not None and "
                  "r_rated_at > calendar.deadline(handled_at, policy.window_working_days).at: return None")  # fmt: skip
        self.emit("source = _new(_Source)")
        self.emit("_D(source, {'connector_id': connector_id, 'kind': _KIND, 'source_rating_id': sid, "
                  "'received_at': received_at})")  # fmt: skip
        self.emit(f"_F(source, {set(_SOURCE_FIELDS)!r}); _X(source, None); _P(source, None)")
        self.emit("fs = {'rating_id', 'source'}")
        for line in fs_rating:
            self.emit(line)
        values += ["'rating_id': _rating_id_for(connector_id, sid)", "'source': source"]
        self.emit(f"rating = _new(_Rating); _D(rating, {{{', '.join(values)}}}); _F(rating, fs)")
        self.emit("_X(rating, None); _P(rating, None)")
        self.emit("return rating, sid")
        source = "\n".join(self.lines) + "\n"
        namespace = dict(self.consts)
        exec(compile(source, f"<fastpath {self.adapter.kind} {reader.fmt}>", "exec"), namespace)
        function: RecordFn = namespace["record"]
        function.__source__ = source  # type: ignore[attr-defined]  # for a reader of the generated code
        return function


# -- the XML subset the fast path reads (everything else: expat behind the DTD refusal) ------------------------------

_XML_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_XML_TEXT = "[^<&\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]*"
_XML_SPACE = "[ \t\n]*"
_XML_PLAIN = re.compile(
    rf"{_XML_SPACE}<({_XML_NAME})>((?:{_XML_SPACE}<({_XML_NAME})>{_XML_TEXT}</\3>)*){_XML_SPACE}</\1>{_XML_SPACE}"
)
_XML_CHILD = re.compile(rf"<({_XML_NAME})>({_XML_TEXT})</")


def _plain_xml(text: str) -> dict[str, str] | None:
    """The leaf children of a plain root element by tag (a blank text: ""), or None when the text is not plain."""
    match = _XML_PLAIN.fullmatch(text)
    if match is None or "]]>" in text:
        return None
    pairs = _XML_CHILD.findall(match.group(2))
    flat = dict(pairs)
    return flat if len(flat) == len(pairs) else None  # a repeated element: the reference reads it as a list


# -- per adapter --------------------------------------------------------------------------------------------------


class FastAdapter:
    """A `SpecAdapter`'s readers compiled; a reader that cannot be compiled has no entry (reference path)."""

    def __init__(self, adapter: SpecAdapter) -> None:
        self.adapter = adapter
        self.records: dict[str, RecordFn] = {}
        if _layout_is_current():
            for fmt, reader in adapter._readers.items():
                try:
                    if fmt in ("xml", "form") and reader.records is not None:
                        raise _Unsupported("records in XML or a form")
                    self.records[fmt] = _Codegen(adapter, reader).compile()
                except _Unsupported:
                    continue
        self._readers: dict[str | None, tuple[_Reader, str | None]] = {}

    def reader_for(self, content_type: str | None) -> tuple[_Reader, str | None] | None:
        found = self._readers.get(content_type)
        if found is None:
            try:
                found = self.adapter._reader_for(content_type)
            except Refused:
                return None
            if len(self._readers) > 64:
                self._readers.clear()
            self._readers[content_type] = found
        return found

    def documents(self, reader: _Reader, body: bytes, charset: str) -> list[Any] | None:
        """The records of `body` exactly as `SpecAdapter.split` finds them (XML: the flat children), or None."""
        fmt = reader.fmt
        if fmt == "json":
            if charset.replace("-", "") != "utf8":
                return None
            try:
                document = orjson.loads(body)  # orjson refuses what strict UTF-8 decoding refuses
            except orjson.JSONDecodeError:
                return None
            if body.count(b":") != orjson.dumps(document).count(b":") or _ESCAPED_COLON in body:
                return None
            if not isinstance(document, (dict, list)):
                return None
            found = reader.records(document) if reader.records else document
            if found is None:
                return None
            records = found if isinstance(found, list) else [found]
            if not records or len(records) > MAX_BATCH or not all(isinstance(r, dict) for r in records):
                return None
            return records
        if fmt == "xml":
            declared = _XML_DECL.match(body)
            try:
                text = body.decode(declared.group(1).decode("ascii").lower() if declared else charset)
            except (LookupError, UnicodeDecodeError):
                return None
            flat = _plain_xml(_XML_DECL_TEXT.sub("", text, count=1))
            return None if flat is None else [flat]
        try:
            return [decode_document(body, fmt, charset)]
        except Refused:
            return None

    def accepted(
        self,
        body: bytes,
        content_type: str | None,
        *,
        connector_id: str,
        received_at: datetime,
        now: datetime,
        calendar: WorkingDayCalendar,
        policy: RatingPolicy | None,
    ) -> tuple[_Reader, list[Any], list[tuple[Rating, str] | None]] | None:
        """What the fast path proves accepted, per record (None: the reference decides), or None for the whole body."""
        if not self.records or not _source_ok(connector_id, received_at):
            return None
        found = self.reader_for(content_type)
        if found is None:
            return None
        reader, charset = found
        record = self.records.get(reader.fmt)
        if record is None:
            return None
        documents = self.documents(reader, body, charset or reader.charset)
        if documents is None:
            return None
        results: list[tuple[Rating, str] | None] = []
        for data in documents:
            try:
                results.append(record(data, connector_id, received_at, now, calendar, policy))
            except Exception:  # the reference path meets the same input and decides (or raises the same)
                results.append(None)
        return reader, documents, results

    def normalize(
        self,
        body: bytes,
        content_type: str | None,
        *,
        connector_id: str,
        received_at: datetime,
        now: datetime,
        calendar: WorkingDayCalendar,
        policy: RatingPolicy | None,
    ) -> list[ItemOutcome] | None:
        """The outcomes `connectors.normalize.normalize` gives, or None when the reference path must read the body."""
        found = self.accepted(body, content_type, connector_id=connector_id, received_at=received_at, now=now,
                              calendar=calendar, policy=policy)  # fmt: skip
        if found is None:
            return None
        reader, documents, results = found
        outcomes: list[ItemOutcome] = []
        for index, done in enumerate(results):
            if done is not None:
                outcomes.append(ItemOutcome(index, "accepted", rating=done[0], source_rating_id=done[1]))
            elif reader.fmt == "xml":
                return None  # the flat children are not the element the reference reads
            else:
                outcomes.append(normalize_record(
                    self.adapter, _Record(reader, documents[index]), index, connector_id=connector_id,
                    received_at=received_at, now=now, calendar=calendar, policy=policy,
                ))  # fmt: skip
        return outcomes


def _source_ok(connector_id: Any, received_at: Any) -> bool:
    """`Source`'s checks of what the hub itself gives (once per body, not per record)."""
    return (
        connector_id.__class__ is str
        and 0 < len(connector_id) <= TEXT_MAX
        and connector_id == connector_id.strip()
        and received_at.__class__ is datetime
        and received_at.utcoffset() is not None
    )


def fast_adapter(adapter: Any) -> FastAdapter | None:
    """The compiled form of `adapter`, built on its first use and kept on it; None for other adapters."""
    if not isinstance(adapter, SpecAdapter):
        return None
    compiled = adapter.__dict__.get("_fast")
    if compiled is None:
        compiled = adapter.__dict__["_fast"] = FastAdapter(adapter)
    return compiled if isinstance(compiled, FastAdapter) else None


__all__ = ["FastAdapter", "fast_adapter"]

"""The compiled fast path: source bytes to the validated `Rating`, without interpreting the spec per record.

Each reader of a `SpecAdapter` is compiled once, on the adapter's second body (not at import, nor on the first: cold
start counts too), into one plain-Python function generated from its spec. It reads the paths, translates the
values with the reference's own converters and tables, checks what `Rating.model_validate` and `check_timing` check
— types, lengths, USCC check character, division code, ID-number check digit, mobile, R1–R5 — with the very
functions of `hub.codes`, and builds the frozen models directly. It only ever *accepts*: whatever it does not prove
acceptable (a refusal, an unusual type, an exception, XML beyond the plain subset) it hands to the reference path
(`SpecAdapter.split`/`translate`, then `Rating.model_validate` and `check_timing`), which decides, so every refusal
keeps its code, path and message.
`tests/unit/test_fastpath.py` checks, over generated inputs of every family, that both paths agree.

XML: the reference parses with expat after refusing any DTD or entity declaration. The fast scanner here reads only
a plain subset — one root element holding leaf elements, their text without `&`, `<`, `>`, `\\r` or characters
XML forbids — so there is no markup declaration and no entity reference to expand; anything else takes the
reference path (and its refusal of DTDs).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson
from pydantic import BaseModel

from connectors import engine
from connectors.decode import _BAD_ESCAPE, _ESCAPED_COLON, _XML_DECL, _XML_DECL_TEXT, decode_document
from connectors.engine import MAX_BATCH, SpecAdapter, _Field, _Reader, _Record
from connectors.normalize import ItemOutcome, normalize_record
from connectors.spec import FieldRule
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
from hub.tags import LABEL_INDEX, TagCode

# A record's function: (data, connector_id, received_at, latest, days, calendar) -> (Rating, source_rating_id) | None
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


def _tag_reader(rule: FieldRule) -> Callable[[Any, list[str]], list[TagCode]]:
    """`SpecAdapter._tags` for one rule, its three lookups (table, labels or codes) merged once: items to codes."""
    table = {text: TagCode(code) for text, code in (rule.table or {}).items()}  # a spec's codes (spec_issues)
    fallback: dict[str, TagCode] = dict(LABEL_INDEX) if rule.match == "label" else dict(_TAG_MEMBERS)
    lookup = {**fallback, **table}
    other, text_of = TagCode.OTHER, engine._text

    def read(items: Any, unmatched: list[str]) -> list[TagCode]:
        tags: list[TagCode] = []
        for item in items:
            text = item.strip() if item.__class__ is str else text_of(item)
            if not text:
                continue
            code = lookup.get(text)
            if code is None:
                unmatched.append(text)
                code = other
            if code not in tags:
                tags.append(code)
        return tags

    return read


def _remembered(check: Callable[[str], str]) -> tuple[dict[str, str], Callable[[str], str]]:
    """A check of public codes (agencies' USCCs, division codes), remembered once passed: the same few agencies
    rate all day. A refusal raises, so it is never remembered; personal codes (ID numbers, phones) are not kept."""
    seen: dict[str, str] = {}

    def remember(value: str) -> str:
        found = check(value)
        if len(seen) >= 4096:
            seen.clear()
        seen[value] = found
        return found

    return seen, remember


_REMEMBERED = {check_uscc: _remembered(check_uscc), check_region_code: _remembered(check_region_code)}


def _clean_text(value: Any) -> bool:
    """A table, const or default value that pydantic's whitespace stripping leaves as it is (Python's strip removes
    a superset of what pydantic-core's does, so a value equal to its Python strip is unchanged by both)."""
    return not isinstance(value, str) or value == value.strip()


class _Unsupported(Exception):
    """This reader is not compiled (the reference path serves it)."""


_ALWAYS, _MAYBE, _NEVER = "always", "maybe", "never"
_BLANK_CHECK = "raw is None or raw == [] or raw == ''"


def _kinds() -> dict[str, tuple[tuple[Any, ...], Any]]:
    """unified field -> (its model kind, its model default)."""
    out: dict[str, tuple[tuple[Any, ...], Any]] = {}

    def walk(layout: tuple[tuple[str, str | None, tuple[Any, ...], Any], ...]) -> None:
        for _name, unified, kind, default in layout:
            if kind[0] == "model":
                walk(_LAYOUT[kind[1]])
            elif unified is not None:
                out[unified] = (kind, default)

    walk(_RATING_BODY)
    return out


_KINDS = _kinds()
_BAIL = object()  # a constant the model would not take as it is: the lane hands over to the reference


def _coerced_constant(value: Any, kind: tuple[Any, ...]) -> Any:
    """What the model makes of a spec's constant (a table value, const or default), or _BAIL."""
    tag = kind[0]
    if value is None:
        return None
    if tag == "text":
        ok = isinstance(value, str) and kind[1] <= len(value) <= kind[2] and value == value.strip()
        return value if ok else _BAIL
    if tag == "code":
        if not isinstance(value, str) or value != value.strip():
            return _BAIL
        try:
            return kind[1](value)
        except ValueError:
            return _BAIL
    if tag == "enum":
        return kind[1].get(value, _BAIL) if isinstance(value, str) else _BAIL
    if tag == "bool":
        return value if isinstance(value, bool) else _BAIL
    if tag == "tags":
        if not isinstance(value, list) or not all(isinstance(c, str) and c in _TAG_MEMBERS for c in value):
            return _BAIL
        return tuple(_TAG_MEMBERS[c] for c in value)  # copied into a new list per rating
    return _BAIL  # a time constant is text pydantic parses; the comment is checked after the note


class _Codegen:
    """One reader's spec as the source of one function: translate (SpecAdapter.translate) and check (the models)."""

    def __init__(self, adapter: SpecAdapter, reader: _Reader) -> None:
        self.adapter, self.reader = adapter, reader
        self.lines: list[str] = []
        self.consts: dict[str, Any] = {
            "_str": str, "_list": list, "_dict": dict, "_bool": bool, "_datetime": datetime, "_isinstance": isinstance,
            "_text": engine._text, "_new": _new, "_D": _set_dict, "_F": _set_fields, "_X": _set_extra,
            "_P": _set_private, "_region_level": region_level, "_rating_id_for": rating_id_for, "_BAD": _BAD,
            "_STAFF_CHANNELS": STAFF_RATING_CHANNELS, "_ACTIVE": EvaluationType.ACTIVE, "_POLICY": _DEFAULT_POLICY,
            "_NONE_EMPTY": _NONE_EMPTY, "_TAGS": _TAG_MEMBERS, "_MISS": _REQUIRED, "_Source": Source,
            "_KIND": adapter.kind,
        }  # fmt: skip
        self.parents: set[str] = set()  # locals holding a JSON record's nested objects
        self.coerced: dict[str, str] = {}  # unified field -> local holding the model's value (None: absent)
        self.translated: dict[str, str] = {}  # unified field -> local holding the translated value, where needed
        self.presence: dict[str, str] = {}  # unified field -> _ALWAYS / _MAYBE (absent from the dict: never)
        refs = [p[1:] for p in adapter.spec.source_rating_id if p.startswith("$")]
        self.needs_translated = {*refs, "comment"}

    def const(self, value: Any) -> str:
        name = f"_K{len(self.consts)}"
        self.consts[name] = value
        return name

    def emit(self, line: str, depth: int = 1) -> None:
        self.lines.append("    " * depth + line)

    # -- reading: the expression the reference's plan evaluates --

    def raw_expr(self, path: str, getter: Any) -> str:
        fmt = self.reader.fmt
        if fmt == "form" or _IDENT.match(path):
            return f"data.get({path!r})"
        if fmt == "xml":
            raise _Unsupported(f"XML path {path}")
        if _DOTTED.match(path):  # each parent object read once per record, however many fields sit in it
            *parents, leaf = path.split(".")
            holder = "data"
            for depth in range(len(parents)):
                name = "d_" + "_".join(parents[: depth + 1])
                if name not in self.parents:
                    self.parents.add(name)
                    self.emit(f"{name} = {holder}.get({parents[depth]!r}) if {holder} is not None else None")
                    self.emit(f"if {name}.__class__ is not _dict and not _isinstance({name}, _dict): {name} = None")
                holder = name
            return f"{holder}.get({leaf!r}) if {holder} is not None else None"
        return f"{self.const(getter)}(data)"

    # -- checking: the model's checks of one kind, on a value of any type --

    def check(self, var: str, kind: tuple[Any, ...], depth: int) -> None:
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

    def constant_lane(self, unified: str, value: Any, depth: int) -> str:
        """Assign a spec constant (translated and checked at compile time); returns its presence."""
        c, t = self.coerced[unified], self.translated.get(unified)
        if t is not None:
            self.emit(f"{t} = {self.const(value)}", depth)
        if value is None:
            self.emit(f"{c} = None", depth)
            return _NEVER
        if unified == "comment":
            self.emit(f"{c} = {self.const(value)}", depth)  # checked after the note
            return _ALWAYS
        coerced = _coerced_constant(value, _KINDS[unified][0])
        if coerced is _BAIL:
            self.emit("return None", depth)
        elif isinstance(coerced, tuple):
            self.emit(f"{c} = list({self.const(coerced)})", depth)
        else:
            self.emit(f"{c} = {self.const(coerced)}", depth)
        return _ALWAYS

    def field(self, f: _Field, index: int) -> None:
        unified, rule = f.unified, f.rule
        kind = _KINDS[unified][0]
        c = self.coerced[unified] = f"c{index}"
        t = None
        if unified in self.needs_translated:
            t = self.translated[unified] = f"t{index}"
        if f.get is None:  # a const: the unified value itself
            self.presence[unified] = self.constant_lane(unified, rule.const, 1)
            return
        assert rule.path is not None
        expr = self.raw_expr(rule.path, f.get)
        self.emit(f"raw = {expr}")
        late = unified == "comment"  # the comment is checked after the tags' note is added to it
        # lane 1: a text (the usual case)
        self.emit("if raw.__class__ is _str and (stripped := raw.strip()):")
        if f.is_tags:
            tags = self.const(_tag_reader(rule))
            split = f"raw.split({rule.split!r})" if rule.split else "(raw,)"
            self.emit(f"{c} = {tags}({split}, unmatched)", 2)
        elif rule.table is not None:
            table = {str(k): v for k, v in rule.table.items()}
            if t is not None:
                self.emit(f"{t} = {self.const(table)}.get(stripped, _MISS)", 2)
                self.emit(f"if {t} is _MISS: return None", 2)
            coerced = {k: _coerced_constant(v, kind) for k, v in table.items()} if not late else table
            usable = {k: v for k, v in coerced.items() if v is not _BAIL and not isinstance(v, tuple)}
            self.emit(f"{c} = {self.const(usable)}.get(stripped)", 2)
            self.emit(f"if {c} is None: return None", 2)  # not in the table, or a value the model refuses
        elif f.convert is engine._text:
            self.emit(f"{c} = stripped", 2)
            if t is not None:
                self.emit(f"{t} = {c}", 2)
            if not late:
                if kind[0] == "text":
                    self.emit(f"if len({c}) > {kind[2]}: return None", 2)  # a stripped, non-blank text already
                elif kind[0] == "code" and kind[1] in _REMEMBERED:
                    seen = self.const(_REMEMBERED[kind[1]][0])
                    self.emit(f"{c} = {seen}.get({c}) or {self.const(_REMEMBERED[kind[1]][1])}({c})", 2)
                elif kind[0] == "code":
                    self.emit(f"{c} = {self.const(kind[1])}({c})", 2)  # a CodeError: the reference refuses it
                else:
                    self.check(c, kind, 2)
        else:  # a time or a boolean: the reference's converter
            self.emit(f"{c} = {self.const(f.convert)}(raw)", 2)
            if t is not None:
                self.emit(f"{t} = {c}", 2)
            if kind[0] != "dt":  # the time formats give aware datetimes only (connectors.timeformats)
                self.check(c, kind, 2)
        # lane 2: nothing there (None, blank, []): the default
        self.emit(f"elif {_BLANK_CHECK} or raw.__class__ is _str:")
        blank = self.constant_lane(unified, rule.default, 2)
        # lane 3: any other value (a number, a list, an object): the reference's converter, then the model's checks
        self.emit("else:")
        if f.is_tags:
            split = f"_str(raw).split({rule.split!r})" if rule.split else "(raw,)"
            self.emit(f"{c} = {self.const(_tag_reader(rule))}(raw if raw.__class__ is _list else {split}, unmatched)",
                      2)  # fmt: skip
        elif rule.table is not None:
            self.emit(f"{c} = {self.const({str(k): v for k, v in rule.table.items()})}.get(_str(raw).strip(), _MISS)",
                      2)  # fmt: skip
            self.emit(f"if {c} is _MISS: return None", 2)
        elif f.convert is engine._text:
            self.emit(f"{c} = _text(raw)", 2)
        else:
            self.emit(f"{c} = {self.const(f.convert)}(raw)", 2)
        if t is not None:
            self.emit(f"{t} = {c}", 2)
        if not late and not f.is_tags:
            self.check(c, kind, 2)
        self.presence[unified] = _ALWAYS if blank == _ALWAYS else _MAYBE

    # -- the models --

    def build(self, model: type[BaseModel], out: str, depth: int) -> None:
        """Code that builds `out`, an instance of `model` (its required fields given: checked by the caller)."""
        fs_always: list[str] = []
        fs_maybe: list[tuple[str, str]] = []
        values: list[str] = []
        for name, unified, kind, default in _LAYOUT[model]:
            if kind[0] == "model":
                local = f"{out}_{name}"
                self.optional_model(kind[1], local, depth)
                if self.model_presence(kind[1]) != _NEVER:
                    fs_maybe.append((local, name))
                values.append(f"{name!r}: {local}")
                continue
            assert unified is not None
            presence = self.presence.get(unified, _NEVER)
            c = self.coerced.get(unified)
            dflt = self.const(default) if default not in (None, _REQUIRED) else "None"
            if presence == _NEVER or c is None:
                if default is _REQUIRED:
                    self.emit("return None", depth)
                values.append(f"{name!r}: {dflt}")
                continue
            if default is _REQUIRED and presence == _MAYBE:
                self.emit(f"if {c} is None: return None", depth)
            if presence == _ALWAYS or default is _REQUIRED:
                fs_always.append(name)
                values.append(f"{name!r}: {c}")
            else:
                fs_maybe.append((c, name))
                values.append(f"{name!r}: {c}" if dflt == "None" else f"{name!r}: {dflt} if {c} is None else {c}")
        if model is Target:  # Target._level_follows_region (R3)
            level = self.coerced.get("target.level") if self.presence.get("target.level") else None
            region = self.coerced["target.region_code"]
            self.emit(f"level = _region_level({region})", depth)
            if level is not None:
                self.emit(f"if {level} is not None and {level} != level: return None", depth)
            values = [v if not v.startswith("'level'") else "'level': level" for v in values]
        self.emit(f"fs = {{{', '.join(repr(n) for n in fs_always)}}}" if fs_always else "fs = set()", depth)
        for var, name in fs_maybe:
            self.emit(f"if {var} is not None: fs.add({name!r})", depth)
        self.emit(f"{out} = _new({self.const(model)}); _D({out}, {{{', '.join(values)}}}); _F({out}, fs)", depth)
        self.emit(f"_X({out}, None); _P({out}, None)", depth)

    def model_presence(self, model: type[BaseModel]) -> str:
        found = {self.presence.get(u, _NEVER) for u in _leaves(_LAYOUT[model])}
        return _ALWAYS if _ALWAYS in found else _MAYBE if _MAYBE in found else _NEVER

    def optional_model(self, model: type[BaseModel], out: str, depth: int) -> None:
        """`out` = the model when any of its fields is given, else None."""
        presence = self.model_presence(model)
        if presence == _NEVER:
            self.emit(f"{out} = None", depth)
            return
        if presence == _ALWAYS:
            self.build(model, out, depth)
            return
        given = [self.coerced[u] for u in _leaves(_LAYOUT[model]) if self.presence.get(u, _NEVER) != _NEVER]
        self.emit(f"if {' is None and '.join(given)} is None:", depth)
        self.emit(f"{out} = None", depth + 1)
        self.emit("else:", depth)
        self.build(model, out, depth + 1)

    # -- the whole record --

    def compile(self) -> RecordFn:
        reader = self.reader
        for f in reader.fields:
            if f.unified not in _KINDS:
                raise _Unsupported(f.unified)
            table = list((f.rule.table or {}).values())
            if None in table or not all(_clean_text(v) for v in (f.rule.const, f.rule.default, *table)):
                raise _Unsupported(f"{f.unified}: a table value None, or a value pydantic would strip")
        if reader.closed is not None:
            raise _Unsupported("a closed family: unknown fields are refused by the reference path")
        self.emit("def record(data, connector_id, received_at, latest, days, calendar):", 0)
        if any(f.is_tags for f in reader.fields):
            self.emit("unmatched = []")
        for index, f in enumerate(reader.fields):
            self.field(f, index)
        # the tags' note on what matched nothing, then the comment's own check
        has_tags = any(f.is_tags for f in reader.fields)
        if "comment" not in self.coerced and has_tags:
            self.coerced["comment"] = self.translated["comment"] = "c_comment"
            self.emit("c_comment = None")
            self.presence["comment"] = _MAYBE
        comment = self.coerced.get("comment")
        if has_tags:
            self.emit("if unmatched:")
            self.emit("note = '其他：' + '、'.join(unmatched)", 2)
            self.emit(f"{comment} = f'{{{comment}}}；{{note}}' if {comment} else note", 2)
            if self.translated.get("comment") and self.translated["comment"] != comment:
                self.emit(f"{self.translated['comment']} = {comment}", 2)
        if comment is not None and self.presence.get("comment"):
            self.emit(f"if {comment} is not None:")
            self.check(comment, ("comment",), 2)
        # source_rating_id: the reference's id getters, in order
        self.emit("parts = []")
        for path in self.adapter.spec.source_rating_id:
            if path.startswith("$"):
                held = self.translated.get(path[1:])
                if held is None:
                    continue  # an unmapped field reads None
                self.emit(f"v = {held}")
            elif reader.fmt == "json" and not _IDENT.match(path):
                self.emit(f"v = {self.const(engine._json_getter(path))}(data)")
            elif reader.fmt == "xml" and not _IDENT.match(path):
                raise _Unsupported(f"XML path {path}")
            else:
                self.emit(f"v = data.get({path!r})")
            self.emit("if v.__class__ is _str:")
            self.emit("if v: parts.append(v.strip())", 2)
            self.emit("elif v is not None: parts.append(_text(v))")  # v not in (None, ""): _text(v)
        self.emit("if not parts: return None")
        self.emit("sid = '-'.join(parts)")
        self.emit(f"if not sid or len(sid) > {TEXT_MAX}: return None")
        # the models
        for name, model in (("case", Case), ("target", Target)):
            if self.model_presence(model) == _NEVER:
                raise _Unsupported(f"{name} is never given")
            if self.model_presence(model) == _MAYBE:
                given = [self.coerced[u] for u in _leaves(_LAYOUT[model]) if self.presence.get(u, _NEVER) != _NEVER]
                self.emit(f"if {' is None and '.join(given)} is None: return None")
            self.build(model, f"r_{name}", 1)
        rater_presence = self.model_presence(Rater)
        if rater_presence == _NEVER:
            self.emit(f"r_rater = _new(_K_Rater); _D(r_rater, {self.const(_DEFAULT_RATER_VALUES)}.copy()); "
                      "_F(r_rater, set()); _X(r_rater, None); _P(r_rater, None)")  # fmt: skip
        else:
            self.optional_model(Rater, "r_rater", 1)
            if rater_presence == _MAYBE:
                self.emit("if r_rater is None:")
                self.emit(f"r_rater = _new(_K_Rater); _D(r_rater, {self.const(_DEFAULT_RATER_VALUES)}.copy()); "
                          "_F(r_rater, set()); _X(r_rater, None); _P(r_rater, None)", 2)  # fmt: skip
                self.emit("rater_given = False", 2)
                self.emit("else:")
                self.emit("rater_given = True", 2)
        self.consts["_K_Rater"] = Rater
        values: list[str] = []
        fs_always = ["case", "target", "rating_id", "source"]
        fs_maybe: list[tuple[str, str]] = []
        body: dict[str, str] = {}
        for name, unified, kind, default in _RATING_BODY:
            if kind[0] == "model":
                values.append(f"{name!r}: r_{name}")
                continue
            assert unified is not None
            presence = self.presence.get(unified, _NEVER)
            c = self.coerced.get(unified)
            dflt = "[]" if default is _LIST else self.const(default) if default not in (None, _REQUIRED) else "None"
            if presence == _NEVER or c is None:
                if default is _REQUIRED:
                    raise _Unsupported(f"{name} is never given")
                body[name] = dflt
                continue
            if default is _REQUIRED:
                if presence == _MAYBE:
                    self.emit(f"if {c} is None: return None")
                fs_always.append(name)
                body[name] = c
            elif presence == _ALWAYS:
                fs_always.append(name)
                body[name] = c
            else:
                fs_maybe.append((c, name))
                body[name] = c if dflt == "None" else f"({dflt} if {c} is None else {c})"
            values.append(f"{name!r}: {body[name]}")
        if rater_presence == _ALWAYS:
            fs_always.append("rater")
        # RatingBody._rules: R2, R4, rated after handled
        grade, staff, tags, comment_value = body["grade"], body["staff_grade"], body["tags"], body["comment"]
        channel, rated, evaluation = body["channel"], body["rated_at"], body["evaluation_type"]
        self.emit(f"if ({grade} in _BAD or ({staff} is not None and {staff} in _BAD)) and not {tags} and not "
                  f"{comment_value}: return None")  # fmt: skip
        if staff != "None":
            self.emit(f"if {staff} is not None and {channel} not in _STAFF_CHANNELS: return None")
        handled = self.coerced.get("case.handled_at") if self.presence.get("case.handled_at") else None
        # check_timing: the clock-skew guard and R5
        self.emit(f"if {rated} > latest: return None")  # latest = now + the clock skew allowed
        if handled is not None:
            self.emit(f"if {handled} is not None:")
            self.emit(f"if {rated} < {handled}: return None", 2)
            self.emit(f"if {evaluation} == _ACTIVE and {rated} > calendar.deadline({handled}, days).at: return None",
                      2)  # fmt: skip
        self.emit("source = _new(_Source)")
        self.emit("_D(source, {'connector_id': connector_id, 'kind': _KIND, 'source_rating_id': sid, "
                  "'received_at': received_at})")  # fmt: skip
        self.emit(f"_F(source, {set(_SOURCE_FIELDS)!r}); _X(source, None); _P(source, None)")
        self.emit(f"fs = {{{', '.join(repr(n) for n in fs_always)}}}")
        for var, name in fs_maybe:
            self.emit(f"if {var} is not None: fs.add({name!r})")
        if rater_presence == _MAYBE:
            self.emit("if rater_given: fs.add('rater')")
        values = [f"{name!r}: {'r_' + name if name in ('case', 'target', 'rater') else body[name]}"
                  for name, *_ in _RATING_BODY]  # fmt: skip
        values += ["'rating_id': _rating_id_for(connector_id, sid)", "'source': source"]
        self.emit(f"rating = _new(_Rating); _D(rating, {{{', '.join(values)}}}); _F(rating, fs)")
        self.emit("_X(rating, None); _P(rating, None)")
        self.emit("return rating, sid")
        self.consts["_Rating"] = Rating
        source = "\n".join(self.lines) + "\n"
        namespace = dict(self.consts)
        exec(compile(source, f"<fastpath {self.adapter.kind} {reader.fmt}>", "exec"), namespace)
        function: RecordFn = namespace["record"]
        function.__source__ = source  # type: ignore[attr-defined]  # for a reader of the generated code
        return function


_DEFAULT_RATER_VALUES = {name: default for name, _u, _k, default in _LAYOUT[Rater]}


# -- the XML subset the fast path reads (everything else: expat behind the DTD refusal) ------------------------------

_XML_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_XML_TEXT = "[^<>&\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]*"  # no '>' either: see _plain_xml
_XML_SPACE = "[ \t\n]*"
_XML_PLAIN = re.compile(
    rf"{_XML_SPACE}<({_XML_NAME})>((?:{_XML_SPACE}<({_XML_NAME})>{_XML_TEXT}</\3>)*){_XML_SPACE}</\1>{_XML_SPACE}"
)


def _plain_xml(text: str) -> dict[str, str] | None:
    """The leaf children of a plain root element by tag (a blank text: ""), or None when the text is not plain."""
    match = _XML_PLAIN.fullmatch(text)
    if match is None:
        return None
    # Held to the pattern, the children read `<a>x</a> <b>y</b>`: split at '<' the odd pieces are `a>x` (the even ones
    # the end tags and the space), and with no '>' inside a text, one split at '>' gives names and texts in turn.
    items = ">".join(match.group(2).split("<")[1::2]).split(">")
    flat = dict(zip(items[::2], items[1::2]))  # noqa: B905 — even by the pattern, and checked just below
    return flat if 2 * len(flat) == len(items) else None  # a repeated element: the reference reads it as a list


# -- the form subset the fast path reads: ASCII, `name=value` pairs, %-escapes well formed --------------------------

_FORM_PLAIN = re.compile(r"[^&=]+=[^&=]*(?:&[^&=]+=[^&=]*)*")
_FORM_ESCAPES = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_CHARSETS: set[str] = set()


def _plain_form(body: bytes, charset: str) -> dict[str, str] | None:
    """`connectors.decode._form` for an ASCII body whose values hold no '=' (else None): one split, not one parse
    per pair; a value made of escapes only (the usual GBK text) is one bytes.fromhex."""
    if not body.isascii():
        return None
    text = body.decode("ascii").strip()
    if _FORM_PLAIN.fullmatch(text) is None or _BAD_ESCAPE.search(text):
        return None
    if charset not in _CHARSETS:
        try:
            "".encode(charset)
        except Exception:  # an unknown charset: the reference refuses it with its code
            return None
        _CHARSETS.add(charset)
    items = text.replace("+", " ").replace("=", "&").split("&")  # names and values in turn
    if "%" in text:
        for index, item in enumerate(items):
            if "%" in item:
                raw = bytes.fromhex(item.replace("%", "")) if _FORM_ESCAPES.fullmatch(item) else unquote_to_bytes(item)
                try:
                    items[index] = raw.decode(charset)
                except UnicodeDecodeError:
                    return None
    return dict(zip(items[::2], items[1::2])) if len(items) % 2 == 0 else None  # noqa: B905 — checked even


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
                except Exception:  # _Unsupported, or a spec the generator did not foresee: the reference path reads it
                    continue
        self._readers: dict[str | None, tuple[_Reader, str | None]] = {}
        self._connectors: set[str] = set()  # connector ids Source takes as they are

    def _source_ok(self, connector_id: Any, received_at: Any) -> bool:
        if not _source_ok(connector_id, received_at):
            return False
        if len(self._connectors) < 4096:
            self._connectors.add(connector_id)
        return True

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

    def __bool__(self) -> bool:
        return bool(self.records)

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
                return None  # perhaps a key written twice: the reference path decides
            found = document if reader.records is None else reader.records(document)
            if found.__class__ is dict:
                return [found] if document.__class__ is dict else None
            if found.__class__ is not list or not found or len(found) > MAX_BATCH:
                return None
            for record in found:
                if record.__class__ is not dict:
                    return None
            return found
        if fmt == "xml":
            declared = _XML_DECL.match(body)
            try:
                text = body.decode(declared.group(1).decode("ascii").lower() if declared else charset)
            except (LookupError, UnicodeDecodeError):
                return None
            flat = _plain_xml(_XML_DECL_TEXT.sub("", text, count=1))
            return None if flat is None else [flat]
        form = _plain_form(body, charset)
        if form is None:
            try:
                form = decode_document(body, fmt, charset)
            except Refused:
                return None
        return [form]

    def accepted(
        self,
        body: bytes,
        content_type: str | None,
        connector_id: str,
        received_at: datetime,
        now: datetime,
        calendar: WorkingDayCalendar,
        policy: RatingPolicy | None,
    ) -> tuple[_Reader, list[Any], list[tuple[Rating, str] | None]] | None:
        """What the fast path proves accepted, per record (None: the reference decides), or None for the whole body."""
        found = self._readers.get(content_type) or self.reader_for(content_type)
        known = connector_id.__class__ is str and connector_id in self._connectors
        if found is None or not (known or self._source_ok(connector_id, received_at)):
            return None
        if received_at.__class__ is not datetime or received_at.utcoffset() is None:
            return None
        policy = policy or _DEFAULT_POLICY  # check_timing's default
        latest, days = now + policy.clock_skew, policy.window_working_days
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
                results.append(record(data, connector_id, received_at, latest, days, calendar))
            except Exception:  # the reference path meets the same input and decides (or raises the same)
                results.append(None)
        return reader, documents, results

    def run(
        self,
        body: bytes,
        content_type: str | None,
        connector_id: str,
        received_at: datetime,
        now: datetime,
        calendar: WorkingDayCalendar,
        policy: RatingPolicy | None,
    ) -> list[ItemOutcome] | None:
        """The outcomes `connectors.normalize.normalize` gives, or None when the reference path must read the body."""
        found = self.accepted(body, content_type, connector_id, received_at, now, calendar, policy)
        if found is None:
            return None
        reader, documents, results = found
        outcomes: list[ItemOutcome] = []
        for index, done in enumerate(results):
            if done is not None:
                outcomes.append(ItemOutcome(index, "accepted", done[0], _NO_PROBLEMS.copy(), done[1]))
            elif reader.fmt == "xml":
                return None  # the flat children are not the element the reference reads
            else:
                outcomes.append(normalize_record(
                    self.adapter, _Record(reader, documents[index]), index, connector_id=connector_id,
                    received_at=received_at, now=now, calendar=calendar, policy=policy,
                ))  # fmt: skip
        return outcomes


_NO_PROBLEMS: list[Any] = []


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
    """The compiled form of `adapter`, built now and kept on it (`normalize` asks on an adapter's second body);
    None for other adapters."""
    if not isinstance(adapter, SpecAdapter):
        return None
    compiled = adapter.__dict__.get("_fast")
    if not isinstance(compiled, FastAdapter):
        compiled = adapter.__dict__["_fast"] = FastAdapter(adapter)  # falsy when nothing compiled
    return compiled


__all__ = ["FastAdapter", "fast_adapter"]

"""One reader's spec generated as the source of one plain-Python function, compiled once: it reads the paths,
translates with the reference's own converters and tables, checks with `connectors.fastpath.layout` and builds the
frozen models directly. It only ever proves a record accepted; anything else returns None (the reference decides).

What runs per record is kept to what the interpreter does cheaply: a holder's reads in one `map`; a record of texts
only (every XML and form record, most JSON ones) read and stripped in bulk, then one test per field; the usual
times, mobiles and ID numbers checked inline (anything unusual calls the reference function); the rating id's
connector part hashed once per connector; R5's deadline read from the calendar's own cache."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from connectors import engine
from connectors.engine import SpecAdapter, _Field, _Reader
from connectors.fastpath.layout import (
    _BAD,
    _BAIL,
    _DEFAULT_POLICY,
    _DEFAULT_RATER_VALUES,
    _KINDS,
    _LAYOUT,
    _LIST,
    _RATING_BODY,
    _REQUIRED,
    _SOURCE_FIELDS,
    _TAG_MEMBERS,
    _clean_text,
    _coerced_constant,
    _leaves,
)
from connectors.spec import FieldRule
from hub.calendar import SHANGHAI, WorkingDayCalendar
from hub.codes import _ID_CHECK, PROVINCES, check_id_number, check_mobile, check_region_code, check_uscc, region_level
from hub.rating import (
    COMMENT_MAX,
    STAFF_RATING_CHANNELS,
    TEXT_MAX,
    Case,
    EvaluationType,
    Rater,
    Rating,
    Source,
    Target,
    rating_id_for,
)
from hub.tags import LABEL_INDEX, TagCode

# A record's function: (data, connector_id, received_at, latest, days, calendar) -> (Rating, source_rating_id) | None
RecordFn = Callable[..., "tuple[Rating, str] | None"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

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


_PREFIXES: dict[str, Any] = {}  # connector id -> blake2b of its part of `rating_id_for`'s input


def _prefix(connector_id: str) -> Any:
    """`hub.rating.rating_id_for` hashes f"{connector_id}\x1f{source_rating_id}": its first part hashed once."""
    if len(_PREFIXES) >= 1024:
        _PREFIXES.clear()
    found = _PREFIXES[connector_id] = hashlib.blake2b(f"{connector_id}\x1f".encode(), digest_size=16)
    return found


class _Unsupported(Exception):
    """This reader is not compiled (the reference path serves it)."""


_ALWAYS, _MAYBE, _NEVER = "always", "maybe", "never"
_DASHED = ("yyyy-MM-dd HH:mm:ss", "yyyy-MM-ddTHH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss")  # connectors.timeformats
_EPOCH = ("epoch_ms", "epoch_s")
_BLANK_CHECK = "raw is None or raw == [] or raw == ''"


class _Codegen:
    """One reader's spec as the source of one function: translate (SpecAdapter.translate) and check (the models)."""

    def __init__(self, adapter: SpecAdapter, reader: _Reader, general: RecordFn | None = None) -> None:
        self.adapter, self.reader = adapter, reader
        # with `general` (this reader's function compiled plainly): a record whose values are all texts is read in
        # bulk — its reads and strips two `map`s in C, each field then one test of its stripped text — and any other
        # record is handed to `general`
        self.general = general
        self.lines: list[str] = []
        self.consts: dict[str, Any] = {
            "_str": str, "_list": list, "_dict": dict, "_bool": bool, "_datetime": datetime, "_isinstance": isinstance,
            "_text": engine._text, "_new": _new, "_D": _set_dict, "_F": _set_fields, "_X": _set_extra,
            "_P": _set_private, "_region_level": region_level, "_rating_id_for": rating_id_for, "_BAD": _BAD,
            "_STAFF_CHANNELS": STAFF_RATING_CHANNELS, "_ACTIVE": EvaluationType.ACTIVE, "_POLICY": _DEFAULT_POLICY,
            "_NONE_EMPTY": _NONE_EMPTY, "_TAGS": _TAG_MEMBERS, "_MISS": _REQUIRED, "_Source": Source,
            "_KIND": adapter.kind, "_map": map, "_int": int, "_float": float, "_date": date,
            "_fromiso": datetime.fromisoformat, "_fromts": datetime.fromtimestamp, "_UTC": UTC,
            "_Z": ZoneInfo(adapter.spec.timezone), "_PROVINCES": PROVINCES, "_ID_CHECK": _ID_CHECK,
            "_check_mobile": check_mobile, "_check_id": check_id_number, "_strip": str.strip, "_general": general,
            "_WDC": WorkingDayCalendar, "_SH": SHANGHAI, "_PREFIXES": _PREFIXES, "_prefix": _prefix,
        }  # fmt: skip
        self.parents: set[str] = set()  # locals holding a JSON record's nested objects
        self.coerced: dict[str, str] = {}  # unified field -> local holding the model's value (None: absent)
        self.translated: dict[str, str] = {}  # unified field -> local holding the translated value, where needed
        self.presence: dict[str, str] = {}  # unified field -> _ALWAYS / _MAYBE (absent from the dict: never)
        refs = [p[1:] for p in adapter.spec.source_rating_id if p.startswith("$")]
        self.needs_translated = {*refs, "comment"}
        # every plain read (`holder.get(leaf)`) of a holder done at once, `map` in C: holder -> [(local, leaf)]
        self.reads: dict[str, list[tuple[str, str]]] = {}
        self.read_of: dict[str, str] = {}  # a source path -> the local holding what it read
        self.bulk_done: set[str] = set()

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
            return self.bulk_read("data", path)
        if fmt == "xml":
            raise _Unsupported(f"XML path {path}")
        if _DOTTED.match(path):  # each parent object read once per record, however many fields sit in it
            *parents, leaf = path.split(".")
            holder = "data"
            for depth in range(len(parents)):
                name = "d_" + "_".join(parents[: depth + 1])
                if name not in self.parents:
                    self.parents.add(name)
                    self.emit(f"{name} = {self.bulk_read(holder, parents[depth])}")
                    self.emit(f"if {name}.__class__ is not _dict and not _isinstance({name}, _dict): {name} = None")
                holder = name
            return self.bulk_read(holder, leaf)
        return f"{self.const(getter)}(data)"

    def plan_reads(self) -> None:
        """Which plain reads each holder has (`data`, or a JSON record's nested object `d_...`)."""
        paths = [f.rule.path for f in self.reader.fields if f.get is not None and f.rule.path is not None]
        paths += [p for p in self.adapter.spec.source_rating_id if not p.startswith("$")]
        for path in paths:
            if self.reader.fmt == "form" or _IDENT.match(path):
                holder, leaf = "data", path
            elif self.reader.fmt == "json" and _DOTTED.match(path):
                *parents, leaf = path.split(".")
                for depth in range(len(parents)):  # the parents are read from their own holders
                    above = "data" if depth == 0 else "d_" + "_".join(parents[:depth])
                    self.add_read(above, parents[depth])
                holder = "d_" + "_".join(parents)
            else:
                continue
            self.add_read(holder, leaf)

    def add_read(self, holder: str, leaf: str) -> None:
        reads = self.reads.setdefault(holder, [])
        if all(known != leaf for _, known in reads):
            reads.append((f"r{len(self.read_of)}", leaf))
            self.read_of[f"{holder}\x00{leaf}"] = reads[-1][0]

    def bulk_read(self, holder: str, leaf: str) -> str:
        """The local holding `holder.get(leaf)`: all of a holder's reads are done on its first, in one `map`."""
        if holder not in self.bulk_done:
            self.bulk_done.add(holder)
            reads = self.reads[holder]
            names = ", ".join(local for local, _ in reads) + ("," if len(reads) == 1 else "")
            keys = tuple(leaf for _, leaf in reads)
            if holder == "data" and self.general is not None:  # absent: '' (read as None is: blank)
                self.emit("try:")
                self.emit(f"rs = [*_map(data.get, {keys!r}, {('',) * len(keys)!r})]", 2)
                self.emit("ss = [*_map(_strip, rs)]", 2)  # a TypeError: not all texts
                self.emit("except TypeError:")
                self.emit("return _general(data, connector_id, received_at, latest, days, calendar)", 2)
                self.emit(f"{names} = rs")
                self.emit(f"{names.replace('r', 's')} = ss")
            elif holder == "data":
                self.emit(f"{names} = _map(data.get, {keys!r})")
            else:
                nones = (None,) * len(keys)
                self.emit(f"{names} = _map({holder}.get, {keys!r}) if {holder} is not None else {nones!r}")
        return self.read_of[f"{holder}\x00{leaf}"]

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
        if self.general is not None:  # read in bulk: a text, stripped already
            self.emit(f"stripped = {expr.replace('r', 's')}")
            self.emit("if stripped:")
        else:
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
                elif kind[0] == "code" and kind[1] is check_mobile:  # the usual 11 digits at once, else the check
                    self.emit(f"if not (len({c}) == 11 and {c}.isdigit() and {c}.isascii() and {c}[0] == '1' and "
                              f"{c}[1] in '3456789'): {c} = _check_mobile({c})", 2)  # fmt: skip
                elif kind[0] == "code" and kind[1] is check_id_number:  # GB 11643, inlined; else the check
                    self.emit(f"if len({c}) == 18 and {c}.isascii() and {c}[:17].isdigit() and {c}[:2] in _PROVINCES "
                              f"and _ID_CHECK[2 * _int({c}[:17], 13) % 11] == {c}[17]:", 2)  # fmt: skip
                    self.emit(f"_date(_int({c}[6:10]), _int({c}[10:12]), _int({c}[12:14]))", 3)  # not a date: raises
                    self.emit("else:", 2)
                    self.emit(f"{c} = _check_id({c})", 3)
                elif kind[0] == "code":
                    self.emit(f"{c} = {self.const(kind[1])}({c})", 2)  # a CodeError: the reference refuses it
                else:
                    self.check(c, kind, 2)
        elif rule.time in _DASHED:  # connectors.timeformats._dashed, inlined (a ValueError: the reference decides)
            self.emit("if len(stripped) != 19 or stripped[4] != '-' or stripped[7] != '-' or stripped[13] != ':' or "
                      "stripped[16] != ':': return None", 2)  # fmt: skip
            self.emit("d = _fromiso(stripped)", 2)  # .replace(tzinfo=) costs four times the constructor
            self.emit(f"{c} = _datetime(d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond, _Z)", 2)
            if t is not None:
                self.emit(f"{t} = {c}", 2)
        elif rule.time == "yyyyMMddHHmmss":  # connectors.timeformats._compact, inlined
            self.emit("if len(stripped) != 14 or not stripped.isdigit(): return None", 2)
            self.emit("n = _int(stripped)", 2)  # the six 2- and 4-digit fields, as int() reads each of them
            self.emit(f"{c} = _datetime(n // 10000000000, n // 100000000 % 100, n // 1000000 % 100, n // 10000 % 100, "
                      "n // 100 % 100, n % 100, 0, _Z)", 2)  # fmt: skip
            if t is not None:
                self.emit(f"{t} = {c}", 2)
        else:  # a time or a boolean: the reference's converter
            self.emit(f"{c} = {self.const(f.convert)}(raw)", 2)
            if t is not None:
                self.emit(f"{t} = {c}", 2)
            if kind[0] != "dt":  # the time formats give aware datetimes only (connectors.timeformats)
                self.check(c, kind, 2)
        # lane 2: nothing there (None, blank, []): the default
        self.emit("else:" if self.general is not None else f"elif {_BLANK_CHECK} or raw.__class__ is _str:")
        blank = self.constant_lane(unified, rule.default, 2)
        if self.general is not None:  # no lane 3: texts only
            self.presence[unified] = _ALWAYS if blank == _ALWAYS else _MAYBE
            return
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
        elif rule.time in _EPOCH:  # compile_time_format's epoch lambdas, inlined for an int (not a bool)
            scale = " / 1000" if rule.time == "epoch_ms" else ""
            self.emit(f"{c} = (_fromts(_float(raw){scale}, _Z) if raw.__class__ is _int "
                      f"else {self.const(f.convert)}(raw))", 2)  # fmt: skip
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
        self.plan_reads()
        if self.general is not None:
            paths = [f.rule.path for f in reader.fields if f.get is not None and f.rule.path is not None]
            paths += [p for p in self.adapter.spec.source_rating_id if not p.startswith("$")]
            plain = all(reader.fmt == "form" or _IDENT.match(p) for p in paths)
            if not plain or set(self.reads) != {"data"} or len(self.reads["data"]) < 4:
                raise _Unsupported("not every field a plain read of the record itself")
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
            elif reader.fmt == "json" and not _IDENT.match(path) and not _DOTTED.match(path):
                self.emit(f"v = {self.const(engine._json_getter(path))}(data)")
            elif reader.fmt == "xml" and not _IDENT.match(path):
                raise _Unsupported(f"XML path {path}")
            else:
                self.emit(f"v = {self.raw_expr(path, None)}")  # what a field read already, or read now
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
            self.emit(f"if {evaluation} == _ACTIVE:", 2)  # the calendar's own cache of deadlines, read at once
            self.emit(f"due = calendar._deadlines.get(({handled}.date(), days)) if calendar.__class__ is _WDC and "
                      f"{handled}.tzinfo is _SH else None", 3)  # fmt: skip
            self.emit(f"if {rated} > (due or calendar.deadline({handled}, days)).at: return None", 3)
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
        # rating_id_for(connector_id, sid): the connector's part of the hash hashed once, then copied
        self.emit("h = (_PREFIXES.get(connector_id) or _prefix(connector_id)).copy(); h.update(sid.encode())")
        values += ["'rating_id': 'r' + h.hexdigest()", "'source': source"]
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


def compile_reader(adapter: SpecAdapter, reader: _Reader) -> RecordFn:
    """The reader's function: read in bulk when every field is a plain read of the record (else, or for a record
    that holds anything but texts, the plain function)."""
    general = _Codegen(adapter, reader).compile()
    try:
        return _Codegen(adapter, reader, general).compile()
    except _Unsupported:
        return general

"""What each model field takes, restated from the models: the generated code checks and builds from this table
instead of calling `Rating.model_validate`, so it must name every field in order (`_layout_is_current` turns the
fast path off otherwise) and `tests/unit/test_fastpath.py` holds its checks equal to pydantic's."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from hub.codes import Level, check_id_number, check_mobile, check_region_code, check_uscc
from hub.rating import (
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
)
from hub.rules import RatingPolicy
from hub.tags import TagCode

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


def _clean_text(value: Any) -> bool:
    """A table, const or default value that pydantic's whitespace stripping leaves as it is (Python's strip removes
    a superset of what pydantic-core's does, so a value equal to its Python strip is unchanged by both)."""
    return not isinstance(value, str) or value == value.strip()


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


_DEFAULT_RATER_VALUES = {name: default for name, _u, _k, default in _LAYOUT[Rater]}

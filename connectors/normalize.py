"""Bytes from a source to validated unified ratings: the check every ingest path runs.

Nothing here stores anything; the ingest service decides what to keep from the outcomes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from connectors.base import Adapter
from hub.calendar import WorkingDayCalendar
from hub.errors import Problem, Refused
from hub.ports import NormalizedItem
from hub.rating import Rating, rating_id_for
from hub.rules import RatingPolicy, check_timing
from hub.validation import problems_from


@dataclass(slots=True)
class ItemOutcome:
    index: int
    outcome: Literal["accepted", "rejected"]
    rating: Rating | None = None
    problems: list[Problem] = field(default_factory=list)
    source_rating_id: str | None = None

    def as_dict(self, rating: dict[str, Any] | None = None) -> dict[str, Any]:
        if self.outcome == "accepted":
            return {"index": self.index, "outcome": "accepted", "rating": rating}
        return {
            "index": self.index,
            "outcome": "rejected",
            "errors": [p.as_dict() for p in self.problems],
        }


def normalize(
    adapter: Adapter,
    body: bytes,
    content_type: str | None,
    *,
    connector_id: str,
    received_at: datetime,
    now: datetime,
    calendar: WorkingDayCalendar,
    policy: RatingPolicy | None = None,
) -> list[ItemOutcome]:
    """One outcome per record. A body that cannot be read at all raises `Refused`.

    The compiled fast path (`connectors.fastpath`) answers whatever it can prove accepted; the rest, refusals
    included, is this module's reference path: the same outcomes either way."""
    fast = getattr(adapter, "_fast", None)
    if fast is None:  # an adapter's first body: the reference path, so a cold start or a one-off adapter never pays
        _mark(adapter, _SEEN)
    elif fast is _SEEN:  # its second: compiled now (connectors.fastpath), kept on the adapter
        from connectors.fastpath import fast_adapter

        fast = fast_adapter(adapter)
        if fast is None:
            _mark(adapter, False)
    if fast:
        outcomes = fast.run(body, content_type, connector_id, received_at, now, calendar, policy)
        if outcomes is not None:
            return outcomes
    return reference_normalize(
        adapter, body, content_type,
        connector_id=connector_id, received_at=received_at, now=now, calendar=calendar, policy=policy,
    )  # fmt: skip


_SEEN = 0  # falsy: not compiled yet


def _mark(adapter: Adapter, state: object) -> None:
    held = getattr(adapter, "__dict__", None)
    if held is not None:  # (an adapter with slots: the reference path serves it)
        held["_fast"] = state


def reference_normalize(
    adapter: Adapter,
    body: bytes,
    content_type: str | None,
    *,
    connector_id: str,
    received_at: datetime,
    now: datetime,
    calendar: WorkingDayCalendar,
    policy: RatingPolicy | None = None,
) -> list[ItemOutcome]:
    """`normalize` without the fast path: the pydantic models decide (what the fast path is tested against)."""
    records = adapter.split(body, content_type)
    return [
        normalize_record(
            adapter, record, index,
            connector_id=connector_id, received_at=received_at, now=now, calendar=calendar, policy=policy,
        )
        for index, record in enumerate(records)
    ]  # fmt: skip


def normalize_record(
    adapter: Adapter,
    record: Any,
    index: int,
    *,
    connector_id: str,
    received_at: datetime,
    now: datetime,
    calendar: WorkingDayCalendar,
    policy: RatingPolicy | None = None,
) -> ItemOutcome:
    translation = adapter.translate(record)
    if translation.problems:
        return ItemOutcome(index, "rejected", problems=translation.problems)
    source_rating_id = translation.source_rating_id or ""
    unified = translation.unified
    unified["rating_id"] = rating_id_for(connector_id, source_rating_id)
    unified["source"] = {
        "connector_id": connector_id,
        "kind": adapter.kind,
        "source_rating_id": source_rating_id,
        "received_at": received_at,
    }
    try:
        rating = Rating.model_validate(unified)
    except ValidationError as exc:
        return ItemOutcome(index, "rejected", problems=problems_from(exc, translation.source_path))
    timing = check_timing(rating, now, calendar, policy)
    if timing:
        for i, p in enumerate(timing):
            timing[i] = Problem(p.code, p.path, p.message, p.message_zh, p.rule, translation.source_path(p.path))
        return ItemOutcome(index, "rejected", problems=timing, source_rating_id=source_rating_id)
    return ItemOutcome(index, "accepted", rating=rating, source_rating_id=source_rating_id)


def report_of(outcomes: Sequence[NormalizedItem], *, show_personal: bool = False) -> dict[str, Any]:
    """The one JSON answer of `hcp normalize`, `hcp connectors test` and the registry's dry-run: one item as
    itself, several as `{"outcome": accepted|partial|rejected, "results": [...]}`. Personal data masked (R20)."""
    from hub.masking import masked_rating

    def shown(outcome: NormalizedItem) -> dict[str, Any]:
        if outcome.rating is None:
            return {"index": outcome.index, "outcome": "rejected", "errors": [p.as_dict() for p in outcome.problems]}
        rating = outcome.rating.model_dump(mode="json")
        shown_rating = rating if show_personal else masked_rating(rating)
        return {"index": outcome.index, "outcome": "accepted", "rating": shown_rating}

    items = [shown(o) for o in outcomes]
    if len(items) == 1:
        items[0].pop("index")
        return items[0]
    rejected = sum(1 for item in items if item["outcome"] == "rejected")
    overall = "accepted" if rejected == 0 else "rejected" if rejected == len(items) else "partial"
    return {"outcome": overall, "results": items}


__all__ = ["ItemOutcome", "Refused", "normalize", "normalize_record", "reference_normalize", "report_of"]

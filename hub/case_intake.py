"""Completed-case notices in (`POST /v1/cases`): each one is a rating, or a rating window with its timers.

A notice that carries its rating (第十五条) is handled as that rating: the same rules, the same store
and the same forwarding as any other (R5, R8, R9). One without a rating opens the window (R5) and
stores its timers — the reminders (R7) and the default rating (R6) — in one conditional write with
the case, so a notice posted twice is a duplicate and never two windows. A case that holds a rating
already is closed: its notice is refused.

The raw bytes are archived first, as for ratings, so whatever was accepted can be read again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from hub.calendar import WorkingDayCalendar
from hub.case_notice import CaseNotice
from hub.cases import (
    case_key,
    check_handled_at,
    embedded_rating,
    open_rating_window,
    reminder_phone,
    slot_key,
)
from hub.errors import Problem, Refused, problem
from hub.jsonbody import loads, not_an_object
from hub.ports import CaseStore, Connector, ForwardQueue, RatingStore, RawArchive, StoredCase
from hub.rating import EvaluationType
from hub.rules import RatingPolicy, check_timing
from hub.scope import out_of_scope
from hub.validation import problems_from

MAX_ITEMS = 100
CaseOutcome = Literal["accepted", "duplicate", "rejected"]

_RATING_FIELDS = ("grade", "staff_grade", "evaluation_type", "tags", "comment", "rated_at")
_SLOT_CONFLICT = {"source_id": "RATING_CONFLICT", "case": "ALREADY_RATED"}


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One notice's answer. `closes_at`/`provisional` say when its window closes and whether that date
    was counted without a calendar for its year (to be recomputed when the year's notice is loaded)."""

    index: int
    outcome: CaseOutcome
    case_key: str | None = None
    rating_id: str | None = None
    closes_at: datetime | None = None
    provisional: bool | None = None
    reminder: Literal["scheduled", "skipped"] | None = None
    errors: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"index": self.index, "outcome": self.outcome}
        for name in ("case_key", "rating_id", "provisional", "reminder"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.closes_at is not None:
            data["closes_at"] = self.closes_at.isoformat()
        if self.errors:
            data["errors"] = [p.as_dict() for p in self.errors]
        if self.warnings:
            data["warnings"] = [p.as_dict() for p in self.warnings]
        return data


@dataclass(frozen=True, slots=True)
class CaseReport:
    raw_ref: str
    results: tuple[CaseResult, ...]
    not_queued: tuple[str, ...] = field(default=())

    def counts(self) -> dict[str, int]:
        return dict(Counter(r.outcome for r in self.results))

    def warnings(self) -> dict[str, int]:
        return dict(Counter(w.code for r in self.results for w in r.warnings))

    def as_dict(self) -> dict[str, Any]:
        return {"results": [r.as_dict() for r in self.results]}


class CaseIntake:
    def __init__(
        self,
        ratings: RatingStore,
        cases: CaseStore,
        archive: RawArchive,
        queue: ForwardQueue,
        calendars: Callable[[], WorkingDayCalendar],
        policy: RatingPolicy | None = None,
    ) -> None:
        self.ratings = ratings
        self.cases = cases
        self.archive = archive
        self.queue = queue
        self.calendars = calendars
        self.policy = policy or RatingPolicy()

    def receive(
        self, connector: Connector, body: bytes, content_type: str | None, request_id: str, now: datetime
    ) -> CaseReport:
        """Raises `Refused` for a body that is not a notice or a list of them (it is archived), and for a body
        with any notice outside the connector's scope (CONNECTOR_OUT_OF_SCOPE: kept nowhere, R20)."""
        try:
            records = parse_notices(body, content_type)
        except Refused:
            self.archive.put(connector.connector_id, request_id, body, content_type, now)
            raise
        foreign = [p for index, record in enumerate(records) for p in _out_of_scope(connector, index, record)]
        if foreign:
            raise Refused(foreign)
        raw_ref = self.archive.put(connector.connector_id, request_id, body, content_type, now)
        calendar = self.calendars()
        results: list[CaseResult] = []
        stored: list[str] = []
        for index, record in enumerate(records):
            result = self._one(connector.connector_id, index, record, raw_ref, calendar, now)
            if result.rating_id is not None and result.outcome == "accepted":
                stored.append(result.rating_id)
            results.append(result)
        not_queued = tuple(self.queue.enqueue(stored)) if stored else ()
        return CaseReport(raw_ref, tuple(results), not_queued)

    def _one(
        self, connector_id: str, index: int, record: Any, raw_ref: str, calendar: WorkingDayCalendar, now: datetime
    ) -> CaseResult:
        if not isinstance(record, dict):
            return CaseResult(index, "rejected", errors=(problem("FIELD_INVALID", "", "a notice is a JSON object"),))
        try:
            notice = CaseNotice.model_validate(record)
        except ValidationError as exc:
            return CaseResult(index, "rejected", errors=tuple(problems_from(exc, model=CaseNotice)))
        future = check_handled_at(notice, now, self.policy)
        if future:
            return CaseResult(index, "rejected", case_key(notice), errors=tuple(future))
        if notice.rating is not None:
            return self._rating(connector_id, index, notice, raw_ref, calendar, now)
        return self._window(connector_id, index, notice, raw_ref, calendar, now)

    def _rating(
        self,
        connector_id: str,
        index: int,
        notice: CaseNotice,
        raw_ref: str,
        calendar: WorkingDayCalendar,
        now: datetime,
    ) -> CaseResult:
        key = case_key(notice)
        try:
            rating = embedded_rating(notice, connector_id, now)
        except ValidationError as exc:
            return CaseResult(index, "rejected", key, errors=tuple(_in_rating(p) for p in problems_from(exc)))
        timing = check_timing(rating, now, calendar, self.policy)
        if timing:
            return CaseResult(index, "rejected", key, rating.rating_id, errors=tuple(_in_rating(p) for p in timing))
        put = self.ratings.put_new(rating, raw_ref)
        if put.outcome == "conflict":
            code = _SLOT_CONFLICT[put.conflict or "case"]
            return CaseResult(index, "rejected", key, rating.rating_id, errors=(problem(code, "case_no"),))
        return CaseResult(index, put.outcome, key, rating.rating_id)

    def _window(
        self,
        connector_id: str,
        index: int,
        notice: CaseNotice,
        raw_ref: str,
        calendar: WorkingDayCalendar,
        now: datetime,
    ) -> CaseResult:
        key = case_key(notice)
        holder = self.ratings.slot_holder(slot_key(notice))
        if holder is not None:
            held = self.ratings.get(holder)
            is_default = held is not None and held.rating.evaluation_type == EvaluationType.DEFAULT
            detail = "by the default rating, R6" if is_default else "by a rating"
            return CaseResult(index, "rejected", key, errors=(problem("CASE_ALREADY_RATED", "case_no", detail),))
        window = open_rating_window(notice, calendar, self.policy)
        case = StoredCase(
            notice, connector_id, raw_ref, now, window.closes_at, window.provisional, window.provisional_year
        )
        outcome = self.cases.put_new(case, window.timers)
        if outcome == "conflict":
            return CaseResult(index, "rejected", key, errors=(problem("CASE_CONFLICT", "case_no"),))
        if outcome == "duplicate":
            case = self.cases.get(key) or case  # the window as it stands (recomputed since, maybe)
        _, skipped = reminder_phone(notice.applicant)
        return CaseResult(
            index,
            outcome,
            key,
            closes_at=case.closes_at,
            provisional=case.provisional,
            reminder="skipped" if skipped else "scheduled",
            warnings=(problem(skipped, "applicant.phone"),) if skipped else (),
        )


def _in_rating(p: Problem) -> Problem:
    """A problem of the embedded rating, named where the notice has the field."""
    head = p.path.split(".", 1)[0].split("[", 1)[0]
    if head in _RATING_FIELDS:
        return Problem(p.code, f"rating.{p.path}", p.message, p.message_zh, p.rule, p.source_path)
    return p


def parse_notices(body: bytes, content_type: str | None) -> Sequence[Any]:
    """The records of a body: one JSON object, or a list of up to `MAX_ITEMS`. Raises `Refused`."""
    mime = (content_type or "application/json").split(";", 1)[0].strip().lower()
    if mime not in ("application/json", "text/json") and not mime.endswith("+json"):
        raise Refused([problem("CONTENT_TYPE_UNSUPPORTED", "", f"{mime}; notices are JSON")])
    if not body.strip():
        raise Refused([problem("BODY_EMPTY", "")])
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused([problem("BODY_UNDECODABLE", "", "UTF-8", detail_zh="UTF-8 编码")]) from None
    document = loads(text)  # a duplicate key is refused, naming it
    if isinstance(document, dict):
        return [document]
    if not isinstance(document, list) or not document or not all(isinstance(item, dict) for item in document):
        raise not_an_object("a notice (a JSON object) or a non-empty list of them")
    if len(document) > MAX_ITEMS:
        raise Refused([problem("BATCH_TOO_LARGE", "", str(MAX_ITEMS))])
    return document


def _out_of_scope(connector: Connector, index: int, record: Any) -> list[Problem]:
    """Scope is read off the raw record: a notice invalid in other ways is still refused for its agency."""
    if not isinstance(record, dict):
        return []
    agency = record.get("agency")
    agency_code = str(agency.get("code") or "") if isinstance(agency, dict) else ""
    region_code = str(record.get("region_code") or "")
    return out_of_scope(connector, index, agency_code, region_code, ("agency.code", "region_code"))

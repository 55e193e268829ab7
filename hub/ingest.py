"""The ingest use case: a source's body in, one result per rating out, nothing accepted ever lost.

Order matters: normalize → refuse the whole body if any rating is outside the connector's scope (R20,
nothing kept) → archive the raw bytes (so whatever is accepted can be read again) → store each valid
rating with a conditional write → queue what was stored → report. A crash after storing and before
queueing leaves the rating pending, and the sweep queues it; so store comes first.

Normalization is injected (`hub.ports.Normalizer`): reading a source's format is `connectors/`' job,
while the order of the side effects and what each outcome means is this service's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.errors import Problem, Refused, problem
from hub.ports import Connector, ForwardQueue, NormalizedItem, Normalizer, PutResult, RatingStore, RawArchive
from hub.rating import Rating, RatingOutcome, rating_id_for
from hub.scope import out_of_scope

_CONFLICT_PROBLEM = {
    "source_id": lambda: problem("RATING_CONFLICT", "source_rating_id"),
    "case": lambda: problem("ALREADY_RATED", "case.case_no"),
}


@dataclass(frozen=True, slots=True)
class ItemResult:
    index: int
    outcome: RatingOutcome
    rating_id: str | None = None
    source_rating_id: str | None = None
    errors: tuple[Problem, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"index": self.index, "outcome": self.outcome}
        if self.rating_id is not None:
            data["rating_id"] = self.rating_id
        if self.source_rating_id is not None:
            data["source_rating_id"] = self.source_rating_id
        if self.errors:
            data["errors"] = [p.as_dict() for p in self.errors]
        return data


@dataclass(frozen=True, slots=True)
class IngestReport:
    """One result per record of the body, by index; `not_queued` were stored but wait for the sweep."""

    raw_ref: str
    results: tuple[ItemResult, ...]
    not_queued: tuple[str, ...] = field(default=())

    def counts(self) -> dict[str, int]:
        return dict(Counter(r.outcome for r in self.results))

    def as_dict(self) -> dict[str, Any]:
        return {"results": [r.as_dict() for r in self.results]}


class IngestService:
    def __init__(self, ratings: RatingStore, archive: RawArchive, queue: ForwardQueue, normalize: Normalizer) -> None:
        self.ratings = ratings
        self.archive = archive
        self.queue = queue
        self.normalize = normalize

    def ingest(
        self,
        connector: Connector,
        adapter: Any,
        body: bytes,
        content_type: str | None,
        request_id: str,
        now: datetime,
    ) -> IngestReport:
        """Raises `hub.errors.Refused` for a body that cannot be read at all (it is archived), and for a
        body with any rating outside the connector's scope (CONNECTOR_OUT_OF_SCOPE: kept nowhere, R20)."""
        try:
            items = self.normalize(
                adapter, body, content_type, connector_id=connector.connector_id, received_at=now, now=now
            )
        except Refused:
            self.archive.put(connector.connector_id, request_id, body, content_type, now)
            raise
        foreign = [p for item in items for p in _foreign(connector, item)]
        if foreign:
            raise Refused(foreign)
        raw_ref = self.archive.put(connector.connector_id, request_id, body, content_type, now)
        results: list[ItemResult] = []
        stored: list[str] = []
        handoffs: dict[str, str] = {}
        for item in items:
            rating = item.rating
            if item.outcome != "accepted" or rating is None:
                results.append(_rejected(connector.connector_id, item.index, item.source_rating_id, item.problems))
                continue
            put = self.ratings.put_new(rating, raw_ref)
            results.append(_stored(item.index, rating.rating_id, rating.source.source_rating_id, put))
            if put.outcome == "accepted":
                stored.append(rating.rating_id)
                if put.handoff is not None:
                    handoffs[rating.rating_id] = put.handoff
        not_queued = tuple(self.queue.enqueue(stored, handoffs)) if stored else ()
        return IngestReport(raw_ref, tuple(results), not_queued)


def _rejected(connector_id: str, index: int, source_rating_id: str | None, problems: Sequence[Problem]) -> ItemResult:
    rating_id = rating_id_for(connector_id, source_rating_id) if source_rating_id else None
    return ItemResult(index, "rejected", rating_id, source_rating_id, tuple(problems))


def _stored(index: int, rating_id: str, source_rating_id: str, put: PutResult) -> ItemResult:
    errors = (_CONFLICT_PROBLEM[put.conflict](),) if put.outcome == "conflict" and put.conflict else ()
    return ItemResult(index, put.outcome, rating_id, source_rating_id, errors)


def _foreign(connector: Connector, item: NormalizedItem) -> list[Problem]:
    """R20: the problems of an item rating for an agency or region the connector may not rate for."""
    rating = item.rating
    if rating is None:
        return []
    return out_of_scope(connector, item.index, rating.target.agency_code, rating.target.region_code)


@dataclass(frozen=True, slots=True)
class OutOfScope:
    """An item the dry-run refuses as ingest would (CONNECTOR_OUT_OF_SCOPE): a `NormalizedItem`, rejected."""

    index: int
    problems: tuple[Problem, ...]
    source_rating_id: str | None = None
    outcome: str = "rejected"
    rating: Rating | None = None


class DryRun:
    """A body in a connector's format read as ingest would read it — normalized, then the same scope check —
    and kept nowhere (the registry's dry-run). Where ingest refuses the whole body for one item out of scope,
    this answers item by item, so the department sees which."""

    def __init__(self, normalize: Normalizer) -> None:
        self.normalize = normalize

    def check(
        self, connector: Connector, adapter: Any, body: bytes, content_type: str | None, now: datetime
    ) -> list[NormalizedItem]:
        """One item per record; raises `hub.errors.Refused` for a body that cannot be read at all."""
        items = self.normalize(
            adapter, body, content_type, connector_id=connector.connector_id, received_at=now, now=now
        )
        checked: list[NormalizedItem] = []
        for item in items:
            foreign = _foreign(connector, item)
            checked.append(OutOfScope(item.index, tuple(foreign), item.source_rating_id) if foreign else item)
        return checked

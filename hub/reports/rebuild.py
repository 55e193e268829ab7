"""`rebuild(period)`: a period's rollup cells recomputed from the ratings and work orders (repair, migration).

Whole months are rebuilt (a month's cells and its days'), since a week or a day is a part of one. The
ratings are read by their stored time, over the month widened by `SLACK` on both sides: a rating is
stored after it was given (R5 allows 5 working days: across the National Day holiday, two weeks), and
its order is dispatched after it was stored. Each is then counted by its own time, rated_at or
dispatched_at, as the stream counts it. Run it with the stream mapping paused (or on a quiet table):
a change applied while a partition is rewritten can be lost or counted twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta

from hub.ports import RatingQuery, RatingStore, StoredRating
from hub.reports.cells import (
    Contribution,
    OrderFacts,
    RatingFacts,
    order_contribution,
    rating_contribution,
    total,
)
from hub.reports.periods import Period, parse_period
from hub.reports.ports import Cell, RebuiltPartition, RollupStore

SLACK = timedelta(days=20)
PAGE = 100


@dataclass(frozen=True, slots=True)
class RebuildResult:
    months: tuple[str, ...]
    partitions: int
    cells: int
    ratings_read: int
    orders_read: int


def partitions_of(contribution: Contribution) -> list[RebuiltPartition]:
    by_pk: dict[str, list[Cell]] = defaultdict(list)
    for key, counters in contribution.counters.items():
        kept = {n: v for n, v in counters.items() if v}
        if kept:
            by_pk[key.pk].append(Cell(key, kept, contribution.labels.get(key)))
    return [RebuiltPartition(pk, tuple(sorted(cells, key=lambda c: c.key.sk))) for pk, cells in sorted(by_pk.items())]


def rebuilt_cells(
    month: Period, ratings: Iterable[RatingFacts], orders: Iterable[OrderFacts]
) -> list[RebuiltPartition]:
    """The month's partitions (the month's and its days'), from facts: what the stream would have added up."""
    contributions = [rating_contribution(r) for r in ratings if month.contains(r.rated_at)]
    contributions += [order_contribution(o) for o in orders if month.contains(o.dispatched_at)]
    return partitions_of(total(contributions))


def _stored(ratings: RatingStore, month: Period) -> Iterator[StoredRating]:
    cursor: str | None = None
    while True:
        page = ratings.search(RatingQuery(
            start=month.start - SLACK, end=month.end + SLACK, include_not_adopted=True, limit=PAGE, cursor=cursor,
        ))  # fmt: skip
        yield from page.ratings
        if page.cursor is None:
            return
        cursor = page.cursor


def rebuild(
    period: str, *, ratings: RatingStore, order_of: Callable[[str], OrderFacts | None], rollups: RollupStore
) -> RebuildResult:
    """Rebuild every month `period` overlaps. `order_of(rating_id)` gives a bad rating's order's facts, if any."""
    months = parse_period(period).months
    partitions = cells = ratings_read = orders_read = 0
    for month in months:
        facts: list[RatingFacts] = []
        orders: list[OrderFacts] = []
        for stored in _stored(ratings, month):
            ratings_read += 1
            facts.append(RatingFacts.of(stored.rating, adopted=stored.adopted))
            if stored.rating.is_bad:
                order = order_of(stored.rating.rating_id)
                orders_read += 1
                if order is not None:
                    orders.append(order)
        for partition in rebuilt_cells(month, facts, orders):
            rollups.replace(partition)
            partitions += 1
            cells += len(partition.cells)
    return RebuildResult(tuple(m.key for m in months), partitions, cells, ratings_read, orders_read)

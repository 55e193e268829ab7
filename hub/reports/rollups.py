"""Keeping the rollups current: one change (a stream record) in, its deltas applied once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.reports.cells import OrderFacts, RatingFacts, RollupChange, merged, order_change, rating_change
from hub.reports.ports import RollupStore


@dataclass(frozen=True, slots=True)
class Applied:
    change_id: str
    items: int  # items its transaction wrote (0: it moved no figure, or it was counted before)
    again: bool = False  # a re-delivery: counted before, nothing added


class RollupService:
    def __init__(self, store: RollupStore) -> None:
        self.store = store

    def apply(self, change: RollupChange) -> Applied:
        if change.empty:
            return Applied(change.change_id, 0)
        if self.store.apply(change):
            return Applied(change.change_id, change.items)
        return Applied(change.change_id, 0, again=True)

    def applied_together(self, changes: Sequence[RollupChange]) -> list[Applied] | None:
        """A stream batch's changes merged into as few transactions as fit (`cells.merged`); None if one of them
        met a marker (a re-delivery): the caller then applies the changes one by one, each counted once."""
        done: list[Applied] = []
        for change in merged(changes):
            if not self.store.apply(change):
                return None
            done.append(Applied(change.change_id, change.items))
        return done

    def rating_changed(self, change_id: str, old: RatingFacts | None, new: RatingFacts | None) -> Applied:
        return self.apply(rating_change(change_id, old, new))

    def order_changed(self, change_id: str, old: OrderFacts | None, new: OrderFacts | None) -> Applied:
        return self.apply(order_change(change_id, old, new))

"""The rollup store port: cells of counters, each change applied exactly once."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hub.reports.cells import CellKey, RollupChange


@dataclass(frozen=True, slots=True)
class Cell:
    key: CellKey
    counters: Mapping[str, int]
    label: str | None = None


@dataclass(frozen=True, slots=True)
class RebuiltPartition:
    pk: str
    cells: Sequence[Cell] = field(default_factory=tuple)


class RollupStore(ABC):
    """`items_read` counts the cells a report read (the benchmark's and the tests' measure)."""

    items_read: int = 0

    @abstractmethod
    def apply(self, change: RollupChange) -> bool:
        """Add the change's deltas, atomically with its marker; False (nothing added) if it was applied before."""

    @abstractmethod
    def query(self, pk: str, prefix: str = "") -> list[Cell]:
        """The partition's cells whose sort key begins with `prefix`, in sort-key order."""

    @abstractmethod
    def agency_partitions(self, stored_period: str, agency_code: str) -> list[CellKey]:
        """The summary cells' keys of an agency in a stored period (one per county it was rated in)."""

    @abstractmethod
    def replace(self, partition: RebuiltPartition) -> None:
        """Rebuild: the partition holds exactly these cells afterwards (others removed)."""

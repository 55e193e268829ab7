"""Run a batch-at-a-time service until nothing more is due or the invocation's time runs short."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class Batch(Protocol):
    """What one run of a scheduled service reports (hub.scheduler's and hub.workorders.monitor's runs)."""

    @property
    def counts(self) -> Mapping[str, int]: ...

    @property
    def errors(self) -> Sequence[str]: ...

    @property
    def due(self) -> int: ...

    @property
    def full(self) -> bool: ...


@dataclass
class Drained:
    counts: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    due: int = 0
    behind: bool = False  # the last batch was full: more is due than this invocation took


def remaining_ms(context: Any, default: int) -> int:
    """The invocation's time left (Lambda's context always has it; `default` for one that does not)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return int(remaining()) if callable(remaining) else default


def drain(
    run: Callable[[], Batch], context: Any, *, spare_ms: int, worth_more: Callable[[Batch], bool] = lambda _: True
) -> Drained:
    """`run()` again while its batch came back full, `worth_more(batch)` and more than `spare_ms` are left."""
    drained = Drained()
    while True:
        batch = run()
        drained.counts.update(batch.counts)
        drained.errors.extend(batch.errors)
        drained.due += batch.due
        drained.behind = batch.full
        if not batch.full or not worth_more(batch) or remaining_ms(context, spare_ms * 2) < spare_ms:
            return drained

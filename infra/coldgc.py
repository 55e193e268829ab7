"""The garbage collector during a cold start: collected rarely while the modules, models and clients that live as
long as the container are made, then those frozen out of every later collection.

A cold start allocates millions of long-lived objects (botocore's models and clients, pydantic's schemas,
Powertools); with the default thresholds the collector traverses them again and again (each older-generation
pass walks everything tracked). `pause` (functions/__init__, the first import of every handler) raises the
thresholds; `resume` (after a function's first services are built, infra.bootstrap.BuiltOnce) moves everything
alive into the permanent generation (`gc.freeze`: the documented disable-early, freeze-later pattern) and puts
the thresholds back. The collector is never off: a function that builds no services keeps collecting, rarely.
Measured by bench/coldstart.py (the ingest function's cold start, CPU).
"""

from __future__ import annotations

import gc
import threading

COLD_START_THRESHOLDS = (200_000, 1_000, 1_000)  # a young collection per 200,000 objects; no older one meanwhile

_lock = threading.Lock()
_paused: tuple[int, int, int] | None = None


def pause() -> None:
    """Collect rarely until `resume`; idempotent."""
    global _paused
    with _lock:
        if _paused is None:
            _paused = gc.get_threshold()
            gc.set_threshold(*COLD_START_THRESHOLDS)


def resume() -> None:
    """Freeze what the cold start made and collect as before; once, and nothing if `pause` never ran."""
    global _paused
    with _lock:
        if _paused is not None:
            gc.freeze()
            gc.set_threshold(*_paused)
            _paused = None

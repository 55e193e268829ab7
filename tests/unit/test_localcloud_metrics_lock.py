"""The local cloud runs invocations in threads of one process, where Powertools' metrics are one class-level
dict: a flush must not find metrics, then serialize after another invocation's flush cleared them (it raised
SchemaValidationError "Must contain at least one metric" and failed an ingest request in a load run)."""

from __future__ import annotations

import threading
import warnings
from typing import Any

import pytest
from aws_lambda_powertools.metrics import MetricUnit

from functions.edge.emf import OrjsonEMFProvider, emf_metrics
from infra.localcloud import lambdas


class ObservedLock:
    """An RLock that says when a thread is waiting for it, so the test interleaves without sleeping."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.waiting = threading.Event()

    def __enter__(self) -> ObservedLock:
        if not self._lock.acquire(blocking=False):
            self.waiting.set()
            self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def flush_while_another_invocation_clears(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    lock = ObservedLock()
    monkeypatch.setattr(lambdas, "_METRICS_LOCK", lock)
    metrics = emf_metrics("hcp-test")
    provider: Any = metrics.provider
    assert isinstance(provider, OrjsonEMFProvider)
    provider.clear_metrics()
    provider.add_metric(name="RatingsAccepted", unit=MetricUnit.Count, value=1)
    errors: list[BaseException] = []

    def flush() -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                provider.flush_metrics()
        except BaseException as exc:  # what the invocation would have raised
            errors.append(exc)

    with lock:  # another invocation's flush holds the lock, and clears the shared set before it lets go
        worker = threading.Thread(target=flush)
        worker.start()
        assert lock.waiting.wait(10), "the flush never reached the lock"
        provider.metric_set.clear()
    worker.join(10)
    return errors


def test_a_flush_waits_for_another_invocations_flush_before_it_looks_at_the_metrics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lambdas.serialize_powertools_metrics()
    assert flush_while_another_invocation_clears(monkeypatch) == []


def test_negative_control_the_subclass_overrides_left_unlocked_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    lambdas.serialize_powertools_metrics()
    for name in ("flush_metrics", "add_metric"):  # the subclass's own methods as written, the base still locked
        monkeypatch.setattr(OrjsonEMFProvider, name, OrjsonEMFProvider.__dict__[name].__wrapped__)
    errors = flush_while_another_invocation_clears(monkeypatch)
    assert [type(e).__name__ for e in errors] == ["SchemaValidationError"]

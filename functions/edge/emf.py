"""Powertools' EMF metrics provider, its one line per invocation written by orjson (issue 15 item 3).

`AmazonCloudWatchEMFProvider.flush_metrics` builds the EMF document (`serialize_metric_set`) and prints
`json.dumps(document, separators=(",", ":"))`; the document here is the same and so is the line: orjson writes
it byte for byte as `json.dumps` does for an ASCII document (names, units, dimensions and numbers: ours are),
and a document with anything else is written by `json.dumps` as before (it escapes non-ASCII).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from aws_lambda_powertools.metrics import Metrics
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider


def emf_line(document: Any) -> str:
    """`json.dumps(document, separators=(",", ":"))`, as Powertools writes it, for less CPU."""
    try:
        line = orjson.dumps(document)
    except TypeError:  # a value orjson refuses (an int beyond 64 bits): Powertools' way
        return json.dumps(document, separators=(",", ":"))
    return line.decode() if line.isascii() else json.dumps(document, separators=(",", ":"))


class OrjsonEMFProvider(AmazonCloudWatchEMFProvider):
    """The EMF provider with its flush written by `emf_line`; everything else Powertools'."""

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        if (not raise_on_empty_metrics and not self.metric_set) or is_metrics_disabled():
            return super().flush_metrics(raise_on_empty_metrics)  # the warning, the empty error, disabled
        print(emf_line(self.serialize_metric_set()))
        self.clear_metrics()


def emf_metrics(namespace: str) -> Metrics:
    """`Metrics(namespace=...)` with `OrjsonEMFProvider`, sharing Metrics' process-wide sets as its own does."""
    provider = OrjsonEMFProvider(
        namespace=namespace, metric_set=Metrics._metrics, dimension_set=Metrics._dimensions,
        metadata_set=Metrics._metadata, default_dimensions=Metrics._default_dimensions,
    )  # fmt: skip
    return Metrics(namespace=namespace, provider=provider)

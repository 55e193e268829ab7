"""The functions' log lines (functions.edge.logformat.FastFormatter) are Powertools' own lines, byte for byte: the
same keys in the same order, the same values, for every kind of record the functions write (issue 15 item 3:
the formatter is only faster). Each record is formatted by both formatters in the same state."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter, clear_context_keys, set_context_keys

from functions.edge.logformat import FastFormatter, dumps


@dataclasses.dataclass
class Point:
    x: int


def record(msg: Any = "ingested", *args: Any, exc: bool = False, **extra: Any) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            exc_info = sys.exc_info()
    made = logging.LogRecord("hcp-hub", logging.INFO, "/x/functions/ingest.py", 78, msg, args, exc_info, "_ingest")
    made.created, made.msecs = 1796218510.2915, 291.0  # a fixed moment: both formatters read the same
    made.__dict__.update(extra)
    return made


LAMBDA_KEYS = {"service": "hcp-hub", "sampling_rate": None, "cold_start": False, "function_name": "IngestFunction",
               "function_memory_size": 1024, "function_request_id": "r-1", "correlation_id": "req-1"}  # fmt: skip
RECORDS: dict[str, Callable[[], logging.LogRecord]] = {
    "the ingest line": lambda: record(
        connector_id="c-1", raw_ref="raw/2026/11/28/a", counts={"accepted": 1}, items=[[0, "accepted", "r-1", []]]
    ),
    "Chinese kept as is": lambda: record("已接收", detail_zh="请求编号 r-1"),
    "arguments formatted": lambda: record("refused %s of %d", "rating", 3),
    "a dict message": lambda: record({"kind": "report", "period": "2026-11"}),
    "a JSON string message": lambda: record('{"a": 1}'),
    "JSON after whitespace": lambda: record(" \n [1, 2]"),
    "a JSON number, true, NaN": lambda: record("-12.5"),
    "a JSON literal": lambda: record("true"),
    "almost JSON": lambda: record("{not json"),
    "an empty message": lambda: record(""),
    "not a string": lambda: record(42),
    "datetimes and dataclasses as str()": lambda: record(at=datetime(2026, 11, 28, 12, tzinfo=UTC), point=Point(1)),
    "int keys, tuples, sets": lambda: record(by_index={1: "a", 2: "b"}, pair=(1, 2), codes={"X"}),
    "None dropped": lambda: record(detail=None),
    "an int beyond 64 bits": lambda: record(big=1 << 70),
    "a lone surrogate": lambda: record(text="\ud800"),
    "an exception": lambda: record("unexpected error", exc=True, error="ValueError"),
    "an extra overriding a key": lambda: record(service="other", location="mine"),
}


def formatters(**options: Any) -> tuple[LambdaPowertoolsFormatter, FastFormatter]:
    reference, fast = LambdaPowertoolsFormatter(**options), FastFormatter(**options)
    for formatter in (reference, fast):
        formatter.append_keys(**LAMBDA_KEYS)
    return reference, fast


@pytest.mark.parametrize("name", RECORDS)
def test_every_line_is_the_one_powertools_writes(name: str) -> None:
    reference, fast = formatters()
    made = RECORDS[name]()
    assert fast.format(made) == reference.format(RECORDS[name]())


def test_the_line_has_the_fields_users_read_in_powertools_order(monkeypatch: pytest.MonkeyPatch) -> None:
    _, fast = formatters()

    def slow_way(self: Any, log_record: logging.LogRecord) -> None:
        raise AssertionError("the line was not read the fast way")

    monkeypatch.setattr(LambdaPowertoolsFormatter, "_extract_log_keys", slow_way)
    assert fast.json_serializer is dumps
    line = json.loads(fast.format(RECORDS["the ingest line"]()))
    assert list(line)[:4] == ["level", "location", "message", "timestamp"]
    assert line["location"] == "_ingest:78" and line["correlation_id"] == "req-1" and line["counts"] == {"accepted": 1}
    assert line["timestamp"].endswith(",291" + datetime.fromtimestamp(1796218510).astimezone().strftime("%z"))


def test_thread_keys_an_xray_trace_and_other_formats_read_as_powertools_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8")
    set_context_keys(tenant="t-1")  # type: ignore[arg-type]  # Powertools types **keys as dicts
    try:
        for options in ({}, {"utc": True}, {"use_rfc3339": True}, {"datefmt": "%H:%M:%S.%F"},
                        {"log_record_order": ["message", "level"]}):  # fmt: skip
            reference, fast = formatters(**options)
            assert fast.format(record(n=1)) == reference.format(record(n=1)), options
        reference, fast = formatters()
        for formatter in (reference, fast):  # a template of one's own goes Powertools' way
            formatter.append_keys(process_id="%(process)d", timestamp="%(created)f")
        assert fast.format(record()) == reference.format(record())
    finally:
        clear_context_keys()


def test_nan_is_written_as_json_null_not_as_powertools_invalid_nan() -> None:
    """The one documented difference a function could meet: Powertools writes `NaN` (not JSON); orjson, null."""
    reference, fast = formatters()
    assert '"message":NaN' in reference.format(record("NaN")) and '"message":null' in fast.format(record("NaN"))
    assert json.loads(fast.format(record(ratio=float("inf"))))["ratio"] is None


def test_a_different_line_would_be_seen() -> None:
    """Negative control: the comparison is not blind to a changed line (a key order or a value)."""
    reference, fast = formatters()
    fast.append_keys(cold_start=True)
    assert fast.format(record()) != reference.format(record())
    assert dumps({"a": 1, "b": "王"}) == '{"a":1,"b":"王"}' != json.dumps({"a": 1, "b": "王"})


def test_the_functions_logger_writes_with_it() -> None:
    from functions.edge.telemetry import logger

    assert isinstance(logger.registered_formatter, FastFormatter)
    stream, handler = io.StringIO(), logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    saved, handler.stream = handler.stream, stream  # not setStream: it flushes a stream pytest may have closed
    try:
        logger.info("ingested", extra={"connector_id": "c-1"})
    finally:
        handler.stream = saved
    line = json.loads(stream.getvalue())
    assert (line["level"], line["message"], line["service"], line["connector_id"]) == ("INFO", "ingested",
                                                                                       "hcp-hub", "c-1")  # fmt: skip

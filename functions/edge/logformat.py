"""Powertools' JSON log formatter, the same lines for less CPU per line (issue 15 item 3).

`LambdaPowertoolsFormatter` copies the record's whole `__dict__`, formats the time and runs `%` over every
standard field on every line, then `json.dumps` the dict: ~35 µs a line, more than the normalize cost of the
rating the line is about. `FastFormatter` keeps Powertools' `format` (the key order, the message, the exception
fields, the X-Ray trace id, None dropped) and replaces two of its parts:

- the keys: Powertools' three standard templates (level, location, timestamp) read from the record directly,
  the time's strftime once a second; any other template, or a reserved key given a non-string, goes the
  Powertools way, so a customised Logger reads as before;
- the message: a string that cannot be JSON (its first character after JSON's whitespace starts no JSON value,
  as "ingested") is the message as it is, without Powertools' `json.loads` attempt and its exception;
- the JSON: orjson, with what `json.dumps(default=str, ensure_ascii=False)` does kept: datetimes and dataclasses
  written as `str()` gives them, non-ASCII as is. Anything orjson refuses (an int beyond 64 bits, a lone
  surrogate) is written by `json.dumps` as before. Where the two differ: a float NaN/Infinity is `null` (valid
  JSON; `json.dumps` wrote `NaN`), a plain (non-str, non-int) Enum member is its value, not `Class.member`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson
from aws_lambda_powertools.logging.formatter import RESERVED_LOG_ATTRS, LambdaPowertoolsFormatter, _get_context
from aws_lambda_powertools.shared.functions import powertools_dev_is_set

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_RESERVED = frozenset(RESERVED_LOG_ATTRS)
_JSON_STARTS = frozenset('{["-0123456789tfnNI')  # what json.loads can begin a value with (NaN, Infinity too)


def dumps(log: dict[str, Any]) -> str:
    """What Powertools' default serializer writes (compact, `default=str`, non-ASCII as is), via orjson."""
    try:
        return orjson.dumps(log, default=str, option=_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError: too large an int, a lone surrogate, a cycle
        return json.dumps(log, default=str, separators=(",", ":"), ensure_ascii=False)


def _level(formatter: FastFormatter, record: logging.LogRecord) -> str:
    return record.levelname


def _location(formatter: FastFormatter, record: logging.LogRecord) -> str:
    return f"{record.funcName}:{record.lineno}"


def _timestamp(formatter: FastFormatter, record: logging.LogRecord) -> str:
    return formatter.formatTime(record)


_TEMPLATES: dict[str, Callable[[FastFormatter, logging.LogRecord], str]] = {
    "%(levelname)s": _level,
    "%(funcName)s:%(lineno)d": _location,
    "%(asctime)s": _timestamp,
}


class FastFormatter(LambdaPowertoolsFormatter):
    """`LambdaPowertoolsFormatter` with its keys read and its JSON written faster (the same lines)."""

    def __init__(self, **options: Any) -> None:
        if not powertools_dev_is_set():  # POWERTOOLS_DEV indents the lines: Powertools' own serializer
            options.setdefault("json_serializer", dumps)
        super().__init__(**options)
        self._second: tuple[int, str, str] = (-1, "", "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """Powertools' default `2021-04-17 18:19:57,656+0200`, its strftime done once a second."""
        if self.use_rfc3339_iso8601 or datefmt is not None or self.datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if self._second[0] != second:
            stamp = self.converter(record.created)
            self._second = (second, time.strftime("%Y-%m-%d %H:%M:%S,", stamp), time.strftime("%z", stamp))
        return f"{self._second[1]}{int(record.msecs):03d}{self._second[2]}"

    def _extract_log_message(self, log_record: logging.LogRecord) -> Any:
        """Powertools' message: a dict as is, arguments formatted, a string decoded if it is JSON."""
        message = log_record.msg
        if (
            isinstance(message, str)
            and not log_record.args
            and self.json_deserializer is json.loads
            and message.lstrip(" \t\n\r")[:1] not in _JSON_STARTS
        ):
            return message
        return super()._extract_log_message(log_record)

    def _extract_log_keys(self, log_record: logging.LogRecord) -> dict[str, Any]:
        """Powertools' keys in Powertools' order: the formatter's, the thread's, then the record's extras."""
        formatted: dict[str, Any] = {}
        context = _get_context().get()
        for keys in (self.log_format, context) if context else (self.log_format,):
            for key, value in keys.items():
                if value and key in _RESERVED:
                    template = _TEMPLATES.get(value) if isinstance(value, str) else None
                    if template is None:  # a template of someone's own, or not a string: Powertools' way
                        return super()._extract_log_keys(log_record)
                    formatted[key] = template(self, log_record)
                else:
                    formatted[key] = value
        for key, value in log_record.__dict__.items():
            if key not in _RESERVED:
                formatted[key] = value
        return formatted

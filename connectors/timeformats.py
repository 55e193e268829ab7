"""Source time formats to aware datetimes; compiled once per connector, since they run per record."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

Parser = Callable[[str | int | float], datetime]

_JAVA_TO_STRPTIME = (("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S"))


class TimeFormatError(ValueError):
    pass


def compile_time_format(fmt: str, zone: tzinfo) -> Parser:
    """A parser for `fmt`; naive source times are read in `zone` (the source's own time zone)."""
    if fmt == "epoch_ms":
        return lambda v: datetime.fromtimestamp(_number(v) / 1000, UTC).astimezone(zone)
    if fmt == "epoch_s":
        return lambda v: datetime.fromtimestamp(_number(v), UTC).astimezone(zone)
    if fmt == "iso":
        return lambda v: _localize(datetime.fromisoformat(str(v).strip()), zone)
    if fmt == "yyyyMMddHHmmss":
        return lambda v: _compact(str(v).strip(), zone)
    if fmt in ("yyyy-MM-dd HH:mm:ss", "yyyy-MM-ddTHH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss"):
        return lambda v: _dashed(str(v).strip(), zone)
    pattern = fmt.replace("'T'", "T")
    for java, c in _JAVA_TO_STRPTIME:
        pattern = pattern.replace(java, c)
    if re.search(r"[A-Za-z]", re.sub(r"%[YmdHMS]|T", "", pattern)):
        raise TimeFormatError(f"unsupported time format {fmt!r}")
    return lambda v: datetime.strptime(str(v).strip(), pattern).replace(tzinfo=zone)


def _number(value: str | int | float) -> float:
    if isinstance(value, bool):
        raise ValueError("not a number")
    return float(value)


def _localize(value: datetime, zone: tzinfo) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def _compact(text: str, zone: tzinfo) -> datetime:
    if len(text) != 14 or not text.isdigit():
        raise ValueError("expected 14 digits yyyyMMddHHmmss")
    return datetime(
        int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), int(text[10:12]), int(text[12:14]),
        tzinfo=zone,
    )  # fmt: skip


def _dashed(text: str, zone: tzinfo) -> datetime:
    if len(text) != 19 or text[4] != "-" or text[7] != "-" or text[13] != ":" or text[16] != ":":
        raise ValueError("expected yyyy-MM-dd HH:mm:ss")
    return datetime.fromisoformat(text).replace(tzinfo=zone)

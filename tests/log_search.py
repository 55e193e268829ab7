"""R20's log search: every log line a test run writes, searched for the personal data of the shared samples.

`personal_values(samples)` collects the phones, ID numbers and rater/applicant names of ../shared/samples
(raw files, GBK ones decoded, and the `expected` files). `LogCapture` is a logging handler on the root
logger and on every logger that does not propagate: Powertools' loggers (whose own handler writes the
JSON lines to stdout), the std logging root, the local cloud's `hcp.localcloud`. Each record is kept as
Powertools' formatter renders it (the line that reaches stdout) and as its message plus every extra
field, with the file and line that logged it. The hub's own loggers are lowered to DEBUG meanwhile, so
a debug line that would leak with LOG_LEVEL=DEBUG is caught too. `leaks()` says where each value shows.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
LANDLINE = re.compile(r"(?<!\d)0\d{2,3}-\d{7,8}(?!\d)")
ID_NUMBER = re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])")
# Keys that hold a person's name: their own (userName, applicantName) or `name` inside a person's object.
NAME_KEYS = re.compile(r"^(user|applicant|rater|contact|person)_?name$", re.IGNORECASE)
PERSON_OBJECTS = re.compile(r"^(user|applicant|rater|purchaser|contact|person)$", re.IGNORECASE)
OUR_LOGGERS = ("hcp",)  # the Powertools service logger `hcp-hub` and `hcp.localcloud`
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


@dataclass(frozen=True, slots=True)
class PersonalValue:
    value: str
    kind: str  # phone, id_no, name
    sample: str  # the sample file it came from


def _decoded(path: Path) -> Any:
    """A sample's content as data: JSON, XML (its declared charset) or a GBK form."""
    raw = path.read_bytes()
    if path.suffix == ".form":
        return dict(parse_qsl(raw.decode("ascii"), encoding="gbk" if ".gbk." in path.name else "utf-8"))
    if path.suffix == ".xml":
        declared = re.search(rb'encoding="([^"]+)"', raw[:100])
        text = raw.decode(declared.group(1).decode() if declared else "utf-8")
        root = ET.fromstring(re.sub(r"^<\?xml[^>]*\?>", "", text))  # expat reads no multi-byte charsets
        return {child.tag: (child.text or "").strip() for child in root.iter() if child is not root}
    return json.loads(raw.decode("gbk" if ".gbk." in path.name else "utf-8"))


def _names(data: Any, parent: str = "") -> Iterator[str]:
    if isinstance(data, dict):
        person = PERSON_OBJECTS.match(parent) and data.get("type", "person") == "person"
        for key, value in data.items():
            if isinstance(value, str) and value.strip() and (NAME_KEYS.match(key) or (person and key == "name")):
                yield value.strip()
            yield from _names(value, key)
    elif isinstance(data, list):
        for value in data:
            yield from _names(value, parent)


def personal_values(samples: Path) -> list[PersonalValue]:
    """Every phone, ID number and rater/applicant name in the samples, raw and expected, once each."""
    found: dict[str, PersonalValue] = {}
    for path in sorted(p for p in samples.glob("*/*") if p.is_file() and p.name != "README.md"):
        data = _decoded(path)
        text = json.dumps(data, ensure_ascii=False)
        where = f"{path.parent.name}/{path.name}"
        for kind, pattern in (("phone", PHONE), ("phone", LANDLINE), ("id_no", ID_NUMBER)):
            for value in pattern.findall(text):
                found.setdefault(value, PersonalValue(value, kind, where))
        for name in _names(data):
            found.setdefault(name, PersonalValue(name, "name", where))
    return list(found.values())


@dataclass(frozen=True, slots=True)
class LogLine:
    where: str  # the file and line that logged it
    logger: str
    text: str


class _Capture(logging.Handler):
    def __init__(self, lines: list[LogLine], lock: threading.Lock) -> None:
        super().__init__(logging.DEBUG)
        self._lines = lines
        self._lock = lock

    def addFilter(self, filter: Any) -> None:
        """Refused: Powertools adds a filter to root handlers that drops its own records (they are the point)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
            parts = [record.getMessage(), json.dumps(extras, default=str, ensure_ascii=False)]
            if record.exc_info:
                parts.append(logging.Formatter().formatException(record.exc_info))
            handler = getattr(logging.getLogger(record.name), "powertools_handler", None)
            if handler is not None and handler.formatter is not None:
                parts.append(handler.formatter.format(record))  # the very JSON line Powertools writes
        except Exception as exc:  # a record that cannot be rendered is itself worth seeing
            parts = [f"<unrenderable record: {type(exc).__name__}>", repr(record.__dict__)]
        line = LogLine(f"{record.pathname}:{record.lineno}", record.name, "\n".join(parts))
        with self._lock:
            self._lines.append(line)


class LogCapture:
    """Installed for a test session (tests/e2e/conftest.py); `attach()` again picks up loggers created since."""

    def __init__(self) -> None:
        self.lines: list[LogLine] = []
        self._lock = threading.Lock()
        self._handler = _Capture(self.lines, self._lock)
        self._attached: set[str] = set()
        self._levels: dict[str, int] = {}

    def install(self) -> LogCapture:
        logging.root.addHandler(self._handler)
        self.attach()
        return self

    def attach(self) -> None:
        for name, logger in list(logging.Logger.manager.loggerDict.items()):
            if not isinstance(logger, logging.Logger) or name in self._attached:
                continue
            if name.startswith(OUR_LOGGERS):
                self._levels[name] = logger.level
                logger.setLevel(logging.DEBUG)
            if not logger.propagate:
                logger.addHandler(self._handler)
            self._attached.add(name)

    def uninstall(self) -> None:
        logging.root.removeHandler(self._handler)
        for name in self._attached:
            logger = logging.getLogger(name)
            logger.removeHandler(self._handler)
            if name in self._levels:
                logger.setLevel(self._levels[name])
        self._attached.clear()

    def snapshot(self) -> list[LogLine]:
        with self._lock:
            return list(self.lines)


def leaks(lines: Iterable[LogLine], values: Iterable[PersonalValue]) -> list[str]:
    """One report line per log line and value: where it was logged, what leaked, from which sample."""
    values = list(values)
    found: list[str] = []
    for line in lines:
        for value in values:
            if value.value in line.text:
                excerpt = line.text.split("\n", 1)[0][:160]
                found.append(f"{line.where} ({line.logger}): {value.kind} {value.value!r} of {value.sample} in "
                             f"{excerpt!r}")  # fmt: skip
    return found

"""A `SpecAdapter`'s readers compiled, and the per-body work around them: the reader for a content type, the records
of a body (orjson, or the plain subsets), then each record's function, handing whatever it does not prove accepted to
`connectors.normalize.normalize_record` (the reference path)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from connectors.decode import _ESCAPED_COLON, _XML_DECL, _XML_DECL_TEXT, decode_document
from connectors.engine import MAX_BATCH, SpecAdapter, _Reader, _Record
from connectors.fastpath.codegen import RecordFn, _Unsupported, compile_reader
from connectors.fastpath.layout import _DEFAULT_POLICY, _layout_is_current
from connectors.fastpath.subsets import _plain_form, _plain_xml, _plain_xml_bytes
from connectors.normalize import ItemOutcome, normalize_record
from hub.calendar import WorkingDayCalendar
from hub.errors import Refused
from hub.rating import TEXT_MAX, Rating
from hub.rules import RatingPolicy


class FastAdapter:
    """A `SpecAdapter`'s readers compiled; a reader that cannot be compiled has no entry (reference path)."""

    def __init__(self, adapter: SpecAdapter) -> None:
        self.adapter = adapter
        self.records: dict[str, RecordFn] = {}
        if _layout_is_current():
            for fmt, reader in adapter._readers.items():
                try:
                    if fmt in ("xml", "form") and reader.records is not None:
                        raise _Unsupported("records in XML or a form")
                    self.records[fmt] = compile_reader(adapter, reader)
                except Exception:  # _Unsupported, or a spec the generator did not foresee: the reference path reads it
                    continue
        self._readers: dict[str | None, tuple[_Reader, str | None]] = {}
        self._connectors: set[str] = set()  # connector ids Source takes as they are

    def _source_ok(self, connector_id: Any, received_at: Any) -> bool:
        if not _source_ok(connector_id, received_at):
            return False
        if len(self._connectors) < 4096:
            self._connectors.add(connector_id)
        return True

    def reader_for(self, content_type: str | None) -> tuple[_Reader, str | None] | None:
        found = self._readers.get(content_type)
        if found is None:
            try:
                found = self.adapter._reader_for(content_type)
            except Refused:
                return None
            if len(self._readers) > 64:
                self._readers.clear()
            self._readers[content_type] = found
        return found

    def __bool__(self) -> bool:
        return bool(self.records)

    def documents(self, reader: _Reader, body: bytes, charset: str) -> list[Any] | None:
        """The records of `body` exactly as `SpecAdapter.split` finds them (XML: the flat children), or None."""
        fmt = reader.fmt
        if fmt == "json":
            if charset.replace("-", "") != "utf8":
                return None
            try:
                document = orjson.loads(body)  # orjson refuses what strict UTF-8 decoding refuses
            except orjson.JSONDecodeError:
                return None
            if body.count(b":") != orjson.dumps(document).count(b":") or (b"\\" in body and _ESCAPED_COLON in body):
                return None  # perhaps a key written twice: the reference path decides (a one-byte search first:
                # no backslash, no escaped colon, and memchr costs a tenth of the five-byte search)
            found = document if reader.records is None else reader.records(document)
            if found.__class__ is dict:
                return [found] if document.__class__ is dict else None
            if found.__class__ is not list or not found or len(found) > MAX_BATCH:
                return None
            for record in found:
                if record.__class__ is not dict:
                    return None
            return found
        if fmt == "xml":
            flat = _plain_xml_bytes(body, charset)
            if flat is not None:
                return [flat]
            declared = _XML_DECL.match(body)
            try:
                text = body.decode(declared.group(1).decode("ascii").lower() if declared else charset)
            except (LookupError, UnicodeDecodeError):
                return None
            flat = _plain_xml(_XML_DECL_TEXT.sub("", text, count=1))
            return None if flat is None else [flat]
        form = _plain_form(body, charset)
        if form is None:
            try:
                form = decode_document(body, fmt, charset)
            except Refused:
                return None
        return [form]

    def accepted(
        self,
        body: bytes,
        content_type: str | None,
        connector_id: str,
        received_at: datetime,
        now: datetime,
        calendar: WorkingDayCalendar,
        policy: RatingPolicy | None,
    ) -> tuple[_Reader, list[Any], list[tuple[Rating, str] | None]] | None:
        """What the fast path proves accepted, per record (None: the reference decides), or None for the whole body."""
        found = self._readers.get(content_type) or self.reader_for(content_type)
        known = connector_id.__class__ is str and connector_id in self._connectors
        if found is None or not (known or self._source_ok(connector_id, received_at)):
            return None
        if received_at.__class__ is not datetime or received_at.utcoffset() is None:
            return None
        policy = policy or _DEFAULT_POLICY  # check_timing's default
        latest, days = now + policy.clock_skew, policy.window_working_days
        reader, charset = found
        record = self.records.get(reader.fmt)
        if record is None:
            return None
        documents = self.documents(reader, body, charset or reader.charset)
        if documents is None:
            return None
        results: list[tuple[Rating, str] | None] = []
        for data in documents:
            try:
                results.append(record(data, connector_id, received_at, latest, days, calendar))
            except Exception:  # the reference path meets the same input and decides (or raises the same)
                results.append(None)
        return reader, documents, results

    def run(
        self,
        body: bytes,
        content_type: str | None,
        connector_id: str,
        received_at: datetime,
        now: datetime,
        calendar: WorkingDayCalendar,
        policy: RatingPolicy | None,
    ) -> list[ItemOutcome] | None:
        """The outcomes `connectors.normalize.normalize` gives, or None when the reference path must read the body."""
        found = self.accepted(body, content_type, connector_id, received_at, now, calendar, policy)
        if found is None:
            return None
        reader, documents, results = found
        outcomes: list[ItemOutcome] = []
        for index, done in enumerate(results):
            if done is not None:
                outcomes.append(ItemOutcome(index, "accepted", done[0], _NO_PROBLEMS.copy(), done[1]))
            elif reader.fmt == "xml":
                return None  # the flat children are not the element the reference reads
            else:
                outcomes.append(normalize_record(
                    self.adapter, _Record(reader, documents[index]), index, connector_id=connector_id,
                    received_at=received_at, now=now, calendar=calendar, policy=policy,
                ))  # fmt: skip
        return outcomes


_NO_PROBLEMS: list[Any] = []


def _source_ok(connector_id: Any, received_at: Any) -> bool:
    """`Source`'s checks of what the hub itself gives (once per body, not per record)."""
    return (
        connector_id.__class__ is str
        and 0 < len(connector_id) <= TEXT_MAX
        and connector_id == connector_id.strip()
        and received_at.__class__ is datetime
        and received_at.utcoffset() is not None
    )


def fast_adapter(adapter: Any) -> FastAdapter | None:
    """The compiled form of `adapter`, built now and kept on it (`normalize` asks on an adapter's second body);
    None for other adapters."""
    if not isinstance(adapter, SpecAdapter):
        return None
    compiled = adapter.__dict__.get("_fast")
    if not isinstance(compiled, FastAdapter):
        compiled = adapter.__dict__["_fast"] = FastAdapter(adapter)  # falsy when nothing compiled
    return compiled

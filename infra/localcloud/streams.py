"""DynamoDB stream event source mappings, played in-process over moto's dynamodbstreams.

moto keeps a table's stream records, but hands them to a mapped function through Docker and, when that
"succeeds" (an error text counts), empties the shard. So the local cloud takes the template's stream
mappings out before deploying (`take_stream_mappings`) and plays them here, as Lambda's stream poller
does: records in order, up to `BatchSize`, the mapping's `FilterCriteria` applied (equality patterns),
and with `ReportBatchItemFailures` the batch retried from the first failed record — a shard is blocked
until its record succeeds, so nothing is skipped.

Driven (the tests' mode): no thread; `drive()` reads and invokes in the caller's thread, and a failed
remainder is held until `redeliver()`. Threaded: a thread per mapping, reading the shard four times a second
(one GetRecords each, as Lambda polls a shard), and keeping to the mapping's `MaximumBatchingWindowInSeconds`:
once a record it wants is there, it reads on until the batch is full or the window has passed, then invokes
(at 50 ratings a second and a 1 s window, one invocation of ~50 records, not five of ~10). A failed batch is
retried after 1 s.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .lambdas import LocalFunction

log = logging.getLogger("hcp.localcloud")
Template = dict[str, Any]
POLL_SECONDS = 0.25  # Lambda reads each shard up to four times a second


@dataclass(frozen=True)
class StreamMapping:
    logical_id: str  # the AWS::Lambda::EventSourceMapping
    function: str  # logical id
    table: str  # the table's logical id
    batch_size: int = 100
    batching_window: float = 0.0  # MaximumBatchingWindowInSeconds (threaded only: driven, a batch is what is there)
    starting_position: str = "TRIM_HORIZON"
    report_batch_item_failures: bool = False
    filters: tuple[Any, ...] = field(default_factory=tuple)
    enabled: bool = True


def take_stream_mappings(cfn: Template) -> tuple[Template, list[StreamMapping]]:
    """The template without its DynamoDB stream mappings (moto must not see them), and the mappings."""
    cfn = copy.deepcopy(cfn)
    mappings = []
    for logical_id, resource in list(cfn["Resources"].items()):
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        props = resource.get("Properties", {})
        source = props.get("EventSourceArn")
        if not (isinstance(source, dict) and source.get("Fn::GetAtt", [None, None])[1] == "StreamArn"):
            continue
        function = props["FunctionName"]
        function = function.get("Ref") if isinstance(function, dict) else function
        filters = tuple(json.loads(f["Pattern"]) for f in props.get("FilterCriteria", {}).get("Filters", []))
        mappings.append(StreamMapping(
            logical_id=logical_id, function=function, table=source["Fn::GetAtt"][0],
            batch_size=int(props.get("BatchSize", 100)),
            batching_window=float(props.get("MaximumBatchingWindowInSeconds", 0)),
            starting_position=props.get("StartingPosition", "TRIM_HORIZON"),
            report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
            filters=filters, enabled=props.get("Enabled", True) not in (False, "false"),
        ))  # fmt: skip
        del cfn["Resources"][logical_id]
    return cfn, mappings


def matches(pattern: Any, value: Any) -> bool:
    """Lambda's event filtering, its equality part: a list names the values allowed, a dict nests."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(matches(p, value.get(k)) for k, p in pattern.items())
    if isinstance(pattern, list):
        return value in pattern
    return bool(pattern == value)


def _jsonable(node: Any) -> Any:
    """A record as Lambda delivers it: binary attributes base64, times as epoch seconds."""
    if isinstance(node, dict):
        return {k: _jsonable(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_jsonable(v) for v in node]
    if isinstance(node, bytes | bytearray):
        return base64.b64encode(bytes(node)).decode()
    if isinstance(node, datetime):
        return node.timestamp()
    return node


def failed_from(result: Any, sequence_numbers: list[str]) -> int | None:
    """Where a batch is retried from (an index into it), or None when it succeeded. As Lambda does for
    streams: from the lowest sequence number reported; a malformed report retries the whole batch."""
    failures = result.get("batchItemFailures") if isinstance(result, dict) else None
    if not failures:
        return None
    positions = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if identifier not in sequence_numbers:
            return 0
        positions.append(sequence_numbers.index(identifier))
    return min(positions)


class StreamPoller:
    """One mapping's poller over its table's (one, in moto) shard."""

    def __init__(self, mapping: StreamMapping, function: LocalFunction, dynamodb: Any, streams: Any, table_name: str,
                 region: str, *, held: bool = False) -> None:  # fmt: skip
        self.mapping = mapping
        self.function = function
        self.streams = streams
        self.region = region
        self.held = held
        self.stream_arn = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
        self._iterator = streams.get_shard_iterator(
            StreamArn=self.stream_arn, ShardId=shard, ShardIteratorType=mapping.starting_position
        )["ShardIterator"]
        self._pending: list[dict[str, Any]] = []  # read, not yet processed: a failed remainder first
        self._held = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._thread: threading.Thread | None = None
        self.busy = 0
        self.batches = 0

    # --- reading and invoking -------------------------------------------------------------------

    def _read(self) -> None:
        """One GetRecords, when the batch is not full yet (moto answers every record up to the limit)."""
        if len(self._pending) >= self.mapping.batch_size:
            return
        response = self.streams.get_records(ShardIterator=self._iterator, Limit=self.mapping.batch_size)
        self._iterator = response.get("NextShardIterator") or self._iterator
        self._pending.extend(self._record(r) for r in response.get("Records", []))

    def _fill(self) -> None:
        """Threaded: the batching window. Once a wanted record has been read, read on every `POLL_SECONDS` until
        the batch is full or the window since that read has passed; `poll_once` then invokes."""
        window = self.mapping.batching_window
        with self._lock:
            if self._held or not self._running.is_set():
                return
            self._read()
            wanted = sum(map(self._wanted, self._pending))
        if not wanted or window <= 0:
            return
        ends = time.monotonic() + window
        while wanted < self.mapping.batch_size and not self._stop.is_set():
            left = ends - time.monotonic()
            if left <= 0:
                return
            self._stop.wait(min(POLL_SECONDS, left))
            with self._lock:
                before = len(self._pending)
                self._read()
                wanted += sum(map(self._wanted, self._pending[before:]))

    def _record(self, record: dict[str, Any]) -> dict[str, Any]:
        event = _jsonable(record)
        event.update({"eventSourceARN": self.stream_arn, "awsRegion": self.region, "eventSource": "aws:dynamodb"})
        return event

    def _wanted(self, record: dict[str, Any]) -> bool:
        return not self.mapping.filters or any(matches(p, record) for p in self.mapping.filters)

    def poll_once(self) -> int:
        """One batch: read what is there, drop what the filters leave out, invoke; returns records processed."""
        with self._lock:
            if self._held or not self._running.is_set():
                return 0
            self._read()
            batch, self._pending = self._pending[: self.mapping.batch_size], self._pending[self.mapping.batch_size :]
            wanted = [r for r in batch if self._wanted(r)]
            if not wanted:
                return len(batch)
            self.busy += 1
            try:
                self.batches += 1
                numbers = [r["dynamodb"]["SequenceNumber"] for r in wanted]
                try:
                    result = self.function.invoke({"Records": wanted}, enforce_timeout=True)
                    start = failed_from(result, numbers) if self.mapping.report_batch_item_failures else None
                except Exception:
                    log.exception("%s failed on a stream batch of %d; retried", self.mapping.function, len(wanted))
                    start = 0
                if start is None:
                    return len(batch)
                self._pending = wanted[start:] + self._pending
                self._held = True
                return start
            finally:
                self.busy -= 1

    @property
    def idle(self) -> bool:
        with self._lock:
            return not self.busy and not self._pending

    @property
    def held_count(self) -> int:
        with self._lock:
            return len(self._pending) if self._held else 0

    def drive(self) -> int:
        """Driven: process batches until the shard shows nothing new (or a failure is held)."""
        if not self.mapping.enabled:
            return 0
        processed = 0
        while True:
            done = self.poll_once()
            if not done:
                return processed
            processed += done

    def redeliver(self) -> int:
        """Driven: the held remainder comes back at the next `drive()` (Lambda retries a shard's batch)."""
        with self._lock:
            count = len(self._pending) if self._held else 0
            self._held = False
        return count

    # --- threaded ------------------------------------------------------------------------------

    def start(self) -> None:
        if not self.mapping.enabled:
            return
        self._thread = threading.Thread(target=self._run, name=f"stream-{self.mapping.logical_id}", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        """Take no more batches (another local cloud owns the process), once the one in flight is done."""
        self._running.clear()
        with self._lock:
            pass

    def resume(self) -> None:
        self._running.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._running.is_set():
                self._running.wait(0.2)
                continue
            try:
                self._fill()
                done = self.poll_once()
            except Exception:
                log.exception("polling the stream of %s failed; retrying", self.mapping.table)
                done = 0
            if self._held:
                self._stop.wait(1.0)
                self.redeliver()
            elif not done:
                self._stop.wait(POLL_SECONDS)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def stream_pollers(mappings: list[StreamMapping], functions: dict[str, LocalFunction], dynamodb: Any, streams: Any,
                   resources: dict[str, str], region: str, *, held: bool) -> list[StreamPoller]:  # fmt: skip
    return [
        StreamPoller(m, functions[m.function], dynamodb, streams, resources[m.table], region, held=held)
        for m in mappings
    ]

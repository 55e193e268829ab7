"""The local cloud's patches of moto's DynamoDB (applied in the moto server child, or in thread mode).

Each patch removes work moto does that DynamoDB would not (a whole-table walk per index Query, a deep copy of every
table a transaction touches, an update expression parsed anew per call) or restores a guarantee the hub relies on
(writes atomic with respect to each other, a transaction applied once per ClientRequestToken). None changes an
answer: what DynamoDB (and moto) would refuse is still refused, and tests/integration/test_localcloud_moto_*.py
compare the patched answers with unpatched moto's.
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import functools
import hashlib
import json
import threading
import time
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType

WRITE_LOCK = threading.RLock()  # every DynamoDB write, and an index read's choice of candidates
_query_scope = threading.local()  # what `Table.all_items` lists during this thread's Query


def apply() -> None:
    """All of this module's patches, in the order they must wrap each other (idempotent)."""
    index_queries_read_their_partition()  # its write hooks run inside the write lock taken next
    serialize_dynamodb_writes()
    transactions_idempotent_by_token()
    dynamodb_reads_see_a_table_whole()
    expressions_parsed_once()
    query_answers_written_as_json()
    stream_records_as_stored()


def serialize_dynamodb_writes() -> None:
    """Make moto's DynamoDB writes atomic with respect to each other, as DynamoDB's are.

    moto applies a transaction item by item and undoes a cancelled one from a snapshot; two threads
    racing on one key (a real and a default rating at the close of a window, R6) could both win.
    One lock around every write restores what the hub relies on: conditional writes decide.
    """
    from moto.dynamodb.models import DynamoDBBackend

    for name in ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"):
        original = getattr(DynamoDBBackend, name)
        if getattr(original, "_hcp_serialized", False):
            continue

        def serialized(self: object, *args: object, _original: Any = original, **kwargs: object) -> object:
            with WRITE_LOCK:
                return _original(self, *args, **kwargs)

        serialized._hcp_serialized = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, serialized)
    _transactions_back_up_items_not_tables(WRITE_LOCK)


def dynamodb_reads_see_a_table_whole() -> None:
    """Reads that do not race the writes, and a Query on a table's key that reads its partition.

    moto 5.2.5 answers every Query by listing and sorting all the table's items (`Table.all_items`), then keeping
    the partition asked for: O(table) per call, as DynamoDB is not. A Query on the table's own key now lists that
    partition only (the same items, in the same order); one on an index lists the candidates its index chose
    (`index_queries_read_their_partition`). And since only writes are serialized (`serialize_dynamodb_writes`), a
    read listing the items while a write added a partition failed with "dictionary changed size during
    iteration" (a 500, retried by botocore): the listing takes a copy first (one step under the GIL)."""
    from moto.dynamodb.models.table import Table

    if getattr(Table, "_hcp_partition_reads", False):
        return

    def all_items(self: Any) -> list[Any]:
        chosen = getattr(_query_scope, "candidates", None)
        if chosen is not None:
            return list(chosen)  # an index Query's candidates; moto sorts them by the index's keys
        key = getattr(_query_scope, "key", None)
        if key is None:
            hash_sets = list(self.items.values())
        else:
            found = self.items.get(key)
            hash_sets = [] if found is None else [found]
        items: list[Any] = []
        for hash_set in hash_sets:
            if self.range_key_attr:
                items.extend(list(hash_set.values()))
            else:
                items.append(hash_set)
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    original_query = Table.query

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name is not None or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        _query_scope.key = hash_key
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _query_scope.key = None

    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = functools.wraps(original_query)(query)  # type: ignore[method-assign]
    Table._hcp_partition_reads = True  # type: ignore[attr-defined]


class _Partition:
    """One index partition: its items sorted by the index's sort attributes, as `Table.sorted_items` orders them
    (the index range key, then the table's keys), each beside its key as a tuple of cast values."""

    __slots__ = ("items", "keys")

    def __init__(self) -> None:
        self.keys: list[tuple[Any, ...]] = []
        self.items: list[Any] = []


class _IndexState:
    """A secondary index of one table, kept current by every write (`_reindex`): hash value -> partition, and
    where each table key sits. Valid while the table's item dict and the index's schema are the ones it was
    built from (a restored or re-imported table has another dict; UpdateTable may change an index)."""

    def __init__(self, table: Any, index: Any) -> None:
        from moto.dynamodb.models.table import GlobalSecondaryIndex

        self.name = index.name
        self.schema = copy.deepcopy(index.schema)
        self.items_ref = table.items
        hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
        ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
        self.hash_attr = hashes[0]
        self.range_attr: str | None = ranges[0] if ranges else None
        self.simple = len(hashes) == 1 and len(ranges) <= 1  # multi-attribute keys: the partition, not narrowed
        # moto's own sort order for this index (Table.query): index hash keys, index range keys, table keys
        hash_attrs = [*hashes, table.hash_key_attr]
        if ranges:
            range_attrs: list[str | None] = [*ranges, table.range_key_attr]
        elif isinstance(index, GlobalSecondaryIndex) and table.range_key_attr:
            range_attrs = [table.range_key_attr, table.range_key_attr]
        else:
            range_attrs = [table.hash_key_attr, table.range_key_attr]
        order = table._generate_attr_to_sort_by(hash_attrs, range_attrs)
        self.moto_order = order
        self.sort_attrs = order[len(hashes) :] if order[: len(hashes)] == hashes else None
        self.required = [*hashes, *ranges]
        self.parts: dict[Any, _Partition] = {}
        self.where: dict[tuple[Any, Any], tuple[Any, tuple[Any, ...]]] = {}
        self.broken = self.sort_attrs is None
        if not self.broken:
            for item in list(table.all_items_unscoped()):
                self.add((item.hash_key, item.range_key), item)

    def valid_for(self, table: Any, index: Any) -> bool:
        return not self.broken and self.items_ref is table.items and self.schema == index.schema

    def add(self, key: tuple[Any, Any], item: Any) -> None:
        attrs = item.attrs
        if any(attrs.get(a) is None for a in self.required):
            return  # a sparse index holds only the items that have its key attributes (moto skips the others)
        assert self.sort_attrs is not None
        try:
            sort_key = tuple(attrs[a].cast_value for a in self.sort_attrs)
        except KeyError:
            return
        hash_value = attrs[self.hash_attr]
        part = self.parts.get(hash_value)
        if part is None:
            part = self.parts[hash_value] = _Partition()
        try:
            at = bisect.bisect_left(part.keys, sort_key)
        except TypeError:  # values of two types under one attribute: no order to keep; moto answers as it would
            self.broken = True
            return
        part.keys.insert(at, sort_key)
        part.items.insert(at, item)
        self.where[key] = (hash_value, sort_key)

    def remove(self, key: tuple[Any, Any]) -> None:
        entry = self.where.pop(key, None)
        if entry is None:
            return
        hash_value, sort_key = entry
        part = self.parts[hash_value]
        at = bisect.bisect_left(part.keys, sort_key)
        del part.keys[at], part.items[at]
        if not part.keys:
            del self.parts[hash_value]


def _index_states(table: Any) -> dict[str, _IndexState]:
    states: dict[str, _IndexState] = table.__dict__.setdefault("_hcp_index_states", {})
    return states


def _reindex(table: Any, hash_value: Any, range_value: Any) -> None:
    """Put one table key's item (or its absence) into each built index of its table: called after every write."""
    states = table.__dict__.get("_hcp_index_states")
    if not states:
        return
    key = (hash_value, range_value if table.range_key_attr else None)
    found = table.items.get(hash_value)
    if found is not None and table.range_key_attr:
        found = found.get(range_value)
    for name, state in list(states.items()):
        if state.broken or state.items_ref is not table.items:
            del states[name]
            continue
        state.remove(key)
        if found is not None:
            state.add(key, found)


def _candidates(table: Any, query: dict[str, Any]) -> list[Any] | None:
    """The items an index Query can answer from (None: moto's own listing of the whole table), chosen under the
    write lock so that they are one moment's. Exactly a superset of what moto would keep: the index partition of
    the hash value; within it, when the key condition is one range comparison, the contiguous run it selects
    (found by bisection over the same cast values moto compares); and of that run, when a Limit is given, only
    the page past ExclusiveStartKey and one item more (moto reads one more to know there is a next page)."""
    index_name = query["index_name"]
    index = next((i for i in table.all_indexes() if i.name == index_name), None)
    if index is None or query["filter_kwargs"]:
        return None  # moto refuses an unknown index; the legacy QueryFilter path is left to moto whole
    with WRITE_LOCK:
        states = _index_states(table)
        state = states.get(index_name)
        if state is None or not state.valid_for(table, index):
            state = states[index_name] = _IndexState(table, index)
            if state.broken:
                return None
        hash_conditions = query["hash_key_conditions"] or []
        value = next((v for a, v in hash_conditions if a == state.hash_attr), None)
        if value is None:
            return None
        part = state.parts.get(value)
        if part is None:
            return []
        if not state.simple or len(hash_conditions) != 1:
            return list(part.items)
        return _narrowed(state, part, query, value)


def _narrowed(state: _IndexState, part: _Partition, query: dict[str, Any], hash_value: Any) -> list[Any]:
    """The part of one partition moto's walk (Table.query) visits: past ExclusiveStartKey, the run the range
    condition selects, then the one item after the run (in the walk's direction): at `limit` results moto breaks
    on whichever item comes next, matching or not, and answers a LastEvaluatedKey. With a Limit, the walk ends
    after `limit` results and one more item. Anything unusual (a key of another partition, values of another
    type, results near the 1 MB page): the whole partition, which moto walks as it would."""
    whole = list(part.items)
    keys, n = part.keys, len(part.keys)
    lo, hi = 0, n
    ranges = query["range_key_conditions"] or []
    comparison, objs = query["range_comparison"], query["range_objs"]
    if comparison:
        if state.range_attr is None or len(ranges) != 1 or ranges[0][0] != state.range_attr:
            return whole
        try:
            bounds = _range_bounds(keys, comparison, [o.cast_value for o in objs])
        except (TypeError, AttributeError, IndexError):  # a value of another type: moto decides (and refuses)
            return whole
        if bounds is None:
            return whole
        lo, hi = bounds
    forward = query["scan_index_forward"] is not False
    start_key = query["exclusive_start_key"]
    if start_key is not None:
        try:
            if DynamoType(start_key[state.hash_attr]) != hash_value:
                return whole
            assert state.sort_attrs is not None
            at = tuple(DynamoType(start_key[a]).cast_value for a in state.sort_attrs)
            if forward:
                lo = max(lo, bisect.bisect_right(keys, at))  # moto skips the items at or before the key
            else:
                hi = min(hi, bisect.bisect_left(keys, at))  # ... at or after it, walking backwards
        except (KeyError, TypeError, AttributeError, IndexError):  # a malformed key: moto answers as it would
            return whole
    hi = max(lo, hi)
    limit = query["limit"]
    limited = isinstance(limit, int) and not isinstance(limit, bool)
    if limited and limit < 1:
        return whole
    if forward:
        run = part.items[lo : min(hi, lo + limit) if limited else hi]
        chosen = part.items[lo : min(hi + 1, n, lo + limit + 1) if limited else min(hi + 1, n)]
    else:
        run = part.items[max(lo, hi - limit) if limited else lo : hi]
        chosen = part.items[max(lo - 1, 0, hi - limit - 1) if limited else max(lo - 1, 0) : hi]
    if sum(item.size() for item in run) > _PAGE_BYTES // 2:  # a later item could end the page on its size
        return whole
    return chosen


_PAGE_BYTES = 1_000_000  # moto's RESULT_SIZE_LIMIT (DynamoDB's 1 MB page); an item is at most 400 KB


def _first(key: tuple[Any, ...]) -> Any:
    return key[0]


def _range_bounds(keys: list[tuple[Any, ...]], comparison: str, values: list[Any]) -> tuple[int, int] | None:
    """The run [lo, hi) of sorted keys whose first element meets the comparison (None: not one we narrow)."""
    n = len(keys)
    left = functools.partial(bisect.bisect_left, keys, key=_first)
    right = functools.partial(bisect.bisect_right, keys, key=_first)
    if comparison in ("EQ", "="):
        return left(values[0]), right(values[0])
    if comparison in ("LT", "<"):
        return 0, left(values[0])
    if comparison in ("LE", "<="):
        return 0, right(values[0])
    if comparison in ("GT", ">"):
        return right(values[0]), n
    if comparison in ("GE", ">="):
        return left(values[0]), n
    if comparison == "BETWEEN":
        low, high = left(values[0]), right(values[1])
        return low, max(low, high)
    if comparison == "BEGINS_WITH":
        prefix = values[0]
        if not isinstance(prefix, str | bytes):
            return None
        low = left(prefix)
        high = low
        while high < n and isinstance(keys[high][0], type(prefix)) and keys[high][0].startswith(prefix):
            high += 1
        return low, high
    return None


def index_queries_read_their_partition() -> None:
    """A Query on a global or local secondary index reads the index partition it names, in index order.

    moto 5.2.5 answers an index Query by listing and sorting every item of the table, then keeping those of the
    partition: the scheduler's eight shard reads and the sweep's due query cost O(table) each, and at 5,000
    ratings the ingest waited 16-18 s on moto. Each index is now kept (built on its first Query, then updated by
    every write: PutItem, UpdateItem, DeleteItem, TransactWriteItems, BatchWriteItem, PartiQL, a cancelled
    transaction's restore) as partitions sorted by the index's keys; a Query hands moto only the candidates
    `_candidates` chooses, and moto's own code then answers from them: the same key checks, sort, paging,
    Limit, FilterExpression after the Limit, projection and errors as unpatched moto."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    if getattr(Table, "_hcp_index_partitions", False):
        return
    dynamodb_reads_see_a_table_whole()
    scoped_query = Table.query
    whole = Table.all_items

    def all_items_unscoped(self: Any) -> list[Any]:
        before, _query_scope.candidates = getattr(_query_scope, "candidates", None), None
        before_key, _query_scope.key = getattr(_query_scope, "key", None), None
        try:
            return whole(self)
        finally:
            _query_scope.candidates, _query_scope.key = before, before_key

    def query(  # moto's signature, spelled out to read the arguments by name
        self: Any,
        hash_key: Any,
        range_comparison: Any = None,
        range_objs: Any = (),
        limit: Any = None,
        exclusive_start_key: Any = None,
        scan_index_forward: Any = True,
        projection_expressions: Any = None,
        index_name: Any = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        hash_key_conditions: Any = None,
        range_key_conditions: Any = None,
        **filter_kwargs: Any,
    ) -> Any:
        arguments = (hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
                     projection_expressions, index_name, consistent_read, filter_expression)  # fmt: skip
        keywords = {"hash_key_conditions": hash_key_conditions, "range_key_conditions": range_key_conditions,
                    **filter_kwargs}  # fmt: skip
        chosen = None
        if index_name is not None:
            chosen = _candidates(self, {
                "index_name": index_name, "hash_key_conditions": hash_key_conditions,
                "range_key_conditions": range_key_conditions, "range_comparison": range_comparison,
                "range_objs": range_objs, "limit": limit, "exclusive_start_key": exclusive_start_key,
                "scan_index_forward": scan_index_forward, "filter_kwargs": filter_kwargs,
            })  # fmt: skip
        if chosen is None:
            return scoped_query(self, *arguments, **keywords)
        _query_scope.candidates = chosen
        try:
            return scoped_query(self, *arguments, **keywords)
        finally:
            _query_scope.candidates = None

    original_put, original_delete = Table.put_item, Table.delete_item

    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        with WRITE_LOCK:
            item = original_put(self, *args, **kwargs)
            _reindex(self, item.hash_key, item.range_key)
            return item

    def delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        with WRITE_LOCK:
            try:
                return original_delete(self, hash_key, range_key)
            finally:
                _reindex(self, hash_key, range_key)

    original_update = DynamoDBBackend.update_item

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        """moto updates the stored item in place: its index entries are put right after, however it ended."""
        with WRITE_LOCK:
            try:
                return original_update(self, table_name, key, *args, **kwargs)
            finally:
                table = self.tables.get(table_name)
                if table is not None and table.hash_key_attr in key:
                    range_json = key.get(table.range_key_attr) if table.range_key_attr else None
                    with contextlib.suppress(Exception):
                        _reindex(table, DynamoType(key[table.hash_key_attr]),
                                 DynamoType(range_json) if range_json is not None else None)  # fmt: skip

    Table.all_items_unscoped = all_items_unscoped  # type: ignore[attr-defined]
    Table.query = functools.wraps(scoped_query)(query)  # type: ignore[method-assign]
    Table.put_item = functools.wraps(original_put)(put_item)  # type: ignore[method-assign]
    Table.delete_item = functools.wraps(original_delete)(delete_item)  # type: ignore[method-assign]
    DynamoDBBackend.update_item = functools.wraps(original_update)(update_item)  # type: ignore[method-assign]
    Table._hcp_index_partitions = True  # type: ignore[attr-defined]


def expressions_parsed_once() -> None:
    """An update expression parsed once per expression string, not twice per UpdateItem (the handler parses it to
    list the placeholders used, the backend again to validate and apply it; a transaction's Update likewise).

    moto's validator rewrites the tree it is given (placeholders replaced by values, paths by the item's
    attributes), so a cached tree is never handed out: each call gets a fresh one, unpickled from the first
    parse (0.08 ms against 0.5 ms of parsing here). An expression that does not parse is not cached: it raises
    moto's own error each time."""
    import pickle

    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    if getattr(UpdateExpressionParser, "_hcp_parsed_once", False):
        return
    original = UpdateExpressionParser.make.__func__  # type: ignore[attr-defined]
    parsed: dict[str, bytes] = {}

    def make(cls: Any, expression_str: str) -> Any:
        blob = parsed.get(expression_str)
        if blob is not None:
            return pickle.loads(blob)  # bytes this process pickled itself
        tree = original(cls, expression_str)
        if len(parsed) < 10_000:  # the hub's expressions are a few dozen strings; values are placeholders
            parsed[expression_str] = pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL)
        return tree

    UpdateExpressionParser.make = classmethod(make)  # type: ignore[method-assign,assignment]
    UpdateExpressionParser._hcp_parsed_once = True  # type: ignore[attr-defined]


def query_answers_written_as_json() -> None:
    """A Query's answer written with json.dumps, not moto's generic serializer, which walks the API model for every
    attribute of every item (two thirds of an index Query's CPU here once the index stopped walking the table).
    The document is the one the serializer writes: moto's own result (`dynamo_to_dict`: binary as raw bytes),
    with bytes in base64 as the serializer writes a blob (the differential test compares the answers)."""
    import base64

    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.query, "_hcp_as_json", False):
        return
    original = DynamoHandler.query

    def blob(value: object) -> str:
        if isinstance(value, bytes | bytearray):
            return base64.b64encode(bytes(value)).decode("ascii")
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    def query(self: Any) -> Any:
        answer = original(self)
        result = getattr(answer, "result", None)
        if not isinstance(result, dict):
            return answer
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(result, default=blob)

    query._hcp_as_json = True  # type: ignore[attr-defined]
    DynamoHandler.query = functools.wraps(original)(query)  # type: ignore[method-assign]


def _bytes_as_hex(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    raise TypeError(f"not JSON: {type(value).__name__}")


def transactions_idempotent_by_token() -> None:
    """DynamoDB applies a TransactWriteItems once per ClientRequestToken (for 10 minutes): a call repeated with
    its token is answered as the first was, without being applied again. moto ignores the token, so botocore's
    retry of a transaction moto had stored but answered late (a read timeout on a busy local cloud) failed its
    own conditions, and the ingest answered a first POST `duplicate`. A repeat that arrives while the first is
    still running waits for its answer; the same token with other items is refused, as DynamoDB refuses it."""
    from moto.dynamodb.exceptions import DynamodbException
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.transact_write_items, "by_token", False):  # a second server in this process
        return

    class _Call:
        def __init__(self, digest: str) -> None:
            self.digest, self.at, self.done, self.answer = digest, time.monotonic(), threading.Event(), None
            self.failed = False

    calls: dict[str, _Call] = {}
    lock = threading.Lock()
    original = DynamoHandler.transact_write_items

    def transact_write_items(self: Any) -> Any:
        token = self.body.get("ClientRequestToken")
        if not token:
            return original(self)
        items = json.dumps(self.body.get("TransactItems"), sort_keys=True, default=_bytes_as_hex)
        digest = hashlib.sha256(items.encode()).hexdigest()
        with lock:
            now = time.monotonic()
            for old in [t for t, c in calls.items() if now - c.at > 600]:
                del calls[old]
            call = calls.get(token)
            first = call is None or (call.done.is_set() and call.failed)
            if first:
                call = calls[token] = _Call(digest)
        assert call is not None
        if not first:
            if call.digest != digest:
                raise DynamodbException("IdempotentParameterMismatchException",
                                        "the ClientRequestToken was used with another request")  # fmt: skip
            call.done.wait(60)
            if not call.failed and call.answer is not None:
                return call.answer
        try:
            call.answer = original(self)
        except Exception:
            call.failed = True
            raise
        finally:
            call.done.set()
        return call.answer

    transact_write_items.by_token = True  # type: ignore[attr-defined]
    DynamoHandler.transact_write_items = transact_write_items  # type: ignore[method-assign]


def stream_records_as_stored() -> None:
    """GetRecords answered from the records as moto stores them (already DynamoDB's JSON), not through moto's
    generic serializer, which walks the API model for every attribute of every image: 2 ms of CPU a record here,
    GetRecords the local cloud's costliest call (a stream poller reads every write of the ratings and work-order
    tables). The answer is the same document (tests/integration/test_localcloud_moto_patches.py)."""
    import base64
    import calendar
    from datetime import datetime

    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    if getattr(DynamoDBStreamsHandler, "_hcp_as_stored", False):
        return

    def timestamp(value: object) -> float | int | str:
        """As moto's serializer writes a blob (base64) and a timestamp (epoch seconds, a naive time in UTC,
        milliseconds kept)."""
        if isinstance(value, bytes | bytearray):
            return base64.b64encode(bytes(value)).decode("ascii")
        if not isinstance(value, datetime):
            raise TypeError(f"{type(value).__name__} is not JSON serializable")
        seconds = calendar.timegm(value.utctimetuple() if value.tzinfo else value.timetuple())
        return seconds + (value.microsecond // 1000) / 1000.0 if value.microsecond else seconds

    def get_records(self: Any) -> tuple[int, dict[str, str], str]:
        limit = self._get_param("Limit")
        result = self.backend.get_records(self._get_param("ShardIterator"), 1000 if limit is None else limit)
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(result, default=timestamp)

    DynamoDBStreamsHandler.get_records = get_records  # type: ignore[method-assign,assignment]
    DynamoDBStreamsHandler._hcp_as_stored = True  # type: ignore[attr-defined]


def _transactions_back_up_items_not_tables(lock: threading.RLock) -> None:
    """moto backs up every table a transaction touches with a deepcopy (O(table) per write: 10,000
    ratings took minutes). Under the write lock it is enough to back up the items the transaction
    touches, and put them back if it is cancelled."""
    import moto.dynamodb.models as models
    from moto.dynamodb.models.table import Table

    if getattr(models.DynamoDBBackend.transact_write_items, "_hcp_item_backups", False):
        return
    inside = threading.local()

    class _Copy:
        def __getattr__(self, name: str) -> object:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(value: object, memo: object = None) -> object:
            if getattr(inside, "transaction", False) and isinstance(value, Table):
                return value  # the table itself: moto's rollback then reassigns it, a no-op
            return copy.deepcopy(value, memo)  # type: ignore[arg-type]

    models.copy = _Copy()  # type: ignore[assignment]
    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with lock:
            backups: list[tuple[str, dict[str, Any], Any]] = []
            for entry in transact_items:
                op = next(iter(entry.values()), {})
                table_name = op.get("TableName")
                if table_name not in self.tables:
                    continue
                table = self.tables[table_name]
                source = op.get("Item") if "Item" in op else op.get("Key", {})
                key = {
                    attr: source[attr]
                    for attr in (table.hash_key_attr, table.range_key_attr)
                    if attr and attr in source
                }
                try:
                    before = self.get_item(table_name, key)
                except Exception:  # a malformed key: moto's own validation will answer it
                    continue
                backups.append((table_name, key, copy.deepcopy(before.to_json()["Attributes"]) if before else None))
            inside.transaction = True
            try:
                original(self, transact_items)
            except Exception:
                for table_name, key, attributes in reversed(backups):
                    if attributes is None:
                        with contextlib.suppress(Exception):
                            self.delete_item(table_name, key)
                    else:
                        self.put_item(table_name, attributes)
                raise
            finally:
                inside.transaction = False

    transact_write_items._hcp_item_backups = True  # type: ignore[attr-defined]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]

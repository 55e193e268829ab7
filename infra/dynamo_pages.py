"""DynamoDB's `LastEvaluatedKey` paging, written once for every query and scan of the adapters, and
BatchGetItem's `UnprocessedKeys`, written once for every read of items by key.

boto3's own paginators cannot shrink `Limit` from one page to the next, start from a key kept in a cursor
or stop after a set number of requests, which is what the stores need to bound what one call reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

Item = dict[str, Any]
Key = Mapping[str, Any]


def pages(
    call: Callable[..., Mapping[str, Any]],
    request: Mapping[str, Any],
    *,
    start: Key | None = None,
    limit: Callable[[], int] | None = None,
    max_pages: int | None = None,
) -> Iterator[Mapping[str, Any]]:
    """Each response of `call(**request)` (a client's `query` or `scan`), following `LastEvaluatedKey`
    from `start`, until the last page, or `max_pages` requests, or `limit()` (asked before each request
    and sent as its `Limit`) is no longer positive. Read lazily: a caller that stops early sends no more.

    The last response yielded still carries its `LastEvaluatedKey`: a caller that stopped keeps it as a cursor.
    """
    sent = 0
    while max_pages is None or sent < max_pages:
        kwargs = dict(request)
        if limit is not None:
            remaining = limit()
            if remaining <= 0:
                return
            kwargs["Limit"] = remaining
        if start:
            kwargs["ExclusiveStartKey"] = start
        response = call(**kwargs)
        sent += 1
        yield response
        start = response.get("LastEvaluatedKey")
        if not start:
            return


def items(call: Callable[..., Mapping[str, Any]], request: Mapping[str, Any], **paging: Any) -> Iterator[Item]:
    """Every item of every page of `pages(call, request, **paging)`."""
    for response in pages(call, request, **paging):
        yield from response.get("Items", [])


def batch_get(
    client: Any, table: str, keys: Sequence[Key], *, attempts: int, what: str, **request: Any
) -> list[Item]:
    """The items of `keys` (BatchGetItem, 100 a request), in no set order; what DynamoDB hands back unprocessed
    (throttled) is asked again with a growing pause, `attempts` times, and then a RuntimeError naming `what`."""
    found: list[Item] = []
    for start in range(0, len(keys), 100):  # BatchGetItem's limit
        left: list[Key] = list(keys[start : start + 100])
        for attempt in range(attempts):
            response = client.batch_get_item(RequestItems={table: {"Keys": left, **request}})
            found.extend(response.get("Responses", {}).get(table, []))
            left = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            if not left:
                break
            time.sleep(0.01 * 2**attempt)
        if left:
            raise RuntimeError(f"{len(left)} {what} left unread after retries")
    return found

"""DynamoDB's `LastEvaluatedKey` paging, written once for every query and scan of the adapters.

boto3's own paginators cannot shrink `Limit` from one page to the next, start from a key kept in a cursor
or stop after a set number of requests, which is what the stores need to bound what one call reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
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

"""infra.dynamo_pages against a table of pages that answers as DynamoDB's query does (the stores' own paging is
covered over moto in tests/integration; this pins the edges: the start key, a shrinking Limit, the request cap)."""

from __future__ import annotations

from typing import Any

from infra import dynamo_pages


class Table:
    """Items 0..n-1, `page` to a response at most (or `Limit`), keyed by the next index."""

    def __init__(self, n: int, page: int) -> None:
        self.n, self.page = n, page
        self.requests: list[dict[str, Any]] = []

    def query(self, **kwargs: Any) -> dict[str, Any]:
        self.requests.append(kwargs)
        first = int(kwargs.get("ExclusiveStartKey", {"i": 0})["i"])
        last = min(self.n, first + min(self.page, kwargs.get("Limit", self.page)))
        response: dict[str, Any] = {"Items": [{"i": i} for i in range(first, last)]}
        if last < self.n:
            response["LastEvaluatedKey"] = {"i": last}
        return response


def test_every_page_is_read_and_the_request_is_sent_as_given() -> None:
    table = Table(25, page=10)
    items = list(dynamo_pages.items(table.query, {"TableName": "t"}))
    assert [item["i"] for item in items] == list(range(25))
    assert [r.get("ExclusiveStartKey") for r in table.requests] == [None, {"i": 10}, {"i": 20}]
    assert all(r["TableName"] == "t" for r in table.requests)


def test_the_limit_is_asked_before_each_request_and_stops_the_paging_at_zero() -> None:
    table = Table(100, page=10)
    found: list[int] = []
    for item in dynamo_pages.items(table.query, {}, limit=lambda: 15 - len(found)):
        found.append(item["i"])
    assert found == list(range(15))
    assert [r["Limit"] for r in table.requests] == [15, 5]


def test_a_cursor_key_starts_the_paging_and_max_pages_caps_the_requests() -> None:
    table = Table(100, page=10)
    responses = list(dynamo_pages.pages(table.query, {}, start={"i": 40}, max_pages=2))
    assert [r["Items"][0]["i"] for r in responses] == [40, 50]
    assert responses[-1]["LastEvaluatedKey"] == {"i": 60}  # kept: the caller's next cursor
    assert len(table.requests) == 2
    assert list(dynamo_pages.pages(table.query, {}, max_pages=0)) == []


def test_a_caller_that_stops_early_sends_no_more_requests() -> None:
    table = Table(100, page=10)
    for item in dynamo_pages.items(table.query, {}):
        if item["i"] == 3:
            break
    assert len(table.requests) == 1

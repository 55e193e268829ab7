"""The local cloud's moto answers index Queries from partitions it keeps current
(infra/localcloud/moto_dynamodb.py): the answers must be unpatched moto's, exactly.

A differential test: the same random sequence of writes (PutItem, UpdateItem — its expressions parsed once per string in
the patched moto, arithmetic, list_append and a malformed one among them —, DeleteItem, TransactWriteItems, some
cancelled, BatchWriteItem) and index Queries (each range-key operator, Limit, ExclusiveStartKey paging, both
directions, a FilterExpression, projections, sparse indexes, a GSI without a range key, a numeric range key, an
LSI; binary, boolean, null, list, map and set values in the answers, whose document the patched moto writes
itself) is answered by moto in this process (`mock_aws`, unpatched: the patches live in the moto server child) and by
the local cloud's moto server; every answer and every error must be equal. A negative control serves the same
with the index never updated after it is built, and the comparison catches it.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from infra.localcloud.motoserver import MotoServer

CREDENTIALS = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
_names = itertools.count()


def _client(endpoint: str | None) -> Any:
    config = Config(retries={"max_attempts": 1})
    return boto3.client("dynamodb", endpoint_url=endpoint, config=config, **CREDENTIALS)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def unpatched() -> Iterator[Any]:
    with mock_aws():
        yield _client(None)


@pytest.fixture(scope="module")
def patched() -> Iterator[Any]:
    with MotoServer() as server:
        yield _client(server.endpoint)


def create_table(client: Any, name: str) -> None:
    attribute = [("pk", "S"), ("sk", "S"), ("gk", "S"), ("gr", "S"), ("hk", "S"), ("nr", "N"), ("lr", "S")]
    client.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in attribute],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {"IndexName": "by_g", "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": "gk", "KeyType": "HASH"}, {"AttributeName": "gr", "KeyType": "RANGE"}]},
            {"IndexName": "by_h", "Projection": {"ProjectionType": "KEYS_ONLY"},
             "KeySchema": [{"AttributeName": "hk", "KeyType": "HASH"}]},
            {"IndexName": "by_n", "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["v"]},
             "KeySchema": [{"AttributeName": "gk", "KeyType": "HASH"}, {"AttributeName": "nr", "KeyType": "RANGE"}]},
        ],
        LocalSecondaryIndexes=[
            {"IndexName": "by_l", "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "lr", "KeyType": "RANGE"}]},
        ],
    )  # fmt: skip


# small alphabets, so that keys collide, partitions fill and range conditions split them
PKS = st.sampled_from(["p1", "p2", "p3"])
SKS = st.sampled_from(["s1", "s2", "s3", "s4"])
WORDS = st.sampled_from(["a", "ab", "abc", "b", "ba", "c", "d"])
NUMBERS = st.sampled_from(["-1", "0", "1", "1.5", "2", "10", "100"])
OPTIONAL = {"gk": st.sampled_from(["x", "y"]), "gr": WORDS, "hk": st.sampled_from(["h1", "h2"]), "nr": NUMBERS,
            "lr": WORDS, "v": WORDS}  # fmt: skip


@st.composite
def attributes(draw: st.DrawFn) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": {"S": draw(PKS)}, "sk": {"S": draw(SKS)}}
    for name, values in OPTIONAL.items():
        if draw(st.booleans()):
            item[name] = {"N" if name == "nr" else "S": draw(values)}
    if draw(st.booleans()):  # values of other types, answered in the Query's document as moto's serializer writes
        item["other"] = draw(st.sampled_from([{"B": b"\x00\xffbin"}, {"BOOL": True}, {"NULL": True},
                                              {"L": [{"S": "a"}, {"N": "1"}]}, {"M": {"k": {"B": b"m"}}},
                                              {"SS": ["a", "b"]}, {"BS": [b"a"]}, {"S": "中文"}]))  # fmt: skip
    return item


@st.composite
def update(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(sorted(OPTIONAL)), min_size=1, max_size=3, unique=True))
    sets: list[str] = []
    removes: list[str] = []
    values: dict[str, Any] = {}
    for n, name in enumerate(names):
        if draw(st.booleans()):
            sets.append(f"{name} = :v{n}")
            values[f":v{n}"] = {"N" if name == "nr" else "S": draw(OPTIONAL[name])}
        else:
            removes.append(name)
    expression = " ".join(part for part in (f"SET {', '.join(sets)}" if sets else "",
                                            f"REMOVE {', '.join(removes)}" if removes else "") if part)  # fmt: skip
    extra = draw(st.sampled_from(["", "counter = if_not_exists(counter, :zero) + :one", "tags = list_append(tags, :l)",
                                  "SET = :bad"]))  # fmt: skip
    if extra == "SET = :bad":
        expression, values = "SET = :bad", {":bad": {"S": "b"}}  # refused: the same error every time
    elif extra:
        expression = f"SET {extra}" + (f", {expression.removeprefix('SET ')}" if expression.startswith("SET ") else
                                       f" {expression}")  # fmt: skip
        values.update({":zero": {"N": "0"}, ":one": {"N": "1"}} if "counter" in extra else {":l": {"L": [{"S": "t"}]}})
    update: dict[str, Any] = {"Key": {"pk": {"S": draw(PKS)}, "sk": {"S": draw(SKS)}}, "UpdateExpression": expression}
    if values:
        update["ExpressionAttributeValues"] = values
    if draw(st.booleans()):
        update["ConditionExpression"] = draw(st.sampled_from(["attribute_exists(pk)", "attribute_not_exists(gk)"]))
    return update


KEY_CONDITIONS = {  # index -> (hash attribute, range attribute or None, range values)
    "by_g": ("gk", "gr", WORDS), "by_n": ("gk", "nr", NUMBERS), "by_h": ("hk", None, None),
    "by_l": ("pk", "lr", WORDS),
}  # fmt: skip
HASH_VALUES = {"gk": st.sampled_from(["x", "y", "z"]), "hk": st.sampled_from(["h1", "h2", "h3"]), "pk": PKS}


@st.composite
def query(draw: st.DrawFn) -> dict[str, Any]:
    index = draw(st.sampled_from(sorted(KEY_CONDITIONS)))
    hash_attr, range_attr, range_values = KEY_CONDITIONS[index]
    values: dict[str, Any] = {":h": {"S": draw(HASH_VALUES[hash_attr])}}
    condition = "#h = :h"
    names = {"#h": hash_attr}
    if range_attr is not None and range_values is not None and draw(st.booleans()):
        kind = "N" if range_attr == "nr" else "S"
        op = draw(st.sampled_from(["=", "<", "<=", ">", ">=", "BETWEEN", "begins_with"] if kind == "S" else
                                  ["=", "<", "<=", ">", ">=", "BETWEEN"]))  # fmt: skip
        names["#r"] = range_attr
        low, high = sorted([draw(range_values), draw(range_values)], key=float if kind == "N" else str)
        values[":r"] = {kind: low}
        if op == "BETWEEN":
            values[":r2"] = {kind: high}
            condition += " AND #r BETWEEN :r AND :r2"
        elif op == "begins_with":
            condition += " AND begins_with(#r, :r)"
        else:
            condition += f" AND #r {op} :r"
    request: dict[str, Any] = {"IndexName": index, "KeyConditionExpression": condition,
                               "ExpressionAttributeNames": names, "ExpressionAttributeValues": values,
                               "ScanIndexForward": draw(st.booleans())}  # fmt: skip
    if draw(st.booleans()):
        request["Limit"] = draw(st.integers(1, 4))
    if draw(st.integers(0, 9)) == 0:
        request["Select"] = "COUNT"
    if index in ("by_g", "by_l") and draw(st.booleans()):
        request["FilterExpression"] = "attribute_exists(v)"
    if index == "by_g" and "Select" not in request and draw(st.booleans()):
        request["ProjectionExpression"] = "pk, sk, v"
    return {"query": request}


OPERATIONS = st.one_of(
    attributes().map(lambda item: {"put": item}),
    update().map(lambda u: {"update": u}),
    st.tuples(PKS, SKS).map(lambda k: {"delete": {"pk": {"S": k[0]}, "sk": {"S": k[1]}}}),
    st.lists(st.one_of(attributes().map(lambda item: {"Put": {"Item": item}}), update().map(lambda u: {"Update": u})),
             min_size=1, max_size=3).map(lambda items: {"transact": items}),
    st.lists(attributes(), min_size=1, max_size=4).map(lambda items: {"batch": items}),
    query(), query(), query(),
)  # fmt: skip


def answer(client: Any, table: str, operation: dict[str, Any]) -> Any:
    """What the client was answered, without the request's metadata: every page for a Query (to its end)."""
    kind, body = next(iter(operation.items()))
    try:
        if kind == "put":
            client.put_item(TableName=table, Item=body)
        elif kind == "update":
            client.update_item(TableName=table, **body)
        elif kind == "delete":
            client.delete_item(TableName=table, Key=body)
        elif kind == "transact":
            distinct = {(str(i.get("Put", {}).get("Item", {}).get("pk")), str(i.get("Put", {}).get("Item", {}).get(
                "sk"))) if "Put" in i else (str(i["Update"]["Key"]["pk"]), str(i["Update"]["Key"]["sk"])) for i in body}
            if len(distinct) < len(body):
                return "two operations on one item (refused alike, not sent)"
            items = [{k: {**v, "TableName": table}} for i in body for k, v in i.items()]
            client.transact_write_items(TransactItems=items)
        elif kind == "batch":
            unique = {(i["pk"]["S"], i["sk"]["S"]): i for i in body}
            client.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": i}} for i in unique.values()]})
        else:
            pages, request = [], {"TableName": table, **body}
            while True:
                page = client.query(**request)
                page.pop("ResponseMetadata", None)
                pages.append(page)
                if "LastEvaluatedKey" not in page or len(pages) > 25:
                    return pages
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    except ClientError as error:
        return {"error": error.response["Error"].get("Code"), "message": error.response["Error"].get("Message")}
    return "ok"


def trace(client: Any, table: str, operations: list[dict[str, Any]]) -> list[Any]:
    create_table(client, table)
    return [answer(client, table, operation) for operation in operations]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(OPERATIONS, min_size=5, max_size=40))
def test_index_queries_answer_as_unpatched_moto_does(unpatched: Any, patched: Any,
                                                     operations: list[dict[str, Any]]) -> None:  # fmt: skip
    table = f"t{next(_names)}"
    operations = [*operations, *({"query": q} for q in _every_partition())]
    assert trace(patched, table, operations) == trace(unpatched, table, operations)


def _every_partition() -> Iterator[dict[str, Any]]:
    """Each index partition read whole at the end: nothing the writes left behind may be missing or extra."""
    for index, (hash_attr, _, _) in KEY_CONDITIONS.items():
        for value in ("x", "y", "h1", "h2", "p1", "p2", "p3"):
            yield {"IndexName": index, "KeyConditionExpression": "#h = :h",
                   "ExpressionAttributeNames": {"#h": hash_attr},
                   "ExpressionAttributeValues": {":h": {"S": value}}}  # fmt: skip


def test_a_large_partition_pages_with_limits_in_both_directions_as_unpatched_moto(unpatched: Any,
                                                                                   patched: Any) -> None:  # fmt: skip
    """Limit and ExclusiveStartKey narrowing (the candidates are the page and one more) over 150 items, with ties
    on the index range key (ordered by the table's keys, as moto orders them)."""
    operations: list[dict[str, Any]] = [
        {"put": {"pk": {"S": f"p{n % 7}"}, "sk": {"S": f"s{n:03d}"}, "gk": {"S": "x"}, "gr": {"S": f"r{n % 13:02d}"},
                 "nr": {"N": str(n % 17 - 5)}, "v": {"S": "v"}}}
        for n in range(150)
    ]  # fmt: skip
    for forward, limit, condition, values in itertools.product(
        (True, False), (2, 7, 50),
        ("#h = :h", "#h = :h AND gr > :r", "#h = :h AND gr BETWEEN :r AND :s", "#h = :h AND begins_with(gr, :p)"),
        ({":h": {"S": "x"}, ":r": {"S": "r03"}, ":s": {"S": "r08"}, ":p": {"S": "r1"}},),
    ):  # fmt: skip
        used = {k: v for k, v in values.items() if k in condition}
        operations.append({"query": {"IndexName": "by_g", "KeyConditionExpression": condition, "Limit": limit,
                                     "ExpressionAttributeNames": {"#h": "gk"}, "ExpressionAttributeValues": used,
                                     "ScanIndexForward": forward}})  # fmt: skip
    operations.append({"query": {"IndexName": "by_n", "KeyConditionExpression": "gk = :h AND nr >= :n", "Limit": 9,
                                 "ExpressionAttributeValues": {":h": {"S": "x"}, ":n": {"N": "3"}}}})  # fmt: skip
    table = f"t{next(_names)}"
    assert trace(patched, table, operations) == trace(unpatched, table, operations)


STALE_SERVER = """
import infra.localcloud.moto_dynamodb as patches
from infra.localcloud import motoserver
patches.apply()
patches._reindex = lambda *args, **kwargs: None  # the defect under test: an index built once, never updated
motoserver._child("127.0.0.1", 0)
"""


@pytest.fixture
def stale() -> Iterator[Any]:
    child = subprocess.Popen([sys.executable, "-c", STALE_SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)  # fmt: skip
    try:
        assert child.stdout is not None
        yield _client(f"http://127.0.0.1:{int(child.stdout.readline())}")
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=10)


def test_negative_control_the_comparison_catches_an_index_left_stale(unpatched: Any, stale: Any) -> None:
    moved = {"Key": {"pk": {"S": "p1"}, "sk": {"S": "s1"}}, "UpdateExpression": "SET gk = :y",
             "ExpressionAttributeValues": {":y": {"S": "y"}}}  # fmt: skip

    def partition(value: str) -> dict[str, Any]:
        return {"query": {"IndexName": "by_g", "KeyConditionExpression": "gk = :v",
                          "ExpressionAttributeValues": {":v": {"S": value}}}}  # fmt: skip

    operations = [
        {"put": {"pk": {"S": "p1"}, "sk": {"S": "s1"}, "gk": {"S": "x"}, "gr": {"S": "a"}}},
        partition("x"),  # the index is built here
        {"update": moved},  # the item leaves partition x for y
        partition("y"),
    ]
    table = f"t{next(_names)}"
    expected, served = trace(unpatched, table, operations), trace(stale, table, operations)
    assert expected[3][0]["Count"] == 1 and served[3][0]["Count"] == 0
    assert served != expected


def test_a_table_deleted_and_created_again_answers_from_its_new_items(unpatched: Any, patched: Any) -> None:
    """An index lives and dies with its table: one built before DeleteTable answers nothing afterwards."""
    table = f"t{next(_names)}"
    by_x: dict[str, Any] = {"query": {"IndexName": "by_g", "KeyConditionExpression": "gk = :x",
                                      "ExpressionAttributeValues": {":x": {"S": "x"}}}}  # fmt: skip

    def put(pk: str, gr: str) -> dict[str, Any]:
        return {"put": {"pk": {"S": pk}, "sk": {"S": "s1"}, "gk": {"S": "x"}, "gr": {"S": gr}}}

    before, after = [put("p1", "a"), by_x], [put("p2", "b"), by_x]
    answers = []
    for client in (patched, unpatched):
        first = trace(client, table, before)
        client.delete_table(TableName=table)
        answers.append((first, trace(client, table, after)))
    assert answers[0] == answers[1]
    assert [i["pk"]["S"] for i in answers[0][1][1][0]["Items"]] == ["p2"]

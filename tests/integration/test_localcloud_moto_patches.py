"""What the local cloud's patches of moto's hot paths (infra/localcloud/motoserver.py) must not change: the
answers. A Query on a table's key reads its partition only (moto listed and sorted the whole table per Query),
yet answers the same items in the same order, paged the same; reads racing writes answer instead of failing;
a FIFO queue still holds a message group while one of its messages is in flight (the in-flight groups are
computed for FIFO queues only now); each service's requests still reach that service's backend (the backend
is kept per host)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from infra.localcloud.motoserver import MotoServer


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with MotoServer() as server:
        yield server.endpoint


def client(endpoint: str, service: str, **config: Any) -> Any:
    options: dict[str, Any] = {"endpoint_url": endpoint, "region_name": "us-east-1", "config": Config(**config),
                               "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}  # fmt: skip
    return boto3.client(service, **options)  # type: ignore[call-overload]


def test_a_query_on_the_table_key_answers_its_partition_in_order_and_pages_as_before(endpoint: str) -> None:
    dynamodb = client(endpoint, "dynamodb")
    dynamodb.create_table(
        TableName="orders", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "status")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{"IndexName": "by_status", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}]}],
    )  # fmt: skip
    for pk in ("a", "b", "c"):
        for n in (3, 1, 2, 5, 4):
            dynamodb.put_item(TableName="orders", Item={"pk": {"S": pk}, "sk": {"S": f"{n:02d}"},
                                                        "status": {"S": "open" if n % 2 else "closed"}})  # fmt: skip

    def keys(**query: Any) -> list[str]:
        answer = dynamodb.query(TableName="orders", **query)
        return [f"{i['pk']['S']}{i['sk']['S']}" for i in answer["Items"]]

    b = {":p": {"S": "b"}}
    assert keys(KeyConditionExpression="pk = :p", ExpressionAttributeValues=b) == [f"b0{n}" for n in range(1, 6)]
    assert keys(KeyConditionExpression="pk = :p", ExpressionAttributeValues=b, ScanIndexForward=False) == [
        f"b0{n}" for n in range(5, 0, -1)]  # fmt: skip
    first = dynamodb.query(TableName="orders", KeyConditionExpression="pk = :p", ExpressionAttributeValues=b, Limit=2)
    assert first["LastEvaluatedKey"] == {"pk": {"S": "b"}, "sk": {"S": "02"}}
    assert keys(KeyConditionExpression="pk = :p", ExpressionAttributeValues=b,
                ExclusiveStartKey=first["LastEvaluatedKey"]) == ["b03", "b04", "b05"]  # fmt: skip
    assert keys(KeyConditionExpression="pk = :p AND sk BETWEEN :x AND :y",
                ExpressionAttributeValues={**b, ":x": {"S": "02"}, ":y": {"S": "04"}}) == ["b02", "b03", "b04"]
    assert keys(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "none"}}) == []
    # an index still sees every partition
    opened = keys(IndexName="by_status", KeyConditionExpression="#s = :s", ExpressionAttributeNames={"#s": "status"},
                  ExpressionAttributeValues={":s": {"S": "open"}})  # fmt: skip
    assert sorted(opened) == sorted(f"{pk}0{n}" for pk in "abc" for n in (1, 3, 5))
    # and a scan (also listing the whole table) is whole
    assert dynamodb.scan(TableName="orders")["Count"] == 15


def test_reads_racing_writes_that_add_partitions_answer_instead_of_failing(endpoint: str) -> None:
    once = client(endpoint, "dynamodb", retries={"max_attempts": 1}, max_pool_connections=4)
    once.create_table(TableName="race", BillingMode="PAY_PER_REQUEST",
                      AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                      KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])  # fmt: skip
    failures: list[Exception] = []
    done = threading.Event()

    def write() -> None:
        for n in range(400):
            once.put_item(TableName="race", Item={"pk": {"S": f"k{n}"}})
        done.set()

    def read() -> None:
        while not done.is_set():
            try:
                once.scan(TableName="race", Limit=5)
                once.query(TableName="race", KeyConditionExpression="pk = :p",
                           ExpressionAttributeValues={":p": {"S": "k1"}})  # fmt: skip
            except Exception as exc:  # a 500 from moto, not retried here
                failures.append(exc)
                return

    threads = [threading.Thread(target=write), *(threading.Thread(target=read) for _ in range(2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert once.scan(TableName="race", Select="COUNT")["Count"] == 400


def test_a_fifo_queue_holds_a_message_group_while_one_of_its_messages_is_in_flight(endpoint: str) -> None:
    sqs = client(endpoint, "sqs")
    url = sqs.create_queue(QueueName="held.fifo", Attributes={"FifoQueue": "true",
                                                              "ContentBasedDeduplication": "true"})["QueueUrl"]
    for body, group in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    assert [m["Body"] for m in first] == ["a1"]
    # a1 in flight: group a is held, b is not
    second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in second] == ["b1"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]] == ["a2"]


def test_each_service_s_requests_reach_its_own_backend(endpoint: str) -> None:
    sqs, s3, dynamodb = client(endpoint, "sqs"), client(endpoint, "s3"), client(endpoint, "dynamodb")
    dynamodb.create_table(TableName="per-host", BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])  # fmt: skip
    for _ in range(2):  # the second time from the per-host cache
        assert sqs.create_queue(QueueName="plain")["QueueUrl"].endswith("/plain")
        s3.create_bucket(Bucket="bucket-per-host")
        assert "bucket-per-host" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        assert "per-host" in dynamodb.list_tables()["TableNames"]
        assert "plain" not in dynamodb.list_tables()["TableNames"]


def test_stream_records_read_back_as_dynamodb_wrote_them(endpoint: str) -> None:
    dynamodb, streams = client(endpoint, "dynamodb"), client(endpoint, "dynamodbstreams")
    arn = dynamodb.create_table(
        TableName="streamed", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]  # fmt: skip
    item = {"pk": {"S": "k"}, "blob": {"B": b"\x00\x01\xff"}, "n": {"N": "1.5"}, "tags": {"SS": ["a", "b"]},
            "nested": {"M": {"l": {"L": [{"BOOL": True}, {"NULL": True}, {"S": "是"}]}}}}  # fmt: skip
    dynamodb.put_item(TableName="streamed", Item=item)
    dynamodb.update_item(TableName="streamed", Key={"pk": {"S": "k"}}, UpdateExpression="SET n = :n",
                         ExpressionAttributeValues={":n": {"N": "2"}})  # fmt: skip
    dynamodb.delete_item(TableName="streamed", Key={"pk": {"S": "k"}})
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    answer = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=10)
    records = answer["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    inserted, modified, removed = (r["dynamodb"] for r in records)
    assert inserted["NewImage"] == item and "OldImage" not in inserted
    assert inserted["NewImage"]["blob"]["B"] == b"\x00\x01\xff"  # a blob comes back as bytes
    assert modified["OldImage"]["n"] == {"N": "1.5"} and modified["NewImage"]["n"] == {"N": "2"}
    assert removed["OldImage"]["n"] == {"N": "2"} and "NewImage" not in removed
    assert all(r["Keys"] == {"pk": {"S": "k"}} for r in (inserted, modified, removed))
    assert int(inserted["SequenceNumber"]) < int(modified["SequenceNumber"]) < int(removed["SequenceNumber"])
    assert inserted["ApproximateCreationDateTime"].tzinfo is not None  # a timestamp botocore parsed
    assert answer["NextShardIterator"]
    assert streams.get_records(ShardIterator=answer["NextShardIterator"])["Records"] == []


def test_a_transaction_sent_again_with_its_token_is_answered_as_the_first_and_applied_once(endpoint: str) -> None:
    """DynamoDB's ClientRequestToken (the rating store sends one): botocore's retry of a transaction stored but
    answered late succeeds instead of failing its own conditions; the token with other items is refused."""
    dynamodb = client(endpoint, "dynamodb")
    dynamodb.create_table(TableName="slots", BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])  # fmt: skip

    def claim(slot: str, token: str) -> dict[str, Any]:
        put = {"Put": {"TableName": "slots", "Item": {"pk": {"S": slot}, "n": {"N": "1"}, "sealed": {"B": b"\x00\xff"}},
                       "ConditionExpression": "attribute_not_exists(pk)"}}  # fmt: skip
        return dynamodb.transact_write_items(TransactItems=[put], ClientRequestToken=token)  # type: ignore[no-any-return]

    claim("DUP#a", "token-1")
    claim("DUP#a", "token-1")  # the retry: answered as the first, not cancelled by its own write
    assert dynamodb.scan(TableName="slots")["Count"] == 1
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        claim("DUP#a", "token-2")  # another request for the slot: its condition fails, as before
    with pytest.raises(dynamodb.exceptions.IdempotentParameterMismatchException):
        claim("DUP#b", "token-1")
    assert dynamodb.scan(TableName="slots")["Count"] == 1

"""Work-order notices through SNS and outcomes through the forward function, on moto and the provincial stub.

R20: the SNS messages carry ids, codes, deadlines and the event type, never the rater; departments receive
them through filter policies on the message attributes. R17 (第十七条, 第十九条): an upheld appeal reaches the
province as not adopted through the forward queue, retried through a 503 until delivered, once under its
key, and the rating leaves the results.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

import functions.forward as forward_function
from hub.outcomes import OutboxRelay
from hub.workorders import Classify, FileAppeal, Kind, UpholdAppeal, WorkOrder, WorkOrderMonitor
from infra import bootstrap
from infra.forward_queue import SqsForwardQueue
from infra.localcloud.sqs import sqs_event
from infra.memory import InMemorySealer
from infra.notify import SnsNotifier
from infra.province.stub import STUB_APP_ID, STUB_SECRET, ProvinceStub
from infra.rating_store import DynamoRatingStore
from infra.settings import ForwardSettings
from infra.workorder_store import DynamoWorkOrderStore
from tests.integration.test_ingest_function import SESSION
from tests.integration.test_stores_contract import REGION, create_aws_resources, fake_credentials
from tests.integration.test_workorder_store import (
    CALENDAR,
    COUNTY,
    COUNTY_AGENCY,
    MANAGEMENT,
    UNIT,
    at,
    bad_rating,
    create_table,
    new_order,
)
from tests.lambda_context import LambdaContext

PERSONAL = ("王小明", "13912345678")


@dataclass
class Aws:
    store: DynamoWorkOrderStore
    ratings: DynamoRatingStore
    sqs: Any
    sns: Any
    queue_url: str
    topic_arn: str

    def subscribe(self, name: str, filter_policy: dict[str, list[str]]) -> str:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.sns.subscribe(
            TopicArn=self.topic_arn,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"FilterPolicy": json.dumps(filter_policy)},
        )
        return url

    def received(self, url: str) -> list[dict[str, Any]]:
        """SNS envelopes delivered to a subscribed queue (body and message attributes)."""
        out = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return out
            for message in messages:
                out.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def relay(self) -> OutboxRelay:
        return OutboxRelay(self.store, SnsNotifier(self.sns, self.topic_arn), SqsForwardQueue(self.sqs, self.queue_url))


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    fake_credentials(monkeypatch)
    with mock_aws():
        resources = create_aws_resources()
        dynamodb = resources["dynamodb"]
        sns = boto3.client("sns", region_name=REGION)
        yield Aws(
            store=DynamoWorkOrderStore(dynamodb, create_table(dynamodb)),
            ratings=DynamoRatingStore(dynamodb, resources["RatingsTable"], sealer=InMemorySealer()),
            sqs=resources["sqs"],
            sns=sns,
            queue_url=resources["queue_url"],
            topic_arn=sns.create_topic(Name="work-orders")["TopicArn"],
        )


def test_departments_get_reminders_and_escalations_by_filter_policy_and_no_personal_data_R20(aws: Aws) -> None:
    unit_queue = aws.subscribe("unit", {"audience": ["unit"], "agency_code": [COUNTY_AGENCY]})
    county_queue = aws.subscribe("county", {"audience": ["escalation", "managing_department"], "region_code": [COUNTY]})
    other_queue = aws.subscribe("other-county", {"region_code": ["360702000000"]})
    order = new_order(real_name=True)
    assert aws.store.put_new(order)
    monitor = WorkOrderMonitor(aws.store, lambda: CALENDAR, aws.relay())
    monitor.run(at("2026-10-08", "08:00"), CALENDAR)  # the morning the reply falls due
    monitor.run(at("2026-10-09", "00:00"), CALENDAR)  # the reply deadline passed
    unit = aws.received(unit_queue)
    county = aws.received(county_queue)
    assert aws.received(other_queue) == []
    assert [json.loads(m["Message"])["event_type"] for m in unit] == ["DeadlineReminded"]
    assert [json.loads(m["Message"])["event_type"] for m in county] == ["DeadlineEscalated"]
    escalation = county[0]
    assert {k: v["Value"] for k, v in escalation["MessageAttributes"].items()} == {
        "audience": "escalation",
        "region_code": COUNTY,
        "event_type": "DeadlineEscalated",
        "key": f"{order.id}#3#escalation",
    }
    body = json.loads(escalation["Message"])
    assert body["deadline"] == "reply" and body["due_at"] == "2026-10-08T23:59:59+08:00"
    text = json.dumps(unit + county, ensure_ascii=False)
    for personal in PERSONAL:
        assert personal not in text
    # notices only: published and done; the dispatch notice waits for the relay's sweep (the scheduler's)
    assert [e.event.type for e in aws.store.outbox()] == ["WorkOrderDispatched"]


def upheld_appeal() -> WorkOrder:
    order = new_order()
    for command, actor, when in (
        (Classify(kind=Kind.SIMPLE), UNIT, at("2026-09-30", "11:00")),
        (FileAppeal(grounds="mistaken", reason="评价人误选本单位"), UNIT, at("2026-10-08", "09:30")),
        (UpholdAppeal(finding="经核实系误评"), MANAGEMENT, at("2026-10-09")),
    ):
        order = order.handle(command, by=actor, at=when, calendar=CALENDAR).order
    return order


def test_an_upheld_appeal_reaches_the_province_through_a_503_once_under_its_key_R17(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an upheld appeal stored with its outbox, its rating stored, and the province answering 503
    assert aws.ratings.put_new(bad_rating("r1"), "raw/r1").outcome == "accepted"
    order = upheld_appeal()
    assert aws.store.put_new(order)
    stub = ProvinceStub().start()
    try:
        stub.set_faults(error_rate=1.0)
        secret_arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="province", SecretString=json.dumps({"app_id": STUB_APP_ID, "secret": STUB_SECRET})
        )["ARN"]
        for name, value in {
            "WORK_ORDERS_TABLE": "work-orders", "WORK_ORDER_TOPIC_ARN": aws.topic_arn,
            "FORWARD_QUEUE_URL": aws.queue_url, "CALENDAR_TABLE": "calendar", "RATINGS_TABLE": "ratings",
            "PROVINCE_URL": stub.url, "PROVINCE_SECRET_ARN": secret_arn, "FORWARD_RETRY_BASE_SECONDS": "0",
        }.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("RATINGS_TABLE", aws.ratings._table)
        settings = ForwardSettings.from_env()
        queue = SqsForwardQueue(aws.sqs, settings.forward_queue_url)
        # only outcome messages come: the forwarding service itself is never asked for
        forward = forward_function.make_handler(
            lambda: bootstrap.ForwardServices(None, queue, settings),  # type: ignore[arg-type]
            lambda: bootstrap.delivery_from_env(session=SESSION),
        )

        # WHEN the sweep relays the outbox: notices published, the province's outcome queued
        counts = aws.relay().sweep(at("2026-10-09", "10:05"))
        assert counts == {"notified": 2, "queued": 1}  # dispatched, appeal filed; upheld: queued
        key = f"{order.id}#4"

        def deliver() -> list[dict[str, Any]]:
            """One poll as Lambda's event source mapping makes it: the batch handled, what succeeded deleted."""
            messages = aws.sqs.receive_message(
                QueueUrl=aws.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=0
            )["Messages"]
            event = sqs_event(messages, "arn:aws:sqs:cn-north-1:123456789012:forward", REGION)
            answer = forward(event, LambdaContext("ForwardFunction", 1024))
            failed = {failure["itemIdentifier"] for failure in answer["batchItemFailures"]}
            for message in messages:
                if message["MessageId"] not in failed:
                    aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=message["ReceiptHandle"])
            return [json.loads(m["Body"]) for m in messages]

        # THEN it is retried while the province answers 503, each retry a fresh copy carrying the hub's own count
        # of attempts (the backoff's), not SQS's receive count; a 503 is the province away: not a failure counted
        assert deliver() == [{"outcome": key}]
        assert deliver() == [{"outcome": key, "attempt": 1, "failures": 0}]
        assert stub.outcomes() == [] and len(aws.store.outbox()) == 1  # owed until the province acknowledged
        stub.set_faults()
        assert deliver() == [{"outcome": key, "attempt": 2, "failures": 0}]
        aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody=json.dumps({"outcome": key}))  # a sweep's copy
        assert deliver() == [{"outcome": key}]  # done already: nothing sent
        assert aws.sqs.receive_message(QueueUrl=aws.queue_url).get("Messages", []) == []
    finally:
        stub.stop()
    [outcome] = stub.outcomes()
    assert outcome["outcomeId"] == key and outcome["evalId"] == "r1"
    assert (outcome["outcomeType"], outcome["notAdoptedBy"], outcome["notAdoptedReason"]) == ("3", "2", "1")
    assert outcome["deptCode"] == COUNTY_AGENCY and outcome["handleTime"] == "2026-10-09 10:00:00"
    assert stub.stats()["duplicates"] == 0  # the re-delivered copy found the entry done: not sent again
    assert aws.store.outbox() == []
    stored = aws.ratings.get("r1")
    assert stored is not None and not stored.adopted  # R17: out of the results

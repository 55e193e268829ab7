"""The scheduler's owed notices do not wait behind owed outcomes (issue 16), on moto.

In a provincial outage the province's outcomes (the reply, 第十七条; not adopted, R14/R17) stay owed in the
work-order outbox by the thousand; the departments' notices (a dispatch the unit must answer within its
working day, R11; an appeal to review, R17) must still go out on the scheduler's next run. The store keeps
notices under shards of their own (`notice#0..7`), so the scheduler's read is a key condition that reads
no outcome at all. Items read are counted at the DynamoDB client, as moto answered them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest

import functions.scheduler as scheduler_function
from hub.workorders import Classify, Kind, OutboxEntry, SendReply, WorkOrder
from infra import bootstrap
from infra.forward_queue import SqsForwardQueue
from infra.localcloud.motoserver import MotoServer
from infra.notify import SnsNotifier
from infra.workorder_store import DynamoWorkOrderStore
from tests.integration.test_stores_contract import REGION
from tests.integration.test_workorder_store import CALENDAR, DISPATCHED, UNIT, at, create_table, new_order

OUTCOMES, NOTICES = 2_000, 5
REPLIED = at("2026-09-30", "11:00")  # the 2,000 replies, owed to a province that is down since
LATER = DISPATCHED + timedelta(hours=2)  # the 5 orders dispatched after: their notices are due after every reply
NOW = LATER + timedelta(minutes=1)  # the scheduler's run


class Reads:
    """Items DynamoDB read for the client's calls (a query's ScannedCount, a get's item, a batch get's items)."""

    def __init__(self, client: Any) -> None:
        self.items: Counter[str] = Counter()
        client.meta.events.register("after-call.dynamodb", self._count)

    def _count(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in ("Query", "Scan"):
            self.items[model.name] += int(parsed.get("ScannedCount", 0))
        elif model.name == "GetItem":
            self.items[model.name] += int("Item" in parsed)
        elif model.name == "BatchGetItem":
            self.items[model.name] += sum(len(found) for found in parsed.get("Responses", {}).values())

    def total(self) -> int:
        return sum(self.items.values())


@dataclass
class Outage:
    store: DynamoWorkOrderStore
    services: bootstrap.OutboxServices
    reads: Reads
    notices: Any  # an SQS queue subscribed to the work-order topic
    sqs: Any

    def published(self) -> list[str]:
        found = []
        while batch := self.sqs.receive_message(QueueUrl=self.notices, MaxNumberOfMessages=10).get("Messages", []):
            found += [m["MessageId"] for m in batch]
            self.sqs.delete_message_batch(QueueUrl=self.notices, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])  # fmt: skip
        return found


def replied(rating_id: str) -> WorkOrder:
    order = new_order(rating_id)
    for command in (Classify(kind=Kind.SIMPLE), SendReply(summary="已答复")):
        order = order.handle(command, by=UNIT, at=REPLIED, calendar=CALENDAR).order
    return order


def client(endpoint: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,  # type: ignore[call-overload]
                        aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip


@pytest.fixture(scope="module")
def outage() -> Iterator[Outage]:
    # GIVEN 2,000 orders whose reply the province has not acknowledged (their dispatch notices long published),
    # and 5 orders dispatched since, each owing its unit a notice. On the local cloud's moto server: plain moto
    # copies the whole table for every transaction (2,000 orders would take many minutes)
    with MotoServer() as server:
        dynamodb, sqs, sns = (client(server.endpoint, s) for s in ("dynamodb", "sqs", "sns"))
        topic = sns.create_topic(Name="work-orders")["TopicArn"]
        notices = sqs.create_queue(QueueName="department")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=notices, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        store = DynamoWorkOrderStore(dynamodb, create_table(dynamodb))

        def owe_the_reply(i: int) -> None:
            order = replied(f"out{i:04d}")
            assert store.put_new(order)
            store.outbox_done(OutboxEntry(order.id, 1, order.history[0]))  # published when it was dispatched

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(owe_the_reply, range(OUTCOMES)))
        for i in range(NOTICES):
            assert store.put_new(new_order(f"new{i}", at=LATER))
        services = bootstrap.build_outbox(store=store, notifier=SnsNotifier(sns, topic),
                                          queue=SqsForwardQueue(sqs, sqs.create_queue(QueueName="forward")["QueueUrl"]),
                                          calendars=lambda: CALENDAR)  # fmt: skip
        yield Outage(store, services, Reads(dynamodb), notices, sqs)


class Invocation:
    """A Lambda context with the whole timeout left: the run is bounded by what it reads, not by time."""

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def test_one_scheduler_run_relays_the_five_notices_reading_about_ten_items_R11(outage: Outage) -> None:
    # GIVEN (the negative control) the read the scheduler made before: 500 entries of every kind, earliest due
    # first, the notices picked out after; it reads 500 outcomes and not one of the 5 notices
    outage.reads.items.clear()
    before = outage.store.outbox(500, due_by=NOW)
    assert (len(before), [e for e in before if e.event.forward_to_province is None]) == (500, [])
    assert outage.reads.total() >= 500
    print(f"the old read: {len(before)} entries, {outage.reads.total()} items read ({dict(outage.reads.items)})")
    assert len(outage.store.outbox(10, due_by=NOW, notices_only=True)) == NOTICES  # they are owed
    outage.reads.items.clear()
    # WHEN the scheduler checks the work orders
    answer = scheduler_function._check_work_orders(lambda: outage.services, NOW, CALENDAR, Invocation())
    # THEN the 5 notices went out, and it read the 5 entries and their 5 orders (none of the outcomes)
    assert answer["outcomes"].get("relay:notified") == NOTICES, answer
    assert len(outage.published()) == NOTICES
    assert outage.reads.total() <= 2 * NOTICES, outage.reads.items
    print(f"the scheduler's run: {NOTICES} notices, {outage.reads.total()} items read ({dict(outage.reads.items)})")
    assert "relay:queued" not in answer["outcomes"]  # the outcomes are the sweep's (and wait for the province)
    # and they are all still owed, none lost
    assert len(outage.store.outbox(OUTCOMES + 10)) == OUTCOMES

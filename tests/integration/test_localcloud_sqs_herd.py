"""The local cloud's SQS patch (infra/localcloud/moto_sqs_patches.py): a message added wakes one waiting receive,
not all of them (moto woke every long poll of the queue for each message: 20 forward pollers, 20 wakes and scans a
rating), and long polls still answer as SQS does: the message to one receive at once, the others waiting on until
their wait ends or a message comes for them, visibility timeouts and receive counts as before.

Against moto in-process, where its queue's condition can be watched: for each message added, how many receives
were waiting and how many of them it woke. The negative control is moto's own condition (as it ships): the same
message wakes every waiting receive.
"""

from __future__ import annotations

import queue as queues
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import moto.sqs.models as sqs_models
import pytest
from moto import mock_aws

from infra.localcloud import moto_sqs_patches

WAITING = 4  # receives long-polling at once
ACCOUNT = "123456789012"  # moto's default account


@pytest.fixture(params=["wake one", "as moto ships"])
def wakes_one(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[bool]:
    """The patch applied for this test only (moto is the process's; other tests keep theirs), or moto as shipped."""
    for owner, name in ((sqs_models, "Condition"), (sqs_models.Queue, "wait_for_messages"),
                        (sqs_models.SQSBackend, "receive_message")):  # fmt: skip
        monkeypatch.setattr(owner, name, getattr(owner, name))  # restored after the test
    monkeypatch.setattr(sqs_models.Queue, "_hcp_wake_one", False, raising=False)  # as it was, after the test
    patched = request.param == "wake one"
    if patched:
        assert moto_sqs_patches.wake_one_receive_per_message()
    with mock_aws():
        yield patched


class Watched:
    """A queue whose receives are watched: which threads entered a wait, and per message added, (waiting, woken)."""

    def __init__(self, name: str, **attributes: str) -> None:
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.url = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        self.queue = sqs_models.sqs_backends[ACCOUNT]["us-east-1"].queues[name]
        condition = self.queue._messages_lock
        self.adds: list[tuple[int, int]] = []
        self.entered: set[int] = set()
        self.all_waiting = threading.Event()
        wait, notify_all = condition.wait, condition.notify_all

        def watched_wait(timeout: float | None = None) -> bool:
            self.entered.add(threading.get_ident())
            if len(self.entered) >= WAITING:
                self.all_waiting.set()
            return wait(timeout)

        def watched_notify_all() -> None:  # called by moto's add_message, with the condition held
            before = len(condition._waiters)  # type: ignore[attr-defined]
            notify_all()
            self.adds.append((before, before - len(condition._waiters)))  # type: ignore[attr-defined]

        condition.wait = watched_wait  # type: ignore[method-assign]
        condition.notify_all = watched_notify_all  # type: ignore[method-assign]

    def receive_in_threads(self, wait_seconds: int) -> tuple[list[threading.Thread], queues.Queue[list[Any]]]:
        answers: queues.Queue[list[Any]] = queues.Queue()

        def receive() -> None:
            answer = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds,
                                              MessageSystemAttributeNames=["ApproximateReceiveCount"])  # fmt: skip
            answers.put(answer.get("Messages", []))

        threads = [threading.Thread(target=receive, daemon=True) for _ in range(WAITING)]
        for thread in threads:
            thread.start()
        assert self.all_waiting.wait(30), "the receives never all waited"
        return threads, answers


def test_one_message_wakes_one_waiting_receive_and_the_others_wait_out_their_wait(wakes_one: bool) -> None:
    """R9 (forwarded in real time): the message reaches a waiting receive at once; the others return empty when their
    long poll ends — and, patched, they were never woken for it."""
    queue = Watched("herd", VisibilityTimeout="30")
    threads, answers = queue.receive_in_threads(wait_seconds=2)
    queue.sqs.send_message(QueueUrl=queue.url, MessageBody="rating r-1")
    first = answers.get(timeout=30)
    assert [m["Body"] for m in first] == ["rating r-1"]
    assert first[0]["Attributes"]["ApproximateReceiveCount"] == "1"
    for thread in threads:
        thread.join(30)
    rest = [answers.get_nowait() for _ in range(WAITING - 1)]
    assert rest == [[]] * (WAITING - 1)  # they waited out their wait: the message was in flight
    [(waiting, woken)] = queue.adds
    assert waiting >= 2, "fewer than two receives were waiting: nothing to tell apart"
    assert woken == (1 if wakes_one else waiting)  # the control: moto as shipped wakes every one of them
    # in flight for its visibility timeout; made visible again, received again with its count raised
    assert queue.sqs.receive_message(QueueUrl=queue.url, WaitTimeSeconds=0).get("Messages") is None
    queue.sqs.change_message_visibility(QueueUrl=queue.url, ReceiptHandle=first[0]["ReceiptHandle"],
                                        VisibilityTimeout=0)  # fmt: skip
    counts = ["ApproximateReceiveCount"]
    [again] = queue.sqs.receive_message(QueueUrl=queue.url, WaitTimeSeconds=0, MessageSystemAttributeNames=counts)[
        "Messages"]  # fmt: skip
    assert (again["Body"], again["Attributes"]["ApproximateReceiveCount"]) == ("rating r-1", "2")


def test_each_message_wakes_one_more_receive_until_every_waiting_one_has_its_own(wakes_one: bool) -> None:
    """Long polls of 20 s, messages sent one at a time: each goes to one receive, which returns with it at once,
    while the rest keep waiting (no wait ends in this test); no message is received twice."""
    queue = Watched("one-by-one")
    threads, answers = queue.receive_in_threads(wait_seconds=20)
    bodies = []
    for n in range(WAITING):
        queue.sqs.send_message(QueueUrl=queue.url, MessageBody=f"rating r-{n}")
        [message] = answers.get(timeout=30)
        bodies.append(message["Body"])
    for thread in threads:
        thread.join(30)
    assert sorted(bodies) == [f"rating r-{n}" for n in range(WAITING)]
    assert answers.empty()
    woken = [w for _, w in queue.adds]
    if wakes_one:
        assert woken == [1] * WAITING
    else:  # the control: each message woke every receive still waiting
        assert woken == [waiting for waiting, _ in queue.adds] and woken[0] >= 2

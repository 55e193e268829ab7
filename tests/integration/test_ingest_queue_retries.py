"""The ingest's forward queue when SQS stores a batch and its answer is lost (issue 16; R9): one copy carries the
rating's handoff, not two. In moto behind the ingest function, as `test_ingest_function` builds it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError

from infra import bootstrap
from tests.integration.test_ingest_function import KIOSK, Hub, hub  # noqa: F401  (the fixture)
from tests.integration.test_stores_contract import queued_messages


@pytest.fixture
def answer_lost_once(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The first SendMessageBatch of every client reaches SQS (moto stores it, its handler runs first) and then
    gets no answer: a read timeout on a starved machine. Yields the number of attempts that reached SQS."""
    attempts = [0]

    def hook(client: Any) -> None:
        def lost(event_name: str, **_: Any) -> None:
            if not event_name.endswith(".SendMessageBatch"):
                return
            attempts[0] += 1
            if attempts[0] == 1:
                raise ReadTimeoutError(endpoint_url="https://sqs")

        client.meta.events.register_last("before-send", lost)  # after moto's own handler: the batch is stored

    monkeypatch.setattr(bootstrap, "CLIENT_HOOKS", [*bootstrap.CLIENT_HOOKS, hook])
    yield attempts


def test_a_batch_stored_without_an_answer_is_sent_again_without_the_handoff_R9(
    hub: Hub,  # noqa: F811
    answer_lost_once: list[int],
) -> None:
    """botocore's own retry would send the same entries again, the handoff with them, and both copies would be
    forwarded unread: two sends of one rating, no fault of the province's. The ingest's SQS client sends once;
    `SqsForwardQueue` sends again without the handoff, so the second copy reads the store."""
    status, answer = hub.post("kiosk", KIOSK)

    assert (status, answer["results"][0]["outcome"]) == (202, "accepted")
    copies = queued_messages(hub.aws["sqs"], hub.aws["queue_url"])
    assert answer_lost_once[0] == 2 and len(copies) == 2  # the lost answer's copy, and the one sent again
    assert [("stored" in copy) for copy in copies].count(True) == 1, copies

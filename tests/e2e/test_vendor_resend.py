"""A kiosk vendor's resend after a lost answer, on the local cloud (issue 16; R8): the hub stored the POST's
ratings but the answer never reached the vendor (a timeout, a 502 after Lambda stopped the function), so the
vendor sends the same body again, signed afresh (bench/posting.py, the benches' vendor). Each rating is answered
with its receipt (`duplicate`, the same rating id), none is stored or forwarded twice, and the province sees
one key per rating."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.posting import Answer, Poster, Tally
from tests.e2e.conftest import Hub
from tests.e2e.test_pipeline import kiosk_batch

pytestmark = pytest.mark.e2e


class AnswerLost(Poster):
    """Its first attempt reaches the hub, which answers; the answer is lost on the way back."""

    lost = 1

    def attempt(self, body: bytes) -> Answer:
        answer = super().attempt(body)
        if self.lost:
            self.lost -= 1
            return Answer(None, error="TimeoutError")
        return answer


def test_a_resend_after_a_lost_answer_gets_each_ratings_receipt_and_the_province_one_key_each_R8(hub: Hub) -> None:
    # GIVEN a vendor whose first POST of 10 ratings is stored by the hub, its answer lost
    demo = hub.connector("kiosk")
    url = f"{hub.cloud.api_url}/v1/connectors/{demo['connector_id']}/ratings"
    slept: list[float] = []
    vendor, tally = AnswerLost(url, demo["connector_id"], demo["secret"], sleep=slept.append), Tally()

    # WHEN it sends the same body again, as a vendor does for no answer
    posted = vendor.post(kiosk_batch("RESEND-", 10), 10)
    tally.add(posted, 0.0)

    # THEN the resend is answered rating by rating: each one stored by the first attempt, with its rating id
    assert [a.label for a in posted.answers] == ["no answer (TimeoutError)", "202"] and slept == [1.0]
    assert {r["outcome"] for r in posted.answers[1].results or ()} == {"duplicate"}
    assert tally.found_stored == 10 and tally.refused == 0 and len(tally.posted_at) == 10
    stored = hub.ratings()
    assert all(stored.get(rating_id) is not None for rating_id in tally.posted_at)
    # ... and the province gets each rating once, under its one key
    hub.settled(lambda: set(tally.posted_at) <= set(hub.received_ids()), "the ratings at the province")
    received = Counter(i for i in hub.received_ids() if i in tally.posted_at)
    assert set(received) == set(tally.posted_at) and max(received.values()) == 1
    assert tally.lines()[0] == "first answers by status/code (POSTs): no answer (TimeoutError) x 1"

"""The whole local cloud speaking Shandong's Epoint gateway: SM2 envelopes and two-step pushes, end to end.

The session's local cloud plays the national province; this module starts a second one with
`province_profile="shandong"` (what `hcp local up --province-profile shandong` runs) — the session cloud is
suspended meanwhile. Every sample goes in through the API, the forward function (in-process, as Lambda)
pushes the service record and then the SM2-encrypted evaluation, and the stub playing Shandong decrypts,
checks the sign and the profile's schema, and accepts. The other shipped profiles are swept per sample in
tests/integration/test_province_profiles.py (one local cloud per profile would cost a minute each).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from cli.normalize_cmd import content_type_for
from infra.localcloud.hubcloud import HubLocalCloud
from tests.conftest import SAMPLES, expected_for, sample_files
from tests.e2e.conftest import BUSINESS_NOW, Hub

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def shandong(tmp_path_factory: pytest.TempPathFactory, hub: Hub) -> Iterator[Hub]:
    """`hub` first: its knobs (fast retries, short timeouts) are in the environment; its cloud is suspended."""
    with HubLocalCloud(state_dir=tmp_path_factory.mktemp("hcp-shandong"), province_profile="shandong") as cloud:
        cloud.move_clock(set_to=BUSINESS_NOW)
        yield Hub(cloud)


def test_every_sample_reaches_shandong_decrypted_after_its_service_record_R9(shandong: Hub) -> None:
    accepted: set[str] = set()
    for sample in (p for p in sample_files() if p.parent.name != "cases"):
        status, answer = shandong.post(sample.parent.name, sample.read_bytes(), content_type_for(sample))
        [result] = answer["results"]
        assert result["outcome"] == expected_for(sample)["outcome"], (sample.name, answer)
        if result["outcome"] == "accepted":
            assert status == 202
            accepted.add(result["rating_id"])
    shandong.wait_until(lambda: accepted <= set(shandong.received_ids()), 60, "every accepted sample at Shandong")
    stub = shandong.province
    assert stub.profile.name == "shandong" and stub.stats()["rejected"] == 0
    received = [r for r in stub.received() if r["evalId"] in accepted]
    assert all(r["dataSource"] == "165" and r["projectNo"].startswith("37") for r in received)
    assert {r["projectNo"] for r in received} <= {s["projectNo"] for s in stub.services()}
    store = shandong.ratings()
    for rating_id in accepted:
        stored = store.get(rating_id)
        assert stored.forward_state == "forwarded" and stored.service_receipt  # the service record recorded


def test_a_repeat_answer_from_shandong_marks_the_rating_forwarded(shandong: Hub) -> None:
    kiosk = json.loads((SAMPLES / "kiosk" / "01-dissatisfied-labels.json").read_text("utf-8"))
    body = json.dumps({**kiosk, "orderId": "REPEAT-SD-1"}, ensure_ascii=False).encode()
    shandong.province.set_faults(repeat=True)
    try:
        [result] = shandong.post("kiosk", body)[1]["results"]
        rating_id = result["rating_id"]
        store = shandong.ratings()
        shandong.wait_until(
            lambda: store.get(rating_id).forward_state == "forwarded", 60, "the repeat taken as delivered"
        )
    finally:
        shandong.province.set_faults()

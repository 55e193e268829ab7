"""The README's ten-line example for integrators, run as written (with a sample for the payload)."""

from __future__ import annotations

import json

import pytest

from cli.send_cmd import post_signed
from tests.conftest import SAMPLES

pytestmark = pytest.mark.e2e


def test_my_payload_reaches_the_province(local_cloud, hub) -> None:  # `hub` sets the samples' day
    demo = local_cloud.seeded["connectors"]["kiosk"]
    url = f"{local_cloud.api_url}/v1/connectors/{demo['connector_id']}/ratings"
    payload = json.loads((SAMPLES / "kiosk" / "01-dissatisfied-labels.json").read_text("utf-8"))
    body = json.dumps({**payload, "orderId": "README-EXAMPLE-1"}, ensure_ascii=False).encode()
    status, answer = post_signed(url, demo["connector_id"], demo["secret"], body, "application/json")
    assert (status, answer["results"][0]["outcome"]) == (202, "accepted")
    local_cloud.drain()
    assert local_cloud.province.received()[-1]["evalId"] == answer["results"][0]["rating_id"]

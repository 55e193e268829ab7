"""pytest fixture: the hub's local cloud for a test session (free ports, a temporary state dir).

In a conftest.py:

    pytest_plugins = ["infra.localcloud.pytest_plugin"]

    def test_a_rating_reaches_the_province(local_cloud):
        urllib.request.urlopen(local_cloud.api_url + "/openapi.json")
        local_cloud.drain()

The cloud is *driven*: no poller or schedule thread runs and its clock stands still until moved.
`drain()` runs the queues' functions in the test's thread until the queues are empty;
`move_clock(advance=...)` fires the schedule rules it passes and drains; `run_due()` does both at the
current time; `drain(redeliver=True)` also retries at once what a function left on a queue (its
backoff taken as passed). A test asserts right after, and never waits on the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .hubcloud import HubLocalCloud


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubLocalCloud]:
    """template.yaml deployed into its own moto server, its functions played in-process, seeded, driven.
    `api_url`, `aws_endpoint`, `resources`, `seeded`, `invoke()`, `drain()`, `move_clock()`, `run_due()`."""
    with HubLocalCloud(state_dir=tmp_path_factory.mktemp("hcp-local"), driven=True) as cloud:
        yield cloud

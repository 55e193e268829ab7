"""pytest fixture: the hub's local cloud for a test session (free ports, a temporary state dir).

In a conftest.py:

    pytest_plugins = ["infra.localcloud.pytest_plugin"]

    def test_a_rating_reaches_the_province(local_cloud):
        urllib.request.urlopen(local_cloud.api_url + "/openapi.json")
        local_cloud.drain()
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .hubcloud import HubLocalCloud


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubLocalCloud]:
    """template.yaml deployed into its own moto server, its functions played in-process, seeded.
    `api_url`, `aws_endpoint`, `resources`, `seeded`, `invoke()`, `drain()`, `move_clock()`."""
    with HubLocalCloud(state_dir=tmp_path_factory.mktemp("hcp-local")) as cloud:
        yield cloud

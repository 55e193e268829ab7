"""End to end: the real template.yaml on the local cloud (moto + in-process functions + provincial stub).

Which cloud a module runs on, and so where `make test` may run it (tests/conftest.py's scheduler hands each
pytest-xdist scope whole to one worker, in collection order):

- By default a module runs on THE SESSION'S CLOUD (`hub`, `local_cloud`). Every such module is one scope, on one
  worker, in order; test_iam_enforced.py and test_log_search.py run last in it, over every call and log line of
  that worker. A new e2e module lands here with no edit: the right place for short tests that do not move the
  clock far.
- A module named in ON_A_CLOUD_OF_ITS_OWN gets, as `hub`, a cloud made for it (`own_hub`), and is a scope of its
  own, which the other worker may run beside the session's: for a module that takes long (hundreds of ratings,
  faults) or moves the clock weeks. Its tests and fixtures are unchanged (they ask for `hub` as before).
- A module named in STARTS_ITS_OWN makes what it needs itself (a `hub` fixture of its own over `own_hub`, a
  `HubLocalCloud` or `LocalCloud`, `hcp local up` in a subprocess) and never touches the session's cloud; it too is
  a scope of its own.

A module apart from the session's cloud is held to what the session's last tests check: `own_hub` asserts that no
call was denied by its function's role when its cloud stops, and `_r20_for_modules_apart` searches the module's own
log lines for the samples' personal data when the module ends (R20, as test_log_search.py does).
"""

from __future__ import annotations

import json
import os
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from infra.localcloud import iam
from infra.localcloud.hubcloud import HubLocalCloud
from infra.localcloud.people import id_token
from infra.signing import sign
from tests.conftest import SAMPLES
from tests.log_search import LogCapture, leaks, personal_values

pytestmark = pytest.mark.e2e
ON_A_CLOUD_OF_ITS_OWN = frozenset({"test_pipeline.py", "test_forward_faults.py", "test_cases.py"})
STARTS_ITS_OWN = frozenset({
    "test_readme_tour.py", "test_workorders.py", "test_workorder_deadlines.py", "test_province_shandong.py",
    "test_signin_any_issuer.py", "test_local_up_terminal.py",
})  # fmt: skip
APART = ON_A_CLOUD_OF_ITS_OWN | STARTS_ITS_OWN


def apart(module: str) -> bool:
    """`module` (a path or node id under tests/e2e) runs apart from the session's cloud, in a scope of its own."""
    return module.split("::", 1)[0].rsplit("/", 1)[-1] in APART


BUSINESS_NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")  # the samples' day, inside their windows


@dataclass
class Hub:
    cloud: HubLocalCloud

    @property
    def province(self) -> Any:
        return self.cloud.province  # type: ignore[attr-defined]

    def connector(self, kind: str) -> dict[str, str]:
        return self.cloud.seeded["connectors"][kind]

    def post(
        self, kind: str, body: bytes, content_type: str = "application/json", *,
        headers: dict[str, str] | None = None, path: str | None = None, nonce: str | None = None,
    ) -> tuple[int, Any]:  # fmt: skip
        demo = self.connector(kind)
        url = self.cloud.api_url + (path or f"/v1/connectors/{demo['connector_id']}/ratings")
        signed = sign(
            demo["secret"], body, int(time.time()), nonce or secrets.token_hex(16), connector_id=demo["connector_id"]
        )
        request = urllib.request.Request(
            url, data=body, method="POST", headers={**signed, "Content-Type": content_type, **(headers or {})}
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def call(
        self, method: str, path: str, *, user: str | None = None, body: Any = None,
        query: dict[str, str] | None = None, headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:  # fmt: skip
        """A person's call: `Authorization: Bearer <user's ID token>` when `user` names a demo user
        (infra/localcloud/people.py); a dict or list body goes as JSON, bytes as they are."""
        sent = dict(headers or {})
        if user is not None:
            sent["Authorization"] = f"Bearer {id_token(self.cloud.seeded, user)}"
        data: bytes | None = None
        if isinstance(body, dict | list):
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            sent.setdefault("Content-Type", "application/json")
        elif body is not None:
            data = body if isinstance(body, bytes) else str(body).encode("utf-8")
        url = self.cloud.api_url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        request = urllib.request.Request(url, data=data, method=method.upper(), headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            return err.code, json.loads(raw) if raw else None

    def received_ids(self) -> list[str]:
        return [payload["evalId"] for payload in self.province.received()]

    def ratings(self) -> Any:
        """RatingsTable read as the functions read it: sealed (R20) under the cloud's DataKey and look-up key."""
        from infra.bootstrap import sealed_stores
        from infra.rating_store import DynamoRatingStore

        clients = {name: self.cloud.client(name) for name in ("kms", "secretsmanager")}
        environ = {"DATA_KEY_ID": self.cloud.resources["DataKey"],
                   "LOOKUP_KEY_SECRET_ARN": self.cloud.resources["LookupKeySecret"],
                   "PERSONAL_DATA_ALGORITHM": os.environ.get("PERSONAL_DATA_ALGORITHM", "")}  # fmt: skip
        sealed = sealed_stores(clients, environ)
        return DynamoRatingStore(self.cloud.client("dynamodb"), self.cloud.resources["RatingsTable"], **sealed)

    def settled(self, condition: Callable[[], bool], what: str = "", *, redeliver: bool = False) -> None:
        """Run the work due now (fire due rules, drain every queue in this thread), then `condition` must
        hold. The cloud is driven (infra.localcloud.pytest_plugin): nothing happens later by itself, so
        there is nothing to wait for."""
        self.cloud.run_due(redeliver=redeliver)
        assert condition(), f"not so once the due work ran: {what}"

    def wait_until(self, condition: Callable[[], bool], timeout: float = 120.0, what: str = "") -> None:
        """For tests written against the threaded cloud: on a driven one, `settled` (no waiting, `timeout`
        unused); on a threaded one (a module's own `HubLocalCloud` without `driven=True`), polling as before."""
        if self.cloud.driven:
            self.settled(condition, what)
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


# Fast retries and short province timeouts, so minutes of backoff take seconds in a test; the forward function
# reads them on its next call.
FAST = {"FORWARD_RETRY_BASE_SECONDS": "1", "PROVINCE_READ_TIMEOUT": "0.5", "PROVINCE_CONNECT_TIMEOUT": "0.5"}


@pytest.fixture(scope="package")
def local_cloud(local_cloud: HubLocalCloud) -> Iterator[HubLocalCloud]:
    """The integrators' fixture (infra.localcloud.pytest_plugin), stopped once the last e2e test is done rather
    than at the session's end: under pytest-xdist (`make test`) the worker that ran the e2e tests may be handed
    unit tests next, and they must not see its AWS_ENDPOINT_URL or its driven clock. (Stopping is idempotent.)"""
    yield local_cloud
    local_cloud.stop()


@pytest.fixture(scope="package")
def session_hub(local_cloud: HubLocalCloud) -> Iterator[Hub]:
    """The session's cloud (one for every e2e module on it), with the business clock on the samples' day."""
    with environment(**FAST):
        local_cloud.move_clock(set_to=BUSINESS_NOW)
        yield Hub(local_cloud)


@pytest.fixture(scope="module")
def hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """The session's cloud, drained when the module is done (test_ratings_read.py posts without draining, and
    test_readme_fixture_example.py then takes the province's last payload for its own); for a module in
    ON_A_CLOUD_OF_ITS_OWN, a cloud made for that module alone."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    if f"{name}.py" in ON_A_CLOUD_OF_ITS_OWN:
        with own_hub(tmp_path_factory, f"hcp-{name}") as own:
            yield own
    else:
        session: Hub = request.getfixturevalue("session_hub")
        yield session
        session.cloud.drain()  # nothing of this module's still on its way to the stub when the next one counts


@contextmanager
def own_hub(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Hub]:
    """A cloud of a module's own, set up as `hub` is, for a module whose tests move the clock weeks back and
    forth: on the session's cloud each long move makes the scheduler and the sweep work through every earlier
    test's orders, timers and pending ratings (minutes: the work-order story took 221 s there, 3 s alone).
    Its calls are held to the functions' roles when it stops, as test_iam_enforced.py holds the session's."""
    with HubLocalCloud(state_dir=tmp_path_factory.mktemp(name), driven=True) as cloud, environment(**FAST):
        cloud.move_clock(set_to=BUSINESS_NOW)
        yield Hub(cloud)
        enforcer = iam.enforcer(cloud)
        denials = enforcer.denials()
        assert sum(enforcer.calls.values()) > 0
        assert not denials, "\n".join(enforcer.message(c) + f" ({c.function}, {enforcer.calls[c]}x)" for c in denials)


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Variables set for a block (the functions read them on their next call), then as they were."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# --------------------------------------------------------------------------------------------------
# R20's log search: every log line of the e2e run is kept, and tests/e2e/test_log_search.py (run last)
# searches them for the samples' personal data (tests/log_search.py)


@pytest.fixture(scope="session", autouse=True)
def log_capture() -> Iterator[LogCapture]:
    """Installed before the local cloud starts (autouse comes first), so its own start-up lines count too."""
    capture = LogCapture().install()
    yield capture
    capture.uninstall()


@pytest.fixture(autouse=True)
def _capture_new_loggers(log_capture: LogCapture) -> None:
    log_capture.attach()  # loggers created since (a function imported on its first call)


@pytest.fixture(scope="package", autouse=True)
def _capture_ends_with_the_e2e_tests(log_capture: LogCapture) -> Iterator[None]:
    """The capture comes off the loggers once the last e2e test of a stretch is done (the tests a pytest-xdist
    worker may run next are not the e2e run's), and goes on again when the worker comes back to e2e tests (a
    module apart is a scope of its own); its lines stay for the session."""
    log_capture.install()
    yield
    log_capture.uninstall()


@pytest.fixture(scope="module", autouse=True)
def _r20_for_modules_apart(request: pytest.FixtureRequest, log_capture: LogCapture) -> Iterator[None]:
    """R20 for a module apart from the session's cloud (it may run on the other worker, whose lines the session's
    log search never sees): no line it logged, its cloud's start and stop included, holds the samples' personal
    data. The same search as test_log_search.py's (tests/log_search.py; its negative control is in
    tests/unit/test_log_search.py)."""
    if not apart(request.node.nodeid):
        yield
        return
    start = len(log_capture.snapshot())
    yield
    found = leaks(log_capture.snapshot()[start:], personal_values(SAMPLES))
    assert not found, f"{len(found)} log line(s) hold personal data (R20):\n" + "\n".join(found[:50])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The README's tour is the first e2e test (its own cloud comes and goes before the session's starts); the
    IAM check and the log search run after every other test of the session, so they see its calls and lines
    (the log search very last). The e2e tests run after the others, in one stretch."""

    def module(item: pytest.Item) -> str:
        return item.nodeid.split("::")[0]

    tour = [i for i in items if module(i).endswith("e2e/test_readme_tour.py")]
    iam = [i for i in items if module(i).endswith("e2e/test_iam_enforced.py")]
    last = [i for i in items if module(i).endswith("e2e/test_log_search.py")]
    rest = [i for i in items if i not in tour and i not in iam and i not in last]
    # and the e2e tests after the others, together: the session's cloud stops when the last of them is done
    e2e = [i for i in rest if "e2e/" in module(i)]
    items[:] = [i for i in rest if "e2e/" not in module(i)] + tour + e2e + iam + last

"""A warm ingest container's copies of connectors (infra.connector_store.CachedConnectorStore, issue 15): what a
copy saves (the read each signed request paid) and what it may hold back, and for how long (docs/signing.md)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from infra.clock import LocalClock
from infra.connector_store import CONNECTOR_CACHE_TTL, CachedConnectorStore
from infra.memory import InMemoryConnectorStore, InMemoryNonceStore
from infra.signing import AuthRefused, sign, verify

NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")
BODY = b'{"case_no":"GX1"}'
PAST_TTL = CONNECTOR_CACHE_TTL + timedelta(seconds=1)


class Container:
    """One warm ingest container over the table (`table`, which the registry writes from elsewhere)."""

    def __init__(self) -> None:
        self.table = InMemoryConnectorStore()
        self.clock = LocalClock(NOW)  # the services' clock: moved, never slept on
        self.cache = CachedConnectorStore(self.table, self.clock)
        self.nonces = InMemoryNonceStore()
        connector, self.secret = self.table.create("kiosk", "自助终端", "政务服务中心", now=NOW)
        self.connector_id = connector.connector_id
        self.reads = 0  # the table reads the requests made (the registry's writes read it too: not counted)

    def post(self, secret: str | None = None) -> str:
        """'ok', or the refusal's code; signed now, with a fresh nonce."""
        now, before = self.clock.now(), self.table.reads
        headers = sign(secret or self.secret, BODY, int(now.timestamp()), connector_id=self.connector_id)
        try:
            verify(headers, BODY, connectors=self.cache, nonces=self.nonces, now=now)
        except AuthRefused as refused:
            return refused.problems[0].code
        finally:
            self.reads += self.table.reads - before
        return "ok"


def test_a_copy_saves_the_read_for_its_ttl_then_reads_again() -> None:
    hub = Container()
    assert [hub.post() for _ in range(5)] == ["ok"] * 5
    assert hub.reads == 1
    hub.clock.advance(PAST_TTL)
    assert hub.post() == "ok" and hub.reads == 2


def test_without_the_cache_every_request_reads() -> None:  # the negative control of the count above
    hub = Container()
    hub.cache = hub.table  # type: ignore[assignment]
    assert [hub.post() for _ in range(5)] == ["ok"] * 5 and hub.reads == 5


def test_a_rotated_key_works_at_once_and_the_old_one_keeps_its_grace() -> None:
    hub = Container()
    assert hub.post() == "ok"  # the copy holds the old key
    _, new = hub.table.rotate(hub.connector_id, now=hub.clock.now(), grace=timedelta(hours=1))  # the registry
    assert hub.post(new) == "ok"  # refused by the copy, accepted by the fresh read
    assert hub.reads == 2
    assert hub.post(new) == "ok" and hub.post(hub.secret) == "ok"  # the fresh copy: new key, old one in its grace
    assert hub.reads == 2


def test_the_grace_period_ends_on_time_from_the_copy() -> None:
    hub = Container()
    _, new = hub.table.rotate(hub.connector_id, now=hub.clock.now(), grace=timedelta(seconds=10))
    assert hub.post(hub.secret) == "ok"
    hub.clock.advance(timedelta(seconds=11))  # inside the copy's TTL, past the grace the copy carries
    assert hub.post(hub.secret) == "KEY_RETIRED"
    assert hub.post(new) == "ok"


def test_a_disabled_connector_is_refused_once_the_ttl_has_passed() -> None:
    hub = Container()
    assert hub.post() == "ok"
    hub.table.set_status(hub.connector_id, "disabled")  # the registry, in another container
    assert hub.post() == "ok"  # the documented window: this container's copy is up to the TTL old
    hub.clock.advance(PAST_TTL)
    assert hub.post() == "CONNECTOR_DISABLED"


def test_a_second_rotation_retires_the_older_key_within_the_ttl() -> None:
    hub = Container()
    _, second = hub.table.rotate(hub.connector_id, now=hub.clock.now(), grace=timedelta(hours=1))
    assert hub.post(hub.secret) == "ok"  # in its grace, from the copy
    _, third = hub.table.rotate(hub.connector_id, now=hub.clock.now(), grace=timedelta(hours=1))
    assert hub.post(third) == "ok"  # the newest works at once: the fresh read refreshed the copy...
    assert hub.post(hub.secret) == "KEY_RETIRED"  # ...so the oldest is retired at once here too
    hub.clock.advance(PAST_TTL)
    assert hub.post(second) == "ok"


def test_a_signature_failing_against_the_copy_is_checked_against_a_fresh_read() -> None:
    hub = Container()
    assert hub.post() == "ok" and hub.reads == 1
    assert hub.post("never-issued") == "SIGNATURE_INVALID"
    assert hub.reads == 2  # the copy was not trusted to refuse
    assert hub.post() == "ok" and hub.reads == 2


def test_an_unknown_connector_is_never_kept() -> None:
    hub = Container()
    assert hub.cache.get("kiosk-000000000000") is None and hub.cache.get("kiosk-000000000000") is None
    assert hub.table.reads == 2


@pytest.mark.parametrize("back", [timedelta(seconds=1), timedelta(days=60)])
def test_a_clock_set_back_makes_the_copy_stale(back: timedelta) -> None:
    hub = Container()
    assert hub.post() == "ok"
    hub.table.set_status(hub.connector_id, "disabled")
    hub.clock.set(NOW - back)
    assert hub.post() == "CONNECTOR_DISABLED" and hub.reads == 2


def test_a_write_through_the_cache_drops_its_copy() -> None:
    hub = Container()
    assert hub.post() == "ok"
    hub.cache.set_status(hub.connector_id, "disabled", now=hub.clock.now())
    assert hub.post() == "CONNECTOR_DISABLED"
    _, secret = hub.cache.rotate(hub.connector_id, now=hub.clock.now(), grace=timedelta(0))
    hub.cache.set_status(hub.connector_id, "active")
    assert hub.post(secret) == "ok" and hub.post(hub.secret) == "KEY_RETIRED"

"""The registry's rules without the network: scope at ingest (R20), key rotation, who may do what."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from connectors.registry import adapter_for, check_registration
from hub.access import AccessDenied, Principal, PrincipalRole
from hub.errors import Refused
from hub.rating import rating_id_for
from hub.registry import Registration, RegistryService
from infra.bootstrap import in_memory_ingest
from infra.memory import InMemoryConnectorStore, InMemoryNonceStore
from infra.signing import AuthRefused, sign, verify

NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")
MARKET = "11360704MB1C000102"
RATING = {
    "source_rating_id": "U-1",
    "case": {"case_no": "GX2026112700045", "handled_at": "2026-11-27T16:02:11+08:00"},
    "target": {"agency_code": MARKET, "region_code": "360704000000"},
    "channel": "web", "grade": "satisfied", "rated_at": "2026-11-28T10:21:33+08:00",
}  # fmt: skip
MARKET_DEPT = Principal("s1", PrincipalRole.DEPARTMENT, agency_codes=frozenset({MARKET}))


def test_r20_one_rating_out_of_scope_refuses_the_body_before_it_is_archived() -> None:
    services, fakes = in_memory_ingest()
    connector, _ = fakes["connectors"].create("unified", "portal", "市场监管局", now=NOW, owner_agency=MARKET,
                                              agencies=[MARKET], regions=["360704"])  # fmt: skip
    foreign = {**RATING, "source_rating_id": "U-2", "target": {"agency_code": MARKET, "region_code": "360702000000"}}
    body = json.dumps([RATING, foreign]).encode()
    with pytest.raises(Refused) as refused:
        services.service.ingest(connector, adapter_for("unified"), body, "application/json", "req-1", NOW)
    assert [(p.code, p.path) for p in refused.value.problems] == [("CONNECTOR_OUT_OF_SCOPE", "[1].target.region_code")]
    assert fakes["archive"].objects == {}
    assert fakes["ratings"].get(rating_id_for(connector.connector_id, "U-1")) is None
    assert fakes["queue"].messages == []


def test_a_connector_without_scope_reads_as_unrestricted() -> None:
    services, fakes = in_memory_ingest()
    connector, _ = fakes["connectors"].create("unified", "portal", "数据局", now=NOW)
    report = services.service.ingest(connector, adapter_for("unified"), json.dumps(RATING).encode(),
                                     "application/json", "req-1", NOW)  # fmt: skip
    assert [r.outcome for r in report.results] == ["accepted"]


def signed(secret: str, connector_id: str) -> dict[str, str]:
    return sign(secret, b"{}", int(NOW.timestamp()), None, connector_id=connector_id)


def test_the_old_key_signs_within_its_grace_period_and_is_key_retired_after() -> None:
    connectors, nonces = InMemoryConnectorStore(), InMemoryNonceStore()
    connector, old = connectors.create("kiosk", "一号机", "中心", now=NOW)
    _, new = connectors.rotate(connector.connector_id, now=NOW, grace=timedelta(hours=24))
    for secret in (old, new):
        verify(signed(secret, connector.connector_id), b"{}", connectors=connectors, nonces=nonces, now=NOW)
    later = NOW + timedelta(hours=24, seconds=1)
    with pytest.raises(AuthRefused) as refused:
        verify(sign(old, b"{}", int(later.timestamp()), None, connector_id=connector.connector_id), b"{}",
               connectors=connectors, nonces=nonces, now=later)  # fmt: skip
    assert [p.code for p in refused.value.problems] == ["KEY_RETIRED"]


@pytest.mark.parametrize("rotations", [2, 3, 5])
def test_a_key_several_rotations_old_is_key_retired_not_signature_invalid(rotations: int) -> None:
    """Issue 11 item 4: the integrator is told to switch keys, whatever the number of rotations since."""
    connectors, nonces = InMemoryConnectorStore(), InMemoryNonceStore()
    connector, first = connectors.create("kiosk", "一号机", "中心", now=NOW)
    at = NOW
    for _ in range(rotations):
        at += timedelta(days=2)
        _, latest = connectors.rotate(connector.connector_id, now=at, grace=timedelta(hours=1))
    later = at + timedelta(hours=2)
    with pytest.raises(AuthRefused) as refused:
        verify(sign(first, b"{}", int(later.timestamp()), None, connector_id=connector.connector_id), b"{}",
               connectors=connectors, nonces=nonces, now=later)  # fmt: skip
    [p] = refused.value.problems
    assert p.code == "KEY_RETIRED" and "年" in p.message_zh
    # the negative control: a secret the connector never had is still SIGNATURE_INVALID
    with pytest.raises(AuthRefused) as refused:
        verify(sign("never-issued", b"{}", int(later.timestamp()), None, connector_id=connector.connector_id), b"{}",
               connectors=connectors, nonces=nonces, now=later)  # fmt: skip
    assert [p.code for p in refused.value.problems] == ["SIGNATURE_INVALID"]
    verify(sign(latest, b"{}", int(later.timestamp()), None, connector_id=connector.connector_id), b"{}",
           connectors=connectors, nonces=nonces, now=later)  # fmt: skip


def registry() -> RegistryService:
    return RegistryService(InMemoryConnectorStore(), check_registration)


def test_r20_a_department_registers_for_its_own_agencies_only() -> None:
    service = registry()
    connector, secret, _ = service.register(MARKET_DEPT, Registration(name="业务系统", kind="vertical_system"), NOW)
    assert connector.owner_agency == MARKET and connector.agencies == (MARKET,) and secret
    with pytest.raises(AccessDenied) as denied:
        service.register(MARKET_DEPT, Registration(name="x", kind="kiosk", agencies=("11360704MB1C000405",)), NOW)
    assert denied.value.code == "SCOPE_INVALID"
    management = Principal("s2", PrincipalRole.MANAGEMENT, region_code="360704000000")
    with pytest.raises(AccessDenied):
        service.register(management, Registration(name="x", kind="kiosk"), NOW)
    assert [c.connector_id for c in service.visible(management)] == [connector.connector_id]
    elsewhere = Principal("s3", PrincipalRole.MANAGEMENT, region_code="360702000000")
    assert service.visible(elsewhere) == []


@pytest.mark.parametrize("grace", [timedelta(seconds=-1), timedelta(days=31)])
def test_a_grace_period_is_between_zero_and_thirty_days(grace: Any) -> None:
    service = registry()
    connector, _, _ = service.register(MARKET_DEPT, Registration(name="业务系统", kind="vertical_system"), NOW)
    with pytest.raises(Refused):
        service.rotate(MARKET_DEPT, connector.connector_id, NOW, grace)

"""Request signing: what a connector computes, what the hub refuses, and what a refusal leaves behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.memory import InMemoryConnectorStore, InMemoryNonceStore
from infra.signing import HEADERS, AuthRefused, sign, signature, verify

NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")
TS = int(NOW.timestamp())
NONCE = "n0nce-0123456789abcdef"
BODY = b'{"case_no":"GX1"}'

nonces = st.from_regex(r"\A[A-Za-z0-9_-]{16,128}\Z")
timestamps = st.integers(min_value=TS - 300, max_value=TS + 300)


def stores(status: str = "active") -> tuple[InMemoryConnectorStore, InMemoryNonceStore, str, str]:
    connectors = InMemoryConnectorStore()
    connector, secret = connectors.create("kiosk", "自助终端", "政务服务中心", now=NOW)
    if status != "active":
        connectors.set_status(connector.connector_id, "disabled")
    return connectors, InMemoryNonceStore(), connector.connector_id, secret


def check(headers: dict[str, str], body: bytes, connectors: InMemoryConnectorStore, nonce_store: InMemoryNonceStore,
          path_connector_id: str | None = None) -> str:  # fmt: skip
    connector = verify(headers, body, connectors=connectors, nonces=nonce_store, now=NOW,
                       path_connector_id=path_connector_id)  # fmt: skip
    return connector.connector_id


def refusal(headers: dict[str, str], body: bytes, *args: object, **kwargs: object) -> tuple[int, str]:
    with pytest.raises(AuthRefused) as refused:
        check(headers, body, *args, **kwargs)  # type: ignore[arg-type]
    [p] = refused.value.problems
    assert p.message and p.message_zh
    return refused.value.status, p.code


def test_the_signature_is_the_documented_hmac() -> None:
    # the vector of docs/signing.md, computed there with openssl
    expected = "bd408b05b947f6305468eeb3d8c850352d3e922574b0198b961f011fe18431c5"
    assert signature("demo-secret-do-not-use", BODY, 1795829400, NONCE) == expected
    headers = sign("demo-secret-do-not-use", BODY, 1795829400, NONCE, connector_id="kiosk-1")
    assert headers == {"X-Hcp-Connector": "kiosk-1", "X-Hcp-Timestamp": "1795829400",
                       "X-Hcp-Nonce": NONCE, "X-Hcp-Signature": expected}  # fmt: skip


@given(body=st.binary(max_size=4096), timestamp=timestamps, nonce=nonces)
def test_any_body_timestamp_and_nonce_round_trip(body: bytes, timestamp: int, nonce: str) -> None:
    connectors, nonce_store, connector_id, secret = stores()
    headers = sign(secret, body, timestamp, nonce, connector_id=connector_id)
    assert check(headers, body, connectors, nonce_store) == connector_id


@given(body=st.binary(min_size=1, max_size=2048), data=st.data())
def test_any_single_bit_flipped_in_the_body_fails(body: bytes, data: st.DataObject) -> None:
    connectors, nonce_store, connector_id, secret = stores()
    headers = sign(secret, body, TS, NONCE, connector_id=connector_id)
    bit = data.draw(st.integers(min_value=0, max_value=len(body) * 8 - 1))
    tampered = bytearray(body)
    tampered[bit // 8] ^= 1 << (bit % 8)
    assert refusal(headers, bytes(tampered), connectors, nonce_store) == (401, "SIGNATURE_INVALID")
    assert len(nonce_store) == 0  # a wrongly signed request does not use up its nonce


@pytest.mark.parametrize("missing", HEADERS)
def test_a_missing_header_is_SIGNATURE_MISSING(missing: str) -> None:
    connectors, nonce_store, connector_id, secret = stores()
    headers = sign(secret, BODY, TS, NONCE, connector_id=connector_id)
    del headers[missing]
    assert refusal(headers, BODY, connectors, nonce_store) == (401, "SIGNATURE_MISSING")


@pytest.mark.parametrize(
    ("header", "value"),
    [("X-Hcp-Nonce", "short"), ("X-Hcp-Nonce", "0123456789abcdef\nX"), ("X-Hcp-Timestamp", "1795829400.5")],
)
def test_a_malformed_nonce_or_timestamp_is_refused(header: str, value: str) -> None:
    connectors, nonce_store, connector_id, secret = stores()
    headers = sign(secret, BODY, TS, NONCE, connector_id=connector_id) | {header: value}
    assert refusal(headers, BODY, connectors, nonce_store) == (401, "SIGNATURE_MISSING")


def test_header_names_are_case_insensitive() -> None:
    connectors, nonce_store, connector_id, secret = stores()
    headers = {k.lower(): v for k, v in sign(secret, BODY, TS, NONCE, connector_id=connector_id).items()}
    assert check(headers, BODY, connectors, nonce_store) == connector_id


def test_another_connectors_secret_does_not_sign() -> None:
    connectors, nonce_store, connector_id, _ = stores()
    _, other_secret = connectors.create("kiosk", "另一台", "政务服务中心", now=NOW)
    headers = sign(other_secret, BODY, TS, NONCE, connector_id=connector_id)
    assert refusal(headers, BODY, connectors, nonce_store) == (401, "SIGNATURE_INVALID")


@pytest.mark.parametrize("offset", [-301, 301, -3600, 86400])
def test_a_timestamp_more_than_5_minutes_off_the_hubs_clock_is_expired(offset: int) -> None:
    connectors, nonce_store, connector_id, secret = stores()
    headers = sign(secret, BODY, TS + offset, NONCE, connector_id=connector_id)
    assert refusal(headers, BODY, connectors, nonce_store) == (401, "TIMESTAMP_EXPIRED")
    assert len(nonce_store) == 0


@pytest.mark.parametrize("offset", [-300, -299, 0, 299, 300])
def test_a_timestamp_within_5_minutes_is_accepted(offset: int) -> None:
    connectors, nonce_store, connector_id, secret = stores()
    assert check(sign(secret, BODY, TS + offset, NONCE, connector_id=connector_id), BODY, connectors, nonce_store)


def test_a_replay_is_NONCE_REUSED_even_with_a_fresh_timestamp() -> None:
    connectors, nonce_store, connector_id, secret = stores()
    check(sign(secret, BODY, TS, NONCE, connector_id=connector_id), BODY, connectors, nonce_store)
    replay = sign(secret, BODY, TS + 60, NONCE, connector_id=connector_id)
    assert refusal(replay, BODY, connectors, nonce_store) == (401, "NONCE_REUSED")


def test_a_tampered_request_does_not_burn_the_nonce_of_the_genuine_one() -> None:
    connectors, nonce_store, connector_id, secret = stores()
    genuine = sign(secret, BODY, TS, NONCE, connector_id=connector_id)
    assert refusal(genuine, BODY + b" ", connectors, nonce_store) == (401, "SIGNATURE_INVALID")
    assert check(genuine, BODY, connectors, nonce_store) == connector_id


def test_nonces_are_per_connector() -> None:
    connectors, nonce_store, connector_id, secret = stores()
    other, other_secret = connectors.create("kiosk", "另一台", "政务服务中心", now=NOW)
    check(sign(secret, BODY, TS, NONCE, connector_id=connector_id), BODY, connectors, nonce_store)
    assert check(sign(other_secret, BODY, TS, NONCE, connector_id=other.connector_id), BODY, connectors, nonce_store)


def test_an_unknown_connector_is_401() -> None:
    connectors, nonce_store, _, secret = stores()
    headers = sign(secret, BODY, TS, NONCE, connector_id="kiosk-000000000000")
    assert refusal(headers, BODY, connectors, nonce_store) == (401, "CONNECTOR_UNKNOWN")


def test_the_raw_route_needs_the_header_to_name_the_paths_connector() -> None:
    connectors, nonce_store, connector_id, secret = stores()
    headers = sign(secret, BODY, TS, NONCE, connector_id=connector_id)
    assert refusal(headers, BODY, connectors, nonce_store, path_connector_id="kiosk-other") == (
        401,
        "CONNECTOR_UNKNOWN",
    )
    assert check(headers, BODY, connectors, nonce_store, path_connector_id=connector_id) == connector_id


def test_a_disabled_connector_is_403_after_its_signature_checks_and_keeps_its_nonce() -> None:
    connectors, nonce_store, connector_id, secret = stores(status="disabled")
    assert refusal(sign(secret, BODY, TS, NONCE, connector_id=connector_id), BODY, connectors, nonce_store) == (
        403,
        "CONNECTOR_DISABLED",
    )
    assert len(nonce_store) == 0
    wrong = sign("not-the-secret", BODY, TS, NONCE, connector_id=connector_id)
    assert refusal(wrong, BODY, connectors, nonce_store) == (401, "SIGNATURE_INVALID")


def test_an_uppercase_hex_signature_is_accepted() -> None:
    connectors, nonce_store, connector_id, secret = stores()
    headers = sign(secret, BODY, TS, NONCE, connector_id=connector_id)
    headers["X-Hcp-Signature"] = headers["X-Hcp-Signature"].upper()
    assert check(headers, BODY, connectors, nonce_store) == connector_id


def test_sign_draws_a_valid_nonce_and_refuses_a_bad_one() -> None:
    connectors, nonce_store, connector_id, secret = stores()
    headers = sign(secret, BODY, TS, connector_id=connector_id)
    assert check(headers, BODY, connectors, nonce_store) == connector_id
    with pytest.raises(ValueError):
        sign(secret, BODY, TS, "has space in it!!")


def test_a_remembered_nonce_is_forgotten_after_its_ttl() -> None:
    store = InMemoryNonceStore()
    ten = timedelta(minutes=10)
    assert store.remember("c", NONCE, now=NOW, ttl=ten)
    assert not store.remember("c", NONCE, now=NOW + timedelta(minutes=9), ttl=ten)
    assert store.remember("c", NONCE, now=NOW.astimezone(UTC) + timedelta(minutes=11), ttl=ten)

"""infra.oidc against a real OIDC issuer on loopback (its discovery document and JWKS over HTTP, its own RSA and
EC keys, Keycloak-style claims): any issuer signs people in, and every way a token can be wrong is refused with
its code. The key cache runs on an injected clock, so rotation and expiry of the cache are driven, not waited."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwk

from infra.oidc import IssuerUnavailable, JwksCache, OidcVerifier, TokenRefused, fetch_https
from infra.settings import SignInSettings
from tests.oidc_issuer import AUDIENCE, LoopbackIssuer

MARKET = "11360704MB1C000102"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def served() -> Iterator[LoopbackIssuer]:
    with LoopbackIssuer() as issuer:
        yield issuer


@pytest.fixture
def idp(served: LoopbackIssuer) -> LoopbackIssuer:
    """The issuer as it starts: its two keys published, answering, nothing fetched yet."""
    served.published[:] = [served.rsa, served.ec]
    served.requests.clear()
    served.down = False
    return served


@pytest.fixture
def clock() -> Clock:
    return Clock()


def keycloak_settings(idp: LoopbackIssuer, **overrides: Any) -> SignInSettings:
    environ = {"OIDC_ISSUER": idp.issuer, "OIDC_AUDIENCE": AUDIENCE, "OIDC_ROLES_CLAIM": "realm_access.roles",
               "OIDC_AGENCY_CLAIM": "agency_code", "OIDC_REGION_CLAIM": "region_code",
               "OIDC_USERNAME_CLAIM": "preferred_username", **overrides}  # fmt: skip
    return SignInSettings.from_env(environ)


@pytest.fixture
def verifier(idp: LoopbackIssuer, clock: Clock) -> OidcVerifier:
    settings = keycloak_settings(idp)
    return OidcVerifier(settings, JwksCache(settings, clock=clock))


def b64(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def refused(verifier: OidcVerifier, token: str, now: float | None = None) -> TokenRefused:
    with pytest.raises(TokenRefused) as caught:
        verifier.verify(f"Bearer {token}", time.time() if now is None else now)
    return caught.value


def test_a_keycloak_id_token_signs_in_with_roles_and_scope_read_by_the_configured_claim_names(
    idp: LoopbackIssuer, verifier: OidcVerifier
) -> None:
    token = idp.id_token(region_code="360704101000")

    identity = verifier.verify(f"Bearer {token}", time.time())

    assert identity.subject == "f1c2a7e0-kc-user"
    assert identity.username == "zhang.san"
    assert identity.roles == ("offline_access", "department")  # realm_access.roles, nested
    assert identity.agency_codes == (MARKET,)
    assert identity.region_code == "360704101000"
    assert identity.context() == {"sub": "f1c2a7e0-kc-user", "username": "zhang.san",
                                  "roles": "offline_access,department", "agency_code": MARKET,
                                  "region_code": "360704101000", "issuer": idp.issuer}  # fmt: skip


def test_an_es256_token_of_the_same_issuer_signs_in_too(idp: LoopbackIssuer, verifier: OidcVerifier) -> None:
    assert verifier.verify(idp.id_token(key=idp.ec), time.time()).roles == ("offline_access", "department")


def test_cognito_claim_names_are_the_defaults_and_flat_role_lists_work(idp: LoopbackIssuer, clock: Clock) -> None:
    settings = SignInSettings.from_env({"OIDC_ISSUER": idp.issuer, "OIDC_AUDIENCE": f"another-client,{AUDIENCE}"})
    verifier = OidcVerifier(settings, JwksCache(settings, clock=clock))
    token = idp.id_token(**{"cognito:groups": ["management"], "custom:region_code": "360704000000",
                            "cognito:username": "ganxian-management", "token_use": "id"})  # fmt: skip

    identity = verifier.verify(token, time.time())  # the raw token, without "Bearer", as API Gateway allows

    assert (identity.username, identity.roles, identity.region_code) == (
        "ganxian-management", ("management",), "360704000000")  # fmt: skip


def test_the_issuers_keys_are_fetched_once_and_reused(idp: LoopbackIssuer, verifier: OidcVerifier) -> None:
    for _ in range(20):
        verifier.verify(idp.id_token(), time.time())

    assert dict(idp.requests) == {"/realms/hcp/.well-known/openid-configuration": 1,
                                  "/realms/hcp/protocol/openid-connect/certs": 1}  # fmt: skip


def forged_none(idp: LoopbackIssuer) -> str:
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(idp.claims(realm_access={'roles': ['operator']}))}."


def hs256_with_the_public_key(idp: LoopbackIssuer) -> str:
    # the classic confusion: "HMAC-signed" with the issuer's public key, which anyone can fetch
    # (joserfc refuses to make such a key at all: forged by hand)
    signing_input = f"{b64({'alg': 'HS256', 'kid': 'rsa-1'})}.{b64(idp.claims())}"
    mac = hmac.new(idp.rsa.as_pem(private=False), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def another_key_same_kid(idp: LoopbackIssuer) -> str:
    stranger = jwk.RSAKey.import_key(rsa.generate_private_key(public_exponent=65537, key_size=2048), {"kid": "rsa-1"})
    return idp.id_token(key=stranger, header={"alg": "RS256", "kid": "rsa-1"})


def altered_payload(idp: LoopbackIssuer) -> str:
    header, _, signature = idp.id_token().split(".")
    return f"{header}.{b64(idp.claims(realm_access={'roles': ['operator']}))}.{signature}"


REFUSALS = {
    "wrong audience": (lambda idp: idp.id_token(aud="some-other-app"), "TOKEN_INVALID", "aud"),
    "wrong issuer": (lambda idp: idp.id_token(iss="https://sso.elsewhere.example/realms/hcp"), "TOKEN_INVALID",
                     "another identity provider"),
    "expired": (lambda idp: idp.id_token(exp=int(time.time()) - 120), "TOKEN_EXPIRED", "TOKEN_EXPIRED"),
    "not yet valid": (lambda idp: idp.id_token(nbf=int(time.time()) + 600), "TOKEN_INVALID", "nbf"),
    "no expiry": (lambda idp: idp.id_token(exp=None), "TOKEN_INVALID", "exp"),
    "bad signature": (another_key_same_kid, "TOKEN_INVALID", "signature"),
    "altered payload": (altered_payload, "TOKEN_INVALID", "signature"),
    "alg none": (forged_none, "TOKEN_INVALID", "algorithm none"),
    "HS256 with the public key": (hs256_with_the_public_key, "TOKEN_INVALID", "algorithm HS256"),
    "unknown kid": (lambda idp: idp.id_token(header={"alg": "RS256", "kid": "rotated-away"}), "TOKEN_INVALID",
                    "unknown kid"),
    "an access token": (lambda idp: idp.id_token(token_use="access"), "TOKEN_INVALID", "ID token"),
    "garbage": (lambda idp: "garbage", "TOKEN_INVALID", "JWT"),
    "three dots of garbage": (lambda idp: "a.b.c", "TOKEN_INVALID", "JWT"),
    "empty": (lambda idp: "", "TOKEN_MISSING", "Bearer"),
}  # fmt: skip


@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_a_bad_token_is_refused_with_its_code(idp: LoopbackIssuer, verifier: OidcVerifier, case: str) -> None:
    make, code, said = REFUSALS[case]

    refusal = refused(verifier, make(idp))

    assert refusal.code == code
    assert said in str(refusal)
    assert (refusal.detail_zh and not refusal.detail_zh.isascii()) or code == "TOKEN_EXPIRED"  # reads as Chinese


def test_the_leeway_forgives_a_minute_of_clock_skew_and_no_more(idp: LoopbackIssuer, verifier: OidcVerifier) -> None:
    now = time.time()
    token = idp.id_token(exp=int(now) - 30, nbf=int(now) + 30)

    assert verifier.verify(token, now).subject  # 30 s either way: within the 60 s leeway
    assert refused(verifier, token, now + 31).code == "TOKEN_EXPIRED"
    assert refused(verifier, token, now - 31).code == "TOKEN_INVALID"


def test_a_rotated_key_is_fetched_at_most_once_a_minute(idp: LoopbackIssuer, verifier: OidcVerifier,
                                                        clock: Clock) -> None:  # fmt: skip
    # GIVEN the keys are cached, and then the issuer publishes a new key
    verifier.verify(idp.id_token(), time.time())
    new = jwk.RSAKey.import_key(rsa.generate_private_key(public_exponent=65537, key_size=2048),
                                {"kid": "rsa-2", "use": "sig", "alg": "RS256"})  # fmt: skip
    idp.published.append(new)
    token = idp.id_token(key=new)

    # WHEN a token signed with it comes within a minute of the last fetch THEN it is refused without a fetch
    clock.now += 59
    assert refused(verifier, token).code == "TOKEN_INVALID"
    assert idp.requests["/realms/hcp/protocol/openid-connect/certs"] == 1
    # ... and after it, the keys are fetched again and it signs in
    clock.now += 1
    assert verifier.verify(token, time.time()).subject == "f1c2a7e0-kc-user"
    assert idp.requests["/realms/hcp/protocol/openid-connect/certs"] == 2


def test_an_issuer_that_does_not_answer_is_unavailable_not_a_refused_token(idp: LoopbackIssuer,
                                                                          verifier: OidcVerifier) -> None:  # fmt: skip
    idp.down = True

    with pytest.raises(IssuerUnavailable, match="503"):
        verifier.verify(idp.id_token(), time.time())


def test_keys_are_fetched_over_https_only_plain_http_from_loopback_alone() -> None:
    with pytest.raises(IssuerUnavailable, match="https"):
        fetch_https("http://sso.example.gov.cn/realms/hcp/protocol/openid-connect/certs", 1.0)


def test_an_issuer_that_accepts_and_never_answers_is_given_up_after_the_timeout(idp: LoopbackIssuer) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        settings = keycloak_settings(idp, OIDC_JWKS_URL=f"http://127.0.0.1:{silent.getsockname()[1]}/certs",
                                     OIDC_JWKS_TIMEOUT_SECONDS="0.2")  # fmt: skip
        started = time.monotonic()
        with pytest.raises(IssuerUnavailable, match="timed out"):
            OidcVerifier(settings).verify(idp.id_token(), time.time())
        assert time.monotonic() - started < 5  # bounded (generous: a shared machine)
    finally:
        silent.close()

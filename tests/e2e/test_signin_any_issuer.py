"""Any OIDC issuer signs people in: the real template on the local cloud with `CreateUserPool=false` — as in the
AWS China regions — and a Keycloak-style issuer on loopback (its own keys, `realm_access.roles`, flat
`agency_code`/`region_code` claims). API Gateway's part is played by invoking the template's own authorizer
function (functions/authorizer.py) with a TOKEN event and honouring its Allow/Deny and context; every refusal is
a 401 with its code, rendered from the template's gateway responses, and the function behind the route never
runs. The people's functions (account, registry, ratings, work orders) read the person from the authorizer."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.localcloud import LocalCloud
from infra.localcloud.hubcloud import LOCAL_RATING_LINK
from tests.oidc_issuer import AUDIENCE, LoopbackIssuer

pytestmark = pytest.mark.e2e
ROOT_TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
MARKET = "11360704MB1C000102"


@pytest.fixture(scope="module")
def idp() -> Iterator[LoopbackIssuer]:
    with LoopbackIssuer() as issuer:
        yield issuer


@pytest.fixture(scope="module")
def cloud(idp: LoopbackIssuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    parameters = {
        "ProvinceEndpoint": "http://127.0.0.1:9/province",
        "RatingLink": LOCAL_RATING_LINK,
        "CreateUserPool": "false",
        "OidcIssuer": idp.issuer,  # its keys: discovered from /.well-known/openid-configuration
        "OidcAudience": AUDIENCE,
        "OidcRolesClaim": "realm_access.roles",
        "OidcAgencyClaim": "agency_code",
        "OidcRegionClaim": "region_code",
        "OidcUsernameClaim": "preferred_username",
    }
    with LocalCloud(ROOT_TEMPLATE, parameters=parameters, stack_name="keycloak",
                    state_dir=tmp_path_factory.mktemp("keycloak-cloud")) as started:  # fmt: skip
        yield started


def call(cloud: LocalCloud, path: str, token: str | None) -> tuple[int, dict[str, str], Any]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    request = urllib.request.Request(cloud.api_url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read() or b"null")


def b64(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
def runs(cloud: LocalCloud) -> Iterator[Any]:
    """How often each function ran since the test began."""
    before = {name: f.invocations for name, f in cloud.functions.items()}
    yield lambda name: cloud.functions[name].invocations - before[name]


def test_the_stack_has_no_user_pool_of_its_own_and_points_its_authorizer_at_the_issuer(
    cloud: LocalCloud, idp: LoopbackIssuer
) -> None:
    env = cloud.functions["AuthorizerFunction"].spec.environment

    assert cloud.user_pools == {}
    assert "UserPool: not created (its condition CreatesUserPool is false)" in cloud.notes
    assert (env["OIDC_ISSUER"], env["OIDC_AUDIENCE"], env["OIDC_ROLES_CLAIM"]) == (
        idp.issuer, AUDIENCE, "realm_access.roles")  # fmt: skip
    assert "UserPoolId" not in cloud.outputs


def test_a_keycloak_person_is_told_their_role_and_scope(cloud: LocalCloud, idp: LoopbackIssuer) -> None:
    status, _, me = call(cloud, "/v1/me", idp.id_token())

    assert status == 200, me
    assert (me["username"], me["subject"], me["role"]) == ("zhang.san", "f1c2a7e0-kc-user", "department")
    assert me["agency_codes"] == [MARKET]


def test_management_with_a_region_claim_and_an_es256_token(cloud: LocalCloud, idp: LoopbackIssuer) -> None:
    token = idp.id_token(key=idp.ec, realm_access={"roles": ["management"]}, agency_code=None,
                         region_code="360704000000", sub="kc-ganxian")  # fmt: skip

    status, _, me = call(cloud, "/v1/me", token)

    assert (status, me["role"], me["region_code"]) == (200, "management", "360704000000")


@pytest.mark.parametrize(("path", "function"), [
    ("/v1/connectors", "RegistryFunction"), ("/v1/ratings", "RatingsQueryFunction"),
    ("/v1/work-orders", "WorkOrdersFunction"),
])  # fmt: skip
def test_every_function_for_people_reads_the_person_the_authorizer_verified(
    cloud: LocalCloud, idp: LoopbackIssuer, runs: Any, path: str, function: str
) -> None:
    status, _, answer = call(cloud, path, idp.id_token(sub=f"kc-{function}"))

    assert status == 200, answer
    assert runs(function) == 1


def test_a_token_naming_none_of_the_hubs_roles_is_403_account_unscoped(cloud: LocalCloud, idp: LoopbackIssuer) -> None:
    status, _, body = call(cloud, "/v1/me", idp.id_token(realm_access={"roles": ["offline_access"]}, sub="kc-nobody"))

    assert (status, [e["code"] for e in body["errors"]]) == (403, ["ACCOUNT_UNSCOPED"])


def _none(idp: LoopbackIssuer) -> str:
    return f"{b64({'alg': 'none'})}.{b64(idp.claims(realm_access={'roles': ['operator']}))}."


def _another_key(idp: LoopbackIssuer) -> str:
    from cryptography.hazmat.primitives.asymmetric import rsa
    from joserfc import jwk

    stranger = jwk.RSAKey.import_key(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return idp.id_token(key=stranger, header={"alg": "RS256", "kid": "rsa-1"})


REFUSED = {
    "no header": (lambda idp: None, "TOKEN_MISSING"),
    "empty bearer": (lambda idp: "", "TOKEN_MISSING"),
    "wrong audience": (lambda idp: idp.id_token(aud="another-app"), "TOKEN_INVALID"),
    "wrong issuer": (lambda idp: idp.id_token(iss="https://sso.elsewhere.example/realms/hcp"), "TOKEN_INVALID"),
    "expired": (lambda idp: idp.id_token(exp=int(time.time()) - 3600), "TOKEN_EXPIRED"),
    "bad signature": (_another_key, "TOKEN_INVALID"),
    "alg none": (_none, "TOKEN_INVALID"),
    "unknown kid": (lambda idp: idp.id_token(header={"alg": "RS256", "kid": "nobody-knows"}), "TOKEN_INVALID"),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_a_refused_token_is_401_with_its_code_and_the_function_never_runs(
    cloud: LocalCloud, idp: LoopbackIssuer, runs: Any, case: str
) -> None:
    make, code = REFUSED[case]

    status, headers, body = call(cloud, "/v1/me", make(idp))

    assert status == 401, body
    assert headers.get("WWW-Authenticate") == "Bearer"
    (error,) = body["errors"]
    assert (error["code"], error["path"]) == (code, "Authorization")
    assert error["message"] and not error["message_zh"].isascii()
    assert runs("AccountFunction") == 0
    # a missing header is refused by API Gateway itself, without calling the authorizer
    assert runs("AuthorizerFunction") == (0 if case == "no header" else 1)


def test_the_authorizers_answer_is_cached_per_token_and_the_keys_fetched_once(
    cloud: LocalCloud, idp: LoopbackIssuer, runs: Any
) -> None:
    call(cloud, "/v1/me", idp.id_token(sub="kc-warm"))  # the container is warm, its keys fetched
    certs = f"{idp.issuer.removeprefix(idp.base)}/protocol/openid-connect/certs"
    fetched, verified = idp.requests[certs], runs("AuthorizerFunction")
    token = idp.id_token(sub="kc-cached")

    answers = [call(cloud, "/v1/me", token)[0] for _ in range(3)]

    assert answers == [200, 200, 200]
    assert runs("AuthorizerFunction") - verified == 1  # ReauthorizeEvery: 300 s per token
    assert runs("AccountFunction") == 4
    assert idp.requests[certs] == fetched  # the JWKS comes from the container's cache

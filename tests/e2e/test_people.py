"""People sign in with the stack's Cognito user pool (moto's, its JWKS on loopback): the template's own authorizer
function, invoked by the local cloud as API Gateway invokes a Lambda TOKEN authorizer, in front of GET /v1/me; the
demo users and their tokens, `hcp local users|token`. Every refusal is a 401 with its code, and the function
behind the route is never invoked (as in API Gateway). The role and scope that come through decide what a
person sees (R18, R20). Any other OIDC issuer: test_signin_any_issuer.py."""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwk, jwt
from moto.utilities.utils import load_resource

from cli.main import main as hcp
from infra.localcloud.people import DEMO_USERS, UnknownUser, id_token

from .conftest import Hub

MOTO_IDP_KEY = load_resource("cognitoidp/resources/jwks-private.json")  # the key moto signs its tokens with


@pytest.fixture
def account_invocations(hub: Hub) -> Iterator[Any]:
    """How many times the account function ran since the test began."""
    function = hub.cloud.functions["AccountFunction"]
    before = function.invocations
    yield lambda: function.invocations - before


def payload_of(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def signed_by(key: Any, claims: dict[str, Any]) -> str:
    return jwt.encode({"alg": "RS256", "kid": "dummy"}, claims, key)


def assert_refused(answer: tuple[int, Any], code: str) -> None:
    status, body = answer
    assert status == 401, body
    assert [(e["code"], e["path"]) for e in body["errors"]] == [(code, "Authorization")]
    assert body["errors"][0]["message"] and body["errors"][0]["message_zh"]


def test_without_a_token_the_route_answers_401_token_missing_and_the_function_never_runs(
    hub: Hub, account_invocations: Any
) -> None:
    assert_refused(hub.call("GET", "/v1/me"), "TOKEN_MISSING")
    assert_refused(hub.call("GET", "/v1/me", headers={"Authorization": "Bearer "}), "TOKEN_MISSING")

    assert account_invocations() == 0


@pytest.mark.parametrize("value", ["Bearer garbage", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 5000])
def test_a_token_that_is_no_jwt_is_401_token_invalid(hub: Hub, account_invocations: Any, value: str) -> None:
    assert_refused(hub.call("GET", "/v1/me", headers={"Authorization": value}), "TOKEN_INVALID")

    assert account_invocations() == 0


def test_a_token_whose_payload_was_altered_is_401_token_invalid(hub: Hub, account_invocations: Any) -> None:
    # GIVEN a department's genuine token, its payload rewritten to make it an operator of another agency
    header, payload, signature = id_token(hub.cloud.seeded, "market-dept").split(".")
    claims = payload_of(f"{header}.{payload}.{signature}")
    forged = f"{header}.{b64(claims | {'cognito:groups': ['operator'], 'custom:agency_code': '11360702MB1C000105'})}"

    # WHEN it is presented with its original signature THEN it is refused
    assert_refused(
        hub.call("GET", "/v1/me", headers={"Authorization": f"Bearer {forged}.{signature}"}), "TOKEN_INVALID"
    )
    assert account_invocations() == 0


def test_an_expired_token_signed_by_the_identity_provider_is_401_token_expired(
    hub: Hub, account_invocations: Any
) -> None:
    # moto's own private key: the IdP's key, so only the expiry is wrong
    claims = payload_of(id_token(hub.cloud.seeded, "ganxian-management"))
    now = int(time.time())
    expired = signed_by(jwk.RSAKey.import_key(MOTO_IDP_KEY), claims | {"iat": now - 7200, "exp": now - 3600})

    assert_refused(hub.call("GET", "/v1/me", headers={"Authorization": f"Bearer {expired}"}), "TOKEN_EXPIRED")
    assert account_invocations() == 0


def test_a_well_formed_token_signed_by_another_key_is_401_token_invalid(hub: Hub, account_invocations: Any) -> None:
    claims = payload_of(id_token(hub.cloud.seeded, "operator"))
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    foreign = signed_by(jwk.RSAKey.import_key(private), claims)

    assert_refused(hub.call("GET", "/v1/me", headers={"Authorization": f"Bearer {foreign}"}), "TOKEN_INVALID")
    assert account_invocations() == 0


def test_a_token_of_another_user_pool_is_401_token_invalid(hub: Hub, account_invocations: Any) -> None:
    # GIVEN another pool on the same moto server (same signing key, so only the issuer tells them apart)
    cognito = hub.cloud.client("cognito-idp")
    pool = cognito.create_user_pool(PoolName="someone-elses-pool")["UserPool"]["Id"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool, ClientName="theirs", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    cognito.create_group(UserPoolId=pool, GroupName="operator")
    cognito.admin_create_user(UserPoolId=pool, Username="intruder", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool, Username="intruder", Password="Intruder-Pass-1!", Permanent=True)
    cognito.admin_add_user_to_group(UserPoolId=pool, Username="intruder", GroupName="operator")
    theirs = cognito.initiate_auth(
        ClientId=client,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "intruder", "PASSWORD": "Intruder-Pass-1!"},
    )["AuthenticationResult"]["IdToken"]

    assert_refused(hub.call("GET", "/v1/me", headers={"Authorization": f"Bearer {theirs}"}), "TOKEN_INVALID")
    assert account_invocations() == 0


def test_an_access_token_instead_of_the_id_token_is_401_token_invalid(hub: Hub, account_invocations: Any) -> None:
    user = hub.cloud.seeded["users"]["market-dept"]
    access = hub.cloud.client("cognito-idp").initiate_auth(
        ClientId=hub.cloud.seeded["user_pool_client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user["username"], "PASSWORD": user["password"]},
    )["AuthenticationResult"]["AccessToken"]

    status, body = hub.call("GET", "/v1/me", headers={"Authorization": f"Bearer {access}"})

    assert_refused((status, body), "TOKEN_INVALID")
    assert "ID token" in body["errors"][0]["message"]
    assert account_invocations() == 0


@pytest.mark.parametrize("user", DEMO_USERS, ids=[u.name for u in DEMO_USERS])
def test_each_demo_user_is_told_their_role_and_scope_by_v1_me(hub: Hub, user: Any) -> None:
    status, me = hub.call("GET", "/v1/me", user=user.name)

    assert status == 200, me
    assert (me["username"], me["role"]) == (user.name, user.role)
    assert me["agency_codes"] == ([user.agency_code] if user.agency_code else [])
    assert me["region_code"] == user.region_code
    assert me["sees_personal_data"] is (user.role == "auditor")  # R20
    assert me["sees_everything"] is (user.role in ("operator", "auditor"))


def test_the_raw_token_without_bearer_is_accepted_as_api_gateway_does(hub: Hub) -> None:
    status, me = hub.call("GET", "/v1/me", headers={"Authorization": id_token(hub.cloud.seeded, "police-dept")})

    assert (status, me["agency_codes"]) == (200, ["11360704MB1C000405"])


def test_groups_reach_the_function_as_api_gateway_renders_them_and_the_narrowest_role_wins_R20(hub: Hub) -> None:
    # GIVEN an account in two groups: its token carries ["department", "auditor"]; API Gateway hands the
    # function "department,auditor"
    cognito, pool = hub.cloud.client("cognito-idp"), hub.cloud.seeded["user_pool_id"]
    cognito.admin_create_user(
        UserPoolId=pool,
        Username="dept-and-auditor",
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "custom:agency_code", "Value": "11360704MB1C000102"}],
    )
    cognito.admin_set_user_password(
        UserPoolId=pool, Username="dept-and-auditor", Password="Both-Roles-12", Permanent=True
    )
    for group in ("department", "auditor"):
        cognito.admin_add_user_to_group(UserPoolId=pool, Username="dept-and-auditor", GroupName=group)
    token = cognito.initiate_auth(
        ClientId=hub.cloud.seeded["user_pool_client_id"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "dept-and-auditor", "PASSWORD": "Both-Roles-12"},
    )["AuthenticationResult"]["IdToken"]

    status, me = hub.call("GET", "/v1/me", headers={"Authorization": f"Bearer {token}"})

    assert (status, me["role"], me["sees_personal_data"]) == (200, "department", False)


def test_id_token_signs_in_again_when_the_cached_token_expires_within_a_minute(hub: Hub) -> None:
    state = copy.deepcopy(hub.cloud.seeded)
    cached = state["users"]["auditor"]["id_token"]
    state["users"]["auditor"]["expires_at"] = int(time.time()) + 30

    fresh = id_token(state, "auditor")

    assert fresh != cached
    assert state["users"]["auditor"]["expires_at"] > time.time() + 3000
    assert hub.call("GET", "/v1/me", headers={"Authorization": f"Bearer {fresh}"})[1]["role"] == "auditor"


def test_an_unknown_user_is_told_which_users_exist(hub: Hub) -> None:
    with pytest.raises(UnknownUser, match="market-dept, township-unit"):
        id_token(hub.cloud.seeded, "nobody")


def test_hcp_local_users_lists_every_demo_user_with_role_and_scope(
    hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    assert hcp(["local", "users", "--state-dir", str(hub.cloud.state_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert [line.split()[0] for line in lines[: len(DEMO_USERS)]] == [u.name for u in DEMO_USERS]
    assert any(line.split()[:4] == ["market-dept", "department", "agency", "11360704MB1C000102"] for line in lines)
    assert any(line.split()[:4] == ["ganxian-management", "management", "region", "360704000000"] for line in lines)
    assert any(line.split()[:3] == ["auditor", "auditor", "all"] for line in lines)
    assert "password" not in "\n".join(lines).lower()


def test_hcp_local_token_prints_a_token_the_api_accepts(hub: Hub, capsys: pytest.CaptureFixture[str]) -> None:
    assert hcp(["local", "token", "township-unit", "--state-dir", str(hub.cloud.state_dir)]) == 0
    token = capsys.readouterr().out.strip()

    status, me = hub.call("GET", "/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert (status, me["agency_codes"], me["region_code"]) == (200, ["11360704MB1C000203"], "360704101000")


def test_hcp_local_token_for_an_unknown_name_exits_2_naming_the_users(
    hub: Hub, capsys: pytest.CaptureFixture[str]
) -> None:
    assert hcp(["local", "token", "nobody", "--state-dir", str(hub.cloud.state_dir)]) == 2
    assert "known users are: operator, market-dept" in capsys.readouterr().err

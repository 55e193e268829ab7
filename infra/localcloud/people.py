"""The local cloud's demo people: one account per role and scope in the template's user pool, and their tokens.

`seed_users(cloud)` creates them through moto's Cognito as an administrator would (admin_create_user,
a permanent password, the role's group) and signs each one in; `id_token(state, name)` gives a
person's ID token for `Authorization: Bearer`, signing in again when the cached one is about to
expire. `state` is `cloud.seeded` or the local.json the CLI reads (both carry the same keys).
Passwords are generated per run and live only in local.json, on the developer's machine.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import boto3

from hub.access import AGENCY_CLAIM, REGION_CLAIM

REFRESH_MARGIN_SECONDS = 60  # a token expiring within this is replaced


@dataclass(frozen=True)
class DemoUser:
    name: str
    role: str
    agency_code: str | None = None
    region_code: str | None = None
    about: str = ""


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("operator", "operator", about="the hub's operator: everything, personal data masked"),
    DemoUser("market-dept", "department", "11360704MB1C000102", about="赣州市赣县区市场监督管理局"),
    DemoUser("township-unit", "department", "11360704MB1C000203", "360704101000", about="a township body of 赣县区"),
    DemoUser("police-dept", "department", "11360704MB1C000405", about="赣州市赣县区公安局"),
    DemoUser("other-dept", "department", "11360702MB1C000105", about="a department of another county, 章贡区"),
    DemoUser("ganxian-management", "management", region_code="360704000000", about="赣县区 management, its townships"),
    DemoUser("ganzhou-management", "management", region_code="360700000000", about="赣州市 management, its counties"),
    DemoUser("auditor", "auditor", about="reads personal data unmasked (R20), no region: all"),
)


class UnknownUser(KeyError):
    """A name that is not one of the demo users; the message names the known ones."""

    def __str__(self) -> str:
        return str(self.args[0])


def _password() -> str:
    # Meets the pool's policy (12+, upper, lower, digit) whatever the random part holds.
    return f"Hcp-{secrets.token_urlsafe(12)}-Demo7x"


def cognito_client(endpoint: str, region: str) -> Any:
    return boto3.session.Session().client(
        "cognito-idp",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def seed_users(cloud: Any, pool: str = "UserPool", app_client: str = "UserPoolClient") -> dict[str, Any]:
    """Create the demo users in the cloud's user pool and sign each in; what goes into `seeded` (nothing
    when the stack has no pool of its own: people then sign in with the issuer the template names)."""
    if pool not in cloud.resources:
        return {}
    pool_id = cloud.resources[pool]
    client_id = cloud.resources[app_client]
    client = cloud.client("cognito-idp")
    users: dict[str, dict[str, Any]] = {}
    for user in DEMO_USERS:
        attributes = [{"Name": AGENCY_CLAIM, "Value": user.agency_code}] if user.agency_code else []
        if user.region_code:
            attributes.append({"Name": REGION_CLAIM, "Value": user.region_code})
        password = _password()
        client.admin_create_user(
            UserPoolId=pool_id, Username=user.name, UserAttributes=attributes, MessageAction="SUPPRESS"
        )
        client.admin_set_user_password(UserPoolId=pool_id, Username=user.name, Password=password, Permanent=True)
        client.admin_add_user_to_group(UserPoolId=pool_id, Username=user.name, GroupName=user.role)
        entry: dict[str, Any] = {"username": user.name, "password": password, "role": user.role}
        if user.agency_code:
            entry["agency_code"] = user.agency_code
        if user.region_code:
            entry["region_code"] = user.region_code
        entry["about"] = user.about
        entry.update(_sign_in(client, client_id, user.name, password))
        users[user.name] = entry
    return {
        "user_pool_id": pool_id,
        "user_pool_client_id": client_id,
        "cognito_endpoint": cloud.aws_endpoint,
        "users": users,
    }


def _sign_in(client: Any, client_id: str, username: str, password: str) -> dict[str, Any]:
    answer = client.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )["AuthenticationResult"]
    return {"id_token": answer["IdToken"], "expires_at": int(time.time()) + int(answer["ExpiresIn"])}


def id_token(state: dict[str, Any], name: str) -> str:
    """`name`'s ID token; signs in again through the local Cognito when the cached one expires within a
    minute (and caches the new one in `state`)."""
    users = state.get("users") or {}
    if name not in users:
        known = ", ".join(users) or "none (is the local cloud seeded?)"
        raise UnknownUser(f"no demo user {name!r}; the known users are: {known}")
    user = users[name]
    if user.get("id_token") and int(user.get("expires_at") or 0) > time.time() + REFRESH_MARGIN_SECONDS:
        return str(user["id_token"])
    endpoint = state.get("cognito_endpoint") or state["aws_endpoint"]
    pool_id = str(state["user_pool_id"])
    client = cognito_client(endpoint, state.get("region") or pool_id.split("_", 1)[0])
    user.update(_sign_in(client, str(state["user_pool_client_id"]), user["username"], user["password"]))
    return str(user["id_token"])

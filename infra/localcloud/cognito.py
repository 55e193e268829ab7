"""Cognito on the local cloud: the template's user pool, client and groups, and API Gateway's authorizer.

moto's CloudFormation skips Cognito (DESIGN.md §5), so the pool, its clients and groups are created
through moto's cognito-idp API and their `Ref`/`Fn::GetAtt` substituted before the stack deploys.
`CognitoAuthorizer` then does, in front of each route whose SAM Api event declares it, what API
Gateway's Cognito user pool authorizer does: verify the `Authorization` header as an ID token of
that pool (RS256 against the pool's JWKS, issuer, audience, token_use, expiry against the wall
clock) and hand the claims to the function as strings, in `requestContext.authorizer.claims`.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from hub.access import AccessDenied

POOL = "AWS::Cognito::UserPool"
CLIENT = "AWS::Cognito::UserPoolClient"
GROUP = "AWS::Cognito::UserPoolGroup"
TYPES = (POOL, CLIENT, GROUP)

# CreateUserPool / CreateUserPoolClient parameters taken from the template as written; the rest
# (EnabledMfas, DeletionProtection, ...) matters only in AWS.
_POOL_PROPERTIES = ("Policies", "Schema", "AdminCreateUserConfig", "UsernameConfiguration", "AccountRecoverySetting",
                    "UsernameAttributes", "AliasAttributes", "AutoVerifiedAttributes")  # fmt: skip
_CLIENT_PROPERTIES = ("GenerateSecret", "ExplicitAuthFlows", "ReadAttributes", "WriteAttributes",
                      "PreventUserExistenceErrors", "EnableTokenRevocation", "IdTokenValidity",
                      "AccessTokenValidity", "RefreshTokenValidity", "TokenValidityUnits")  # fmt: skip
_DATE_CLAIMS = ("exp", "iat")  # API Gateway renders these as dates: "Tue Apr 04 18:39:39 UTC 2023"


def creation_order(resource_type: str) -> int:
    """Pools before their clients and groups."""
    return TYPES.index(resource_type) if resource_type in TYPES else 0


def create(
    client: Any, logical_id: str, resource: Mapping[str, Any], refs: Mapping[str, str], pseudo: Mapping[str, str]
) -> tuple[str, dict[str, str]]:
    """Create one Cognito resource through moto's API: its `Ref` value and its `Fn::GetAtt` attributes."""
    props = {key: _resolve(value, refs, pseudo) for key, value in resource.get("Properties", {}).items()}
    kind = resource["Type"]
    if kind == POOL:
        name = props.get("UserPoolName")
        if not isinstance(name, str):
            name = f"{pseudo['AWS::StackName']}-{logical_id}"
        options = {k: props[k] for k in _POOL_PROPERTIES if k in props}
        pool = client.create_user_pool(PoolName=name, **options)["UserPool"]
        region = pool["Id"].split("_", 1)[0]
        provider = f"cognito-idp.{region}.amazonaws.com/{pool['Id']}"
        return pool["Id"], {"Arn": pool["Arn"], "ProviderName": provider, "ProviderURL": f"https://{provider}",
                            "UserPoolId": pool["Id"]}  # fmt: skip
    if kind == CLIENT:
        name = props.get("ClientName") if isinstance(props.get("ClientName"), str) else logical_id
        created = client.create_user_pool_client(
            UserPoolId=props["UserPoolId"], ClientName=name, **{k: props[k] for k in _CLIENT_PROPERTIES if k in props}
        )["UserPoolClient"]
        return created["ClientId"], {"ClientId": created["ClientId"], "Name": name}
    if kind == GROUP:
        options = {k: props[k] for k in ("Description", "Precedence", "RoleArn") if k in props}
        group_name = props.get("GroupName") or logical_id
        client.create_group(UserPoolId=props["UserPoolId"], GroupName=group_name, **options)
        return group_name, {}
    raise ValueError(f"{logical_id}: not a Cognito resource ({kind})")


def _resolve(node: Any, refs: Mapping[str, str], pseudo: Mapping[str, str]) -> Any:
    """The literal value of a property: Ref of a resource created before, Fn::Sub of pseudo parameters."""
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            name = node["Ref"]
            if name in refs:
                return refs[name]
            if name in pseudo:
                return pseudo[name]
            raise ValueError(f"Ref {name}: not known when Cognito is created locally")
        if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
            text = node["Fn::Sub"]
            for name, value in {**pseudo, **refs}.items():
                text = text.replace("${" + name + "}", value)
            return text
        return {key: _resolve(value, refs, pseudo) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, refs, pseudo) for item in node]
    return node


def render_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """The claims as API Gateway's REST Cognito authorizer hands them over: every value a string, lists
    (cognito:groups) joined with commas, exp and iat as dates."""
    rendered: dict[str, str] = {}
    for name, value in claims.items():
        if name in _DATE_CLAIMS and isinstance(value, int | float):
            rendered[name] = datetime.fromtimestamp(value, UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
        elif isinstance(value, list | tuple):
            rendered[name] = ",".join(str(item) for item in value)
        elif isinstance(value, bool):
            rendered[name] = "true" if value else "false"
        else:
            rendered[name] = str(value)
    return rendered


class CognitoAuthorizer:
    """API Gateway's Cognito user pool authorizer (no OAuth scopes: ID tokens only) for one pool."""

    def __init__(self, client: Any, aws_endpoint: str, pool_id: str) -> None:
        self.pool_id = pool_id
        self.issuer = f"https://cognito-idp.{pool_id.split('_', 1)[0]}.amazonaws.com/{pool_id}"
        self.jwks_url = f"{aws_endpoint}/{pool_id}/.well-known/jwks.json"
        self._client = client
        self._keys: KeySet | None = None
        self._client_ids: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def _load(self) -> tuple[KeySet, frozenset[str]]:
        with self._lock:
            if self._keys is None:
                with urllib.request.urlopen(self.jwks_url, timeout=10) as response:
                    self._keys = KeySet.import_key_set(json.loads(response.read()))
                clients = self._client.list_user_pool_clients(UserPoolId=self.pool_id, MaxResults=60)
                self._client_ids = frozenset(c["ClientId"] for c in clients["UserPoolClients"])
            return self._keys, self._client_ids

    def claims(self, authorization: str | None, now: float | None = None) -> dict[str, str]:
        """The verified ID token's claims, rendered as API Gateway does, or `AccessDenied` (401)."""
        token = (authorization or "").strip()
        scheme, _, rest = token.partition(" ")
        if scheme.lower() == "bearer":  # API Gateway takes the raw token or `Bearer <token>`
            token = rest.strip()
        if not token:
            raise AccessDenied("TOKEN_MISSING", "send `Authorization: Bearer <id token>`", status=401)
        keys, client_ids = self._load()
        try:
            claims = dict(jwt.decode(token, keys, algorithms=["RS256"]).claims)
        except (JoseError, ValueError, TypeError, KeyError):
            raise AccessDenied("TOKEN_INVALID", "not a token signed by the hub's user pool", status=401) from None
        if claims.get("iss") != self.issuer:
            raise AccessDenied("TOKEN_INVALID", "issued by another user pool", status=401)
        if claims.get("token_use") != "id":
            raise AccessDenied("TOKEN_INVALID", f"a {claims.get('token_use')} token; send the ID token", status=401)
        if claims.get("aud") not in client_ids:
            raise AccessDenied("TOKEN_INVALID", "issued to a client this API does not know", status=401)
        expires = claims.get("exp")
        if not isinstance(expires, int | float):
            raise AccessDenied("TOKEN_INVALID", "the token has no expiry", status=401)
        if expires <= (time.time() if now is None else now):
            raise AccessDenied("TOKEN_EXPIRED", status=401)
        return render_claims(claims)

"""Cognito on the local cloud: the template's user pool, client and groups, where its condition holds.

moto's CloudFormation skips Cognito (DESIGN.md §5), so the pool, its clients and groups are created
through moto's cognito-idp API and their `Ref`/`Fn::GetAtt` substituted before the stack deploys.
Tokens are not checked here: the template's own authorizer function (functions/authorizer.py) verifies
them against the pool's JWKS, which moto serves on loopback (`jwks_url`), invoked as API Gateway does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def jwks_url(aws_endpoint: str, pool_id: str) -> str:
    """Where moto serves the pool's signing keys (AWS: `https://cognito-idp.<region>.amazonaws.com/<pool>/...`)."""
    return f"{aws_endpoint}/{pool_id}/.well-known/jwks.json"


def condition_holds(template: Mapping[str, Any], name: str | None, parameters: Mapping[str, str],
                    pseudo: Mapping[str, str]) -> bool:  # fmt: skip
    """Whether the template's condition `name` (None: no condition) holds for these parameter values, so that
    a resource created here (Cognito in the China regions: never) follows the template's `Condition`."""
    if name is None:
        return True
    conditions = template.get("Conditions") or {}

    def value(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((function, argument),) = node.items()
            if function == "Ref":
                return parameters.get(argument, pseudo.get(argument))
            if function == "Condition":
                return holds(argument)
            if function == "Fn::Equals":
                return str(value(argument[0])) == str(value(argument[1]))
            if function == "Fn::Not":
                return not value(argument[0])
            if function == "Fn::And":
                return all(value(a) for a in argument)
            if function == "Fn::Or":
                return any(value(a) for a in argument)
            raise ValueError(f"condition {name}: {function} is not evaluated locally")
        return node

    def holds(condition: str) -> bool:
        if condition not in conditions:
            raise ValueError(f"the template has no condition {condition}")
        return bool(value(conditions[condition]))

    return holds(name)

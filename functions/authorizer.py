"""The people's authorizer (API Gateway Lambda authorizer, TOKEN type): is `Authorization` a valid ID token?

Any OIDC issuer — the stack's Cognito user pool where one exists, a province's 统一身份认证 platform or
a Keycloak elsewhere (the AWS China regions have no Cognito) — verified by `infra.oidc.OidcVerifier`
against the issuer's JWKS. The answer is API Gateway's:

- Allow on the whole API (the answer is cached per token for the template's `ReauthorizeEvery`,
  so it must cover every route) with the person's `context`: sub, username, roles, agency_code,
  region_code — what functions/account.py turns into a `Principal`;
- Deny with `context` {code, message, message_zh}: the `ACCESS_DENIED` gateway response renders it as
  401 in the hub's error shape (TOKEN_MISSING, TOKEN_INVALID, TOKEN_EXPIRED).

An issuer whose keys cannot be fetched is not the person's fault: that raises, and API Gateway answers
its `AUTHORIZER_CONFIGURATION_ERROR` (503 SIGN_IN_UNAVAILABLE in the template). Only ids and codes are
logged, never a token or a name.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from functions.edge.telemetry import Handler, entry, logger
from hub.errors import CATALOG
from infra import bootstrap
from infra.oidc import OidcVerifier, TokenRefused


def api_wide(method_arn: str) -> str:
    """`arn:…:execute-api:region:account:api/stage/GET/v1/me` → `arn:…:api/stage/*`: every route of the stage."""
    base, _, path = method_arn.partition("/")
    stage = path.split("/", 1)[0]
    return f"{base}/{stage}/*" if stage else method_arn


def policy(principal: str, effect: str, resource: str, context: dict[str, str]) -> dict[str, Any]:
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
        "context": context,
    }


def _json_safe(text: str) -> str:
    # The gateway response pastes these into a JSON template as they are.
    return text.replace("\\", "/").replace('"', "'").replace("\n", " ")


def make_handler(build: Callable[[], OidcVerifier] = bootstrap.verifier_from_env) -> Handler:
    """A Lambda handler over the verifier `build` makes on first use: one per container, its JWKS cache
    outliving the invocation."""
    verifier = bootstrap.BuiltOnce(build)

    def authorize(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return _authorize(verifier(), event)

    return entry(authorize, metrics_on=False)


def _authorize(verifier: OidcVerifier, event: dict[str, Any]) -> dict[str, Any]:
    token = event.get("authorizationToken")
    if token is None:  # a REQUEST authorizer's event
        headers = event.get("headers") or {}
        token = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
    method_arn = str(event.get("methodArn") or "")
    try:
        identity = verifier.verify(token, time.time())
    except TokenRefused as refused:
        logger.info("token refused", extra={"code": refused.code})
        _, english, chinese = CATALOG[refused.code]
        answer = {"code": refused.code, "message": _json_safe(english.format(detail=refused.detail)),
                  "message_zh": _json_safe(chinese.format(detail=refused.detail_zh))}  # fmt: skip
        return policy("anonymous", "Deny", method_arn, answer)
    logger.info("signed in", extra={"subject": identity.subject, "roles": identity.roles})
    return policy(identity.subject, "Allow", api_wide(method_arn), identity.context())


handler = make_handler()

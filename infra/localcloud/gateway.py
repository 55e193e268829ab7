"""The local cloud's API Gateway: routes a request to its function as a proxy event, plays Lambda TOKEN
authorizers (cached per token for ReauthorizeEvery) and the API's gateway responses, plays the limits of a proxy
integration (a function past its timeout is abandoned and answered 502, as Lambda stops it and API Gateway gets no
result; one not answering within 29 s is answered 504, INTEGRATION_TIMEOUT), and serves the local admin routes
(`/_local/status`, `/_local/clock`, `/_local/drain`). `LocalCloud` serves it over HTTP (`api.ApiServer`) and owns
what it routes to.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .api import (
    ACCOUNT_ID,
    INTEGRATION_TIMEOUT_S,
    Reply,
    Route,
    gateway_response,
    json_reply,
    match,
    proxy_event,
    reply_from_proxy_result,
)
from .lambdas import InvocationTimedOut, LocalFunction
from .schedules import parse_duration

if TYPE_CHECKING:
    from .cloud import LocalCloud

log = logging.getLogger("hcp.localcloud")


class ApiGateway:
    """API Gateway in front of `cloud`'s functions: `dispatch` is the HTTP server's handler."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self._authorizer_cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}  # ReauthorizeEvery

    def dispatch(self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes,
                  client_ip: str, host: str) -> Reply:
        path = urlsplit(raw_path).path
        if self.cloud._suspended.is_set():
            return json_reply(503, {"message": "this local cloud is suspended while another one runs in its process"})
        if path.startswith("/_local/"):
            return self.admin(method, path, body)
        found = match(self.cloud.routes, method, path)
        if found is None:  # the same path with its stage prefix, as in the AWS URL
            for stage in {r.stage for r in self.cloud.routes}:
                if path.startswith(f"/{stage}/"):
                    found = match(self.cloud.routes, method, path[len(stage) + 1 :])
                    raw_path = raw_path[len(stage) + 1 :]
                    break
        if found is None:
            return json_reply(404, {"message": f"no route for {method} {path}",
                                    "routes": [f"{r.method} {r.resource}" for r in self.cloud.routes]})
        route, params = found
        person: dict[str, str] | None = None
        if route.authorizer is not None:
            person_or_refusal = self.authorize(route, method, raw_path, headers)
            if isinstance(person_or_refusal, Reply):
                return person_or_refusal  # as API Gateway: the function is never invoked
            person = person_or_refusal
        event = proxy_event(route, method, raw_path, headers, body, params, client_ip, self.cloud.clock.now(), host)
        if person is not None:
            event["requestContext"]["authorizer"] = person
        function = self.cloud.functions[route.function]
        if function.spec.timeout > INTEGRATION_TIMEOUT_S:
            return self._within_integration_timeout(route, function, event, method, path)
        try:  # Lambda stops the function at its timeout: no proxy result, so API Gateway answers 502
            result = function.invoke(event, enforce_timeout=True)
        except InvocationTimedOut:
            log.warning("%s ran past its timeout of %d s serving %s %s: 502, as API Gateway answers",
                        route.function, function.spec.timeout, method, path)  # fmt: skip
            return json_reply(502, {"message": "Internal server error"})
        except Exception:
            log.exception("%s failed serving %s %s", route.function, method, path)
            return json_reply(502, {"message": "Internal server error"})
        return reply_from_proxy_result(result)

    def _within_integration_timeout(self, route: Route, function: LocalFunction, event: dict[str, Any],
                                    method: str, path: str) -> Reply:  # fmt: skip
        """A function whose timeout is beyond API Gateway's 29 s: the caller is answered 504 at 29 s (the API's
        INTEGRATION_TIMEOUT response) while the function runs on, as in AWS."""
        outcome: dict[str, Any] = {}
        done = threading.Event()

        def run() -> None:
            try:
                outcome["result"] = function.invoke(event)
            except Exception:
                log.exception("%s failed serving %s %s", route.function, method, path)
            finally:
                done.set()

        threading.Thread(target=run, name=f"api-{route.function}", daemon=True).start()
        if not done.wait(INTEGRATION_TIMEOUT_S):
            log.warning("%s did not answer %s %s within API Gateway's %d s: 504", route.function, method, path,
                        INTEGRATION_TIMEOUT_S)  # fmt: skip
            api = ((self.cloud.translation.sam if self.cloud.translation else {}).get("Resources", {})
                   .get(route.api) or {})  # fmt: skip
            return gateway_response(api.get("Properties") or {}, "INTEGRATION_TIMEOUT", {})
        if "result" not in outcome:
            return json_reply(502, {"message": "Internal server error"})
        return reply_from_proxy_result(outcome["result"])

    def authorize(
        self, route: Route, method: str, raw_path: str, headers: list[tuple[str, str]]
    ) -> dict[str, str] | Reply:
        """API Gateway's Lambda TOKEN authorizer: invokes the template's authorizer function with the
        `Authorization` header, caches its answer per token for ReauthorizeEvery, and on Allow hands its
        principalId and context to the function; otherwise the API's gateway response (UNAUTHORIZED without
        a header, ACCESS_DENIED on Deny, AUTHORIZER_CONFIGURATION_ERROR when it fails), rendered from the template."""
        function = self.cloud.functions.get(route.authorizer_function or "")
        if function is None:
            return json_reply(501, {"message": f"authorizer {route.authorizer} is not played by the local cloud "
                                               "(Lambda TOKEN authorizers in the template only)"})  # fmt: skip
        api = ((self.cloud.translation.sam if self.cloud.translation else {}).get("Resources", {}).get(route.api) or {})
        api_props = api.get("Properties") or {}
        variables = {"httpMethod": method, "path": urlsplit(raw_path).path}
        token = next((v for k, v in reversed(headers) if k.lower() == "authorization"), "")
        if not token.strip():
            return gateway_response(api_props, "UNAUTHORIZED", variables)
        api_arn = f"arn:aws:execute-api:{self.cloud.region}:{ACCOUNT_ID}:{route.api}"
        method_arn = f"{api_arn}/{route.stage}/{method}{variables['path']}"
        key, now = (function.spec.logical_id, token), time.monotonic()
        cached = self._authorizer_cache.get(key)
        if cached is not None and cached[0] > now:
            answer = cached[1]
        else:
            try:
                answer = function.invoke({"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn})
            except Exception as exc:
                if str(exc) == "Unauthorized":  # the authorizer's way of asking for a 401
                    return gateway_response(api_props, "UNAUTHORIZED", variables)
                log.exception("%s failed authorizing %s %s", function.spec.logical_id, method, raw_path)
                return gateway_response(api_props, "AUTHORIZER_CONFIGURATION_ERROR", variables)
            if route.authorizer_ttl > 0:
                self._authorizer_cache[key] = (now + route.authorizer_ttl, answer)
        context = {str(k): str(v) for k, v in ((answer or {}).get("context") or {}).items()}
        if not _policy_allows((answer or {}).get("policyDocument"), method_arn):
            refusal = {f"authorizer.{name}": value for name, value in context.items()}
            return gateway_response(api_props, "ACCESS_DENIED", variables | refusal)
        return {"principalId": str(answer.get("principalId", "")), **context}

    def admin(self, method: str, path: str, body: bytes) -> Reply:
        if path == "/_local/status" and method == "GET":
            return json_reply(200, self.cloud.status())
        if path == "/_local/clock" and method == "GET":
            return json_reply(200, self.cloud.clock_json([]))
        if path == "/_local/clock" and method == "POST":
            try:
                request = json.loads(body or b"{}")
                set_to = datetime.fromisoformat(request["set"]) if "set" in request else None
                advance = parse_duration(str(request["advance"])) if "advance" in request else None
                if set_to is None and advance is None:
                    raise ValueError('send {"set": ISO-8601 with offset} or {"advance": "3d"}')
                if set_to is not None and set_to.tzinfo is None:
                    raise ValueError(f"{request['set']!r} has no UTC offset, e.g. 2026-11-28T12:00:00+08:00")
            except (ValueError, KeyError, TypeError) as exc:
                return json_reply(400, {"message": str(exc)})
            return json_reply(200, self.cloud.clock_json(self.cloud.move_clock(set_to=set_to, advance=advance)))
        if path == "/_local/drain" and method == "POST":  # `hcp local demo-month`: wait until the queues are empty
            try:
                self.cloud.drain(timeout=120)
            except TimeoutError as exc:
                return json_reply(503, {"message": str(exc)})
            return json_reply(200, {"drained": True})
        return json_reply(404, {"message": f"no local route {method} {path}",
                                "routes": ["GET /_local/status", "GET /_local/clock", "POST /_local/clock",
                                           "POST /_local/drain"]})


def _policy_allows(document: Any, method_arn: str) -> bool:
    """Whether an authorizer's policy allows invoking `method_arn`: some Allow matches it, no Deny does."""
    effects = set()
    for statement in (document or {}).get("Statement") or []:
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        if any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions) and any(
            fnmatch.fnmatchcase(method_arn, r) for r in resources
        ):
            effects.add(statement.get("Effect"))
    return "Allow" in effects and "Deny" not in effects

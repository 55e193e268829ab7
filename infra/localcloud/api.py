"""The template's REST API, served over HTTP on loopback as API Gateway Lambda-proxy events (1.0).

moto cannot deploy SAM's REST API, so the routes are read from the SAM template's function events
(`Type: Api`), as `sam local start-api` does. Paths are served without the stage prefix (like
`sam local`); a request that carries it (`/prod/v1/...`) is accepted too.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import logging
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

log = logging.getLogger("hcp.localcloud")
requests_log = logging.getLogger("hcp.localcloud.requests")  # one line per request: `hcp local up` shows them

IMPLICIT_API = "ServerlessRestApi"  # the API SAM creates for Api events without RestApiId
ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or ANY
    resource: str  # the template path, e.g. /v1/connectors/{connector_id}/ratings
    function: str  # logical id
    api: str  # logical id of the API
    stage: str
    binary_media_types: tuple[str, ...]
    authorizer: str | None = None  # the API's authorizer the event names (Auth.Authorizer), if any
    authorizer_function: str | None = None  # logical id of that Lambda authorizer's function (FunctionArn GetAtt)
    authorizer_ttl: int = 300  # its ReauthorizeEvery: how long API Gateway caches its answer per token

    @property
    def pattern(self) -> re.Pattern[str]:
        parts = []
        for segment in self.resource.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("+}"):
                parts.append(f"(?P<{_group(segment[1:-2])}>.+)")
            elif segment.startswith("{") and segment.endswith("}"):
                parts.append(f"(?P<{_group(segment[1:-1])}>[^/]+)")
            else:
                parts.append(re.escape(segment))
        return re.compile("^/" + "/".join(parts) + "/?$")

    def specificity(self) -> tuple[int, int, int]:
        """API Gateway prefers literal segments over parameters, and parameters over greedy ones."""
        segments = self.resource.strip("/").split("/")
        greedy = sum(s.endswith("+}") for s in segments)
        params = sum(s.startswith("{") for s in segments)
        return (greedy, params - greedy, -len(segments))


def _group(name: str) -> str:
    return "p_" + re.sub(r"\W", "_", name)


def routes_from_sam(sam: dict[str, Any], parameters: dict[str, str]) -> list[Route]:
    resources: dict[str, Any] = sam.get("Resources", {})
    routes = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") != "Api":
                continue
            props = event["Properties"]
            api_ref = props.get("RestApiId", {"Ref": IMPLICIT_API})
            api = api_ref["Ref"] if isinstance(api_ref, dict) else str(api_ref)
            api_props = resources.get(api, {}).get("Properties", {})
            stage = _literal(api_props.get("StageName", "Prod"), parameters)
            binary = tuple(t.replace("~1", "/") for t in api_props.get("BinaryMediaTypes", []))
            method = props["Method"].upper()
            authorizer, function, ttl = _authorizer(props, api_props)
            routes.append(Route("ANY" if method == "ANY" else method, props["Path"], logical_id, api, stage, binary,
                                authorizer, function, ttl))  # fmt: skip
    return sorted(routes, key=Route.specificity)


def _authorizer(event_props: dict[str, Any], api_props: dict[str, Any]) -> tuple[str | None, str | None, int]:
    """The event's `Auth.Authorizer` (else the API's DefaultAuthorizer; "NONE" is none), the logical
    id of its function when it is a Lambda authorizer, and its result TTL (SAM's default 300 s)."""
    api_auth = api_props.get("Auth") or {}
    name = (event_props.get("Auth") or {}).get("Authorizer", api_auth.get("DefaultAuthorizer"))
    if not name or name == "NONE":
        return None, None, 0
    spec = (api_auth.get("Authorizers") or {}).get(name) or {}
    ttl = int((spec.get("Identity") or {}).get("ReauthorizeEvery", 300))
    arn = spec.get("FunctionArn")
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        target = arn["Fn::GetAtt"]
        return name, target[0] if isinstance(target, list) else str(target).split(".", 1)[0], ttl
    return name, None, ttl


INTEGRATION_TIMEOUT_S = 29  # API Gateway's REST integration timeout: longer, and the caller is answered 504

# What API Gateway answers when the API does not customize a gateway response.
_GATEWAY_DEFAULTS = {
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out"),
    "UNAUTHORIZED": (401, "Unauthorized"),
    "ACCESS_DENIED": (403, "User is not authorized to access this resource with an explicit deny"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, None),
}


def gateway_response(api_props: dict[str, Any], kind: str, variables: dict[str, str]) -> Reply:
    """API Gateway's own answer `kind` (UNAUTHORIZED, ACCESS_DENIED, ...) as the API's `GatewayResponses`
    customize it: status, headers, and the JSON template with `$context.X` replaced by `variables[X]`
    (e.g. `authorizer.code`; "" when unknown, as API Gateway renders a missing one)."""
    status, message = _GATEWAY_DEFAULTS.get(kind, (500, None))
    spec = (api_props.get("GatewayResponses") or {}).get(kind)
    if not spec:
        return json_reply(status, {"message": message})
    template = (spec.get("ResponseTemplates") or {}).get("application/json", "")
    body = re.sub(r"\$context\.([A-Za-z0-9_.]+)", lambda m: variables.get(m.group(1), ""), template)
    headers = [(name, str(value).strip("'")) for name, value in
               ((spec.get("ResponseParameters") or {}).get("Headers") or {}).items()]  # fmt: skip
    return Reply(int(spec.get("StatusCode", status)), headers, body.encode("utf-8"))


def _literal(value: Any, parameters: dict[str, str]) -> str:
    if isinstance(value, dict) and "Ref" in value:
        return parameters.get(value["Ref"], value["Ref"])
    return str(value)


def match(routes: Iterable[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in routes:
        if route.method not in (method, "ANY"):
            continue
        found = route.pattern.match(path)
        if found:
            params = {
                name: unquote(found.group(_group(name)))
                for name in re.findall(r"\{([^}+]+)\+?\}", route.resource)
            }
            return route, params
    return None


def wants_base64(content_type: str | None, body: bytes, binary_media_types: Iterable[str]) -> bool:
    """Base64 when the API declares the content type binary (as API Gateway does), and also for any
    body that is not valid UTF-8: API Gateway would corrupt it, and sources send GBK."""
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if any(fnmatch.fnmatch(mime, pattern.lower()) for pattern in binary_media_types):
        return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def proxy_event(
    route: Route,
    method: str,
    raw_path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    path_parameters: dict[str, str],
    source_ip: str,
    now: datetime,
    host: str,
) -> dict[str, Any]:
    """An API Gateway REST proxy event, payload format 1.0."""
    split = urlsplit(raw_path)
    path = unquote(split.path)
    query = parse_qsl(split.query, keep_blank_values=True)
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in query:
        multi_query.setdefault(name, []).append(value)
    content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
    encoded = bool(body) and wants_base64(content_type, body, route.binary_media_types)
    text: str | None
    if not body:
        text = None
    elif encoded:
        text = base64.b64encode(body).decode("ascii")
    else:
        text = body.decode("utf-8")
    request_id = str(uuid.uuid4())
    user_agent = next((v for k, v in headers if k.lower() == "user-agent"), None)
    return {
        "resource": route.resource,
        "path": path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": route.api.lower(),
            "resourceId": "local",
            "resourcePath": route.resource,
            "httpMethod": method,
            "path": f"/{route.stage}{path}",
            "stage": route.stage,
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S %z"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "domainName": host,
            "identity": {"sourceIp": source_ip, "userAgent": user_agent},
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


@dataclass(frozen=True)
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def json_reply(status: int, payload: Any) -> Reply:
    body = json.dumps(payload, ensure_ascii=False, indent=1).encode("utf-8")
    return Reply(status, [("Content-Type", "application/json; charset=utf-8")], body)


def reply_from_proxy_result(result: Any) -> Reply:
    """Write back what the function returned, as API Gateway does; a malformed result is a 502."""
    if not isinstance(result, dict):
        log.error("the function returned %r, not a proxy response", type(result).__name__)
        return json_reply(502, {"message": "Internal server error"})
    headers: list[tuple[str, str]] = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((name, str(v)) for v in values)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    return Reply(int(result.get("statusCode", 200)), headers, raw)


Dispatch = Callable[[str, str, list[tuple[str, str]], bytes, str, str], Reply]


class ApiServer(ThreadingHTTPServer):
    """Hands every request to `dispatch(method, raw_path, headers, body, client_ip, host)`."""

    daemon_threads = True

    def __init__(self, host: str, port: int, dispatch: Dispatch) -> None:
        self.dispatch = dispatch
        super().__init__((host, port), _RequestHandler)


class _RequestHandler(BaseHTTPRequestHandler):
    server: ApiServer
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        started = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = list(self.headers.items())
        host = self.headers.get("Host") or f"{self.server.server_address[0]}:{self.server.server_address[1]}"
        try:
            reply = self.server.dispatch(self.command, self.path, headers, body, self.client_address[0], host)
        except Exception:
            log.exception("local cloud error serving %s %s", self.command, self.path)
            reply = json_reply(502, {"message": "Internal server error"})
        self.send_response(reply.status)
        names = {name.lower() for name, _ in reply.headers}
        for name, value in reply.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        if "content-type" not in names and reply.body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)
        # the path without its query (a query may carry a filter value); never a header or a body
        requests_log.info("%s %s %d %.0f ms", self.command, urlsplit(self.path).path, reply.status,
                          (time.perf_counter() - started) * 1000,
                          extra={"method": self.command, "path": urlsplit(self.path).path, "status": reply.status})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("api: " + format, *args)


def port_taken(host: str, port: int) -> str | None:
    """Why `port` cannot be listened on (e.g. "Address already in use"), or None when it can (0 always can).
    SO_REUSEADDR as the servers set it, so a port in TIME_WAIT is free, a listening one is not."""
    if not port:
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None

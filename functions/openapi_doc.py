"""The OpenAPI module every router shares: one description of the whole hub, served by ingest at
`/openapi.json` and `/docs`, and each function's own.

Each function keeps its own router and its own document (the registry's and the work orders' are also
served beside their routes, `router_document`); `merged` joins them with Powertools' `OpenAPIMerge`, so a
route added to a function appears here without a second list to keep. Built on the first request for a
document, never on a cold start: it imports every API function's module and Powertools' OpenAPI models.
"""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver

# (module, how to get its document): the functions with `Type: Api` events in template.yaml, ingest aside.
OTHER_APIS = (
    "functions.registry",
    "functions.workorders",
    "functions.ratings_api",
    "functions.account",
    "functions.reports",
)
TITLE = "hcp-hub API"
DESCRIPTION = (
    "Every route of the hub. Sources post ratings and completed cases signed with their connector's secret "
    "(HMAC-SHA256, docs/signing.md); people — departments, management, operators, auditors — call the registry, "
    "work-order, ratings and account routes with a Cognito ID token (Authorization: Bearer, docs/people.md). "
    "Errors are `{\"errors\": [{code, path, message, message_zh, ...}]}` throughout."
)


def function_document(module_name: str) -> dict[str, Any]:
    """The OpenAPI document of one function's router, as that function describes itself."""
    module = importlib.import_module(module_name)
    build = getattr(module, "_build_app", None)
    app = build() if build is not None else module.app
    own = getattr(module, "openapi_document", None)
    if own is not None:
        return dict(json.loads(own(app)))
    return dict(json.loads(app.get_openapi_json_schema(title=module_name, version="1")))


def merged(ingest_document: dict[str, Any], base_path: str = "") -> str:
    """Ingest's document and every other API function's, as one JSON document (ingest's components win a
    name they share, its security schemes and examples being the published contract's)."""
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
    from aws_lambda_powertools.event_handler.openapi.models import Server

    merge = OpenAPIMerge(title=TITLE, version="1", description=DESCRIPTION, servers=[Server(url=base_path or "/")],
                         on_conflict="error")  # fmt: skip
    for name in OTHER_APIS:
        merge.add_schema(function_document(name))
    merge.add_schema(ingest_document)  # last: its components overwrite a shared name
    document = merge.get_openapi_schema()
    _paths_in_order(document)
    return json.dumps(document, ensure_ascii=False, indent=2)


def _paths_in_order(document: dict[str, Any]) -> None:
    """Paths sorted, so that /docs lists each resource's routes together whichever function serves them."""
    document["paths"] = dict(sorted(document.get("paths", {}).items()))


# --------------------------------------------------------------------------------------------------
# Documents built once per process (and base path), whichever router asks

_built: dict[tuple[str, str], str] = {}
_lock = threading.RLock()  # a document merges others, each built once too


def built_once(name: str, base_path: str, build: Callable[[], str]) -> str:
    key = (name, base_path)
    with _lock:
        if key not in _built:
            _built[key] = build()
        return _built[key]


def bearer_scheme() -> dict[str, Any]:
    """How people call the hub: the ID token of a person, checked by API Gateway's authorizer."""
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    bearer = HTTPBearer(bearerFormat="JWT", description="the Cognito ID token of a person (docs/people.md)")
    return {"CognitoAuthorizer": bearer}


def router_document(app: APIGatewayRestResolver, title: str, description: str) -> str:
    """A people's router's own document (title, description, the bearer scheme), built when first asked for."""
    return built_once(title, "", lambda: app.get_openapi_json_schema(
        title=title, version="1", security_schemes=bearer_scheme(), description=description,  # type: ignore[arg-type]
    ))  # fmt: skip


def base_path(app: APIGatewayRestResolver) -> str:
    """As Powertools' Swagger route works it out: the stage, when the path carries it."""
    context = app.current_event.request_context
    stage = context.stage
    return f"/{stage}" if stage and stage != "$default" and context.path.startswith(f"/{stage}") else ""


def swagger_html(document: str) -> str:
    from pathlib import Path

    from aws_lambda_powertools.event_handler.openapi import swagger_ui

    folder = Path(swagger_ui.__file__).parent
    js = (folder / "swagger-ui-bundle.min.js").read_text("utf-8")
    css = (folder / "swagger-ui.min.css").read_text("utf-8")
    return swagger_ui.generate_swagger_html(document.replace("</", "<\\/"), js, css, "", None)


def hub_document(app: APIGatewayRestResolver, base: str = "") -> str:
    """The whole hub's API: ingest's routes (`app`) merged with every other function's."""
    from functions.edge.ingest_openapi import ingest_document

    return built_once("hub", base, lambda: merged(json.loads(ingest_document(app, base)), base))

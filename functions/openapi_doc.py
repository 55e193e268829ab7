"""One OpenAPI description of the whole hub, served by ingest at `/openapi.json` and `/docs`.

Each function keeps its own router and its own document (the registry's and the work orders' are also
served beside their routes); this merges them with Powertools' `OpenAPIMerge`, so a route added to a
function appears here without a second list to keep. Built on the first request for the document, never
on ingest's cold start: it imports every API function's module.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

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

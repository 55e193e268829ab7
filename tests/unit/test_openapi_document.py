"""One API description (issue 11, item 10): /openapi.json and /docs describe every route of template.yaml,
merged from the functions' own routers, and built only when asked for (not on ingest's cold start)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from openapi_spec_validator import validate

from functions import ingest
from infra.localcloud.translate import load_template

ROOT = Path(__file__).resolve().parents[2]
# Routes that serve a description rather than being part of the API described.
DOCUMENTATION = {("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/v1/connectors/openapi.json"),
                 ("GET", "/v1/work-orders/openapi.json")}  # fmt: skip


def template_routes() -> set[tuple[str, str]]:
    sam = load_template(ROOT / "template.yaml")
    return {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"])
        for resource in sam["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in (resource["Properties"].get("Events") or {}).values()
        if event["Type"] == "Api"
    }


def get(path: str) -> dict[str, Any]:
    """GET `path` through ingest's handler, as API Gateway (stage prod) would send it; no services needed."""
    handler = ingest.make_handler(lambda: (_ for _ in ()).throw(AssertionError("the docs need no services")))
    request_id = str(uuid.uuid4())
    event = {"resource": path, "path": path, "httpMethod": "GET", "headers": {"Host": "h"},
             "multiValueHeaders": {"Host": ["h"]}, "queryStringParameters": None,
             "multiValueQueryStringParameters": None, "pathParameters": None, "stageVariables": None,
             "requestContext": {"resourcePath": path, "httpMethod": "GET", "path": f"/prod{path}", "stage": "prod",
                                "requestId": request_id, "accountId": "123456789012", "apiId": "abc",
                                "identity": {"sourceIp": "10.0.0.8"}},
             "body": None, "isBase64Encoded": False}  # fmt: skip

    class Context:
        function_name, memory_limit_in_mb, aws_request_id = "IngestFunction", 512, request_id
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:IngestFunction"

    return handler(event, Context())


def test_openapi_json_describes_every_route_of_the_template_and_validates() -> None:
    reply = get("/openapi.json")
    document = json.loads(reply["body"])

    validate(document)
    described = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    missing = template_routes() - DOCUMENTATION - described
    assert missing == set()
    assert {("GET", "/v1/me"), ("GET", "/v1/work-orders"), ("GET", "/v1/ratings"), ("POST", "/v1/connectors"),
            ("POST", "/v1/cases")} <= described  # fmt: skip
    assert document["servers"] == [{"url": "/prod"}]
    schemes = document["components"]["securitySchemes"]
    assert {"CognitoAuthorizer", "HcpConnector", "HcpSignature"} <= set(schemes)
    people = document["paths"]["/v1/work-orders"]["get"]["security"]
    assert people == [{"CognitoAuthorizer": []}]


def test_the_docs_page_carries_the_people_routes_too() -> None:
    reply = get("/docs")
    assert reply["statusCode"] == 200
    assert "/v1/work-orders/{order_id}/actions" in reply["body"] and "/v1/me" in reply["body"]


def test_the_document_is_not_built_on_ingest_cold_start() -> None:
    code = ("import sys, functions.ingest; "
            "print(sorted(m for m in ('functions.registry', 'functions.workorders', 'functions.openapi_doc', "
            "'functions.ratings_api') if m in sys.modules))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr

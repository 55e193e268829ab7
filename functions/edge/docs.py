"""The routes that serve OpenAPI documents; the documents themselves (functions.openapi_doc) are built, and
their module imported, on the first request for one."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from functions.edge.telemetry import metrics


def serve_hub_document(app: APIGatewayRestResolver) -> None:
    """`GET /openapi.json` and `GET /docs` (Swagger UI) on ingest's router: the whole hub's API."""

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_json() -> Response[str]:
        from functions.openapi_doc import base_path, hub_document

        metrics.add_metric(name="DocsRequests", unit=MetricUnit.Count, value=1)
        return Response(200, "application/json", hub_document(app, base_path(app)))

    @app.get("/docs", include_in_schema=False, compress=True)
    def swagger_ui() -> Response[str]:
        from functions.openapi_doc import base_path, hub_document, swagger_html

        metrics.add_metric(name="DocsRequests", unit=MetricUnit.Count, value=1)
        return Response(200, "text/html; charset=utf-8", swagger_html(hub_document(app, base_path(app))))


def serve_router_document(app: APIGatewayRestResolver, path: str, title: str, description: str) -> None:
    """`GET path`: a people's router's own document, beside its routes."""

    @app.get(path, include_in_schema=False)
    def openapi_json() -> Response[str]:
        from functions.openapi_doc import router_document

        return Response(200, "application/json", router_document(app, title, description))

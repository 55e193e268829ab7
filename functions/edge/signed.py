"""The signed-request check (docs/signing.md), once for every route a connector calls: the body as sent,
the connector that signed it (`infra.signing.verify`), or the refusal to answer with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from functions.edge.api import refused
from functions.edge.telemetry import metrics
from functions.http import BadBody, body_of
from hub.ports import Connector
from infra.bootstrap import IngestServices
from infra.signing import AuthRefused, verify


@dataclass(frozen=True, slots=True)
class Signed:
    connector: Connector
    body: bytes
    headers: dict[str, str]  # by lower-case name

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


def signed_request(
    app: APIGatewayRestResolver, services: IngestServices, path_connector_id: str | None = None
) -> Signed | Response[Any]:
    """`Signed`, or the refusal (400/413 body, 401 signature, 403 disabled). Freshness and replay are about
    transport, so they use the wall clock even where the local cloud has moved the business clock
    (`hcp clock set`); in production the two are the same."""
    raw = app.current_event.raw_event
    try:
        body = body_of(raw)
    except BadBody as exc:
        return refused(exc.status, [exc.problem], connector_id=path_connector_id)
    headers = {name.lower(): value for name, value in (raw.get("headers") or {}).items()}
    try:
        connector = verify(
            headers, body, connectors=services.connectors, nonces=services.nonces,
            now=datetime.now(UTC), path_connector_id=path_connector_id,
        )  # fmt: skip
    except AuthRefused as exc:
        metrics.add_metric(name="RequestsUnauthorized", unit=MetricUnit.Count, value=1)
        return refused(exc.status, exc.problems, connector_id=path_connector_id)
    return Signed(connector, body, headers)

"""The registry function: people (signed in through Cognito) register and manage connectors.

    POST  /v1/connectors                    register: a built-in kind or a spec; 201 with the secret, shown once
    GET   /v1/connectors                    the connectors the person may see
    GET   /v1/connectors/{id}               one connector, never its secret
    PATCH /v1/connectors/{id}               name, scope (agencies, regions), spec or settings
    POST  /v1/connectors/{id}/disable       signed requests refused within 30 s (403 CONNECTOR_DISABLED)
    POST  /v1/connectors/{id}/rotate        a new secret; the old one signs until ?grace= (default 24h) ends
    POST  /v1/connectors/{id}/dry-run       a payload in the connector's format read as ingest would; kept nowhere

The person is in the request context (functions.account.principal_of); the bodies are read by
functions.registry_contract; who may do what is hub.registry's, the dry-run hub.ingest.DryRun's.
Never log bodies (a dry-run payload carries raters' personal data, R20) nor secrets: ids, roles, codes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, Response
from aws_lambda_powertools.metrics import MetricUnit

from functions import registry_contract as contract
from functions.account import principal_of
from functions.edge.api import api_handler, share_error_handlers
from functions.edge.docs import serve_router_document
from functions.edge.telemetry import Handler, logger, metrics
from functions.http import body_of, errors, header, reply
from hub.access import Principal
from hub.errors import Refused, problem
from hub.ports import ConnectorChanged
from hub.registry import SpecRejected, connector_view
from infra import bootstrap
from infra.bootstrap import RegistryServices


def _build_app() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()

    def services() -> RegistryServices:
        return app.context["services"]()

    def now() -> datetime:
        return services().clock.now()

    def done(event: str, principal: Principal, connector_id: str, **extra: Any) -> None:
        logger.info(event, extra={"principal": principal.as_log(), "connector_id": connector_id, **extra})
        metrics.add_metric(name=f"Connectors_{event}", unit=MetricUnit.Count, value=1)

    @app.post("/v1/connectors", summary="Register a connector (the secret is in this answer only)", **contract.DOC[201])
    def register() -> Response[str]:
        principal, request = principal_of(app), contract.registration(app)
        connector, secret, warnings = services().registry.register(principal, request, now())
        done("registered", principal, connector.connector_id, kind=connector.kind)
        return reply(201, {"connector": connector_view(connector), "secret": secret, "note": contract.KEEP_THE_SECRET,
                           "warnings": warnings})  # fmt: skip

    @app.get("/v1/connectors", summary="The connectors you may see", **contract.DOC[200])
    def list_connectors() -> Response[str]:
        principal = principal_of(app)
        found = services().registry.visible(principal)
        return reply(200, {"connectors": [connector_view(c) for c in found]})

    @app.get("/v1/connectors/<connector_id>", summary="One connector (never its secret)", **contract.DOC[200])
    def read(connector_id: str) -> Response[str]:
        return reply(200, connector_view(services().registry.read(principal_of(app), connector_id)))

    @app.patch("/v1/connectors/<connector_id>", summary="Change name, scope, spec or settings", **contract.DOC[200])
    def change(connector_id: str) -> Response[str]:
        principal, changes = principal_of(app), contract.changes(app)
        connector = services().registry.change(principal, connector_id, changes, now())
        done("changed", principal, connector_id, fields=sorted(set(changes) - {"sample", "sample_content_type"}))
        return reply(200, connector_view(connector))

    @app.post("/v1/connectors/<connector_id>/disable", summary="Disable a connector (in effect within 30 s)",
              description=contract.TAKES_EFFECT, **contract.DOC[200])  # fmt: skip
    def disable(connector_id: str) -> Response[str]:
        principal = principal_of(app)
        connector = services().registry.disable(principal, connector_id, now())
        done("disabled", principal, connector_id)
        return reply(200, connector_view(connector))

    @app.post("/v1/connectors/<connector_id>/rotate", summary="Rotate the secret (?grace=24h)",
              description=contract.TAKES_EFFECT, **contract.DOC[200])  # fmt: skip
    def rotate(connector_id: str) -> Response[str]:
        principal = principal_of(app)
        grace = contract.grace(app.current_event.get_query_string_value("grace", ""))
        # the grace period is about transport, like a signature's freshness: the wall clock, never the local
        # cloud's business clock (`hcp clock set`); in production the two are the same
        connector, secret = services().registry.rotate(principal, connector_id, datetime.now(UTC), grace)
        done("rotated", principal, connector_id, grace_seconds=int(grace.total_seconds()))
        view = connector_view(connector)
        return reply(200, {"connector": view, "secret": secret, "note": contract.KEEP_THE_SECRET,
                           "previous_key_valid_until": view["previous_key_valid_until"]})  # fmt: skip

    @app.post("/v1/connectors/<connector_id>/dry-run", summary="Read a payload as ingest would", **contract.DOC[200])
    def dry_run(connector_id: str) -> Response[str]:
        from connectors.normalize import report_of
        from connectors.registry import compiled

        principal = principal_of(app)
        svc = services()
        connector = svc.registry.managed(principal, connector_id)
        event = app.current_event.raw_event
        adapter = compiled(connector.kind, connector.settings, connector.spec)
        try:
            items = svc.dry_run.check(connector, adapter, body_of(event), header(event, "content-type"), now())
        except Refused as exc:
            answer = {"outcome": "rejected", "errors": [p.as_dict() for p in exc.problems]}
        else:
            answer = report_of(items)
        done("dry_run", principal, connector_id, outcome=answer["outcome"])
        return reply(200, answer)

    serve_router_document(app, "/v1/connectors/openapi.json", contract.TITLE, contract.DESCRIPTION)

    @app.exception_handler(ConnectorChanged)
    def changed(exc: ConnectorChanged) -> Response[str]:
        return errors(409, [problem("CONNECTOR_CHANGED", "", str(exc)[:64])])

    @app.exception_handler(SpecRejected)
    def spec_rejected(exc: SpecRejected) -> Response[str]:
        logger.info("spec rejected", extra={"codes": [e["code"] for e in exc.errors]})
        return reply(422, {"errors": exc.errors, "warnings": exc.warnings})

    share_error_handlers(app, metric="RegistryErrors")
    return app


def openapi_document(app: APIGatewayRestResolver) -> str:
    """The registry routes' OpenAPI description (functions.openapi_doc merges it into the hub's)."""
    from functions.openapi_doc import router_document

    return router_document(app, contract.TITLE, contract.DESCRIPTION)


def make_handler(build: Callable[[], RegistryServices] = bootstrap.registry_from_env) -> Handler:
    """A Lambda handler over the services `build` makes on first use (tests pass fakes or moto)."""
    return api_handler(_build_app, services=bootstrap.BuiltOnce(build))


handler = make_handler()

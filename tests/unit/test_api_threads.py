"""Concurrent requests in one process (the local cloud runs a function's invocations in threads) each read
their own event and Lambda context, not the latest one's: Powertools keeps both on its BaseRouter class."""

from __future__ import annotations

import threading
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, BaseRouter, Response

from functions.edge.api import api_handler

THREADS = 4


class Context:
    function_name, memory_limit_in_mb, invoked_function_arn = "f", 128, "arn:aws-cn:lambda:cn-north-1:0:function:f"

    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id


def event(n: int) -> dict[str, Any]:
    return {"path": f"/x/{n}", "httpMethod": "GET", "resource": "/x/{n}", "headers": {"X-N": str(n)},
            "requestContext": {"requestId": f"req-{n}"}, "body": None, "isBase64Encoded": False}  # fmt: skip


def concurrent_reads(resolve: Any) -> dict[str, tuple[str, str]]:
    """Every thread inside its route at once (a barrier: all events set before any is read), each reading
    the event's path and the context's request id."""
    inside, seen = threading.Barrier(THREADS), {}

    def build() -> APIGatewayRestResolver:
        app = APIGatewayRestResolver()

        @app.get("/x/<n>")
        def route(n: str) -> Response[str]:
            inside.wait(timeout=30)
            seen[n] = (app.current_event.path, app.lambda_context.aws_request_id)
            return Response(200, "text/plain", n)

        return app

    handler = resolve(build)
    threads = [threading.Thread(target=handler, args=(event(n), Context(f"ctx-{n}"))) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return seen


def test_each_concurrent_request_reads_its_own_event_and_context() -> None:
    seen = concurrent_reads(api_handler)
    assert seen == {str(n): (f"/x/{n}", f"ctx-{n}") for n in range(THREADS)}


def test_without_it_powertools_resolvers_share_the_latest_event() -> None:
    """Negative control: a resolver per thread alone (what the handler did before) reads another's event."""

    def per_thread_only(build: Any) -> Any:
        local = threading.local()

        def handler(event: dict[str, Any], context: Any) -> Any:
            app = getattr(local, "app", None) or build()
            local.app = app
            return app.resolve(event, context)

        return handler

    seen = concurrent_reads(per_thread_only)
    assert len({path for path, _ in seen.values()}) == 1 and BaseRouter.current_event.path in {
        f"/x/{n}" for n in range(THREADS)}  # fmt: skip

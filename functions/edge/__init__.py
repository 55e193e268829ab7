"""The edge kit every function of `functions/` is written with, so that each reads: parse the event, call a
service, shape the reply.

- `telemetry`: one Powertools Logger and Metrics, and the decorators a Lambda entry point wears;
- `api`: the handler factory of the API functions (a resolver per thread, the services built once) and the
  error handlers they share (the hub's error shape: code, path, message, message_zh);
- `signed`: the signed-request check (docs/signing.md), once, for every route a connector calls;
- `contract`, `examples`: ingest's HTTP contract as models and examples for the OpenAPI document;
- `drain`: run a batch-at-a-time service until nothing is due or the invocation's time runs short.

Nothing is imported here: a function imports the parts its first request needs.
"""

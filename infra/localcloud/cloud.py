"""The local cloud: a SAM template deployed into moto, with Lambda's part played in-process.

    with LocalCloud("template.yaml") as cloud:
        requests.post(cloud.api_url + "/v1/ratings", ...)   # an API Gateway proxy event, in-process
        cloud.drain()                                       # every mapped queue consumed
        cloud.move_clock(advance=timedelta(days=3))         # fires the schedule rules it passes

One process runs every function, so their environments are merged (`lambdas.merge_environments`)
into `os.environ`, together with the endpoint and fake credentials that send every boto3 client to
moto; `stop()` restores what was there. Hence one *active* `LocalCloud` per process: starting a
second one (a test module's own, while the session's runs) suspends the first — its API answers
503, its pollers and schedules pause — until the second stops.

Two modes. *Threaded* (`hcp local up`): pollers take messages as they arrive, a thread fires the
schedules as the clock runs at real speed from where it was set. *Driven* (`driven=True`, the tests'
`local_cloud` fixture): nothing runs in the background and the clock stands still between moves;
the caller advances it and the due work runs in the caller's thread before the call returns —
`move_clock()` fires the rules it passes and drains the queues, `run_due()` does the same at the
current time, `drain(redeliver=True)` also brings back what a function left on a queue (see
`sqs.py`: held messages stand for a visibility timeout that has passed). A test then asserts what
happened, without waiting on the wall clock.

The HTTP side (routes, authorizers, the `/_local/*` admin routes) is `gateway.ApiGateway`; the queue and
stream pollers are `sqs.py` and `streams.py`; the moto server and its patches, `motoserver.py`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from infra.clock import LocalClock, current_clock, install_clock

from . import cognito
from .api import ACCOUNT_ID, ApiServer, Route, routes_from_sam
from .gateway import ApiGateway
from .lambdas import FunctionSpec, LocalFunction, handler_exists, merge_environments
from .moto_gaps import apply_settings_moto_ignores, create_secret
from .motoserver import Mode, MotoServer
from .schedules import DrivenClock, Firing, Rule, RuleTarget, Schedule, Scheduler
from .sqs import QueuePoller, SqsMapping
from .streams import StreamMapping, StreamPoller, stream_pollers, take_stream_mappings
from .translate import LeftOut, Template, Translation, substitute_refs, translate

log = logging.getLogger("hcp.localcloud")

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
DEFAULT_SQS_CONCURRENCY = 2  # pollers per queue mapping without ScalingConfig.MaximumConcurrency

Seed = Callable[["LocalCloud"], dict[str, Any]]

_running: list[LocalCloud] = []  # the last one is active, the others are suspended
_running_lock = threading.Lock()
_clients_lock = threading.Lock()  # boto3 sessions are not thread-safe; clients are
_session: boto3.session.Session | None = None


def _shared_session() -> boto3.session.Session:
    """One boto3 session for every local cloud's clients in this process: a new session loads and parses
    botocore's endpoint and service models again (about 0.7 s of CPU per client), the shared one once per
    service. Call with `_clients_lock` held."""
    global _session
    if _session is None:
        _session = boto3.session.Session()
    return _session


class LocalCloudError(RuntimeError):
    """The template cannot be run locally, or the local cloud could not start."""


class LocalCloud:
    """Deploys `template` into a moto server and serves it; see the module docstring.

    After `start()`: `api_url`, `aws_endpoint`, `resources` (logical id -> physical id), `outputs`,
    `functions`, `routes`, `mappings`, `rules`, `left_out`, `notes`, `clock`.
    """

    def __init__(
        self,
        template: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        aws_endpoint: str | None = None,
        aws_port: int = 0,
        moto_mode: Mode = "process",
        stack_name: str = "local",
        region: str = "us-east-1",
        parameters: dict[str, str] | None = None,
        state_dir: str | Path | None = None,
        seed: Seed | None = None,
        clock: LocalClock | DrivenClock | None = None,
        sqs_visibility_timeout: int | None = None,
        driven: bool = False,
    ) -> None:
        self.template = Path(template).resolve()
        self.host = host
        self.port = port
        self.stack_name = stack_name
        self.region = region
        self.parameters = dict(parameters or {})
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.seed_function = seed
        self.driven = driven
        self.clock = clock or (DrivenClock() if driven else LocalClock())
        self.sqs_visibility_timeout = sqs_visibility_timeout
        self._driving = threading.RLock()  # driven: one drain at a time (a test's, an HTTP clock move's)
        self._moto = None if aws_endpoint else MotoServer(aws_port, moto_mode, host)
        self.aws_endpoint = aws_endpoint or ""
        self.api_url = ""
        self.translation: Translation | None = None
        self.resources: dict[str, str] = {}
        self.outputs: dict[str, str] = {}
        self.functions: dict[str, LocalFunction] = {}
        self.routes: list[Route] = []
        self.mappings: list[SqsMapping] = []
        self.stream_mappings: list[StreamMapping] = []  # DynamoDB streams (streams.py)
        self.rules: list[Rule] = []
        self.left_out: list[LeftOut] = []
        self.notes: list[str] = []
        self.seeded: dict[str, Any] = {}
        self.user_pools: dict[str, str] = {}  # logical id -> pool id, created through moto's cognito-idp
        self.started_at: datetime | None = None
        self.environment: dict[str, str] = {}
        self._specs: list[FunctionSpec] = []
        self._pollers: list[QueuePoller] = []
        self._stream_pollers: list[StreamPoller] = []
        self._scheduler: Scheduler | None = None
        self._server: ApiServer | None = None
        self._server_thread: threading.Thread | None = None
        self._saved_env: dict[str, str | None] = {}
        self._saved_clock: Any = None
        self._cleanups: list[Callable[[], object]] = []
        self._started = False
        self._suspended = threading.Event()
        self._clients: dict[str, Any] = {}  # service -> boto3 client for this cloud's moto server

    # --- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalCloud:
        with _running_lock:
            if self in _running:
                raise LocalCloudError("this local cloud is already running")
            if _running:
                _running[-1].suspend()
            _running.append(self)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self._started = True
        if self._moto is not None:
            self.aws_endpoint = self._moto.start()
            self._cleanups.append(self._moto.stop)
        translation = translate(self.template, self.parameters, self.region)
        self.translation = translation
        self.left_out = list(translation.left_out)
        created = self._create_self_created(translation.self_created)
        cfn, self.stream_mappings = take_stream_mappings(translation.cloudformation)  # played here, not by moto
        self._deploy(substitute_refs(cfn, created["Ref"], created["GetAtt"]))
        self.resources.update(created["Ref"])
        apply_settings_moto_ignores(translation.cloudformation, self.resources, self.client("dynamodb"),
                                    self.client("s3"))
        self._read_functions(translation)
        self._export_environment()
        self._saved_clock = current_clock()
        install_clock(self.clock)
        self.routes = routes_from_sam(translation.sam, self._parameter_values(translation.sam))
        self._start_api()
        self._start_pollers()
        self._start_scheduler()
        self.started_at = datetime.now(UTC)
        if self.seed_function is not None:
            self.seeded = dict(self.seed_function(self) or {})
        self._write_state()

    def stop(self) -> None:
        """Stop serving and polling, restore the environment and clock; idempotent."""
        if self._scheduler is not None:
            self._scheduler.stop()
            self._scheduler = None
        for poller in self._pollers:
            poller.stop()
        self._pollers.clear()
        for stream_poller in self._stream_pollers:
            stream_poller.stop()
        self._stream_pollers.clear()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        while self._cleanups:
            try:
                self._cleanups.pop()()
            except Exception:
                log.exception("a local cloud cleanup failed")
        self._mark_stopped()
        with _running_lock:
            position = _running.index(self) if self in _running else None
            above = _running[position + 1] if position is not None and position + 1 < len(_running) else None
            if above is not None:
                # Stopped out of order: the cloud started after this one saved *our* values; hand it
                # the originals to restore, and leave its variables and clock in place meanwhile.
                for name, value in list(self._saved_env.items()):
                    if name in above._saved_env:
                        above._saved_env[name] = value
                        del self._saved_env[name]
                above._saved_clock, self._saved_clock = self._saved_clock, None
            self._restore()
            if position is not None:
                del _running[position]
                if above is None and _running:
                    _running[-1].resume()

    def _restore(self) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
        if self._saved_clock is not None:
            install_clock(self._saved_clock)
            self._saved_clock = None

    def suspend(self) -> None:
        """Pause serving, polling and firing while another local cloud owns the process."""
        self._suspended.set()
        for poller in [*self._pollers, *self._stream_pollers]:
            poller.pause()
        if self._scheduler is not None:
            self._scheduler.pause()

    def resume(self) -> None:
        for poller in [*self._pollers, *self._stream_pollers]:
            poller.resume()
        if self._scheduler is not None:
            self._scheduler.resume()
        self._suspended.clear()

    def add_cleanup(self, cleanup: Callable[[], object]) -> None:
        """Run `cleanup` at `stop()`, before the moto server stops (last added, first run)."""
        self._cleanups.append(cleanup)

    # --- AWS side ---------------------------------------------------------------------------

    def client(self, service: str, *, connections: int = 10) -> Any:
        """A boto3 client for the local moto server (independent of os.environ), made once per service and
        endpoint: boto3 clients are thread-safe, and making one costs far more than most calls on it.
        `connections`: its pool (botocore's default 10); threads beyond it open a connection per call."""
        key = f"{service} {self.aws_endpoint} {connections}"
        with _clients_lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = _shared_session().client(
                    service,  # type: ignore[call-overload]
                    endpoint_url=self.aws_endpoint,
                    region_name=self.region,
                    aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                    config=Config(max_pool_connections=connections),
                )
            return client

    def _create_self_created(self, resources: dict[str, Template]) -> dict[str, dict[str, Any]]:
        """Create through moto's own API what moto's CloudFormation skips; returns what to put in
        place of their `Ref` and `Fn::GetAtt` before deploying."""
        refs: dict[str, str] = {}
        attributes: dict[str, dict[str, str]] = {}
        pseudo = {"AWS::StackName": self.stack_name, "AWS::Region": self.region, "AWS::AccountId": ACCOUNT_ID,
                  "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}  # fmt: skip
        for logical_id, resource in sorted(resources.items(), key=lambda item: cognito.creation_order(item[1]["Type"])):
            if resource["Type"] in cognito.TYPES:
                assert self.translation is not None
                if not cognito.condition_holds(self.translation.cloudformation, resource.get("Condition"),
                                               self._parameter_values(self.translation.cloudformation), pseudo):
                    self.notes.append(f"{logical_id}: not created (its condition {resource['Condition']} is false)")
                    continue
                refs[logical_id], attributes[logical_id] = cognito.create(
                    self.client("cognito-idp"), logical_id, resource, refs, pseudo
                )
                if resource["Type"] == cognito.POOL:
                    self.user_pools[logical_id] = refs[logical_id]
                    self._point_sign_in_at_moto(refs[logical_id])
                self.notes.append(f"{logical_id}: created through moto's cognito-idp API")
                continue
            if resource["Type"] != "AWS::SecretsManager::Secret":
                raise LocalCloudError(f"{logical_id}: no way to create {resource['Type']} locally")
            props = resource.get("Properties", {})
            arn = create_secret(self.client("secretsmanager"), self.stack_name, logical_id, props)
            refs[logical_id] = arn
            attributes[logical_id] = {"Id": arn}
            self.notes.append(f"{logical_id}: created through moto's Secrets Manager API")
        return {"Ref": refs, "GetAtt": attributes}

    def _point_sign_in_at_moto(self, pool_id: str) -> None:
        """The stack's pool issues `https://cognito-idp.<region>.amazonaws.com/<pool>` tokens; moto serves its
        keys on loopback: the authorizer fetches them there (unless the template names another issuer)."""
        declared = (self.translation.sam if self.translation else {}).get("Parameters", {})
        if "OidcJwksUrl" in declared and not self.parameters.get("OidcIssuer") and not self.parameters.get(
            "OidcJwksUrl"
        ):
            self.parameters["OidcJwksUrl"] = cognito.jwks_url(self.aws_endpoint, pool_id)

    def _parameter_values(self, template: Template) -> dict[str, str]:
        declared = template.get("Parameters", {})
        values = {name: str(p["Default"]) for name, p in declared.items() if "Default" in p}
        values.update({k: v for k, v in self.parameters.items() if k in declared})
        return values

    def _deploy(self, cfn: Template) -> None:
        client = self.client("cloudformation")
        parameters = [
            {"ParameterKey": key, "ParameterValue": value}
            for key, value in self.parameters.items()
            if key in cfn.get("Parameters", {})
        ]
        unknown = sorted(set(self.parameters) - set(cfn.get("Parameters", {})))
        if unknown:
            raise LocalCloudError(f"the template has no parameters {', '.join(unknown)}")
        client.create_stack(
            StackName=self.stack_name,
            TemplateBody=json.dumps(cfn),
            Parameters=parameters,
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        deadline = time.monotonic() + 120
        while True:
            stack = client.describe_stacks(StackName=self.stack_name)["Stacks"][0]
            status = stack["StackStatus"]
            if not status.endswith("_IN_PROGRESS"):
                break
            if time.monotonic() > deadline:
                raise LocalCloudError(f"stack {self.stack_name} still {status} after 120 s")
            time.sleep(0.1)
        if status != "CREATE_COMPLETE":
            events = client.describe_stack_events(StackName=self.stack_name)["StackEvents"]
            reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in events
                       if e.get("ResourceStatusReason")]
            raise LocalCloudError(f"moto could not deploy the stack ({status}): " + "; ".join(reasons[:5]))
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        for resource in client.describe_stack_resources(StackName=self.stack_name)["StackResources"]:
            if resource.get("PhysicalResourceId"):
                self.resources[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]

    def _read_functions(self, translation: Translation) -> None:
        """Handler, environment, timeout and memory as deployed; the mappings and rules that call them."""
        lambda_client = self.client("lambda")
        by_arn: dict[str, str] = {}
        specs = []
        for logical_id, resource in translation.cloudformation["Resources"].items():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            config = lambda_client.get_function_configuration(FunctionName=self.resources[logical_id])
            code_dir = translation.code_dirs.get(logical_id, self.template.parent)
            spec = FunctionSpec(
                logical_id=logical_id,
                name=config["FunctionName"],
                arn=config["FunctionArn"],
                handler=config["Handler"],
                code_dir=code_dir,
                environment=dict(config.get("Environment", {}).get("Variables", {})),
                timeout=int(config.get("Timeout", 3)),
                memory=int(config.get("MemorySize", 128)),
            )
            specs.append(spec)
            by_arn[spec.arn] = logical_id
            self.functions[logical_id] = LocalFunction(spec)
            if not handler_exists(spec.handler, code_dir):
                self.notes.append(f"{logical_id}: handler {spec.handler} not found (yet) under {code_dir}")
        self._specs = specs
        self._read_mappings(lambda_client, by_arn)
        self._read_rules(translation.cloudformation, by_arn)

    def _read_mappings(self, lambda_client: Any, by_arn: dict[str, str]) -> None:
        sqs = self.client("sqs")
        for esm in lambda_client.list_event_source_mappings()["EventSourceMappings"]:
            function = by_arn.get(esm["FunctionArn"])
            if function is None:
                continue  # another stack's, in a shared moto server
            source = esm.get("EventSourceArn", "")
            if not source.startswith("arn:aws:sqs:"):
                self.notes.append(f"{function}: event source {source} is not played locally (SQS, DynamoDB streams)")
                continue
            queue_url = sqs.get_queue_url(QueueName=source.rsplit(":", 1)[1])["QueueUrl"]
            concurrency = esm.get("ScalingConfig", {}).get("MaximumConcurrency", DEFAULT_SQS_CONCURRENCY)
            # moto would itself hand each message sent to a mapped queue to the function through
            # Docker (failing, and counting a receive): turn its copy off, the pollers play it.
            lambda_client.update_event_source_mapping(UUID=esm["UUID"], Enabled=False)
            self.mappings.append(SqsMapping(
                function=function,
                queue_url=queue_url,
                queue_arn=source,
                batch_size=int(esm.get("BatchSize", 10)),
                batching_window=float(esm.get("MaximumBatchingWindowInSeconds", 0)),
                report_batch_item_failures="ReportBatchItemFailures" in esm.get("FunctionResponseTypes", []),
                concurrency=int(concurrency),
                enabled=esm.get("State", "Enabled") == "Enabled",
            ))

    def _read_rules(self, cfn: Template, by_arn: dict[str, str]) -> None:
        events = self.client("events")
        for logical_id, resource in cfn["Resources"].items():
            if resource["Type"] != "AWS::Events::Rule":
                continue
            name = self.resources[logical_id]
            rule = events.describe_rule(Name=name)
            expression = rule.get("ScheduleExpression")
            if not expression:
                self.notes.append(f"{logical_id}: event-pattern rules are not played locally")
                continue
            targets = []
            for target in events.list_targets_by_rule(Rule=name)["Targets"]:
                function = by_arn.get(target["Arn"])
                if function is None:
                    self.notes.append(f"{logical_id}: target {target['Arn']} is not a function of this stack")
                    continue
                targets.append(RuleTarget(function, json.loads(target["Input"]) if "Input" in target else None))
            self.rules.append(Rule(logical_id, name, rule["Arn"], Schedule(expression), targets,
                                   enabled=rule.get("State") == "ENABLED"))

    # --- Lambda side ------------------------------------------------------------------------

    def _export_environment(self) -> None:
        merged, notes = merge_environments(self._specs)
        self.notes.extend(notes)
        merged.update(FAKE_CREDENTIALS)
        merged.update({"AWS_ENDPOINT_URL": self.aws_endpoint, "AWS_DEFAULT_REGION": self.region,
                       "AWS_REGION": self.region})
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):  # a profile would override the fake keys
            self._saved_env.setdefault(name, os.environ.pop(name, None))
        for name, value in merged.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        self.environment = merged

    def invoke(self, function: str, event: Any) -> Any:
        """Call a function's handler in-process with `event` and a fresh Lambda context."""
        try:
            target = self.functions[function]
        except KeyError:
            raise KeyError(f"no function {function!r}; the template has {sorted(self.functions)}") from None
        return target.invoke(event)

    def _start_pollers(self) -> None:
        sqs = self.client("sqs", connections=max(10, sum(m.concurrency for m in self.mappings)))  # a long poll each
        for mapping in self.mappings:
            poller = QueuePoller(mapping, self.functions[mapping.function], sqs, self.region,
                                 self.sqs_visibility_timeout, held=self.driven)
            if not self.driven:
                poller.start()
            self._pollers.append(poller)
        self._stream_pollers = stream_pollers(self.stream_mappings, self.functions, self.client("dynamodb"),
                                              self.client("dynamodbstreams"), self.resources, self.region,
                                              held=self.driven)  # fmt: skip
        for stream_poller in self._stream_pollers:
            if not self.driven:
                stream_poller.start()

    def queue_depths(self) -> dict[str, int]:
        """Messages on each mapped queue, visible, in flight or delayed."""
        sqs = self.client("sqs")
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"]
        depths = {}
        for mapping in self.mappings:
            attributes = sqs.get_queue_attributes(QueueUrl=mapping.queue_url, AttributeNames=names)["Attributes"]
            depths[mapping.queue_arn.rsplit(":", 1)[1]] = sum(int(attributes.get(n, 0)) for n in names)
        return depths

    def drain(self, timeout: float = 30.0, *, redeliver: bool = False, parallel: bool = False) -> int:
        """Threaded: wait until every mapped queue is empty and no batch is in flight (twice in a row,
        since a handler may queue more); failed messages count until they succeed or are dead-lettered.

        Driven: poll each mapped queue in this thread until none shows a visible message (a handler may
        queue more on another), invoking the functions; `timeout` is not used. What a function leaves
        on a queue is held there (`sqs.py`); with `redeliver` it comes back at once, again and again,
        until it succeeds or reaches the dead-letter queue (`maxReceiveCount`). `parallel` runs each
        mapping's `MaximumConcurrency` batches at once. Returns the messages processed (driven)."""
        if self.driven:
            return self._drive(redeliver=redeliver, parallel=parallel)
        deadline = time.monotonic() + timeout
        quiet = 0
        while True:
            streamed = sum(s.drive() for s in self._stream_pollers)  # in this thread, under the poller's lock
            idle = not streamed and all(p.busy == 0 for p in self._pollers) and not any(self.queue_depths().values())
            quiet = quiet + 1 if idle else 0
            if quiet >= 2:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"queues not drained after {timeout} s: {self.queue_depths()}")
            time.sleep(0.05)

    def _drive(self, *, redeliver: bool, parallel: bool, rounds: int = 1000) -> int:
        processed = 0
        with self._driving:
            for _ in range(rounds):
                done = sum(poller.drive(parallel=parallel) for poller in self._pollers)
                done += sum(stream_poller.drive() for stream_poller in self._stream_pollers)
                processed += done
                if done:
                    continue
                pollers: list[Any] = [*self._pollers, *self._stream_pollers]
                if not (redeliver and sum(poller.redeliver() for poller in pollers)):
                    return processed
        raise RuntimeError(f"queues still busy after {rounds} rounds: {self.queue_depths()}")

    def held(self) -> dict[str, int]:
        """Driven: the messages each mapped queue (by logical id) holds for redelivery, left there by a
        failed invocation."""
        by_name = {physical.rsplit("/", 1)[-1]: logical_id for logical_id, physical in self.resources.items()}
        names = [p.mapping.queue_arn.rsplit(":", 1)[1] for p in self._pollers]
        return {by_name.get(name, name): p.held_count for name, p in zip(names, self._pollers, strict=True)}

    def run_due(self, *, redeliver: bool = False, parallel: bool = False) -> list[Firing]:
        """Fire the schedule rules due at the clock's time, then drain (driven: all of it in this thread)."""
        fired = self._scheduler.check() if self._scheduler is not None else []
        self.drain(redeliver=redeliver, parallel=parallel)
        return fired

    def _start_scheduler(self) -> None:
        self._scheduler = Scheduler(self.rules, self.clock, self.invoke, self.region, ACCOUNT_ID)
        self._scheduler.start(background=not self.driven)

    def move_clock(self, *, set_to: datetime | None = None, advance: timedelta | None = None) -> list[Firing]:
        """Set or advance the clock and fire, at once, the schedule rules it passes; driven, then drain
        the queues too, so that what the move made due has happened when this returns."""
        with self._driving if self.driven else contextlib.nullcontext():
            if set_to is not None:
                self.clock.set(set_to)
            if advance is not None:
                self.clock.advance(advance)
            fired = self._scheduler.moved() if self._scheduler is not None else []
            if self.driven:
                self.drain()
            return fired

    # --- HTTP side --------------------------------------------------------------------------

    def _start_api(self) -> None:
        self._server = ApiServer(self.host, self.port, ApiGateway(self).dispatch)
        self.port = self._server.server_address[1]
        self.api_url = f"http://{self.host}:{self.port}"
        self._server_thread = threading.Thread(target=self._server.serve_forever, name="local-api", daemon=True)
        self._server_thread.start()

    def clock_json(self, fired: list[Firing]) -> dict[str, Any]:
        return {
            "now": self.clock.now().isoformat(),
            "fired": [f.as_json() for f in fired],
            "rules": [{"rule": r.logical_id, "schedule": r.schedule.expression,
                       "next_due": r.next_due.isoformat() if r.next_due else None} for r in self.rules],
        }

    # --- reporting --------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return {
            "api_url": self.api_url,
            "aws_endpoint": self.aws_endpoint,
            "region": self.region,
            "stack_name": self.stack_name,
            "clock": self.clock.now().isoformat(),
            "resources": self.resources,
            "functions": {k: {"handler": f.spec.handler, "invocations": f.invocations, "errors": f.errors}
                          for k, f in self.functions.items()},
            "routes": [f"{r.method} {r.resource} -> {r.function}" for r in self.routes],
            "queues": self.queue_depths(),
            "rules": self.clock_json([])["rules"],
            "left_out": [{"logical_id": i.logical_id, "type": i.type, "reason": i.reason} for i in self.left_out],
            "notes": self.notes,
        }

    def summary(self) -> str:
        """What `hcp local up` prints: what was deployed, what was left out and why, where to go."""
        lines = [f"Deployed {self.template.name} as stack {self.stack_name} into moto at {self.aws_endpoint}:"]
        deployed = self.translation.cloudformation["Resources"] if self.translation else {}
        types = {logical_id: resource["Type"] for logical_id, resource in deployed.items()}
        rows = [(k, types.get(k, "(created by the local cloud)"), v) for k, v in self.resources.items()]
        rows.sort(key=lambda row: (row[1], row[0]))
        left = [(i.logical_id, i.type, i.reason) for i in self.left_out]
        width = max((len(row[0]) for row in rows + left), default=0)
        type_width = max((len(row[1]) for row in rows + left), default=0)
        lines.extend(f"  {a:<{width}}  {b:<{type_width}}  {c}" for a, b, c in rows)
        lines.append("Left out (moto cannot deploy them, or they only matter in AWS):")
        lines.extend(f"  {a:<{width}}  {b:<{type_width}}  {c}" for a, b, c in left)
        lines.append(f"API (served in-process, as API Gateway proxy events) at {self.api_url}:")
        lines.extend(f"  {r.method:<6} {r.resource:<44} -> {r.function}" for r in self.routes)
        for m in self.mappings:
            lines.append(f"Queue {m.queue_arn.rsplit(':', 1)[1]} -> {m.function} (batch {m.batch_size}, "
                         f"window {m.batching_window:g} s, {m.concurrency} pollers"
                         f"{', partial batch failures' if m.report_batch_item_failures else ''})")
        for rule in self.rules:
            lines.append(f"Schedule {rule.logical_id} {rule.schedule.expression} -> "
                         f"{', '.join(t.function for t in rule.targets)} (next {rule.next_due:%Y-%m-%d %H:%M:%S} UTC)")
        lines.append(f"Clock: {self.clock.now().isoformat()} (GET/POST {self.api_url}/_local/clock)")
        lines.extend(f"Note: {note}" for note in self.notes)
        return "\n".join(lines)

    def _mark_stopped(self) -> None:
        """Keep the state file (it names what ran) but say the cloud stopped, for the CLI's errors."""
        path = self.state_dir / "local.json" if self.state_dir is not None else None
        if path is None or self.started_at is None or not path.exists():
            return
        state = json.loads(path.read_text(encoding="utf-8"))
        if state.get("pid") == os.getpid() and state.get("api_url") == self.api_url:
            state["stopped_at"] = datetime.now(UTC).isoformat()
            self._write_json(path, state)
        self.started_at = None

    def _write_state(self) -> None:
        if self.state_dir is None:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "api_url": self.api_url,
            "aws_endpoint": self.aws_endpoint,
            "region": self.region,
            "stack_name": self.stack_name,
            "pid": os.getpid(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "resources": self.resources,
            **self.seeded,
        }
        self._write_json(self.state_dir / "local.json", state)

    @staticmethod
    def _write_json(path: Path, document: dict[str, Any]) -> None:
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(document, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
        temporary.replace(path)

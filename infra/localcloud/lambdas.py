"""Lambda's part, played in-process: the deployed functions, their handlers, context and environment."""

from __future__ import annotations

import contextvars
import functools
import importlib
import importlib.util
import logging
import sys
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("hcp.localcloud")

Handler = Callable[[Any, Any], Any]

# Variables whose value may differ between functions without breaking anything shared: they label
# logs and metrics. The union exports the value most functions use (ties: first logical id).
PER_FUNCTION_TOLERATED = frozenset(
    {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "LOG_LEVEL", "POWERTOOLS_LOG_LEVEL"}
)


class EnvironmentConflict(RuntimeError):
    """Two functions need one variable to hold different values, which one process cannot give them."""


@dataclass(frozen=True)
class FunctionSpec:
    """A function as deployed (physical name, resolved environment) plus where its code lives."""

    logical_id: str
    name: str
    arn: str
    handler: str
    code_dir: Path
    environment: dict[str, str]
    timeout: int
    memory: int


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


_METRICS_LOCK = threading.RLock()


def serialize_powertools_metrics() -> None:
    """Powertools keeps a process's metrics in one class-level dict, which is safe in Lambda (one
    invocation per container at a time) but not here, where invocations run in threads: a flush
    iterating the dict while another thread adds a metric fails with "dictionary changed size", and a
    flush that found metrics but serializes after another thread's flush cleared them fails with "Must
    contain at least one metric". Every method that touches the dict takes one lock, in Powertools'
    provider and in every subclass that overrides one (functions/edge/emf.py's). Called again after a
    handler's import, for subclasses it defined. Local fidelity only; nothing changes in Lambda.
    """
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    classes: list[Any] = [AmazonCloudWatchEMFProvider]
    for clazz in classes:
        classes.extend(clazz.__subclasses__())
    for provider in classes:
        if provider.__dict__.get("_hcp_serialized", False):
            continue
        for name in _METRICS_METHODS:
            original = provider.__dict__.get(name)
            if original is None:  # inherited: the class that defines it is wrapped
                continue

            def locked(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
                with _METRICS_LOCK:
                    return _original(self, *args, **kwargs)

            setattr(provider, name, functools.wraps(original)(locked))
        provider._hcp_serialized = True


_METRICS_METHODS = ("add_metric", "add_dimension", "add_dimensions", "add_metadata", "serialize_metric_set",
                    "flush_metrics", "clear_metrics", "add_cold_start_metric", "set_default_dimensions")  # fmt: skip


_current: contextvars.ContextVar[FunctionSpec | None] = contextvars.ContextVar("hcp_local_function", default=None)


def current_function() -> FunctionSpec | None:
    """The function whose handler this thread is running (infra.localcloud.iam checks its AWS calls)."""
    return _current.get()


def acting_as(spec: FunctionSpec, handler: Handler) -> Handler:
    """`handler`, tagged: while it runs, its AWS calls are the function's, under the function's role."""

    @functools.wraps(handler)
    def tagged(event: Any, context: Any) -> Any:
        token = _current.set(spec)
        try:
            return handler(event, context)
        finally:
            _current.reset(token)

    return tagged


class StarvationProbe:
    """How late a thread that asks to wake every `tick` seconds really wakes: time in which this process could
    not run its Python — the machine's other load, or the GIL held by the local cloud's other threads (moto, the
    stub, other functions), none of which share a Lambda sandbox's CPU in AWS. Summed over an invocation, it
    tells one past its timeout because the machine starved it from one past it by design."""

    def __init__(self, tick: float = 0.05) -> None:
        self.tick = tick
        self._late: deque[tuple[float, float]] = deque(maxlen=200_000)  # (woke at, seconds late)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="starvation-probe", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            asked = time.monotonic()
            time.sleep(self.tick)
            woke = time.monotonic()
            late = woke - asked - self.tick
            if late > 0.001:
                self._late.append((woke, late))

    def lost_between(self, start: float, end: float) -> float:
        """Seconds the probe woke late within [start, end]: time the process's Python was kept waiting."""
        return sum(late for woke, late in list(self._late) if start <= woke <= end)


PROBE = StarvationProbe()
AWS_CALL_MS = 10.0  # what one AWS API call takes in AWS (DynamoDB, SQS: single-digit ms, plus the network)

# The current invocation's AWS calls: [count, seconds waited on moto]. Shared by reference with the pool threads a
# handler starts (they copy the context), so a forward invocation's concurrent sends are counted too.
_aws_calls: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar("hcp_aws_calls", default=None)


def time_aws_calls(client: Any) -> None:
    """Count each call a function's client makes and the time it waited on moto (infra.bootstrap.CLIENT_HOOKS): a
    starved moto (another process, which the probe does not see) slows the invocation, not its design."""

    def before(context: dict[str, Any], **_: Any) -> None:
        if _aws_calls.get() is not None:
            context["hcp_started"] = time.monotonic()

    def after(context: dict[str, Any], **_: Any) -> None:
        calls, started = _aws_calls.get(), context.pop("hcp_started", None)
        if calls is not None and started is not None:
            calls[0] += 1
            calls[1] += time.monotonic() - started

    client.meta.events.register("before-call", before, unique_id="hcp-local-timing-before")
    client.meta.events.register("after-call", after, unique_id="hcp-local-timing-after")
    client.meta.events.register("after-call-error", after, unique_id="hcp-local-timing-error")


class InvocationTimedOut(RuntimeError):
    """The handler ran past its function's timeout: Lambda would have stopped it, and so its answer is lost."""


class LocalFunction:
    """Imports the handler on first use (as a cold start would) and calls it with a fresh context.

    Invocations may run concurrently in threads, as Lambda runs concurrent instances; the handler
    module is shared between them, so module state must be thread-safe.

    Lambda's limit, counted always: `longest` (seconds) against `spec.timeout`, `over_timeout` invocations
    that ran past it. With `invoke(..., enforce_timeout=True)` (queue pollers) such an invocation is also
    abandoned at its timeout, as Lambda stops it: `InvocationTimedOut` is raised, its answer is lost and the
    batch's records return to the queue when their visibility timeout ends, their receive count raised. (A
    thread cannot be killed: the abandoned handler runs on unobserved, as a frozen Lambda sandbox would
    resume; what it does after its timeout is still counted in `longest`.)
    """

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self._handler: Handler | None = None
        self._lock = threading.Lock()
        self.invocations = 0
        self.errors = 0
        self.timed_out = 0  # abandoned at the timeout (enforce_timeout)
        self.over_timeout = 0  # ran past the timeout, abandoned or not
        self.longest = 0.0
        self.over_starved = 0  # past the timeout, but within it once the time the machine starved it is taken off
        self.most_starved = 0.0  # seconds lost to starvation by the invocation that lost most
        self.past: list[dict[str, float]] = []  # each invocation past the timeout: where its time went (bench/e2e.py)

    def limits(self) -> dict[str, Any]:
        """What Lambda's timeout would have done to this function's invocations so far."""
        with self._lock:
            return {"invocations": self.invocations, "timeout_s": self.spec.timeout,
                    "longest_s": round(self.longest, 2), "over_timeout": self.over_timeout,
                    "timed_out": self.timed_out, "over_timeout_starved": self.over_starved,
                    "over_timeout_design": self.over_timeout - self.over_starved,
                    "most_starved_s": round(self.most_starved, 2), "past": list(self.past)}  # fmt: skip

    def _ran(self, elapsed: float, started: float | None = None, aws: list[float] | None = None) -> None:
        """`aws`: the invocation's AWS calls and the seconds it waited on moto for them; what it waited beyond
        `AWS_CALL_MS` a call is the machine's, as is the time the probe saw this process kept waiting."""
        probe = PROBE.lost_between(started, started + elapsed) if started is not None else 0.0
        moto = max(0.0, aws[1] - aws[0] * AWS_CALL_MS / 1000) if aws is not None else 0.0
        starved = probe + moto
        with self._lock:
            self.longest = max(self.longest, elapsed)
            self.most_starved = max(self.most_starved, starved)
            if elapsed > self.spec.timeout:
                self.over_timeout += 1
                self.over_starved += elapsed - starved <= self.spec.timeout
                if len(self.past) < 100:  # the process kept from its CPU vs moto's answers beyond AWS's 10 ms a call
                    self.past.append({"elapsed_s": round(elapsed, 2), "process_starved_s": round(probe, 2),
                                      "moto_wait_s": round(moto, 2), "aws_calls": aws[0] if aws is not None else 0,
                                      "own_s": round(max(0.0, elapsed - starved), 2)})  # fmt: skip
        if elapsed > self.spec.timeout:
            log.warning("%s ran %.1f s, longer than its timeout of %d s (Lambda would have stopped it); "
                        "%.1f s of it the process was starved", self.spec.logical_id, elapsed, self.spec.timeout,
                        starved)

    def _invoke_within_timeout(self, handler: Handler, event: Any, context: Any) -> Any:
        outcome: dict[str, Any] = {}
        done = threading.Event()

        def run() -> None:
            try:
                outcome["value"] = handler(event, context)
            except BaseException as exc:  # handed to the caller's thread below
                outcome["error"] = exc
            finally:
                done.set()

        thread = threading.Thread(target=run, name=f"lambda-{self.spec.logical_id}", daemon=True)
        thread.start()
        if not done.wait(self.spec.timeout):
            with self._lock:
                self.timed_out += 1
            log.warning("%s timed out after %d s: abandoned, its batch returns to the queue",
                        self.spec.logical_id, self.spec.timeout)
            raise InvocationTimedOut(f"{self.spec.logical_id} ran past its timeout of {self.spec.timeout} s")
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("value")

    def handler(self) -> Handler:
        with self._lock:
            if self._handler is None:
                serialize_powertools_metrics()
                from .iam import install

                install()  # each call checked against the function's own role, as AWS checks it
                import infra.bootstrap

                if time_aws_calls not in infra.bootstrap.CLIENT_HOOKS:
                    infra.bootstrap.CLIENT_HOOKS.append(time_aws_calls)
                self._handler = acting_as(self.spec, resolve_handler(self.spec.handler, self.spec.code_dir))
                serialize_powertools_metrics()  # the providers the handler's import defined
            return self._handler

    def invoke(self, event: Any, *, enforce_timeout: bool = False) -> Any:
        handler = self.handler()
        context = LambdaContext(
            function_name=self.spec.name,
            invoked_function_arn=self.spec.arn,
            memory_limit_in_mb=self.spec.memory,
            timeout_seconds=self.spec.timeout,
        )
        with self._lock:
            self.invocations += 1
        PROBE.start()
        started = time.monotonic()
        aws = [0.0, 0.0]

        def counted(event: Any, context: Any) -> Any:
            token = _aws_calls.set(aws)
            try:
                return handler(event, context)
            finally:
                _aws_calls.reset(token)

        timed = counted
        if enforce_timeout:  # the clock keeps running for the abandoned one: its full time still counts
            def timed(event: Any, context: Any) -> Any:
                try:
                    return counted(event, context)
                finally:
                    self._ran(time.monotonic() - started, started, aws)
        try:
            if enforce_timeout:
                return self._invoke_within_timeout(timed, event, context)
            return counted(event, context)
        except Exception:
            self.errors += 1
            raise
        finally:
            if not enforce_timeout:
                self._ran(time.monotonic() - started, started, aws)


def resolve_handler(dotted: str, code_dir: Path) -> Handler:
    """`package.module.function` imported from `code_dir`, the way Lambda imports it from the package root."""
    module_name, _, attribute = dotted.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {dotted!r} is not of the form module.function")
    root = str(code_dir)
    if root not in sys.path:
        sys.path.insert(0, root)
    handler = getattr(importlib.import_module(module_name), attribute, None)
    if not callable(handler):
        raise AttributeError(f"handler {dotted!r}: {module_name} has no callable {attribute!r}")
    return handler  # type: ignore[no-any-return]


def handler_exists(dotted: str, code_dir: Path) -> bool:
    """Whether the handler's module can be found, without running it."""
    module_name = dotted.rpartition(".")[0]
    root = str(code_dir)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        return importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:
        return False


def merge_environments(specs: Iterable[FunctionSpec]) -> tuple[dict[str, str], list[str]]:
    """The union of the functions' environments, for the one process that runs them all.

    Raises `EnvironmentConflict` when two functions set a variable to different values, unless it
    is in `PER_FUNCTION_TOLERATED`; returns the merged variables and notes on tolerated differences.
    """
    values: dict[str, dict[str, list[str]]] = {}
    for spec in sorted(specs, key=lambda s: s.logical_id):
        for name, value in spec.environment.items():
            values.setdefault(name, {}).setdefault(value, []).append(spec.logical_id)
    merged: dict[str, str] = {}
    notes: list[str] = []
    conflicts: list[str] = []
    for name, by_value in values.items():
        if len(by_value) == 1:
            merged[name] = next(iter(by_value))
            continue
        described = "; ".join(f"{value!r} in {', '.join(ids)}" for value, ids in by_value.items())
        if name not in PER_FUNCTION_TOLERATED:
            conflicts.append(f"{name}: {described}")
            continue
        counts = Counter({value: len(ids) for value, ids in by_value.items()})
        merged[name] = counts.most_common(1)[0][0]
        notes.append(f"{name} differs between functions ({described}); all use {merged[name]!r} locally")
    if conflicts:
        raise EnvironmentConflict(
            "functions set the same environment variable to different values, which one process "
            "cannot honour: " + " | ".join(conflicts)
        )
    return merged, notes

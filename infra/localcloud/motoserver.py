"""A moto server on loopback, in a child process (default) or a thread of this one.

Why a child process by default: moto's backends are process-global, and any `mock_aws` started in
the same process (other tests use it) resets them — it wiped a `ThreadedMotoServer`'s stacks when
probed with moto 5.2.5. A child process is immune to that, and does not compete with the
in-process handlers for the GIL. `mode="thread"` (moto's `ThreadedMotoServer`) remains for callers
that want no child process.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Literal

from moto.server import ThreadedMotoServer

from . import moto_dynamodb, moto_sqs_patches
from .api import port_taken
from .moto_dynamodb import serialize_dynamodb_writes

__all__ = ["MotoServer", "MotoServerError", "serialize_dynamodb_writes"]  # bench/workorders.py imports the latter

Mode = Literal["process", "thread"]


class MotoServerError(OSError):
    """The moto server could not start (its port is taken, say); the message names the port."""


class MotoServer:
    def __init__(self, port: int = 0, mode: Mode = "process", host: str = "127.0.0.1", *,
                 keep_alive: bool = True) -> None:  # fmt: skip
        self.keep_alive = keep_alive  # False: werkzeug's own, a connection per request (bench/aws_calls.py's baseline)
        self.host = host
        self.port = port
        self.mode = mode
        self._process: subprocess.Popen[str] | None = None
        self._thread: ThreadedMotoServer | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        if self.mode == "thread":
            taken = port_taken(self.host, self.port)
            if taken:  # ThreadedMotoServer would wait forever for a server that never binds
                raise MotoServerError(f"the moto server could not start on {self.host}:{self.port}: {taken}")
            logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
            moto_dynamodb.apply()
            response_methods_listed_once()
            model_data_without_docker()
            sqs_counts_on_demand()
            self._thread = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
            self._thread.start()
            self.port = self._thread.get_host_and_port()[1]
            return self.endpoint
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__, self.host, str(self.port), "keep" if self.keep_alive else "close"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.isdigit():
            self._process.kill()
            self._process.wait()
            reason = line.removeprefix("error: ") or "it exited"
            raise MotoServerError(f"the moto server could not start on {self.host}:{self.port}: {reason}")
        self.port = int(line)
        return self.endpoint

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.stop()
            self._thread = None
        if self._process is not None:
            assert self._process.stdin is not None
            self._process.stdin.close()  # the child exits when its stdin closes
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def response_methods_listed_once() -> None:
    """moto lists a response class's methods (`inspect.getmembers`, ~200 of them) on every request to find the
    action's handler: a tenth of its CPU per DynamoDB call here. A class's methods do not change while the
    server runs, so the list is kept per class; the action is still looked up in it per request."""
    import moto.core.responses as responses

    if getattr(responses.method_names_from_class, "_hcp_per_class", False):
        return
    listed = functools.cache(responses.method_names_from_class)

    def method_names_from_class(clazz: object) -> list[str]:
        return list(listed(clazz))

    method_names_from_class._hcp_per_class = True  # type: ignore[attr-defined]
    responses.method_names_from_class = method_names_from_class  # type: ignore[assignment]


def model_data_without_docker() -> None:
    """`/moto-api/data.json` (where `hcp local notifications` reads what WorkOrderTopic was sent) reads
    every model's attributes; without Docker a Lambda function's `docker_client` raises DockerException,
    which moto does not expect. As an AttributeError, moto skips the attribute."""
    from moto.utilities.docker_utilities import DockerModel

    original = DockerModel.docker_client
    if not isinstance(original, property) or getattr(original.fget, "_hcp_docker_free", False):
        return

    def docker_client(self: Any) -> Any:
        try:
            return original.fget(self)  # type: ignore[misc]
        except Exception as exc:
            raise AttributeError(f"no Docker: {type(exc).__name__}") from None

    docker_client._hcp_docker_free = True  # type: ignore[attr-defined]
    DockerModel.docker_client = property(docker_client)  # type: ignore[method-assign,assignment]


def sqs_counts_on_demand() -> None:
    """moto 5.2.5 computes a queue's `attributes` — three scans of every message in the queue for the
    Approximate* counts — to read one setting: three times per message received (its retention period,
    `SQSBackend.is_message_valid_based_on_retention_period`) and once per message sent (content-based
    deduplication) — and every receive scans the queue reading the clock twice per message. With thousands
    of messages waiting out a provincial outage that was most of the local cloud's time, and a fault run
    never finished. Here the counts are computed only when a caller asks for
    them (`get_queue_attributes`): the retention check reads its setting, sends read the attributes
    without counts. What SQS answers is unchanged; only moto's cost per message."""
    from moto.core.utils import camelcase_to_underscores, unix_time, unix_time_millis
    from moto.sqs.models import Queue, SQSBackend

    if getattr(Queue, "_hcp_counts_on_demand", False):
        return
    counts = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed",
              "ApproximateNumberOfMessagesNotVisible")  # fmt: skip
    uncounted = threading.local()
    original = Queue.attributes

    def attributes(self: Any) -> dict[str, Any]:
        if not getattr(uncounted, "on", False):
            return original.fget(self)  # type: ignore[no-any-return,attr-defined]
        result: dict[str, Any] = {}  # moto's Queue.attributes, less the three counts
        names = [n for n in self.BASE_ATTRIBUTES if n not in counts]
        names += self.FIFO_ATTRIBUTES if self.fifo_queue else []
        names += self.KMS_ATTRIBUTES if self.kms_master_key_id else []
        for name in names:
            result[name] = getattr(self, camelcase_to_underscores(name))
        if self.policy:
            result["Policy"] = self.policy
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy)
        return {k: str(v).lower() if isinstance(v, bool) else v for k, v in result.items()}

    def without_counts(method: Any) -> Any:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            before = getattr(uncounted, "on", False)
            uncounted.on = True
            try:
                return method(self, *args, **kwargs)
            finally:
                uncounted.on = before

        return functools.wraps(method)(call)

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        queue = self.get_queue(queue_name)
        return float(queue.message_retention_period) + message.sent_timestamp / 1000 > unix_time()

    def messages(self: Any) -> list[Any]:
        """The visible, undelayed messages, as moto's `Queue.messages`, with one clock reading for the scan
        (moto reads it twice per message, and receives scan the queue once per call)."""
        now = unix_time_millis()
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    def pending_message_groups(self: Any) -> set[str]:
        """The message groups in flight, which only a FIFO queue's receive reads (moto's receive computes them,
        and deep-copies them, for every queue at every receive and after every redelivered message, iterating
        the in-flight set while other receives add to it: "Set changed size during iteration", a 500)."""
        if not self.fifo_queue:
            return set()
        return {message.group_id for message in tuple(self._pending_messages) if message.group_id is not None}

    Queue.attributes = property(attributes)  # type: ignore[method-assign,assignment]
    Queue.messages = property(messages)  # type: ignore[method-assign,assignment]
    Queue.pending_message_groups = property(pending_message_groups)  # type: ignore[method-assign,assignment]
    for name in ("send_message", "send_message_batch"):
        setattr(SQSBackend, name, without_counts(getattr(SQSBackend, name)))
    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]
    Queue._hcp_counts_on_demand = True  # type: ignore[attr-defined]


def _child(host: str, port: int, keep_alive: bool = True) -> None:
    """Serve until the parent closes our stdin (or dies: its end of the pipe closes too). Ctrl-C in
    a terminal reaches the whole process group; the parent decides when we stop, after its cleanups."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, lambda *_: _stats.clear())  # a bench's window starts: count afresh
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto_dynamodb.apply()
    response_methods_listed_once()
    model_data_without_docker()
    sqs_counts_on_demand()
    moto_sqs_patches.apply()  # a message added wakes one long poll, not every one
    try:
        server = _bind(host, port, keep_alive)
    except OSError as exc:
        print(f"error: {exc.strerror or exc}", flush=True)
        raise SystemExit(1) from None
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, name="moto", daemon=True).start()
    sys.stdin.read()
    server.shutdown()
    if os.environ.get(STATS_ENV):
        with _stats_lock:
            Path(os.environ[STATS_ENV]).write_text(json.dumps(_stats, indent=1, sort_keys=True), encoding="utf-8")


STATS_ENV = "HCP_MOTO_STATS"  # a file: the child writes there, as it stops, its requests and CPU by operation
_stats: dict[str, list[float]] = {}  # "service Operation" -> [requests, CPU seconds in the request's thread]
_stats_lock = threading.Lock()


def _count(headers: Any, method: str, cpu: float) -> None:
    """One request's operation (X-Amz-Target, else the service it signed for and the method) and its CPU
    (a long poll's wait is not CPU: only what its thread ran)."""
    target = headers.get("X-Amz-Target") or ""
    if target:
        key = target.replace("DynamoDB_20120810.", "dynamodb ").replace("DynamoDBStreams_20120810.", "streams ")
        key = key.replace("AmazonSQS.", "sqs ")
    else:
        scope = (headers.get("Authorization") or "").split("Credential=", 1)[-1].split("/")
        key = f"{scope[3] if len(scope) > 3 else '?'} {method}"
    with _stats_lock:
        entry = _stats.setdefault(key, [0, 0.0])
        entry[0] += 1
        entry[1] += cpu


def _bind(host: str, port: int, keep_alive: bool = True) -> Any:
    """moto's werkzeug server, bound here rather than in `ThreadedMotoServer`'s thread: there a busy port
    ends the thread (werkzeug prints and calls sys.exit) and `start()` waits for it forever."""
    import io

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class KeepAlive(MotoRequestHandler):
        """Connections kept open between requests (issue 15 item 6). werkzeug closes every one, as
        `http.server` cannot drain a body the application left unread: each AWS call then paid a TCP
        connect and a new server thread (~40 % of a call's time here). A body with a Content-Length is
        read whole before the application sees it, so the next request line is where it should be; a
        chunked one still closes the connection, as werkzeug does. (werkzeug drains the socket after each
        response, which would swallow the next request: it drains an empty stream instead.)"""

        # headers and body go out in several small writes: on a kept connection Nagle's algorithm would hold
        # each response's last one for the client's delayed ACK (~40 ms)
        disable_nagle_algorithm = True

        def make_environ(self) -> dict[str, Any]:
            environ: dict[str, Any] = super().make_environ()
            length = environ.get("CONTENT_LENGTH")
            self.keep_open = not environ.get("wsgi.input_terminated") and (length or "0").isdigit()
            if self.keep_open:
                environ["wsgi.input"] = io.BytesIO(self.rfile.read(int(length or 0)))
                self.rfile = io.BytesIO()  # werkzeug drains what it thinks is left: nothing; the next request stays
            return environ

        def run_wsgi(self) -> None:
            rfile, started = self.rfile, time.thread_time()
            try:
                super().run_wsgi()
            finally:
                self.rfile = rfile
                if STATS_ENV in os.environ:
                    _count(self.headers, self.command, time.thread_time() - started)

        def send_header(self, keyword: str, value: str) -> None:
            if keyword.lower() == "connection" and value.lower() == "close" and getattr(self, "keep_open", False):
                return
            super().send_header(keyword, value)

    class BackendPerHost(DomainDispatcherApplication):
        """moto finds a request's backend anew for every request, under one lock: it lists its package
        directory and stats every entry (`host in list_of_moto_modules()`), then tries each service's URL
        patterns in turn — for an SQS host all ~250 entries and hundreds of regexes, a third of the server's
        CPU per call here. The answer depends on the host alone (a service name or a service's hostname), so
        it is kept per host; the service and region are still read from each request's signature."""

        def get_backend_for_host(self, host: str | None) -> Any:
            if host is None:
                return None
            cache: dict[str, Any] = self.__dict__.setdefault("_hcp_backends", {})
            if host not in cache:
                cache[host] = super().get_backend_for_host(host)
            return cache[host]

    app = BackendPerHost(create_backend_app)
    complaint = io.StringIO()
    try:
        with contextlib.redirect_stderr(complaint):  # werkzeug's own, several lines
            return make_server(host, port, app, True, request_handler=KeepAlive if keep_alive else MotoRequestHandler)
    except SystemExit:
        raise OSError(0, (complaint.getvalue().splitlines() or ["cannot bind"])[0]) from None


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]), sys.argv[3:4] != ["close"])

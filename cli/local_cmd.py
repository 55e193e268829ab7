"""`hcp local up`: the whole hub on this machine, without Docker (DESIGN.md §2 "The local cloud").

template.yaml is translated and deployed into a moto server on loopback, the functions run in this
process, the provincial stub and demo connectors are seeded, and `STATE_DIR/local.json` tells the
other commands (`hcp send`, `hcp clock`, ...) where everything is. Ctrl-C stops it; nothing on
disk is removed (the state file is marked stopped).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from cli.state import state_dir


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "local",
        help="the local cloud: template.yaml in moto, functions in-process",
        description="Run the hub locally: template.yaml deployed into moto, Lambda played in-process.",
    )
    sub = parser.add_subparsers(dest="local_command", metavar="SUBCOMMAND", required=True)
    up = sub.add_parser(
        "up",
        help="start the local cloud and block until Ctrl-C",
        description="Deploy template.yaml into a moto server on loopback, serve its API, poll its queues, "
        "fire its schedules, start the provincial stub and create the demo connectors.",
    )
    up.add_argument("--port", type=int, default=8787, help="the API's port (default 8787; make run PORT=N)")
    up.add_argument("--province-port", type=int, default=8788,
                    help="the provincial stub's port (default 8788; make run PROVINCE_PORT=N)")
    up.add_argument("--province-profile", default="national",
                    help="the province the stub plays and the hub speaks (infra/province/profiles; default national)")
    up.add_argument("--aws-port", type=int, default=8789,
                    help="the moto server's port (default 8789, 0: any; make run AWS_PORT=N)")
    up.add_argument("--state-dir", default=None, help="where local.json goes (default .hcp, or $HCP_STATE_DIR)")
    up.add_argument("--verbose", "-v", action="store_true",
                    help="every log line on the terminal (default: one line per request; the rest to .hcp/logs/)")
    up.set_defaults(func=run_up)
    # `hcp local province` lives with the provincial stub's commands, `hcp local sms` with the reminders',
    # `hcp local users|token` with the demo people's, `hcp local notifications` with the work-order notices'
    for name in ("cli.province_cmd", "cli.sms_cmd", "cli.people", "cli.notifications_cmd", "cli.reports_cmd"):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
        else:
            register_local = getattr(module, "register_local", None)
            if register_local is not None:
                register_local(sub)


def run_up(args: argparse.Namespace) -> int:
    busy = busy_port(args)
    if busy:
        print(busy, file=sys.stderr)
        return 1
    directory = state_dir(args.state_dir)
    log_file = directory / "logs" / "local.jsonl"
    terminal, errors = sys.stdout, sys.stderr
    if args.verbose:  # everything on the terminal, as it comes
        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        sink = None
    else:
        sink = quiet_terminal(log_file, terminal)
    try:
        return _serve(args, directory, terminal, errors, None if sink is None else log_file)
    finally:
        sys.stdout, sys.stderr = terminal, errors
        if sink is not None:
            logging.getLogger().handlers.clear()
            sink.close()


def _serve(args: argparse.Namespace, directory: Path, terminal: TextIO, errors: TextIO, log_file: Path | None) -> int:
    from infra.localcloud import LocalCloudError
    from infra.localcloud.hubcloud import HubLocalCloud

    cloud = HubLocalCloud(port=args.port, province_port=args.province_port, aws_port=args.aws_port,
                          state_dir=directory, province_profile=args.province_profile)
    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    def say(*lines: str) -> None:
        print(*lines, sep="\n", file=terminal, flush=True)

    say("Starting the local cloud (translating template.yaml, deploying into moto)...")
    if log_file is not None:
        say(f"Logs: {log_file} (JSON lines: the functions' logs, metrics and any traceback; tail -f it)")
    try:
        cloud.start()
    except (LocalCloudError, OSError) as exc:
        print(f"hcp: the local cloud could not start: {exc}", file=errors)
        return 1
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        say(cloud.summary(), "", what_to_try_next(cloud.api_url, cloud.aws_endpoint, cloud.resources, cloud.seeded,
                                                  str(directory / "local.json")))  # fmt: skip
        say("", "Running. One line per request below" + (f"; details in {log_file}" if log_file else "")
            + ". Ctrl-C stops.")  # fmt: skip
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        say("", "Stopping...")
        cloud.stop()
        say(f"Stopped. {directory / 'local.json'} is kept, marked stopped.")
    return 0


class JsonLines(logging.Formatter):
    """A log record as one JSON object (the functions' Powertools loggers write their own)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
                                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        for name in ("method", "path", "status"):
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class OneLine(logging.Formatter):
    """`14:02:11 POST /v1/ratings 202 35 ms`; a warning or error in one line, its traceback left to the log file."""

    def format(self, record: logging.LogRecord) -> str:
        when = self.formatTime(record, "%H:%M:%S")
        if record.name == REQUESTS:
            return f"{when} {record.getMessage()}"
        error = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        if error == "BatchProcessingError":  # every message of the batch failed (the province is down, say)
            return f"{when} retry: {record.getMessage()} (each message is retried with backoff, then dead-lettered)"
        return f"{when} {record.levelname.lower()}: {record.getMessage()}" + (f" ({error})" if error else "")


REQUESTS = "hcp.localcloud.requests"


def quiet_terminal(log_file: Path, terminal: TextIO) -> TextIO:
    """The terminal gets one line per request and one per warning of the local cloud; everything else —
    the functions' JSON logs and metrics (they write to stdout, as in Lambda), library logs, tracebacks —
    goes to `log_file`, truncated at each start. Returns the file (the caller closes it)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    sink = open(log_file, "w", encoding="utf-8", buffering=1)  # noqa: SIM115 - open for the cloud's life
    to_file = logging.StreamHandler(sink)
    to_file.setFormatter(JsonLines())
    to_terminal = logging.StreamHandler(terminal)
    to_terminal.setFormatter(OneLine())
    to_terminal.addFilter(lambda r: r.name == REQUESTS or (r.levelno >= logging.WARNING and r.name.startswith("hcp.")))
    root = logging.getLogger()
    root.handlers[:] = [to_file, to_terminal]
    root.setLevel(logging.INFO)
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    sys.stdout = sys.stderr = sink  # Powertools' handlers and metrics bind sys.stdout when the functions load
    return sink


PORTS = (("port", "the API", "PORT"), ("province_port", "the provincial stub", "PROVINCE_PORT"),
         ("aws_port", "moto, the AWS side", "AWS_PORT"))  # fmt: skip


def busy_port(args: argparse.Namespace) -> str | None:
    """One line naming the first port that cannot be listened on, before anything slow starts."""
    from infra.localcloud.api import port_taken

    for attribute, what, variable in PORTS:
        port = getattr(args, attribute)
        taken = port_taken("127.0.0.1", port)
        if taken:
            flag = "--" + attribute.replace("_", "-")
            return (f"hcp: port {port} ({what}) is taken: {taken}; choose another with {flag} N "
                    f"(make run {variable}=N)")  # fmt: skip
    return None


def what_to_try_next(api_url: str, aws_endpoint: str, resources: dict[str, str], seeded: dict[str, Any],
                     state_file: str) -> str:
    kinds = sorted(seeded.get("connectors", {})) if isinstance(seeded.get("connectors"), dict) else []
    kind = "kiosk" if "kiosk" in kinds else (kinds[0] if kinds else "kiosk")
    lines = [
        f"State: {state_file}",
        f"API:   {api_url}   (Swagger UI {api_url}/docs, OpenAPI {api_url}/openapi.json)",
        f"AWS:   {aws_endpoint}   (moto; any access key)",
    ]
    if seeded.get("province_url"):
        lines.append(f"Province stub: {seeded['province_url']}")
    if kinds:
        lines.append(f"Demo connectors: {', '.join(kinds)}")
    if isinstance(seeded.get("users"), dict):
        lines.append(f"Demo people: {', '.join(seeded['users'])}   (hcp local users; docs/people.md)")
    lines += [
        "",
        "What to try next:",
        "  hcp clock set 2026-11-28T12:00:00+08:00      # put the samples inside their rating window",
        f"  hcp send --kind {kind} ../shared/samples/{kind}/01-dissatisfied-labels.json",
        "  hcp local province                            # what the provincial stub received",
        "  hcp clock advance 3d                          # fire the schedules the clock passes",
        "  hcp local sms                                 # the SMS reminders sent (numbers masked)",
        "  hcp local notifications                       # work-order reminders and escalations (SNS)",
        f'  curl -H "Authorization: Bearer $(hcp local token market-dept)" {api_url}/v1/me   # who a token is',
    ]
    if "RatingsTable" in resources:  # moto takes any keys, the aws CLI insists on some (and on a region)
        lines.append(f"  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing aws --endpoint-url {aws_endpoint} "
                     f"--region us-east-1 dynamodb scan --table-name {resources['RatingsTable']} --max-items 3")
    return "\n".join(lines)

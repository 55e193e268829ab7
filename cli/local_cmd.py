"""`hcp local up`: the whole hub on this machine, without Docker (DESIGN.md §2 "The local cloud").

template.yaml is translated and deployed into a moto server on loopback, the functions run in this
process, the provincial stub and demo connectors are seeded, and `STATE_DIR/local.json` tells the
other commands (`hcp send`, `hcp clock`, ...) where everything is. Ctrl-C stops it; nothing on
disk is removed (the state file is marked stopped).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
from types import FrameType
from typing import Any

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
    up.add_argument("--aws-port", type=int, default=8789,
                    help="the moto server's port (default 8789, 0: any; make run AWS_PORT=N)")
    up.add_argument("--state-dir", default=None, help="where local.json goes (default .hcp, or $HCP_STATE_DIR)")
    up.add_argument("--verbose", "-v", action="store_true", help="log every request and invocation")
    up.set_defaults(func=run_up)
    # `hcp local province` lives with the provincial stub's commands, `hcp local sms` with the reminders',
    # `hcp local users|token` with the demo people's, `hcp local notifications` with the work-order notices'
    for name in ("cli.province_cmd", "cli.sms_cmd", "cli.people", "cli.notifications_cmd"):
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
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        for noisy in ("botocore", "boto3", "urllib3", "werkzeug"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    busy = busy_port(args)
    if busy:
        print(busy, file=sys.stderr)
        return 1
    from infra.localcloud import LocalCloudError
    from infra.localcloud.hubcloud import HubLocalCloud

    directory = state_dir(args.state_dir)
    cloud = HubLocalCloud(port=args.port, province_port=args.province_port, aws_port=args.aws_port,
                          state_dir=directory)
    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    print("Starting the local cloud (translating template.yaml, deploying into moto)...", flush=True)
    try:
        cloud.start()
    except (LocalCloudError, OSError) as exc:
        print(f"hcp: the local cloud could not start: {exc}", file=sys.stderr)
        return 1
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        print(cloud.summary())
        print()
        print(what_to_try_next(cloud.api_url, cloud.aws_endpoint, cloud.resources, cloud.seeded,
                               str(directory / "local.json")))
        print("\nRunning. Ctrl-C stops.", flush=True)
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        print("\nStopping...", flush=True)
        cloud.stop()
        print(f"Stopped. {directory / 'local.json'} is kept, marked stopped.")
    return 0


PORTS = (("port", "the API", "PORT"), ("province_port", "the provincial stub", "PROVINCE_PORT"),
         ("aws_port", "moto (AWS)", "AWS_PORT"))  # fmt: skip


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
    if "RatingsTable" in resources:
        lines.append(f"  aws --endpoint-url {aws_endpoint} --region us-east-1 dynamodb scan "
                     f"--table-name {resources['RatingsTable']}")
    return "\n".join(lines)

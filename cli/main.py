"""The `hcp` command: one entry point, one module per sub-command.

Each command module exposes ``register(subparsers)``; the parser it adds sets ``func``, a callable
taking the parsed arguments and returning the process exit code (0 ok, 1 refused, 2 unusable input).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

COMMAND_MODULES = (
    "cli.normalize_cmd",
    "cli.calendar_cmd",
    "cli.schema_cmd",
    "cli.local_cmd",
    "cli.clock_cmd",
    "cli.send_cmd",
    "cli.dlq_cmd",
    "cli.connectors_cmd",
    "cli.workorders_cmd",
    "cli.ratings_cmd",
    "cli.reports_cmd",
    "cli.province_encode_cmd",
    "cli.ops_cmd",
)


class UsageError(Exception):
    """Unusable arguments or input: the command prints the message and exits 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hcp", description="hcp-hub: the 好差评 integration hub")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a command not written yet; the others still work
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"hcp: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `hcp ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())

"""`hcp ops`: one-off operations on a deployed stack. `backfill-next-due` gives the pending ratings stored before
the sweep's `by_next_due` index existed their next-due time (`infra.backfill`): paged, the progress and a resume
cursor printed after each page, safe to run again."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cli.main import UsageError
from cli.state import load_state


def _table(args: argparse.Namespace) -> tuple[Any, str]:
    import boto3

    if args.table:
        return boto3.client("dynamodb"), args.table
    state = load_state(args.state_dir)
    table = state.get("resources", {}).get("RatingsTable")
    if not table:
        raise UsageError("the local cloud's state has no ratings table; pass --table")
    client = boto3.client(
        "dynamodb", endpoint_url=state["aws_endpoint"], region_name=state.get("region", "us-east-1"),
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    return client, table


def run(args: argparse.Namespace) -> int:
    from infra.backfill import BackfillPage, backfill_next_due

    if not 1 <= args.page <= 1000:
        raise UsageError("--page takes 1 to 1000")
    client, table = _table(args)

    def progress(page: BackfillPage) -> None:
        resume = f"; resume with --from {page.cursor}" if page.cursor else "; done"
        print(f"page: read {page.read}, updated {page.updated}, left alone {page.skipped}{resume}", file=sys.stderr)

    try:
        total = backfill_next_due(client, table, page=args.page, cursor=args.resume, progress=progress)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(json.dumps({"table": table, "read": total.read, "updated": total.updated, "left_alone": total.skipped}))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "ops", help="one-off operations: backfill-next-due",
        description="backfill-next-due: pending ratings stored before the sweep's by_next_due index existed get "
        "next_due_at = stored_at, so the sweep finds them if their message was lost. Paged; each page prints its "
        "progress and a cursor (--from resumes there); a re-run changes nothing twice.",
    )  # fmt: skip
    parser.add_argument("action", choices=["backfill-next-due"])
    parser.add_argument("--page", type=int, default=500, help="ratings read per page (1 to 1000)")
    parser.add_argument("--from", dest="resume", help="the cursor a cut-short run printed")
    parser.add_argument("--table", help="the ratings table (default: the local cloud's)")
    parser.add_argument("--state-dir", help="where local.json is (default .hcp)")
    parser.set_defaults(func=run)

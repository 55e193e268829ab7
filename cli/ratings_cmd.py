"""`hcp ratings list|show|lookup`: ratings as a signed-in person sees them (R20).

    hcp ratings list --as market-dept                       # its agency's, masked
    hcp ratings list --as ganxian-management --grade dissatisfied --from 2026-11-01
    hcp ratings show r0123... --as auditor                  # in clear, and written to the audit log
    hcp ratings lookup --phone 13907970001 --as auditor     # through the keyed-hash index, audited

On the local cloud the person is a demo user (`--as`, default operator); elsewhere `--url` and
`--token`. A table or a story for people, `--json` for scripts. Exit codes: 0 answered, 1 refused by the hub
(status, code and message_zh on one stderr line), 2 unusable arguments.
"""

from __future__ import annotations

import argparse
import urllib.parse
from typing import Any

from cli.api_call import json_call as _call
from cli.table import flatten, shown, table
from cli.table import story as key_values
from cli.workorders_cmd import _common, _when


def run_list(args: argparse.Namespace) -> int:
    fields = {"agency": args.agency, "region": args.region, "from": args.start, "to": args.end, "grade": args.grade,
              "connector": args.connector, "limit": args.limit, "cursor": args.cursor}  # fmt: skip
    query = {name: str(value) for name, value in fields.items() if value is not None}
    if args.include_not_adopted:
        query["include_not_adopted"] = "true"
    if args.unmasked:
        query["unmasked"] = "true"
    return shown(*_call(args, "GET", "/v1/ratings", query=query), args.json, listing)


def listing(answer: dict[str, Any]) -> str:
    """One line per rating, id first; masked numbers unless the auditor asked for them in clear."""
    rows = []
    for shown_rating in answer.get("ratings", []):
        rating = shown_rating.get("rating") or {}
        target, case, rater = rating.get("target") or {}, rating.get("case") or {}, rating.get("rater") or {}
        rows.append([rating.get("rating_id"), _when(rating.get("rated_at")), rating.get("grade"), rating.get("channel"),
                     target.get("agency_name") or target.get("agency_code"), case.get("case_no"), rater.get("phone"),
                     shown_rating.get("delivery")])  # fmt: skip
    if not rows:
        return "no ratings" + (f" from {_when(answer['from'])} to {_when(answer['to'])}" if answer.get("from") else "")
    text = table(["RATING", "RATED (Beijing)", "GRADE", "CHANNEL", "AGENCY", "CASE", "PHONE", "DELIVERY"], rows,
                 widest=26)  # fmt: skip
    notes = [] if answer.get("masked", True) else ["in clear: this read is in the audit log"]
    if answer.get("cursor"):
        notes.append(f"more: --cursor {answer['cursor']}")
    return "\n".join([text, *notes])


def one(answer: dict[str, Any]) -> str:
    """One rating, field by field (dotted paths), then where it is in the pipeline."""
    pairs = flatten(answer.get("rating") or {})
    pairs += [(name, answer.get(name)) for name in ("stored_at", "delivery", "adopted", "not_adopted_by")]
    pairs += flatten(answer.get("receipt"), "receipt") if answer.get("receipt") else []
    return key_values(pairs) + ("" if answer.get("masked", True) else "\n(in clear: this read is in the audit log)")


def run_show(args: argparse.Namespace) -> int:
    query = {"unmasked": "true"} if args.unmasked else None
    return shown(*_call(args, "GET", f"/v1/ratings/{urllib.parse.quote(args.id)}", query=query), args.json, one)


def run_lookup(args: argparse.Namespace) -> int:
    body = {key: value for key, value in (("phone", args.phone), ("id_no", args.id_no)) if value}
    return shown(*_call(args, "POST", "/v1/ratings/lookup", body=body), args.json, listing)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "ratings",
        help="ratings in your scope: list, show, the auditor's look-up",
        description="Ratings through /v1/ratings as a signed-in person; personal data masked except to the auditor.",
    )
    commands = parser.add_subparsers(dest="ratings_command", metavar="COMMAND", required=True)

    listing = commands.add_parser("list", help="the ratings you may see, newest first")
    listing.add_argument("--agency", help="an agency code")
    listing.add_argument("--region", help="a division code or digits prefix (a county lists its townships' too)")
    listing.add_argument("--from", dest="start", help="a date (yyyy-mm-dd, China) or an ISO time; default 30 days ago")
    listing.add_argument("--to", dest="end", help="a date (that day included) or an ISO time; default now")
    listing.add_argument("--grade", help="very_satisfied, satisfied, basically_satisfied, dissatisfied, ...")
    listing.add_argument("--connector", help="a connector id")
    listing.add_argument("--limit", type=int, help="page size, 1-100 (default 50)")
    listing.add_argument("--cursor", help="the cursor of the previous page")
    listing.add_argument("--include-not-adopted", action="store_true", help="also ratings marked not adopted (R14)")
    listing.add_argument("--unmasked", action="store_true", help="in clear: the auditor only, and audited")
    listing.add_argument("--json", action="store_true", help="the answer as JSON, whole")
    _common(listing)
    listing.set_defaults(func=run_list)

    show = commands.add_parser("show", help="one rating")
    show.add_argument("id")
    show.add_argument("--unmasked", action="store_true", help="in clear: the auditor only, and audited")
    show.add_argument("--json", action="store_true", help="the answer as JSON, whole")
    _common(show)
    show.set_defaults(func=run_show)

    lookup = commands.add_parser("lookup", help="the auditor's look-up of a person's ratings by phone or ID number")
    lookup.add_argument("--phone")
    lookup.add_argument("--id-no")
    lookup.add_argument("--json", action="store_true", help="the answer as JSON, whole")
    _common(lookup)
    lookup.set_defaults(func=run_lookup)

"""`hcp connectors test|check`: a department's spec tried offline, before anything is registered.

`test` answers exactly as `hcp normalize` does (same JSON, same exit codes), so the dry-run loop
is: edit the spec, run `test` on a real payload, read the errors, repeat. `check` validates the
spec itself and tries its paths on a sample, which catches a path that is well formed but wrong.
Registering, rotating and disabling a connector go through the registry API, not through here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cli.main import UsageError
from cli.normalize_cmd import content_type_for, parse_now, print_json, report


def _load(spec_file: str) -> tuple[Any, list[dict[str, Any]]]:
    """(the loaded spec, []) or (None, its problems as dicts): the caller picks the exit code."""
    from connectors.spec_loader import SpecInvalid, load_spec

    path = Path(spec_file)
    if not path.is_file():
        raise UsageError(f"no spec file at {path}")
    try:
        return load_spec(path), []
    except SpecInvalid as exc:
        return None, [p.as_dict() for p in exc.problems]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def run_test(args: argparse.Namespace) -> int:
    from connectors.engine import SpecAdapter
    from connectors.spec_loader import check_against_sample

    payload = Path(args.payload)
    body = _read(payload)
    content_type = args.content_type or content_type_for(payload)
    now = parse_now(args.now)
    loaded, problems = _load(args.spec)
    if loaded is None:
        print_json({"outcome": "spec_invalid", "spec": args.spec, "errors": problems})
        return 2
    # Paths that find nothing in this payload explain most rejections; stdout stays `hcp normalize`'s shape.
    for p in check_against_sample(loaded, body, content_type):
        if p.code == "SPEC_PATH_UNMATCHED":
            print(f"hcp: {p.severity}: {args.spec}:{p.line}: {p.path}: {p.message}", file=sys.stderr)
    adapter = SpecAdapter(loaded.spec)
    return report(adapter, body, content_type, now, args.connector_id, show_personal=args.show_personal)


def run_check(args: argparse.Namespace) -> int:
    from connectors.spec_loader import check_against_sample

    sample = Path(args.sample) if args.sample else None
    body = _read(sample) if sample else b""
    content_type = (args.content_type or content_type_for(sample)) if sample else None
    loaded, problems = _load(args.spec)
    if loaded is None:
        print_json({"outcome": "invalid", "spec": args.spec, "errors": problems, "warnings": []})
        return 1
    found = check_against_sample(loaded, body, content_type) if sample else []
    errors = [p.as_dict() for p in found if p.severity == "error"]
    warnings = [p.as_dict() for p in found if p.severity == "warning"]
    spec = loaded.spec
    print_json({
        "outcome": "invalid" if errors else "valid",
        "spec": args.spec,
        "kind": spec.kind,
        "formats": list(spec.formats),
        **({"sample": args.sample} if sample else {}),
        "errors": errors,
        "warnings": warnings,
    })  # fmt: skip
    return 1 if errors else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "connectors",
        help="try a declarative connector spec offline (test a payload, check the spec)",
        description="Connector specs: docs/connectors.md. Registering, rotating and disabling connectors belong to "
        "the registry API (/v1/connectors), not to this command.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    test = actions.add_parser(
        "test",
        help="read a payload with a spec, as the hub would, and print the unified rating or the errors",
        description="Output and exit codes as `hcp normalize`: 0 accepted, 1 rejected, 2 unusable arguments "
        "or an invalid spec (its problems printed as JSON, each with its line). Paths that find nothing in the "
        "payload are reported on stderr.",
    )
    test.add_argument("--spec", required=True, help="the connector spec (JSON or YAML)")
    test.add_argument("payload", help="the payload file (x.json, x.gbk.xml, x.gb18030.form ...)")
    test.add_argument("--content-type", help="as the source would send it, e.g. 'application/xml; charset=gbk'")
    test.add_argument("--now", help="check as of this moment (ISO 8601 with offset); default: now")
    test.add_argument("--connector-id", default="local-check", help="the connector id the rating id derives from")
    test.add_argument("--show-personal", action="store_true", help="print phone, ID number and name unmasked")
    test.set_defaults(func=run_test)

    check = actions.add_parser(
        "check",
        help="validate a spec, and with --sample try each of its paths on a real payload",
        description="Exit 0: valid (warnings may remain); 1: problems, each with its line; 2: unusable arguments.",
    )
    check.add_argument("--spec", required=True, help="the connector spec (JSON or YAML)")
    check.add_argument("--sample", help="a payload of the source: every mapped path must find something in it")
    check.add_argument("--content-type", help="the sample's content type, when its file name does not tell")
    check.set_defaults(func=run_check)

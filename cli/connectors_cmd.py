"""`hcp connectors`: a department's connectors, offline and online.

Offline, before anything is registered: `test` answers exactly as `hcp normalize` does (same JSON,
same exit codes), so the loop is: edit the spec, run `test` on a real payload, read the errors,
repeat; `check` validates the spec and tries its paths on a sample (a path can be well formed and
still select nothing).

Online, against the registry API (/v1/connectors) as a signed-in person: `register`, `list`, `show`,
`update`, `rotate`, `disable`, `dry-run`. On the local cloud the person is a demo user (`--as`,
default market-dept) whose token `cli.people.bearer` fetches; elsewhere `--url` and `--token`.
Exit codes: 0 done, 1 refused by the hub (its JSON answer printed), 2 unusable arguments.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from cli.api_call import answer as _answer
from cli.api_call import person_call
from cli.main import UsageError
from cli.normalize_cmd import content_type_for, parse_now, print_json, report
from cli.table import flatten, shown, table
from cli.table import story as key_values


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


# -- online: the registry API ---------------------------------------------------------------------


def _call(args: argparse.Namespace, method: str, path: str, body: bytes | None = None,
          content_type: str = "application/json", query: dict[str, str] | None = None) -> tuple[int, Any]:  # fmt: skip
    """One registry call as the person `--as` (a demo user of the local cloud) or with `--token`."""
    return person_call(args, method, path, body, content_type=content_type, query=query)


def _with_secret(status: int, answer: Any) -> int:
    code = _answer(status, answer)
    if status < 400 and isinstance(answer, dict) and answer.get("secret"):
        connector = answer.get("connector", {})
        print(f"hcp: connector {connector.get('connector_id')}: keep the secret above now, it is not shown again "
              "(请立即保存密钥，之后不再显示)", file=sys.stderr)  # fmt: skip
    return code


def _spec_text(spec_file: str) -> str:
    path = Path(spec_file)
    try:
        return path.read_text("utf-8-sig")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: a spec file is UTF-8 text") from None


def _sample_fields(sample: str | None, content_type: str | None) -> dict[str, Any]:
    if not sample:
        return {}
    path = Path(sample)
    return {"sample_base64": base64.b64encode(_read(path)).decode(),
            "sample_content_type": content_type or content_type_for(path)}  # fmt: skip


def run_register(args: argparse.Namespace) -> int:
    if bool(args.spec) == bool(args.kind):
        raise UsageError("give --spec FILE (your own format) or --kind KIND (a built-in family), one of the two")
    name = args.name
    if args.spec:
        loaded, problems = _load(args.spec)  # the same check the hub runs, before anything is sent
        if loaded is None:
            print_json({"outcome": "invalid", "spec": args.spec, "errors": problems})
            return 1
        name = name or loaded.spec.name or loaded.spec.kind
    body: dict[str, Any] = {"name": name or args.kind}
    if args.spec:
        body["spec"] = _spec_text(args.spec)
    else:
        body["kind"] = args.kind
    if args.owner:
        body["owner_agency"] = args.owner
    if args.agency:
        body["agencies"] = args.agency
    if args.region:
        body["regions"] = args.region
    body |= _sample_fields(args.sample, args.sample_content_type)
    status, answer = _call(args, "POST", "/v1/connectors", json.dumps(body, ensure_ascii=False).encode())
    if status == 422 and args.spec and isinstance(answer, dict):
        for error in answer.get("errors", []):
            if error.get("line"):
                print(f"hcp: error: {args.spec}:{error['line']}: {error.get('path')}: {error.get('message')}",
                      file=sys.stderr)  # fmt: skip
    return _with_secret(status, answer)


def run_list(args: argparse.Namespace) -> int:
    return shown(*_call(args, "GET", "/v1/connectors"), args.json, listing)


def listing(answer: dict[str, Any]) -> str:
    rows = [[c.get("connector_id"), c.get("kind"), c.get("status"), c.get("name"), c.get("agencies") or [],
             c.get("regions") or []] for c in answer.get("connectors", [])]  # fmt: skip
    return table(["ID", "KIND", "STATUS", "NAME", "AGENCIES", "REGIONS"], rows) if rows else "no connectors"


def one(answer: dict[str, Any]) -> str:
    """The connector field by field; a custom spec as its line count (`--json` has it whole)."""
    connector = dict(answer.get("connector", answer))
    spec = connector.pop("spec", None)
    pairs = flatten(connector)
    if spec:
        pairs.append(("spec", f"{len(str(spec).splitlines())} lines (--json prints it)"))
    return key_values(pairs)


def run_show(args: argparse.Namespace) -> int:
    return shown(*_call(args, "GET", f"/v1/connectors/{urllib.parse.quote(args.id)}"), args.json, one)


def run_update(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {}
    if args.name:
        body["name"] = args.name
    if args.agency:
        body["agencies"] = args.agency
    if args.region is not None:
        body["regions"] = [r for r in args.region if r]
    if args.spec:
        body["spec"] = _spec_text(args.spec)
    body |= _sample_fields(args.sample, args.sample_content_type)
    if not body:
        raise UsageError("nothing to change: --name, --agency, --region or --spec")
    data = json.dumps(body, ensure_ascii=False).encode()
    return _answer(*_call(args, "PATCH", f"/v1/connectors/{urllib.parse.quote(args.id)}", data))


def run_rotate(args: argparse.Namespace) -> int:
    path = f"/v1/connectors/{urllib.parse.quote(args.id)}/rotate"
    return _with_secret(*_call(args, "POST", path, b"", query={"grace": args.grace}))


def run_disable(args: argparse.Namespace) -> int:
    return _answer(*_call(args, "POST", f"/v1/connectors/{urllib.parse.quote(args.id)}/disable", b""))


def run_dry_run(args: argparse.Namespace) -> int:
    payload = Path(args.payload)
    body = _read(payload)
    content_type = args.content_type or content_type_for(payload)
    status, answer = _call(args, "POST", f"/v1/connectors/{urllib.parse.quote(args.id)}/dry-run", body, content_type)
    print_json(answer if isinstance(answer, dict) else {"answer": answer})
    if status >= 400:
        return 1
    return 0 if isinstance(answer, dict) and answer.get("outcome") == "accepted" else 1


def _online(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--as", dest="as_user", default="market-dept", help="the demo user to act as (`hcp local users`)"
    )
    parser.add_argument("--token", help="an ID token instead of a demo user's")
    parser.add_argument("--url", help="the hub's base URL (with --token); default: the local cloud's")
    parser.add_argument("--state-dir", help="where local.json is (default .hcp)")
    return parser


def _register_online(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    reg = _online(actions.add_parser(
        "register", help="register a connector: prints its id and its secret, once",
        description="Registers a connector owned by your department, for the agencies and region prefixes given "
        "(default: your agency). The spec is checked as `check` does, every problem with its line; with --sample "
        "each path must find something. Exit 0: registered (keep the secret); 1: refused; 2: unusable arguments.",
    ))  # fmt: skip
    reg.add_argument("--spec", help="your spec (JSON or YAML): a format no built-in family reads")
    reg.add_argument("--kind", help="or a built-in family: vertical_system, kiosk, window_device ...")
    reg.add_argument("--name", help="what people call it (default: the spec's name)")
    reg.add_argument("--owner", help="the owning department's credit code (default: your agency)")
    reg.add_argument("--agency", action="append", help="a credit code it rates for (repeat; default: the owner)")
    reg.add_argument("--region", action="append", help="a division-code prefix it rates within, e.g. 360704 (repeat)")
    reg.add_argument("--sample", help="a real payload: every mapped path must find something in it")
    reg.add_argument("--sample-content-type", help="the sample's content type, when its file name does not tell")
    reg.set_defaults(func=run_register)

    listing = _online(actions.add_parser("list", help="the connectors you may see"))
    listing.add_argument("--json", action="store_true", help="the answer as JSON, whole")
    listing.set_defaults(func=run_list)
    show = _online(actions.add_parser("show", help="one connector (never its secret)"))
    show.add_argument("id")
    show.add_argument("--json", action="store_true", help="the answer as JSON, whole (with a custom spec's text)")
    show.set_defaults(func=run_show)

    update = _online(actions.add_parser("update", help="change a connector's name, scope or spec"))
    update.add_argument("id")
    update.add_argument("--name")
    update.add_argument("--agency", action="append", help="the agencies it rates for, all of them (repeat)")
    update.add_argument("--region", action="append", help="the region prefixes, all of them (repeat; '' for none)")
    update.add_argument("--spec", help="a new spec (a custom connector)")
    update.add_argument("--sample", help="a payload the new spec must read")
    update.add_argument("--sample-content-type")
    update.set_defaults(func=run_update)

    rotate = _online(actions.add_parser(
        "rotate", help="a new secret (printed once); the old one keeps working for --grace",
        description="Exit 0: rotated (keep the new secret). Requests signed with the old secret after the grace "
        "period are refused with 401 KEY_RETIRED.",
    ))  # fmt: skip
    rotate.add_argument("id")
    rotate.add_argument("--grace", default="24h", help="how long the old secret still works: 24h, 30m, 0s (max 30d)")
    rotate.set_defaults(func=run_rotate)

    disable = _online(actions.add_parser(
        "disable", help="refuse the connector's requests (within 30 s: warm ingest instances keep a copy)",
    ))  # fmt: skip
    disable.add_argument("id")
    disable.set_defaults(func=run_disable)

    dry = _online(actions.add_parser(
        "dry-run", help="read a payload with a registered connector, as ingest would; kept nowhere",
        description="Output as `hcp connectors test` and `hcp normalize`, scope checked too (CONNECTOR_OUT_OF_SCOPE). "
        "Exit 0: every item accepted; 1: rejected or refused; 2: unusable arguments.",
    ))  # fmt: skip
    dry.add_argument("id")
    dry.add_argument("payload", help="the payload file (x.json, x.gbk.xml, x.gb18030.form ...)")
    dry.add_argument("--content-type", help="as the source would send it, e.g. 'application/xml; charset=gbk'")
    dry.set_defaults(func=run_dry_run)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "connectors",
        help="connectors: try a spec offline (test, check); register and manage them online",
        description="Connector specs and the registry: docs/connectors.md. test/check work offline; register, list, "
        "show, update, rotate, disable and dry-run call the registry API (/v1/connectors) as a signed-in person.",
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
    _register_online(actions)

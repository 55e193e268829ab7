"""`hcp send`: sign and post payload files as a connector, printing each item's result."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from cli.api_call import request_json
from cli.main import UsageError
from cli.normalize_cmd import content_type_for
from cli.state import load_state


def post_signed(url: str, connector_id: str, secret: str, body: bytes, content_type: str) -> tuple[int, Any]:
    """POST `body` signed as the connector (docs/signing.md); the status and the decoded JSON answer."""
    from infra.signing import sign

    headers = sign(secret, body, timestamp=int(time.time()), nonce=secrets.token_hex(16))
    headers |= {"Content-Type": content_type, "X-Hcp-Connector": connector_id}
    return request_json(urllib.request.Request(url, data=body, headers=headers, method="POST"), timeout=30)


def _target(args: argparse.Namespace) -> tuple[str, str, str]:
    """(endpoint URL, connector id, secret) from the flags, or from the local cloud's demo connectors."""
    if args.connector or args.secret or args.url:
        if not (args.connector and args.secret and args.url):
            raise UsageError("--connector, --secret and --url go together")
        base, connector_id, secret = args.url.rstrip("/"), args.connector, args.secret
    else:
        if not args.kind:
            raise UsageError("say which demo connector sends: --kind KIND (or --connector/--secret/--url)")
        state = load_state(args.state_dir)
        demo = state.get("connectors", {}).get(args.kind)
        if demo is None:
            known = ", ".join(sorted(state.get("connectors", {})))
            raise UsageError(f"the local cloud has no demo connector of kind {args.kind!r}; it has: {known}")
        base, connector_id, secret = state["api_url"].rstrip("/"), demo["connector_id"], demo["secret"]
    if args.kind == "cases":
        return f"{base}/v1/cases", connector_id, secret
    if args.unified:
        return f"{base}/v1/ratings", connector_id, secret
    return f"{base}/v1/connectors/{connector_id}/ratings", connector_id, secret


def run(args: argparse.Namespace) -> int:
    url, connector_id, secret = _target(args)
    files = [Path(f) for f in args.files]
    for path in files:
        if not path.is_file():
            raise UsageError(f"cannot read {path}")
    progress = None
    if len(files) > 1 and not args.quiet:
        from tqdm import tqdm

        progress = tqdm(total=len(files), unit="file", file=sys.stderr)
    worst = 0
    for path in files:
        status, answer = post_signed(url, connector_id, secret, path.read_bytes(),
                                     args.content_type or content_type_for(path))  # fmt: skip
        line = {"file": str(path), "status": status, **(answer if isinstance(answer, dict) else {"answer": answer})}
        outcomes = [r.get("outcome") for r in line.get("results", [])]
        if status >= 400 or "rejected" in outcomes or "conflict" in outcomes:
            worst = 1
        if progress is not None:
            progress.update(1)
            progress.write(json.dumps(line, ensure_ascii=False))
        else:
            print(json.dumps(line, ensure_ascii=False, indent=None if args.quiet else 2))
    if progress is not None:
        progress.close()
    return worst


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "send",
        help="sign and post payload files as a connector",
        description="Posts each file signed as the local cloud's demo connector of --kind (from .hcp/local.json), "
        "or as --connector/--secret to --url. Exit 0 when every item was accepted or a duplicate, 1 otherwise.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--kind", help="the demo connector: vertical_system, kiosk, intermediary, window_device, cases")
    parser.add_argument("--connector", help="a connector id (with --secret and --url)")
    parser.add_argument("--secret", help="that connector's secret")
    parser.add_argument("--url", help="the hub's base URL, e.g. http://127.0.0.1:8787")
    parser.add_argument("--unified", action="store_true", help="post to /v1/ratings (the unified JSON)")
    parser.add_argument("--content-type", help="override the content type guessed from the file name")
    parser.add_argument("--state-dir", help="where local.json is (default .hcp)")
    parser.add_argument("--quiet", action="store_true", help="one line per file, no progress bar")
    parser.set_defaults(func=run)

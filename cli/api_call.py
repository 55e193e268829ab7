"""How the hcp commands talk to the hub's API: one request, its JSON answer, and the signed-in person's call.

`hcp connectors`, `hcp workorders` and `hcp ratings` act as a person (a demo user's ID token on the
local cloud, or `--url` with `--token`); `hcp send` as a connector (signed bodies). All of them read
answers the same way: the status and the JSON, or the first 500 characters of what was not JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from cli.main import UsageError
from cli.normalize_cmd import print_json


def request_json(request: urllib.request.Request, timeout: float = 60) -> tuple[int, Any]:
    """The status and the JSON answer; an HTTP error is an answer too, an unreachable hub a `UsageError`."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    except urllib.error.URLError as err:
        raise UsageError(
            f"cannot reach {request.full_url}: {err.reason} (is the local cloud running? `make run`)"
        ) from None
    try:
        return status, json.loads(raw or b"null")
    except json.JSONDecodeError:
        return status, {"raw": raw.decode("utf-8", "replace")[:500]}


def person_call(
    args: argparse.Namespace,
    method: str,
    path: str,
    data: bytes | None = None,
    *,
    content_type: str = "application/json",
    query: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One call as the person `--as` (a demo user of the local cloud) or with `--token` (and `--url`)."""
    from cli.state import load_state

    if args.url:
        if not args.token:
            raise UsageError("--url needs --token (an ID token of the hub's user pool)")
        base, token = args.url.rstrip("/"), args.token
    else:
        from cli.people import bearer

        base = load_state(args.state_dir)["api_url"].rstrip("/")
        token = args.token or bearer(args.as_user, args.state_dir)
    url = base + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
    return request_json(urllib.request.Request(url, data=data, headers=headers, method=method))


def json_call(
    args: argparse.Namespace, method: str, path: str, body: Any = None, query: dict[str, str] | None = None
) -> tuple[int, Any]:
    """`person_call` with a JSON body (None: no body)."""
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
    return person_call(args, method, path, data, query=query)


def answer(status: int, answer: Any) -> int:
    """Print the answer as JSON; exit 0 when the hub did it, 1 when it refused (and say so in one line on stderr)."""
    print_json(answer if isinstance(answer, dict) else {"answer": answer})
    if status >= 400:
        from cli.table import refusal_line

        print(refusal_line(status, answer), file=sys.stderr)
    return 0 if status < 400 else 1

"""`hcp local users` and `hcp local token NAME`: the local cloud's demo people and their ID tokens.

    curl -H "Authorization: Bearer $(hcp local token market-dept)" http://127.0.0.1:8787/v1/me

`bearer(name)` is the same token for other commands that call people's routes.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from cli.main import UsageError
from cli.state import load_state


def _token(state: dict[str, Any], name: str) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    from infra.localcloud.people import UnknownUser, id_token

    if not state.get("users"):
        raise UsageError("the local cloud's state has no demo users; restart it with `make run`")
    try:
        return id_token(state, name)
    except UnknownUser as exc:
        raise UsageError(str(exc)) from None
    except (BotoCoreError, ClientError) as exc:
        where = state.get("cognito_endpoint") or state.get("aws_endpoint")
        raise UsageError(f"could not sign {name} in at {where} ({exc}); is `make run` running?") from None


def bearer(name: str, state_dir: str | None = None) -> str:
    """A fresh ID token of the demo user `name`, from the local cloud that local.json names."""
    return _token(load_state(state_dir), name)


def scope_of(user: dict[str, Any]) -> str:
    parts = [f"agency {user['agency_code']}"] if user.get("agency_code") else []
    if user.get("region_code"):
        parts.append(f"region {user['region_code']}")
    return ", ".join(parts) or "all"


def run_users(args: argparse.Namespace) -> int:
    state = load_state(args.state_dir)
    users: dict[str, dict[str, Any]] = state.get("users") or {}
    if not users:
        raise UsageError("the local cloud's state has no demo users; restart it with `make run`")
    if args.json:
        secret = ("password", "id_token")
        shown = {name: {k: v for k, v in user.items() if k not in secret} for name, user in users.items()}
        print(json.dumps(shown, ensure_ascii=False, indent=2))
        return 0
    width = max(len(name) for name in users)
    for name, user in users.items():
        line = f"{name:<{width}}  {user['role']:<10}  {scope_of(user)}"
        print(f"{line}  ({user['about']})" if user.get("about") else line)
    print(f"\nuser pool {state.get('user_pool_id')}, client {state.get('user_pool_client_id')}; "
          "a token: hcp local token NAME")  # fmt: skip
    return 0


def run_token(args: argparse.Namespace) -> int:
    print(bearer(args.name, args.state_dir))
    return 0


def register_local(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = sub.add_parser(
        "users",
        help="the demo people: name, role and scope",
        description="Lists the local cloud's demo users (docs/people.md): one per role and scope.",
    )
    users.add_argument("--json", action="store_true", help="as JSON (no passwords, no tokens)")
    users.add_argument("--state-dir", help="where local.json is (default .hcp)")
    users.set_defaults(func=run_users)
    token = sub.add_parser(
        "token",
        help="a fresh ID token of a demo user, for Authorization: Bearer",
        description="Prints a demo user's ID token (signing in again when the cached one expires within a "
        'minute), for `curl -H "Authorization: Bearer $(hcp local token NAME)"`.',
    )
    token.add_argument("name", help="a demo user, e.g. market-dept (see `hcp local users`)")
    token.add_argument("--state-dir", help="where local.json is (default .hcp)")
    token.set_defaults(func=run_token)

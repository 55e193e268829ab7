"""`hcp province encode`: the exact bytes a rating becomes for one province, with the decrypted view beside them.

For integrators checking the hub against their province's interface document: the body and headers as the
forward function would post them (the service record first, for a two-step profile), and what each
ciphertext holds. By default it encrypts to the provincial stub's test key, so the view can be decrypted;
`--province-key` encrypts to the province's real public key (the plaintext view is then what was encrypted).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cli.main import UsageError
from cli.normalize_cmd import content_type_for, parse_now, print_json


def _rating(args: argparse.Namespace) -> Any:
    from hub.rating import Rating

    path = Path(args.file)
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if not args.kind:
        try:
            return Rating.model_validate_json(body)
        except ValueError:
            raise UsageError(f"{path} is not a unified rating; for a source payload say --kind KIND") from None
    from connectors.normalize import normalize
    from connectors.registry import adapter_for, builtin_kinds
    from hub.calendar import WorkingDayCalendar
    from hub.errors import Refused

    if args.kind not in builtin_kinds():
        raise UsageError(f"unknown kind {args.kind!r}; known: {', '.join(builtin_kinds())}")
    now = parse_now(args.now)
    try:
        [outcome] = normalize(
            adapter_for(args.kind), body, content_type_for(path),
            connector_id=args.connector_id, received_at=now, now=now, calendar=WorkingDayCalendar(),
        )  # fmt: skip
    except Refused as exc:
        raise UsageError(f"{path} is refused: {'; '.join(p.message for p in exc.problems)}") from None
    except ValueError:
        raise UsageError(f"{path} holds more than one rating; encode one at a time") from None
    if outcome.rating is None:
        raise UsageError(f"{path} is refused: {'; '.join(p.message for p in outcome.problems)}")
    return outcome.rating


def _opened(value: Any, codec: Any, app_word: str) -> Any:
    """The envelope with every ciphertext replaced by what it decrypts to (JSON parsed where it is JSON);
    the app word inside the Epoint sign is shown as <appWord>, never printed."""
    from infra.province.profile import EnvelopeError

    if isinstance(value, dict):
        return {key: _opened(item, codec, app_word) for key, item in value.items()}
    if isinstance(value, list):
        return [_opened(item, codec, app_word) for item in value]
    if isinstance(value, str) and len(value) > 96 and codec.keys.decrypt_with is not None:
        try:
            text = codec._text(value)
        except EnvelopeError:
            return value
        try:
            return {"decrypted": json.loads(text)}
        except ValueError:
            return {"decrypted": text.replace(app_word, "<appWord>") if app_word else text}
    return value


def run(args: argparse.Namespace) -> int:
    from infra.province import sm2
    from infra.province.client import Credentials, ProvincialClient, default_service_url
    from infra.province.profile import Codec, ProfileError, ProfileKeys, ProvinceProfile
    from infra.province.stub import STUB_PROVINCE_SM2_KEY, stub_credentials

    try:
        profile = ProvinceProfile.load(args.profile)
    except ProfileError as exc:
        raise UsageError(str(exc)) from None
    rating = _rating(args)
    creds = {**stub_credentials(), "app_id": args.app_mark, "secret": args.app_word}
    if args.province_key:
        try:
            sm2.load_public_key(args.province_key)
        except sm2.SM2Error as exc:
            raise UsageError(f"--province-key: {exc}") from None
        creds["province_public_key"] = args.province_key
    credentials = Credentials(**creds)
    url = args.url.rstrip("/")
    client = ProvincialClient(url, credentials.app_id, credentials.secret, profile=profile, credentials=credentials)
    stub_key = None if args.province_key else sm2.load_private_key(STUB_PROVINCE_SM2_KEY)
    viewer = Codec(profile, ProfileKeys(None, stub_key))
    steps = ["service", "evaluate"] if profile.service_record is not None else ["evaluate"]
    pushes = []
    for kind in steps:
        record, body, headers = client.encode(rating, kind)  # type: ignore[arg-type]
        text = body.decode("utf-8")
        pushes.append({
            "step": kind,
            "url": default_service_url(url, profile.service_step.path) if kind == "service" else url,
            "headers": {"Content-Type": "application/json; charset=utf-8", **headers},
            "body": text,
            "decrypted": _opened(json.loads(text), viewer, credentials.secret) if not args.province_key else None,
            "record": record,
        })  # fmt: skip
    print_json({
        "profile": profile.name,
        "title": profile.title,
        "encrypted_to": "the province's key (--province-key)" if args.province_key else "the stub's test key",
        "assumptions": profile.assumptions,
        "pushes": pushes,
    })  # fmt: skip
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("province", help="the provincial gateway as a profile speaks it")
    commands = parser.add_subparsers(dest="province_command", metavar="SUBCOMMAND", required=True)
    encode = commands.add_parser(
        "encode",
        help="print the bytes a rating becomes for a province, with the decrypted view",
        description="A source payload (with --kind) or a unified rating JSON, encoded as PROFILE's gateway "
        "would receive it. Exit 0: printed; 2: unusable profile, file or key.",
    )
    encode.add_argument("file", help="a sample (x.json, x.gbk.xml, … with --kind) or a unified rating JSON")
    encode.add_argument("--profile", required=True, help="a shipped profile (national, shandong, …) or a path")
    encode.add_argument("--kind", help="the source family of FILE (vertical_system, kiosk, …); none: a unified rating")
    encode.add_argument("--now", help="normalize as of this moment (ISO 8601 with offset); default: now")
    encode.add_argument("--connector-id", default="local-check", help="the connector id the rating id derives from")
    encode.add_argument("--url", default="https://province.example.invalid/haochaping", help="the push endpoint")
    encode.add_argument("--app-mark", default="hcp-hub", help="app id / appMark (default: the stub's)")
    encode.add_argument("--app-word", default="province-stub-secret", help="secret / appWord (default: the stub's)")
    encode.add_argument("--province-key", help="the province's SM2 public key (hex, base64 or PEM) to encrypt to")
    encode.set_defaults(func=run)

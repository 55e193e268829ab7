"""`hcp normalize`: check a payload offline, exactly as the hub would read it, before calling the hub."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cli.main import UsageError

_SUFFIX_TYPES = {
    ".json": "application/json",
    ".xml": "application/xml",
    ".form": "application/x-www-form-urlencoded",
    ".txt": "text/plain",
}
_CHARSET_MARKS = ("gbk", "gb18030", "gb2312", "utf-8", "utf8", "big5")


def content_type_for(path: Path) -> str:
    """From the file name: `x.gbk.xml` is XML in GBK; `x.json` is JSON in UTF-8."""
    suffixes = [s.lower() for s in path.suffixes]
    mime = next((_SUFFIX_TYPES[s] for s in reversed(suffixes) if s in _SUFFIX_TYPES), None)
    if mime is None:
        raise UsageError(f"cannot tell the content type of {path.name}; pass --content-type")
    charset = next((s[1:] for s in suffixes if s[1:] in _CHARSET_MARKS), None)
    return f"{mime}; charset={charset}" if charset else mime


def parse_now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--now takes an ISO 8601 time with offset, not {text!r}") from None
    if moment.tzinfo is None:
        raise UsageError("--now needs a UTC offset, e.g. 2026-11-28T12:00:00+08:00")
    return moment


def _adapter(args: argparse.Namespace) -> Any:
    from connectors.engine import SpecAdapter
    from connectors.registry import adapter_for, builtin_kinds, builtin_spec
    from connectors.spec_loader import SpecInvalid, load_spec

    if args.spec:
        try:
            spec = load_spec(Path(args.spec)).spec  # table keys as written ("01" stays "01"), problems by line
        except SpecInvalid as exc:
            raise UsageError(f"the spec {args.spec} is not valid:\n{exc}") from None
        return SpecAdapter(spec)
    if not args.kind:
        raise UsageError("say which source family: --kind KIND (or --spec FILE)")
    if args.kind not in builtin_kinds():
        raise UsageError(f"unknown kind {args.kind!r}; known: {', '.join(builtin_kinds())}")
    settings = _load_structured(Path(args.settings)) if args.settings else None
    if settings:
        try:
            return SpecAdapter(builtin_spec(args.kind).with_settings(settings))
        except ValueError as exc:
            raise UsageError(f"the settings in {args.settings} do not fit {args.kind}:\n{exc}") from None
    return adapter_for(args.kind)


def _load_structured(path: Path) -> Any:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        return yaml.safe_load(text)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not JSON: {exc}") from None


def run(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    content_type = args.content_type or content_type_for(path)
    now = parse_now(args.now)
    adapter = _adapter(args)
    return report(adapter, body, content_type, now, args.connector_id, show_personal=args.show_personal)


def report(
    adapter: Any, body: bytes, content_type: str, now: datetime, connector_id: str, *, show_personal: bool
) -> int:
    """Normalize and print the one JSON object both `hcp normalize` and `hcp connectors test` answer with."""
    from connectors.normalize import normalize, report_of
    from hub.calendar import WorkingDayCalendar
    from hub.errors import Refused

    try:
        outcomes = normalize(
            adapter, body, content_type,
            connector_id=connector_id, received_at=now, now=now, calendar=WorkingDayCalendar(),
        )  # fmt: skip
    except Refused as exc:
        print_json({"outcome": "rejected", "errors": [p.as_dict() for p in exc.problems]})
        return 1

    answer = report_of(outcomes, show_personal=show_personal)
    print_json(answer)
    return 0 if answer["outcome"] == "accepted" else 1


def print_json(data: dict[str, Any]) -> None:
    """One JSON object on stdout, Chinese kept readable: every `hcp` command that answers in JSON."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "normalize",
        help="read a source payload as the hub would, and print the unified rating or the errors",
        description="Exit 0: accepted; 1: rejected; 2: unusable arguments or unreadable file. "
        "Personal data is masked unless --show-personal.",
    )
    parser.add_argument("file", help="the payload file (x.json, x.gbk.xml, x.gbk.form ...)")
    parser.add_argument("--kind", help="the source family (vertical_system, kiosk, intermediary, window_device)")
    parser.add_argument("--spec", help="a connector spec (JSON or YAML) instead of a built-in family")
    parser.add_argument("--settings", help="per-connector settings (JSON or YAML) merged into the family's spec")
    parser.add_argument("--content-type", help="as the source would send it, e.g. 'application/xml; charset=gbk'")
    parser.add_argument("--now", help="check as of this moment (ISO 8601 with offset); default: now")
    parser.add_argument("--connector-id", default="local-check", help="the connector id the rating id derives from")
    parser.add_argument("--show-personal", action="store_true", help="print phone, ID number and name unmasked")
    parser.set_defaults(func=run)

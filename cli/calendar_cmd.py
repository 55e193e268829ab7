"""`hcp calendar due DATE N`: the N-th working day after DATE, as the hub counts deadlines.

For operators checking a deadline by hand and for trying a State Council notice (``--notice``)
before it is loaded for real. The arithmetic is all in ``hub.calendar``; this only parses and prints.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path

from cli.main import UsageError
from hub.calendar import (
    END_OF_DAY,
    SHANGHAI,
    DayInfo,
    Due,
    NoticeInvalid,
    NoticeRefused,
    WorkingDayCalendar,
    YearNotice,
    local_date,
    parse_notice,
)

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_COUNT = re.compile(r"\d+")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "calendar",
        help="working days (工作日) and deadlines",
        description="Working days of mainland China's official calendar, adjusted weekends (调休) "
        "included, in Asia/Shanghai.",
    )
    sub = parser.add_subparsers(dest="calendar_command", metavar="SUBCOMMAND", required=True)
    due = sub.add_parser(
        "due",
        help="the N-th working day after DATE",
        description="Print the N-th working day strictly after DATE (YYYY-MM-DD), followed by "
        "' provisional' when a year without official data or a loaded notice was counted as "
        "Monday–Friday. N=0 prints DATE itself.",
    )
    due.add_argument("date", metavar="DATE", help="YYYY-MM-DD, or an ISO 8601 time with its UTC offset")
    due.add_argument("n", metavar="N", help="working days, 0 or more")
    due.add_argument("--explain", action="store_true", help="also list every day passed over or counted, and why")
    due.add_argument(
        "--notice",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="a State Council notice as JSON (see docs/calendar.md), for this run; repeatable",
    )
    due.add_argument(
        "--force",
        action="store_true",
        help="let --notice files replace years that chinesecalendar already covers",
    )
    due.set_defaults(func=run_due)
    load = sub.add_parser(
        "load",
        help="load a year's holiday notice into the running hub",
        description="Checks FILE (a State Council notice as JSON, see docs/calendar.md), then posts it to the "
        "hub's operator API (POST /v1/calendar/notices), signed as the local cloud's demo operator or as "
        "--connector/--secret to --url. The hub stores it, counts with it from then on, and recomputes every "
        "rating window that was provisional for the year. Exit 0 loaded, 1 refused by the hub, 2 unusable file.",
    )
    load.add_argument("file", metavar="FILE", type=Path)
    load.add_argument("--force", action="store_true", help="replace a year the official calendar already covers")
    load.add_argument("--connector", help="an operator connector's id (with --secret and --url)")
    load.add_argument("--secret", help="that connector's secret")
    load.add_argument("--url", help="the hub's base URL, e.g. http://127.0.0.1:8787")
    load.add_argument("--state-dir", help="where local.json is (default .hcp)")
    load.set_defaults(func=run_load)


def run_due(args: argparse.Namespace) -> int:
    start, moment = _parse_start(args.date)
    n = _parse_count(args.n)
    calendar = WorkingDayCalendar()
    notices = _load_notices(calendar, args.notice, force=args.force)
    try:
        due = calendar.add_working_days(start, n)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(due.date.isoformat() + (" provisional" if due.provisional else ""))
    if args.explain:
        _explain_due(start, moment, due, notices)
    return 0


def _explain_due(start: dt.date, moment: dt.datetime | None, due: Due, notices: list[tuple[Path, YearNotice]]) -> None:
    """The --explain lines: which notices were used, each day walked over and why, the deadline."""
    deadline = dt.datetime.combine(due.date, END_OF_DAY, tzinfo=SHANGHAI)
    for path, notice in notices:
        print(f"notice    {notice.year}  {notice.title} ({path})")
    origin = f"  (from {moment.isoformat()})" if moment else ""
    print(f"start     {_day(start)}  not counted{origin}")
    counted = 0
    for info in due.days:
        if info.workday:
            counted += 1
        print(_explain(info, counted))
    skipped = len(due.days) - counted
    print(
        f"deadline  {deadline.isoformat()}  ({_plural(counted, 'working day')} counted, "
        f"{_plural(skipped, 'day')} skipped)"
    )
    years = sorted({info.date.year for info in due.days if info.provisional})
    if years:
        print(
            f"provisional: no official calendar or notice for {', '.join(map(str, years))}; "
            "Monday–Friday assumed; recompute once the year's notice is loaded"
        )


def _parse_start(text: str) -> tuple[dt.date, dt.datetime | None]:
    """DATE is a calendar date, or an aware moment whose Asia/Shanghai date it stands for."""
    if _DATE.fullmatch(text):
        try:
            return dt.date.fromisoformat(text), None
        except ValueError as exc:
            raise UsageError(f"DATE {text!r} is not a date: {exc}") from None
    usage = f"DATE must be YYYY-MM-DD or an ISO 8601 time with its UTC offset, got {text!r}"
    if not _MOMENT.match(text):  # fromisoformat would also take 20260930 or 2026-W40-3
        raise UsageError(usage)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(usage) from None
    try:
        return local_date(moment), moment
    except ValueError:
        raise UsageError(f"DATE {text!r} has no UTC offset; add one (e.g. +08:00) or give a date") from None


def _parse_count(text: str) -> int:
    if not _COUNT.fullmatch(text):
        raise UsageError(f"N must be a whole number of working days, 0 or more, got {text!r}")
    return int(text)


def _load_notices(calendar: WorkingDayCalendar, paths: list[Path], *, force: bool) -> list[tuple[Path, YearNotice]]:
    loaded: dict[int, Path] = {}
    notices: list[tuple[Path, YearNotice]] = []
    for path in paths:
        try:
            notice = parse_notice(path.read_bytes(), str(path))
        except OSError as exc:
            raise UsageError(f"cannot read notice {path}: {exc.strerror or exc}") from None
        except NoticeInvalid as exc:
            raise UsageError(str(exc)) from None
        if notice.year in loaded:
            raise UsageError(f"{path} and {loaded[notice.year]} are both notices for {notice.year}")
        try:
            calendar.load(notice, force=force)
        except NoticeRefused:
            raise UsageError(
                f"{path}: the official calendar already covers {notice.year}; add --force to override it"
            ) from None
        loaded[notice.year] = path
        notices.append((path, notice))
    return notices


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _day(day: dt.date) -> str:
    return f"{day.isoformat()} {_WEEKDAYS[day.weekday()]}"


def _holiday(info: DayInfo) -> str:
    if info.holiday_zh and info.holiday_en:
        return f"{info.holiday_zh} {info.holiday_en}"
    return info.holiday_zh or info.holiday_en or ""


def _explain(info: DayInfo, counted: int) -> str:
    if info.reason == "holiday":
        line = f"skipped   {_day(info.date)}  holiday {_holiday(info)}"
    elif info.reason == "weekend":
        line = f"skipped   {_day(info.date)}  weekend"
    elif info.reason == "adjusted_workday":
        served = _holiday(info)
        line = f"counted   {_day(info.date)}  working day {counted}, adjusted workday (调休)"
        line += f" for {served}" if served else ""
    else:
        line = f"counted   {_day(info.date)}  working day {counted}"
    if info.provisional:
        line += f"  [provisional: no calendar for {info.date.year}, Monday–Friday]"
    return line


def run_load(args: argparse.Namespace) -> int:
    """Checked here first, so a malformed file is refused with the calendar's own lines before any request."""
    from cli.send_cmd import post_signed
    from cli.state import load_state
    from hub.calendar_admin import problem_lines

    try:
        text = args.file.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read notice {args.file}: {exc.strerror or exc}") from None
    try:
        notice = parse_notice(text, str(args.file))
    except NoticeInvalid as exc:
        raise UsageError("\n  ".join([f"{args.file} is not a valid notice:", *problem_lines(exc)])) from None
    if args.connector or args.secret or args.url:
        if not (args.connector and args.secret and args.url):
            raise UsageError("--connector, --secret and --url go together")
        base, connector_id, secret = args.url.rstrip("/"), args.connector, args.secret
    else:
        state = load_state(args.state_dir)
        operator = state.get("connectors", {}).get("operator")
        if operator is None:
            raise UsageError("the local cloud's state has no operator credential; give --connector/--secret/--url")
        base, connector_id, secret = state["api_url"].rstrip("/"), operator["connector_id"], operator["secret"]
    url = f"{base}/v1/calendar/notices" + ("?force=true" if args.force else "")
    status, answer = post_signed(url, connector_id, secret, text, "application/json")
    if status != 200 or not isinstance(answer, dict):
        for error in (answer or {}).get("errors", []) if isinstance(answer, dict) else []:
            print(f"refused: {error.get('code')} {error.get('path') or ''}: {error.get('message')}".replace(" :", ":"))
        if not isinstance(answer, dict) or not answer.get("errors"):
            print(f"refused: HTTP {status}: {answer}")
        if any(e.get("code") == "NOTICE_REFUSED" for e in (answer or {}).get("errors", [])):
            print(f"{notice.year} is official; add --force to override it")
        return 1
    print(f"loaded {answer['year']} ({answer['title']}){' forced' if answer.get('forced') else ''}: "
          f"{answer['recomputed']} rating window(s) recomputed"
          f"{', more to come from the scheduler' if answer.get('remaining') else ''}")  # fmt: skip
    for window in answer.get("windows", []):
        mark = " provisional" if window["provisional"] else ""
        print(f"  {window['case_key']}  closes {window['closes_at']}{mark}")
    return 0

"""`hcp reports show|generate|rebuild`: the 通报 (R19) as a signed-in person sees them.

    hcp reports show --period 2026-11 --region 360704 --as ganxian-management     # a table in the terminal
    hcp reports show --period 2026-11 --agency 11360704MB1C000102 --as market-dept --json
    hcp reports show --period 2026-11 --region 360704 --format html --out report.html
    hcp reports show --period 2026-11 --region 360700 --public                    # no sign-in (第二十条)
    hcp reports generate --kind month                                              # the scheduled run, now
    hcp reports rebuild --period 2026-11                                           # rollups from the ratings

Exit codes: 0 answered, 1 refused by the hub (status, code and message_zh on one stderr line), 2 unusable
arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from cli.api_call import json_call
from cli.main import UsageError
from cli.table import cell, refusal_line, shown, table
from cli.workorders_cmd import _common

FLAG_ZH = {"lowest_two_periods": "连续两期末位", "no_ratings": "本期无评价"}


def _fetch(args: argparse.Namespace, query: dict[str, str]) -> tuple[int, bytes, str]:
    """The raw answer of GET /v1/reports (or the public route): status, bytes, content type."""
    from cli.state import load_state

    path = "/v1/public/reports" if args.public else "/v1/reports"
    headers: dict[str, str] = {}
    if args.url:
        base = args.url.rstrip("/")
        if args.token:
            headers["Authorization"] = f"Bearer {args.token}"
        elif not args.public:
            raise UsageError("--url needs --token (an ID token), or --public")
    else:
        base = load_state(args.state_dir)["api_url"].rstrip("/")
        if not args.public:
            from cli.people import bearer

            headers["Authorization"] = f"Bearer {args.token or bearer(args.as_user, args.state_dir)}"
    request = urllib.request.Request(f"{base}{path}?{urllib.parse.urlencode(query)}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers.get("Content-Type", "")
    except urllib.error.URLError as err:
        raise UsageError(f"cannot reach {base}: {err.reason} (is the local cloud running? `make run`)") from None


def _percent(value: Any, unit: str | None) -> Any:
    if value is None:
        return "—"
    if unit == "ratio":
        return f"{value * 100:.1f}%"
    return int(value) if isinstance(value, float) and value.is_integer() else value


def readable(document: dict[str, Any]) -> str:
    """The report for a terminal: the summary, then each view as an aligned table (Chinese by display width)."""
    units = {d["code"]: d.get("unit") for d in document.get("footnotes", [])}
    names = {d["code"]: d["name_zh"] for d in document.get("footnotes", [])}
    scope = document.get("scope") or {}
    lines = [f"{scope.get('name_zh', '')} {document.get('period')} 通报（{document.get('audience')}）", ""]
    summary = (document.get("summary") or {}).get("values") or {}
    lines.append(table(["指标", "数值", "分子/分母"], [
        [names.get(code, code), cell(_percent(v.get("value"), units.get(code))),
         f"{v['numerator']}/{v['denominator']}" if v.get("denominator") is not None else ""]
        for code, v in summary.items()]))  # fmt: skip
    for view in document.get("views", []):
        codes = view.get("indicators") or []
        rows = []
        for row in view.get("rows", []):
            values = row.get("values") or {}
            flags = "、".join(FLAG_ZH.get(f, f) for f in row.get("flags") or [])
            rows.append([row.get("key"), row.get("label_zh"),
                         *[_percent((values.get(c) or {}).get("value"), units.get(c)) for c in codes],
                         row.get("rank") or "", flags])  # fmt: skip
        lines += ["", f"{view.get('title_zh')}"]
        heads = ["代码", "名称", *[names.get(c, c) for c in codes], "排名", "提示"]
        lines.append(table(heads, rows) if rows else "（无）")
    return "\n".join(lines)


def run_show(args: argparse.Namespace) -> int:
    if (args.region is None) == (args.agency is None):
        raise UsageError("give --region or --agency (one of them)")
    fmt = args.format or "json"
    if fmt != "json" and not args.out:
        raise UsageError(f"--format {fmt} writes a file: give --out FILE")
    query = {"period": args.period, "format": fmt, **({"region": args.region} if args.region else {}),
             **({"agency": args.agency} if args.agency else {})}  # fmt: skip
    status, body, content_type = _fetch(args, query)
    if status >= 400 or ("json" in content_type and fmt != "json"):
        try:
            answer: Any = json.loads(body or b"null")
        except ValueError:
            answer = {"message": body.decode("utf-8", "replace")[:300]}
        print(refusal_line(status, answer), file=sys.stderr)
        return 1
    if args.out:
        Path(args.out).write_bytes(body)
        print(f"{args.out}: {len(body):,} bytes ({content_type.split(';')[0]})")
        return 0
    return shown(status, json.loads(body), args.json, readable)


def run_generate(args: argparse.Namespace) -> int:
    body = {"kind": args.kind, **({"period": args.period} if args.period else {})}

    def written(answer: dict[str, Any]) -> str:
        keys, queued = answer.get("keys", []), answer.get("queued", 0)
        if queued:  # the jobs write them in the next minutes (infra/reports/jobs.py)
            return "\n".join([f"{queued} reports of {answer.get('period')} queued; {len(keys)} objects to be "
                              "written to ReportsBucket:", *keys])  # fmt: skip
        return "\n".join([f"{len(keys)} objects written to ReportsBucket:", *keys])

    return shown(*json_call(args, "POST", "/v1/reports/generate", body=body), args.json, written)


def run_rebuild(args: argparse.Namespace) -> int:
    return shown(*json_call(args, "POST", "/v1/reports/rebuild", body={"period": args.period}), args.json,
                 lambda a: json.dumps(a, ensure_ascii=False))  # fmt: skip


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "reports",
        help="通报 (results reports): show one, run the scheduled generation, rebuild the rollups",
        description="Reports through /v1/reports as a signed-in person (or the public summary).",
    )
    commands = parser.add_subparsers(dest="reports_command", metavar="COMMAND", required=True)

    show = commands.add_parser("show", help="one report: a table, --json, or --format html|xlsx --out FILE")
    show.add_argument("--period", required=True, help="2026-11, 2026-W48, 2026-11-28, 2026-Q4 or 2026")
    show.add_argument("--region", help="a division code (360704: the county and its townships)")
    show.add_argument("--agency", help="an agency's credit code")
    show.add_argument("--format", choices=("json", "html", "xlsx"), help="html or xlsx need --out")
    show.add_argument("--out", help="write the answer to this file")
    show.add_argument("--public", action="store_true", help="the public summary, no sign-in (第二十条)")
    show.add_argument("--json", action="store_true", help="the document as JSON, whole")
    _common(show)
    show.set_defaults(func=run_show)

    generate = commands.add_parser("generate", help="write the weekly or monthly reports now (operators)")
    generate.add_argument("--kind", choices=("month", "week"), default="month")
    generate.add_argument("--period", help="a period instead of the last whole one")
    generate.add_argument("--json", action="store_true")
    _common(generate)
    generate.set_defaults(func=run_generate)

    rebuild = commands.add_parser("rebuild", help="recompute a period's rollups from the ratings (operators)")
    rebuild.add_argument("--period", required=True)
    rebuild.add_argument("--json", action="store_true")
    _common(rebuild)
    rebuild.set_defaults(func=run_rebuild)


def run_demo_month(args: argparse.Namespace) -> int:
    """`hcp local demo-month`: two months of ratings through the running local cloud (demo_month.py)."""
    from cli.clock_cmd import NotRunning, call_clock
    from cli.people import bearer
    from cli.state import load_state
    from infra.localcloud import demo_month

    state = load_state(args.state_dir)
    base = state["api_url"].rstrip("/")

    def move_clock(when: Any) -> None:
        call_clock(args.state_dir, {"set": when.isoformat()})

    def settle() -> None:
        """Until the queues and streams are empty (the local cloud answers 503 after 2 minutes of work: ask again)."""
        for _ in range(10):
            request = urllib.request.Request(f"{base}/_local/drain", data=b"{}", method="POST")
            try:
                with urllib.request.urlopen(request, timeout=300):
                    return
            except urllib.error.HTTPError as err:
                if err.code != 503:
                    raise
        raise UsageError("the local cloud's queues did not drain in 20 minutes")

    hub = demo_month.Hub(base, lambda user: bearer(user, args.state_dir), move_clock, settle)
    try:
        outcome = demo_month.run(hub, month=args.month, ratings=args.ratings, say=lambda line: print(line, flush=True))
    except NotRunning as exc:
        print(f"hcp: {exc}", file=sys.stderr)
        return 1
    print(outcome.summary())
    print(f"next: hcp reports show --period {args.month} --region 360700 --as ganzhou-management")
    return 0


def _demo_size(text: str) -> int:
    from infra.localcloud import demo_month

    try:
        size = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of ratings") from None
    if size < demo_month.MIN_RATINGS:
        raise argparse.ArgumentTypeError(f"at least {demo_month.MIN_RATINGS} (every county, agency and window rated)")
    return size


def register_local(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from infra.localcloud import demo_month

    demo = sub.add_parser("demo-month", help="a month of realistic ratings and work orders, for the reports")
    demo.add_argument("--month", default="2026-11", help="the month to fill (the one before gets a lighter one)")
    demo.add_argument("--ratings", type=_demo_size, default=demo_month.DEFAULT_RATINGS,
                      help=f"about how many ratings over the two months (default {demo_month.DEFAULT_RATINGS}, "
                      f"at least {demo_month.MIN_RATINGS}); each bad one's work order is handled")  # fmt: skip
    demo.add_argument("--state-dir", help="where local.json is (default .hcp)")
    demo.set_defaults(func=run_demo_month)

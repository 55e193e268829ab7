"""How hcp prints for people: aligned tables and key/value stories; `--json` prints for scripts instead.

Columns align by display width, as a terminal draws them: East Asian wide and fullwidth characters
(赣县区, ，) take two cells, combining marks none (`unicodedata`, no dependency). A refusal of the hub is
one line on stderr — status, code, message_zh — and the command exits 1.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import Any

ELLIPSIS = "…"


def display_width(text: str) -> int:
    """Terminal cells `text` takes: 2 for wide (W) and fullwidth (F) characters, 0 for combining marks."""
    cells = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        cells += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return cells


def clip(text: str, cells: int) -> str:
    """`text` cut to at most `cells` display cells, ending in … when cut."""
    if display_width(text) <= cells:
        return text
    kept, used = [], display_width(ELLIPSIS)
    for char in text:
        width = display_width(char)
        if used + width > cells:
            break
        kept.append(char)
        used += width
    return "".join(kept) + ELLIPSIS


def pad(text: str, cells: int, align: str = "<") -> str:
    """`text` padded with spaces to `cells` display cells (left-aligned, or right with align=">")."""
    gap = " " * max(0, cells - display_width(text))
    return gap + text if align == ">" else text + gap


def cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ",".join(cell(v) for v in value) or "-"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return " ".join(str(value).split())  # one line, whatever the value held


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, widest: int = 40, gap: str = "  ") -> str:
    """A header line and one line per row, every column as wide as its widest cell (cut at `widest` cells,
    but never the first — the id people copy — nor the last). Columns of numbers align right."""
    raw = [list(row) for row in rows]
    last = len(headers) - 1
    right = [bool(raw) and all(isinstance(r[i], int) and not isinstance(r[i], bool) for r in raw)
             for i in range(len(headers))]  # fmt: skip
    texts = [[cell(v) if i in (0, last) else clip(cell(v), widest) for i, v in enumerate(row)] for row in raw]
    widths = [display_width(h) for h in headers]
    for row in texts:
        for i, text in enumerate(row):
            widths[i] = max(widths[i], display_width(text))

    def line(row: Sequence[str]) -> str:
        return gap.join(t if i == last and not right[i] else pad(t, widths[i], ">" if right[i] else "<")
                        for i, t in enumerate(row)).rstrip()  # fmt: skip

    return "\n".join([line(headers), *(line(row) for row in texts)])


def story(pairs: Iterable[tuple[str, Any]]) -> str:
    """One `name  value` line per pair, the names aligned: a single record, read top to bottom."""
    items = [(name, cell(value)) for name, value in pairs]
    width = max((display_width(name) for name, _ in items), default=0)
    return "\n".join(f"{pad(name, width)}  {value}".rstrip() for name, value in items)


def flatten(document: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """A nested JSON object as (dotted.path, scalar) pairs, in its own order (lists of scalars kept whole)."""
    if isinstance(document, dict):
        pairs: list[tuple[str, Any]] = []
        for key, value in document.items():
            pairs.extend(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return pairs
    if isinstance(document, list) and any(isinstance(v, (dict, list)) for v in document):
        pairs = []
        for i, value in enumerate(document):
            pairs.extend(flatten(value, f"{prefix}[{i}]"))
        return pairs
    return [(prefix, document)]


def refusal_line(status: int, answer: Any) -> str:
    """`hcp: 409 FOLLOW_UP_REQUIRED 实名差评须先回访 (errors[0].path)` — the first error, and how many more."""
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        text = first.get("message_zh") or first.get("message") or ""
        where = f" ({first['path']})" if first.get("path") else ""
        more = f" (+{len(errors) - 1} more; --json for all)" if len(errors) > 1 else ""
        return f"hcp: {status} {first.get('code', '?')} {text}{where}{more}"
    message = answer.get("message") if isinstance(answer, dict) else None
    return f"hcp: {status} {message or cell(answer)}"


def shown(status: int, answer: Any, as_json: bool, render: Callable[[Any], str]) -> int:
    """Print the hub's answer for people (`render`) or scripts (`as_json`); a refusal (4xx/5xx) is one line on
    stderr — and its JSON on stdout too with --json — and exit 1."""
    if status >= 400:
        if as_json:
            print_json(answer)
        print(refusal_line(status, answer), file=sys.stderr)
        return 1
    if as_json:
        print_json(answer)
    else:
        print(render(answer))
    return 0


def print_json(document: Any) -> None:
    print(json.dumps(document, ensure_ascii=False, indent=2))

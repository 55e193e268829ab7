"""Report renderers: a ReportDocument (hub/reports/document.py) in, a file out — HTML, XLSX or JSON.

Pure functions of the document; the ReportsFunction (functions/reports.py), the scheduled generation and
`hcp reports show --format` all call `render`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.reports.document import ReportDocument

__all__ = ["FORMATS", "Rendered", "render"]

FORMATS = {
    "json": "application/json; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    content_type: str
    extension: str


def render(document: ReportDocument, fmt: str) -> Rendered:
    """The document in `fmt` (json, html, xlsx); a KeyError for any other."""
    content_type = FORMATS[fmt]
    if fmt == "json":
        body = document.model_dump_json(indent=2).encode("utf-8")
    elif fmt == "html":
        from infra.reports.html import render_html

        body = render_html(document).encode("utf-8")
    else:
        from infra.reports.xlsx import render_xlsx

        body = render_xlsx(document)
    return Rendered(body, content_type, fmt)

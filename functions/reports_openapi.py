"""The OpenAPI text of the reports routes (通报, R19), beside `functions.reports`: summaries and descriptions."""

from __future__ import annotations

from typing import Any

TAGS = ["reports"]

REPORT_ROUTE: dict[str, Any] = {
    "summary": "A 通报 (results report) in your scope",
    "description": "period=2026-11 (or 2026-11-28, 2026-W48, 2026-Q4, 2026), region=<division code> or agency=<credit "
    "code>, format=json|html|xlsx (default json). Management its region (staff names included), a department its "
    "own agencies, an operator everything; outside your scope is 403 FORBIDDEN, a period not ended 404 "
    "REPORT_NOT_READY with when it is generated. Figures only: no rater data (R19, R20).",
    "tags": TAGS,
}
PUBLIC_ROUTE: dict[str, Any] = {
    "summary": "The public summary (第二十条 向社会公布), no sign-in",
    "description": "The same parameters; per county and department, no staff view at all.",
    "tags": TAGS,
}
GENERATE_ROUTE: dict[str, Any] = {
    "summary": "Run the scheduled generation now (operators)",
    "description": '{"kind": "month"|"week", "period": "2026-11"?}: the city, each county and each department, as '
    "HTML, XLSX and JSON in ReportsBucket; management told on the work-order topic. Answers the keys written.",
    "tags": TAGS,
}
REBUILD_ROUTE: dict[str, Any] = {
    "summary": "Recompute a period's rollups from the ratings (operators)",
    "description": '{"period": "2026-11"}: repair or migration; the period\'s whole months are recomputed.',
    "tags": TAGS,
}

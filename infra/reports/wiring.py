"""The reports function's services from its environment (template.yaml's ReportsFunction variables)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra.reports.service import ReportService
from infra.settings import _env, _FromEnv


@dataclass(frozen=True, slots=True)
class ReportsSettings(_FromEnv):
    rollups_table: str = _env("ROLLUPS_TABLE")
    reports_bucket: str = _env("REPORTS_BUCKET")
    report_city: str = _env("REPORT_CITY")
    topic_arn: str = _env("WORK_ORDER_TOPIC_ARN")


REPORT_VARIABLES = ReportsSettings.variables()


def reports_from_env(environ: Mapping[str, str] | None = None, *, session: Any = None) -> ReportService:
    """A ReportService over the rollups table, the reports bucket and the work-order topic."""
    from infra.bootstrap import aws_clients
    from infra.reports.archive import S3ReportArchive, SnsReportNotifier

    settings = ReportsSettings.from_env(environ)
    clients = aws_clients(session, services=("dynamodb", "s3", "sns"))
    composer, rebuilder = rollup_composer(clients["dynamodb"], settings.rollups_table)
    return ReportService(
        composer,
        archive=S3ReportArchive(clients["s3"], settings.reports_bucket),
        notifier=SnsReportNotifier(clients["sns"], settings.topic_arn),
        city=settings.report_city,
        rebuilder=rebuilder,
    )


def rollup_composer(dynamodb: Any, table: str) -> tuple[Any, Any]:
    """compose(target, now) and rebuild(period, now) over the rollup store (hub/reports/compose.py, rebuild.py)."""
    raise NotImplementedError("waiting for hub.reports.compose")

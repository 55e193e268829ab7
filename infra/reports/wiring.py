"""The reports function's services from its environment (template.yaml's ReportsFunction variables)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.errors import problem
from infra.reports.service import Composer, ReportRefused, ReportService, ReportTarget
from infra.settings import _env, _FromEnv


@dataclass(frozen=True, slots=True)
class ReportsSettings(_FromEnv):
    rollups_table: str = _env("ROLLUPS_TABLE")
    reports_bucket: str = _env("REPORTS_BUCKET")
    report_city: str = _env("REPORT_CITY")
    topic_arn: str = _env("WORK_ORDER_TOPIC_ARN")


REPORT_VARIABLES = ReportsSettings.variables()
# Row labels of the divisions the demo and the tests rate in; a deployment's come from its rollup cells' labels.
REGION_NAMES = {"360700": "赣州市", "360702": "章贡区", "360703": "南康区", "360704": "赣县区", "360721": "信丰县",
                "360722": "大余县", "360704101": "梅林镇", "360704102": "王母渡镇"}  # fmt: skip


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


def rollup_composer(dynamodb: Any, table: str) -> tuple[Composer, Any]:
    """compose(target, now) and rebuild(period, now) over the rollup store (hub/reports/compose.py, rebuild.py)."""
    from infra.rollup_store import DynamoRollupStore

    store = DynamoRollupStore(dynamodb, table)
    return composer_over(store), None


def composer_over(store: Any, settings: Any = None) -> Composer:
    """compose_report (rollups' hub/reports/compose.py) over `store`, for a target and the time it is made."""
    from hub.reports.compose import ReportRequest, ReportScopeError, compose_report

    def compose(target: ReportTarget, now: datetime) -> Any:
        request = ReportRequest(period=target.period.key, region_code=target.region_code,
                                agency_code=target.agency_code, audience=target.audience, generated_at=now,
                                region_names=REGION_NAMES)  # fmt: skip
        try:
            return compose_report(store, request, settings)
        except ReportScopeError as exc:
            raise ReportRefused(400, problem("FIELD_INVALID", "region", str(exc),
                                             detail_zh=exc.message_zh)) from None  # fmt: skip

    return compose

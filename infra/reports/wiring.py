"""The reports function's services from its environment (template.yaml's ReportsFunction variables)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hub.errors import problem
from infra.reports.service import Composer, ReportRefused, ReportService, ReportTarget
from infra.settings import MissingSettings, ReportsSettings

REPORT_VARIABLES = ReportsSettings.variables()
# Row labels of the divisions the demo and the tests rate in; a deployment's come from its rollup cells' labels.
REGION_NAMES = {"360700": "赣州市", "360702": "章贡区", "360703": "南康区", "360704": "赣县区", "360721": "信丰县",
                "360722": "大余县", "360704101": "梅林镇", "360704102": "王母渡镇"}  # fmt: skip
REGION_NAMES |= {code.ljust(12, "0"): name for code, name in list(REGION_NAMES.items())}


def reports_from_env(environ: Mapping[str, str] | None = None, *, session: Any = None) -> ReportService:
    """A ReportService over the rollups table, the reports bucket and the work-order topic; `rebuild` reads the
    ratings (sealed: the KMS key and the look-up secret) and the work orders."""
    from infra.bootstrap import SEALING_CLIENTS, aws_clients, sealed_stores
    from infra.rating_store import DynamoRatingStore
    from infra.reports.archive import S3ReportArchive, SnsReportNotifier
    from infra.reports.jobs import SqsReportJobs
    from infra.rollup_store import DynamoRollupStore
    from infra.workorder_store import DynamoWorkOrderStore

    settings = ReportsSettings.from_env(environ)
    clients = aws_clients(session, services=("dynamodb", "s3", "sns", "sqs", *SEALING_CLIENTS))
    dynamodb = clients["dynamodb"]
    store = DynamoRollupStore(dynamodb, settings.rollups_table)

    def rebuilder(period: str, now: datetime) -> dict[str, Any]:
        from hub.reports.order_facts import order_facts
        from hub.reports.rebuild import rebuild
        from hub.workorders import work_order_id_for

        tables = {"RATINGS_TABLE": settings.ratings_table, "WORK_ORDERS_TABLE": settings.work_orders_table}
        missing = [name for name, table in tables.items() if not table]
        if missing:
            raise MissingSettings("ReportsFunction (rebuild)", missing)
        ratings = DynamoRatingStore(dynamodb, settings.ratings_table, **sealed_stores(clients, environ))
        orders = DynamoWorkOrderStore(dynamodb, settings.work_orders_table)
        done = rebuild(period, ratings=ratings, order_of=lambda rid: order_facts(orders.get(work_order_id_for(rid))),
                       rollups=store)  # fmt: skip
        return {"months": list(done.months), "partitions": done.partitions, "cells": done.cells,
                "ratings_read": done.ratings_read, "orders_read": done.orders_read}  # fmt: skip

    return ReportService(
        composer_over(store),
        archive=S3ReportArchive(clients["s3"], settings.reports_bucket),
        notifier=SnsReportNotifier(clients["sns"], settings.topic_arn),
        city=settings.report_city,
        rebuilder=rebuilder,
        jobs=SqsReportJobs(clients["sqs"], settings.reports_queue_url) if settings.reports_queue_url else None,
        scopes=scopes_over(store),
    )


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


def scopes_over(store: Any) -> Any:
    """The counties and agencies a period's reports are listed for, from its summary cells (rated_scopes)."""
    from hub.reports.compose import rated_scopes

    return lambda period, city: rated_scopes(store, period, city)

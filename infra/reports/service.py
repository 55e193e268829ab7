"""Who may have which 通报, in which audience, and the scheduled generation into the reports bucket (R19, R20).

    GET /v1/reports          a signed-in person: management its region (a county its townships, R18), a
                             department its own agencies, an operator everything; out of scope is 403, never
                             an empty 200. Staff names only to the management of the report's region.
    GET /v1/public/reports   第二十条 向社会公布: anyone, per county and department, no staff at all.

A report is composed from rollup cells when it is asked for (cheap: a report reads its cells, never the
ratings), once its period has ended; before that it is 404 REPORT_NOT_READY with the time the scheduled
one is written. `generate` lists the city's, every county's and every department's weekly or monthly report
and queues one job each (infra.reports.jobs); `write` renders one as HTML, XLSX and JSON to the reports
bucket and tells its management on the work-order topic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hub.access import AccessDenied, Principal, PrincipalRole, agency_home, region_prefix
from hub.codes import CodeError, check_region_code, check_uscc
from hub.errors import Problem, problem
from hub.reports.document import Audience, PeriodKind, ReportDocument, ViewKind
from hub.reports.periods import BEIJING, Period, PeriodError, parse_period, period_containing
from infra.reports import FORMATS, Rendered, render
from infra.reports.archive import ReportArchive, ReportNotifier

if TYPE_CHECKING:
    from infra.reports.jobs import ReportJobs

# When the scheduled reports are written (template.yaml's schedule rules, in UTC): 10:00 Beijing time on
# the Monday after the week and on the 1st after the month.
SCHEDULED_AT = timedelta(hours=10)


class ReportRefused(Exception):
    def __init__(self, status: int, problem_: Problem) -> None:
        super().__init__(problem_.code)
        self.status = status
        self.problem = problem_


@dataclass(frozen=True, slots=True)
class ReportTarget:
    """What to compose: a period, one scope (a region's subtree or one agency), for one audience."""

    period: Period
    region_code: str | None
    agency_code: str | None
    audience: Audience

    @property
    def scope_key(self) -> str:
        return self.region_code or f"agency-{self.agency_code}"


Composer = Callable[[ReportTarget, datetime], ReportDocument]
# (period key, city code) -> (the counties' codes, the agencies' codes) rated in it (hub.reports.compose.rated_scopes)
Scopes = Callable[[str, str], tuple[list[str], list[str]]]


def scheduled_at(period: Period) -> datetime:
    """When the scheduled run writes the report of `period` (weeks and months; others are on request)."""
    return period.end + SCHEDULED_AT


def _period(text: str | None, now: datetime) -> Period:
    if not text:
        raise ReportRefused(400, problem("FIELD_REQUIRED", "period"))
    try:
        period = parse_period(text)
    except PeriodError as exc:
        raise ReportRefused(400, problem("REPORT_PERIOD_INVALID", "period", text)) from exc
    if period.end > now:
        ready = scheduled_at(period) if period.kind in (PeriodKind.WEEK, PeriodKind.MONTH) else period.end
        when = ready.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
        raise ReportRefused(404, problem("REPORT_NOT_READY", "period", f"{period.key}: {when}",
                                         detail_zh=f"{period.key}，将于北京时间 {when} 生成"))  # fmt: skip
    return period


def _scope(region: str | None, agency: str | None) -> tuple[str | None, str | None]:
    if (region is None) == (agency is None):
        raise ReportRefused(400, problem("REPORT_SCOPE_REQUIRED", "region" if region is None else "agency"))
    try:
        if region is not None:
            return check_region_code(region.strip().ljust(12, "0")), None
        return None, check_uscc(str(agency).strip())
    except CodeError as exc:
        code = exc.code if exc.code in ("REGION_CODE_INVALID", "REGION_PROVINCE_UNKNOWN", "USCC_INVALID",
                                        "USCC_CHECK_FAILED") else "FIELD_INVALID"  # fmt: skip
        raise ReportRefused(400, problem(code, "region" if region is not None else "agency", exc.detail)) from None


def _inside(region_code: str, own: str) -> bool:
    return region_prefix(region_code).startswith(region_prefix(own))


def audience_for(principal: Principal, region_code: str | None, agency_code: str | None) -> Audience:
    """The audience the person reads the report as; AccessDenied (403) when it is not theirs to read.

    Management reads its region's reports and its region's agencies' (by the credit code's home, GB 32100),
    with staff names; a department its own agencies' only; an operator (or an auditor without a region)
    everything, staff by id only."""
    if principal.role is PrincipalRole.DEPARTMENT:
        if agency_code is None or agency_code not in principal.agency_codes:
            raise AccessDenied("FORBIDDEN", "a department reads its own agencies' reports (agency=)",
                               detail_zh="承办单位仅可查看本单位的通报（agency=）")  # fmt: skip
        return Audience.DEPARTMENT
    if principal.sees_everything:
        return Audience.OPERATOR
    own = principal.region_code or ""
    if region_code is not None:
        allowed = _inside(region_code, own)
    else:
        home = agency_home(agency_code or "")
        allowed = home is not None and home.startswith(region_prefix(own))
    if not allowed:
        raise AccessDenied("FORBIDDEN", "a report outside your region", detail_zh="不在本行政区划范围内的通报")
    return Audience.MANAGEMENT if principal.role is PrincipalRole.MANAGEMENT else Audience.OPERATOR


@dataclass(frozen=True, slots=True)
class ReportAnswer:
    rendered: Rendered
    document: ReportDocument

    @property
    def filename(self) -> str:
        scope = self.document.scope.region_code or self.document.scope.agency_code
        return f"report-{self.document.period}-{scope}.{self.rendered.extension}"


class ReportService:
    def __init__(self, composer: Composer, archive: ReportArchive | None = None,
                 notifier: ReportNotifier | None = None, city: str | None = None,
                 rebuilder: Callable[[str, datetime], dict[str, Any]] | None = None,
                 jobs: ReportJobs | None = None, scopes: Scopes | None = None) -> None:  # fmt: skip
        self.composer = composer
        self.jobs = jobs
        self.scopes = scopes
        self.rebuilder = rebuilder
        self.archive = archive
        self.notifier = notifier
        self.city = city

    def report(self, principal: Principal | None, *, period: str | None, region: str | None, agency: str | None,
               fmt: str | None, now: datetime) -> ReportAnswer:  # fmt: skip
        """The report asked for, rendered; ReportRefused (400/404) or AccessDenied (403) otherwise.
        `principal` None is the public: the public audience, no sign-in."""
        fmt = (fmt or "json").strip().lower()
        if fmt not in FORMATS:
            raise ReportRefused(400, problem("REPORT_FORMAT_UNKNOWN", "format", fmt))
        region_code, agency_code = _scope(region, agency)
        audience = Audience.PUBLIC if principal is None else audience_for(principal, region_code, agency_code)
        target = ReportTarget(_period(period, now), region_code, agency_code, audience)
        document = self.composer(target, now)
        return ReportAnswer(render(document, fmt), document)

    def rebuild(self, period: str, now: datetime) -> dict[str, Any]:
        """Rollups recomputed from the ratings for `period` (its whole months): repair, migration."""
        try:
            parse_period(period)
        except PeriodError as exc:
            raise ReportRefused(400, problem("REPORT_PERIOD_INVALID", "period", period)) from exc
        if self.rebuilder is None:
            raise RuntimeError("no rebuilder configured")
        return self.rebuilder(period, now)

    # ---- the schedule

    def targets(self, kind: PeriodKind, now: datetime, period: str | None = None) -> list[ReportTarget]:
        """The reports of the last whole week or month before `now` (or of `period`): the city's, each of its
        counties' and each department's (rated in the period), for management, and the city's public summary.
        Read from the period's summary cells (`scopes`), or else the city's composed report; nothing rendered."""
        if not self.city:
            raise RuntimeError("generate needs the city (REPORT_CITY)")
        chosen = parse_period(period) if period else period_containing(kind, now.astimezone(BEIJING).date()).previous()
        city = check_region_code(self.city.ljust(12, "0"))
        first = ReportTarget(chosen, city, None, Audience.MANAGEMENT)
        if self.scopes is not None:  # the summary cells only
            county_codes, agency_codes = self.scopes(chosen.key, city)
        else:  # from the city's composed report
            document = self.composer(first, now)
            county_codes = [row.key for row in _rows(document, ViewKind.BY_COUNTY)]
            agency_codes = [row.key for row in _rows(document, ViewKind.BY_AGENCY)]
        counties = [ReportTarget(chosen, code.ljust(12, "0"), None, Audience.MANAGEMENT) for code in county_codes]
        # Weekly and monthly alike (issue 13 item 4, 第二十条): each is one queued job, so 300 departments a week
        # cost 300 short invocations, not one long one.
        agencies = [ReportTarget(chosen, None, code, Audience.MANAGEMENT) for code in agency_codes]
        return [first, *counties, *agencies, ReportTarget(chosen, city, None, Audience.PUBLIC)]

    def generate(self, kind: PeriodKind, now: datetime, period: str | None = None) -> Generation:
        """Every target of the period (`targets`): queued, one job each, when the service has a queue (the
        function's schedule and `POST /v1/reports/generate`); written here, one after another, when it has none
        (tests, tools). Either way `keys` are the objects the period's reports are (or will be) written to."""
        targets = self.targets(kind, now, period)
        keys = [archive_key(t, fmt) for t in targets for fmt in FORMATS]
        if self.jobs is not None:
            self.jobs.enqueue(targets)
            return Generation(targets[0].period.key, keys, queued=len(targets))
        for target in targets:
            self.write(target, now)
        return Generation(targets[0].period.key, keys, queued=0)

    def write(self, target: ReportTarget, now: datetime) -> list[str]:
        """One target's report in every format, written to the bucket under its fixed keys (again on a
        redelivery: a new version of the same objects), then its management told. Returns the keys."""
        if self.archive is None:
            raise RuntimeError("writing a report needs the reports bucket (REPORTS_BUCKET)")
        document = self.composer(target, now)
        keys = []
        for fmt in FORMATS:
            rendered = render(document, fmt)
            key = archive_key(target, fmt)
            self.archive.put(key, rendered.body, rendered.content_type)
            keys.append(key)
        if self.notifier is not None and target.audience is Audience.MANAGEMENT:
            self.notifier.report_ready(document, keys)
        return keys


@dataclass(frozen=True, slots=True)
class Generation:
    """A scheduled run's outcome: the period, the objects its reports are written to, how many jobs were queued
    (0: written in the invocation)."""

    period: str
    keys: list[str]
    queued: int


def _rows(document: ReportDocument, kind: ViewKind) -> Iterable[Any]:
    view = document.view(kind)
    return [] if view is None else view.rows


def archive_key(target: ReportTarget, fmt: str) -> str:
    """reports/<kind>/<period>/<scope>/<audience>.<fmt>, e.g. reports/month/2026-11/360704000000/management.html."""
    kind = target.period.kind.value
    return f"reports/{kind}/{target.period.key}/{target.scope_key}/{target.audience.value}.{fmt}"

"""Who reads which 通报 in which audience, and the refusals (R19, R20; issue 13 "Bad input").

Over rollups' own compose_report and the in-memory rollup store: the composition is real, the cells are few.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from hub.access import AccessDenied, Principal, PrincipalRole
from hub.reports.document import Audience, PeriodKind, ViewKind
from infra.memory import InMemoryRollupStore
from infra.reports.archive import InMemoryReportArchive, InMemoryReportNotifier
from infra.reports.jobs import InMemoryReportJobs, job_target
from infra.reports.service import ReportRefused, ReportService
from infra.reports.wiring import composer_over

NOW = datetime.fromisoformat("2026-12-02T09:00:00+08:00")
MARKET = "11360704MB1C000102"
GANXIAN = Principal("m1", PrincipalRole.MANAGEMENT, region_code="360704000000")
GANZHOU = Principal("m2", PrincipalRole.MANAGEMENT, region_code="360700000000")
MARKET_DEPT = Principal("d1", PrincipalRole.DEPARTMENT, agency_codes=frozenset({MARKET}))
OPERATOR = Principal("o1", PrincipalRole.OPERATOR)


@pytest.fixture
def service() -> ReportService:
    return ReportService(composer_over(InMemoryRollupStore()), InMemoryReportArchive(), InMemoryReportNotifier(),
                         city="360700000000")  # fmt: skip


def ask(service: ReportService, who: Principal | None, **kwargs: str | None):
    query = {"period": "2026-11", "region": None, "agency": None, "fmt": "json"} | kwargs
    return service.report(who, now=NOW, **query)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("who", "region", "agency", "audience"),
    [
        (GANXIAN, "360704", None, Audience.MANAGEMENT),  # its own county (and its townships, R18)
        (GANXIAN, "360704101000", None, Audience.MANAGEMENT),
        (GANXIAN, None, MARKET, Audience.MANAGEMENT),  # an agency of its county
        (GANZHOU, "360704", None, Audience.MANAGEMENT),  # the city's management, a county of it
        (MARKET_DEPT, None, MARKET, Audience.DEPARTMENT),
        (OPERATOR, "360702", None, Audience.OPERATOR),  # everything, but no staff names
        (None, "360700", None, Audience.PUBLIC),
    ],
)
def test_each_role_reads_its_scope_in_its_audience(service, who, region, agency, audience) -> None:
    answer = ask(service, who, region=region, agency=agency)
    assert answer.document.audience is audience
    if audience is Audience.PUBLIC:
        assert answer.document.view(ViewKind.BY_STAFF) is None


@pytest.mark.parametrize(
    ("who", "region", "agency"),
    [
        (GANXIAN, "360700", None),  # the city holds other counties: 403, never a county's share of it
        (GANXIAN, "360702", None),
        (GANXIAN, None, "11360702MB1C000105"),  # an agency of another county
        (MARKET_DEPT, "360704", None),  # a department reads its agencies', not the county's
        (MARKET_DEPT, None, "11360704MB1C000405"),
    ],
)
def test_out_of_scope_is_403_never_an_empty_report(service, who, region, agency) -> None:
    with pytest.raises(AccessDenied) as refused:
        ask(service, who, region=region, agency=agency)
    assert refused.value.code == "FORBIDDEN" and refused.value.status == 403
    assert refused.value.detail_zh


@pytest.mark.parametrize(
    ("query", "status", "code", "path"),
    [
        ({"period": "2026-13"}, 400, "REPORT_PERIOD_INVALID", "period"),
        ({"period": "November"}, 400, "REPORT_PERIOD_INVALID", "period"),
        ({"period": None}, 400, "FIELD_REQUIRED", "period"),
        ({"fmt": "pdf"}, 400, "REPORT_FORMAT_UNKNOWN", "format"),
        ({"region": None}, 400, "REPORT_SCOPE_REQUIRED", "region"),
        ({"agency": MARKET}, 400, "REPORT_SCOPE_REQUIRED", "agency"),  # both region and agency
        ({"region": "999999"}, 400, "REGION_PROVINCE_UNKNOWN", "region"),
        ({"period": "2026-12"}, 404, "REPORT_NOT_READY", "period"),
    ],
)
def test_bad_input_is_a_4xx_with_its_code_and_chinese(service, query, status, code, path) -> None:
    with pytest.raises(ReportRefused) as refused:
        ask(service, OPERATOR, **({"region": "360704"} | query))
    assert (refused.value.status, refused.value.problem.code, refused.value.problem.path) == (status, code, path)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in refused.value.problem.message_zh)


def test_a_report_not_ready_says_when_it_will_be() -> None:
    service = ReportService(composer_over(InMemoryRollupStore()))
    with pytest.raises(ReportRefused) as refused:
        service.report(OPERATOR, period="2026-12", region="360704", agency=None, fmt="html", now=NOW)
    assert "2027-01-01 10:00" in refused.value.problem.message_zh  # the monthly run, 10:00 Beijing on the 1st
    with pytest.raises(ReportRefused) as weekly:
        service.report(OPERATOR, period="2026-W49", region="360704", agency=None, fmt="html", now=NOW)
    assert "2026-12-07 10:00" in weekly.value.problem.message_zh  # the Monday after


def test_generation_writes_every_format_and_tells_management(service) -> None:
    keys = service.generate(PeriodKind.MONTH, NOW).keys
    archive, notifier = service.archive, service.notifier
    assert isinstance(archive, InMemoryReportArchive) and isinstance(notifier, InMemoryReportNotifier)
    assert "reports/month/2026-11/360700000000/management.html" in keys
    assert "reports/month/2026-11/360700000000/public.json" in keys
    assert set(archive.objects) == set(keys) and {k.rsplit(".", 1)[1] for k in keys} == {"html", "xlsx", "json"}
    body, attributes = notifier.published[0]
    assert attributes["event_type"] == "ReportReady" and attributes["region_code"] == "360700000000"
    assert body["keys"] == [k for k in keys if "/management." in k][:3]
    assert len(notifier.published) == 1  # the public report is not announced to management
    service.generate(PeriodKind.MONTH, NOW)
    assert set(archive.versions.values()) == {2}  # a re-run writes new versions, nothing lost


def test_a_weekly_run_queues_one_job_per_report_city_counties_and_departments_R19() -> None:
    """Issue 13 item 4 (weekly and monthly 通报 for the city, each county and each department), in jobs that each
    fit an invocation: the run lists, the jobs write. A job handled twice writes the same keys (a new version)."""
    from tests.unit.test_reports_rollups import AGENCY, AGENCY_2, seeded_store

    archive, notifier, jobs = InMemoryReportArchive(), InMemoryReportNotifier(), InMemoryReportJobs()
    service = ReportService(composer_over(seeded_store()), archive, notifier, city="360700000000", jobs=jobs)
    done = service.generate(PeriodKind.WEEK, NOW)  # Wednesday 2 December: the week of 23-29 November
    assert (done.period, done.queued, archive.objects) == ("2026-W48", 6, {})  # nothing written by the run
    messages = jobs.take()
    scopes = sorted(job_target(m).scope_key for m in messages)
    assert scopes == sorted(["360700000000", "360700000000", "360704000000", "360702000000",
                             f"agency-{AGENCY}", f"agency-{AGENCY_2}"])  # fmt: skip
    for message in messages:
        service.write(job_target(message), NOW)
    assert set(archive.objects) == set(done.keys) and len(done.keys) == 6 * 3
    assert f"reports/week/2026-W48/agency-{AGENCY}/management.html" in done.keys
    assert len(notifier.published) == 5  # one per management report, none for the public summary
    service.write(job_target(messages[0]), NOW)  # redelivered
    assert set(archive.objects) == set(done.keys) and sorted(archive.versions.values()) == [1] * 15 + [2] * 3


def test_a_period_with_no_rated_department_still_has_the_city_and_public_reports() -> None:
    jobs = InMemoryReportJobs()
    service = ReportService(composer_over(InMemoryRollupStore()), InMemoryReportArchive(), city="360700", jobs=jobs)
    assert service.generate(PeriodKind.MONTH, NOW, "2026-10").queued == 2
    assert [job_target(m).audience for m in jobs.take()] == [Audience.MANAGEMENT, Audience.PUBLIC]


def test_the_run_lists_its_reports_from_the_summary_cells_as_the_city_report_would() -> None:
    """The scheduled run reads the period's summary cells only (rated_scopes), not the city's whole composition:
    the same targets, far fewer cells (the negative control: composing the city reads every dimension)."""
    from hub.reports.compose import rated_scopes
    from tests.unit.test_reports_rollups import seeded_store

    store = seeded_store()
    composed = ReportService(composer_over(store), city="360700")
    listed = ReportService(composer_over(store), city="360700", scopes=lambda p, c: rated_scopes(store, p, c))
    for kind in (PeriodKind.WEEK, PeriodKind.MONTH):
        store.items_read = 0
        by_composing = composed.targets(kind, NOW)
        read_composing, store.items_read = store.items_read, 0
        assert listed.targets(kind, NOW) == by_composing and len(by_composing) == 6
        assert store.items_read < read_composing / 2

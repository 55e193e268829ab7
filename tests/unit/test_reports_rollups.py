"""Reports (R19): indicators, periods, rollup cells and their deltas, compose, rebuild — on the in-memory store.

The property test at the end is the issue's: random streams of ratings, re-deliveries, appeals upheld and
default ratings, applied incrementally, give the cells a rebuild from the final state gives.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.rating import Channel, EvaluationType, Grade
from hub.reports import indicators as ind
from hub.reports.cells import Dim, OrderFacts, RatingFacts, RollupChange, cell_key, order_change, rating_change
from hub.reports.compose import ReportRequest, ReportScopeError, compose_report
from hub.reports.document import Audience, Flag, PeriodKind, ReportDocument, ViewKind
from hub.reports.periods import PeriodError, parse_period
from hub.reports.rebuild import rebuilt_cells
from hub.reports.rollups import RollupService
from hub.reports.settings import ReportSettings
from hub.tags import TagCode
from infra.memory import InMemoryRollupStore

NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")
CITY, COUNTY, OTHER_COUNTY = "360700000000", "360704000000", "360702000000"
TOWNSHIP_VILLAGE = "360704101201"
AGENCY, AGENCY_2 = "11360704MB1C000102", "11360702MB1C00010X"


def facts(n: int, grade: Grade = Grade.SATISFIED, **changes: object) -> RatingFacts:
    base = RatingFacts(
        rating_id=f"r{n}", rated_at=NOW, region_code=COUNTY, agency_code=AGENCY, channel=Channel.WINDOW,
        evaluation_type=EvaluationType.ACTIVE, grade=grade, agency_name="赣县区市场监督管理局",
        staff_id="GX0231", staff_name="李四", hall="赣县区政务服务中心", window_no="A12",
        service_code="S-1", service_name="食品经营许可",
        tags=(TagCode.STAFF_ATTITUDE,) if grade.is_bad else (),
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def month_counters(store: InMemoryRollupStore, dim: str = Dim.SUMMARY, key: str = "-", **kw: str) -> dict[str, int]:
    wanted = cell_key(kw.get("period", "2026-11"), kw.get("region", COUNTY), kw.get("agency", AGENCY), dim, key)
    cells = [c for c in store.query(wanted.pk, wanted.sk) if c.key == wanted]
    return {k: v for k, v in cells[0].counters.items() if v} if cells else {}


# --------------------------------------------------------------------------------------------------
# Indicators: each defined once, settings not code paths


def test_bad_rate_is_bad_ratings_over_ratings_counted_R1() -> None:
    counters = {"g.very_satisfied": 6, "g.satisfied": 1, "g.dissatisfied": 2, "g.very_dissatisfied": 1, "act": 10}
    values = ind.compute(counters, ReportSettings())
    assert (values[ind.BAD_COUNT].value, values[ind.BAD_RATE].numerator, values[ind.BAD_RATE].denominator) == (3, 3, 10)
    assert values[ind.BAD_RATE].value == pytest.approx(0.3)
    assert values[ind.GOOD_RATE].value == pytest.approx(0.7)  # 非常满意 + 满意 by default


def test_which_grades_are_good_is_a_setting() -> None:
    counters = {"g.very_satisfied": 6, "g.satisfied": 1, "g.basically_satisfied": 3}
    strict = ReportSettings(good_grades=frozenset({Grade.VERY_SATISFIED}))
    assert ind.compute(counters, strict)[ind.GOOD_RATE].value == pytest.approx(0.6)
    assert ind.compute(counters, ReportSettings())[ind.GOOD_RATE].value == pytest.approx(0.7)
    [good] = [d for d in ind.definitions(strict) if d.code == ind.GOOD_RATE]
    assert good.numerator_zh == "评价等级为非常满意的评价数"  # the footnote says what was counted


def test_default_ratings_are_counted_apart_and_may_be_left_out_R6() -> None:
    counters = {"g.satisfied": 3, "g.dissatisfied": 1, "d.satisfied": 4, "act": 4}
    counted = ind.compute(counters, ReportSettings())
    without = ind.compute(counters, ReportSettings(count_default_ratings=False))
    assert (counted[ind.RATED_TOTAL].value, without[ind.RATED_TOTAL].value) == (8, 4)
    assert counted[ind.DEFAULT_COUNT].value == without[ind.DEFAULT_COUNT].value == 4
    assert counted[ind.ACTIVE_RATE].value == without[ind.ACTIVE_RATE].value == pytest.approx(0.5)  # active / all


def test_a_rate_over_nothing_is_none_not_zero() -> None:
    values = ind.compute({}, ReportSettings())
    assert values[ind.BAD_RATE].value is None and values[ind.RECTIFICATION_RATE].value is None
    assert values[ind.RATED_TOTAL].value == 0


def test_every_indicator_has_its_numerator_and_denominator_in_both_languages() -> None:
    for d in ind.definitions():
        assert d.name_zh and d.name_en and d.numerator_zh and d.numerator_en
        assert (d.denominator_zh is None) == (d.denominator_en is None) == (d.unit == "count"), d.code
    assert set(ind.compute({"t": 1}, ReportSettings())) == {d.code for d in ind.definitions()}


# --------------------------------------------------------------------------------------------------
# Periods


@pytest.mark.parametrize(
    ("text", "kind", "first", "stored"),
    [("2026-11-28", PeriodKind.DAY, "2026-11-28", 1), ("2026-W48", PeriodKind.WEEK, "2026-11-23", 7),
     ("2026-11", PeriodKind.MONTH, "2026-11-01", 1), ("2026-Q4", PeriodKind.QUARTER, "2026-10-01", 3),
     ("2026", PeriodKind.YEAR, "2026-01-01", 12)],
)  # fmt: skip
def test_periods_parse_to_their_stored_days_or_months(text: str, kind: PeriodKind, first: str, stored: int) -> None:
    period = parse_period(text)
    assert (period.kind, period.first_day.isoformat(), len(period.stored_keys)) == (kind, first, stored)


@pytest.mark.parametrize("text", ["2026-13", "2026-W54", "2026-Q5", "26-11", "2026-11-31", "next month"])
def test_a_period_that_does_not_parse_says_so_in_both_languages(text: str) -> None:
    with pytest.raises(PeriodError) as error:
        parse_period(text)
    assert error.value.code == "PERIOD_INVALID" and "统计期" in error.value.message_zh


def test_a_rating_counts_in_its_beijing_day_and_month() -> None:
    store = InMemoryRollupStore()
    late_utc = datetime.fromisoformat("2026-11-30T16:30:00+00:00")  # 2026-12-01 00:30 in Beijing
    RollupService(store).rating_changed("c1", None, facts(1, rated_at=late_utc))
    assert month_counters(store, period="2026-12") == {"g.satisfied": 1, "act": 1}
    assert month_counters(store, period="2026-12-01") == {"g.satisfied": 1, "act": 1}
    assert month_counters(store, period="2026-11") == {}


# --------------------------------------------------------------------------------------------------
# Cells and deltas


def test_a_window_rating_touches_one_transaction_of_its_cells_in_two_periods() -> None:
    change = rating_change("c1", None, facts(1, Grade.VERY_DISSATISFIED, region_code=TOWNSHIP_VILLAGE))
    dims = sorted({k.dim for k in change.deltas})
    assert dims == sorted([Dim.SUMMARY, Dim.TOWNSHIP, Dim.WINDOW, Dim.STAFF, Dim.CHANNEL, Dim.SERVICE, Dim.TAG])
    assert {k.stored_period for k in change.deltas} == {"2026-11-28", "2026-11"}
    assert change.items == 1 + 2 * 7  # the marker + 7 cells (summary, township, window, staff, channel, item, tag) x 2


def test_a_rating_marked_not_adopted_leaves_the_counts_R14_R17() -> None:
    store, service = InMemoryRollupStore(), None
    service = RollupService(store)
    bad = facts(1, Grade.DISSATISFIED)
    service.rating_changed("c1", None, bad)
    service.rating_changed("c2", bad, replace(bad, adopted=False))
    assert month_counters(store) == {"na": 1}
    assert month_counters(store, Dim.TAG, "STAFF_ATTITUDE") == {}


def test_a_default_rating_counts_as_default_R6() -> None:
    store = InMemoryRollupStore()
    RollupService(store).rating_changed("c1", None, facts(1, evaluation_type=EvaluationType.DEFAULT))
    assert month_counters(store) == {"d.satisfied": 1}


def test_a_change_that_moves_no_figure_writes_nothing() -> None:
    store = InMemoryRollupStore()
    service = RollupService(store)
    service.rating_changed("c1", None, facts(1))
    applied = service.rating_changed("c2", facts(1), facts(1))  # the forwarding receipt recorded on the item
    assert (applied.items, store.transactions) == (0, 1)


def test_a_redelivered_change_is_counted_once() -> None:
    store = InMemoryRollupStore()
    service = RollupService(store)
    first = service.rating_changed("c1", None, facts(1))
    again = service.rating_changed("c1", None, facts(1))
    assert (first.again, again.again, again.items) == (False, True, 0)
    assert month_counters(store) == {"g.satisfied": 1, "act": 1}


def test_staff_cells_count_the_staff_members_own_grade_R4() -> None:
    store = InMemoryRollupStore()
    RollupService(store).rating_changed("c1", None, facts(1, Grade.SATISFIED, staff_grade=Grade.DISSATISFIED))
    assert month_counters(store, Dim.STAFF, "GX0231") == {"g.dissatisfied": 1, "act": 1}
    assert month_counters(store, Dim.SUMMARY) == {"g.satisfied": 1, "act": 1}


def order(n: int, **changes: object) -> OrderFacts:
    base = OrderFacts(order_id=f"wo-r{n}", dispatched_at=NOW, region_code=COUNTY, agency_code=AGENCY, real_name=True)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_work_order_changes_move_rectification_follow_up_and_appeal_counts_R12_R13_R17() -> None:
    store = InMemoryRollupStore()
    service = RollupService(store)
    opened, fixed = order(1), order(1, fixed=True, on_time=True)
    visited = replace(fixed, visited=True, survey=Grade.SATISFIED)
    service.order_changed("o1", None, opened)
    service.order_changed("o2", opened, fixed)
    service.order_changed("o3", fixed, visited)
    assert month_counters(store) == {"wo": 1, "wo_fixed": 1, "wo_on_time": 1, "wo_real": 1, "wo_visited": 1,
                                     "sv.satisfied": 1}  # fmt: skip
    appealed = order(2, appealed=True)
    service.order_changed("o4", None, appealed)
    service.order_changed("o5", appealed, replace(appealed, upheld=True, adopted=False))
    after = month_counters(store)
    assert (after["wo"], after["ap"], after["ap_up"]) == (1, 1, 1)  # the upheld one is due no more


# --------------------------------------------------------------------------------------------------
# Compose: from cells only


def seeded_store() -> InMemoryRollupStore:
    store = InMemoryRollupStore()
    service = RollupService(store)
    n = 0

    def add(f: RatingFacts) -> None:
        nonlocal n
        n += 1
        service.rating_changed(f"c{n}", None, replace(f, rating_id=f"r{n}"))

    for _ in range(8):
        add(facts(0, Grade.VERY_SATISFIED))
    for _ in range(2):
        add(facts(0, Grade.VERY_DISSATISFIED))
    for _ in range(5):
        add(facts(0, Grade.SATISFIED, region_code=OTHER_COUNTY, agency_code=AGENCY_2, staff_id="ZG01",
                  staff_name="王五", hall="章贡区政务服务中心", window_no="B3", channel=Channel.KIOSK))  # fmt: skip
    for _ in range(3):  # the month before: GX0231 lowest then too
        add(facts(0, Grade.DISSATISFIED, rated_at=NOW - timedelta(days=30)))
        add(facts(0, Grade.VERY_SATISFIED, rated_at=NOW - timedelta(days=30), staff_id="ZG01", agency_code=AGENCY_2,
                  region_code=OTHER_COUNTY, window_no="B3", hall="章贡区政务服务中心"))  # fmt: skip
    service.order_changed("o1", None, order(1, fixed=True, on_time=False))
    return store


def city_report(store: InMemoryRollupStore, audience: Audience = Audience.MANAGEMENT, **kw: object) -> ReportDocument:
    request = ReportRequest(period="2026-11", region_code=CITY, audience=audience, generated_at=NOW,
                            region_names={"360704": "赣县区", "360702": "章贡区", CITY: "赣州市"}, **kw)  # fmt: skip
    return compose_report(store, request)


def test_a_city_report_adds_up_its_counties_agencies_and_staff_R19() -> None:
    report = city_report(seeded_store())
    assert report.summary.values[ind.RATED_TOTAL].value == 15
    assert report.summary.values[ind.BAD_COUNT].value == 2
    assert report.summary.label_zh == "赣州市"
    counties = {r.label_zh: r.values[ind.RATED_TOTAL].value for r in report.view(ViewKind.BY_COUNTY).rows}
    assert counties == {"章贡区": 5, "赣县区": 10}
    gx = next(r for r in report.view(ViewKind.BY_COUNTY).rows if r.key == "360704")
    assert (gx.values[ind.RECTIFICATION_RATE].value, gx.values[ind.ON_TIME_RATE].value) == (1.0, 0.0)
    tags = report.view(ViewKind.BY_TAG).rows
    assert [(t.key, t.values[ind.TAG_COUNT].value) for t in tags] == [("STAFF_ATTITUDE", 2)]
    assert [r.label_zh for r in report.view(ViewKind.BY_CHANNEL).rows] == ["窗口", "自助终端"]
    assert {d.code for d in report.footnotes} >= {ind.BAD_RATE, ind.REVISIT_RATE}
    assert [p.period for p in report.trend][-2:] == ["2026-10", "2026-11"]
    assert report.trend[-2].values[ind.RATED_TOTAL].value == 6


def test_staff_ranked_lowest_two_periods_running_are_flagged() -> None:
    staff = {r.key: r for r in city_report(seeded_store()).view(ViewKind.BY_STAFF).rows}
    assert (staff["GX0231"].rank, staff["ZG01"].rank) == (2, 1)
    assert Flag.LOWEST_TWO_PERIODS in staff["GX0231"].flags and not staff["ZG01"].flags
    assert staff["GX0231"].label_zh == "李四"  # the region's management sees staff names


def test_staff_names_only_for_management_and_no_staff_at_all_in_public_R19_R20() -> None:
    store = seeded_store()
    operator = city_report(store, Audience.OPERATOR).view(ViewKind.BY_STAFF)
    assert operator is not None and {r.label_zh for r in operator.rows} == {"GX0231", "ZG01"}
    public = city_report(store, Audience.PUBLIC)
    assert public.view(ViewKind.BY_STAFF) is None
    assert "李四" not in public.model_dump_json() and "王五" not in public.model_dump_json()


def test_a_county_report_holds_its_own_cells_only() -> None:
    request = ReportRequest(period="2026-11", region_code=COUNTY, generated_at=NOW)
    report = compose_report(seeded_store(), request)
    assert report.summary.values[ind.RATED_TOTAL].value == 10
    assert {r.key for r in report.view(ViewKind.BY_AGENCY).rows} == {AGENCY}


def test_an_agency_report_finds_its_cells_through_its_counties() -> None:
    request = ReportRequest(period="2026-11", agency_code=AGENCY_2, audience=Audience.DEPARTMENT, generated_at=NOW)
    report = compose_report(seeded_store(), request)
    assert report.summary.values[ind.RATED_TOTAL].value == 5
    assert [r.key for r in report.view(ViewKind.BY_WINDOW).rows] == ["章贡区政务服务中心/B3"]


def test_a_week_report_adds_up_its_days() -> None:
    store = seeded_store()
    request = ReportRequest(period="2026-W48", region_code=CITY, generated_at=NOW)
    assert compose_report(store, request).summary.values[ind.RATED_TOTAL].value == 15


def test_a_province_wide_report_is_refused_with_a_reason() -> None:
    with pytest.raises(ReportScopeError) as error:
        compose_report(InMemoryRollupStore(), ReportRequest(period="2026-11", region_code="360000000000",
                                                            generated_at=NOW))  # fmt: skip
    assert "通报" in error.value.message_zh


def test_a_report_reads_exactly_the_cells_it_uses() -> None:
    store = seeded_store()
    mine = [c for pk in ("2026-11#3607", "2026-10#3607") for c in store.query(pk) if c.key.county == "360704"]
    used = [c for c in mine if c.key.stored_period == "2026-11"]  # the month's cells, every dimension
    used += [c for c in mine if c.key.stored_period == "2026-10" and c.key.dim in (Dim.STAFF, Dim.WINDOW)]  # flags
    used += [c for c in mine if c.key.stored_period == "2026-10" and c.key.dim == Dim.SUMMARY]  # the trend's
    used += [c for c in mine if c.key.stored_period == "2026-11" and c.key.dim == Dim.SUMMARY]  # ...its last month
    store.items_read = 0
    compose_report(store, ReportRequest(period="2026-11", region_code=COUNTY, generated_at=NOW))
    assert store.items_read == len(used)  # not one cell of the other county, nor a day's


# --------------------------------------------------------------------------------------------------
# Incremental == rebuilt (the property)

GRADES = st.sampled_from(list(Grade))
RATING = st.builds(
    lambda n, grade, staff_grade, kind, channel, county, day, tags, staff: facts(
        n, grade, staff_grade=staff_grade, evaluation_type=kind, channel=channel, region_code=county,
        rated_at=datetime.fromisoformat("2026-11-29T20:00:00+08:00") + timedelta(hours=day),
        tags=tuple(tags) if (grade.is_bad or (staff_grade is not None and staff_grade.is_bad)) else (),
        staff_id=staff,
    ),
    st.integers(0, 10_000), GRADES, st.none() | GRADES,
    st.sampled_from([EvaluationType.ACTIVE, EvaluationType.DEFAULT, EvaluationType.ADDITIONAL]),
    st.sampled_from(list(Channel)), st.sampled_from([COUNTY, OTHER_COUNTY, TOWNSHIP_VILLAGE]),
    st.integers(0, 30), st.lists(st.sampled_from(list(TagCode)), max_size=3, unique=True),
    st.none() | st.sampled_from(["A", "B"]),
)
STEP = st.sampled_from(["redeliver", "not_adopted", "order", "resolve", "uphold", "nothing"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(RATING, st.lists(STEP, max_size=4)), min_size=1, max_size=12), st.data())
def test_incremental_rollups_equal_a_rebuild_from_the_final_state_R19(stream: list, data: st.DataObject) -> None:
    store = InMemoryRollupStore()
    service = RollupService(store)
    ratings: dict[str, RatingFacts] = {}
    orders: dict[str, OrderFacts] = {}
    recorded: list[RollupChange] = []  # the stream as the reporting function receives it, re-deliveries included
    seq = 0

    def change(kind: str, old: object, new: object) -> str:
        nonlocal seq
        seq += 1
        cid = f"{kind}{seq}"
        (service.rating_changed if kind == "r" else service.order_changed)(cid, old, new)  # type: ignore[arg-type]
        recorded.append((rating_change if kind == "r" else order_change)(cid, old, new))  # type: ignore[arg-type]
        return cid

    for n, (rating, steps) in enumerate(stream):
        rating = replace(rating, rating_id=f"r{n}")
        last = change("r", None, rating)
        ratings[rating.rating_id] = rating
        for step in steps:
            current, wo = ratings[rating.rating_id], orders.get(rating.rating_id)
            if step == "redeliver":  # the last stream record again, under its change id: counted already
                before = store.transactions
                service.rating_changed(last, None, rating)
                assert store.transactions == before
                recorded.append(recorded[-1])
            elif step == "not_adopted" and current.adopted:
                last = change("r", current, replace(current, adopted=False))
                ratings[rating.rating_id] = replace(current, adopted=False)
            elif step == "order" and wo is None and current.is_bad:
                new = OrderFacts(f"wo-{rating.rating_id}", rating.rated_at + timedelta(hours=1), rating.region_code,
                                 rating.agency_code, real_name=n % 2 == 0)  # fmt: skip
                last = change("o", None, new)
                orders[rating.rating_id] = new
            elif step == "resolve" and wo is not None and not wo.fixed:
                new = replace(wo, fixed=True, on_time=n % 3 == 0, extensions=1)
                last = change("o", wo, new)
                orders[rating.rating_id] = new
            elif step == "uphold" and wo is not None and not wo.upheld:
                new = replace(wo, appealed=True, upheld=True, adopted=False)
                last = change("o", wo, new)
                orders[rating.rating_id] = new
                if current.adopted:
                    last = change("r", current, replace(current, adopted=False))
                    ratings[rating.rating_id] = replace(current, adopted=False)

    def nonzero(cells: dict) -> dict:
        return {(pk, sk): {k: v for k, v in bag.items() if v} for pk, part in cells.items() for sk, bag in part.items()
                if any(bag.values())}  # fmt: skip

    rebuilt = InMemoryRollupStore()
    for month in ("2026-11", "2026-12"):
        for partition in rebuilt_cells(parse_period(month), ratings.values(), orders.values()):
            rebuilt.replace(partition)
    assert nonzero(store._cells) == nonzero(rebuilt._cells)

    # The same stream in stream batches (issue 15: a batch's changes merged into few transactions), a retried batch
    # starting before where the last one ended, as Lambda may send it: a marker met takes it change by change.
    batched = InMemoryRollupStore()
    together = RollupService(batched)
    done = 0
    while done < len(recorded):
        size = data.draw(st.integers(1, 8), label="batch size")
        start = max(0, done - data.draw(st.integers(0, 3), label="records sent again"))
        batch = recorded[start : done + size]
        if together.applied_together(batch) is None:
            for one in batch:
                together.apply(one)
        done += size
    assert nonzero(batched._cells) == nonzero(rebuilt._cells)

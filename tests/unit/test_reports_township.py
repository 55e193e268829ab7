"""A township's 通报 (R18, R19; issue 13 item 2 "city -> county -> township"): the views that apply to it.

Window, staff, channel, service and tag cells are kept per county and agency, not per township. A township's report
takes them from the agencies whose every rating of the county was in that township (a township's own service
centre): those cells are then the township's own. An agency also rated elsewhere in the county cannot be split:
it counts in the township's summary and by_agency, not in those views.
"""

from __future__ import annotations

from dataclasses import replace

from hub.rating import Channel, Grade
from hub.reports import indicators as ind
from hub.reports.compose import ReportRequest, compose_report
from hub.reports.document import Audience, ViewKind
from hub.reports.rollups import RollupService
from infra.memory import InMemoryRollupStore
from tests.unit.test_reports_rollups import AGENCY, COUNTY, NOW, facts

TOWNSHIP = "360704101000"
CENTRE = "11360704MB1C000203"  # 梅林镇便民服务中心: rated in the township only


def township_store() -> InMemoryRollupStore:
    store = InMemoryRollupStore()
    service = RollupService(store)
    rows = [
        *[facts(0, Grade.SATISFIED, agency_code=CENTRE, region_code="360704101201", channel=Channel.WINDOW,
                staff_id="ML01", staff_name="周敏", hall="梅林镇便民服务中心", window_no="1")] * 3,  # a village of it
        facts(0, Grade.DISSATISFIED, agency_code=CENTRE, region_code=TOWNSHIP, channel=Channel.MOBILE,
              staff_id=None, staff_name=None, hall=None, window_no=None),
        # the county's market bureau: once in the township, twice at the county seat (not splittable)
        facts(0, Grade.VERY_SATISFIED, region_code=TOWNSHIP, channel=Channel.KIOSK),
        *[facts(0, Grade.SATISFIED, region_code=COUNTY, channel=Channel.KIOSK)] * 2,
    ]  # fmt: skip
    for n, f in enumerate(rows):
        service.rating_changed(f"c{n}", None, replace(f, rating_id=f"r{n}"))
    return store


def township_report(store: InMemoryRollupStore, region: str = TOWNSHIP):  # type: ignore[no-untyped-def]
    request = ReportRequest(period="2026-11", region_code=region, audience=Audience.MANAGEMENT, generated_at=NOW,
                            region_names={"360704101": "梅林镇"})  # fmt: skip
    return compose_report(store, request)


def test_a_township_report_has_its_windows_staff_channels_services_and_tags_R18() -> None:
    report = township_report(township_store())
    assert report.summary.values[ind.RATED_TOTAL].value == 5  # the centre's 4 and the bureau's 1 in the township
    kinds = {v.view for v in report.views}
    assert kinds >= {ViewKind.BY_AGENCY, ViewKind.BY_HALL, ViewKind.BY_WINDOW, ViewKind.BY_STAFF,
                     ViewKind.BY_CHANNEL, ViewKind.BY_SERVICE, ViewKind.BY_TAG}  # fmt: skip
    assert ViewKind.BY_COUNTY not in kinds and ViewKind.BY_TOWNSHIP not in kinds
    agencies = {r.key: r.values[ind.RATED_TOTAL].value for r in report.view(ViewKind.BY_AGENCY).rows}
    assert agencies == {CENTRE: 4, AGENCY: 1}
    channels = {r.key: r.values[ind.RATED_TOTAL].value for r in report.view(ViewKind.BY_CHANNEL).rows}
    assert channels == {"window": 3, "mobile": 1}  # the centre's only: the bureau's kiosk cell is the county's
    assert [r.label_zh for r in report.view(ViewKind.BY_STAFF).rows] == ["周敏"]
    assert [r.key for r in report.view(ViewKind.BY_TAG).rows] == ["STAFF_ATTITUDE"]


def test_a_village_reads_its_townships_report_R18() -> None:
    store = township_store()
    village, township = township_report(store, "360704101201"), township_report(store)
    assert village.summary.values == township.summary.values
    assert [v.view for v in village.views] == [v.view for v in township.views]


def test_negative_control_an_agency_rated_elsewhere_in_the_county_adds_no_window_or_channel_to_the_township() -> None:
    store = township_store()
    RollupService(store).rating_changed("cx", None, facts(99, Grade.SATISFIED, agency_code=CENTRE,
                                                          region_code=COUNTY, channel=Channel.WEB))  # fmt: skip
    report = township_report(store)
    assert report.summary.values[ind.RATED_TOTAL].value == 5
    assert report.view(ViewKind.BY_CHANNEL).rows == [] and report.view(ViewKind.BY_STAFF).rows == []

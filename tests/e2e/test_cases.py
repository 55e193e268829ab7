"""Completed cases on the local cloud, driven by its clock: notices in, SMS reminders out, the default rating at
the provincial stub, a year's notice loaded with `hcp calendar load`, and the real and default ratings racing.

Nothing mocked: template.yaml deployed into moto, the functions played in-process, the schedule rules fired
as the clock passes them, the stub a real HTTP server. The cloud is driven: a clock move returns once what it
made due has run, queues included, so each assertion follows its move. Rules: R5, R6, R7, R8, R9, R20.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import threading
from datetime import datetime, timedelta
from typing import Any

import pytest

from cli.main import main
from hub.calendar import WorkingDayCalendar
from hub.case_notice import CaseNotice
from hub.cases import Timer, TimerKind, open_rating_window, slot_key
from hub.rating import rating_id_for
from infra import bootstrap
from tests.conftest import ROOT, SAMPLES
from tests.e2e.conftest import BUSINESS_NOW, Hub

pytestmark = pytest.mark.e2e
SAMPLE = SAMPLES / "cases" / "01-completed-no-rating.json"
NOTICE: dict[str, Any] = json.loads(SAMPLE.read_text("utf-8"))
FIXTURES = ROOT / "tests" / "fixtures" / "calendar"
RACES = 100


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}+08:00")


@pytest.fixture(scope="module", autouse=True)
def clock_back_to_the_samples_day(hub: Hub) -> Any:
    yield
    hub.cloud.drain()  # nothing of ours still on its way to the stub when the next module counts
    hub.cloud.move_clock(set_to=BUSINESS_NOW)  # the next modules expect the samples' day


def hcp(hub: Hub, *args: str) -> tuple[int, str]:
    """The `hcp` command against this local cloud; its exit code and what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main([*args, "--state-dir", str(hub.cloud.state_dir)])
    return code, out.getvalue()


def post_notices(hub: Hub, *notices: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    status, answer = hub.post("cases", json.dumps(list(notices), ensure_ascii=False).encode(), path="/v1/cases")
    return status, answer.get("results", answer)


def at_the_province(hub: Hub, case_no: str) -> list[dict[str, Any]]:
    return [p for p in hub.province.received() if p["projectNo"] == case_no]


def test_the_sample_case_is_reminded_twice_and_default_rated_at_the_province_R5_R6_R7(hub: Hub) -> None:
    # GIVEN the business system posts the sample, handled on Friday 2026-11-27 at 16:40
    hub.cloud.move_clock(set_to=at("2026-11-27T16:40:00"))
    code, out = hcp(hub, "send", "--kind", "cases", str(SAMPLE), "--quiet")
    [sent] = [line for line in out.splitlines() if line.startswith('{"file"')]  # not the functions' EMF lines
    [result] = json.loads(sent)["results"]
    assert (code, result["outcome"], result["closes_at"], result["provisional"]) == (
        0, "accepted", "2026-12-04T23:59:59+08:00", False)  # fmt: skip
    assert post_notices(hub, NOTICE)[1][0]["outcome"] == "duplicate"  # posted again: one window
    # WHEN the clock passes the first reminder (16:50)
    hub.cloud.move_clock(advance=timedelta(minutes=15))
    # THEN an SMS went out, listed by `hcp local sms` with the number masked (R20)
    code, listing = hcp(hub, "local", "sms")
    lines = [line for line in listing.splitlines() if NOTICE["case_no"] in line]
    assert code == 0 and len(lines) == 1 and "first_reminder" in lines[0] and "139****0004" in lines[0]
    assert "sent" in lines[0] and "13907970004" not in listing
    # WHEN the morning before the close comes THEN the second reminder, on 2026-12-03
    hub.cloud.move_clock(set_to=at("2026-12-03T10:05:00"))
    lines = [line for line in hcp(hub, "local", "sms")[1].splitlines() if NOTICE["case_no"] in line]
    assert len(lines) == 2 and lines[1].startswith("2026-12-03 10:05") and "second_reminder" in lines[1]
    # the window's last second: no default yet
    hub.cloud.move_clock(set_to=at("2026-12-04T23:59:30"))
    assert at_the_province(hub, NOTICE["case_no"]) == []
    # THEN after 2026-12-04T23:59:59+08:00 the default rating reaches the provincial stub (R6, R9)
    fired = hub.cloud.move_clock(set_to=at("2026-12-05T00:00:30"))
    assert "SchedulerFunction" in {f.function for f in fired}
    [payload] = at_the_province(hub, NOTICE["case_no"])
    assert (payload["isDefault"], payload["satisfaction"], payload["assessTime"]) == ("1", "4", "2026-12-04 23:59:59")


def test_a_notice_for_a_case_already_rated_is_refused_R8(hub: Hub) -> None:
    hub.cloud.move_clock(set_to=at("2026-12-01T09:00:00"))
    rating = {"source_rating_id": "E2E-RATED-1",
              "case": {"case_no": "E2E-RATED", "handled_at": "2026-11-30T10:00:00+08:00"},
              "target": {"agency_code": NOTICE["agency"]["code"], "region_code": NOTICE["region_code"]},
              "channel": "window", "grade": "very_satisfied", "rated_at": "2026-12-01T08:30:00+08:00"}  # fmt: skip
    assert hub.post("unified", json.dumps(rating).encode(), path="/v1/ratings")[0] == 202

    status, [result] = post_notices(hub, {**NOTICE, "case_no": "E2E-RATED", "handled_at": "2026-11-30T10:00:00+08:00"})

    assert (status, result["outcome"], result["errors"][0]["code"]) == (422, "rejected", "CASE_ALREADY_RATED")


def test_a_phone_that_is_no_mobile_is_accepted_and_its_reminder_skipped_with_the_reason_R7(hub: Hub) -> None:
    hub.cloud.move_clock(set_to=at("2026-12-01T09:00:00"))
    landline = {**NOTICE, "case_no": "E2E-LANDLINE", "handled_at": "2026-12-01T08:55:00+08:00",
                "applicant": {"type": "person", "name": "孙八", "phone": "0797-8123456"}}  # fmt: skip

    status, [result] = post_notices(hub, landline)
    hub.cloud.move_clock(advance=timedelta(minutes=15))

    assert (status, result["outcome"], result["warnings"][0]["code"]) == (202, "accepted", "PHONE_NOT_MOBILE")
    listing = hcp(hub, "local", "sms")[1]
    [line] = [line for line in listing.splitlines() if "E2E-LANDLINE" in line]
    assert "skipped (PHONE_NOT_MOBILE)" in line and "8123456" not in listing and "孙八" not in listing


def test_the_real_rating_and_the_default_racing_at_the_close_exactly_one_wins_100_times_R6(hub: Hub) -> None:
    # GIVEN 100 cases whose windows closed a moment ago, the clock just past the close
    hub.cloud.move_clock(set_to=at("2026-12-05T00:00:00.500"))
    notices = [{**NOTICE, "case_no": f"E2E-RACE-{i:03d}", "handled_at": "2026-11-27T10:00:00+08:00"}
               for i in range(RACES)]  # fmt: skip
    status, results = post_notices(hub, *notices)
    assert status == 202 and {r["outcome"] for r in results} == {"accepted"}
    scheduler = bootstrap.scheduler_from_env().scheduler  # the scheduler function's service, on the same moto
    ratings = hub.ratings()
    calendar = WorkingDayCalendar()
    wins = {"real": 0, "default": 0}
    for i, data in enumerate(notices):
        notice = CaseNotice.model_validate(data)
        window = open_rating_window(notice, calendar)
        timer = next(t for t in window.timers if t.kind is TimerKind.DEFAULT_RATING)
        real = {"source_rating_id": f"E2E-RACE-{i:03d}-R", "case": {"case_no": notice.case_no,
                "handled_at": data["handled_at"]}, "target": {"agency_code": notice.agency.code,
                "region_code": notice.region_code}, "channel": "window", "grade": "very_satisfied",
                "rated_at": "2026-12-04T23:59:59+08:00"}  # fmt: skip
        outcomes: dict[str, Any] = {}
        barrier = threading.Barrier(2)

        def rate(real: dict[str, Any] = real, outcomes: dict[str, Any] = outcomes, barrier: Any = barrier) -> None:
            barrier.wait()
            outcomes["real"] = hub.post("unified", json.dumps(real).encode(), path="/v1/ratings")[1]["results"][0]

        def default(timer: Timer = timer, outcomes: dict[str, Any] = outcomes, barrier: Any = barrier) -> None:
            barrier.wait()
            threading.Event().wait(random.uniform(0, 0.02))  # either may go first
            outcomes["default"] = scheduler.fire(timer, hub.cloud.clock.now())

        threads = [threading.Thread(target=rate), threading.Thread(target=default)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # THEN exactly one of them holds the case's slot, and each was told which
        real_won = outcomes["real"]["outcome"] == "accepted"
        default_id = rating_id_for(hub.connector("cases")["connector_id"], f"{notice.case_no}#-#default")
        assert ratings.slot_holder(slot_key(notice)) == (outcomes["real"]["rating_id"] if real_won else default_id)
        if outcomes["default"] != "taken":  # "taken": the schedule's own run got there first, and raced instead
            assert real_won != (outcomes["default"] == "default_rated"), outcomes
        assert real_won or outcomes["real"]["errors"][0]["code"] == "ALREADY_RATED"
        wins["real" if real_won else "default"] += 1
    # and the province gets one rating per case, whichever won
    case_nos = {n["case_no"] for n in notices}
    hub.cloud.drain()
    assert case_nos <= {p["projectNo"] for p in hub.province.received()}, "100 ratings"
    received = [p["projectNo"] for p in hub.province.received() if p["projectNo"] in case_nos]
    assert sorted(received) == sorted(case_nos)
    print(f"races won: {wins}")


def test_a_2027_window_is_provisional_until_hcp_calendar_load_then_correct(hub: Hub, tmp_path: Any) -> None:
    # GIVEN a case handled Monday 2026-12-28: 5 working days run into 2027, which has no calendar yet
    hub.cloud.move_clock(set_to=at("2026-12-28T10:30:00"))
    late = {**NOTICE, "case_no": "E2E-2027", "handled_at": "2026-12-28T10:00:00+08:00"}
    [before] = post_notices(hub, late)[1]
    assert (before["closes_at"], before["provisional"]) == ("2027-01-04T23:59:59+08:00", True)
    # a malformed file and an official year are refused
    code, out = hcp(hub, "calendar", "load", str(FIXTURES / "invalid-2027.json"))
    assert code == 2 and "2027-10-07 is in two holidays" in out
    official = tmp_path / "2026.json"
    official.write_text(json.dumps({"year": 2026, "title": "2026", "holidays": [
        {"name_en": "National Day", "name_zh": "国庆节", "start": "2026-10-01", "end": "2026-10-08"}]}))  # fmt: skip
    code, out = hcp(hub, "calendar", "load", str(official))
    assert code == 1 and "NOTICE_REFUSED" in out and "--force" in out
    # WHEN the 2027 notice is loaded (元旦 01-01..01-03)
    code, out = hcp(hub, "calendar", "load", str(FIXTURES / "2027.json"))
    assert code == 0 and "1 rating window(s) recomputed" in out and "closes 2027-01-05T23:59:59+08:00" in out
    # THEN the window is the real one, and the answers say it is no longer provisional
    [after] = post_notices(hub, late)[1]
    assert (after["outcome"], after["closes_at"], after["provisional"]) == ("duplicate", "2027-01-05T23:59:59+08:00",
                                                                            False)  # fmt: skip
    hub.cloud.move_clock(set_to=at("2027-01-05T23:59:00"))
    assert at_the_province(hub, "E2E-2027") == []  # the provisional close (01-04) has passed: nothing
    hub.cloud.move_clock(set_to=at("2027-01-06T00:00:30"))
    assert at_the_province(hub, "E2E-2027"), "the 2027 default rating at the stub"
    assert at_the_province(hub, "E2E-2027")[0]["assessTime"] == "2027-01-05 23:59:59"

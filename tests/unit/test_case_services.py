"""Completed cases end to end in memory: notices in, reminders out, the default rating, a year's notice loaded.

The services as the functions build them (`infra.bootstrap.in_memory_cases`), over the `InMemory*` fakes.
Rules: R5 (window), R6 (default rating), R7 (reminders), R8 (one rating per case), R20 (masking).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from hub.cases import Timer, TimerKind
from hub.errors import Refused
from hub.ports import Connector
from hub.rating import EvaluationType, Grade
from infra.bootstrap import CaseServices, SchedulerServices, in_memory_cases
from tests.conftest import ROOT, SAMPLES

NOTICE: dict[str, Any] = json.loads((SAMPLES / "cases" / "01-completed-no-rating.json").read_text("utf-8"))
CONNECTOR = Connector("vertical-system-demo01", "vertical_system", "demo", "赣县区市场监管局", "active", "s",
                      datetime.fromisoformat("2026-11-01T00:00:00+08:00"))  # fmt: skip
FIXTURES = ROOT / "tests" / "fixtures" / "calendar"
LINK = "https://hcp.example/rate"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text if "+" in text else f"{text}+08:00")


HANDLED = at("2026-11-27T16:40:00")


class Hub:
    def __init__(self) -> None:
        self.cases: CaseServices
        self.timers_service: SchedulerServices
        self.cases, self.timers_service, self.fakes = in_memory_cases(LINK)

    def post(
        self, *notices: dict[str, Any], now: datetime = HANDLED, body: bytes | None = None
    ) -> list[dict[str, Any]]:
        data = body if body is not None else json.dumps(list(notices), ensure_ascii=False).encode()
        report = self.cases.intake.receive(CONNECTOR, data, "application/json", "req-1", now)
        return [r.as_dict() for r in report.results]

    def run(self, now: datetime) -> dict[str, int]:
        return dict(self.timers_service.scheduler.run(now).counts)

    @property
    def sms(self) -> list[tuple[str, str]]:
        return list(self.fakes["sms"].sent)

    @property
    def log(self) -> list[Any]:
        return list(self.fakes["log"].entries)


@pytest.fixture
def hub() -> Hub:
    return Hub()


def notice(case_no: str = "GX2026112700088", **changes: Any) -> dict[str, Any]:
    return {**NOTICE, "case_no": case_no, **changes}


# --- notices in ------------------------------------------------------------------------------------


def test_the_sample_notice_opens_its_window_and_schedules_three_timers_R5_R7(hub: Hub) -> None:
    [result] = hub.post(notice())

    assert result["outcome"] == "accepted" and result["reminder"] == "scheduled"
    assert (result["closes_at"], result["provisional"]) == ("2026-12-04T23:59:59+08:00", False)
    due = hub.fakes["timers"].due(at("2026-12-31T00:00:00"), 10)
    assert [t.kind for t in due] == [TimerKind.FIRST_REMINDER, TimerKind.SECOND_REMINDER, TimerKind.DEFAULT_RATING]


def test_a_repeated_notice_is_a_duplicate_and_another_for_the_case_is_refused(hub: Hub) -> None:
    first, again = hub.post(notice(), notice())
    [changed] = hub.post(notice(channel="web"))

    assert (first["outcome"], again["outcome"]) == ("accepted", "duplicate")
    assert again["closes_at"] == first["closes_at"]
    assert changed["outcome"] == "rejected" and changed["errors"][0]["code"] == "CASE_CONFLICT"
    assert len(hub.fakes["timers"].due(at("2026-12-31T00:00:00"), 10)) == 3


def test_handled_in_the_future_is_refused_beyond_the_clock_skew(hub: Hub) -> None:
    later, skewed = hub.post(
        notice("F1", handled_at="2026-11-27T16:50:00+08:00"), notice("F2", handled_at="2026-11-27T16:44:00+08:00")
    )

    assert later["outcome"] == "rejected" and later["errors"][0]["code"] == "HANDLED_IN_FUTURE"
    assert later["errors"][0]["path"] == "handled_at"
    assert skewed["outcome"] == "accepted"


@pytest.mark.parametrize(("phone", "code"), [("0797-8123456", "PHONE_NOT_MOBILE"), (None, "NO_PHONE")])
def test_a_notice_without_a_mobile_is_accepted_and_its_reminder_skipped_R7(hub: Hub, phone: str | None,
                                                                          code: str) -> None:  # fmt: skip
    [result] = hub.post(notice("P1", applicant={"type": "person", "name": "赵六", "phone": phone}))

    assert (result["outcome"], result["reminder"]) == ("accepted", "skipped")
    assert [(w["code"], w["path"], w["rule"]) for w in result["warnings"]] == [(code, "applicant.phone", "R7")]
    # WHEN its reminders come due THEN they are skipped, counted and logged with the reason; no SMS
    assert hub.run(at("2026-11-27T17:00:00")) == {f"skipped:{code}": 1}
    assert hub.sms == [] and [(n.outcome, n.reason, n.phone) for n in hub.log] == [("skipped", code, None)]


def test_a_notice_for_a_case_already_rated_is_refused_R8(hub: Hub) -> None:
    hub.post(notice("R1", rating={"grade": "satisfied", "rated_at": "2026-11-27T16:41:00+08:00"}))

    [result] = hub.post(notice("R1"))

    assert result["outcome"] == "rejected"
    assert (result["errors"][0]["code"], result["errors"][0]["rule"]) == ("CASE_ALREADY_RATED", "R8")
    assert hub.fakes["timers"].due(at("2026-12-31T00:00:00"), 10) == []


def test_a_notice_for_a_case_default_rated_says_so_R6(hub: Hub) -> None:
    hub.post(notice("D1"))
    hub.run(at("2026-12-05T00:00:05"))

    [result] = hub.post(notice("D1"), now=at("2026-12-05T09:00:00"))

    assert result["errors"][0]["code"] == "CASE_ALREADY_RATED" and "default" in result["errors"][0]["message"]


def test_a_notice_with_its_rating_is_that_rating_stored_and_queued_R8_R9(hub: Hub) -> None:
    embedded = {"grade": "dissatisfied", "tags": ["ITEM_EFFICIENCY"], "rated_at": "2026-11-27T16:45:00+08:00",
                "real_name": True}  # fmt: skip
    [result] = hub.post(notice("E1", rating=embedded), now=at("2026-11-27T16:46:00"))
    [again] = hub.post(notice("E1", rating=embedded), now=at("2026-11-27T16:50:00"))

    assert (result["outcome"], again["outcome"]) == ("accepted", "duplicate")
    assert again["rating_id"] == result["rating_id"]
    stored = hub.fakes["ratings"].get(result["rating_id"]).rating
    assert (stored.grade, stored.evaluation_type, stored.source.kind) == (Grade.DISSATISFIED, EvaluationType.ACTIVE,
                                                                          "case_notice")  # fmt: skip
    assert (stored.rater.phone, stored.rater.name, stored.rater.real_name) == ("13907970004", "赵六", True)
    assert stored.target.staff is not None and stored.case.handled_at == HANDLED
    assert hub.fakes["queue"].rating_ids() == [result["rating_id"]]
    assert hub.fakes["timers"].due(at("2026-12-31T00:00:00"), 10) == []  # no window: it is rated


def test_an_embedded_rating_is_checked_like_any_rating_with_the_notices_paths_R2_R5(hub: Hub) -> None:
    bad, late = hub.post(
        notice("E2", rating={"grade": "very_dissatisfied", "rated_at": "2026-11-28T09:00:00+08:00"}),
        notice("E3", rating={"grade": "satisfied", "rated_at": "2026-12-05T09:00:00+08:00"}),
        now=at("2026-12-05T09:00:00"),
    )

    assert [(e["code"], e["path"]) for e in bad["errors"]] == [("BAD_RATING_WITHOUT_REASON", "rating.tags")]
    assert [(e["code"], e["path"]) for e in late["errors"]] == [("RATING_WINDOW_CLOSED", "rating.rated_at")]


def test_an_embedded_rating_keeps_its_rater_without_a_phone_that_is_not_a_mobile(hub: Hub) -> None:
    [result] = hub.post(notice("E4", applicant={"type": "person", "phone": "0797-8123456"},
                               rating={"grade": "satisfied", "rated_at": "2026-11-27T16:41:00+08:00"}))  # fmt: skip

    assert result["outcome"] == "accepted"
    assert hub.fakes["ratings"].get(result["rating_id"]).rating.rater.phone is None


@pytest.mark.parametrize(("body", "code"), [
    (b"", "BODY_EMPTY"), (b"{", "BODY_MALFORMED"), (b"[]", "BODY_MALFORMED"), (b"\xff\xfe", "BODY_UNDECODABLE"),
    (json.dumps([NOTICE] * 101).encode(), "BATCH_TOO_LARGE"),
    # issue 11 items 3 and 7: not an object (or a list of objects), a key twice: one code, whole body
    (b"null", "BODY_MALFORMED"), (b'"x"', "BODY_MALFORMED"), (b"42", "BODY_MALFORMED"), (b"[1, 2]", "BODY_MALFORMED"),
    (json.dumps([NOTICE, "not a notice"]).encode(), "BODY_MALFORMED"),
    (json.dumps(NOTICE).replace('"case_no": ', '"case_no": "X", "case_no": ', 1).encode(), "BODY_MALFORMED"),
])  # fmt: skip
def test_a_body_that_is_no_notice_is_refused_whole_and_archived(hub: Hub, body: bytes, code: str) -> None:
    with pytest.raises(Refused) as refused:
        hub.post(body=body)

    assert [p.code for p in refused.value.problems] == [code]
    assert list(hub.fakes["archive"].objects.values()) == [(body, "application/json")]


def test_each_item_of_a_batch_is_answered_by_index(hub: Hub) -> None:
    results = hub.post(notice("B1"), {**NOTICE, "case_no": ""}, {**notice("B3"), "servcie": {}})

    assert [r["outcome"] for r in results] == ["accepted", "rejected", "rejected"]
    assert results[1]["errors"][0]["path"] == "case_no"
    [unknown] = [e for e in results[2]["errors"] if e["code"] == "FIELD_UNKNOWN"]
    assert unknown["path"] == "servcie" and "did you mean service?" in unknown["message"]
    assert "是否应为 service" in unknown["message_zh"]


# --- reminders and the default rating -------------------------------------------------------------


def test_the_sample_case_is_reminded_twice_then_default_rated_after_its_window_R5_R6_R7(hub: Hub) -> None:
    hub.post(notice())
    # GIVEN nothing is due before the first reminder
    assert hub.run(at("2026-11-27T16:45:00")) == {}
    # WHEN the first reminder is due THEN one SMS with the case number and the link goes to the applicant
    assert hub.run(at("2026-11-27T16:55:00")) == {"sent": 1}
    [(phone, text)] = hub.sms
    assert phone == "13907970004" and "GX2026112700088" in text and LINK in text and "赵六" not in text
    # the day before the window closes, the second one
    assert hub.run(at("2026-12-03T09:59:00")) == {}
    assert hub.run(at("2026-12-03T10:01:00")) == {"sent": 1}
    assert "截止" in hub.sms[1][1]
    # the last second of the window: still open
    assert hub.run(at("2026-12-04T23:59:59")) == {}
    # THEN after it, the default rating: satisfied, marked default, rated at the close, queued (R9)
    assert hub.run(at("2026-12-05T00:00:01")) == {"default_rated": 1}
    [rating_id] = hub.fakes["queue"].rating_ids()
    rating = hub.fakes["ratings"].get(rating_id).rating
    assert (rating.grade, rating.evaluation_type) == (Grade.SATISFIED, EvaluationType.DEFAULT)
    assert rating.rated_at == at("2026-12-04T23:59:59")
    # and the log says what was sent, to a masked number (R20)
    assert [(n.kind, n.outcome, n.phone) for n in hub.log] == [
        ("first_reminder", "sent", "139****0004"), ("second_reminder", "sent", "139****0004")]  # fmt: skip
    assert hub.run(at("2026-12-31T00:00:00")) == {}  # every timer fired once


def test_a_rating_that_arrives_later_closes_the_case_R6_R8(hub: Hub) -> None:
    hub.post(notice())
    hub.run(at("2026-11-27T16:55:00"))
    rated = notice(rating={"grade": "very_satisfied", "rated_at": "2026-11-30T09:00:00+08:00"})
    hub.cases.intake.receive(CONNECTOR, json.dumps(rated).encode(), None, "r", at("2026-11-30T09:00:00"))

    assert hub.run(at("2026-12-03T10:01:00")) == {"skipped:RATED": 1}
    assert hub.run(at("2026-12-05T00:00:01")) == {"rated": 1}
    assert len(hub.sms) == 1 and len(hub.fakes["ratings"]) == 1


def test_a_reminder_due_in_quiet_hours_waits_for_eight_in_the_morning_R7(hub: Hub) -> None:
    hub.post(notice(handled_at="2026-11-27T20:40:00+08:00"), now=at("2026-11-27T20:41:00"))
    # due at 20:50; the run that picks it up is at 21:03
    assert hub.run(at("2026-11-27T21:03:00")) == {"deferred": 1}
    assert hub.sms == [] and (hub.log[0].outcome, hub.log[0].reason) == ("deferred", "QUIET_HOURS")
    assert hub.run(at("2026-11-28T07:59:00")) == {}
    assert hub.run(at("2026-11-28T08:00:00")) == {"sent": 1}


def test_a_first_reminder_found_late_gives_way_to_the_second_R7(hub: Hub) -> None:
    hub.post(notice())

    assert hub.run(at("2026-12-03T10:05:00")) == {"skipped:SUPERSEDED": 1, "sent": 1}
    assert len(hub.sms) == 1 and "截止" in hub.sms[0][1]


def test_overlapping_runs_fire_a_timer_once(hub: Hub) -> None:
    hub.post(notice())
    now = at("2026-11-27T16:55:00")
    [timer] = hub.fakes["timers"].due(now, 10)

    assert hub.timers_service.scheduler.fire(timer, now) == "sent"
    assert hub.timers_service.scheduler.fire(timer, now) == "taken"
    assert len(hub.sms) == 1


def test_a_claim_is_a_lease_a_run_that_died_is_retried_after_it(hub: Hub) -> None:
    hub.post(notice())
    now = at("2026-11-27T16:55:00")
    [timer] = hub.fakes["timers"].due(now, 10)
    assert hub.fakes["timers"].claim(timer, now + timedelta(minutes=5)) == 1  # and then the run died

    assert hub.run(now + timedelta(minutes=1)) == {}
    assert hub.run(now + timedelta(minutes=5)) == {"sent": 1}


def test_an_sms_outage_is_retried_then_given_up_and_logged(hub: Hub) -> None:
    hub.post(notice())
    hub.fakes["sms"].failing = True
    now = at("2026-11-27T16:55:00")
    outcomes = []
    for _ in range(5):
        counts = hub.run(now)
        outcomes += list(counts)
        now += timedelta(minutes=30)

    assert outcomes == ["deferred"] * 4 + ["failed"]
    assert [n.outcome for n in hub.log] == ["deferred"] * 4 + ["failed"]
    assert all(n.reason == "SMS_FAILED: memory: failing" and n.phone == "139****0004" for n in hub.log)


def test_the_default_rating_loses_to_a_real_one_and_each_is_one_rating_R6(hub: Hub) -> None:
    hub.post(notice())
    rated = notice(rating={"grade": "satisfied", "rated_at": "2026-12-04T23:59:59+08:00"})
    [result] = hub.post(rated, now=at("2026-12-05T00:00:00"))

    assert result["outcome"] == "accepted"
    assert hub.run(at("2026-12-05T00:00:01"))["rated"] == 1
    assert len(hub.fakes["ratings"]) == 1


# --- the calendar's unpublished years --------------------------------------------------------------


def test_a_2027_window_is_provisional_until_the_notice_is_loaded_then_recomputed(hub: Hub) -> None:
    # GIVEN a case handled on Monday 2026-12-28: its window runs into 2027, which has no calendar yet
    [result] = hub.post(notice("Y1", handled_at="2026-12-28T10:00:00+08:00"), now=at("2026-12-28T10:00:00"))
    assert (result["closes_at"], result["provisional"]) == ("2027-01-04T23:59:59+08:00", True)
    # WHEN the 2027 notice is loaded (元旦 01-01..01-03)
    report = hub.cases.calendar.load((FIXTURES / "2027.json").read_bytes(), force=False, now=at("2026-12-29T09:00"))
    # THEN the window is recounted, no longer provisional, and its timers moved
    assert report.as_dict()["recomputed"] == 1
    assert report.as_dict()["windows"] == [
        {"case_key": result["case_key"], "closes_at": "2027-01-05T23:59:59+08:00", "provisional": False}]  # fmt: skip
    [again] = hub.post(notice("Y1", handled_at="2026-12-28T10:00:00+08:00"), now=at("2026-12-29T10:00:00"))
    assert (again["outcome"], again["closes_at"], again["provisional"]) == ("duplicate", "2027-01-05T23:59:59+08:00",
                                                                            False)  # fmt: skip
    assert hub.run(at("2027-01-04T10:05:00")) == {"skipped:SUPERSEDED": 1, "sent": 1}  # the day before the close
    assert hub.run(at("2027-01-05T00:00:05")) == {}  # the default waits for the end of 01-05
    assert hub.run(at("2027-01-06T00:00:01")) == {"default_rated": 1}
    [rating_id] = hub.fakes["queue"].rating_ids()
    assert hub.fakes["ratings"].get(rating_id).rating.rated_at == at("2027-01-05T23:59:59")


def test_the_scheduler_counts_with_the_calendar_even_where_the_recompute_did_not_reach(hub: Hub) -> None:
    hub.post(notice("Y2", handled_at="2026-12-28T10:00:00+08:00"), now=at("2026-12-28T10:00:00"))
    hub.fakes["calendar_store"].put(_notice_2027(), at=at("2026-12-29T09:00"), forced=False)  # no recompute

    # the old timers: the second reminder comes due, the default waits for the end of the new window
    assert hub.run(at("2027-01-05T09:00:00")) == {"skipped:SUPERSEDED": 1, "sent": 1, "deferred": 1}
    assert hub.run(at("2027-01-06T00:00:01")) == {"default_rated": 1}


def test_a_load_cut_short_is_finished_by_recompute_known(hub: Hub) -> None:
    for i in range(3):
        hub.post(notice(f"Y3-{i}", handled_at="2026-12-28T10:00:00+08:00"), now=at("2026-12-28T10:00:00"))
    admin = hub.cases.calendar

    report = admin.load((FIXTURES / "2027.json").read_bytes(), force=False, now=at("2026-12-29T09:00"), limit=2)
    rest = admin.recompute_known(admin.calendar(), limit=10)

    assert (len(report.recomputed), report.remaining, len(rest)) == (2, True, 1)
    assert admin.recompute_known(admin.calendar(), limit=10) == []


def test_a_malformed_notice_is_refused_with_the_calendars_messages(hub: Hub) -> None:
    with pytest.raises(Refused) as refused:
        hub.cases.calendar.load((FIXTURES / "invalid-2027.json").read_bytes(), force=False, now=HANDLED)

    problems = refused.value.problems
    assert {p.code for p in problems} == {"NOTICE_INVALID"}
    text = " ".join(p.message for p in problems)
    assert "2027-10-07 is in two holidays" in text and "adjusted workday 2027-10-11 is a Monday" in text
    assert hub.fakes["calendar_store"].notices() == []


def test_a_notice_for_an_official_year_is_refused_unless_forced(hub: Hub) -> None:
    text = json.dumps({"year": 2026, "title": "国务院办公厅关于2026年部分节假日安排的通知", "holidays": [
        {"name_en": "National Day", "name_zh": "国庆节", "start": "2026-10-01", "end": "2026-10-08"}]})  # fmt: skip

    with pytest.raises(Refused) as refused:
        hub.cases.calendar.load(text, force=False, now=HANDLED)
    report = hub.cases.calendar.load(text, force=True, now=HANDLED)

    assert [(p.code, p.path) for p in refused.value.problems] == [("NOTICE_REFUSED", "year")]
    assert "force" in refused.value.problems[0].message
    assert report.forced and hub.fakes["calendar_store"].notices()[0].year == 2026


def _notice_2027() -> Any:
    from hub.calendar import parse_notice

    return parse_notice((FIXTURES / "2027.json").read_bytes())


def test_timers_of_a_case_are_ids_of_case_and_kind() -> None:
    timer = Timer("A/B/-", TimerKind.DEFAULT_RATING, HANDLED)
    assert timer.timer_id == "A/B/-#default_rating"


# --- within the invocation's time ----------------------------------------------------------------


class Budget:
    """The invocation's remaining time, driven: each SMS sent costs `per_sms_ms` of it (a slow gateway)."""

    def __init__(self, hub: Hub, total_ms: int, per_sms_ms: int) -> None:
        self.hub, self.total_ms, self.per_sms_ms, self.start = hub, total_ms, per_sms_ms, len(hub.sms)

    def __call__(self) -> int:
        return self.total_ms - (len(self.hub.sms) - self.start) * self.per_sms_ms


def test_a_run_stops_before_its_timeout_and_the_next_firing_goes_on_where_it_stopped(hub: Hub) -> None:
    # GIVEN 25 cases whose first reminder is due, an SMS gateway taking 2 s a message, a 60 s invocation
    hub.timers_service.scheduler.batch = 10
    hub.post(*(notice(f"GX20261127{n:05d}") for n in range(25)))
    now = at("2026-11-27T16:55:00")

    # WHEN the scheduler runs within the invocation's time (stops with 15 s to spare)
    first = hub.timers_service.scheduler.run(now, remaining_ms=Budget(hub, 60_000, 2_000))

    # THEN it stopped with 23 sent (46 s of 60: less than 15 s left before a 24th), said it is behind, and
    # left the rest due
    assert (first.counts["sent"], first.full) == (23, True)
    assert len(hub.fakes["timers"].due(now, 100)) == 2
    # and the next firing sends the rest, each reminder once
    second = hub.timers_service.scheduler.run(now + timedelta(minutes=1), remaining_ms=Budget(hub, 60_000, 2_000))
    assert (second.counts["sent"], second.full) == (2, False)
    assert len(hub.sms) == 25 and first.read + second.read >= 25


def test_without_a_time_budget_a_run_is_one_batch_negative_control(hub: Hub) -> None:
    hub.timers_service.scheduler.batch = 10
    hub.post(*(notice(f"GX20261127{n:05d}") for n in range(25)))
    report = hub.timers_service.scheduler.run(at("2026-11-27T16:55:00"))
    assert (report.counts["sent"], report.full) == (10, True)

"""The case ports' contracts, over the DynamoDB adapters (in moto, tables as template.yaml declares them) and
the in-memory fakes; the SMS adapters against moto's SNS and a real HTTP server on loopback.

Rules: R5 (windows), R6/R8 (the case slot), R7 (reminders, SMS), R20 (masked log).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import boto3
import pytest
from moto import mock_aws

from hub.calendar import WorkingDayCalendar, parse_notice
from hub.case_notice import CaseNotice
from hub.cases import Timer, TimerKind, open_rating_window
from hub.ports import (
    CalendarStore,
    CaseStore,
    Notification,
    NotificationLog,
    RatingStore,
    SmsFailed,
    StoredCase,
    TimerStore,
)
from hub.rating import Channel
from infra.calendar_store import DynamoCalendarStore, StoredCalendars
from infra.case_store import SHARDS, DynamoCaseStore, DynamoNotificationLog, DynamoTimerStore, shard_of
from infra.memory import (
    InMemoryCalendarStore,
    InMemoryCaseStore,
    InMemoryNotificationLog,
    InMemoryRatingStore,
    InMemorySealer,
)
from infra.rating_store import DynamoRatingStore
from infra.sms import HttpSmsGateway, SnsSmsSender, sms_sender
from tests.conftest import ROOT, SAMPLES
from tests.integration.test_stores_contract import (  # noqa: F401 (serial_aws: the fixture, used by name)
    REGION,
    default_rating,
    fake_credentials,
    race,
    serial_aws,
    template_resources,
)

NOW = datetime.fromisoformat("2026-11-27T16:40:00+08:00")
NOTICE = CaseNotice.model_validate(json.loads((SAMPLES / "cases" / "01-completed-no-rating.json").read_text("utf-8")))
CASE_TABLES = {"CasesTable": "cases", "CalendarTable": "calendar", "RatingsTable": "ratings"}


def create_case_tables(names: dict[str, str] = CASE_TABLES) -> Any:
    """Inside moto: the case tables (and the ratings table) as template.yaml declares them."""
    resources = template_resources()
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for logical_id, name in names.items():
        props = resources[logical_id]["Properties"]
        kwargs = {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes") if k in props}
        dynamodb.create_table(TableName=name, BillingMode=props["BillingMode"], **kwargs)
    return dynamodb


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    fake_credentials(monkeypatch)
    with mock_aws():
        yield create_case_tables()


@pytest.fixture(params=["memory", "aws"])
def stores(request: pytest.FixtureRequest) -> tuple[CaseStore, TimerStore]:
    if request.param == "memory":
        cases = InMemoryCaseStore()
        return cases, cases.timers
    client = request.getfixturevalue("dynamodb")
    return DynamoCaseStore(client, "cases", sealer=InMemorySealer()), DynamoTimerStore(client, "cases")


@pytest.fixture(params=["memory", "aws"])
def log(request: pytest.FixtureRequest) -> NotificationLog:
    if request.param == "memory":
        return InMemoryNotificationLog()
    return DynamoNotificationLog(request.getfixturevalue("dynamodb"), "cases")


@pytest.fixture(params=["memory", "aws"])
def calendar_store(request: pytest.FixtureRequest) -> CalendarStore:
    if request.param == "memory":
        return InMemoryCalendarStore()
    return DynamoCalendarStore(request.getfixturevalue("dynamodb"), "calendar")


@pytest.fixture(params=["memory", "aws"])
def ratings(request: pytest.FixtureRequest) -> RatingStore:
    if request.param == "memory":
        return InMemoryRatingStore()
    return DynamoRatingStore(request.getfixturevalue("dynamodb"), "ratings", sealer=InMemorySealer())


def case_of(notice: CaseNotice = NOTICE, calendar: WorkingDayCalendar | None = None) -> tuple[StoredCase, Any]:
    window = open_rating_window(notice, calendar or WorkingDayCalendar())
    case = StoredCase(notice, "vertical-system-1", "raw/x", NOW, window.closes_at, window.provisional,
                      window.provisional_year)  # fmt: skip
    return case, window


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}+08:00")


# --- cases ---------------------------------------------------------------------------------------


def test_a_case_is_written_once_with_its_timers_and_reads_back_whole(stores: tuple[CaseStore, TimerStore]) -> None:
    cases, timers = stores
    case, window = case_of()

    assert cases.put_new(case, window.timers) == "accepted"
    assert cases.put_new(case, window.timers) == "duplicate"
    other = NOTICE.model_copy(update={"channel": Channel.WEB})
    assert cases.put_new(case_of(other)[0], window.timers) == "conflict"
    stored = cases.get(case.case_key)
    assert stored == case  # the applicant included: sealed apart, read back the same
    assert stored.notice.applicant.phone == "13907970004"
    assert cases.get("nope") is None
    assert [t.kind for t in timers.due(at("2026-12-31T00:00:00"), 10)] == [t.kind for t in window.timers]


def test_provisional_windows_are_found_by_year_and_leave_the_index_when_recomputed(
    stores: tuple[CaseStore, TimerStore],
) -> None:
    cases, _ = stores
    provisional = [NOTICE.model_copy(update={"case_no": f"Y{i}", "handled_at": at("2026-12-28T10:00:00")})
                   for i in range(3)]  # fmt: skip
    for notice in [*provisional, NOTICE]:
        case, window = case_of(notice)
        cases.put_new(case, window.timers)

    keys = cases.provisional_in(2027, 10)
    assert sorted(keys) == sorted(case_of(n)[0].case_key for n in provisional)
    assert len(cases.provisional_in(2027, 2)) == 2
    cases.update_window(keys[0], at("2027-01-05T23:59:59"), False, None)
    assert keys[0] not in cases.provisional_in(2027, 10)
    assert cases.get(keys[0]).closes_at == at("2027-01-05T23:59:59")
    assert cases.provisional_in(2028, 10) == []


# --- timers --------------------------------------------------------------------------------------


def test_only_due_timers_are_read_earliest_first(stores: tuple[CaseStore, TimerStore]) -> None:
    cases, timers = stores
    for i in range(20):
        notice = NOTICE.model_copy(update={"case_no": f"T{i:02d}", "handled_at": NOW + timedelta(minutes=i)})
        case, window = case_of(notice)
        cases.put_new(case, window.timers)

    due = timers.due(NOW + timedelta(minutes=10, seconds=30), 100)  # first reminders 10 min after handling

    assert [t.case_key.split("/")[1] for t in due] == ["T00"]
    due = timers.due(NOW + timedelta(minutes=28, seconds=30), 100)
    assert len(due) == 19 and [t.due_at for t in due] == sorted(t.due_at for t in due)
    assert all(t.kind is TimerKind.FIRST_REMINDER for t in due)
    assert len(timers.due(NOW + timedelta(minutes=29), 8)) == 8


def test_a_claim_is_taken_once_and_a_finished_timer_leaves_the_index(stores: tuple[CaseStore, TimerStore]) -> None:
    cases, timers = stores
    case, window = case_of()
    cases.put_new(case, window.timers)
    now = at("2026-11-27T17:00:00")
    [timer] = timers.due(now, 10)

    assert timers.claim(timer, now + timedelta(minutes=5)) == 1
    assert timers.claim(timer, now + timedelta(minutes=5)) is None  # a second run that read it too
    assert timers.due(now, 10) == []  # leased
    [again] = timers.due(now + timedelta(minutes=5), 10)  # the lease ended: the run died
    assert timers.claim(again, now + timedelta(minutes=10)) == 2
    timers.finish(again, "sent", at=now)
    assert timers.due(at("2026-11-27T23:00:00"), 10) == []
    assert timers.reschedule(Timer(timer.case_key, timer.kind, now)) is False  # fired: stays fired


def test_deferred_and_rescheduled_timers_come_due_at_their_new_time(stores: tuple[CaseStore, TimerStore]) -> None:
    cases, timers = stores
    case, window = case_of()
    cases.put_new(case, window.timers)
    first, second, default = window.timers

    timers.defer(first, at("2026-11-28T08:00:00"))
    assert timers.reschedule(Timer(default.case_key, default.kind, at("2026-12-08T00:00:00"))) is True

    assert timers.due(at("2026-11-28T07:59:00"), 10) == []
    assert [t.kind for t in timers.due(at("2026-12-05T00:00:01"), 10)] == [first.kind, second.kind]
    assert timers.due(at("2026-12-08T00:00:00"), 10)[-1].kind is TimerKind.DEFAULT_RATING


@pytest.mark.usefixtures("serial_aws")
def test_twenty_overlapping_runs_claim_a_timer_once() -> None:
    """Real threads against a moto server that answers one request at a time, as DynamoDB's conditional
    writes are isolated: the condition on the timer's due time decides."""
    dynamodb = create_case_tables({"CasesTable": "cases"})
    cases, timers = DynamoCaseStore(dynamodb, "cases", sealer=InMemorySealer()), DynamoTimerStore(dynamodb, "cases")
    case, window = case_of()
    cases.put_new(case, window.timers)
    now = at("2026-11-27T17:00:00")
    [timer] = timers.due(now, 10)

    claims = race([lambda: timers.claim(timer, now + timedelta(minutes=5)) for _ in range(20)])

    assert sorted(claims, key=lambda c: c is None) == [1] + [None] * 19


def test_timers_spread_over_the_shards() -> None:
    shards = {shard_of(f"A/GX{i:06d}/-#first_reminder") for i in range(200)}
    assert shards == {f"due#{i}" for i in range(SHARDS)}


def test_the_due_query_reads_only_what_is_due(dynamodb: Any) -> None:
    cases, timers = DynamoCaseStore(dynamodb, "cases", sealer=InMemorySealer()), DynamoTimerStore(dynamodb, "cases")
    for i in range(60):
        notice = NOTICE.model_copy(update={"case_no": f"Q{i:02d}", "handled_at": NOW + timedelta(hours=i)})
        case, window = case_of(notice)
        cases.put_new(case, window.timers)

    due = timers.due(NOW + timedelta(hours=4, minutes=11), 100)

    assert len(due) == 5 and timers.items_read == 5  # 180 timers pending, 5 due: 5 read


# --- the case slot (ratings) -----------------------------------------------------------------------


def test_the_slot_holder_is_whoever_took_the_case_slot_R6_R8(ratings: RatingStore) -> None:
    rating = default_rating("GX2026112700088")
    assert ratings.slot_holder(rating.duplicate_key) is None

    ratings.put_new(rating, "raw/1")

    assert ratings.slot_holder(rating.duplicate_key) == rating.rating_id


# --- the notification log and the calendar store --------------------------------------------------


def test_the_log_keeps_each_notification_by_day_masked_as_given(log: NotificationLog) -> None:
    entries = [
        Notification(at("2026-11-27T16:55:00"), "A/GX1/-", "GX1", "first_reminder", "sent", phone="139****0004",
                     channel="sns", message_id="m-1"),
        Notification(at("2026-11-27T23:30:00"), "A/GX2/-", "GX2", "first_reminder", "deferred", "QUIET_HOURS"),
        Notification(at("2026-11-28T08:00:00"), "A/GX2/-", "GX2", "first_reminder", "skipped", "PHONE_NOT_MOBILE",
                     attempt=2),
    ]  # fmt: skip
    for entry in reversed(entries):
        log.record(entry)

    assert log.between(at("2026-11-27T00:00:00"), at("2026-11-29T00:00:00")) == entries
    assert log.between(at("2026-11-27T16:55:00"), at("2026-11-28T08:00:00")) == entries[:2]
    assert log.between(at("2026-11-30T00:00:00"), at("2026-12-01T00:00:00")) == []


def test_loaded_notices_read_back_by_year_and_a_reload_replaces(calendar_store: CalendarStore) -> None:
    notice = parse_notice((ROOT / "tests" / "fixtures" / "calendar" / "2027.json").read_bytes())
    calendar_store.put(notice, at=NOW, forced=False)
    calendar_store.put(notice.model_copy(update={"title": "更正"}), at=NOW, forced=False)

    [stored] = calendar_store.notices()
    assert stored.year == 2027 and stored.title == "更正" and stored.holidays == notice.holidays


def test_the_calendar_cache_is_rebuilt_after_its_time_or_when_dropped() -> None:
    store, clock = InMemoryCalendarStore(), [0.0]
    calendars = StoredCalendars(store, ttl=60, monotonic=lambda: clock[0])
    assert calendars().year_source(2027) == "provisional"
    store.put(parse_notice((ROOT / "tests" / "fixtures" / "calendar" / "2027.json").read_bytes()), at=NOW,
              forced=False)  # fmt: skip

    assert calendars().year_source(2027) == "provisional"  # cached
    clock[0] = 61
    assert calendars().year_source(2027) == "override"
    store.put(parse_notice(json.dumps({"year": 2028, "title": "2028", "holidays": [
        {"name_en": "National Day", "name_zh": "国庆节", "start": "2028-10-01", "end": "2028-10-07"}]})),
        at=NOW, forced=False)  # fmt: skip
    calendars.invalidate()
    assert calendars().year_source(2028) == "override"


# --- SMS -------------------------------------------------------------------------------------------


def test_sns_sends_to_the_e164_number_and_moto_records_it(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_credentials(monkeypatch)
    with mock_aws():
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sns.models import sns_backends

        sender = SnsSmsSender(boto3.client("sns", region_name=REGION))
        message_id = sender.send("13907970004", "【政务服务好差评】测试")

        recorded = sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages[message_id]
        assert recorded == ("+8613907970004", "【政务服务好差评】测试")
        with pytest.raises(SmsFailed) as failed:
            sender.send("1390797000", "x" * 2000)  # too long for one publish
        assert "1390797000" not in failed.value.reason


class _Gateway(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    status = 200

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append(body)
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"code": "0", "msgId": f"g-{len(type(self).received)}"}).encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[tuple[str, type[_Gateway]]]:
    handler = type("Gateway", (_Gateway,), {"received": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/sms/send", handler
    server.shutdown()
    thread.join()


def test_the_provincial_gateway_gets_json_and_its_message_id_comes_back(gateway: tuple[str, type[_Gateway]]) -> None:
    url, handler = gateway
    sender = sms_sender(None, url)
    assert isinstance(sender, HttpSmsGateway)

    assert sender.send("13907970004", "提醒") == "g-1"
    assert handler.received[0]["mobile"] == "13907970004" and handler.received[0]["content"] == "提醒"
    handler.status = 503
    with pytest.raises(SmsFailed, match="HTTP 503"):
        sender.send("13907970004", "提醒")


def test_an_unreachable_gateway_is_an_sms_failure() -> None:
    with pytest.raises(SmsFailed):
        HttpSmsGateway("http://127.0.0.1:9/sms", timeout=(0.2, 0.2)).send("13907970004", "提醒")


def test_without_a_gateway_url_sms_goes_through_sns() -> None:
    assert isinstance(sms_sender(object(), " "), SnsSmsSender)

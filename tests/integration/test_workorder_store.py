"""The work-order store contract (hub.workorders.WorkOrderStore) over DynamoDB in moto and the in-memory fake,
its scoped lists included. The table is created from template.yaml's own definition."""

from __future__ import annotations

import logging
import threading
import urllib.request
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from hub.calendar import SHANGHAI, WorkingDayCalendar
from hub.rating import Rating
from hub.workorders import (
    Actor,
    ApproveExtension,
    Classify,
    CursorInvalid,
    FileAppeal,
    Kind,
    OrderFilter,
    RequestExtension,
    Role,
    SendReply,
    Status,
    VersionConflict,
    WorkOrder,
    WorkOrderStore,
    open_work_order,
)
from infra.memory import InMemoryWorkOrderStore
from infra.workorder_store import DynamoWorkOrderStore
from tests.integration.test_stores_contract import REGION, fake_credentials, template_resources

CALENDAR = WorkingDayCalendar()
DISPATCHED = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)
COUNTY = "360704000000"
TOWNSHIP = "360704101000"
OTHER_COUNTY = "360702000000"
COUNTY_AGENCY = "11360704MB1C000102"
TOWNSHIP_AGENCY = "11360704MB1C000203"
OTHER_AGENCY = "11360702MB1C000105"
UNIT = Actor(role=Role.UNIT, id="u-1", agency_code=COUNTY_AGENCY)
MANAGEMENT = Actor(role=Role.MANAGEMENT, id="m-1", region_code=COUNTY)


def bad_rating(rating_id: str, *, agency: str = COUNTY_AGENCY, region: str = COUNTY, real_name: bool = False) -> Rating:
    return Rating.model_validate(
        {
            "rating_id": rating_id,
            "source": {"connector_id": "kiosk-1", "kind": "kiosk", "source_rating_id": rating_id,
                       "received_at": "2026-09-30T09:59:00+08:00"},
            "case": {"case_no": f"GX{rating_id}", "service_name": "营业执照办理"},
            "target": {"agency_code": agency, "region_code": region},
            "channel": "kiosk",
            "grade": "dissatisfied",
            "tags": ["ITEM_EFFICIENCY"],
            "rater": {"type": "person", "name": "王小明", "phone": "13912345678", "real_name": real_name},
            "rated_at": "2026-09-30T09:58:00+08:00",
        }
    )  # fmt: skip


def new_order(rating_id: str = "r1", at: datetime = DISPATCHED, **kwargs: Any) -> WorkOrder:
    return open_work_order(bad_rating(rating_id, **kwargs), at, CALENDAR)


def create_table(dynamodb: Any) -> str:
    props = template_resources()["WorkOrdersTable"]["Properties"]
    kwargs = {key: props[key] for key in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes")}
    dynamodb.create_table(TableName="work-orders", BillingMode=props["BillingMode"], **kwargs)
    return "work-orders"


@pytest.fixture
def dynamo(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoWorkOrderStore]:
    fake_credentials(monkeypatch)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        yield DynamoWorkOrderStore(client, create_table(client))


@pytest.fixture(params=["memory", "aws"])
def store(request: pytest.FixtureRequest) -> WorkOrderStore:
    if request.param == "memory":
        return InMemoryWorkOrderStore()
    return request.getfixturevalue("dynamo")  # type: ignore[no-any-return]


@pytest.fixture(params=["memory", "aws"])
def racing_store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkOrderStore]:
    """The Dynamo side on moto's server answering one request at a time: each call isolated, as DynamoDB's
    conditional transactions are (see test_stores_contract.serial_aws); the clients still race."""
    if request.param == "memory":
        yield InMemoryWorkOrderStore()
        return
    fake_credentials(monkeypatch)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app), threaded=False,
                         request_handler=MotoRequestHandler)  # fmt: skip
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_port}"
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    try:
        client = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint)
        yield DynamoWorkOrderStore(client, create_table(client))
    finally:
        server.shutdown()
        thread.join()


def at(day: str, hm: str = "10:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{hm}:00+08:00")


# --------------------------------------------------------------------------------------------------
# The contract


def test_a_new_order_reads_back_whole_with_its_history_R10(store: WorkOrderStore) -> None:
    order = new_order()
    assert store.put_new(order) is True
    assert store.get(order.id) == order
    assert store.get("wo-unknown") is None


def test_a_re_delivered_rating_opens_no_second_order_R10(store: WorkOrderStore) -> None:
    first = new_order()
    assert store.put_new(first)
    later = new_order(at=DISPATCHED + timedelta(hours=3))
    assert store.put_new(later) is False
    assert store.get(first.id) == first
    assert [e.version for e in store.outbox()] == [1]  # the second put owed nothing


def test_a_save_names_the_version_it_read_and_a_stale_one_is_a_conflict(store: WorkOrderStore) -> None:
    order = new_order()
    store.put_new(order)
    classified = order.handle(Classify(kind=Kind.SIMPLE), by=UNIT, at=at("2026-09-30", "11:00"), calendar=CALENDAR)
    store.save(classified.order, expected_version=1)
    assert store.get(order.id) == classified.order
    with pytest.raises(VersionConflict) as caught:
        store.save(classified.order, expected_version=1)
    assert (caught.value.expected, caught.value.actual) == (1, 2)


def test_saving_an_order_never_stored_is_a_conflict(store: WorkOrderStore) -> None:
    with pytest.raises(VersionConflict) as caught:
        store.save(new_order(), expected_version=1)
    assert caught.value.actual is None


def test_owed_events_enter_the_outbox_with_their_version_and_leave_when_done(store: WorkOrderStore) -> None:
    order = new_order()
    store.put_new(order)
    order = store.apply(order.id, Classify(kind=Kind.SIMPLE), by=UNIT, at=at("2026-09-30", "11:00"),
                        calendar=CALENDAR).order  # fmt: skip
    store.apply(order.id, SendReply(summary="已增开窗口"), by=UNIT, at=at("2026-10-08"), calendar=CALENDAR)
    entries = store.outbox()
    # dispatched (notify the unit), classified (owes nothing), reply (the province)
    assert [(e.version, e.event.type) for e in entries] == [(1, "WorkOrderDispatched"), (3, "ReplySent")]
    assert entries[1].event.forward_to_province == "reply"
    store.outbox_done(entries[0])
    store.outbox_done(entries[0])  # twice is harmless
    assert [e.version for e in store.outbox()] == [3]


def test_the_outbox_is_oldest_first_across_orders_and_limited(store: WorkOrderStore) -> None:
    for i in range(5):
        store.put_new(new_order(f"r{i}", at=DISPATCHED + timedelta(minutes=5 - i)))
    entries = store.outbox(limit=3)
    assert [e.order_id for e in entries] == ["wo-r4", "wo-r3", "wo-r2"]


def test_the_notices_only_read_leaves_out_every_outcome_owed_R17(store: WorkOrderStore) -> None:
    # GIVEN an order owing the province its reply (the earliest due) and two fresh orders owing their units a notice
    order = new_order("r0")
    store.put_new(order)
    store.apply(order.id, Classify(kind=Kind.SIMPLE), by=UNIT, at=at("2026-09-30", "11:00"), calendar=CALENDAR)
    store.apply(order.id, SendReply(summary="已答复"), by=UNIT, at=at("2026-09-30", "11:30"), calendar=CALENDAR)
    store.outbox_done(store.outbox()[0])  # its dispatch notice, published
    for i in (1, 2):
        store.put_new(new_order(f"r{i}", at=DISPATCHED + timedelta(hours=1 + i)))
    # THEN the full read has all three, earliest due first; the notices-only one the two notices, even at limit 2
    assert [e.key for e in store.outbox()] == ["wo-r0#3", "wo-r1#1", "wo-r2#1"]
    assert [e.key for e in store.outbox(2, notices_only=True)] == ["wo-r1#1", "wo-r2#1"]
    assert [e.key for e in store.outbox(due_by=DISPATCHED + timedelta(hours=2), notices_only=True)] == ["wo-r1#1"]


def test_a_notice_stored_before_notices_had_shards_of_their_own_is_still_in_the_full_read(
    dynamo: DynamoWorkOrderStore,
) -> None:
    """The migration (docs/forwarding.md): an entry written before the split is under `outbox#` whatever it owes;
    the sweep's full read reads those shards, so it is relayed, only not by the scheduler's notices-only read."""
    order = new_order("old")
    dynamo.put_new(order)
    key = {"pk": {"S": f"ORDER#{order.id}"}, "sk": {"S": "OUTBOX#00000001"}}
    dynamo._client.update_item(TableName=dynamo._table, Key=key, UpdateExpression="SET outbox_shard = :s",
                               ExpressionAttributeValues={":s": {"S": "outbox#3"}})  # fmt: skip
    assert dynamo.outbox(notices_only=True) == []
    [entry] = dynamo.outbox()
    dynamo.outbox_done(entry)
    assert dynamo.outbox() == []


def test_an_outbox_entry_waiting_out_its_copys_backoff_is_not_read_until_due(store: WorkOrderStore) -> None:
    # GIVEN three orders dispatched (each owes its unit a notice); the middle one's copy was queued and comes
    # back in an hour (issue 16: the sweep must not queue it again meanwhile)
    for i in range(3):
        store.put_new(new_order(f"r{i}", at=DISPATCHED + timedelta(minutes=i)))
    store.outbox_due("wo-r1#1", DISPATCHED + timedelta(hours=1))
    # WHEN the outbox is read for what is due by 10:30 THEN it is left out, and found once its time comes
    assert [e.order_id for e in store.outbox(due_by=DISPATCHED + timedelta(minutes=30))] == ["wo-r0", "wo-r2"]
    assert [e.order_id for e in store.outbox(due_by=DISPATCHED + timedelta(hours=1))] == ["wo-r0", "wo-r2", "wo-r1"]
    assert [e.order_id for e in store.outbox()] == ["wo-r0", "wo-r2", "wo-r1"]  # earliest due first
    assert store.outbox(due_by=DISPATCHED - timedelta(seconds=1)) == []
    # a done entry stays done: a late `outbox_due` does not bring it back
    [entry] = [e for e in store.outbox() if e.order_id == "wo-r1"]
    store.outbox_done(entry)
    store.outbox_due("wo-r1#1", DISPATCHED)
    assert [e.order_id for e in store.outbox()] == ["wo-r0", "wo-r2"]


def test_due_returns_only_orders_whose_check_has_come_earliest_first(store: WorkOrderStore) -> None:
    early = new_order("early")
    late = new_order("late", at=at("2026-10-12"))
    store.put_new(early)
    store.put_new(late)
    # unclassified: held to the reply limit, the first working day after dispatch (2026-10-08), whose
    # morning reminder (08:00) is the first check
    assert early.next_check_at is not None and store.due(early.next_check_at - timedelta(minutes=1)) == []
    assert [o.id for o in store.due(early.next_check_at)] == ["wo-early"]
    assert [o.id for o in store.due(at("2026-12-31"))] == ["wo-early", "wo-late"]
    assert [o.id for o in store.due(at("2026-12-31"), limit=1)] == ["wo-early"]


def test_a_closed_or_finished_order_has_nothing_due(store: WorkOrderStore) -> None:
    order = new_order()
    store.put_new(order)
    store.apply(order.id, Classify(kind=Kind.SIMPLE), by=UNIT, at=at("2026-09-30", "11:00"), calendar=CALENDAR)
    store.apply(order.id, SendReply(summary="已处理"), by=UNIT, at=at("2026-10-08"), calendar=CALENDAR)
    assert store.due(at("2027-01-01")) == []


def test_two_units_saving_one_order_at_once_one_wins_one_conflicts(racing_store: WorkOrderStore) -> None:
    order = new_order()
    racing_store.put_new(order)
    order = racing_store.apply(order.id, Classify(kind=Kind.SIMPLE), by=UNIT, at=at("2026-09-30", "11:00"),
                               calendar=CALENDAR).order  # fmt: skip
    reply = order.handle(SendReply(summary="已处理"), by=UNIT, at=at("2026-10-08"), calendar=CALENDAR).order
    appeal = order.handle(FileAppeal(grounds="mistaken", reason="非本单位业务"), by=UNIT, at=at("2026-10-08"),
                          calendar=CALENDAR).order  # fmt: skip
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def save(candidate: WorkOrder) -> None:
        barrier.wait()
        try:
            racing_store.save(candidate, expected_version=order.version)
            outcomes.append("saved")
        except VersionConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=save, args=(c,)) for c in (reply, appeal)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "saved"]
    stored = racing_store.get(order.id)
    assert stored in (reply, appeal)
    assert stored is not None
    # the loser's owed event never reached the outbox: only the winner's (reply or appeal) is owed
    owed = [e.event.type for e in racing_store.outbox() if e.version == 3]
    assert owed == [stored.history[-1].type]


def test_twenty_concurrent_deliveries_of_one_bad_rating_open_one_order_R10(racing_store: WorkOrderStore) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(20)

    def put() -> None:
        barrier.wait()
        results.append(racing_store.put_new(new_order()))

    threads = [threading.Thread(target=put) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1
    assert len(racing_store.outbox()) == 1


# --------------------------------------------------------------------------------------------------
# Lists: scoped, filtered, paged (index queries in DynamoDB, never a scan)


@pytest.fixture
def listed(store: WorkOrderStore) -> WorkOrderStore:
    store.put_new(new_order("county-1"))
    store.put_new(new_order("county-2", at=at("2026-10-09")))
    store.put_new(new_order("township", agency=TOWNSHIP_AGENCY, region=TOWNSHIP, at=at("2026-10-10")))
    store.put_new(new_order("other", agency=OTHER_AGENCY, region=OTHER_COUNTY))
    store.apply("wo-county-2", Classify(kind=Kind.COMPLEX), by=UNIT, at=at("2026-10-09", "11:00"), calendar=CALENDAR)
    return store


def ids(orders: list[WorkOrder]) -> list[str]:
    return [o.id for o in orders]


def listing(store: WorkOrderStore, filters: OrderFilter, limit: int = 50) -> tuple[list[WorkOrder], str | None]:
    page = store.list(filters, limit=limit)
    return page.orders, page.cursor


def every_page(store: WorkOrderStore, filters: OrderFilter, limit: int) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(20):
        page = store.list(filters, limit=limit, cursor=cursor)
        assert len(page.orders) <= limit
        seen.extend(ids(page.orders))
        cursor = page.cursor
        if cursor is None:
            return seen
    raise AssertionError("the cursor never ran out")


def test_a_unit_lists_its_own_orders_newest_first(listed: WorkOrderStore) -> None:
    orders, cursor = listing(listed, OrderFilter(agencies=(COUNTY_AGENCY,)))
    assert ids(orders) == ["wo-county-2", "wo-county-1"] and cursor is None


def test_a_county_lists_its_townships_orders_too_R18(listed: WorkOrderStore) -> None:
    orders, _ = listing(listed, OrderFilter(region=COUNTY))
    assert ids(orders) == ["wo-township", "wo-county-2", "wo-county-1"]
    orders, _ = listing(listed, OrderFilter(region=TOWNSHIP))
    assert ids(orders) == ["wo-township"]


def test_a_city_lists_every_county_of_it(listed: WorkOrderStore) -> None:
    orders, _ = listing(listed, OrderFilter(region="360700000000"))
    assert sorted(ids(orders)) == ["wo-county-1", "wo-county-2", "wo-other", "wo-township"]


def test_lists_filter_by_status_and_due_time(listed: WorkOrderStore) -> None:
    orders, _ = listing(listed, OrderFilter(status=Status.COMPLEX))
    assert ids(orders) == ["wo-county-2"]
    orders, _ = listing(listed, OrderFilter(region=COUNTY, status=Status.DISPATCHED))
    assert ids(orders) == ["wo-township", "wo-county-1"]
    # county-1's reply limit passed at the end of 2026-10-08; the others are due later
    orders, _ = listing(listed, OrderFilter(region=COUNTY, overdue_at=at("2026-10-09", "09:00")))
    assert ids(orders) == ["wo-county-1"]
    orders, _ = listing(listed, OrderFilter(due_before=at("2026-10-12", "00:00")))
    assert sorted(ids(orders)) == ["wo-county-1", "wo-other"]


def test_the_operators_list_pages_through_every_status(listed: WorkOrderStore) -> None:
    seen = every_page(listed, OrderFilter(), limit=1)
    assert sorted(seen) == ["wo-county-1", "wo-county-2", "wo-other", "wo-township"]
    # status by status: the dispatched ones newest first (a tie by id, descending), then the complex one
    assert seen == ["wo-township", "wo-other", "wo-county-1", "wo-county-2"]


def test_pages_of_a_units_list_hold_each_order_once_in_order(listed: WorkOrderStore) -> None:
    units = OrderFilter(agencies=(TOWNSHIP_AGENCY, COUNTY_AGENCY))
    assert every_page(listed, units, limit=1) == ["wo-township", "wo-county-2", "wo-county-1"]
    assert every_page(listed, units, limit=2) == ["wo-township", "wo-county-2", "wo-county-1"]


def test_a_unit_and_region_narrow_each_other(listed: WorkOrderStore) -> None:
    orders, _ = listing(listed, OrderFilter(agencies=(COUNTY_AGENCY, OTHER_AGENCY), region=OTHER_COUNTY))
    assert ids(orders) == ["wo-other"]
    orders, _ = listing(listed, OrderFilter(agencies=(COUNTY_AGENCY,), status=Status.COMPLEX))
    assert ids(orders) == ["wo-county-2"]
    orders, _ = listing(listed, OrderFilter(region=OTHER_COUNTY, status=Status.COMPLEX))
    assert orders == []


def test_a_cursor_not_handed_out_is_refused(listed: WorkOrderStore) -> None:
    with pytest.raises(CursorInvalid):
        listed.list(OrderFilter(), cursor="not-a-cursor")


def test_an_extension_decision_keeps_the_order_listed_under_its_status_R15(listed: WorkOrderStore) -> None:
    request = RequestExtension(reason="需协调市级部门", until=date(2026, 11, 30))
    listed.apply("wo-county-2", request, by=UNIT, at=at("2026-10-12"), calendar=CALENDAR)
    listed.apply("wo-county-2", ApproveExtension(), by=MANAGEMENT, at=at("2026-10-12"), calendar=CALENDAR)
    orders, _ = listing(listed, OrderFilter(status=Status.COMPLEX))
    assert ids(orders) == ["wo-county-2"] and orders[0].version == 4


def test_due_is_the_earliest_across_shards_even_when_one_shard_holds_them_all(dynamo: DynamoWorkOrderStore) -> None:
    from infra.workorder_store import SHARDS, _shard

    # twelve orders that all hash to one shard, dispatched a week apart, and one late order elsewhere
    same_shard = [f"s{i}" for i in range(400) if _shard("check", f"wo-s{i}") == "check#0"][:12]
    for n, rating_id in enumerate(same_shard):
        dynamo.put_new(new_order(rating_id, at=DISPATCHED + timedelta(weeks=n)))
    other = next(f"o{i}" for i in range(400) if _shard("check", f"wo-o{i}") != "check#0")
    dynamo.put_new(new_order(other, at=DISPATCHED + timedelta(weeks=14)))
    dynamo.items_read = 0
    due = dynamo.due(at("2027-03-31"), limit=10)
    assert [o.id for o in due] == [f"wo-{r}" for r in same_shard[:10]]
    assert dynamo.items_read <= 10 + SHARDS * 3  # pages of a shard's share: little read beyond the limit


def test_an_order_item_stays_within_two_write_units_and_an_order_stored_as_text_still_reads(
    dynamo: DynamoWorkOrderStore,
) -> None:
    """Issue 15: DynamoDB bills a write unit per KB of the item; the order is stored compressed, so a new
    order's item, and one with a reply, an extension and its decision in its history, each bill 2 units."""
    from infra.workorder_store import order_of

    table, key = dynamo._table, {"pk": {"S": "ORDER#wo-size-1"}, "sk": {"S": "ORDER"}}
    dynamo.put_new(new_order("size-1"))
    assert item_size(dynamo._client.get_item(TableName=table, Key=key)["Item"]) <= 2048
    dynamo.apply("wo-size-1", Classify(kind=Kind.COMPLEX), by=UNIT, at=at("2026-09-30", "11:00"), calendar=CALENDAR)
    request = RequestExtension(reason="需协调市级部门会商，申请延期办理", until=date(2026, 11, 30))
    dynamo.apply("wo-size-1", request, by=UNIT, at=at("2026-10-12"), calendar=CALENDAR)
    order = dynamo.apply("wo-size-1", ApproveExtension(), by=MANAGEMENT, at=at("2026-10-12"), calendar=CALENDAR).order
    item = dynamo._client.get_item(TableName=table, Key=key)["Item"]
    text = order.model_dump_json()
    assert len(text.encode()) > 3 * 1024  # as text, 4 units
    assert item_size(item) <= 2048 and order_of(item["order"]) == order
    # a stream record carries the binary as base64, as Lambda delivers it
    import base64

    assert order_of({"B": base64.b64encode(item["order"]["B"]).decode()}) == order
    # an item written before the order was compressed: the JSON text
    dynamo._client.update_item(TableName=table, Key=key,
                               UpdateExpression="SET #o = :t", ExpressionAttributeNames={"#o": "order"},
                               ExpressionAttributeValues={":t": {"S": text}})  # fmt: skip
    assert dynamo.get("wo-size-1") == order


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size: names plus values (strings and binary by their bytes, numbers about their digits)."""
    size = 0
    for name, value in item.items():
        ((kind, raw),) = value.items()
        size += len(name.encode()) + (len(raw) if kind == "B" else len(str(raw).encode()))
    return size

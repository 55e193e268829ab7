"""The work-order desk over the in-memory store: a signed-in person lists, reads and acts on orders by role and
scope (R18: a county manages its townships' orders), the order's own rules refusing with their codes; an action
saved stays saved when its relay fails (the outbox keeps what is owed)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from hub.access import AccessDenied, Principal, principal_from_claims
from hub.outcomes import OutboxRelay
from hub.workorders import DeskRefusal, WorkOrderDesk
from infra.memory import InMemoryForwardQueue, InMemoryNotifier, InMemoryWorkOrderStore
from tests.unit.test_workorder import (
    CALENDAR,
    COUNTY,
    COUNTY_AGENCY,
    DISPATCHED,
    TOWNSHIP,
    TOWNSHIP_AGENCY,
    at,
    new_order,
)

NOW = at("2026-10-09", "09:00")  # past the reply limit of 2026-10-08 (R11, the National Day holiday between)


def person(name: str, **claims: str) -> Principal:
    return principal_from_claims({"sub": f"sub-{name}", **claims})


MARKET = person("market", **{"cognito:groups": "department", "custom:agency_code": COUNTY_AGENCY})
TOWNSHIP_UNIT = person("township", **{"cognito:groups": "department", "custom:agency_code": TOWNSHIP_AGENCY})
GANXIAN = person("ganxian", **{"cognito:groups": "management", "custom:region_code": COUNTY})
TOWNSHIP_MANAGEMENT = person("town-mgmt", **{"cognito:groups": "management", "custom:region_code": TOWNSHIP})
OPERATOR = person("operator", **{"cognito:groups": "operator"})
AUDITOR = person("auditor", **{"cognito:groups": "auditor"})


class FailingRelay(OutboxRelay):
    def relay_new(self, order: Any, after_version: int) -> Counter[str]:
        raise ConnectionError("SNS is down")


@pytest.fixture
def store() -> InMemoryWorkOrderStore:
    store = InMemoryWorkOrderStore()
    store.put_new(new_order(rating_id="county"))
    store.put_new(new_order(rating_id="township", agency=TOWNSHIP_AGENCY, region=TOWNSHIP))
    return store


def listed(desk: WorkOrderDesk, who: Principal, **query: str) -> list[str]:
    return [item["id"] for item in desk.list(who, query, NOW)["items"]]


def test_each_role_lists_what_it_may_see_R18(store: InMemoryWorkOrderStore) -> None:
    desk = WorkOrderDesk(store, lambda: CALENDAR)
    assert listed(desk, MARKET) == ["wo-county"]
    assert listed(desk, TOWNSHIP_UNIT) == ["wo-township"]
    assert sorted(listed(desk, GANXIAN)) == ["wo-county", "wo-township"]  # the county manages its township's
    assert listed(desk, TOWNSHIP_MANAGEMENT) == ["wo-township"]  # its own township only, not the county seat
    assert sorted(listed(desk, OPERATOR)) == sorted(listed(desk, AUDITOR)) == ["wo-county", "wo-township"]


def test_a_list_shows_what_is_overdue_and_filters_by_it(store: InMemoryWorkOrderStore) -> None:
    desk = WorkOrderDesk(store, lambda: CALENDAR)
    answer = desk.list(OPERATOR, {"overdue": "true", "status": "dispatched"}, NOW)
    assert sorted(i["id"] for i in answer["items"]) == ["wo-county", "wo-township"]
    assert answer["items"][0]["overdue"][0] == "reply" and answer["next_cursor"] is None
    assert desk.list(OPERATOR, {"overdue": "true"}, DISPATCHED)["items"] == []  # at dispatch nothing is overdue


def test_bad_filters_are_422_with_their_names_and_a_stranger_cursor_400(store: InMemoryWorkOrderStore) -> None:
    desk = WorkOrderDesk(store, lambda: CALENDAR)
    with pytest.raises(DeskRefusal) as caught:
        desk.list(OPERATOR, {"status": "bogus", "region": "abc", "limit": "0", "due_before": "soon"}, NOW)
    assert caught.value.status == 422
    assert sorted(p.path for p in caught.value.problems) == ["due_before", "limit", "region", "status"]
    with pytest.raises(DeskRefusal) as caught:
        desk.list(OPERATOR, {"cursor": "zzz"}, NOW)
    assert (caught.value.status, caught.value.problems[0].code) == (400, "CURSOR_INVALID")


def test_asking_beyond_ones_scope_is_refused_not_answered_empty(store: InMemoryWorkOrderStore) -> None:
    desk = WorkOrderDesk(store, lambda: CALENDAR)
    with pytest.raises(AccessDenied):
        desk.list(MARKET, {"unit": TOWNSHIP_AGENCY}, NOW)
    assert listed(desk, GANXIAN, unit=TOWNSHIP_AGENCY) == ["wo-township"]  # the negative control: inside it


def test_a_department_acts_as_the_unit_and_the_history_names_its_account(store: InMemoryWorkOrderStore) -> None:
    notifier, queue = InMemoryNotifier(), InMemoryForwardQueue()
    relay = OutboxRelay(store, notifier, queue)
    desk = WorkOrderDesk(store, lambda: CALENDAR, relay=lambda: relay)
    acted = desk.act(MARKET, "wo-county", {"action": "classify", "kind": "simple"}, at("2026-09-30", "11:00"))
    acted = desk.act(MARKET, "wo-county", {"action": "send_reply", "summary": "已增开窗口", "expected_version": 2},
                     at("2026-10-08"))  # fmt: skip
    assert acted.action == "send_reply" and acted.relay_failed is None
    assert acted.event.actor.role == "unit" and acted.event.actor.id == "sub-market"
    stored = store.get("wo-county")
    assert stored is not None and stored.status == "replied" and stored.version == 3
    assert queue.outcome_keys() == ["wo-county#3"]  # the reply, on its way to the province at once (R17 outcomes)
    assert acted.as_dict(NOW)["order"]["status"] == "replied"


def test_the_orders_rules_refuse_with_their_codes(store: InMemoryWorkOrderStore) -> None:
    desk = WorkOrderDesk(store, lambda: CALENDAR)

    def refusal(who: Principal, body: dict[str, Any], order_id: str = "wo-county") -> tuple[int, str]:
        with pytest.raises(DeskRefusal) as caught:
            desk.act(who, order_id, body, at("2026-09-30", "11:00"))
        return caught.value.status, caught.value.problems[0].code

    assert refusal(MARKET, {"action": "approve_extension"}) == (403, "ACTION_NOT_FOR_ROLE")
    assert refusal(GANXIAN, {"action": "close"}) == (409, "WORK_ORDER_STATE")
    assert refusal(MARKET, {"action": "classify", "kind": "simple", "expected_version": 7}) == (409, "VERSION_CONFLICT")
    assert refusal(MARKET, {"action": "classify"}) == (422, "FIELD_REQUIRED")
    assert refusal(OPERATOR, {"action": "classify", "kind": "simple"}, "wo-nothing") == (404, "WORK_ORDER_UNKNOWN")
    with pytest.raises(AccessDenied):
        desk.act(AUDITOR, "wo-county", {"action": "classify", "kind": "simple"}, at("2026-09-30", "11:00"))
    with pytest.raises(AccessDenied):
        desk.act(TOWNSHIP_UNIT, "wo-county", {"action": "classify", "kind": "simple"}, at("2026-09-30", "11:00"))
    assert store.get("wo-county").version == 1  # type: ignore[union-attr]  # nothing refused was saved


def test_an_action_saved_stays_saved_when_its_relay_fails(store: InMemoryWorkOrderStore) -> None:
    desk = WorkOrderDesk(store, lambda: CALENDAR, relay=lambda: FailingRelay(store, InMemoryNotifier(),
                                                                               InMemoryForwardQueue()))  # fmt: skip
    appeal = {"action": "file_appeal", "grounds": "mistaken", "reason": "非本单位业务"}
    acted = desk.act(MARKET, "wo-county", appeal, at("2026-09-30", "11:00"))
    assert acted.relay_failed == "ConnectionError" and acted.relayed == {}
    assert store.get("wo-county").appeal_pending  # type: ignore[union-attr]
    # still owed, for the scheduler and the sweep: the dispatch, and the appeal the county must hear of (R17)
    assert [e.version for e in store.outbox() if e.order_id == "wo-county"] == [1, 2]

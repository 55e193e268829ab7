"""People reading ratings (R20): scope by role, masking except to the auditor, the audit log first."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from hub.access import AccessDenied, principal_from_claims
from hub.errors import Refused
from hub.rating import Rating, rating_id_for
from hub.rating_reads import AuditUnavailable, ListRequest, RatingReads
from infra.memory import InMemoryAuditLog, InMemoryRatingStore

NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")
MARKET, TOWNSHIP, POLICE, OTHER = "11360704MB1C000102", "11360704MB1C000203", "11360704MB1C000405", "11360702MB1C000105"
PHONE, ID_NO = "13907970001", "360721198501011233"

CLAIMS: dict[str, dict[str, str]] = {
    "operator": {"cognito:groups": "operator"},
    "market": {"cognito:groups": "department", "custom:agency_code": MARKET},
    "ganxian": {"cognito:groups": "management", "custom:region_code": "360704000000"},
    "ganzhou": {"cognito:groups": "management", "custom:region_code": "360700000000"},
    "auditor": {"cognito:groups": "auditor"},
}


def who(name: str) -> Any:
    return principal_from_claims({"sub": f"sub-{name}", **CLAIMS[name]})


def rating(source_id: str, agency: str, region: str, *, hours_ago: int = 0, **changes: Any) -> Rating:
    data: dict[str, Any] = {
        "rating_id": rating_id_for("portal-1", source_id),
        "source": {"connector_id": "portal-1", "kind": "unified", "source_rating_id": source_id,
                   "received_at": (NOW - timedelta(hours=hours_ago)).isoformat()},
        "case": {"case_no": f"GX-{source_id}", "handled_at": "2026-11-20T16:02:11+08:00"},
        "target": {"agency_code": agency, "region_code": region},
        "channel": "window", "grade": "dissatisfied", "tags": ["ITEM_MATERIALS"],
        "rater": {"name": "王五", "phone": PHONE, "id_no": ID_NO, "real_name": True},
        "rated_at": "2026-11-21T10:21:33+08:00",
    }  # fmt: skip
    data.update(changes)
    return Rating.model_validate(data)


@pytest.fixture
def world() -> tuple[RatingReads, InMemoryRatingStore, InMemoryAuditLog, dict[str, str]]:
    store, audit = InMemoryRatingStore(), InMemoryAuditLog()
    ratings = {
        "market": rating("1", MARKET, "360704000000", hours_ago=1),
        "township": rating("2", TOWNSHIP, "360704101000", hours_ago=2, rater={"phone": "13907970002"}),
        "police": rating("3", POLICE, "360704000000", hours_ago=3, grade="satisfied", tags=[]),
        "other": rating("4", OTHER, "360702000000", hours_ago=4),
    }
    for r in ratings.values():
        store.put_new(r, "raw/x")
    return RatingReads(store, audit), store, audit, {k: r.rating_id for k, r in ratings.items()}


def listed(reads: RatingReads, name: str, **query: str) -> dict[str, Any]:
    return reads.list(who(name), ListRequest(**query), now=NOW, request_id="req-1")


def ids(answer: dict[str, Any]) -> list[str]:
    return [r["rating"]["rating_id"] for r in answer["ratings"]]


def test_each_role_lists_only_its_scope_newest_first_R18_R20(world: Any) -> None:
    reads, _, _, by = world
    assert ids(listed(reads, "operator")) == [by["market"], by["township"], by["police"], by["other"]]
    assert ids(listed(reads, "market")) == [by["market"]]
    assert ids(listed(reads, "ganxian")) == [by["market"], by["township"], by["police"]]  # a county its townships
    assert ids(listed(reads, "ganzhou")) == [by["market"], by["township"], by["police"], by["other"]]


def test_filters_narrow_within_the_scope_and_beyond_it_are_refused_R20(world: Any) -> None:
    reads, _, _, by = world
    assert ids(listed(reads, "ganxian", region="360704101")) == [by["township"]]
    assert ids(listed(reads, "ganxian", region="3607")) == ids(listed(reads, "ganxian"))  # wider: its own scope
    assert ids(listed(reads, "ganzhou", agency=POLICE)) == [by["police"]]
    assert ids(listed(reads, "operator", grade="satisfied")) == [by["police"]]
    assert ids(listed(reads, "operator", connector="portal-9")) == []
    assert ids(listed(reads, "operator", **{"start": "2026-11-28T10:30:00+08:00"})) == [by["market"]]
    with pytest.raises(AccessDenied) as refused:
        listed(reads, "market", agency=POLICE)
    assert (refused.value.code, refused.value.status) == ("FORBIDDEN", 403)
    with pytest.raises(AccessDenied):
        listed(reads, "ganxian", region="360702000000")


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("market", {"region": "360702000000"}),  # a department, a region none of its agencies is in
        ("market", {"region": "360702"}),
        ("ganxian", {"agency": OTHER}),  # a county's management, an agency of another county
    ],
)
def test_a_filter_outside_the_scope_is_403_not_an_empty_list_R20(world: Any, name: str, query: dict[str, str]) -> None:
    """Issue 11 item 5: an empty 200 reads as "no bad ratings there"; docs/people.md says 403."""
    reads, _, _, by = world
    with pytest.raises(AccessDenied) as refused:
        listed(reads, name, **query)
    assert (refused.value.code, refused.value.status) == ("FORBIDDEN", 403)
    # the negative control: inside the scope, the same filters narrow
    assert ids(listed(reads, "market", region="360704")) == [by["market"]]
    assert ids(listed(reads, "ganxian", agency=MARKET)) == [by["market"]]
    assert ids(listed(reads, "ganzhou", agency=OTHER)) == [by["other"]]


@pytest.mark.parametrize(
    "query",
    [{"limit": "0"}, {"limit": "101"}, {"limit": "ten"}, {"grade": "great"}, {"start": "yesterday"},
     {"start": "2026-11-28T10:00:00"}, {"start": "2026-11-29", "end": "2026-11-28"},
     {"start": "2024-01-01", "end": "2026-11-28"}, {"cursor": "x"}, {"region": "36-07"}, {"unmasked": "maybe"}],
)  # fmt: skip
def test_bad_queries_are_400s_with_a_code_not_500s(world: Any, query: dict[str, str]) -> None:
    reads, *_ = world
    with pytest.raises(Refused) as refused:
        listed(reads, "operator", **query)
    assert refused.value.problems[0].code


def test_personal_data_is_masked_for_every_role_but_the_auditor_R20(world: Any) -> None:
    reads, _, audit, _ = world
    for name in ("operator", "market", "ganxian"):
        rater = listed(reads, name)["ratings"][0]["rating"]["rater"]
        assert (rater["phone"], rater["id_no"], rater["name"]) == ("139****0001", "360***********1233", "王*")
    assert audit.entries == []  # masked reads are not personal-data reads


def test_unmasked_by_any_other_role_is_personal_data_forbidden_R20(world: Any) -> None:
    reads, _, _, by = world
    for name in ("operator", "market", "ganxian"):
        with pytest.raises(AccessDenied) as refused:
            listed(reads, name, unmasked="true")
        assert (refused.value.code, refused.value.status) == ("PERSONAL_DATA_FORBIDDEN", 403)
        with pytest.raises(AccessDenied):
            reads.get(who(name), by["market"], unmasked="true", now=NOW, request_id="r")


def test_the_auditor_reads_in_clear_and_every_read_is_audited_first_R20(world: Any) -> None:
    reads, _, audit, by = world
    answer = listed(reads, "auditor", limit="2")
    assert answer["masked"] is False and answer["ratings"][0]["rating"]["rater"]["phone"] == PHONE
    (entry,) = audit.entries
    assert (entry.subject, entry.role, entry.action, entry.request_id) == ("sub-auditor", "auditor", "list", "req-1")
    assert entry.rating_ids == (by["market"], by["township"])
    assert PHONE not in repr(entry) and ID_NO not in repr(entry)
    reads.get(who("auditor"), by["police"], unmasked=None, now=NOW, request_id="req-2")
    assert audit.entries[-1].rating_ids == (by["police"],)
    masked = listed(reads, "auditor", unmasked="false")  # the auditor may ask for masked data: not audited
    assert masked["masked"] and len(audit.entries) == 2


def test_when_the_audit_write_fails_nothing_is_returned_R20(world: Any) -> None:
    reads, _, audit, by = world
    audit.fail = True
    with pytest.raises(AuditUnavailable):
        listed(reads, "auditor")
    with pytest.raises(AuditUnavailable):
        reads.get(who("auditor"), by["market"], unmasked=None, now=NOW, request_id="r")
    assert listed(reads, "operator")["ratings"]  # masked reads do not need the audit log


def test_a_rating_outside_the_scope_reads_as_missing_R20(world: Any) -> None:
    reads, _, _, by = world
    with pytest.raises(LookupError):
        reads.get(who("market"), by["police"], unmasked=None, now=NOW, request_id="r")
    with pytest.raises(LookupError):
        reads.get(who("market"), "r-none", unmasked=None, now=NOW, request_id="r")
    shown = reads.get(who("market"), by["market"], unmasked=None, now=NOW, request_id="r")
    assert shown["rating"]["rater"]["phone"] == "139****0001" and shown["adopted"] is True


def test_the_auditors_lookup_by_phone_or_id_number_is_audited_without_the_value_R20(world: Any) -> None:
    reads, _, audit, by = world
    with pytest.raises(AccessDenied) as refused:
        reads.lookup(who("operator"), phone=PHONE, id_no=None, now=NOW, request_id="r")
    assert refused.value.code == "PERSONAL_DATA_FORBIDDEN"
    found = reads.lookup(who("auditor"), phone="13907970002", id_no=None, now=NOW, request_id="req-9")
    assert [r["rating"]["rating_id"] for r in found["ratings"]] == [by["township"]]
    assert (audit.entries[-1].action, audit.entries[-1].rating_ids) == ("lookup:phone", (by["township"],))
    assert "13907970002" not in repr(audit.entries)
    nobody = reads.lookup(who("auditor"), phone=None, id_no="11010519491231002X", now=NOW, request_id="req-10")
    assert nobody["ratings"] == [] and audit.entries[-1].action == "lookup:id_no"  # a look-up that finds nobody too
    with pytest.raises(Refused):
        reads.lookup(who("auditor"), phone=None, id_no=None, now=NOW, request_id="r")


def test_ratings_not_adopted_are_left_out_unless_asked_for_R14_R17(world: Any) -> None:
    reads, store, _, by = world
    store.mark_not_adopted(by["market"], order_id="wo-7", at=NOW)
    assert by["market"] not in ids(listed(reads, "operator"))
    again = listed(reads, "operator", include_not_adopted="true")
    assert by["market"] in ids(again)
    shown = next(r for r in again["ratings"] if r["rating"]["rating_id"] == by["market"])
    assert (shown["adopted"], shown["not_adopted_by"]) == (False, "wo-7")

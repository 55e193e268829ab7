"""R20 at rest: the KMS envelope (moto's KMS), the look-up hashes, and what the DynamoDB items hold."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from hub.case_notice import CaseNotice
from hub.ports import AuditEntry, RatingQuery, RatingStore, StoredCase
from infra.audit_log import DynamoAuditLog
from infra.case_store import DynamoCaseStore
from infra.memory import InMemoryRatingStore
from infra.rating_store import DynamoRatingStore
from infra.sealing import KMS_CONTEXT, EnvelopeSealer, LookupHasher, SealError, secret_key
from tests.conftest import SAMPLES
from tests.integration.test_case_stores import create_case_tables
from tests.integration.test_stores_contract import (
    NOW,
    REGION,
    create_aws_resources,
    fake_credentials,
    make_rating,
    template_resources,
)

PHONE, ID_NO, NAME = "13907970001", "360721198501011233", "王五"


class CountingKms:
    """moto's KMS client, with the calls counted (the cost the data key cache bounds)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[str] = []

    def generate_data_key(self, **kwargs: Any) -> Any:
        self.calls.append("GenerateDataKey")
        return self._client.generate_data_key(**kwargs)

    def decrypt(self, **kwargs: Any) -> Any:
        self.calls.append("Decrypt")
        return self._client.decrypt(**kwargs)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    fake_credentials(monkeypatch)
    with mock_aws():
        resources = create_aws_resources()
        resources["kms"] = boto3.client("kms", region_name=REGION)
        resources["secretsmanager"] = boto3.client("secretsmanager", region_name=REGION)
        yield resources


def create_audit_table(dynamodb: Any, name: str = "audit") -> str:
    """The template's AuditTable, as declared."""
    props = template_resources()["AuditTable"]["Properties"]
    dynamodb.create_table(TableName=name, BillingMode=props["BillingMode"],
                          AttributeDefinitions=props["AttributeDefinitions"], KeySchema=props["KeySchema"])  # fmt: skip
    return name


def sealer_of(aws: dict[str, Any], algorithm: str = "AES-256-GCM", **options: Any) -> EnvelopeSealer:
    return EnvelopeSealer(CountingKms(aws["kms"]), aws["DATA_KEY_ID"], algorithm=algorithm, **options)


def hasher_of(aws: dict[str, Any]) -> LookupHasher:
    return LookupHasher(secret_key(aws["secretsmanager"], aws["LOOKUP_KEY_SECRET_ARN"]))


def sealed_ratings(aws: dict[str, Any], sealer: EnvelopeSealer | None = None) -> DynamoRatingStore:
    return DynamoRatingStore(
        aws["dynamodb"], aws["RatingsTable"], sealer=sealer or sealer_of(aws), lookup_hash=hasher_of(aws)
    )


# --------------------------------------------------------------------------------------------------
# The envelope


@pytest.mark.parametrize("algorithm", ["AES-256-GCM", "SM4-GCM"])
def test_both_algorithms_round_trip_through_a_kms_data_key_R20(aws: dict[str, Any], algorithm: str) -> None:
    sealer = sealer_of(aws, algorithm)
    sealed = sealer.seal(PHONE.encode(), context="r-1")
    assert PHONE.encode() not in sealed
    assert sealed[1] == {"AES-256-GCM": 1, "SM4-GCM": 2}[algorithm]
    assert sealer.unseal(sealed, context="r-1") == PHONE.encode()
    # a process that never saw the data key opens it through KMS Decrypt
    assert sealer_of(aws, algorithm).unseal(sealed, context="r-1") == PHONE.encode()


def test_a_value_sealed_under_one_algorithm_still_opens_after_the_switch_R20(aws: dict[str, Any]) -> None:
    old = sealer_of(aws, "AES-256-GCM").seal(b"x", context="r-1")
    assert sealer_of(aws, "SM4-GCM").unseal(old, context="r-1") == b"x"


def test_a_tampered_or_transplanted_value_does_not_open_R20(aws: dict[str, Any]) -> None:
    sealer = sealer_of(aws)
    sealed = sealer.seal(PHONE.encode(), context="r-1")
    flipped = bytearray(sealed)
    flipped[-20] ^= 0x01
    with pytest.raises(SealError):
        sealer.unseal(bytes(flipped), context="r-1")
    with pytest.raises(SealError):  # pasted onto another record
        sealer.unseal(sealed, context="r-2")
    relabelled = bytearray(sealed)
    relabelled[1] = 2  # claims SM4: the key length and the header (in the AAD) no longer fit
    with pytest.raises(SealError):
        sealer.unseal(bytes(relabelled), context="r-1")
    with pytest.raises(SealError):
        sealer.unseal(b"\x01\x01\x00", context="r-1")


def test_the_data_key_is_reused_within_its_bounds_so_kms_calls_stay_few_R20(aws: dict[str, Any]) -> None:
    clock = [0.0]
    sealer = sealer_of(aws, max_age=300, max_uses=400, monotonic=lambda: clock[0])
    kms: CountingKms = sealer._kms
    sealed = [sealer.seal(f"1390797{i:04d}".encode(), context=f"r-{i}") for i in range(1000)]
    assert kms.calls == ["GenerateDataKey"] * 3  # 1000 values, at most 400 per data key
    clock[0] = 301.0
    sealer.seal(b"x", context="r-x")
    assert kms.calls.count("GenerateDataKey") == 4  # and no data key lives longer than max_age
    reader = sealer_of(aws)
    for i, value in enumerate(sealed):
        assert reader.unseal(value, context=f"r-{i}") == f"1390797{i:04d}".encode()
    assert reader._kms.calls == ["Decrypt"] * 3  # one per data key, cached by its encrypted bytes


def test_the_data_key_is_bound_to_the_hub_purpose_in_kms_R20(aws: dict[str, Any]) -> None:
    sealed = sealer_of(aws).seal(b"x", context="r-1")
    edk = sealed[4 : 4 + int.from_bytes(sealed[2:4], "big")]
    with pytest.raises(aws["kms"].exceptions.InvalidCiphertextException):
        aws["kms"].decrypt(CiphertextBlob=edk, EncryptionContext={"purpose": "something else"})
    assert aws["kms"].decrypt(CiphertextBlob=edk, EncryptionContext=KMS_CONTEXT)["Plaintext"]


# --------------------------------------------------------------------------------------------------
# What DynamoDB holds


def every_byte_of(aws: dict[str, Any], table: str) -> str:
    items = aws["dynamodb"].scan(TableName=table)["Items"]
    return json.dumps(items, default=lambda b: bytes(b).decode("latin-1"), ensure_ascii=False)


def test_stored_rating_items_hold_no_phone_id_number_or_name_and_read_back_whole_R20(aws: dict[str, Any]) -> None:
    store = sealed_ratings(aws)
    rating = make_rating()
    assert store.put_new(rating, "raw/1").outcome == "accepted"
    stored_text = every_byte_of(aws, aws["RatingsTable"])
    for value in (PHONE, ID_NO, NAME, NAME.encode().decode("latin-1")):  # in text, and in the bytes of B
        assert value not in stored_text
    stored = store.get(rating.rating_id)
    assert stored is not None and stored.rating == rating


def test_a_rater_copied_onto_another_rating_does_not_read_R20(aws: dict[str, Any]) -> None:
    store = sealed_ratings(aws)
    first, second = make_rating("S-1"), make_rating("S-2", case_no="GX2026112700046", rater={"name": "李四"})
    store.put_new(first, "raw/1")
    store.put_new(second, "raw/2")
    key = {"pk": {"S": f"RATING#{first.rating_id}"}, "sk": {"S": "RATING"}}
    rater = aws["dynamodb"].get_item(TableName=aws["RatingsTable"], Key=key)["Item"]["rater"]
    aws["dynamodb"].update_item(
        TableName=aws["RatingsTable"], Key={"pk": {"S": f"RATING#{second.rating_id}"}, "sk": {"S": "RATING"}},
        UpdateExpression="SET rater = :r", ExpressionAttributeValues={":r": rater},
    )  # fmt: skip
    with pytest.raises(SealError):
        store.get(second.rating_id)


def test_the_applicant_of_a_case_notice_is_sealed_and_opens_for_the_sms_R20(aws: dict[str, Any]) -> None:
    create_case_tables({"CasesTable": "cases", "CalendarTable": "calendar"})
    notice = CaseNotice.model_validate(json.loads((SAMPLES / "cases" / "01-completed-no-rating.json").read_text()))
    applicant = notice.applicant.model_dump(mode="json")
    sensitive = [str(v) for k, v in applicant.items() if k in {"phone", "name", "id_no"} and v]
    assert sensitive  # the sample has an applicant to protect
    cases = DynamoCaseStore(aws["dynamodb"], "cases", sealer=sealer_of(aws))
    case = StoredCase(notice, "c-1", "raw/c", NOW, NOW + timedelta(days=5), False)
    assert cases.put_new(case, []) == "accepted"
    stored_text = every_byte_of(aws, "cases")
    assert not [value for value in sensitive if value in stored_text]
    stored = cases.get(case.case_key)
    assert stored is not None and stored.notice.applicant == notice.applicant


# --------------------------------------------------------------------------------------------------
# Look-ups, lists and the audit log, over DynamoDB and the fake alike


@pytest.fixture(params=["memory", "aws"])
def ratings(request: pytest.FixtureRequest) -> RatingStore:
    if request.param == "memory":
        return InMemoryRatingStore()
    return sealed_ratings(request.getfixturevalue("aws"))


def test_a_person_is_found_by_phone_or_id_number_through_the_keyed_hash_R20(ratings: RatingStore) -> None:
    mine = make_rating("S-1")
    other = make_rating("S-2", case_no="GX2026112700046", rater={"phone": "13907970002"})
    ratings.put_new(mine, "raw/1")
    ratings.put_new(other, "raw/2")
    assert ratings.ids_of_person(phone=PHONE) == [mine.rating_id]
    assert ratings.ids_of_person(phone=f"+86 {PHONE[:3]}-{PHONE[3:]}") == [mine.rating_id]
    assert ratings.ids_of_person(id_no=ID_NO.lower()) == [mine.rating_id]
    assert ratings.ids_of_person(phone="13907970009") == []


def test_the_lookup_index_keys_are_keyed_hashes_not_the_values_R20(aws: dict[str, Any]) -> None:
    store = sealed_ratings(aws)
    store.put_new(make_rating(), "raw/1")
    keys = [i["pk"]["S"] for i in aws["dynamodb"].scan(TableName=aws["RatingsTable"])["Items"]]
    people = [k for k in keys if k.startswith("PERSON#")]
    assert len(people) == 2 and not any(PHONE in k or ID_NO in k for k in people)
    assert LookupHasher(b"another key" * 4)("phone", PHONE) not in {k[7:] for k in people}


def test_lists_are_newest_first_scoped_filtered_and_paged_R20(ratings: RatingStore) -> None:
    # GIVEN 7 ratings over three days, two agencies, a township, two grades
    other_agency = "11360704MB1C000405"
    for i in range(7):
        target = {"agency_code": other_agency if i % 3 == 0 else "11360704MB1C000102",
                  "region_code": "360704101000" if i == 5 else "360704000000"}  # fmt: skip
        ratings.put_new(
            make_rating(f"S-{i}", case_no=f"GX-{i}", received_at=NOW - timedelta(hours=12 * i), target=target,
                        grade="satisfied" if i % 2 else "dissatisfied"),
            f"raw/{i}",
        )  # fmt: skip
    window = {"start": NOW - timedelta(days=10), "end": NOW + timedelta(seconds=1)}
    everything = ratings.search(RatingQuery(**window))
    ages = [s.stored_at for s in everything.ratings]
    assert len(ages) == 7 and ages == sorted(ages, reverse=True)
    mine = ratings.search(RatingQuery(**window, agencies=frozenset({other_agency})))
    assert {s.rating.target.agency_code for s in mine.ratings} == {other_agency} and len(mine.ratings) == 3
    township = ratings.search(RatingQuery(**window, region_prefix="360704101"))
    assert [s.rating.source.source_rating_id for s in township.ratings] == ["S-5"]
    bad = ratings.search(RatingQuery(**window, grade="dissatisfied"))
    assert len(bad.ratings) == 4
    recent = ratings.search(RatingQuery(start=NOW - timedelta(hours=25), end=NOW + timedelta(seconds=1)))
    assert len(recent.ratings) == 3
    # pages of 3 cover everything once
    seen: list[str] = []
    cursor = None
    while True:
        page = ratings.search(RatingQuery(**window, limit=3, cursor=cursor))
        seen.extend(s.rating.rating_id for s in page.ratings)
        cursor = page.cursor
        if not cursor:
            break
    assert seen == [s.rating.rating_id for s in everything.ratings]
    with pytest.raises(ValueError):
        ratings.search(RatingQuery(**window, cursor="not-a-cursor"))


def test_a_page_whose_queries_run_out_as_a_month_ends_goes_on_with_the_next_month(aws: dict[str, Any]) -> None:
    # GIVEN one rating, stored three months before now, and a store that answers a page within two queries
    store = DynamoRatingStore(aws["dynamodb"], aws["RatingsTable"], sealer=sealer_of(aws), queries_per_page=2)
    old = make_rating("S-old", received_at=NOW - timedelta(days=62))
    store.put_new(old, "raw/old")
    window = RatingQuery(start=NOW - timedelta(days=70), end=NOW + timedelta(seconds=1))
    # WHEN the list is read page by page (the two newer months are empty: one query each)
    first = store.search(window)
    assert first.ratings == [] and first.cursor is not None  # out of queries: the older month comes next
    second = store.search(replace(window, cursor=first.cursor))
    # THEN the old rating is on the next page, and that is the end
    assert [s.rating.rating_id for s in second.ratings] == [old.rating_id] and second.cursor is None


def test_a_rating_marked_not_adopted_leaves_the_default_list_R14_R17(ratings: RatingStore) -> None:
    rating = make_rating()
    ratings.put_new(rating, "raw/1")
    ratings.mark_not_adopted(rating.rating_id, order_id="wo-1", at=NOW)
    stored = ratings.get(rating.rating_id)
    assert stored is not None and not stored.adopted and stored.not_adopted_by == "wo-1"
    window = {"start": NOW - timedelta(days=1), "end": NOW + timedelta(days=1)}
    assert ratings.search(RatingQuery(**window)).ratings == []
    assert [s.rating.rating_id for s in ratings.search(RatingQuery(**window, include_not_adopted=True)).ratings] == [
        rating.rating_id
    ]


def test_marking_an_unknown_rating_not_adopted_is_refused_R14(ratings: RatingStore) -> None:
    from hub.ports import UnknownRating

    with pytest.raises(UnknownRating):
        ratings.mark_not_adopted("r-none", order_id="wo-1", at=NOW)


def test_the_audit_log_keeps_who_when_which_and_the_request_never_the_data_R20(aws: dict[str, Any]) -> None:
    create_audit_table(aws["dynamodb"])
    log = DynamoAuditLog(aws["dynamodb"], "audit")
    entries = [AuditEntry(NOW + timedelta(hours=h), "sub-auditor", "auditor", "list", ("r-1", "r-2"), f"req-{h}")
               for h in (0, 13)]  # fmt: skip
    for entry in entries:
        log.record(entry)
    assert list(log.between(NOW - timedelta(hours=1), NOW + timedelta(days=1))) == entries
    assert list(log.between(NOW + timedelta(hours=1), NOW + timedelta(days=1))) == entries[1:]

"""hub/access.py: who a signed-in person is and what they may see — a department its agencies, management its
region (a county its townships, R18), the auditor alone personal data (R20), malformed claims refused."""

from __future__ import annotations

from typing import Any

import pytest

from hub.access import AccessDenied, Principal, PrincipalRole, principal_from_claims, region_prefix
from hub.errors import CATALOG

MARKET = "11360704MB1C000102"  # 赣县区市场监督管理局
TOWNSHIP_UNIT = "11360704MB1C000203"
POLICE = "11360704MB1C000405"
OTHER_COUNTY_DEPT = "11360702MB1C000105"  # 章贡区
GANXIAN, GANZHOU, ZHANGGONG = "360704000000", "360700000000", "360702000000"
GANXIAN_TOWNSHIP, GANXIAN_VILLAGE = "360704101000", "360704101201"


def claims(groups: Any = "department", agency: str | None = None, region: str | None = None, **extra: Any) -> dict:
    """Claims as API Gateway's Cognito authorizer hands them over: strings, groups comma-joined."""
    found: dict[str, Any] = {"sub": "0b6e-subject", "cognito:username": "someone", "cognito:groups": groups}
    if agency is not None:
        found["custom:agency_code"] = agency
    if region is not None:
        found["custom:region_code"] = region
    return found | extra


def refusal(raw: dict | None) -> AccessDenied:
    with pytest.raises(AccessDenied) as caught:
        principal_from_claims(raw)
    assert caught.value.code in CATALOG
    return caught.value


# --- reading the claims ---------------------------------------------------------------------------


def test_a_department_reads_its_agency_and_account_id_from_the_claims() -> None:
    person = principal_from_claims(claims("department", agency=MARKET))

    assert person == Principal("0b6e-subject", PrincipalRole.DEPARTMENT, "someone", frozenset({MARKET}), None)


@pytest.mark.parametrize(
    "groups",
    ["department", "department,auditor", "[department auditor]", ["department", "auditor"], " auditor , department "],
)
def test_groups_are_read_as_api_gateway_and_the_token_render_them(groups: Any) -> None:
    assert principal_from_claims(claims(groups, agency=MARKET)).role is PrincipalRole.DEPARTMENT


def test_a_department_may_answer_for_several_agencies_separated_by_commas() -> None:
    person = principal_from_claims(claims("department", agency=f"{MARKET}, {POLICE}"))

    assert person.agency_codes == {MARKET, POLICE}


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ("department,auditor", PrincipalRole.DEPARTMENT),  # the unmasking role must be held on its own (R20)
        ("operator,management", PrincipalRole.MANAGEMENT),
        ("operator,auditor", PrincipalRole.AUDITOR),
        ("management,department", PrincipalRole.DEPARTMENT),
    ],
)
def test_a_person_in_several_groups_reads_as_the_narrowest(groups: str, expected: PrincipalRole) -> None:
    person = principal_from_claims(claims(groups, agency=MARKET, region=GANXIAN))

    assert person.role is expected


def test_an_auditor_who_is_also_a_department_does_not_read_personal_data_R20() -> None:
    assert not principal_from_claims(claims("auditor,department", agency=MARKET)).sees_personal_data


@pytest.mark.parametrize("raw", [None, {}, {"cognito:groups": "operator"}, {"sub": "", "cognito:groups": "operator"}])
def test_without_a_subject_nobody_is_signed_in_401(raw: dict | None) -> None:
    refused = refusal(raw)

    assert (refused.code, refused.status) == ("TOKEN_MISSING", 401)


@pytest.mark.parametrize(
    ("raw", "what"),
    [
        (claims(groups=""), "no group"),
        (claims(groups="admins,users"), "none of the four roles"),
        (claims("department"), "a department without its agency"),
        (claims("management"), "management without its region"),
        (claims("department", agency="11360704MB1C000103"), "a credit code with a wrong check character"),
        (claims("department", agency="not-a-code"), "not a credit code"),
        (claims("management", region="36070"), "not a division code"),
        (claims("management", region="990704000000"), "an unknown province"),
        (claims("department", agency=f"{MARKET},bogus"), "one bad code among good ones"),
    ],
)
def test_malformed_claims_make_an_unusable_account_403(raw: dict, what: str) -> None:
    refused = refusal(raw)

    assert (refused.code, refused.status) == ("ACCOUNT_UNSCOPED", 403), what


def test_a_principal_cannot_even_be_built_without_its_scope() -> None:
    with pytest.raises(AccessDenied, match="ACCOUNT_UNSCOPED"):
        Principal("s", PrincipalRole.DEPARTMENT)
    with pytest.raises(AccessDenied, match="ACCOUNT_UNSCOPED"):
        Principal("s", PrincipalRole.MANAGEMENT)


# --- what each role sees --------------------------------------------------------------------------


def test_a_department_sees_its_own_agencies_and_nothing_else_even_in_its_county() -> None:
    market = principal_from_claims(claims("department", agency=MARKET))

    assert market.may_see(agency_code=MARKET, region_code=GANXIAN)
    assert market.may_see(agency_code=MARKET, region_code=GANXIAN_TOWNSHIP)
    assert not market.may_see(agency_code=POLICE, region_code=GANXIAN)
    assert not market.may_see(agency_code=OTHER_COUNTY_DEPT, region_code=ZHANGGONG)
    assert not market.sees_everything


def test_a_county_management_sees_its_townships_and_villages_R18() -> None:
    ganxian = principal_from_claims(claims("management", region=GANXIAN))

    assert ganxian.may_see(agency_code=MARKET, region_code=GANXIAN)
    assert ganxian.may_see(agency_code=TOWNSHIP_UNIT, region_code=GANXIAN_TOWNSHIP)
    assert ganxian.may_see(agency_code=TOWNSHIP_UNIT, region_code=GANXIAN_VILLAGE)
    assert not ganxian.may_see(agency_code=OTHER_COUNTY_DEPT, region_code=ZHANGGONG)
    assert not ganxian.may_see(agency_code=MARKET, region_code=GANZHOU)  # the city's own level is above it


def test_a_city_management_sees_every_county_of_its_city() -> None:
    ganzhou = principal_from_claims(claims("management", region=GANZHOU))

    assert ganzhou.may_see(agency_code=MARKET, region_code=GANXIAN_VILLAGE)
    assert ganzhou.may_see(agency_code=OTHER_COUNTY_DEPT, region_code=ZHANGGONG)
    assert not ganzhou.may_see(agency_code=MARKET, region_code="360100000000")  # 南昌市


def test_a_township_management_sees_its_villages_not_its_county() -> None:
    township = principal_from_claims(claims("management", region=GANXIAN_TOWNSHIP))

    assert township.may_see(agency_code=TOWNSHIP_UNIT, region_code=GANXIAN_VILLAGE)
    assert not township.may_see(agency_code=MARKET, region_code=GANXIAN)
    assert not township.may_see(agency_code=MARKET, region_code="360704102000")  # the next township


def test_an_operator_sees_everything() -> None:
    operator = principal_from_claims(claims("operator"))

    assert operator.sees_everything
    assert operator.may_see(agency_code=OTHER_COUNTY_DEPT, region_code=ZHANGGONG)
    assert operator.may_see_connector(owner_agency=POLICE)


def test_an_auditor_without_a_region_sees_everything_with_one_only_that_region() -> None:
    everywhere = principal_from_claims(claims("auditor"))
    ganxian = principal_from_claims(claims("auditor", region=GANXIAN))

    assert everywhere.sees_everything
    assert everywhere.may_see(agency_code=OTHER_COUNTY_DEPT, region_code=ZHANGGONG)
    assert ganxian.may_see(agency_code=MARKET, region_code=GANXIAN_TOWNSHIP)
    assert not ganxian.may_see(agency_code=OTHER_COUNTY_DEPT, region_code=ZHANGGONG)


@pytest.mark.parametrize(
    ("raw", "reads_personal_data"),
    [
        (claims("auditor"), True),
        (claims("auditor", region=GANXIAN), True),
        (claims("operator"), False),
        (claims("department", agency=MARKET), False),
        (claims("management", region=GANZHOU), False),
    ],
)
def test_only_the_auditor_reads_personal_data_in_clear_R20(raw: dict, reads_personal_data: bool) -> None:
    assert principal_from_claims(raw).sees_personal_data is reads_personal_data


# --- connectors -----------------------------------------------------------------------------------


def test_a_department_sees_and_manages_its_own_connectors_only() -> None:
    market = principal_from_claims(claims("department", agency=MARKET))

    assert market.may_see_connector(owner_agency=MARKET)
    assert market.may_manage_connector(owner_agency=MARKET)
    assert not market.may_see_connector(owner_agency=POLICE)
    assert not market.may_manage_connector(owner_agency=POLICE)


def test_management_sees_connectors_whose_whole_scope_lies_in_its_region_and_manages_none() -> None:
    ganxian = principal_from_claims(claims("management", region=GANXIAN))

    assert ganxian.may_see_connector(owner_agency=MARKET, regions=["360704"])  # a 6-digit scope is padded
    assert ganxian.may_see_connector(owner_agency=MARKET, regions=[GANXIAN_TOWNSHIP])
    assert not ganxian.may_see_connector(owner_agency=MARKET, regions=["360704", "360702"])
    assert not ganxian.may_see_connector(owner_agency=MARKET)  # no scope: not provably in its region
    assert not ganxian.may_manage_connector(owner_agency=MARKET)


def test_only_operators_and_the_owning_department_manage_a_connector() -> None:
    assert principal_from_claims(claims("operator")).may_manage_connector(owner_agency=MARKET)
    assert not principal_from_claims(claims("auditor")).may_manage_connector(owner_agency=MARKET)


# --- refusing and logging -------------------------------------------------------------------------


def test_require_refuses_with_forbidden_403() -> None:
    market = principal_from_claims(claims("department", agency=MARKET))

    with pytest.raises(AccessDenied) as caught:
        market.require(market.may_see(agency_code=POLICE, region_code=GANXIAN), "read this rating")

    assert (caught.value.code, caught.value.status) == ("FORBIDDEN", 403)
    assert CATALOG["FORBIDDEN"][0] == "R20"


def test_a_log_line_names_ids_and_scope_never_the_username_R20() -> None:
    person = principal_from_claims(claims("management", region=GANXIAN, **{"cognito:username": "张三"}))

    assert person.as_log() == {
        "subject": "0b6e-subject",
        "role": "management",
        "region_code": GANXIAN,
        "agency_codes": [],
    }


@pytest.mark.parametrize(
    ("region", "prefix"),
    [(GANZHOU, "3607"), (GANXIAN, "360704"), (GANXIAN_TOWNSHIP, "360704101"), ("360000000000", "36")],
)
def test_region_prefix_is_the_digits_a_division_shares_with_everything_inside_it(region: str, prefix: str) -> None:
    assert region_prefix(region) == prefix

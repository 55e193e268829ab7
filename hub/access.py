"""Who a signed-in person is, and what they may see (R20, and the roles of the connectors issue).

A person signs in through the identity provider (a Cognito user pool; a province may federate its
own SSO into it). Its token carries the person's group — one of four roles — and the agency codes or
the region they answer for. This module turns those claims into a `Principal` and answers the only
questions the routes ask: may this person see that agency's, that region's, that connector's data,
and may they read raters' personal data in clear.

    operator    the hub's operators: every connector, rating and order
    department  a department (承办单位): the connectors it owns and the ratings of its own agencies
    management  a 政务服务管理部门: everything rated in its region (a county sees its townships, R18)
    auditor     reads personal data unmasked, every read audited; sees its region, or all without one

On work orders the roles become the order's parties (`work_order_actor`): a department acts as the unit
(承办单位) for its own agencies' orders, management for the orders its region manages (R18: a county its
townships'), an operator on all; an auditor reads only. `work_order_list_scope` keeps a list inside the
person's scope.

Pure: claims in, decisions out. The token itself is checked before this (API Gateway's Cognito
authorizer in AWS, the local cloud's emulation of it on a laptop).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from hub.codes import PROVINCES, CodeError, Level, check_region_code, check_uscc, region_level

if TYPE_CHECKING:
    from hub.workorders.parties import Actor

__all__ = [
    "AGENCY_CLAIM",
    "REGION_CLAIM",
    "AccessDenied",
    "Principal",
    "PrincipalRole",
    "principal_from_claims",
    "region_prefix",
    "work_order_actor",
    "work_order_list_scope",
]

AGENCY_CLAIM = "custom:agency_code"  # one credit code, or several separated by commas
REGION_CLAIM = "custom:region_code"  # a 12-digit division code (6-digit county codes are padded)
GROUPS_CLAIM = "cognito:groups"


class PrincipalRole(StrEnum):
    OPERATOR = "operator"
    DEPARTMENT = "department"
    MANAGEMENT = "management"
    AUDITOR = "auditor"


# When a person is in several groups, the narrowest reading wins: an auditor who is also a department
# reads as a department (the unmasking role must be held on its own, and is then audited).
_PRECEDENCE = (PrincipalRole.DEPARTMENT, PrincipalRole.MANAGEMENT, PrincipalRole.AUDITOR, PrincipalRole.OPERATOR)

_PREFIX_DIGITS = {Level.PROVINCE: 2, Level.CITY: 4, Level.COUNTY: 6, Level.TOWNSHIP: 9, Level.VILLAGE: 12}


def region_prefix(region_code: str) -> str:
    """The digits a division's own code shares with everything inside it: 360704000000 → "360704"."""
    return region_code[: _PREFIX_DIGITS[region_level(region_code)]]


def agency_home(agency_code: str) -> str | None:
    """The division prefix an agency's credit code was issued in (characters 3-8 of GB 32100), if it is one."""
    digits = agency_code[2:8]
    if len(digits) != 6 or not digits.isdigit() or digits[:2] not in PROVINCES:
        return None
    try:
        return region_prefix(check_region_code(digits))
    except CodeError:
        return None


def _overlap(a: str, b: str) -> bool:
    """Two division prefixes of which one holds the other."""
    return a.startswith(b) or b.startswith(a)


class AccessDenied(Exception):
    """401 (no usable identity) or 403 (signed in, not allowed); `code` is a CATALOG code."""

    def __init__(self, code: str, detail: str = "", status: int = 403, detail_zh: str | None = None) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail
        self.status = status
        # message_zh reads as Chinese: an English detail without its Chinese is left out of it, not quoted
        self.detail_zh = detail_zh if detail_zh is not None else ""


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in person: an account id (never a name or phone: it goes into histories and audit logs)."""

    subject: str
    role: PrincipalRole
    username: str = ""
    agency_codes: frozenset[str] = frozenset()
    region_code: str | None = None

    def __post_init__(self) -> None:
        if self.role is PrincipalRole.DEPARTMENT and not self.agency_codes:
            raise AccessDenied("ACCOUNT_UNSCOPED", "a department account needs its agency code (custom:agency_code)",
                               detail_zh="部门账号须有其单位代码（custom:agency_code）")  # fmt: skip
        if self.role is PrincipalRole.MANAGEMENT and not self.region_code:
            raise AccessDenied("ACCOUNT_UNSCOPED", "a management account needs its region (custom:region_code)",
                               detail_zh="管理部门账号须有其行政区划（custom:region_code）")  # fmt: skip

    # ---- what may be seen

    @property
    def sees_everything(self) -> bool:
        return self.role is PrincipalRole.OPERATOR or (self.role is PrincipalRole.AUDITOR and not self.region_code)

    @property
    def sees_personal_data(self) -> bool:
        """R20: only the auditor reads raters' names, phones and ID numbers in clear (and is audited)."""
        return self.role is PrincipalRole.AUDITOR

    def in_region(self, region_code: str) -> bool:
        return self.region_code is not None and region_code.startswith(region_prefix(self.region_code))

    def may_see(self, *, agency_code: str, region_code: str) -> bool:
        """A rating, case or work order of that agency in that region."""
        if self.sees_everything:
            return True
        if self.role is PrincipalRole.DEPARTMENT:
            return agency_code in self.agency_codes
        return self.in_region(region_code)

    def may_see_connector(self, *, owner_agency: str, regions: Iterable[str] = ()) -> bool:
        """A department its own connectors; management those whose scope lies in its region."""
        if self.sees_everything:
            return True
        if self.role is PrincipalRole.DEPARTMENT:
            return owner_agency in self.agency_codes
        regions = list(regions)
        return bool(regions) and all(self.in_region(r.ljust(12, "0")) for r in regions)

    def may_manage_connector(self, *, owner_agency: str) -> bool:
        """Register, change, rotate and disable: the owning department, or an operator."""
        return self.role is PrincipalRole.OPERATOR or (
            self.role is PrincipalRole.DEPARTMENT and owner_agency in self.agency_codes
        )

    def may_ask_for(self, *, agency: str | None = None, region: str | None = None) -> bool:
        """Whether a list's filter lies inside the person's scope, at least in part. Asking beyond it is
        refused (403 FORBIDDEN), never answered with an empty list that reads as "no bad ratings there".

        An agency's home is the division its credit code was issued in (GB 32100, characters 3-8); a
        department's homes are its agencies' (and its own region, when its account has one)."""
        if self.sees_everything:
            return True
        own = region_prefix(self.region_code) if self.region_code else None
        if agency is not None:
            if self.role is PrincipalRole.DEPARTMENT:
                if agency not in self.agency_codes:
                    return False
            elif own is not None:
                home = agency_home(agency)
                if home is not None and not _overlap(home, own):
                    return False
        if region is not None:
            asked = region_prefix(region) if len(region) == 12 else region
            if self.role is PrincipalRole.DEPARTMENT:
                homes = {h for h in map(agency_home, self.agency_codes) if h} | ({own} if own else set())
                if homes and not any(_overlap(asked, home) for home in homes):
                    return False
            elif own is not None and not _overlap(asked, own):
                return False
        return True

    def require(self, allowed: bool, what: str, what_zh: str | None = None) -> None:
        if not allowed:
            raise AccessDenied("FORBIDDEN", what, detail_zh=what_zh)

    def as_log(self) -> dict[str, Any]:
        """What a log line or an audit record may say about the person: ids and scope, nothing personal."""
        return {"subject": self.subject, "role": self.role.value, "region_code": self.region_code,
                "agency_codes": sorted(self.agency_codes)}  # fmt: skip


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):  # API Gateway passes list claims as "[a b]"
        text = text[1:-1].replace(" ", ",")
    return [part.strip() for part in text.split(",") if part.strip()]


def principal_from_claims(claims: Mapping[str, Any] | None) -> Principal:
    """The person the verified token's claims describe, or `AccessDenied` (401 without claims)."""
    if not claims or not claims.get("sub"):
        raise AccessDenied("TOKEN_MISSING", "sign in and send `Authorization: Bearer <id token>`", status=401,
                           detail_zh="请登录，并在请求头中携带 Authorization: Bearer <令牌>")  # fmt: skip
    groups = set(_split(claims.get(GROUPS_CLAIM)))
    role = next((r for r in _PRECEDENCE if r.value in groups), None)
    if role is None:
        raise AccessDenied("ACCOUNT_UNSCOPED", "the account is in none of the groups " + ", ".join(_PRECEDENCE),
                           detail_zh="账号不属于以下任一用户组：" + "、".join(_PRECEDENCE))  # fmt: skip
    agencies: set[str] = set()
    for code in _split(claims.get(AGENCY_CLAIM)):
        try:
            agencies.add(check_uscc(code))
        except CodeError:
            raise AccessDenied("ACCOUNT_UNSCOPED", f"{AGENCY_CLAIM} is not a credit code",
                               detail_zh=f"{AGENCY_CLAIM} 不是统一社会信用代码") from None  # fmt: skip
    region: str | None = None
    raw_region = str(claims.get(REGION_CLAIM) or "").strip()
    if raw_region:
        try:
            region = check_region_code(raw_region)
        except CodeError:
            raise AccessDenied("ACCOUNT_UNSCOPED", f"{REGION_CLAIM} is not a division code",
                               detail_zh=f"{REGION_CLAIM} 不是行政区划代码") from None  # fmt: skip
    return Principal(
        subject=str(claims["sub"]),
        role=role,
        username=str(claims.get("cognito:username") or claims.get("username") or ""),
        agency_codes=frozenset(agencies),
        region_code=region,
    )


# --------------------------------------------------------------------------------------------------
# Work orders: who a person acts as, and which lists they may read


def work_order_actor(principal: Principal, *, order_id: str, agency_code: str) -> Actor:
    """The party a person acts as on the order of unit `agency_code`; the order's own rules decide the rest
    (its transition table: which role may send which command; `WorkOrder.owned_by`: whose order it is)."""
    from hub.workorders.parties import Actor, Role  # on first use: the authorizer, importing this, needs no models

    if principal.role is PrincipalRole.DEPARTMENT:
        mine = agency_code in principal.agency_codes
        principal.require(mine, f"act on work order {order_id}", f"办理工单 {order_id}")
        return Actor(role=Role.UNIT, id=principal.subject, agency_code=agency_code)
    if principal.role is PrincipalRole.MANAGEMENT:
        return Actor(role=Role.MANAGEMENT, id=principal.subject, region_code=principal.region_code)
    if principal.role is PrincipalRole.OPERATOR:
        return Actor(role=Role.OPERATOR, id=principal.subject)
    raise AccessDenied("FORBIDDEN", "act on work orders: the auditor role reads only",
                       detail_zh="办理工单：审计角色只读")  # fmt: skip


def work_order_list_scope(
    principal: Principal, *, unit: str | None = None, region: str | None = None
) -> tuple[tuple[str, ...], str | None]:
    """The units and the region a list of orders reads: what was asked, inside the person's scope, else
    403 (never an empty list that reads as "no bad ratings there"); unasked, the person's own scope."""
    if unit is not None:
        principal.require(principal.may_ask_for(agency=unit), f"list the orders of {unit}", f"查看单位 {unit} 的工单")
        agencies: tuple[str, ...] = (unit,)
    elif principal.role is PrincipalRole.DEPARTMENT:
        agencies = tuple(sorted(principal.agency_codes))
    else:
        agencies = ()
    if region is not None:
        inside = principal.role is PrincipalRole.DEPARTMENT or principal.sees_everything or principal.in_region(region)
        principal.require(
            inside and principal.may_ask_for(region=region), f"list the orders of region {region}",
            f"查看地区 {region} 的工单",
        )  # fmt: skip
        return agencies, region
    if principal.sees_everything or principal.role is PrincipalRole.DEPARTMENT:
        return agencies, None
    return agencies, principal.region_code

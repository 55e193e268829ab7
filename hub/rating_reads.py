"""People reading ratings (R20): each sees only their scope, personal data masked except to the auditor,
and every read in clear written to the audit log before it is answered.

    department  its agencies' ratings          management  its region's (a county its townships, R18)
    operator    every rating                   auditor     its region's, or all; unmasked, audited

Ratings marked not adopted (R14, an upheld appeal R17) are left out unless asked for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub.access import AccessDenied, Principal, PrincipalRole, region_prefix
from hub.errors import Refused, problem
from hub.masking import masked_rating
from hub.ports import AuditEntry, AuditLog, RatingQuery, RatingStore, StoredRating

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_DAYS = 30
MAX_DAYS = 366
MAX_LIMIT = 100
_REGION_PREFIX = re.compile(r"^\d{2,12}$")
_GRADES = {"very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied"}


class AuditUnavailable(Exception):
    """The audit record could not be written; the read is not answered (AUDIT_UNAVAILABLE, 503)."""


@dataclass(frozen=True, slots=True)
class ListRequest:
    """The query string of GET /v1/ratings, as text; checked by `RatingReads.list`."""

    agency: str | None = None
    region: str | None = None
    start: str | None = None
    end: str | None = None
    grade: str | None = None
    connector: str | None = None
    include_not_adopted: str | None = None
    unmasked: str | None = None
    limit: str | None = None
    cursor: str | None = None


def _flag(value: str | None, name: str) -> bool | None:
    if value is None or value == "":
        return None
    lowered = value.strip().lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    raise Refused([problem("FIELD_INVALID", name, "true or false")])


def _moment(value: str, name: str, *, end: bool) -> datetime:
    """An ISO time with its offset, or a date (a whole day in China; `to=2026-11-28` includes that day)."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
            return datetime.combine(day, time(), SHANGHAI)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Refused([problem("TIME_INVALID", name, "yyyy-mm-dd or an ISO time with its offset")]) from None
    if moment.tzinfo is None:
        raise Refused([problem("TIME_NAIVE", name)])
    return moment


def _region_text(value: str) -> str:
    """A 12-digit code stands for its division (360704000000 → 360704); shorter digits are a prefix."""
    if len(value) == 12:
        try:
            return region_prefix(value)
        except (KeyError, ValueError):
            return value
    return value


class RatingReads:
    def __init__(self, ratings: RatingStore, audit: AuditLog) -> None:
        self._ratings = ratings
        self._audit = audit

    # -- what may be asked

    @staticmethod
    def _clear(principal: Principal, unmasked: bool | None) -> bool:
        """The auditor reads in clear unless it asks `unmasked=false`; anyone else asking is refused."""
        if principal.sees_personal_data:
            return unmasked is not False
        if unmasked:
            raise AccessDenied("PERSONAL_DATA_FORBIDDEN", f"the {principal.role.value} role sees it masked",
                               detail_zh=f"{principal.role.value} 角色只能查看脱敏信息")  # fmt: skip
        return False

    @staticmethod
    def _scope(principal: Principal, agency: str | None, region: str | None) -> tuple[frozenset[str] | None, str]:
        """The asker's scope narrowed by the filters; asking beyond the scope is refused, not silently emptied."""
        agencies: frozenset[str] | None = frozenset({agency}) if agency else None
        prefix = ""
        if region:
            if not _REGION_PREFIX.match(region):
                raise Refused([problem("REGION_CODE_INVALID", "region", "2 to 12 digits")])
            prefix = _region_text(region)
        if agency and not principal.may_ask_for(agency=agency):
            raise AccessDenied("FORBIDDEN", f"see the ratings of {agency}", detail_zh=f"查看单位 {agency} 的评价")
        if prefix and not principal.may_ask_for(region=prefix):
            raise AccessDenied(
                "FORBIDDEN", f"see the ratings of region {region}", detail_zh=f"查看地区 {region} 的评价"
            )
        if principal.role is PrincipalRole.DEPARTMENT:
            agencies = agencies or principal.agency_codes
        elif principal.region_code and not principal.sees_everything:
            own = region_prefix(principal.region_code)
            if prefix and not prefix.startswith(own):
                if not own.startswith(prefix):
                    raise AccessDenied(
                        "FORBIDDEN", f"see the ratings of region {region}", detail_zh=f"查看地区 {region} 的评价"
                    )
                prefix = own
            prefix = prefix or own
        return agencies, prefix

    # -- reads

    def list(self, principal: Principal, request: ListRequest, *, now: datetime, request_id: str) -> dict[str, Any]:
        clear = self._clear(principal, _flag(request.unmasked, "unmasked"))
        agencies, prefix = self._scope(principal, request.agency, request.region)
        end = _moment(request.end, "to", end=True) if request.end else now
        start = _moment(request.start, "from", end=False) if request.start else end - timedelta(days=DEFAULT_DAYS)
        if start >= end or end - start > timedelta(days=MAX_DAYS):
            raise Refused([problem("FIELD_INVALID", "from", f"from before to, at most {MAX_DAYS} days apart")])
        if request.grade and request.grade not in _GRADES:
            raise Refused([problem("GRADE_UNKNOWN", "grade", request.grade)])
        try:
            limit = int(request.limit) if request.limit else 50
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            raise Refused([problem("FIELD_INVALID", "limit", f"1 to {MAX_LIMIT}")])
        query = RatingQuery(
            start=start, end=end, agencies=agencies, region_prefix=prefix, grade=request.grade or None,
            connector_id=request.connector or None,
            include_not_adopted=bool(_flag(request.include_not_adopted, "include_not_adopted")),
            limit=limit, cursor=request.cursor or None,
        )  # fmt: skip
        try:
            page = self._ratings.search(query)
        except ValueError:
            raise Refused([problem("FIELD_INVALID", "cursor", "not a cursor this list gave")]) from None
        ratings = [s for s in page.ratings if principal.may_see(**_where(s))]  # the store's filter, checked again
        if clear:
            self._record(principal, "list", ratings, now, request_id)
        return {
            "ratings": [_shown(s, clear) for s in ratings],
            "cursor": page.cursor,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "masked": not clear,
        }

    def get(
        self, principal: Principal, rating_id: str, *, unmasked: str | None, now: datetime, request_id: str
    ) -> dict[str, Any]:
        clear = self._clear(principal, _flag(unmasked, "unmasked"))
        stored = self._ratings.get(rating_id)
        if stored is None or not principal.may_see(**_where(stored)):
            raise LookupError(rating_id)  # the same answer either way: no existence leaks across scopes
        if clear:
            self._record(principal, "get", [stored], now, request_id)
        return {**_shown(stored, clear), "masked": not clear}

    def lookup(
        self, principal: Principal, *, phone: str | None, id_no: str | None, now: datetime, request_id: str
    ) -> dict[str, Any]:
        """The auditor's look-up of a person's ratings, through the keyed hash index (never a scan)."""
        if not principal.sees_personal_data:
            raise AccessDenied("PERSONAL_DATA_FORBIDDEN", "look-ups by phone or ID number are the auditor's",
                               detail_zh="按手机号码或身份证号码查询仅限审计角色")  # fmt: skip
        if not (phone or id_no):
            raise Refused([problem("FIELD_REQUIRED", "phone")])
        found = [s for s in map(self._ratings.get, self._ratings.ids_of_person(phone=phone, id_no=id_no)) if s]
        ratings = [s for s in found if principal.may_see(**_where(s))]
        kind = "+".join(k for k, v in (("phone", phone), ("id_no", id_no)) if v)
        self._record(principal, f"lookup:{kind}", ratings, now, request_id)
        return {"ratings": [_shown(s, True) for s in ratings], "masked": False}

    def _record(
        self, principal: Principal, action: str, ratings: Sequence[StoredRating], now: datetime, request_id: str
    ) -> None:
        entry = AuditEntry(
            at=now, subject=principal.subject, role=principal.role.value, action=action,
            rating_ids=tuple(s.rating.rating_id for s in ratings), request_id=request_id,
        )  # fmt: skip
        try:
            self._audit.record(entry)
        except Exception as exc:
            raise AuditUnavailable(type(exc).__name__) from exc


def _where(stored: StoredRating) -> dict[str, str]:
    return {"agency_code": stored.rating.target.agency_code, "region_code": stored.rating.target.region_code}


def _shown(stored: StoredRating, clear: bool) -> dict[str, Any]:
    data = stored.rating.model_dump(mode="json")
    return {
        "rating": data if clear else masked_rating(data),
        "stored_at": stored.stored_at.isoformat(),
        "delivery": stored.forward_state,
        "receipt": stored.receipt,
        "adopted": stored.adopted,
        "not_adopted_by": stored.not_adopted_by,
    }

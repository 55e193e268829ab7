"""Who takes part in an order: the acting party and its role, the handling unit, the managing department (R18)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import model_validator

from hub.codes import Level, county_of, region_level
from hub.types import RegionCode
from hub.workorders.values import Frozen, Name

__all__ = ["SYSTEM", "Actor", "ActorRef", "HandlingUnit", "ManagingDepartment", "Role", "managing_department_for"]


class Role(StrEnum):
    UNIT = "unit"  # the handling unit (承办单位): acts on its own orders
    MANAGEMENT = "management"  # a 政务服务管理部门: acts on the orders it manages (R18)
    OPERATOR = "operator"  # the hub operator: all orders
    SYSTEM = "system"  # the hub itself: dispatch, escalation, recomputation


class ActorRef(Frozen):
    """Who acted, as the history keeps it: a role and an account id, nothing personal."""

    role: Role
    id: Name


class Actor(Frozen):
    """The signed-in party; a unit is known by its agency code, a management department by its region."""

    role: Role
    id: Name
    agency_code: str | None = None
    region_code: RegionCode | None = None

    @model_validator(mode="after")
    def _scoped(self) -> Actor:
        if self.role is Role.UNIT and not self.agency_code:
            raise ValueError("a unit actor needs its agency_code")
        if self.role is Role.MANAGEMENT and not self.region_code:
            raise ValueError("a management actor needs its region_code")
        return self

    @property
    def ref(self) -> ActorRef:
        return ActorRef(role=self.role, id=self.id)


SYSTEM = Actor(role=Role.SYSTEM, id="hub")


class HandlingUnit(Frozen):
    """The rated agency (承办单位); an intermediary provider's order goes to the agency supervising it."""

    agency_code: str
    agency_name: str | None = None
    region_code: RegionCode
    level: Level


class ManagingDepartment(Frozen):
    """A 政务服务管理部门, known by its region and level; the real departments' codes are configuration."""

    region_code: RegionCode
    level: Level

    def above(self) -> ManagingDepartment | None:
        """One level up, where an overdue appeal review is escalated; nothing is above the province."""
        if self.level in (Level.COUNTY, Level.TOWNSHIP, Level.VILLAGE):
            return ManagingDepartment(region_code=self.region_code[:4] + "0" * 8, level=Level.CITY)
        if self.level is Level.CITY:
            return ManagingDepartment(region_code=self.region_code[:2] + "0" * 10, level=Level.PROVINCE)
        return None


def managing_department_for(region_code: str) -> ManagingDepartment:
    """The same level's department (第十七条(四)), or the county's for townships and villages (R18, 第十九条)."""
    level = region_level(region_code)
    if level in (Level.TOWNSHIP, Level.VILLAGE):
        return ManagingDepartment(region_code=county_of(region_code), level=Level.COUNTY)
    return ManagingDepartment(region_code=region_code, level=level)

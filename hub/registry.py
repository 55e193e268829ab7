"""The connector registry: who may register, read and manage a connector, and what a connector may rate for.

Scope (R20): a connector names the agencies (credit codes) and the region prefixes it rates for. A
body with one rating or case notice outside them is refused whole (403 CONNECTOR_OUT_OF_SCOPE, one
problem per item), before anything is archived, stored or queued: a source that sends for another
agency is misconfigured or hostile, and half its batch is no better.

Who (hub.access): a department registers and manages the connectors it owns, scoped within its own
agencies; management reads the connectors of its region; an operator everything; an auditor none of
it (the registry holds no personal data to audit). Another department's connector is 403 FORBIDDEN:
ids are random, so saying it exists leaks nothing worth a 404.

Specs are checked by an injected `SpecCheck` (the loader lives in connectors/), so this stays pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.access import AccessDenied, Principal, PrincipalRole
from hub.codes import CodeError, check_uscc
from hub.errors import Refused, problem
from hub.ports import Connector, ConnectorStatus, ConnectorStore
from hub.scope import out_of_scope

__all__ = [
    "CUSTOM_KIND",
    "DEFAULT_GRACE",
    "REGISTRY_SCHEMAS",
    "ChangeBody",
    "ConnectorView",
    "Registration",
    "RegistrationBody",
    "RegistryService",
    "SpecCheck",
    "SpecRejected",
    "connector_view",
    "out_of_scope",
    "regions_of",
]

CUSTOM_KIND = "custom"  # a connector whose declarative spec lives on the connector itself
DEFAULT_GRACE = timedelta(hours=24)
MAX_GRACE = timedelta(days=30)
_REGION_PREFIX = re.compile(r"^[0-9]{2,12}$")


# -- scope ---------------------------------------------------------------------------------------


def regions_of(connector: Connector) -> list[str]:
    """Where a connector rates: its region prefixes, or else the division code its agencies' credit codes
    carry (characters 3-8 of a unified social credit code, GB 32100) — so management sees agency-scoped ones."""
    if connector.regions:
        return list(connector.regions)
    return sorted({code[2:8] for code in connector.agencies})


# -- registration --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Registration:
    """What a person asks to register: a built-in `kind` with settings, or a custom `spec` (its text)."""

    name: str
    kind: str | None = None
    spec: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    owner_agency: str | None = None
    agencies: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    department: str | None = None
    sample: bytes | None = None
    sample_content_type: str | None = None


@dataclass
class SpecRejected(Exception):
    """The spec (or the kind) is refused; `errors` and `warnings` are the loader's problems, with lines."""

    errors: list[dict[str, Any]]
    warnings: list[dict[str, Any]] = field(default_factory=list)


# (kind, spec text, settings, sample, sample content type) -> warnings; raises SpecRejected
SpecCheck = Callable[[str, str | None, dict[str, Any], bytes | None, str | None], list[dict[str, Any]]]


def _forbidden(what: str, what_zh: str) -> AccessDenied:
    return AccessDenied("FORBIDDEN", what, detail_zh=what_zh)


class RegistryService:
    def __init__(self, connectors: ConnectorStore, check_spec: SpecCheck) -> None:
        self.connectors = connectors
        self.check_spec = check_spec

    # ---- reading

    def visible(self, principal: Principal) -> list[Connector]:
        _no_auditor(principal)
        return [c for c in self.connectors.list() if self._sees(principal, c)]

    def read(self, principal: Principal, connector_id: str) -> Connector:
        _no_auditor(principal)
        connector = self.connectors.get(connector_id)
        if connector is None:
            raise AccessDenied("CONNECTOR_NOT_FOUND", connector_id[:64], status=404, detail_zh=connector_id[:64])
        if not self._sees(principal, connector):
            raise _forbidden("see this connector", "查看该接入方")
        return connector

    def managed(self, principal: Principal, connector_id: str) -> Connector:
        connector = self.read(principal, connector_id)
        if not principal.may_manage_connector(owner_agency=connector.owner_agency):
            raise _forbidden("manage this connector", "管理该接入方")
        return connector

    @staticmethod
    def _sees(principal: Principal, connector: Connector) -> bool:
        return principal.may_see_connector(owner_agency=connector.owner_agency, regions=regions_of(connector))

    # ---- changing

    def register(self, principal: Principal, request: Registration, now: datetime) -> tuple[Connector, str, list[Any]]:
        """The new connector, its secret (shown once) and the spec's warnings."""
        if principal.role not in (PrincipalRole.DEPARTMENT, PrincipalRole.OPERATOR):
            raise _forbidden("register connectors", "注册接入方")
        owner = self._owner(principal, request.owner_agency)
        agencies = _agencies(principal, request.agencies or (owner,))
        regions = _regions(request.regions)
        if (request.kind is None) == (request.spec is None):
            raise Refused([problem("FIELD_INVALID", "kind", "give a built-in kind or a spec, one of the two")])
        kind = CUSTOM_KIND if request.spec is not None else str(request.kind)
        warnings = self.check_spec(kind, request.spec, request.settings, request.sample, request.sample_content_type)
        if not request.name.strip():
            raise Refused([problem("FIELD_REQUIRED", "name")])
        connector, secret = self.connectors.create(
            kind, request.name, request.department or owner, request.settings, now=now,
            owner_agency=owner, agencies=agencies, regions=regions, spec=request.spec,
        )  # fmt: skip
        return connector, secret, warnings

    def change(self, principal: Principal, connector_id: str, changes: dict[str, Any], now: datetime) -> Connector:
        """Name, scope (agencies, regions), spec or settings; the spec is checked again before anything is kept."""
        current = self.managed(principal, connector_id)
        updates: dict[str, Any] = {}
        if "name" in changes:
            if not str(changes["name"] or "").strip():
                raise Refused([problem("FIELD_REQUIRED", "name")])
            updates["name"] = str(changes["name"]).strip()
        if "agencies" in changes:
            updates["agencies"] = _agencies(principal, changes["agencies"] or ())
            if not updates["agencies"]:
                raise Refused([problem("SCOPE_INVALID", "agencies", "a connector rates for at least one agency")])
        if "regions" in changes:
            updates["regions"] = _regions(changes["regions"] or ())
        if "spec" in changes or "settings" in changes:
            spec = changes.get("spec", current.spec)
            if current.kind != CUSTOM_KIND and changes.get("spec") is not None:
                raise Refused([problem("FIELD_INVALID", "spec", f"a {current.kind} connector reads a built-in family")])
            settings = changes.get("settings", dict(current.settings)) or {}
            self.check_spec(current.kind, spec, settings, changes.get("sample"), changes.get("sample_content_type"))
            updates["spec"], updates["settings"] = spec, settings
        return self.connectors.update(current.connector_id, now=now, **updates)

    def disable(self, principal: Principal, connector_id: str, now: datetime) -> Connector:
        current = self.managed(principal, connector_id)
        return self.connectors.set_status(current.connector_id, "disabled", now=now)

    def rotate(
        self, principal: Principal, connector_id: str, now: datetime, grace: timedelta = DEFAULT_GRACE
    ) -> tuple[Connector, str]:
        if grace < timedelta(0) or grace > MAX_GRACE:
            raise Refused([problem("FIELD_INVALID", "grace", f"between 0 s and {MAX_GRACE.days} days")])
        current = self.managed(principal, connector_id)
        return self.connectors.rotate(current.connector_id, now=now, grace=grace)

    # ---- helpers

    @staticmethod
    def _owner(principal: Principal, owner: str | None) -> str:
        if owner:
            owner = _credit_code(owner, "owner_agency")
            if principal.role is PrincipalRole.DEPARTMENT and owner not in principal.agency_codes:
                raise _forbidden(f"register a connector for {owner}", f"为 {owner} 注册接入方")
            return owner
        if principal.role is PrincipalRole.DEPARTMENT and len(principal.agency_codes) == 1:
            return next(iter(principal.agency_codes))
        raise Refused([problem("FIELD_REQUIRED", "owner_agency", "the owning department's credit code")])


def _no_auditor(principal: Principal) -> None:
    if principal.role is PrincipalRole.AUDITOR:
        raise _forbidden("use the connector registry", "使用接入方注册功能")


def _credit_code(value: Any, path: str) -> str:
    try:
        return check_uscc(str(value).strip())
    except CodeError as exc:
        raise Refused([problem(exc.code, path, exc.detail, detail_zh=exc.detail_zh)]) from None


def _agencies(principal: Principal, codes: Iterable[Any]) -> tuple[str, ...]:
    """Checked credit codes; a department may scope a connector only within the agencies it answers for."""
    if isinstance(codes, str):
        codes = [codes]
    checked = tuple(dict.fromkeys(_credit_code(c, f"agencies[{i}]") for i, c in enumerate(codes)))
    if principal.role is PrincipalRole.DEPARTMENT:
        foreign = [c for c in checked if c not in principal.agency_codes]
        if foreign:
            raise AccessDenied("SCOPE_INVALID", f"agencies {', '.join(foreign)} are not yours",
                               detail_zh=f"单位 {'、'.join(foreign)} 不属于你")  # fmt: skip
    return checked


def _regions(prefixes: Sequence[Any]) -> tuple[str, ...]:
    if isinstance(prefixes, str):
        prefixes = [prefixes]
    bad = [(i, p) for i, p in enumerate(prefixes) if not _REGION_PREFIX.match(str(p))]
    if bad:
        raise Refused([problem("SCOPE_INVALID", f"regions[{i}]", f"{str(p)[:20]!r} is not 2-12 digits of a division "
                               "code (360704 a county, 360704101 a township)") for i, p in bad])  # fmt: skip
    return tuple(dict.fromkeys(str(p) for p in prefixes))


class ConnectorView(BaseModel):
    """The connector contract (schemas/connector.json): what the registry answers about a connector.

    Never a secret: the secret is in the register and rotate answers only, beside this view.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)  # built on first use: the ingest path never shows one

    connector_id: str
    name: str
    kind: str = Field(description="a built-in source family, or custom (the declarative mapping in `spec`)")
    department: str = Field(description="the owning department's name")
    owner_agency: str = Field(description="the owning department's unified social credit code")
    agencies: list[str] = Field(description="credit codes it may rate for; empty: the owner's scope alone decides")
    regions: list[str] = Field(description="division-code prefixes it may rate for (360704 a county)")
    status: ConnectorStatus
    spec: str | None = Field(default=None, description="a custom connector's spec (schemas/connector-spec.json)")
    settings: dict[str, Any] = Field(description="overrides of its family's spec (code tables, time formats)")
    previous_key_valid_until: datetime | None = Field(
        default=None, description="after a rotation, until when the previous secret still signs"
    )
    created_at: datetime
    updated_at: datetime | None = None


def connector_view(connector: Connector) -> dict[str, Any]:
    """What the registry shows of a connector: never a secret, only whether a previous one still works."""
    return ConnectorView(
        connector_id=connector.connector_id,
        name=connector.name,
        kind=connector.kind,
        department=connector.department,
        owner_agency=connector.owner_agency,
        agencies=list(connector.agencies),
        regions=list(connector.regions),
        status=connector.status,
        spec=connector.spec,
        settings=dict(connector.settings),
        previous_key_valid_until=connector.previous_valid_until,
        created_at=connector.created_at,
        updated_at=connector.updated_at,
    ).model_dump(mode="json")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on first use: only the registry reads them


_SCOPE = Field(default=None, description="credit codes (agencies) or division-code prefixes (regions); one or a list")
_SPEC = Field(default=None, description="a custom connector's spec: its text (JSON or YAML) or a JSON object")


class RegistrationBody(_Body):
    """`POST /v1/connectors`: what a department sends to register a connector (schemas/connector-registration.json)."""

    name: str | None = Field(default=None, description="defaults to the spec's name, else the kind")
    kind: str | None = Field(default=None, description="a built-in source family, or custom (with spec)")
    spec: str | dict[str, Any] | None = _SPEC
    settings: dict[str, Any] | None = Field(default=None, description="overrides of the family's spec")
    owner_agency: str | None = None
    agencies: list[str] | str | None = _SCOPE
    regions: list[str] | str | None = _SCOPE
    department: str | None = None
    sample: str | dict[str, Any] | list[Any] | None = Field(default=None, description="a payload to try the spec on")
    sample_base64: str | None = Field(default=None, description="the sample's bytes, base64 (any charset)")
    sample_charset: str | None = None
    sample_content_type: str | None = None


class ChangeBody(_Body):
    """`PATCH /v1/connectors/{id}`: the fields a department may change (schemas/connector-change.json)."""

    name: str | None = None
    agencies: list[str] | str | None = _SCOPE
    regions: list[str] | str | None = _SCOPE
    spec: str | dict[str, Any] | None = _SPEC
    settings: dict[str, Any] | None = None
    sample: str | dict[str, Any] | list[Any] | None = None
    sample_base64: str | None = None
    sample_charset: str | None = None
    sample_content_type: str | None = None


REGISTRY_SCHEMAS: dict[str, type[BaseModel]] = {"connector.json": ConnectorView}

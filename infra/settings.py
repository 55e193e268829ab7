"""Settings: frozen, read from the environment the template gives each function, on first use.

Read on a function's first invocation, not at import, so a missing variable is named in that
invocation's error instead of failing the import with a KeyError.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Self


class MissingSettings(RuntimeError):
    def __init__(self, settings: str, names: list[str]) -> None:
        super().__init__(f"{settings} needs the environment variable(s) {', '.join(names)}; template.yaml sets them")
        self.names = names


def _env(name: str) -> Any:
    return field(metadata={"env": name})


class _FromEnv:
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """All of them or `MissingSettings` naming every one that is missing or blank."""
        environ = os.environ if environ is None else environ
        values: dict[str, str] = {}
        missing: list[str] = []
        for f in fields(cls):  # type: ignore[arg-type]
            value = environ.get(f.metadata["env"], "").strip()
            if value:
                values[f.name] = value
            else:
                missing.append(f.metadata["env"])
        if missing:
            raise MissingSettings(cls.__name__, missing)
        return cls(**values)

    @classmethod
    def variables(cls) -> list[str]:
        return [f.metadata["env"] for f in fields(cls)]  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class IngestSettings(_FromEnv):
    """What the ingest function needs; the names are template.yaml's Globals."""

    ratings_table: str = _env("RATINGS_TABLE")
    connectors_table: str = _env("CONNECTORS_TABLE")
    nonces_table: str = _env("NONCES_TABLE")
    raw_bucket: str = _env("RAW_PAYLOAD_BUCKET")
    forward_queue_url: str = _env("FORWARD_QUEUE_URL")


@dataclass(frozen=True, slots=True)
class ForwardSettings(_FromEnv):
    """What the forward and sweep functions need."""

    ratings_table: str = _env("RATINGS_TABLE")
    forward_queue_url: str = _env("FORWARD_QUEUE_URL")
    province_url: str = _env("PROVINCE_URL")
    province_secret_arn: str = _env("PROVINCE_SECRET_ARN")


@dataclass(frozen=True, slots=True)
class CaseSettings(_FromEnv):
    """What the case routes of the ingest function need (notices in, the operator's calendar loads)."""

    ratings_table: str = _env("RATINGS_TABLE")
    cases_table: str = _env("CASES_TABLE")
    calendar_table: str = _env("CALENDAR_TABLE")
    raw_bucket: str = _env("RAW_PAYLOAD_BUCKET")
    forward_queue_url: str = _env("FORWARD_QUEUE_URL")


@dataclass(frozen=True, slots=True)
class SchedulerSettings(_FromEnv):
    """What the scheduler function needs. `SMS_GATEWAY_URL` (optional) picks the HTTP gateway over SNS."""

    ratings_table: str = _env("RATINGS_TABLE")
    cases_table: str = _env("CASES_TABLE")
    calendar_table: str = _env("CALENDAR_TABLE")
    forward_queue_url: str = _env("FORWARD_QUEUE_URL")
    rating_link: str = _env("RATING_LINK")


@dataclass(frozen=True, slots=True)
class RatingReadSettings(_FromEnv):
    """What the ratings query function needs besides the personal-data keys (`infra.sealing`)."""

    ratings_table: str = _env("RATINGS_TABLE")
    audit_table: str = _env("AUDIT_TABLE")


@dataclass(frozen=True, slots=True)
class WorkOrderSettings(_FromEnv):
    """What the work-order API needs."""

    work_orders_table: str = _env("WORK_ORDERS_TABLE")
    calendar_table: str = _env("CALENDAR_TABLE")


@dataclass(frozen=True, slots=True)
class OutboxSettings(_FromEnv):
    """What the work orders' deadline checks and outbox relay need (scheduler, sweep and forward functions)."""

    work_orders_table: str = _env("WORK_ORDERS_TABLE")
    topic_arn: str = _env("WORK_ORDER_TOPIC_ARN")
    forward_queue_url: str = _env("FORWARD_QUEUE_URL")
    calendar_table: str = _env("CALENDAR_TABLE")
    ratings_table: str = _env("RATINGS_TABLE")


@dataclass(frozen=True, slots=True)
class SignInSettings:
    """Which OIDC issuer people sign in with, and the claim names of its ID tokens (the authorizer function).

    template.yaml's sign-in parameters set them; with the stack's own Cognito user pool the issuer,
    audience and JWKS default to that pool's. `OIDC_JWKS_URL` blank: discovered from the issuer's
    `/.well-known/openid-configuration`. Claim names may be dotted for nested claims
    (`realm_access.roles`)."""

    issuer: str
    audiences: tuple[str, ...]
    jwks_url: str = ""
    roles_claim: str = "cognito:groups"
    agency_claim: str = "custom:agency_code"
    region_claim: str = "custom:region_code"
    username_claim: str = "cognito:username"
    leeway_seconds: int = 60
    jwks_timeout_seconds: float = 3.0
    jwks_ttl_seconds: int = 3600
    jwks_refresh_seconds: int = 60

    _REQUIRED: ClassVar[dict[str, str]] = {"issuer": "OIDC_ISSUER", "audiences": "OIDC_AUDIENCE"}
    _OPTIONAL: ClassVar[dict[str, str]] = {
        "jwks_url": "OIDC_JWKS_URL", "roles_claim": "OIDC_ROLES_CLAIM", "agency_claim": "OIDC_AGENCY_CLAIM",
        "region_claim": "OIDC_REGION_CLAIM", "username_claim": "OIDC_USERNAME_CLAIM",
        "leeway_seconds": "OIDC_LEEWAY_SECONDS", "jwks_timeout_seconds": "OIDC_JWKS_TIMEOUT_SECONDS",
    }  # fmt: skip

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SignInSettings:
        """`MissingSettings` names a missing issuer or audience; blank optional ones keep their defaults."""
        environ = os.environ if environ is None else environ
        missing = [name for name in cls._REQUIRED.values() if not environ.get(name, "").strip()]
        if missing:
            raise MissingSettings(cls.__name__, missing)
        audiences = tuple(a.strip() for a in environ["OIDC_AUDIENCE"].split(",") if a.strip())
        values: dict[str, Any] = {"issuer": environ["OIDC_ISSUER"].strip(), "audiences": audiences}
        defaults: dict[str, Any] = {f.name: f.default for f in fields(cls)}
        for name, variable in cls._OPTIONAL.items():
            text = environ.get(variable, "").strip()
            if not text:
                continue
            kind = type(defaults[name])
            try:
                values[name] = kind(text)
            except ValueError:
                raise ValueError(f"{variable}={text!r} is not a {kind.__name__}") from None
        return cls(**values)

    @classmethod
    def variables(cls) -> list[str]:
        return [*cls._REQUIRED.values(), *cls._OPTIONAL.values()]


@dataclass(frozen=True, slots=True)
class ReportingSettings(_FromEnv):
    """What the reporting function (rollups from the change streams, R19) needs."""

    rollups_table: str = _env("ROLLUPS_TABLE")

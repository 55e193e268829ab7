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


_REQUIRED = object()
_TRUE = ("1", "true", "yes", "on")


def _env(name: str, default: Any = _REQUIRED) -> Any:
    """A field read from `name`: required, or optional with `default`, whose type (str, int, float, bool)
    the variable's text is read as."""
    if default is _REQUIRED:
        return field(metadata={"env": name})
    return field(default=default, metadata={"env": name, "optional": True})


def _typed(variable: str, text: str, default: Any) -> Any:
    kind = type(default)
    if kind is bool:
        return text.lower() in _TRUE
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{variable}={text!r} is not a {kind.__name__}") from None


class _FromEnv:
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """All the required ones or `MissingSettings` naming every one that is missing or blank; a blank
        optional one keeps its default."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        missing: list[str] = []
        for f in fields(cls):  # type: ignore[arg-type]
            variable = f.metadata["env"]
            value = environ.get(variable, "").strip()
            if f.metadata.get("optional"):
                if value:
                    values[f.name] = _typed(variable, value, f.default)
            elif value:
                values[f.name] = value
            else:
                missing.append(variable)
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
    # with it, the rating window (R5) counts with the notices an operator loaded
    calendar_table: str = _env("CALENDAR_TABLE", "")


@dataclass(frozen=True, slots=True)
class CalendarCacheSettings(_FromEnv):
    """How long a container keeps the loaded calendar notices before reading them again."""

    seconds: float = _env("CALENDAR_CACHE_SECONDS", 60.0)


@dataclass(frozen=True, slots=True)
class RegistrySettings(_FromEnv):
    """What the registry function needs; with the calendar table, dry-runs count with the loaded notices."""

    connectors_table: str = _env("CONNECTORS_TABLE")
    calendar_table: str = _env("CALENDAR_TABLE", "")


@dataclass(frozen=True, slots=True)
class ForwardSettings(_FromEnv):
    """What the forward and sweep functions need; the optional ones are docs/forwarding.md's knobs."""

    ratings_table: str = _env("RATINGS_TABLE")
    forward_queue_url: str = _env("FORWARD_QUEUE_URL")
    province_url: str = _env("PROVINCE_URL")
    province_secret_arn: str = _env("PROVINCE_SECRET_ARN")
    dead_letter_url: str = _env("FORWARD_DLQ_URL", "")
    work_orders_table: str = _env("WORK_ORDERS_TABLE", "")  # with it, a bad rating forwarded opens its order (R10)
    calendar_table: str = _env("CALENDAR_TABLE", "")
    concurrency: int = _env("FORWARD_CONCURRENCY", 10)  # a batch's sends at once
    max_receives: int = _env("FORWARD_MAX_RECEIVES", 0)  # the queue's maxReceiveCount (0: not known)
    safety_margin_ms: int = _env("FORWARD_SAFETY_MARGIN_MS", 3000)  # kept for reporting once the sends stop
    retry_base_seconds: float = _env("FORWARD_RETRY_BASE_SECONDS", 10.0)  # the backoff's first step


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
    sms_gateway_url: str = _env("SMS_GATEWAY_URL", "")  # set: the HTTP gateway (infra.sms), else SNS
    sms_sender_id: str = _env("SMS_SENDER_ID", "")


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
class TelemetrySettings(_FromEnv):
    """Powertools' names for every function's logs and metrics, and whether the X-Ray tracer is built."""

    service: str = _env("POWERTOOLS_SERVICE_NAME", "hcp-hub")
    namespace: str = _env("POWERTOOLS_METRICS_NAMESPACE", "HcpHub")
    trace_disabled: bool = _env("POWERTOOLS_TRACE_DISABLED", False)
    task_root: str = _env("LAMBDA_TASK_ROOT", "")
    sam_local: str = _env("AWS_SAM_LOCAL", "")
    chalice_local: str = _env("AWS_CHALICE_CLI_MODE", "")

    @property
    def tracing(self) -> bool:
        """Where Powertools' Tracer would record: in Lambda, not disabled. Elsewhere it is not even built,
        since importing the X-Ray SDK costs ~250 ms (it creates an X-Ray client at import)."""
        return bool(self.task_root) and not self.trace_disabled and not (self.sam_local or self.chalice_local)


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


@dataclass(frozen=True, slots=True)
class ReportsSettings(_FromEnv):
    """What the reports function (通报, R19) needs; the ratings and work-order tables for `rebuild` only."""

    rollups_table: str = _env("ROLLUPS_TABLE")
    reports_bucket: str = _env("REPORTS_BUCKET")
    report_city: str = _env("REPORT_CITY")
    topic_arn: str = _env("WORK_ORDER_TOPIC_ARN")
    # the scheduled run's one job per report (infra.reports.jobs); without it every report is written in the run
    reports_queue_url: str = _env("REPORTS_QUEUE_URL", "")
    ratings_table: str = _env("RATINGS_TABLE", "")
    work_orders_table: str = _env("WORK_ORDERS_TABLE", "")


PERSONAL_DATA_ALGORITHMS = ("AES-256-GCM", "SM4-GCM")  # infra.sealing.ALGORITHMS' names


@dataclass(frozen=True, slots=True)
class PersonalDataSettings(_FromEnv):
    """The personal-data keys of every store of ratings and cases (R20, infra.sealing; template.yaml's Globals)."""

    data_key_id: str = _env("DATA_KEY_ID")  # the KMS key of the data keys
    lookup_secret_arn: str = _env("LOOKUP_KEY_SECRET_ARN")  # the HMAC key of the look-ups
    algorithm: str = _env("PERSONAL_DATA_ALGORITHM", "AES-256-GCM")

    def __post_init__(self) -> None:
        if self.algorithm not in PERSONAL_DATA_ALGORITHMS:
            raise ValueError(f"PERSONAL_DATA_ALGORITHM must be one of {', '.join(PERSONAL_DATA_ALGORITHMS)}")


@dataclass(frozen=True, slots=True)
class ProvinceSettings(_FromEnv):
    """The provincial client's (infra.province): where, its credentials' secret, timeouts, mapping or profile."""

    url: str = _env("PROVINCE_URL")
    secret_arn: str = _env("PROVINCE_SECRET_ARN")
    outcome_url: str = _env("PROVINCE_OUTCOME_URL", "")  # blank: derived from the URL
    connect_timeout: float = _env("PROVINCE_CONNECT_TIMEOUT", 2.0)  # infra.province.client.DEFAULT_TIMEOUT
    read_timeout: float = _env("PROVINCE_READ_TIMEOUT", 5.0)
    profile: str = _env("PROVINCE_PROFILE", "")  # a shipped name or a path; blank or `national`: none
    mapping: str = _env("PROVINCE_MAPPING", "")  # JSON text
    mapping_file: str = _env("PROVINCE_MAPPING_FILE", "")  # a path
    pool_size: int = _env("FORWARD_CONCURRENCY", 10)  # one connection per concurrent send

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        try:
            return super(ProvinceSettings, cls).from_env(environ)
        except MissingSettings as exc:
            raise RuntimeError(f"the provincial client needs {' and '.join(exc.names)} in the environment") from None

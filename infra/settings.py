"""Settings: frozen, read from the environment the template gives each function, on first use.

Read on a function's first invocation, not at import, so a missing variable is named in that
invocation's error instead of failing the import with a KeyError.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Self


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

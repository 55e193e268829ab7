"""Connectors: who may send ratings, and the secret their requests are signed with; the nonces that stop replays."""

from __future__ import annotations

import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

__all__ = [
    "CONNECTOR_ID",
    "RETIRED_KEPT",
    "Connector",
    "ConnectorChanged",
    "ConnectorStatus",
    "ConnectorStore",
    "NonceStore",
    "UnknownConnector",
]


ConnectorStatus = Literal["active", "disabled"]
CONNECTOR_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}$")
_KIND = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


@dataclass(frozen=True, slots=True)
class Connector:
    """A registered source. `settings` are overrides of its family's spec (code tables, time formats);
    a `custom` connector carries its own declarative `spec` (the text its department wrote).

    Scope (R20): `agencies` (credit codes) and `regions` (division-code prefixes) it may rate for; an
    empty list does not restrict (connectors registered through the API always name their agencies).
    After a rotation the `previous_secret` still signs until `previous_valid_until`.
    """

    connector_id: str
    kind: str
    name: str
    department: str
    status: ConnectorStatus
    secret: str = field(repr=False)
    created_at: datetime
    settings: Mapping[str, Any] = field(default_factory=dict, hash=False)
    owner_agency: str = ""
    agencies: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    spec: str | None = field(default=None, repr=False)
    previous_secret: str | None = field(default=None, repr=False)
    previous_valid_until: datetime | None = None
    updated_at: datetime | None = None
    # Secrets older than the previous one, with when each stopped signing: never accepted, kept (sealed) only so
    # a request signed with one is told KEY_RETIRED rather than SIGNATURE_INVALID. Newest first, at most RETIRED_KEPT.
    retired: tuple[tuple[str, datetime], ...] = field(default=(), repr=False)

    @property
    def active(self) -> bool:
        return self.status == "active"


RETIRED_KEPT = 5  # retired secrets remembered per connector, for KEY_RETIRED


class UnknownConnector(LookupError):
    pass


class ConnectorChanged(RuntimeError):
    """Someone else changed the connector between our read and our write (two rotations at once): read again."""


class ConnectorStore(ABC):
    """Connectors by id. `create` owns the id and the secret, so every adapter makes them the same way."""

    def create(
        self,
        kind: str,
        name: str,
        department: str,
        settings: Mapping[str, Any] | None = None,
        *,
        now: datetime,
        owner_agency: str = "",
        agencies: Sequence[str] = (),
        regions: Sequence[str] = (),
        spec: str | None = None,
    ) -> tuple[Connector, str]:
        """A new active connector and its secret (returned here once, to be handed to the source)."""
        if not _KIND.match(kind):
            raise ValueError(f"not a source family name: {kind!r}")
        if not name.strip() or not department.strip():
            raise ValueError("a connector needs a name and an owning department")
        secret = secrets.token_urlsafe(32)
        connector = Connector(
            connector_id=f"{kind.replace('_', '-')}-{secrets.token_hex(6)}",
            kind=kind,
            name=name.strip(),
            department=department.strip(),
            status="active",
            secret=secret,
            created_at=now,
            settings=dict(settings or {}),
            owner_agency=owner_agency,
            agencies=tuple(agencies),
            regions=tuple(regions),
            spec=spec,
            updated_at=now,
        )
        self._insert(connector)
        return connector, secret

    @abstractmethod
    def _insert(self, connector: Connector) -> None:
        """Store a new connector; its id is fresh (an existing one is never overwritten)."""

    @abstractmethod
    def get(self, connector_id: str) -> Connector | None: ...

    @abstractmethod
    def list(self) -> Sequence[Connector]:
        """Every connector, by id."""

    def set_status(self, connector_id: str, status: ConnectorStatus, *, now: datetime | None = None) -> Connector:
        """Disable (or re-enable) a connector; raises `UnknownConnector`."""
        return self.update(connector_id, now=now, status=status)

    def update(self, connector_id: str, *, now: datetime | None = None, **changes: Any) -> Connector:
        """The connector with `changes` (name, scope, spec, settings, status) applied; raises `UnknownConnector`."""
        current = self.get(connector_id)
        if current is None:
            raise UnknownConnector(connector_id)
        updated = replace(current, **changes, updated_at=now or current.updated_at)
        self._replace(updated, previous=current)
        return updated

    def rotate(self, connector_id: str, *, now: datetime, grace: timedelta) -> tuple[Connector, str]:
        """A new secret (returned once); the current one keeps signing until `now + grace`."""
        current = self.get(connector_id)
        if current is None:
            raise UnknownConnector(connector_id)
        secret = secrets.token_urlsafe(32)
        retired = current.retired
        if current.previous_secret and current.previous_valid_until is not None:
            retired = ((current.previous_secret, min(current.previous_valid_until, now)), *retired)[:RETIRED_KEPT]
        updated = replace(
            current, secret=secret, previous_secret=current.secret, previous_valid_until=now + grace, updated_at=now,
            retired=retired,
        )  # fmt: skip
        self._replace(updated, previous=current)
        return updated, secret

    @abstractmethod
    def _replace(self, connector: Connector, previous: Connector | None = None) -> None:
        """Overwrite a stored connector; with `previous`, only if it is still what is stored (else
        `ConnectorChanged`), so of two concurrent rotations one fails rather than one secret being lost."""


class NonceStore(ABC):
    """Nonces of signed requests, remembered long enough that a replay inside the time window is seen."""

    @abstractmethod
    def remember(self, connector_id: str, nonce: str, *, now: datetime, ttl: timedelta) -> bool:
        """True the first time this connector uses `nonce`; False if it is remembered (a replay).

        Atomic: of two concurrent calls with the same nonce, exactly one gets True.
        """

"""What ingest needs besides the stores: the raw bytes archived as sent, and normalization (the adapters live in
connectors/)."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from hub.errors import Problem
    from hub.rating import Rating

__all__ = [
    "NormalizedItem",
    "Normalizer",
    "RawArchive",
    "archive_key",
]


class RawArchive(ABC):
    """The bytes a source sent, exactly, kept before anything is read from them."""

    @abstractmethod
    def put(
        self, connector_id: str, request_id: str, body: bytes, content_type: str | None, received_at: datetime
    ) -> str:
        """Archive `body`; returns its key (`raw/{connector_id}/{yyyy}/{mm}/{dd}/{request_id}`)."""

    @abstractmethod
    def get(self, key: str) -> tuple[bytes, str | None]:
        """The archived bytes and content type. Raises `KeyError`."""


_SHANGHAI = ZoneInfo("Asia/Shanghai")


def archive_key(connector_id: str, request_id: str, received_at: datetime) -> str:
    """Dated by the local day in China (DESIGN §1), so an operator finds a day's payloads under one prefix."""
    day = received_at.astimezone(_SHANGHAI)
    safe_id = re.sub(r"[^A-Za-z0-9._-]", "_", request_id)[:128] or "_"
    return f"raw/{connector_id}/{day:%Y}/{day:%m}/{day:%d}/{safe_id}"


class NormalizedItem(Protocol):
    """One record of a body: a valid rating, or the problems that refused it."""

    @property
    def index(self) -> int: ...

    @property
    def outcome(self) -> str: ...

    @property
    def rating(self) -> Rating | None: ...

    @property
    def problems(self) -> Sequence[Problem]: ...

    @property
    def source_rating_id(self) -> str | None: ...


class Normalizer(Protocol):
    """Bytes from a source to normalized items; raises `hub.errors.Refused` for a body it cannot read."""

    def __call__(
        self,
        adapter: Any,
        body: bytes,
        content_type: str | None,
        *,
        connector_id: str,
        received_at: datetime,
        now: datetime,
    ) -> Sequence[NormalizedItem]: ...

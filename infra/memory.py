"""In-memory fakes of every port: the same contract as the AWS adapters (the contract tests run both).

Thread-safe, since the local cloud and the race tests call them from several threads at once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from hub.ports import (
    ACCEPTED,
    DUPLICATE,
    Connector,
    ConnectorStore,
    ForwardQueue,
    NonceStore,
    PutResult,
    RatingStore,
    RawArchive,
    StoredRating,
    UnknownConnector,
    UnknownRating,
    archive_key,
)
from hub.rating import Rating


class InMemoryConnectorStore(ConnectorStore):
    def __init__(self, connectors: Sequence[Connector] = ()) -> None:
        self._lock = threading.Lock()
        self._connectors = {c.connector_id: c for c in connectors}

    def _insert(self, connector: Connector) -> None:
        with self._lock:
            if connector.connector_id in self._connectors:
                raise ValueError(f"connector {connector.connector_id} exists")
            self._connectors[connector.connector_id] = connector

    def get(self, connector_id: str) -> Connector | None:
        return self._connectors.get(connector_id)

    def list(self) -> Sequence[Connector]:
        return sorted(self._connectors.values(), key=lambda c: c.connector_id)

    def _replace(self, connector: Connector) -> None:
        with self._lock:
            if connector.connector_id not in self._connectors:
                raise UnknownConnector(connector.connector_id)
            self._connectors[connector.connector_id] = connector


class InMemoryNonceStore(NonceStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._expires: dict[tuple[str, str], datetime] = {}

    def remember(self, connector_id: str, nonce: str, *, now: datetime, ttl: timedelta) -> bool:
        key = (connector_id, nonce)
        with self._lock:
            expires = self._expires.get(key)
            if expires is not None and expires >= now:
                return False
            self._expires[key] = now + ttl
            return True

    def __len__(self) -> int:
        return len(self._expires)


class InMemoryRatingStore(RatingStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ratings: dict[str, StoredRating] = {}
        self._slots: dict[str, str] = {}  # duplicate key -> rating id

    def put_new(self, rating: Rating, raw_ref: str) -> PutResult:
        content_hash = self.content_hash(rating)
        with self._lock:
            existing = self._ratings.get(rating.rating_id)
            if existing is not None:
                return DUPLICATE if existing.content_hash == content_hash else PutResult("conflict", "source_id")
            if rating.duplicate_key in self._slots:
                return PutResult("conflict", "case")
            self._ratings[rating.rating_id] = StoredRating(
                rating, raw_ref, content_hash, rating.source.received_at, "pending"
            )
            self._slots[rating.duplicate_key] = rating.rating_id
            return ACCEPTED

    def get(self, rating_id: str) -> StoredRating | None:
        return self._ratings.get(rating_id)

    def _update(self, rating_id: str, **changes: object) -> None:
        with self._lock:
            stored = self._ratings.get(rating_id)
            if stored is None:
                raise UnknownRating(rating_id)
            self._ratings[rating_id] = replace(stored, **changes)  # type: ignore[arg-type]

    def mark_forwarded(self, rating_id: str, receipt: str, *, at: datetime) -> None:
        self._update(rating_id, forward_state="forwarded", receipt=receipt)

    def mark_parked(self, rating_id: str, reason: str, *, at: datetime) -> None:
        self._update(rating_id, forward_state="parked", parked_reason=reason)

    def pending_older_than(self, cutoff: datetime, limit: int) -> Sequence[str]:
        pending = sorted(
            (s.stored_at, s.rating.rating_id)
            for s in list(self._ratings.values())
            if s.forward_state == "pending" and s.stored_at < cutoff
        )
        return [rating_id for _, rating_id in pending[:limit]]

    def __len__(self) -> int:
        return len(self._ratings)


class InMemoryRawArchive(RawArchive):
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str | None]] = {}

    def put(
        self, connector_id: str, request_id: str, body: bytes, content_type: str | None, received_at: datetime
    ) -> str:
        key = archive_key(connector_id, request_id, received_at)
        self.objects[key] = (bytes(body), content_type)
        return key

    def get(self, key: str) -> tuple[bytes, str | None]:
        return self.objects[key]


class InMemoryForwardQueue(ForwardQueue):
    """`unavailable` makes every enqueue fail, as a queue outage would (the ratings stay pending)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[dict[str, str]] = []
        self.unavailable = False

    def enqueue(self, rating_ids: Sequence[str]) -> Sequence[str]:
        if self.unavailable:
            return list(rating_ids)
        with self._lock:
            self.messages.extend({"rating_id": rating_id} for rating_id in rating_ids)
        return []

    def rating_ids(self) -> list[str]:
        return [m["rating_id"] for m in self.messages]

"""Personal data (R20): sealed before it is stored, and every read in clear audited first."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "AuditEntry",
    "AuditLog",
    "PersonalDataSealer",
]


class PersonalDataSealer(ABC):
    """R20: the rater's personal data is sealed before it is stored (`infra.sealing.EnvelopeSealer`).

    `context` is the record's id (a rating id, a case key): a sealed value opens only with it, so it
    cannot be pasted onto another record.
    """

    @abstractmethod
    def seal(self, plaintext: bytes, *, context: str) -> bytes: ...

    @abstractmethod
    def unseal(self, sealed: bytes, *, context: str) -> bytes:
        """Raises `ValueError` (`infra.sealing.SealError`) for a value tampered with or moved."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One read of personal data in clear (R20): who, when, which ratings, which request; never the data."""

    at: datetime
    subject: str
    role: str
    action: str
    rating_ids: tuple[str, ...]
    request_id: str


class AuditLog(ABC):
    """Every unmasked read is recorded here first; a read whose record fails is not answered."""

    @abstractmethod
    def record(self, entry: AuditEntry) -> None: ...

    @abstractmethod
    def between(self, start: datetime, end: datetime) -> Sequence[AuditEntry]:
        """Entries with `start <= at < end`, oldest first."""

"""Messages out: SMS reminders (R7) and the log of what became of each; work-order notices to departments."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from hub.outcomes import Notice

__all__ = [
    "Notification",
    "NotificationLog",
    "NotificationOutcome",
    "Notifier",
    "SmsFailed",
    "SmsSender",
]


class SmsFailed(Exception):
    """The SMS service did not take the message; `reason` carries no phone number or text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SmsSender(ABC):
    """Sends one SMS (R7). Adapters: Amazon SNS, a provincial SMS gateway over HTTP."""

    channel: str = "sms"

    @abstractmethod
    def send(self, phone: str, text: str) -> str:
        """The service's message id. `phone` is a checked mainland mobile (11 digits). Raises SmsFailed."""


NotificationOutcome = Literal["sent", "skipped", "deferred", "failed"]


@dataclass(frozen=True, slots=True)
class Notification:
    """One reminder sent, skipped, deferred or failed. `phone` is masked before it gets here (R20)."""

    at: datetime
    case_key: str
    case_no: str
    kind: str
    outcome: NotificationOutcome
    reason: str | None = None
    phone: str | None = None
    channel: str | None = None
    message_id: str | None = None
    attempt: int = 1

    def as_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["at"] = self.at.isoformat()
        return data


class NotificationLog(ABC):
    """What happened to every reminder, with the phone masked: the answer to "was I told?"."""

    @abstractmethod
    def record(self, notification: Notification) -> None: ...

    @abstractmethod
    def between(self, start: datetime, end: datetime) -> Sequence[Notification]:
        """Notifications with `start <= at < end`, oldest first."""


class Notifier(ABC):
    """Publishes work-order notices (SNS in AWS). At least once: a subscriber drops repeats by `Notice.key`."""

    @abstractmethod
    def publish(self, notice: Notice) -> str:
        """The message id. Raises on failure: the entry stays owed."""

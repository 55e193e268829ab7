"""The one adapter interface: bytes in (with content type), unified records or refusals out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.errors import Problem


@dataclass(slots=True)
class Translation:
    """One source record in the unified shape (not yet validated), or what stopped it."""

    unified: dict[str, Any]
    source_rating_id: str | None
    problems: list[Problem] = field(default_factory=list)
    source_path: Callable[[str], str | None] = lambda _path: None


class Adapter(ABC):
    """A source family. `split` refuses a whole body; `translate` refuses one record."""

    kind: str

    @abstractmethod
    def split(self, body: bytes, content_type: str | None) -> list[Any]:
        """The records in a body (one, or a batch envelope's items). Raises `hub.errors.Refused`."""

    @abstractmethod
    def translate(self, record: Any) -> Translation:
        """One record in the unified field names, with values translated but not yet validated."""

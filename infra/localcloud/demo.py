"""Demo data for the local cloud (stub: the provincial stub and demo connectors come later)."""

from __future__ import annotations

from typing import Any


def seed(cloud: Any) -> dict[str, Any]:
    return {}

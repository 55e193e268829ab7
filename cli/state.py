"""The local cloud's state file (`STATE_DIR/local.json`): where the CLI finds the running hub."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cli.main import UsageError

DEFAULT_STATE_DIR = ".hcp"


def state_dir(value: str | None = None) -> Path:
    return Path(value or os.environ.get("HCP_STATE_DIR", DEFAULT_STATE_DIR))


def load_state(directory: str | None = None) -> dict[str, Any]:
    path = state_dir(directory) / "local.json"
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no local cloud state at {path}: start it with `make run` (or `hcp local up`)") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not valid JSON: {exc}") from None

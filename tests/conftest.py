"""Shared test helpers: the samples of ../shared/samples, loaded by name."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import settings

pytest_plugins = ["infra.localcloud.pytest_plugin"]  # the `local_cloud` fixture integrators use too

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = Path(os.environ.get("HCP_SAMPLES", ROOT.parent / "shared" / "samples"))

settings.register_profile("ci", max_examples=60, deadline=None)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def sample_files() -> list[Path]:
    """Every raw sample (not the expectations), across all families."""
    return sorted(p for p in SAMPLES.glob("*/*") if ".expected." not in p.name and p.name != "README.md")


def expected_for(sample: Path) -> dict:
    stem = sample.name.split(".")[0]
    return json.loads((sample.parent / f"{stem}.expected.json").read_text("utf-8"))


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    if not SAMPLES.is_dir():
        pytest.fail(f"the shared samples are not at {SAMPLES}; set HCP_SAMPLES")
    return SAMPLES

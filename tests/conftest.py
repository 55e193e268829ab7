"""Shared test helpers: the samples of ../shared/samples, loaded by name."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import botocore.session
import pytest
from hypothesis import settings

pytest_plugins = ["infra.localcloud.pytest_plugin"]  # the `local_cloud` fixture integrators use too

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = Path(os.environ.get("HCP_SAMPLES", ROOT.parent / "shared" / "samples"))

# One botocore data loader per data path for the whole process, not one per boto3 session: moto's `mock_aws` gives
# every test a new default session (it patches boto3.DEFAULT_SESSION), and each new session's loader parses
# botocore's endpoint and service models again (JSON, about 0.3 s of CPU per client; a third of the integration
# tests' time). The loader caches what it read and never changes it, as it does for the clients of one session.
botocore.session.create_loader = functools.cache(botocore.session.create_loader)  # type: ignore[assignment]

settings.register_profile("ci", max_examples=60, deadline=None)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def deploy_script(name: str) -> ModuleType:
    """deploy/<name>.py (a script, not a package), loaded once per process: the test modules that use it share
    what it computes once (deploy/lint.py's findings per region)."""
    key = f"deploy_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, ROOT / "deploy" / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[key] = module
    return sys.modules[key]


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


# `make test` runs on pytest-xdist workers. A scope runs whole on one worker, in collection order, and the next
# free worker takes the next scope. The e2e tests on the session's cloud are one scope (one session cloud, the IAM
# check and the log search last: tests/e2e/conftest.py); an e2e module apart from it (a cloud of its own, named
# in tests/e2e/conftest.py) is a scope of its own, which the other worker may run meanwhile. The e2e scopes go
# first, the longest first (FIRST), since one of them is the run's long pole. Every other module is a scope of
# its own (its module fixtures are made once), the biggest first, unless it is named in SAME_WORKER, to share a
# worker with a module that reuses what it computed once per process.
E2E = "tests/e2e"
FIRST = (  # the longest scopes, in the order they are handed out (seconds on an idle 2-core machine, roughly)
    f"{E2E}/test_readme_tour.py",  # `hcp local demo-month`: minutes
    E2E,  # the session's cloud: every e2e module not apart
    f"{E2E}/test_pipeline.py",  # 2000 ratings through a faulty province
    f"{E2E}/test_cases.py",  # the clock moved into 2027
    f"{E2E}/test_forward_faults.py",
    f"{E2E}/test_local_up_terminal.py",
    "tests/integration/test_package.py",  # two `pip install --target`
)
SAME_WORKER = {
    "tests/integration/test_lint.py": "cfn-lint",  # deploy/lint.py lints each region once for both
    "tests/integration/test_signin_regions.py": "cfn-lint",
}


def scope_of(nodeid: str) -> str:
    module = nodeid.split("::", 1)[0]
    if module.startswith(f"{E2E}/"):
        from tests.e2e.conftest import apart

        return module if apart(module) else E2E
    return SAME_WORKER.get(module, module)


def handed_out(scope: str) -> tuple[int, int]:
    """The e2e scopes in FIRST, in its order; the other e2e scopes; the other scopes in FIRST; the rest."""
    e2e = scope.startswith(E2E)
    if scope in FIRST:
        return (0 if e2e else 2, FIRST.index(scope))
    return (1 if e2e else 3, 0)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """For any of xdist's load modes (`--dist load|loadscope|loadfile|loadgroup`): the e2e tests on the session's
    cloud cannot be spread over workers. (xdist_group marks do not group under pytest 9.2: pytest-xdist issue
    1386.)"""
    if config.getvalue("dist") not in ("load", "loadscope", "loadfile", "loadgroup"):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByTestScope(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            for scope in sorted(self.workqueue, key=handed_out):  # stable: xdist's order within a rank
                self.workqueue.move_to_end(scope)
            super()._assign_work_unit(node)

    return ByTestScope(config, log)

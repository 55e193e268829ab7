"""The Lambda artifact (`make package`, deploy/build.py): built with the very pins and steps that ship, for this
machine's own platform, every handler of template.yaml imports from it alone — no repository, no virtual
environment on the path — with the template's environment. A dependency left out of the pins fails here,
not in AWS (issue 10: `ModuleNotFoundError: No module named 'aws_lambda_powertools'` on every function)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from infra.localcloud.translate import load_template

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("deploy_build", ROOT / "deploy" / "build.py")
assert _spec and _spec.loader
build = importlib.util.module_from_spec(_spec)  # deploy/build.py: what `make package` runs
_spec.loader.exec_module(build)
SAM = load_template(ROOT / "template.yaml")
FUNCTIONS = {k: v for k, v in SAM["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
HOST = {
    "platform": sysconfig.get_platform().replace("linux-", "manylinux2014_").replace("-", "_"),
    "python_version": f"{sys.version_info.major}.{sys.version_info.minor}",
    "abi": f"cp{sys.version_info.major}{sys.version_info.minor}",
}
PIP = [sys.executable, "-m", "pip"]

# A fresh interpreter that sees the artifact and the standard library only: -I (no PYTHON* variables, no
# user site, no script directory), -S (no site-packages), and the artifact's two directories as Lambda
# lays them out (/var/task, then /opt/python of the layer).
CHILD = """
import importlib, json, sys
code, layer, modules = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path[:0] = [code, layer]
for name in modules:
    module, _, attribute = name.rpartition(".") if name.endswith(".handler") else (name, "", "")
    loaded = importlib.import_module(module)
    assert loaded.__file__.startswith(code), loaded.__file__
    assert not attribute or callable(getattr(loaded, attribute)), name
print(json.dumps(sorted(m for m in ("moto", "samtranslator", "cfnlint", "werkzeug") if m in sys.modules)))
"""


def _literal(value: Any, name: str) -> str:
    """A template value as Lambda would see it: parameters at their default or a real-looking value,
    resource references as a plausible physical id (nothing is called at import)."""
    if isinstance(value, str | int | float | bool):
        return str(value)
    ref = value.get("Ref") if isinstance(value, dict) else None
    parameter = SAM["Parameters"].get(ref, {}) if isinstance(ref, str) else {}
    if parameter:
        return str(parameter.get("Default") or "https://province.example.gov.cn/hcp")
    return f"arn:aws:local:us-east-1:123456789012:{name.lower()}"


def environment(logical_id: str) -> dict[str, str]:
    variables = dict(SAM["Globals"]["Function"]["Environment"]["Variables"])
    variables.update(FUNCTIONS[logical_id]["Properties"].get("Environment", {}).get("Variables", {}))
    env = {name: _literal(value, name) for name, value in variables.items()}
    lambda_env = {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_LAMBDA_FUNCTION_NAME": logical_id}
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **lambda_env, **env}


def import_from(artifact: Path, layer: Path, modules: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", CHILD, str(artifact), str(layer), json.dumps(modules)],
        cwd=artifact.parent, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The code and the layer, built the way `make build-<LogicalId>` builds them, for this machine."""
    root = tmp_path_factory.mktemp("artifact")
    layer = root / "DependenciesLayer" / "python"
    build.deps(layer, lock_file=build.RUNTIME_LOCK, pip=PIP, **HOST)
    build.code(root / "IngestFunction")
    return root / "IngestFunction", layer


def test_the_runtime_pins_are_derived_from_pyproject_and_the_lock() -> None:
    build.lock(check=True)  # raises SystemExit naming the command if deploy/requirements-runtime.txt is stale


def test_the_artifact_holds_the_runtime_packages_only(artifact: tuple[Path, Path]) -> None:
    code, layer = artifact

    assert sorted(p.name for p in code.iterdir()) == ["connectors", "functions", "hub", "infra"]
    assert not (code / "infra" / "localcloud").exists()
    assert not list(code.rglob("*.pyc")) and not list(code.rglob("local.json"))
    shipped = {p.name.split("-")[0].lower() for p in layer.glob("*.dist-info")}
    assert not shipped & {"moto", "aws_sam_translator", "cfn_lint", "pytest", "hypothesis", "ruff"}
    assert {"pydantic_core", "orjson", "cryptography"} <= shipped
    assert list(layer.glob("pydantic_core/*.so")), "pip kept the compiled extension"


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_handler_imports_from_the_artifact_alone(artifact: tuple[Path, Path], logical_id: str) -> None:
    code, layer = artifact

    done = import_from(code, layer, [FUNCTIONS[logical_id]["Properties"]["Handler"]], environment(logical_id))

    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == []  # no local-only package (moto, samtranslator, ...) imported


def test_every_module_of_the_artifact_imports_so_no_lazy_import_is_left_unshipped(artifact: tuple[Path, Path]) -> None:
    code, layer = artifact
    modules = sorted(
        ".".join(p.relative_to(code).with_suffix("").parts).removesuffix(".__init__") for p in code.rglob("*.py")
    )

    done = import_from(code, layer, modules, environment("IngestFunction"))

    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_a_dependency_missing_from_the_pins_fails_the_import(artifact: tuple[Path, Path], tmp_path: Path) -> None:
    """The negative control: the same build without one pinned package cannot load the ingest handler."""
    code, _ = artifact
    pins = [p for p in build.RUNTIME_LOCK.read_text().splitlines() if not p.startswith("aws-lambda-powertools==")]
    (tmp_path / "pins.txt").write_text("\n".join(pins) + "\n")
    layer = tmp_path / "python"
    build.deps(layer, lock_file=tmp_path / "pins.txt", pip=PIP, **HOST)

    handler = FUNCTIONS["IngestFunction"]["Properties"]["Handler"]
    done = import_from(code, layer, [handler], environment("IngestFunction"))

    assert done.returncode != 0
    assert "No module named 'aws_lambda_powertools'" in done.stderr
    shutil.rmtree(layer)


def test_every_function_is_built_by_the_makefile_with_the_layer() -> None:
    """`sam build` runs `make build-<LogicalId>` (BuildMethod: makefile); a function without its target fails the
    build, one without the layer dies on its first import."""
    targets = ["build-DependenciesLayer", *(f"build-{logical_id}" for logical_id in sorted(FUNCTIONS))]

    dry = subprocess.run(["make", "-n", *targets], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "ARTIFACTS_DIR": "/tmp/never"})  # fmt: skip

    assert dry.returncode == 0, dry.stderr
    assert all(FUNCTIONS[f].get("Metadata") == {"BuildMethod": "makefile"} for f in FUNCTIONS)
    layer = SAM["Resources"]["DependenciesLayer"]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    assert SAM["Globals"]["Function"]["Layers"] == [{"Ref": "DependenciesLayer"}]
    # ReportsFunction alone adds ReportsLayer (the renderers' 88 MB), appended by SAM to the Globals' layer
    assert {f: p["Properties"]["Layers"] for f, p in FUNCTIONS.items() if "Layers" in p["Properties"]} == {
        "ReportsFunction": [{"Ref": "ReportsLayer"}]
    }

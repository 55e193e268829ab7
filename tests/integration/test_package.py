"""The Lambda artifact (`make package`, deploy/build.py): built with the very pins and steps that ship, for this
machine's own platform, every handler of template.yaml imports from it alone — no repository, no virtual
environment on the path — with the template's environment. A dependency left out of the pins fails here,
not in AWS (issue 10: `ModuleNotFoundError: No module named 'aws_lambda_powertools'` on every function)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
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
LAMBDA_PYTHON = build.lambda_python()  # the runtime's python3.12, which compiles the bytecode the build ships
needs_lambda_python = pytest.mark.skipif(LAMBDA_PYTHON is None, reason="no python3.12: the build ships no bytecode")

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


def _pyc_flags(pyc: Path) -> int:
    """PEP 552's flags word of a .pyc header: 0b01 hash-based, 0b10 check the source's hash; 0 timestamp-based."""
    return int.from_bytes(pyc.read_bytes()[4:8], "little")


def test_the_artifact_ships_bytecode_for_python312_never_checked_against_the_source(
    artifact: tuple[Path, Path],
) -> None:
    """Lambda's /var/task and /opt are read-only: a module without its .pyc is compiled on every cold start, and
    python3.12 ignores another version's. Unchecked-hash: zip and deploy timestamps cannot invalidate it."""
    code, _ = artifact
    pycs = {p for tree in artifact for p in tree.rglob("*.pyc")}
    if LAMBDA_PYTHON is None:  # built without, after the build's warning
        assert not pycs
        return

    sources = [p for tree in artifact for p in tree.rglob("*.py")]
    expected = {p.parent / "__pycache__" / f"{p.stem}.cpython-312.pyc" for p in sources}
    assert len(sources) > 1000 and {p for p in expected if p.is_relative_to(code)}  # the layer's and ours
    assert expected == pycs  # every module, for python3.12 only: nothing for this machine's own interpreter
    assert {_pyc_flags(p) for p in pycs} == {0b01}


def test_the_layer_ships_botocores_models_parsed_for_python312(artifact: tuple[Path, Path]) -> None:
    """deploy/build.py `botocore_cache`: the models the functions' clients read, as marshal data stamped for this
    botocore and python3.12 (infra/botodata.py reads them instead of gunzipping and parsing the JSON)."""
    _, layer = artifact
    cache = layer / build.BOTOCORE_CACHE
    if LAMBDA_PYTHON is None:  # marshal data is read by the Python that wrote it: none without a python3.12
        assert not cache.exists()
        return
    assert {p.name for p in cache.iterdir() if p.is_dir()} == set(build.BOTOCORE_SERVICES)
    assert (cache / "endpoints.marshal").is_file() and (cache / "s3" / "2006-03-01" / "service-2.marshal").is_file()
    version = re.findall(r"__version__ = '([^']+)'", (layer / "botocore" / "__init__.py").read_text())
    assert (cache / "STAMP").read_text().split()[:4] == ["botocore", *version, "python", "3.12"]
    # python3.12 reads each cached file as the very data of botocore's JSON (the layer here is this machine's
    # wheels, so the loader itself is run by tests/unit/test_botodata.py; this checks what the build wrote)
    child = (
        "import gzip, json, marshal, sys; from pathlib import Path\n"
        "data, cache = Path(sys.argv[1]), Path(sys.argv[2])\n"
        "for rel in sys.argv[3:]:\n"
        "    raw = (data / rel).read_bytes(); raw = gzip.decompress(raw) if rel.endswith('.gz') else raw\n"
        "    name = rel.removesuffix('.gz').removesuffix('.json') + '.marshal'\n"
        "    assert marshal.loads((cache / name).read_bytes()) == json.loads(raw), rel\n"
        "print('same')"
    )
    checked = ["endpoints.json", "s3/2006-03-01/service-2.json.gz", "s3/2006-03-01/endpoint-rule-set-1.json.gz"]
    done = subprocess.run([LAMBDA_PYTHON, "-I", "-S", "-c", child, str(layer / "botocore" / "data"), str(cache),
                           *checked], capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "same"


def _module_tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text('VALUE = "compiled"\n')
    return root / "pkg"


def _edit_and_import(root: Path) -> str:
    """Changes the module's source (a deploy rewrites timestamps) and imports it with python3.12 as Lambda does,
    from a tree it cannot write to (-B): which text ran, the shipped bytecode's or the source's."""
    source = root / "pkg" / "__init__.py"
    source.write_text('VALUE = "source"\n')
    os.utime(source, (source.stat().st_mtime + 3600,) * 2)
    assert LAMBDA_PYTHON
    child = "import sys; sys.path[:0] = sys.argv[1:]; import pkg; print(pkg.VALUE)"
    done = subprocess.run([LAMBDA_PYTHON, "-I", "-S", "-B", "-c", child, str(root)], cwd=root, capture_output=True,
                          text=True, check=True)  # fmt: skip
    return done.stdout.strip()


@needs_lambda_python
def test_python312_loads_the_shipped_bytecode_whatever_the_timestamps(tmp_path: Path) -> None:
    assert build.compile_bytecode(_module_tree(tmp_path / "built"))
    assert _edit_and_import(tmp_path / "built") == "compiled"  # the .pyc ran: nothing compiled at cold start

    # negative controls: no bytecode, or compileall's default timestamp-checked bytecode after a new timestamp
    _module_tree(tmp_path / "bare")
    assert _edit_and_import(tmp_path / "bare") == "source"
    assert LAMBDA_PYTHON
    subprocess.run([LAMBDA_PYTHON, "-m", "compileall", "-q", str(_module_tree(tmp_path / "stamped"))], check=True)
    assert _edit_and_import(tmp_path / "stamped") == "source"


def test_without_python312_the_build_ships_no_bytecode_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LAMBDA_PYTHON", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    if build.lambda_python() is not None:
        pytest.skip("this machine has a python3.12 in /usr/bin or /usr/local/bin")
    tree = _module_tree(tmp_path / "code")

    assert build.compile_bytecode(tree) is False
    assert "NO python3.12 FOUND: BUILDING WITHOUT BYTECODE" in capsys.readouterr().err
    assert not list(tree.rglob("*.pyc"))

    monkeypatch.setenv("LAMBDA_PYTHON", sys.executable)  # this machine's python 3.11: its .pyc Lambda would ignore
    with pytest.raises(SystemExit, match=r"is not a python3\.12"):
        build.compile_bytecode(tree)


def test_the_artifact_holds_the_runtime_packages_only(artifact: tuple[Path, Path]) -> None:
    code, layer = artifact

    assert sorted(p.name for p in code.iterdir()) == ["connectors", "functions", "hub", "infra"]
    assert not (code / "infra" / "localcloud").exists()
    assert not list(code.rglob("local.json"))
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

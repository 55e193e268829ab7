"""The Lambda artifact, built on a bare Linux machine: no Docker, no SAM CLI needed (python3.12 for its bytecode).

Two parts, the layout `sam build` makes (`.aws-sam/build/<LogicalId>/`), from the Makefile's
`build-<LogicalId>` targets that `sam build` itself calls (`Metadata: BuildMethod: makefile`):

- `deps`: the runtime dependencies, pip-installed once into the shared `DependenciesLayer`
  (`python/` inside the layer) as wheels for the Lambda platform (manylinux2014_aarch64, cp312,
  `--only-binary=:all:`, so the compiled `.so` files of pydantic-core, orjson and cryptography are
  the right ones), from the pins of `deploy/requirements-runtime.txt`;
- `code`: a function's code, only the runtime packages (hub, connectors, infra, functions), never
  tests, docs, bench, the CLI, the local cloud or `.hcp/` (the demo connectors' secrets).

Both ship bytecode for the runtime's interpreter: Lambda's /var/task and /opt are read-only, so a module
without its `.pyc` is compiled from source on every cold start (Powertools, pydantic, botocore, ours), and
python3.12 ignores another version's `.pyc`. `compile_bytecode` runs python3.12 (`lambda_python`: $LAMBDA_PYTHON,
`python3.12` on PATH, pyenv's, /usr/bin's) with `--invalidation-mode unchecked-hash`: the `.pyc` is used as is,
never checked against the source's timestamp (zip and deploy rewrite timestamps) nor its hash (a read per
module). Without a python3.12 the build still succeeds, without bytecode, and says so on stderr.

`lock` derives the runtime pins from pyproject's runtime dependencies and requirements.lock (run it
with the project's virtual environment, whose installed metadata gives the dependency graph);
`template` writes the built template that `sam deploy` picks up; `report` prints the sizes and
checks them against Lambda's limits. Standard library only, except `lock` (packaging).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = ROOT / "deploy" / "requirements-runtime.txt"

# What the functions import. The local cloud and the provincial stub live in infra/ but only ever run
# on a developer's machine (they import moto, samtranslator, jsonschema's stub checks): left out.
RUNTIME_PACKAGES = ("hub", "connectors", "infra", "functions")
EXCLUDED = ("infra/localcloud", "infra/province/stub.py")

# Lambda's platform: python3.12 on arm64 (template.yaml's Globals).
LAMBDA_PLATFORM = {"platform": "manylinux2014_aarch64", "python_version": "3.12", "abi": "cp312"}
LAMBDA_MARKERS = {
    "implementation_name": "cpython",
    "os_name": "posix",
    "platform_machine": "aarch64",
    "platform_python_implementation": "CPython",
    "platform_system": "Linux",
    "python_full_version": "3.12.0",
    "python_version": "3.12",
    "sys_platform": "linux",
}

MB = 1024 * 1024
UNZIPPED_LIMIT = 250 * MB  # a function and all its layers, unzipped
ZIPPED_DIRECT_LIMIT = 50 * MB  # one zip uploaded directly (sam deploy goes through S3, but stay within it)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[_normalize(name)] = version.strip()
    return pins


def runtime_pins() -> list[str]:
    """The closure of pyproject's runtime dependencies (with their extras) for Lambda's platform, each
    pinned to requirements.lock's version (or pyproject's own exact pin; the two must agree). A
    dependency pinned by neither is an error."""
    import tomllib
    from importlib import metadata

    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lock = read_lock(ROOT / "requirements.lock")
    found: dict[str, str] = {}
    todo = [(Requirement(spec), "") for spec in project["dependencies"]]
    seen: set[tuple[str, str]] = set()
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker and not requirement.marker.evaluate({**LAMBDA_MARKERS, "extra": extra}):
            continue
        name = _normalize(requirement.name)
        for wanted in ["", *sorted(requirement.extras)]:
            if (name, wanted) in seen:
                continue
            seen.add((name, wanted))
            exact = [spec.version for spec in requirement.specifier if spec.operator == "=="]
            version = lock.get(name) or (exact[0] if exact else None)
            if version is None:
                raise SystemExit(f"{requirement.name}: a runtime dependency pinned nowhere (requirements.lock)")
            if exact and exact[0] != version:
                raise SystemExit(f"{requirement.name}: pyproject pins {exact[0]}, requirements.lock {version}")
            found[name] = version
            for sub in metadata.distribution(requirement.name).requires or []:
                todo.append((Requirement(sub), wanted))
    return [f"{name}=={version}" for name, version in sorted(found.items())]


def lock(check: bool) -> None:
    text = (
        "# The Lambda artifact's pins: pyproject's runtime dependencies and what they need on python3.12/arm64,\n"
        "# at requirements.lock's versions. Generated by `python deploy/build.py lock`; a test checks it.\n"
        + "\n".join(runtime_pins())
        + "\n"
    )
    if check:
        if RUNTIME_LOCK.read_text(encoding="utf-8") != text:
            raise SystemExit(f"{RUNTIME_LOCK.relative_to(ROOT)} is stale: run `python deploy/build.py lock`")
        return
    RUNTIME_LOCK.write_text(text, encoding="utf-8")


def deps(out: Path, *, platform: str, python_version: str, abi: str, lock_file: Path, pip: list[str]) -> None:
    """pip-install the pinned wheels for the target platform into `out` (`--no-deps`: exactly the lock)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    command = [
        *pip, "install", "--quiet", "--disable-pip-version-check", "--no-deps", "--no-compile",
        "--only-binary=:all:", "--implementation", "cp", "--platform", platform,
        "--python-version", python_version, "--abi", abi, "--target", str(out), "-r", str(lock_file),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"pip could not install the pinned wheels for {platform}/cp{python_version}")
    for leftover in [out / "bin", *out.rglob("__pycache__")]:
        shutil.rmtree(leftover, ignore_errors=True)
    if compile_bytecode(out):
        botocore_cache(out / "botocore" / "data", out / BOTOCORE_CACHE)


LAMBDA_PYTHON_VERSION = (3, 12)  # template.yaml's Globals: Runtime: python3.12
NO_BYTECODE = "LAMBDA_PYTHON=none"


def _is_lambda_python(executable: str) -> bool:
    try:
        done = subprocess.run([executable, "-I", "-c", "import sys; print(*sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=30)  # fmt: skip
    except OSError:
        return False
    return done.returncode == 0 and done.stdout.split() == [str(n) for n in LAMBDA_PYTHON_VERSION]


def lambda_python() -> str | None:
    """An interpreter of the runtime's version, to compile the bytecode Lambda will load: $LAMBDA_PYTHON
    (`none`: build without bytecode; any other value must be a python3.12), else the first python3.12
    that runs (on PATH, pyenv's versions, /usr/bin, /usr/local/bin). None if there is none."""
    wanted = "python{}.{}".format(*LAMBDA_PYTHON_VERSION)
    chosen = os.environ.get("LAMBDA_PYTHON")
    if chosen is not None:
        if chosen.lower() in {"", "none"}:
            return None
        if not _is_lambda_python(chosen):
            raise SystemExit(f"LAMBDA_PYTHON={chosen} is not a {wanted} (Lambda ignores another version's bytecode)")
        return chosen
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [shutil.which(wanted), *sorted(pyenv.glob(f"{wanted[6:]}*/bin/{wanted}"), reverse=True),
                  f"/usr/bin/{wanted}", f"/usr/local/bin/{wanted}"]  # fmt: skip
    return next((str(c) for c in candidates if c and _is_lambda_python(str(c))), None)


def compile_bytecode(*trees: Path, python: str | None = None) -> bool:
    """Byte-compile every module under `trees` for the runtime's interpreter, unchecked-hash (see the module's
    docstring). Returns False, after a loud warning, when no python3.12 is found."""
    python = python or lambda_python()
    where = ", ".join(map(str, trees))
    if python is None:
        if os.environ.get("LAMBDA_PYTHON", "x").lower() in {"", "none"}:
            sys.stderr.write(f"deploy/build.py: {NO_BYTECODE}: {where} built without bytecode\n")
        else:
            sys.stderr.write(
                "\n*** deploy/build.py: NO python3.12 FOUND: BUILDING WITHOUT BYTECODE ***\n"
                f"*** {where}: in Lambda (read-only /var/task and /opt) every cold start will compile these\n"
                "*** modules from source. Install python3.12, or set LAMBDA_PYTHON=/path/to/python3.12\n"
                f"*** ({NO_BYTECODE} builds without it on purpose).\n\n"
            )
        return False
    command = [python, "-I", "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
               *map(str, trees)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"{python} -m compileall could not compile {where}")
    return True


# The services the functions create clients of (infra/bootstrap.py, infra/reports/wiring.py): their models and
# endpoint rules, and botocore's top-level data (endpoints, partitions, defaults, retries), go in the model cache.
BOTOCORE_SERVICES = ("dynamodb", "kms", "s3", "secretsmanager", "sns", "sqs")
BOTOCORE_CACHE = "botocore_marshal"  # infra/botodata.py's MODEL_CACHE: beside botocore in the layer
_CACHE_WRITER = r"""
import gzip, json, marshal, re, sys
from pathlib import Path
data, out, services = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
version = re.search(r"__version__ = '([^']+)'", (data.parent / "__init__.py").read_text("utf-8")).group(1)
files = sorted(data.glob("*.json"))
for service in services:
    files += sorted(p for p in (data / service).rglob("*") if p.name.endswith((".json", ".json.gz"))
                    and not p.name.startswith("examples-"))
for path in files:
    name = path.name.removesuffix(".gz").removesuffix(".json")
    if path.suffix == ".gz" and path.with_suffix("").exists():
        continue  # botocore reads the .json first
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8")
    target = out / path.parent.relative_to(data) / f"{name}.marshal"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(marshal.dumps(json.loads(text)))
major, minor = sys.version_info[:2]
(out / "STAMP").write_text(f"botocore {version} python {major}.{minor} marshal {marshal.version}\n", "utf-8")
print(len(files))
"""


def botocore_cache(data: Path, out: Path, python: str | None = None, services: tuple[str, ...] = BOTOCORE_SERVICES
) -> int:  # fmt: skip
    """botocore's data files the functions read (`data`: botocore/data), parsed once here and written to `out` as
    `marshal` data by the runtime's interpreter (infra/botodata.py reads them: no gunzip, no JSON parse on a cold
    start), stamped with botocore's version and Python's. Returns how many files; 0 without a python3.12."""
    python = python or lambda_python()
    if python is None:
        return 0
    shutil.rmtree(out, ignore_errors=True)
    done = subprocess.run([python, "-I", "-c", _CACHE_WRITER, str(data), str(out), *services], capture_output=True,
                          text=True)  # fmt: skip
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"{python} could not write botocore's model cache into {out}")
    return int(done.stdout)


def code(out: Path) -> None:
    """Copy the runtime packages into `out`, sources and package data, and compile them for python3.12."""
    out.mkdir(parents=True, exist_ok=True)
    excluded = {ROOT / item for item in EXCLUDED}
    for package in RUNTIME_PACKAGES:
        target = out / package
        if target.exists():
            shutil.rmtree(target)
        for path in sorted((ROOT / package).rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts or path.suffix in {".pyc", ".pyo"}:
                continue
            if any(path == item or item in path.parents for item in excluded):
                continue
            dest = out / path.relative_to(ROOT)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
    compile_bytecode(*(out / package for package in RUNTIME_PACKAGES))


def built_template(build_dir: Path) -> None:
    """template.yaml with each function's CodeUri and the layer's ContentUri pointing at its build
    directory, as `sam build` writes it: `sam deploy` then uploads these and needs no `sam build`."""
    sys.path.insert(0, str(ROOT))
    import yaml

    from infra.localcloud.translate import load_template

    template = load_template(ROOT / "template.yaml")
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            if not (build_dir / logical_id).is_dir():
                raise SystemExit(f"{logical_id} is not built: run `make package`")
            props["CodeUri"] = logical_id
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            if not (build_dir / logical_id).is_dir():
                raise SystemExit(f"{logical_id} is not built: run `make package`")
            props["ContentUri"] = logical_id
        else:
            continue
        resource.setdefault("Metadata", {})["SamResourceId"] = logical_id
    template.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    (build_dir / "template.yaml").write_text(
        yaml.safe_dump(template, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8"
    )


def _tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _zipped_size(path: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "part.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for p in sorted(path.rglob("*")):
                if p.is_file():
                    zf.write(p, p.relative_to(path))
        return archive.stat().st_size


def report(build_dir: Path) -> None:
    """Print each part's size unzipped and zipped, and fail if a function with its layers is over a limit."""
    parts = sorted(p for p in build_dir.iterdir() if p.is_dir())
    layers = [p for p in parts if p.name.endswith("Layer")]
    functions = [p for p in parts if p not in layers]
    sizes = {p.name: (_tree_size(p), _zipped_size(p)) for p in [*layers, functions[0]]} if functions else {}
    layer_unzipped = sum(sizes[p.name][0] for p in layers)
    failed = []
    for p in layers:
        unzipped, zipped = sizes[p.name]
        print(f"{p.name:24} {unzipped / MB:7.1f} MB unzipped  {zipped / MB:6.1f} MB zipped")
        if zipped > ZIPPED_DIRECT_LIMIT:
            failed.append(f"{p.name} zipped {zipped / MB:.1f} MB > 50 MB")
    for p in functions:  # every function ships the same packages: measured once
        unzipped, zipped = _tree_size(p), sizes[functions[0].name][1]
        total = unzipped + layer_unzipped
        print(f"{p.name:24} {unzipped / MB:7.1f} MB unzipped  {zipped / MB:6.1f} MB zipped  "
              f"{total / MB:6.1f} MB with its layers (limit 250 MB)")  # fmt: skip
        if total > UNZIPPED_LIMIT:
            failed.append(f"{p.name} with its layers {total / MB:.1f} MB > 250 MB unzipped")
        if zipped > ZIPPED_DIRECT_LIMIT:
            failed.append(f"{p.name} zipped {zipped / MB:.1f} MB > 50 MB")
    if failed:
        raise SystemExit("over Lambda's limits: " + "; ".join(failed))
    print("within Lambda's limits: 250 MB unzipped with layers, 50 MB zipped for a direct upload")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("lock", help="derive deploy/requirements-runtime.txt")
    p.add_argument("--check", action="store_true", help="fail if the committed pins are stale")
    p = sub.add_parser("deps", help="install the pinned wheels for a platform")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--platform", default=LAMBDA_PLATFORM["platform"])
    p.add_argument("--python-version", default=LAMBDA_PLATFORM["python_version"])
    p.add_argument("--abi", default=LAMBDA_PLATFORM["abi"])
    p.add_argument("--lock", type=Path, default=RUNTIME_LOCK)
    p = sub.add_parser("code", help="copy the runtime packages")
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("template", help="write the built template")
    p.add_argument("--build-dir", type=Path, default=ROOT / ".aws-sam" / "build")
    p = sub.add_parser("report", help="print sizes, check Lambda's limits")
    p.add_argument("--build-dir", type=Path, default=ROOT / ".aws-sam" / "build")
    args = parser.parse_args(argv)
    if args.command == "lock":
        lock(args.check)
    elif args.command == "deps":
        pip = os.environ.get("PIP", f"{sys.executable} -m pip").split()
        deps(args.out, platform=args.platform, python_version=args.python_version, abi=args.abi,
             lock_file=args.lock, pip=pip)  # fmt: skip
    elif args.command == "code":
        code(args.out)
    elif args.command == "template":
        built_template(args.build_dir)
    else:
        report(args.build_dir)


if __name__ == "__main__":
    main()

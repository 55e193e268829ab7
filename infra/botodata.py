"""botocore's data loader, made cheap for a cold start: the same files, the same models, read faster.

A client's creation reads botocore's JSON (endpoints.json, 1.2 MB, once per loader; each service's model and
endpoint rules, gzipped, S3's 1.4 MB + 0.9 MB unzipped), and botocore's `Loader` (a) parses it with
`json.loads(object_pairs_hook=OrderedDict)`, 2-3x slower than orjson, and (b) before loading any model, lists
every service it knows (~420 directories, ~2,000 stat calls, twice: service-2 and endpoint-rule-set-1) to check
that one exists. Here (a) a file the build cached (`MODEL_CACHE`, below) is read from the cache, any other one
is parsed by orjson (dicts keep insertion order, all the OrderedDict was for), and (b) `in` looks in the one
service's directory; iterating the listing still lists every service, as botocore does. Measured by
bench/coldstart.py; the models read are equal to botocore's (tests/unit/test_botodata.py).

The model cache: deploy/build.py writes, beside botocore in the dependency layer, each data file the functions'
clients read (endpoints, partitions, the six services' models and rules) already parsed, as `marshal` data —
plain dicts, lists, strings and numbers, the format of the `.pyc` files the build ships: no gunzip, no JSON
parse (~25 ms of CPU less for the ingest function's five clients). It is used only when its stamp names this
botocore and this Python (`cache_stamp`); otherwise, and for every file not in it, the JSON is read as above.

One loader per process and data path, shared by the sessions `infra.bootstrap.aws_clients` creates: the files
do not change while a process runs, so a function building two sets of services reads each model once.
"""

from __future__ import annotations

import marshal
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any, overload

import botocore
import orjson
from botocore.exceptions import DataNotFoundError
from botocore.loaders import JSONFileLoader, Loader, create_loader

MODEL_CACHE = "botocore_marshal"  # the directory beside botocore (deploy/build.py `botocore_cache`)
STAMP = "STAMP"


def cache_stamp(botocore_version: str | None = None, python: tuple[int, int] | None = None) -> str:
    """What a model cache must have been written for: marshal data is read by the Python that wrote it."""
    major, minor = python or sys.version_info[:2]
    return f"botocore {botocore_version or botocore.__version__} python {major}.{minor} marshal {marshal.version}"


def model_cache(root: str | None = None) -> str | None:
    """The model cache's directory (default: beside the botocore package), or None when there is none or its
    stamp names another botocore or Python."""
    if root is None:
        root = os.path.join(os.path.dirname(os.path.dirname(botocore.__file__)), MODEL_CACHE)
    try:
        with open(os.path.join(root, STAMP), encoding="utf-8") as fp:
            stamp = fp.read().strip()
    except OSError:
        return None
    return root if stamp == cache_stamp() else None


class OrjsonFileLoader(JSONFileLoader):
    """botocore's JSONFileLoader (.json and .json.gz, None for a missing file), parsed by orjson; a file of
    botocore's own data found in `cache` (`model_cache`) is read from there."""

    def __init__(self, cache: str | None = None) -> None:
        self._cache = cache
        self._builtin = Loader.BUILTIN_DATA_PATH + os.sep

    def load_file(self, file_path: str) -> Any:
        if self._cache is not None and file_path.startswith(self._builtin):
            cached = os.path.join(self._cache, file_path[len(self._builtin) :] + ".marshal")
            try:
                with open(cached, "rb") as fp:
                    return marshal.loads(fp.read())  # one read: marshal.load(fp) reads object by object
            except FileNotFoundError:
                pass
        return super().load_file(file_path)

    def _load_file(self, full_path: str, open_method: Any) -> Any:
        import os

        if not os.path.isfile(full_path):
            return None
        with open_method(full_path, "rb") as fp:
            return orjson.loads(fp.read())


class _KnownServices(Sequence[str]):
    """`Loader.list_available_services(type_name)`, listed only when iterated: membership, which is all
    `load_service_model` asks before loading, is answered from the one service's directory."""

    def __init__(self, loader: FastLoader, type_name: str) -> None:
        self._loader = loader
        self._type_name = type_name
        self._listed: list[str] | None = None

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            return False
        try:
            return bool(self._loader.list_api_versions(name, self._type_name))
        except DataNotFoundError:
            return False

    def _all(self) -> list[str]:
        if self._listed is None:
            self._listed = Loader.list_available_services(self._loader, self._type_name)
        return self._listed

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        return self._all()[index]


class FastLoader(Loader):
    """botocore's Loader with orjson parsing and a lazy list of services (see the module's docstring)."""

    FILE_LOADER_CLASS = OrjsonFileLoader

    def list_available_services(self, type_name: str) -> Sequence[str]:  # type: ignore[override]
        return _KnownServices(self, type_name)


_LOADERS: dict[str | None, Loader] = {}
_LOCK = threading.Lock()


def shared_loader(data_path: str | None = None) -> Loader:
    """The process's FastLoader for botocore's `data_path` setting (AWS_DATA_PATH), with its search paths, reading
    the build's model cache when there is one for this botocore and Python."""
    with _LOCK:
        loader = _LOADERS.get(data_path)
        if loader is None:
            paths = create_loader(data_path).search_paths
            loader = _LOADERS[data_path] = FastLoader(
                extra_search_paths=list(paths), include_default_search_paths=False,
                file_loader=OrjsonFileLoader(model_cache()),
            )  # fmt: skip
        return loader


def fast_session() -> Any:
    """A new botocore session whose data loader is the process's shared FastLoader."""
    import botocore.session

    session = botocore.session.get_session()
    session.register_component("data_loader", shared_loader(session.get_config_variable("data_path")))
    return session

"""botocore's data loader, made cheap for a cold start: the same files, the same models, read faster.

A client's creation reads botocore's JSON (endpoints.json, 1.2 MB, once per loader; each service's model and
endpoint rules, S3's 2.3 MB), and botocore's `Loader` (a) parses it with `json.loads(object_pairs_hook=
OrderedDict)`, 2-3x slower than orjson, and (b) before loading any model, lists every service it knows (~420
directories, ~2,000 stat calls, twice: service-2 and endpoint-rule-set-1) to check that one exists. Here (a)
orjson parses (dicts keep insertion order, all the OrderedDict was for), and (b) `in` looks in the one
service's directory; iterating the listing still lists every service, as botocore does. Measured by
bench/coldstart.py; the models read are equal to botocore's (tests/unit/test_botodata.py).

One loader per process and data path, shared by the sessions `infra.bootstrap.aws_clients` creates: the files
do not change while a process runs, so a function building two sets of services reads each model once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any, overload

import orjson
from botocore.exceptions import DataNotFoundError
from botocore.loaders import JSONFileLoader, Loader, create_loader


class OrjsonFileLoader(JSONFileLoader):
    """botocore's JSONFileLoader (.json and .json.gz, None for a missing file), parsed by orjson."""

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
    """The process's FastLoader for botocore's `data_path` setting (AWS_DATA_PATH), with its search paths."""
    with _LOCK:
        loader = _LOADERS.get(data_path)
        if loader is None:
            paths = create_loader(data_path).search_paths
            loader = _LOADERS[data_path] = FastLoader(extra_search_paths=list(paths),
                                                      include_default_search_paths=False)  # fmt: skip
        return loader


def fast_session() -> Any:
    """A new botocore session whose data loader is the process's shared FastLoader."""
    import botocore.session

    session = botocore.session.get_session()
    session.register_component("data_loader", shared_loader(session.get_config_variable("data_path")))
    return session

"""A package opened without running its `__init__` until a name only `__init__` gives is asked for.

`aws_lambda_powertools.event_handler/__init__` imports every resolver Powertools has (AppSync's and AppSync
Events' import asyncio; Bedrock's, VPC Lattice's, the HTTP resolver's...), ~50 ms of a cold start for an API
function that uses one: `APIGatewayRestResolver`, from `event_handler.api_gateway`. Python runs a package's
`__init__` before any submodule, so `functions/__init__` registers the package here: a submodule imports as
usual; a name the `__init__` imports from a submodule (`from .api_gateway import Response`: read from its
source) comes from that submodule alone; any other name (`__all__`) first runs the real `__init__`, once, and
then the package reads as it always did. Likewise `utilities.data_classes`, whose `__init__` imports every
event class Powertools has while the REST resolver needs five. Nothing
changes but when the `__init__` runs (tests/unit/test_architecture.py checks both halves).
"""

from __future__ import annotations

import sys
import threading
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType
from typing import Any

_LOCK = threading.RLock()


class _DeferredInit:
    """The loader of a package whose `__init__` runs on the first name it alone could give."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, ...: the real loader's
        return getattr(self.real, name)

    def create_module(self, spec: ModuleSpec) -> None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        real = self.real

        def __getattr__(name: str) -> Any:
            if not name.startswith("__"):
                found = PathFinder.find_spec(f"{module.__name__}.{name}", module.__path__)
                if found is not None:  # a submodule: imported alone, as `import package.name` would
                    import importlib

                    return importlib.import_module(f"{module.__name__}.{name}")
                source = _imported_by_init(real, module.__name__).get(name)
                if source is not None:  # a name the __init__ imports from a submodule: from that submodule alone
                    import importlib

                    value = getattr(importlib.import_module(source[0]), source[1])
                    module.__dict__.setdefault(name, value)
                    return value
            with _LOCK:
                if module.__dict__.get("__getattr__") is __getattr__:
                    del module.__dict__["__getattr__"]
                    real.exec_module(module)  # the package's own __init__, into the same module
            try:
                return module.__dict__[name]
            except KeyError:
                raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}") from None

        module.__dict__["__getattr__"] = __getattr__


_IMPORTED: dict[str, dict[str, tuple[str, str]]] = {}


def _imported_by_init(real: Any, package: str) -> dict[str, tuple[str, str]]:
    """What the package's `__init__` imports by name, read from its source (`from .x import Name as Alias`,
    at its top level): alias -> (module, name). Empty when the source is not there (then the __init__ runs)."""
    found = _IMPORTED.get(package)
    if found is None:
        import ast

        found = {}
        try:
            source = real.get_source(package)
        except (ImportError, OSError):
            source = None
        for node in ast.parse(source).body if source else ():
            if isinstance(node, ast.ImportFrom) and node.module and node.level <= 1:
                origin = f"{package}.{node.module}" if node.level == 1 else node.module
                for alias in node.names:
                    found[alias.asname or alias.name] = (origin, alias.name)
            elif not _inert(node):  # the __init__ does more than import names: only running it gives them
                found = {}
                break
        if "*" in found:  # a star import binds names no source line shows
            found = {}
        _IMPORTED[package] = found
    return found


def _inert(node: Any) -> bool:
    """A docstring, or `__all__ = [...]`: statements that bind no name a submodule import could stand for."""
    import ast

    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return True
    return isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["__all__"]


class _Finder:
    """On `sys.meta_path`: finds the registered packages as the path finder does, with a deferred `__init__`."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if fullname not in self.names:
            return None
        spec = PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or spec.submodule_search_locations is None:
            return spec
        spec.loader = _DeferredInit(spec.loader)
        return spec


_FINDER = _Finder()


def defer_init(package: str) -> None:
    """Open `package` lazily from now on (nothing changes if it is imported already)."""
    if package in sys.modules:
        return
    _FINDER.names.add(package)
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)

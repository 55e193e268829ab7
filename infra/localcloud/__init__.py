"""The local cloud: template.yaml deployed into moto, Lambda played in-process (DESIGN.md §2).

The names are imported lazily, so that `python -m infra.localcloud.motoserver` (the moto child
process) does not load the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cloud import LocalCloud, LocalCloudError

__all__ = ["LocalCloud", "LocalCloudError"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import cloud

        return getattr(cloud, name)
    raise AttributeError(name)

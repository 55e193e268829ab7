"""A botocore client made on first use: `infra.bootstrap.aws_clients` hands these out, so a request that never
reaches a service (a refused signature: no S3, SQS, Secrets Manager) does not pay for loading its model."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class LazyClient:
    """A botocore client created on its first attribute (`.put_item`, `.exceptions`, `.meta`), once, whichever
    thread asks first; then every attribute is the client's own. `lock` serializes the creations of one session
    (a botocore session is not thread-safe)."""

    __slots__ = ("_client", "_create", "_lock")

    def __init__(self, create: Callable[[], Any], lock: threading.Lock) -> None:
        self._create, self._lock, self._client = create, lock, None

    @property
    def created(self) -> bool:
        return self._client is not None

    def __getattr__(self, name: str) -> Any:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._create()
                client = self._client
        return getattr(client, name)

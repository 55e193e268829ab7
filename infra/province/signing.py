"""Request signatures for the provincial gateway, as configuration rather than code paths per province.

Gateways differ in three things only: which bytes are signed (the canonical string), how the secret enters
(an HMAC key, or concatenated for a plain digest, as MD5 gateways do), and the digest (SHA-256, MD5, SM3).
`SignatureConfig` names each; `sign` is what the client calls, `verify` what the stub (or a test) calls,
so both ends share one implementation of the canonical string.

SM3 comes from OpenSSL through `hashlib` (OpenSSL ≥ 1.1.1 ships it in its default provider); a config that
asks for SM3 on an interpreter without it fails when it is loaded, not at the first send.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as _secrets
import time
from collections.abc import Mapping
from string import Formatter
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Algorithm = Literal["hmac-sha256", "hmac-sm3", "md5", "sha256", "sm3"]
PRESETS = {"body": "{app_id}\n{timestamp}\n{nonce}\n{body}", "sorted_params": "{sorted_params}"}
PLACEHOLDERS = frozenset({"app_id", "timestamp", "nonce", "body", "sorted_params"})

_DIGESTS: dict[str, str] = {"hmac-sha256": "sha256", "hmac-sm3": "sm3", "md5": "md5", "sha256": "sha256", "sm3": "sm3"}

# Names of the transport values when they join the sorted parameters.
APP_ID_PARAM, TIMESTAMP_PARAM, NONCE_PARAM = "appId", "timestamp", "nonce"


class SignatureError(Exception):
    """A request whose signature does not hold; `code` is stable, `message` names no secret."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class SignatureConfig(BaseModel):
    """How one province's gateway wants requests signed. The default is HMAC-SHA256 over id, time, nonce, body.

    canonical: a preset, or a template of {app_id}, {timestamp}, {nonce}, {body}, {sorted_params}:
      - `body` = `{app_id}\\n{timestamp}\\n{nonce}\\n{body}` — covers exactly what is sent;
      - `sorted_params` = the record's fields plus appId, timestamp and nonce, sorted by name, empty values
        left out, as `k=v` joined by `&` — the convention of many MD5 gateways;
      - e.g. `{timestamp}{app_id}` for a gateway that signs time and app id only.
    secret_format: how a plain digest (md5, sha256, sm3) takes the secret; HMAC uses the secret as its key.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithm: Algorithm = "hmac-sha256"
    canonical: str = "body"
    secret_format: str = Field("{canonical}&key={secret}", description="must hold {canonical} and {secret}")
    encoding: Literal["hex", "HEX", "base64"] = "hex"
    timestamp_unit: Literal["ms", "s"] = "ms"
    max_skew_seconds: int = Field(300, ge=1, description="how far a timestamp may be from the verifier's clock")
    app_id_header: str = "X-App-Id"
    timestamp_header: str = "X-Timestamp"
    nonce_header: str = "X-Nonce"
    signature_header: str = "X-Signature"

    @model_validator(mode="after")
    def _usable(self) -> SignatureConfig:
        if "{canonical}" not in self.secret_format or "{secret}" not in self.secret_format:
            raise ValueError("secret_format must contain {canonical} and {secret}")
        fields = {name for _, name, _, _ in Formatter().parse(PRESETS.get(self.canonical, self.canonical)) if name}
        if not fields or not fields <= PLACEHOLDERS:
            raise ValueError(f"canonical must be body, sorted_params or a template of {sorted(PLACEHOLDERS)}")
        if _DIGESTS[self.algorithm] not in hashlib.algorithms_available:
            raise ValueError(f"{self.algorithm} needs {_DIGESTS[self.algorithm]} in hashlib (OpenSSL), missing here")
        return self

    @property
    def needs_params(self) -> bool:
        """Whether the record's fields are signed (so a verifier must parse the body first)."""
        return "{sorted_params}" in PRESETS.get(self.canonical, self.canonical)


def canonical_bytes(
    config: SignatureConfig,
    *,
    app_id: str,
    timestamp: str,
    nonce: str,
    body: bytes,
    params: Mapping[str, object] | None = None,
) -> bytes:
    """The exact bytes that are signed."""
    values = {"app_id": app_id.encode(), "timestamp": timestamp.encode(), "nonce": nonce.encode(), "body": body}
    out = bytearray()
    for literal, name, _, _ in Formatter().parse(PRESETS.get(config.canonical, config.canonical)):
        out += literal.encode()
        if name == "sorted_params":
            out += _sorted_params(params, app_id, timestamp, nonce)
        elif name:
            out += values[name]
    return bytes(out)


def _sorted_params(params: Mapping[str, object] | None, app_id: str, timestamp: str, nonce: str) -> bytes:
    if params is None:
        raise ValueError("sorted_params signing needs the record's parameters")
    merged = {**params, APP_ID_PARAM: app_id, TIMESTAMP_PARAM: timestamp, NONCE_PARAM: nonce}
    pairs = (f"{key}={value}" for key, value in sorted(merged.items()) if value is not None and value != "")
    return "&".join(pairs).encode()


def signature(config: SignatureConfig, secret: str, canonical: bytes) -> str:
    digest_name = _DIGESTS[config.algorithm]
    key = secret.encode()
    if config.algorithm.startswith("hmac-"):
        raw = hmac.new(key, canonical, digest_name).digest()
    else:
        before, after = config.secret_format.split("{canonical}", 1)
        message = before.replace("{secret}", secret).encode() + canonical + after.replace("{secret}", secret).encode()
        raw = hashlib.new(digest_name, message).digest()
    if config.encoding == "base64":
        return base64.b64encode(raw).decode("ascii")
    return raw.hex().upper() if config.encoding == "HEX" else raw.hex()


def _now_stamp(config: SignatureConfig, now: float | None) -> str:
    moment = time.time() if now is None else now
    return str(int(moment * 1000)) if config.timestamp_unit == "ms" else str(int(moment))


def sign(
    config: SignatureConfig,
    *,
    app_id: str,
    secret: str,
    body: bytes,
    params: Mapping[str, object] | None = None,
    timestamp: str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers that authenticate `body`; a fresh nonce and the wall-clock time unless given."""
    timestamp = timestamp or _now_stamp(config, None)
    nonce = nonce or _secrets.token_hex(16)
    canonical = canonical_bytes(config, app_id=app_id, timestamp=timestamp, nonce=nonce, body=body, params=params)
    return {
        config.app_id_header: app_id,
        config.timestamp_header: timestamp,
        config.nonce_header: nonce,
        config.signature_header: signature(config, secret, canonical),
    }


def verify(
    config: SignatureConfig,
    headers: Mapping[str, str],
    *,
    body: bytes,
    secrets: Mapping[str, str],
    params: Mapping[str, object] | None = None,
    now: float | None = None,
) -> str:
    """Check a signed request; returns its app id or raises `SignatureError`.

    `secrets` maps app id to secret. Replay protection beyond the timestamp window (remembering nonces)
    is the caller's, since only it knows how long to keep them.
    """
    lower = {key.lower(): value for key, value in headers.items()}
    values = {}
    for header in (config.app_id_header, config.timestamp_header, config.nonce_header, config.signature_header):
        value = lower.get(header.lower())
        if not value:
            raise SignatureError("SIGNATURE_MISSING", f"header {header} is missing")
        values[header] = value
    app_id, timestamp = values[config.app_id_header], values[config.timestamp_header]
    secret = secrets.get(app_id)
    if secret is None:
        raise SignatureError("APP_UNKNOWN", "unknown app id")
    try:
        stamp = int(timestamp) / (1000 if config.timestamp_unit == "ms" else 1)
    except ValueError:
        raise SignatureError("TIMESTAMP_INVALID", f"header {config.timestamp_header} is not a number") from None
    current = time.time() if now is None else now
    if abs(current - stamp) > config.max_skew_seconds:
        raise SignatureError("TIMESTAMP_EXPIRED", f"more than {config.max_skew_seconds} s from the verifier's clock")
    canonical = canonical_bytes(
        config, app_id=app_id, timestamp=timestamp, nonce=values[config.nonce_header], body=body, params=params
    )
    expected = signature(config, secret, canonical)
    if not hmac.compare_digest(expected.encode(), values[config.signature_header].encode()):
        raise SignatureError("SIGNATURE_INVALID", "the signature does not match")
    return app_id

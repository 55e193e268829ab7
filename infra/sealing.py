"""R20: personal data envelope-encrypted under the template's KMS key (`DataKey`), and keyed look-up hashes.

A sealed value is self-describing, so an old one stays readable when the algorithm or the KMS key's
backing material changes (KMS keeps every rotated version; the encrypted data key names the key):

    0x01 | algorithm (1 = AES-256-GCM, 2 = SM4-GCM) | len(edk) u16 | edk | nonce (12) | ciphertext | tag (16)

The associated data is that header plus the record's id (the rating id, the case key), so a value
copied onto another record, or with its header changed, fails to open. Data keys are reused for a
bounded time and number of values (the AWS Encryption SDK's caching idea): one GenerateDataKey per
`max_age` or `max_uses`, not one per rating; decrypted data keys are cached by their encrypted bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from hub.ports import PersonalDataSealer
from infra.settings import PersonalDataSettings

Algorithm = Literal["AES-256-GCM", "SM4-GCM"]
ALGORITHMS: dict[str, tuple[int, int]] = {"AES-256-GCM": (1, 32), "SM4-GCM": (2, 16)}  # name -> (id, key bytes)
_BY_ID = {ident: name for name, (ident, _) in ALGORITHMS.items()}
VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
# Constant on purpose: the per-record binding is the AAD; a per-record KMS context would defeat key caching.
KMS_CONTEXT = {"purpose": "hcp-hub personal data"}


class SealError(ValueError):
    """A sealed value that does not open: tampered, moved to another record, or not sealed by us."""


@dataclass
class _DataKey:
    plaintext: bytes
    encrypted: bytes
    created: float
    uses: int = 0


def _cipher(algorithm: str, key: bytes, mode: modes.GCM) -> Cipher[modes.GCM]:
    primitive = algorithms.AES(key) if algorithm == "AES-256-GCM" else algorithms.SM4(key)
    return Cipher(primitive, mode)


class NoPersonalData(PersonalDataSealer):
    """For a store built to touch no personal data (the outbox marks ratings not adopted, R14): sealing or
    opening refuses, so a change that starts writing or reading the rater there fails loudly (R20)."""

    def seal(self, plaintext: bytes, *, context: str) -> bytes:
        raise SealError("this store was built without the personal-data key: it may not write personal data")

    def unseal(self, sealed: bytes, *, context: str) -> bytes:
        raise SealError("this store was built without the personal-data key: it may not read personal data")


class EnvelopeSealer(PersonalDataSealer):
    """Seals with a data key from KMS GenerateDataKey; `kms` is a botocore KMS client (or anything with
    `generate_data_key` and `decrypt`). Thread-safe; `kms_calls` counts what it asked of KMS."""

    def __init__(
        self,
        kms: Any,
        key_id: str,
        *,
        algorithm: str = "AES-256-GCM",
        max_age: float = 300.0,
        max_uses: int = 1000,
        cache_size: int = 256,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"PERSONAL_DATA_ALGORITHM must be one of {', '.join(ALGORITHMS)}, not {algorithm!r}")
        self._kms = kms
        self._key_id = key_id
        self.algorithm = algorithm
        self._max_age = max_age
        self._max_uses = max_uses
        self._cache_size = cache_size
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._current: _DataKey | None = None
        self._opened: OrderedDict[bytes, tuple[bytes, float]] = OrderedDict()
        self.kms_calls = 0

    # -- data keys --

    def _fresh(self, key: _DataKey | None, now: float) -> bool:
        return key is not None and key.uses < self._max_uses and now - key.created < self._max_age

    def _data_key(self) -> _DataKey:
        with self._lock:
            now = self._monotonic()
            if not self._fresh(self._current, now):
                self.kms_calls += 1
                answer = self._kms.generate_data_key(
                    KeyId=self._key_id, NumberOfBytes=ALGORITHMS[self.algorithm][1], EncryptionContext=KMS_CONTEXT
                )
                self._current = _DataKey(answer["Plaintext"], answer["CiphertextBlob"], now)
                self._remember(answer["CiphertextBlob"], answer["Plaintext"], now)
            key = self._current
            assert key is not None
            key.uses += 1
            return key

    def _remember(self, encrypted: bytes, plaintext: bytes, now: float) -> None:
        self._opened[encrypted] = (plaintext, now)
        self._opened.move_to_end(encrypted)
        while len(self._opened) > self._cache_size:
            self._opened.popitem(last=False)

    def _open_key(self, encrypted: bytes) -> bytes:
        with self._lock:
            now = self._monotonic()
            cached = self._opened.get(encrypted)
            if cached is not None and now - cached[1] < self._max_age:
                self._opened.move_to_end(encrypted)
                return cached[0]
            self.kms_calls += 1
            try:
                answer = self._kms.decrypt(CiphertextBlob=encrypted, EncryptionContext=KMS_CONTEXT)
            except Exception as exc:  # botocore ClientError: InvalidCiphertextException and the like
                code = getattr(exc, "response", {}).get("Error", {}).get("Code")
                if code in {"InvalidCiphertextException", "IncorrectKeyException", "NotFoundException"}:
                    raise SealError("the data key does not open") from None
                raise
            self._remember(encrypted, answer["Plaintext"], now)
            return bytes(answer["Plaintext"])

    # -- values --

    def seal(self, plaintext: bytes, *, context: str) -> bytes:
        key = self._data_key()
        header = struct.pack(">BBH", VERSION, ALGORITHMS[self.algorithm][0], len(key.encrypted)) + key.encrypted
        nonce = os.urandom(NONCE_BYTES)
        encryptor = _cipher(self.algorithm, key.plaintext, modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(header + context.encode())
        body = encryptor.update(plaintext) + encryptor.finalize()
        return header + nonce + body + encryptor.tag

    def unseal(self, sealed: bytes, *, context: str) -> bytes:
        if len(sealed) < 4 + NONCE_BYTES + TAG_BYTES:
            raise SealError("too short to be a sealed value")
        version, ident, length = struct.unpack(">BBH", sealed[:4])
        algorithm = _BY_ID.get(ident)
        if version != VERSION or algorithm is None or len(sealed) < 4 + length + NONCE_BYTES + TAG_BYTES:
            raise SealError("not a sealed value of a version and algorithm this hub knows")
        header, rest = sealed[: 4 + length], sealed[4 + length :]
        nonce, body, tag = rest[:NONCE_BYTES], rest[NONCE_BYTES:-TAG_BYTES], rest[-TAG_BYTES:]
        key = self._open_key(header[4:])
        if len(key) != ALGORITHMS[algorithm][1]:
            raise SealError("the data key does not fit the algorithm")
        decryptor = _cipher(algorithm, key, modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(header + context.encode())
        try:
            return decryptor.update(body) + decryptor.finalize()
        except InvalidTag:
            raise SealError("the value was changed, or belongs to another record") from None


# --------------------------------------------------------------------------------------------------
# Look-up hashes: the auditor finds a person's ratings by phone or ID number through an index of these,
# never by decrypting and scanning. HMAC-SHA256 under a key kept in Secrets Manager (read once per
# container): without the key, a hash of an 11-digit phone cannot be reversed by trying every number.


def normalized(kind: str, value: str) -> str:
    """The form hashed: digits and an upper-case X for ID numbers, digits for phones (+86 dropped)."""
    text = unicodedata.normalize("NFKC", value).strip().replace(" ", "").replace("-", "")
    if kind == "phone":
        text = text.removeprefix("+86").removeprefix("0086")
    return text.upper()


class LookupHasher:
    """`hash("phone", "13800000002")` → hex; the same value always gives the same hash under one key."""

    def __init__(self, key: bytes | Callable[[], bytes]) -> None:
        self._key = key
        self._lock = threading.Lock()

    def _key_bytes(self) -> bytes:
        if callable(self._key):
            with self._lock:
                if callable(self._key):
                    self._key = self._key()
        assert isinstance(self._key, bytes)
        return self._key

    def __call__(self, kind: str, value: str) -> str:
        message = f"{kind}:{normalized(kind, value)}".encode()
        return hmac.new(self._key_bytes(), message, hashlib.sha256).hexdigest()


def secret_key(secrets_client: Any, secret_arn: str) -> Callable[[], bytes]:
    """The HMAC key from a Secrets Manager secret (JSON `{"key": ...}` or the plain string), read on first use."""

    def read() -> bytes:
        text = secrets_client.get_secret_value(SecretId=secret_arn)["SecretString"]
        try:
            document = json.loads(text)
        except ValueError:
            document = text
        value = document.get("key") if isinstance(document, dict) else document
        if not value or len(str(value)) < 32:
            raise RuntimeError("the look-up key secret holds no key of at least 32 characters")
        return str(value).encode()

    return read


_shared: dict[tuple[str, ...], tuple[EnvelopeSealer, LookupHasher]] = {}
_shared_lock = threading.Lock()


def personal_data(kms: Any, secrets_client: Any, settings: PersonalDataSettings) -> tuple[EnvelopeSealer, LookupHasher]:
    """One sealer and hasher per key, algorithm, secret and endpoint in a process, shared by every store (one
    data key cache)."""
    endpoint = getattr(getattr(kms, "meta", None), "endpoint_url", "") or ""
    marker = (settings.data_key_id, settings.algorithm, settings.lookup_secret_arn, endpoint)
    with _shared_lock:
        if marker not in _shared:
            sealer = EnvelopeSealer(kms, settings.data_key_id, algorithm=settings.algorithm)
            _shared[marker] = (sealer, LookupHasher(secret_key(secrets_client, settings.lookup_secret_arn)))
        return _shared[marker]

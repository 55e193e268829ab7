"""SM2 (GB/T 32918 / GM/T 0003) as the provincial gateways use it: a small port over `snowland-smx`.

Gateways differ in how the same cryptography is laid out, so the layout is data (`CipherFormat`):
  - ciphertext order `C1C3C2` (the standard, GM/T 0003.4), `C1C2C3` (older BouncyCastle, many Java
    gateways), or `asn1` (GM/T 0009's SEQUENCE {x, y, C3, C2}, what OpenSSL and GmSSL emit);
  - C1 with or without the `04` uncompressed-point prefix;
  - the bytes as lower-case hex, upper-case HEX or base64.
Signatures are over e = SM3(Z_A ‖ M), Z_A bound to a user id (default "1234567812345678", GM/T 0009) and to
the signer's public key; they travel as DER (`SEQUENCE {r, s}`) or as 64 bytes r ‖ s.

Why a port: the curve arithmetic is `snowland-smx` (pysmx, BSD-3-Clause, pure Python so one wheel serves the
x86_64 CI and the arm64 Lambda); SM3 (the KDF, C3, Z_A and e) is OpenSSL's through `hashlib` where it has
it — pysmx's own SM3 is pure Python and was two thirds of an encryption's cost (bench/sm2.py) — and the
composition of GB/T 32918.4 (KDF, C2 = M ⊕ t, C3) is written here, short and tested against OpenSSL.
What pysmx leaves to its caller is done here, once: keys and C1 are checked to be on the
curve (an off-curve C1 is the invalid-curve attack on the private key), r and s to lie in [1, n-1], the
ephemeral k is drawn from `secrets`, and a failed C3 check is an exception, never `None`. Keys are read from
raw hex or base64 (with or without `04`), or from PEM/DER (PKCS#8, SEC 1, SubjectPublicKeyInfo), as the
provinces hand them out. Interoperability with OpenSSL 3 is tested both ways (tests/unit/test_sm2.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from typing import Literal

from pysmx.SM2 import Sign as _sign
from pysmx.SM2 import Verify as _verify
from pysmx.SM2 import kG as _kg
from pysmx.SM3 import digest as _pysmx_sm3

CipherOrder = Literal["C1C3C2", "C1C2C3", "asn1"]
TextEncoding = Literal["hex", "HEX", "base64"]
SignatureFormat = Literal["der", "rs"]

DEFAULT_USER_ID = "1234567812345678"

# The recommended curve (GB/T 32918.5-2017).
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0
_G_HEX = f"{GX:064x}{GY:064x}"
_HASH_LEN = 32
_POINT_LEN = 64

# Object identifiers, DER-encoded (without tag and length).
_OID_EC_PUBLIC_KEY = bytes.fromhex("2a8648ce3d0201")  # 1.2.840.10045.2.1
_OID_SM2 = bytes.fromhex("2a811ccf5501822d")  # 1.2.156.10197.1.301


class SM2Error(ValueError):
    """Anything SM2 refused: a key not on the curve, a ciphertext that does not decrypt, a bad encoding."""


# --- keys -----------------------------------------------------------------------------------------------
def on_curve(x: int, y: int) -> bool:
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A point of the curve (never the point at infinity): checked on construction."""

    x: int
    y: int

    def __post_init__(self) -> None:
        if not on_curve(self.x, self.y):
            raise SM2Error("the public key is not a point of the SM2 curve")

    @classmethod
    def from_bytes(cls, raw: bytes) -> PublicKey:
        """64 bytes x ‖ y, or 65 with the `04` prefix."""
        if len(raw) == _POINT_LEN + 1 and raw[0] == 4:
            raw = raw[1:]
        if len(raw) != _POINT_LEN:
            raise SM2Error(f"a public key is 64 bytes (65 with 04), not {len(raw)}")
        return cls(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))

    def raw(self, prefix: bool = True) -> bytes:
        return (b"\x04" if prefix else b"") + self.x.to_bytes(32, "big") + self.y.to_bytes(32, "big")

    @property
    def hex64(self) -> str:
        return f"{self.x:064x}{self.y:064x}"

    def to_der(self) -> bytes:
        """SubjectPublicKeyInfo, as `openssl pkey -pubin` reads it."""
        algorithm = _tlv(0x30, _tlv(0x06, _OID_EC_PUBLIC_KEY) + _tlv(0x06, _OID_SM2))
        return _tlv(0x30, algorithm + _tlv(0x03, b"\x00" + self.raw()))

    def to_pem(self) -> str:
        return _pem("PUBLIC KEY", self.to_der())


@dataclass(frozen=True, slots=True)
class PrivateKey:
    """A scalar d in [1, n-2] (GB/T 32918.1: d+1 must be invertible) and its public key."""

    d: int = field(repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.d <= N - 2:
            raise SM2Error("the private key is not a scalar in [1, n-2] of the SM2 curve")

    @classmethod
    def generate(cls) -> PrivateKey:
        return cls(secrets.randbelow(N - 2) + 1)

    @classmethod
    def from_bytes(cls, raw: bytes) -> PrivateKey:
        if len(raw) != 32:
            raise SM2Error(f"a private key is 32 bytes, not {len(raw)}")
        return cls(int.from_bytes(raw, "big"))

    @property
    def public(self) -> PublicKey:
        point = _kg(self.d, _G_HEX, 64)
        return PublicKey(int(point[:64], 16), int(point[64:], 16))

    def raw(self) -> bytes:
        return self.d.to_bytes(32, "big")

    def to_der(self) -> bytes:
        """SEC 1 ECPrivateKey with the SM2 curve named, as `openssl pkey` reads it."""
        body = (
            _tlv(0x02, b"\x01")
            + _tlv(0x04, self.raw())
            + _tlv(0xA0, _tlv(0x06, _OID_SM2))
            + _tlv(0xA1, _tlv(0x03, b"\x00" + self.public.raw()))
        )
        return _tlv(0x30, body)

    def to_pem(self) -> str:
        return _pem("EC PRIVATE KEY", self.to_der())


def load_public_key(text: str | bytes) -> PublicKey:
    """A public key as provinces hand it out: hex or base64 of 04 ‖ x ‖ y (or x ‖ y), PEM, or DER."""
    raw = _key_bytes(text, "PUBLIC KEY")
    if raw[:1] == b"\x30":
        raw = _spki_point(raw)
    return PublicKey.from_bytes(raw)


def load_private_key(text: str | bytes) -> PrivateKey:
    """A private key: hex or base64 of the 32-byte scalar, PEM (PKCS#8 or SEC 1), or DER."""
    raw = _key_bytes(text, "PRIVATE KEY")
    if raw[:1] == b"\x30":
        raw = _private_scalar(raw)
    return PrivateKey.from_bytes(raw.rjust(32, b"\x00") if len(raw) < 32 else raw)


def _key_bytes(text: str | bytes, label: str) -> bytes:
    if isinstance(text, bytes):
        if text.lstrip()[:5] != b"-----":
            return text
        text = text.decode("ascii", errors="replace")
    text = text.strip()
    if text.startswith("-----"):
        body = re.sub(r"-----[^-]+-----", "", text)
        return decode_text(re.sub(r"\s+", "", body), "base64")
    if re.fullmatch(r"[0-9a-fA-F]+", text) and len(text) % 2 == 0:
        return bytes.fromhex(text)
    try:
        return decode_text(text, "base64")
    except SM2Error:
        raise SM2Error(f"an SM2 {label.lower()} is hex, base64 or PEM") from None


# --- SM3 and the curve ------------------------------------------------------------------------------------
def _sm3_openssl(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def _sm3_pysmx(data: bytes) -> bytes:
    return bytes(_pysmx_sm3(data))


sm3 = _sm3_openssl if "sm3" in hashlib.algorithms_available else _sm3_pysmx


def _mul(k: int, x: int, y: int) -> tuple[int, int]:
    point = _kg(k, f"{x:064x}{y:064x}", 64)
    if point is None:
        raise SM2Error("the point at infinity")
    return int(point[:64], 16), int(point[64:], 16)


def _kdf(z: bytes, length: int) -> bytes:
    """GB/T 32918.4 §5.4.3: SM3(Z ‖ ct) for ct = 1, 2, … (32-bit big-endian), cut to `length` bytes."""
    blocks = (sm3(z + counter.to_bytes(4, "big")) for counter in range(1, (length + 31) // 32 + 1))
    return b"".join(blocks)[:length]


def _z_a(key: PublicKey, user_id: bytes) -> bytes:
    """Z_A = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA), binding a signature to the signer and its id."""
    if len(user_id) * 8 >= 1 << 16:
        raise SM2Error("the user id is longer than 8191 bytes")
    parts = (A, B, GX, GY, key.x, key.y)
    return sm3((len(user_id) * 8).to_bytes(2, "big") + user_id + b"".join(v.to_bytes(32, "big") for v in parts))


# --- encryption ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CipherFormat:
    order: CipherOrder = "C1C3C2"
    prefix: bool = True  # C1 as 04 ‖ x ‖ y (ignored for asn1)
    encoding: TextEncoding = "hex"


def encrypt(key: PublicKey, plaintext: bytes, order: CipherOrder = "C1C3C2", prefix: bool = True) -> bytes:
    """SM2 public-key encryption: C1 (the ephemeral point), C3 = SM3(x2 ‖ M ‖ y2), C2 = M ⊕ KDF(x2 ‖ y2)."""
    if not plaintext:
        raise SM2Error("SM2 cannot encrypt an empty message")
    while True:
        k = secrets.randbelow(N - 1) + 1
        x1, y1 = _mul(k, GX, GY)
        x2, y2 = _mul(k, key.x, key.y)
        x2b, y2b = x2.to_bytes(32, "big"), y2.to_bytes(32, "big")
        t = _kdf(x2b + y2b, len(plaintext))
        if any(t):  # an all-zero t: the standard says draw k again
            break
    c2 = (int.from_bytes(plaintext, "big") ^ int.from_bytes(t, "big")).to_bytes(len(plaintext), "big")
    c3 = sm3(x2b + plaintext + y2b)
    return _layout(x1.to_bytes(32, "big") + y1.to_bytes(32, "big"), c3, c2, order, prefix)


def decrypt(key: PrivateKey, ciphertext: bytes, order: CipherOrder = "C1C3C2") -> bytes:
    """The plaintext, or `SM2Error` if the ciphertext is not well formed, C1 is off the curve, or C3 fails.

    A leading `04` is accepted or not by length, so one profile reads both kinds of sender.
    """
    c1, c3, c2 = _split(ciphertext, order)
    try:
        point = PublicKey.from_bytes(c1)
    except SM2Error:
        raise SM2Error("C1 is not a point of the SM2 curve") from None
    x2, y2 = _mul(key.d, point.x, point.y)
    x2b, y2b = x2.to_bytes(32, "big"), y2.to_bytes(32, "big")
    t = _kdf(x2b + y2b, len(c2))
    plain = (int.from_bytes(c2, "big") ^ int.from_bytes(t, "big")).to_bytes(len(c2), "big")
    if not any(t) or not hmac.compare_digest(sm3(x2b + plain + y2b), c3):
        raise SM2Error("the ciphertext does not decrypt with this key (C3 check failed)")
    return plain


def _layout(c1: bytes, c3: bytes, c2: bytes, order: CipherOrder, prefix: bool) -> bytes:
    if order == "asn1":
        x, y = int.from_bytes(c1[:32], "big"), int.from_bytes(c1[32:], "big")
        return _tlv(0x30, _der_int(x) + _der_int(y) + _tlv(0x04, c3) + _tlv(0x04, c2))
    head = (b"\x04" if prefix else b"") + c1
    return head + (c3 + c2 if order == "C1C3C2" else c2 + c3)


def _split(ciphertext: bytes, order: CipherOrder) -> tuple[bytes, bytes, bytes]:
    if order == "asn1":
        try:
            items = _der_sequence(ciphertext)
            (tx, x), (ty, y), (t3, c3), (t2, c2) = items
        except (ValueError, IndexError):
            raise SM2Error("the ciphertext is not an SM2 ASN.1 SEQUENCE {x, y, C3, C2}") from None
        if (tx, ty, t3, t2) != (0x02, 0x02, 0x04, 0x04) or len(c3) != _HASH_LEN or not c2:
            raise SM2Error("the ciphertext is not an SM2 ASN.1 SEQUENCE {x, y, C3, C2}")
        try:
            c1 = int.from_bytes(x, "big").to_bytes(32, "big") + int.from_bytes(y, "big").to_bytes(32, "big")
        except OverflowError:
            raise SM2Error("C1 is not a point of the SM2 curve") from None
        return c1, c3, c2
    # 04 ‖ C1 is 65 bytes; a bare C1 is 64. With the prefix the byte after C1C3 is data, so the first byte
    # decides only when the length allows both: a body starting 04 that is a valid point either way is rare,
    # and the curve check below rejects the wrong reading.
    if ciphertext[:1] == b"\x04" and len(ciphertext) > 1 + _POINT_LEN + _HASH_LEN:
        body = ciphertext[1:]
        if not on_curve(int.from_bytes(body[:32], "big"), int.from_bytes(body[32:64], "big")):
            body = ciphertext
    else:
        body = ciphertext
    if len(body) <= _POINT_LEN + _HASH_LEN:
        raise SM2Error("the ciphertext is too short for C1, C3 and any C2")
    c1, rest = body[:_POINT_LEN], body[_POINT_LEN:]
    if order == "C1C3C2":
        return c1, rest[:_HASH_LEN], rest[_HASH_LEN:]
    return c1, rest[-_HASH_LEN:], rest[:-_HASH_LEN]


def encrypt_text(key: PublicKey, plaintext: str | bytes, fmt: CipherFormat = CipherFormat()) -> str:
    data = plaintext.encode("utf-8") if isinstance(plaintext, str) else plaintext
    return encode_text(encrypt(key, data, fmt.order, fmt.prefix), fmt.encoding)


def decrypt_text(key: PrivateKey, text: str, fmt: CipherFormat = CipherFormat()) -> bytes:
    return decrypt(key, decode_text(text, fmt.encoding), fmt.order)


# --- signatures ------------------------------------------------------------------------------------------
def sign(
    key: PrivateKey,
    message: bytes,
    user_id: str | bytes = DEFAULT_USER_ID,
    fmt: SignatureFormat = "der",
    *,
    _k: int | None = None,
) -> bytes:
    """An SM2 signature of SM3(Z_A ‖ message); `_k` fixes the nonce for the standard's test vectors only."""
    uid = user_id.encode("utf-8") if isinstance(user_id, str) else user_id
    e = sm3(_z_a(key.public, uid) + message).hex()
    while True:
        k = _k if _k is not None else secrets.randbelow(N - 1) + 1
        raw = _sign(e, f"{key.d:064x}", f"{k:064x}", 64, Hexstr=1)
        if raw is not None:
            break
        if _k is not None:
            raise SM2Error("this k gives no signature")
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    return _der_int_pair(r, s) if fmt == "der" else raw


def verify(
    key: PublicKey,
    message: bytes,
    signature: bytes,
    user_id: str | bytes = DEFAULT_USER_ID,
    fmt: SignatureFormat = "der",
) -> bool:
    """Whether `signature` is the holder of `key`'s over `message` under `user_id`. Malformed is False."""
    uid = user_id.encode("utf-8") if isinstance(user_id, str) else user_id
    try:
        if fmt == "der":
            (tr, r_bytes), (ts, s_bytes) = _der_sequence(signature)
            if (tr, ts) != (0x02, 0x02):
                return False
            r, s = int.from_bytes(r_bytes, "big"), int.from_bytes(s_bytes, "big")
        else:
            if len(signature) != 64:
                return False
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    except ValueError:
        return False
    if not (1 <= r < N and 1 <= s < N) or (r + s) % N == 0:
        return False
    rs = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    e = sm3(_z_a(key, uid) + message).hex()
    try:
        return bool(_verify(rs, e, key.hex64, 64, Hexstr=1))
    except (TypeError, ValueError):  # s·G + t·P at infinity: pysmx has no point to read, the signature is false
        return False


def rs_to_der(raw: bytes) -> bytes:
    return _der_int_pair(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))


def der_to_rs(der: bytes) -> bytes:
    (_, r), (_, s) = _der_sequence(der)
    return int.from_bytes(r, "big").to_bytes(32, "big") + int.from_bytes(s, "big").to_bytes(32, "big")


# --- text ------------------------------------------------------------------------------------------------
def encode_text(data: bytes, encoding: TextEncoding) -> str:
    if encoding == "base64":
        return base64.b64encode(data).decode("ascii")
    return data.hex().upper() if encoding == "HEX" else data.hex()


def decode_text(text: str, encoding: TextEncoding) -> bytes:
    """Hex (either case) or base64 (standard or URL-safe, padding optional) to bytes; `SM2Error` otherwise."""
    text = text.strip()
    try:
        if encoding in ("hex", "HEX"):
            return bytes.fromhex(text)
        padded = text + "=" * (-len(text) % 4)
        return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (ValueError, binascii.Error):
        raise SM2Error(f"not {encoding} text") from None


# --- a little DER ----------------------------------------------------------------------------------------
def _tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    else:
        size = (n.bit_length() + 7) // 8
        length = bytes([0x80 | size]) + n.to_bytes(size, "big")
    return bytes([tag]) + length + value


def _der_int(value: int) -> bytes:
    raw = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big")  # a leading 0 when the top bit is set
    return _tlv(0x02, raw)


def _der_int_pair(r: int, s: int) -> bytes:
    return _tlv(0x30, _der_int(r) + _der_int(s))


def _read_tlv(data: bytes, at: int) -> tuple[int, bytes, int]:
    if at + 2 > len(data):
        raise ValueError("truncated DER")
    tag, first = data[at], data[at + 1]
    at += 2
    if first < 0x80:
        length = first
    else:
        size = first & 0x7F
        if not 1 <= size <= 4 or at + size > len(data):
            raise ValueError("bad DER length")
        length = int.from_bytes(data[at : at + size], "big")
        at += size
    if at + length > len(data):
        raise ValueError("truncated DER")
    return tag, data[at : at + length], at + length


def _der_items(data: bytes) -> list[tuple[int, bytes]]:
    items, at = [], 0
    while at < len(data):
        tag, value, at = _read_tlv(data, at)
        items.append((tag, value))
    return items


def _der_sequence(data: bytes) -> list[tuple[int, bytes]]:
    tag, value, end = _read_tlv(data, 0)
    if tag != 0x30 or end != len(data):
        raise ValueError("not one DER SEQUENCE")
    return _der_items(value)


def _spki_point(der: bytes) -> bytes:
    try:
        items = _der_sequence(der)
        oids = [value for tag, value in _der_items(items[0][1]) if tag == 0x06]
        tag, bits = items[1]
    except (ValueError, IndexError):
        raise SM2Error("not a SubjectPublicKeyInfo") from None
    if not oids or oids[0] != _OID_EC_PUBLIC_KEY or tag != 0x03:
        raise SM2Error("not an EC public key")
    if len(oids) > 1 and oids[1] != _OID_SM2:
        raise SM2Error("an EC public key on another curve than SM2")
    return bits[1:]


def _private_scalar(der: bytes) -> bytes:
    try:
        items = _der_sequence(der)
        if len(items) >= 3 and items[1][0] == 0x30 and items[2][0] == 0x04:  # PKCS#8 wraps SEC 1
            oids = [v for t, v in _der_items(items[1][1]) if t == 0x06]
            if _OID_EC_PUBLIC_KEY not in oids:
                raise SM2Error("not an EC private key")
            if len(oids) > 1 and oids[1] != _OID_SM2:
                raise SM2Error("an EC private key on another curve than SM2")
            items = _der_sequence(items[2][1])
        if items[0] != (0x02, b"\x01") or items[1][0] != 0x04:
            raise SM2Error("not an EC private key")
        for tag, value in items[2:]:
            if tag == 0xA0 and _der_items(value) != [(0x06, _OID_SM2)]:
                raise SM2Error("an EC private key on another curve than SM2")
        return items[1][1]
    except (ValueError, IndexError):
        raise SM2Error("not a PKCS#8 or SEC 1 private key") from None


def _pem(label: str, der: bytes) -> str:
    body = base64.b64encode(der).decode("ascii")
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n"


__all__ = [
    "DEFAULT_USER_ID",
    "CipherFormat",
    "CipherOrder",
    "PrivateKey",
    "PublicKey",
    "SM2Error",
    "SignatureFormat",
    "TextEncoding",
    "decode_text",
    "decrypt",
    "decrypt_text",
    "der_to_rs",
    "encode_text",
    "encrypt",
    "encrypt_text",
    "load_private_key",
    "load_public_key",
    "on_curve",
    "rs_to_der",
    "sign",
    "verify",
]

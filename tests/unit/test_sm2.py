"""SM2 port (infra/province/sm2.py): the standard's vectors, and OpenSSL 3 as the independent implementation.

OpenSSL is the `openssl` command line (Debian ships it; CI has it). Its SM2 ciphertext is GM/T 0009 ASN.1
(SEQUENCE {x, y, C3, C2}); the test converts to and from the raw C1C3C2 / C1C2C3 layouts by hand, so the
conversion under test is not the one checking it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.province import sm2
from infra.province.sm2 import CipherFormat, PrivateKey, PublicKey, SM2Error

OPENSSL = shutil.which("openssl")
# Skipped on a developer's machine without it; in CI (CI=true) a missing openssl fails the run, so the
# interoperability checks cannot silently not happen (Debian's image ships it: `apt-get install openssl`).
needs_openssl = pytest.mark.skipif(
    OPENSSL is None and not os.environ.get("CI"), reason="the openssl command line is not installed"
)

# GM/T 0003.5 / GB/T 32918.5 example on the recommended curve (also GmSSL's and OpenSSL's SM2 tests).
VECTOR_D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
VECTOR_X = 0x09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020
VECTOR_Y = 0xCCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13
VECTOR_K = 0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21
VECTOR_R = 0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3
VECTOR_S = 0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA
VECTOR_MESSAGE = b"message digest"


def _der_len(data: bytes, at: int) -> tuple[int, int]:
    first = data[at]
    if first < 0x80:
        return first, at + 1
    size = first & 0x7F
    return int.from_bytes(data[at + 1 : at + 1 + size], "big"), at + 1 + size


def openssl_asn1_to_raw(der: bytes) -> tuple[bytes, bytes, bytes]:
    """OpenSSL's SM2Ciphertext → (C1 = x ‖ y, C3, C2), read by hand."""
    assert der[0] == 0x30
    _, at = _der_len(der, 1)
    parts = []
    for _ in range(4):
        tag = der[at]
        length, at = _der_len(der, at + 1)
        parts.append((tag, der[at : at + length]))
        at += length
    (_, x), (_, y), (_, c3), (_, c2) = parts
    c1 = int.from_bytes(x, "big").to_bytes(32, "big") + int.from_bytes(y, "big").to_bytes(32, "big")
    return c1, c3, c2


def raw_to_openssl_asn1(c1: bytes, c3: bytes, c2: bytes) -> bytes:
    def tlv(tag: int, value: bytes) -> bytes:
        n = len(value)
        length = bytes([n]) if n < 0x80 else bytes([0x81, n]) if n < 0x100 else bytes([0x82]) + n.to_bytes(2, "big")
        return bytes([tag]) + length + value

    def integer(raw: bytes) -> bytes:
        raw = raw.lstrip(b"\x00") or b"\x00"
        return tlv(0x02, b"\x00" + raw if raw[0] & 0x80 else raw)

    return tlv(0x30, integer(c1[:32]) + integer(c1[32:]) + tlv(0x04, c3) + tlv(0x04, c2))


def openssl(*args: str, stdin: bytes | None = None) -> bytes:
    done = subprocess.run([OPENSSL or "openssl", *args], input=stdin, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


@pytest.fixture(scope="module")
def openssl_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, PrivateKey]:
    """A key pair OpenSSL generated (PKCS#8 PEM), and the same key as the port loaded it."""
    if OPENSSL is None and not os.environ.get("CI"):
        pytest.skip("the openssl command line is not installed")
    folder = tmp_path_factory.mktemp("sm2")
    private, public = folder / "key.pem", folder / "pub.pem"
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", str(private))
    openssl("pkey", "-in", str(private), "-pubout", "-out", str(public))
    return private, public, sm2.load_private_key(private.read_text())


MESSAGES = [b"x", "好差评 evaluate {\"pf\":\"1\"}".encode(), bytes(range(256)) * 3]


# --- the standard's vectors ---------------------------------------------------------------------------------
def test_the_standard_key_pair_derives_its_published_public_key() -> None:
    assert PrivateKey(VECTOR_D).public == PublicKey(VECTOR_X, VECTOR_Y)


def test_signing_with_the_standard_nonce_gives_its_published_signature() -> None:
    raw = sm2.sign(PrivateKey(VECTOR_D), VECTOR_MESSAGE, "1234567812345678", "rs", _k=VECTOR_K)
    assert raw == VECTOR_R.to_bytes(32, "big") + VECTOR_S.to_bytes(32, "big")
    assert sm2.verify(PublicKey(VECTOR_X, VECTOR_Y), VECTOR_MESSAGE, raw, fmt="rs")


def test_the_standard_signature_fails_for_another_message_user_id_or_key() -> None:
    raw = VECTOR_R.to_bytes(32, "big") + VECTOR_S.to_bytes(32, "big")
    public = PublicKey(VECTOR_X, VECTOR_Y)
    assert not sm2.verify(public, b"message digesT", raw, fmt="rs")  # negative control
    assert not sm2.verify(public, VECTOR_MESSAGE, raw, user_id="ALICE123@YAHOO.COM", fmt="rs")
    assert not sm2.verify(PrivateKey.generate().public, VECTOR_MESSAGE, raw, fmt="rs")


@needs_openssl
def test_openssl_verifies_the_standard_signature(tmp_path: Path) -> None:
    """The vector itself checked by the independent implementation, so the values above are not folklore."""
    (tmp_path / "pub.pem").write_text(PublicKey(VECTOR_X, VECTOR_Y).to_pem())
    (tmp_path / "m").write_bytes(VECTOR_MESSAGE)
    (tmp_path / "sig").write_bytes(sm2.rs_to_der(VECTOR_R.to_bytes(32, "big") + VECTOR_S.to_bytes(32, "big")))
    out = openssl(
        "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", str(tmp_path / "pub.pem"),
        "-in", str(tmp_path / "m"), "-sigfile", str(tmp_path / "sig"), "-pkeyopt", "distid:1234567812345678",
    )  # fmt: skip
    assert b"Verified Successfully" in out


# --- encryption, both ways with OpenSSL ---------------------------------------------------------------------
@needs_openssl
@pytest.mark.parametrize("message", MESSAGES, ids=["one-byte", "chinese-json", "768-bytes"])
@pytest.mark.parametrize("order", ["C1C3C2", "C1C2C3"])
@pytest.mark.parametrize("prefix", [True, False], ids=["04", "no-04"])
def test_what_the_hub_encrypts_openssl_decrypts(
    openssl_key: tuple[Path, Path, PrivateKey], tmp_path: Path, message: bytes, order: sm2.CipherOrder, prefix: bool
) -> None:
    private_pem, _, key = openssl_key
    ciphertext = sm2.encrypt(key.public, message, order, prefix)
    body = ciphertext[1:] if prefix else ciphertext
    assert (ciphertext[0] == 4) is prefix or not prefix
    c1 = body[:64]
    c3, c2 = (body[64:96], body[96:]) if order == "C1C3C2" else (body[-32:], body[64:-32])
    (tmp_path / "c.der").write_bytes(raw_to_openssl_asn1(c1, c3, c2))
    assert openssl("pkeyutl", "-decrypt", "-inkey", str(private_pem), "-in", str(tmp_path / "c.der")) == message


@needs_openssl
@pytest.mark.parametrize("message", MESSAGES, ids=["one-byte", "chinese-json", "768-bytes"])
@pytest.mark.parametrize("order", ["C1C3C2", "C1C2C3"])
def test_what_openssl_encrypts_the_hub_decrypts(
    openssl_key: tuple[Path, Path, PrivateKey], tmp_path: Path, message: bytes, order: sm2.CipherOrder
) -> None:
    _, public_pem, key = openssl_key
    (tmp_path / "m").write_bytes(message)
    der = openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", str(public_pem), "-in", str(tmp_path / "m"))
    c1, c3, c2 = openssl_asn1_to_raw(der)
    raw = b"\x04" + c1 + (c3 + c2 if order == "C1C3C2" else c2 + c3)
    assert sm2.decrypt(key, raw, order) == message
    assert sm2.decrypt(key, raw[1:], order) == message  # the same without the 04 prefix
    assert sm2.decrypt(key, der, "asn1") == message  # and OpenSSL's own layout


@needs_openssl
def test_the_hub_asn1_layout_is_what_openssl_reads(openssl_key: tuple[Path, Path, PrivateKey], tmp_path: Path) -> None:
    private_pem, _, key = openssl_key
    (tmp_path / "c.der").write_bytes(sm2.encrypt(key.public, MESSAGES[1], "asn1"))
    assert openssl("pkeyutl", "-decrypt", "-inkey", str(private_pem), "-in", str(tmp_path / "c.der")) == MESSAGES[1]


def test_a_tampered_ciphertext_or_the_wrong_key_does_not_decrypt() -> None:
    key = PrivateKey.generate()
    ciphertext = bytearray(sm2.encrypt(key.public, b"evaluate"))
    assert sm2.decrypt(key, bytes(ciphertext)) == b"evaluate"
    ciphertext[-1] ^= 1
    with pytest.raises(SM2Error, match="C3"):
        sm2.decrypt(key, bytes(ciphertext))
    with pytest.raises(SM2Error, match="C3"):
        sm2.decrypt(PrivateKey.generate(), sm2.encrypt(key.public, b"evaluate"))


def test_a_c1_off_the_curve_is_refused_before_the_private_key_touches_it() -> None:
    """The invalid-curve attack: a chosen C1 off the curve would leak the private key bit by bit."""
    key = PrivateKey.generate()
    ciphertext = bytearray(sm2.encrypt(key.public, b"evaluate", prefix=False))
    ciphertext[63] ^= 1  # y of C1
    with pytest.raises(SM2Error, match="curve"):
        sm2.decrypt(key, bytes(ciphertext))


def test_the_wrong_order_does_not_decrypt() -> None:
    key = PrivateKey.generate()
    with pytest.raises(SM2Error):
        sm2.decrypt(key, sm2.encrypt(key.public, b"evaluate record", "C1C2C3"), "C1C3C2")


def test_encryption_is_randomized_and_text_round_trips_in_every_encoding() -> None:
    key = PrivateKey.generate()
    assert sm2.encrypt(key.public, b"same") != sm2.encrypt(key.public, b"same")
    for encoding in ("hex", "HEX", "base64"):
        for order in ("C1C3C2", "C1C2C3", "asn1"):
            fmt = CipherFormat(order=order, prefix=False, encoding=encoding)
            text = sm2.encrypt_text(key.public, "好差评", fmt)
            assert sm2.decrypt_text(key, text, fmt) == "好差评".encode()
    assert sm2.encrypt_text(key.public, "x", CipherFormat(encoding="HEX")).isupper()


# --- signatures, both ways with OpenSSL ---------------------------------------------------------------------
@needs_openssl
@pytest.mark.parametrize("user_id", ["1234567812345678", "hcp-hub@330000"])
def test_what_the_hub_signs_openssl_verifies(
    openssl_key: tuple[Path, Path, PrivateKey], tmp_path: Path, user_id: str
) -> None:
    _, public_pem, key = openssl_key
    (tmp_path / "m").write_bytes(MESSAGES[1])
    (tmp_path / "sig").write_bytes(sm2.sign(key, MESSAGES[1], user_id, "der"))
    out = openssl(
        "pkeyutl", "-verify", "-rawin", "-digest", "sm3", "-pubin", "-inkey", str(public_pem),
        "-in", str(tmp_path / "m"), "-sigfile", str(tmp_path / "sig"), "-pkeyopt", f"distid:{user_id}",
    )  # fmt: skip
    assert b"Verified Successfully" in out


@needs_openssl
@pytest.mark.parametrize("user_id", ["1234567812345678", "hcp-hub@330000"])
def test_what_openssl_signs_the_hub_verifies(
    openssl_key: tuple[Path, Path, PrivateKey], tmp_path: Path, user_id: str
) -> None:
    private_pem, _, key = openssl_key
    (tmp_path / "m").write_bytes(MESSAGES[1])
    der = openssl(
        "pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-inkey", str(private_pem),
        "-in", str(tmp_path / "m"), "-pkeyopt", f"distid:{user_id}",
    )  # fmt: skip
    assert sm2.verify(key.public, MESSAGES[1], der, user_id, "der")
    assert sm2.verify(key.public, MESSAGES[1], sm2.der_to_rs(der), user_id, "rs")
    assert not sm2.verify(key.public, MESSAGES[1] + b" ", der, user_id, "der")  # negative control
    assert not sm2.verify(key.public, MESSAGES[1], der, "another id", "der")


@needs_openssl
def test_keys_written_by_the_hub_are_the_keys_openssl_reads(tmp_path: Path) -> None:
    key = PrivateKey(VECTOR_D)
    (tmp_path / "k.pem").write_text(key.to_pem())
    text = openssl("pkey", "-in", str(tmp_path / "k.pem"), "-pubout").decode()
    assert sm2.load_public_key(text) == PublicKey(VECTOR_X, VECTOR_Y)
    assert sm2.load_private_key(key.to_pem()) == key


def test_signatures_out_of_range_or_malformed_are_false_not_errors() -> None:
    key = PrivateKey.generate()
    assert not sm2.verify(key.public, b"m", b"\x00" * 64, fmt="rs")
    assert not sm2.verify(key.public, b"m", sm2.N.to_bytes(32, "big") * 2, fmt="rs")
    assert not sm2.verify(key.public, b"m", b"\x30\x03\x02\x01", fmt="der")
    assert not sm2.verify(key.public, b"m", b"short", fmt="rs")


# --- keys as provinces hand them out ------------------------------------------------------------------------
def test_keys_load_from_hex_base64_with_or_without_04() -> None:
    key = PrivateKey(VECTOR_D)
    public = key.public
    for text in (public.raw().hex(), public.raw(prefix=False).hex().upper(), sm2.encode_text(public.raw(), "base64")):
        assert sm2.load_public_key(text) == public
    assert sm2.load_private_key(f"{VECTOR_D:064X}") == key
    assert sm2.load_private_key(sm2.encode_text(key.raw(), "base64")) == key


def test_a_public_key_off_the_curve_is_refused() -> None:
    with pytest.raises(SM2Error, match="not a point of the SM2 curve"):
        sm2.load_public_key(f"04{VECTOR_X:064x}{VECTOR_Y + 1:064x}")
    with pytest.raises(SM2Error):
        sm2.load_private_key("00" * 32)
    with pytest.raises(SM2Error):
        sm2.load_public_key("not a key!")


def test_the_standard_ciphertext_decrypts_to_its_published_message() -> None:
    """GB/T 32918.4 / GM/T 0003.4 example on the recommended curve: C1 ‖ C3 ‖ C2 of "encryption standard"."""
    c1 = (
        "04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73E8"
        "58F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0"
    )
    c3 = "59983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766"
    c2 = "21886CA989CA9C7D58087307CA93092D651EFA"
    key = PrivateKey(VECTOR_D)
    assert sm2.decrypt(key, bytes.fromhex(c1 + c3 + c2)) == b"encryption standard"
    assert sm2.decrypt(key, bytes.fromhex(c1 + c2 + c3), "C1C2C3") == b"encryption standard"


def test_sm3_is_the_standard_and_the_pure_python_fallback_agrees() -> None:
    """GB/T 32905 example: SM3("abc"). The fallback serves an interpreter whose OpenSSL lacks SM3."""
    assert sm2.sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    for data in (b"", b"abc", bytes(range(256)) * 2):
        assert sm2._sm3_pysmx(data) == sm2._sm3_openssl(data)


def test_an_asn1_c1_too_large_for_the_field_is_refused_not_a_crash() -> None:
    key = PrivateKey.generate()
    oversized = b"\x02\x21\x01" + b"\x00" * 32  # an INTEGER of 2^256: outside the field
    body = oversized + oversized + b"\x04\x20" + b"\x00" * 32 + b"\x04\x01\x00"
    with pytest.raises(SM2Error, match="curve"):
        sm2.decrypt(key, bytes([0x30, len(body)]) + body, "asn1")
    with pytest.raises(SM2Error):
        sm2.decrypt(key, b"\x30\x05\x02\x01\x01\x02", "asn1")  # truncated


@settings(max_examples=15, deadline=None)
@given(
    message=st.binary(min_size=1, max_size=300),
    order=st.sampled_from(["C1C3C2", "C1C2C3", "asn1"]),
    prefix=st.booleans(),
    encoding=st.sampled_from(["hex", "HEX", "base64"]),
)
def test_any_message_round_trips_in_any_layout(message: bytes, order: str, prefix: bool, encoding: str) -> None:
    fmt = CipherFormat(order=order, prefix=prefix, encoding=encoding)  # type: ignore[arg-type]
    assert sm2.decrypt_text(_PROPERTY_KEY, sm2.encrypt_text(_PROPERTY_KEY.public, message, fmt), fmt) == message


_PROPERTY_KEY = PrivateKey.generate()

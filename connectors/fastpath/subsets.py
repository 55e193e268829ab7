"""The plain subsets of XML and forms the fast path reads itself, each in one or two C-level splits; any other body
takes the reference decoders (`connectors.decode`).

XML: the reference parses with expat after refusing any DTD or entity declaration. The fast scanner here reads only
a plain subset — one root element holding leaf elements, their text without `&`, `<`, `>`, `\\r` or characters
XML forbids — so there is no markup declaration and no entity reference to expand; anything else takes the
reference path (and its refusal of DTDs).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from connectors.decode import _BAD_ESCAPE, _XML_DECL

# -- the XML subset the fast path reads (everything else: expat behind the DTD refusal) ------------------------------

# possessive throughout: each class stops at a '<' or '>' it cannot hold, so there is nothing to backtrack into
_XML_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]*+"
_XML_TEXT = "[^<>&\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]*+"  # no '>' either: see _plain_xml
_XML_SPACE = "[ \t\n]*+"
_XML_PLAIN = re.compile(
    rf"{_XML_SPACE}<({_XML_NAME})>((?:{_XML_SPACE}<({_XML_NAME})>{_XML_TEXT}</\3>)*+){_XML_SPACE}</\1>{_XML_SPACE}"
)


def _plain_xml(text: str) -> dict[str, str] | None:
    """The leaf children of a plain root element by tag (a blank text: ""), or None when the text is not plain."""
    match = _XML_PLAIN.fullmatch(text)
    if match is None:
        return None
    # Held to the pattern, the children read `<a>x</a> <b>y</b>`: split at '<' the odd pieces are `a>x` (the even ones
    # the end tags and the space), and with no '>' inside a text, one split at '>' gives names and texts in turn.
    items = ">".join(match.group(2).split("<")[1::2]).split(">")
    flat = dict(zip(items[::2], items[1::2]))  # noqa: B905 — even by the pattern, and checked just below
    return flat if 2 * len(flat) == len(items) else None  # a repeated element: the reference reads it as a list


# The same subset read from the bytes, for the charsets of _RUN_SAFE (below): there every byte below 0x40 is a
# character of its own (never a trail byte), so '<', '>', '&', '\r' and the control characters are the same tests on
# the bytes as on the text, and decoding each text alone gives what decoding the whole body gives. A multibyte
# decoder costs about 6 ns for each ASCII byte (2 µs for the GBK sample): here only the texts that are not ASCII pay
# it. The declaration must be ASCII, and a decoded text is held to the characters XML forbids that only decoding shows.
_XML_NAME_B = _XML_NAME.encode()
_XML_SPACE_B = _XML_SPACE.encode()
_XML_TEXT_B = rb"[^<>&\r\x00-\x08\x0b\x0c\x0e-\x1f]*+"
_XML_PLAIN_B = re.compile(
    rb"([ \t\n\r\f\v]*+<\?xml[^>]*\?>)?"  # connectors.decode._XML_DECL_TEXT: what the reference drops
    rb"%s<(%s)>((?:%s<(%s)>%s</\4>)*+)%s</\2>%s"
    % (_XML_SPACE_B, _XML_NAME_B, _XML_SPACE_B, _XML_NAME_B, _XML_TEXT_B, _XML_SPACE_B, _XML_SPACE_B)
)
_XML_DECODED_BAD = re.compile("[\ud800-\udfff\ufffe\uffff]")
_XML_DECODERS: dict[str, Callable[[bytes], tuple[str, int]] | None] = {}  # charset -> decoder (None: the text path)
_utf8 = bytes.decode  # an ASCII text: what every charset of _RUN_SAFE gives, read by the fastest decoder


def _plain_xml_bytes(body: bytes, charset: str) -> dict[str, str] | None:
    """What `_plain_xml` gives for `body` decoded (its declaration's charset, else `charset`), or None: then the
    caller decodes the whole body and asks `_plain_xml` (another charset, a text XML forbids, not plain)."""
    match = _XML_PLAIN_B.fullmatch(body)
    if match is None:
        return None
    declaration = match.group(1)
    if declaration is not None:
        if not declaration.isascii():
            return None
        declared = _XML_DECL.match(declaration)  # it stops at the same '?>'
        if declared is not None:
            charset = declared.group(1).decode("ascii").lower()
    decode = _XML_DECODERS.get(charset, _utf8)
    if decode is _utf8:
        try:
            info = codecs.lookup(charset)
        except LookupError:
            info = None
        if len(_XML_DECODERS) > 64:
            _XML_DECODERS.clear()
        decode = _XML_DECODERS[charset] = info.decode if info is not None and info.name in _RUN_SAFE else None
    if decode is None:
        return None
    items = b">".join(match.group(3).split(b"<")[1::2]).split(b">")  # as in _plain_xml: names and texts in turn
    texts = items[1::2]
    if b"".join(texts).isascii():
        flat = dict(zip(map(_utf8, items[::2]), map(_utf8, texts)))  # noqa: B905 — even by the pattern
    else:
        read: list[str] = []
        for text in texts:
            if text.isascii():
                read.append(text.decode())
                continue
            try:
                decoded = decode(text)[0]
            except UnicodeDecodeError:
                return None  # the reference refuses the body with its code
            if _XML_DECODED_BAD.search(decoded):
                return None
            read.append(decoded)
        flat = dict(zip(map(_utf8, items[::2]), read))  # noqa: B905 — even by the pattern
    return flat if 2 * len(flat) == len(items) else None  # a repeated element: the reference reads it as a list


# -- the form subset the fast path reads: ASCII, `name=value` pairs, %-escapes well formed --------------------------

# possessive: nothing to backtrack into, each class stops at the delimiter that follows it
_FORM_PLAIN = re.compile(r"(?:[^&=]++=[^&=]*+&)*+[^&=]++=[^&=]*+")
_CHARSETS: dict[str, Callable[[bytes], tuple[str, int]] | None] = {}  # charset -> its decoder (None: per value)
# Stateless charsets in which an ASCII byte below 0x40 is always a character of its own (never a trail byte): decoding
# a whole form body at once then gives each name and value as decoding it alone would.
_escape_decode = getattr(codecs, "escape_decode", None)  # CPython's own (in _codecs since 2.x): \xXX in C
_RUN_SAFE = frozenset({"utf-8", "gbk", "gb2312", "gb18030", "big5", "latin-1", "iso8859-1", "ascii"})


def _plain_form(body: bytes, charset: str) -> dict[str, str] | None:
    """`connectors.decode._form` for an ASCII body whose values hold no '=' (else None): its escapes decoded in one
    C call and its bytes in one call of the charset's decoder, then one split — not one parse per pair."""
    if not body.isascii():
        return None
    text = body.decode("ascii").strip()
    if _FORM_PLAIN.fullmatch(text) is None:
        return None
    if charset not in _CHARSETS:
        try:
            "".encode(charset)  # the reference's own test of the charset
            info = codecs.lookup(charset)
        except Exception:  # an unknown charset: the reference refuses it with its code
            return None
        _CHARSETS[charset] = info.decode if info.name in _RUN_SAFE else None
    if "+" in text:
        text = text.replace("+", " ")
    if "%" in text:
        decode = _CHARSETS[charset]
        if decode is None or _escape_decode is None or "\\" in text or "%26" in text or "%3D" in text or "%3d" in text:
            return _per_value(text, charset)  # a charset with state, or an escaped separator: value by value
        try:
            # `%XX` as `\xXX`: escape_decode reads them all in C (a bad escape raises); then the charset's decoder
            # reads the whole, which in these charsets ends a character at every '&' and '=' (never a trail byte)
            text = decode(_escape_decode(text.replace("%", "\\x").encode("ascii"))[0])[0]
        except ValueError:  # UnicodeDecodeError included: the reference refuses it with its code
            return None
    items = text.replace("=", "&").split("&")  # names and values in turn
    return dict(zip(items[::2], items[1::2])) if len(items) % 2 == 0 else None  # noqa: B905 — checked even


def _per_value(text: str, charset: str) -> dict[str, str] | None:
    if _BAD_ESCAPE.search(text):
        return None
    items = text.replace("=", "&").split("&")
    for index, item in enumerate(items):
        if "%" in item:
            try:
                items[index] = unquote_to_bytes(item).decode(charset)
            except UnicodeDecodeError:
                return None
    return dict(zip(items[::2], items[1::2])) if len(items) % 2 == 0 else None  # noqa: B905 — checked even

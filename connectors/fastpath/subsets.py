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

from connectors.decode import _BAD_ESCAPE

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

"""Bytes to a document: content type, charset and format, refused with a code when unusable."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import unquote_to_bytes
from xml.etree.ElementTree import Element, ParseError, XMLParser

import orjson

from hub.errors import Problem, Refused, problem
from hub.jsonbody import loads, syntax_error

Format = Literal["json", "xml", "form"]

_MIME_FORMAT: Mapping[str, Format] = {
    "application/json": "json",
    "text/json": "json",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/x-www-form-urlencoded": "form",
}
_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding=[\"']([A-Za-z0-9._-]+)[\"'][^>]*\?>")
_XML_DECL_TEXT = re.compile(r"^\s*<\?xml[^>]*\?>")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_XML_DTD = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
# Outside its strings a JSON text has one colon per key, and re-encoding the decoded document writes every
# key once with its strings' colons as they are: so the two counts differ exactly when a key was written
# twice (or a colon was escaped, \u003a, which is rare and simply takes the exact path). Two C-speed counts,
# instead of a pure-Python parse on every body.
_ESCAPED_COLON = b"\\u003"


def parse_content_type(content_type: str | None) -> tuple[str | None, str | None]:
    """(mime, charset) from a Content-Type header value; either may be None."""
    if not content_type:
        return None, None
    mime, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip().strip('"').lower()
    return mime.strip().lower() or None, charset


def format_of(mime: str | None) -> Format | None:
    if mime is None:
        return None
    if mime.endswith("+json"):
        return "json"
    if mime.endswith("+xml"):
        return "xml"
    return _MIME_FORMAT.get(mime)


def _refuse(code: str, detail: str = "", detail_zh: str | None = None) -> Refused:
    return Refused([problem(code, "", detail, detail_zh=detail_zh)])


def _decode(body: bytes, charset: str) -> str:
    try:
        return body.decode(charset)
    except LookupError:
        raise _refuse("CONTENT_TYPE_UNSUPPORTED", f"unknown charset {charset}", f"未知字符集 {charset}") from None
    except UnicodeDecodeError as exc:
        raise _refuse(
            "BODY_UNDECODABLE", f"{charset} (byte {exc.start})", f"{charset.upper()} 编码（第 {exc.start} 字节起不符）"
        ) from None


def decode_document(body: bytes, fmt: Format, charset: str) -> Any:
    """The parsed document: dict/list for JSON, an Element for XML, a dict for a form."""
    if not body.strip():
        raise _refuse("BODY_EMPTY")
    if fmt == "json":
        return _json(body, charset)
    if fmt == "xml":
        return _xml(body, charset)
    return _form(body, charset)


def _json(body: bytes, charset: str) -> Any:
    if charset.replace("-", "") not in ("utf8",):
        text: str | bytes = _decode(body, charset)
    else:
        _decode(body, "utf-8")  # strict check first, so bad bytes are a charset error, not a syntax one
        text = body
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise syntax_error(exc) from None
    raw = text if isinstance(text, bytes) else text.encode("utf-8")
    if raw.count(b":") != orjson.dumps(document).count(b":") or _ESCAPED_COLON in raw:
        loads(raw)  # a key written twice (orjson keeps the last of two equal keys): refused, naming it
    return document


def _xml(body: bytes, charset: str) -> Element:
    declared = _XML_DECL.match(body)
    text = _decode(body, declared.group(1).decode("ascii").lower() if declared else charset)
    text = _XML_DECL_TEXT.sub("", text, count=1)  # decoded already; expat only knows single-byte charsets
    if _XML_DTD.search(text):
        # No source needs a DTD; without one there are no entities to expand (billion laughs, XXE).
        raise _refuse(
            "BODY_MALFORMED", "XML: DTDs and entity declarations are not accepted", "XML 中不接受 DTD 或实体声明"
        )
    parser = XMLParser()
    try:
        parser.feed(text)
        return parser.close()
    except ParseError as exc:
        line, column = exc.position
        raise _refuse("BODY_MALFORMED", f"XML: {exc}", f"XML 格式错误（第 {line} 行第 {column + 1} 列）") from None


def _form(body: bytes, charset: str) -> dict[str, str]:
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        text = _decode(body, charset)  # a raw (unescaped) form in the declared charset
    try:
        "".encode(charset)
    except LookupError:
        raise _refuse("CONTENT_TYPE_UNSUPPORTED", f"unknown charset {charset}", f"未知字符集 {charset}") from None
    form: dict[str, str] = {}
    for pair in text.strip().split("&"):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise _refuse("BODY_MALFORMED", f"form: {pair[:40]!r} is not name=value",
                          f"表单中的 {pair[:40]!r} 不是“名称=值”的形式")  # fmt: skip
        form[_unquote(key, charset)] = _unquote(value, charset)
    return form


def _unquote(text: str, charset: str) -> str:
    """application/x-www-form-urlencoded decoding, strict about the charset (parse_qsl is 3× slower)."""
    if "+" in text:
        text = text.replace("+", " ")
    if "%" not in text:
        return text
    if _BAD_ESCAPE.search(text):
        raise _refuse(
            "BODY_MALFORMED", f"form: a bad %-escape in {text[:40]!r}", f"表单中的 {text[:40]!r} 含有错误的 % 转义"
        )
    try:
        return unquote_to_bytes(text).decode(charset)
    except UnicodeDecodeError as exc:
        raise _refuse(
            "BODY_UNDECODABLE", f"{charset} (byte {exc.start})", f"{charset.upper()} 编码（第 {exc.start} 字节起不符）"
        ) from None


def problems_of(exc: Refused) -> list[Problem]:
    return exc.problems

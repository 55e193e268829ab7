"""Bytes to a document: content type, charset and format, refused with a code when unusable."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
import orjson
from defusedxml import DefusedXmlException

from hub.errors import Problem, Refused, problem

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


def _refuse(code: str, detail: str = "") -> Refused:
    return Refused([problem(code, "", detail)])


def _decode(body: bytes, charset: str) -> str:
    try:
        return body.decode(charset)
    except LookupError:
        raise _refuse("CONTENT_TYPE_UNSUPPORTED", f"unknown charset {charset}") from None
    except UnicodeDecodeError as exc:
        raise _refuse("BODY_UNDECODABLE", f"{charset} (byte {exc.start})") from None


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
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise _refuse("BODY_MALFORMED", f"JSON: {exc}") from None


def _xml(body: bytes, charset: str) -> Element:
    declared = _XML_DECL.match(body)
    text = _decode(body, declared.group(1).decode("ascii").lower() if declared else charset)
    text = _XML_DECL_TEXT.sub("", text, count=1)  # decoded already; expat only knows single-byte charsets
    try:
        return SafeET.fromstring(text)
    except DefusedXmlException as exc:
        raise _refuse("BODY_MALFORMED", f"XML: forbidden construct ({type(exc).__name__})") from None
    except SafeET.ParseError as exc:
        raise _refuse("BODY_MALFORMED", f"XML: {exc}") from None


def _form(body: bytes, charset: str) -> dict[str, str]:
    try:
        ascii_text = body.decode("ascii")
    except UnicodeDecodeError:
        ascii_text = _decode(body, charset)  # a raw (unescaped) form in the declared charset
        pairs = parse_qsl(ascii_text, keep_blank_values=True, strict_parsing=False)
    else:
        try:
            pairs = parse_qsl(
                ascii_text, keep_blank_values=True, strict_parsing=True, encoding=charset, errors="strict"
            )
        except UnicodeDecodeError as exc:
            raise _refuse("BODY_UNDECODABLE", f"{charset} (byte {exc.start})") from None
        except LookupError:
            raise _refuse("CONTENT_TYPE_UNSUPPORTED", f"unknown charset {charset}") from None
        except ValueError as exc:
            raise _refuse("BODY_MALFORMED", f"form: {exc}") from None
    return dict(pairs)


def problems_of(exc: Refused) -> list[Problem]:
    return exc.problems

"""Decoding a document's bytes to text: which charset, and how we know.

Order: a byte-order mark; then the HTTP ``Content-Type`` charset, the XML declaration and
``<meta charset>`` / ``http-equiv`` (found with BeautifulSoup's ``EncodingDetector``); then
detection (``charset_normalizer``). A label is trusted only if the bytes decode under it: bytes that
are valid UTF-8 with non-ASCII text are UTF-8 whatever the label says (the mislabelled-page case),
and single-byte Latin labels on Arabic-script pages are read as windows-1256. Pure: bytes in, text
out. It does not parse the document.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import charset_normalizer
from bs4.dammit import EncodingDetector

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# WHATWG: these labels mean windows-1252 on the web.
_WEB_ALIASES = {
    "iso8859-1": "cp1252",
    "latin-1": "cp1252",
    "ascii": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-6": "cp1256",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
}
_LATIN_SINGLE_BYTE = {
    "cp1252",
    "latin-1",
    "iso8859-15",
    "iso8859-2",
    "cp1250",
    "cp1254",
    "mac-roman",
}
_CHARSET_PARAM = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str
    how: str


def codec_name(label: str | None) -> str | None:
    """Python's name for a charset label, with the web's aliases; None if unknown."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    return _WEB_ALIASES.get(name, name)


def header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    m = _CHARSET_PARAM.search(content_type)
    return m.group(1) if m else None


def decode(body: bytes, content_type: str | None = None) -> Decoded:
    """Decode a document, trying its declared charsets in order and checking each one fits."""
    for bom, bom_codec in _BOMS:
        if body.startswith(bom):
            return Decoded(body[len(bom) :].decode(bom_codec, errors="replace"), bom_codec, "bom")
    utf16 = _bomless_utf16(body)
    if utf16:
        return Decoded(body.decode(utf16, errors="replace"), utf16, "detected")

    utf8 = _utf8(body)
    if utf8 is not None:
        return Decoded(utf8, "utf-8", "utf-8")

    declared: list[tuple[str | None, str]] = [(codec_name(header_charset(content_type)), "header")]
    head = body[:4096]
    detector = EncodingDetector(head, is_html=True)
    declared.append((codec_name(detector.find_declared_encoding(head, is_html=False)), "xml"))
    declared.append((codec_name(detector.find_declared_encoding(head, is_html=True)), "meta"))
    for name, how in declared:
        if not name or name in ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8"):
            continue  # UTF-16 without BOM was handled; UTF-8 did not fit
        try:
            text = body.decode(name)
        except UnicodeDecodeError:
            continue
        if name in _LATIN_SINGLE_BYTE and _says_arabic(head):
            return Decoded(body.decode("cp1256", errors="replace"), "cp1256", f"{how}-corrected")
        return Decoded(text, name, how)

    best = charset_normalizer.from_bytes(body[:200_000]).best()
    if best is not None and best.encoding:
        guess = codec_name(best.encoding) or "utf-8"
        return Decoded(body.decode(guess, errors="replace"), guess, "detected")
    return Decoded(body.decode("utf-8", errors="replace"), "utf-8", "fallback")


def _utf8(body: bytes) -> str | None:
    """The text, if the bytes are UTF-8 (decoded once); None if they are not."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as e:
        # A multibyte sequence cut off at the very end (a truncated page) still means UTF-8.
        if e.reason == "unexpected end of data" and e.start >= len(body) - 3 and e.start > 0:
            return body.decode("utf-8", errors="replace")
        return None


def _bomless_utf16(body: bytes) -> str | None:
    sample = body[:512]
    if len(sample) < 8:
        return None
    even_nulls = sample[0::2].count(0)
    odd_nulls = sample[1::2].count(0)
    half = len(sample) // 2
    if odd_nulls > half * 0.4 and even_nulls < half * 0.05:
        return "utf-16-le"
    if even_nulls > half * 0.4 and odd_nulls < half * 0.05:
        return "utf-16-be"
    return None


def _says_arabic(head: bytes) -> bool:
    return bool(re.search(rb"<html[^>]*\blang\s*=\s*[\"']?(?:ar|fa|ur)\b", head, re.I))

"""Text: NFC, invisible characters, whitespace, bidi controls, an element's text, quoted names."""

from __future__ import annotations

import re
import unicodedata

import lxml.html
from lxml import etree

# Zero-width characters, control characters other than newline and tab (\r included), and the
# explicit bidi embeddings, overrides and isolates (LRE RLE PDF LRO RLO, LRI RLI FSI PDI): an
# override left open reverses whatever follows it in a reader. The implicit marks a language
# needs (LRM U+200E, RLM U+200F, ALM U+061C) are kept.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f\u200b\ufeff\u2060\u180e\u202a-\u202e\u2066-\u2069]"
)
_BIDI_CHARACTERS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI_CONTROLS = re.compile(f"[{_BIDI_CHARACTERS}]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(text: str) -> str:
    """``text`` as valid Unicode: each lone surrogate (JSON's ``"\\ud800"`` decodes to one; no
    encoder takes it) replaced by U+FFFD. A pair decoded from JSON is one character already."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub("\ufffd", text)


def strip_bidi_controls(text: str) -> str:
    """``text`` without the explicit bidi embeddings, overrides and isolates (marks are kept)."""
    # A regex (a bitmap scan in C) rather than str.translate, which looks every character up in
    # a dict: 50 times quicker on a body's HTML, the same string. Most texts have none of the
    # nine: looking for each (a substring search) is quicker still than the regex's scan.
    if text.isascii() or not any(char in text for char in _BIDI_CHARACTERS):
        return text
    return _BIDI_CONTROLS.sub("", text)


def clean_text(text: str | None, *, keep_newlines: bool = False) -> str:
    """NFC text with invisible junk removed and whitespace collapsed (newlines kept if asked)."""
    if not text:
        return ""
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    # Invisible characters, and all whitespace but the space, are unprintable: most texts are
    # printable, which is quicker to test than to look for them.
    printable = text.isprintable()
    if not printable:
        if _INVISIBLE.search(text):
            text = _INVISIBLE.sub("", text)
        text = valid_text(text)
    if keep_newlines:
        return _collapse_lines(text)
    if printable and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text  # single spaces between words already
    return " ".join(text.split())


def _collapse_lines(text: str) -> str:
    """Each line's whitespace collapsed, blank lines and the lines' edges dropped: what
    ``re.sub(r"\\s*\\n\\s*", "\\n", re.sub(r"[^\\S\\n]+", " ", text)).strip()`` gives (a property
    test checks it), in C scans rather than one regex match per space of the text."""
    return "\n".join(filter(None, map(" ".join, map(str.split, text.split("\n")))))


def element_text(el: lxml.html.HtmlElement) -> str:
    """The text of an element and its descendants: ``el.text_content()``, without the XPath
    machinery behind it (libxml2 writes the text nodes out in one call; the same string)."""
    return str(etree.tostring(el, method="text", encoding="unicode", with_tail=False))


def clean_or_none(text: str | None) -> str | None:
    return clean_text(text) or None


_QUOTES = "«»\"“”„‟'‘’‹›「」"


def unquote_name(name: str) -> str:
    """A name without the quotation marks some sites wrap it in: «الشرق الأوسط» → الشرق الأوسط."""
    return name.strip().strip(_QUOTES).strip()

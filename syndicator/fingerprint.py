"""Fingerprints of an article: the versioned content hash and a near-duplicate signature.

The content hash decides identity of content (DESIGN.md, "Identity, content hash, revisions"):
two texts that differ only in how they are typeset (diacritics, tatweel, quote style, digits,
spacing, punctuation, case) hash the same; any change of words changes it. The fold is versioned:
changing :func:`fold` means a new prefix (``v2:``), never a silent change of ``v1:``.

The similarity signature is a 64-bit SimHash over word shingles of the folded text, written as
``s1:`` + 16 hex digits; :func:`similarity` compares two of them. Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence

HASH_VERSION = "v1"
SIGNATURE_VERSION = "s1"

# Arabic diacritics (harakat, Quranic marks, superscript alef) and tatweel.
_DIACRITIC_RANGES = ((0x0610, 0x061A), (0x064B, 0x065F), (0x0670, 0x0670), (0x06D6, 0x06ED))
_TATWEEL = 0x0640
# Zero-width characters and bidirectional controls.
_INVISIBLE = (
    0x00AD,
    0x061C,
    0x180E,
    0x2060,
    0xFEFF,
    *range(0x200B, 0x2010),  # ZWSP, ZWNJ, ZWJ, LRM, RLM
    *range(0x202A, 0x202F),  # LRE, RLE, PDF, LRO, RLO
    *range(0x2066, 0x206A),  # LRI, RLI, FSI, PDI
)
_ALEF = {0x0623: "ا", 0x0625: "ا", 0x0622: "ا", 0x0671: "ا", 0x0649: "ي", 0x0629: "ه"}
_DIGITS = {0x0660 + i: str(i) for i in range(10)} | {0x06F0 + i: str(i) for i in range(10)}


def _build_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for lo, hi in _DIACRITIC_RANGES:
        for cp in range(lo, hi + 1):
            table[cp] = None
    table[_TATWEEL] = None
    for cp in _INVISIBLE:
        table[cp] = None
    table.update(_ALEF)
    table.update(_DIGITS)
    # Punctuation (P*) and symbols (S*) are dropped.
    for cp in _scanned_code_points():
        if unicodedata.category(chr(cp))[0] in "PS":
            table[cp] = None
    return table


# Blocks that hold only letters, surrogates, private use or nothing at all: skipping them keeps
# the table quick to build (a test checks the result against a scan of every code point).
_NO_PUNCTUATION = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xAC00, 0xD7A3),
    (0xD800, 0xF8FF),
    (0x20000, 0x2FFFF),
    (0x30000, 0xDFFFF),
    (0xF0000, 0x10FFFF),
)


def _scanned_code_points() -> Iterable[int]:
    start = 0
    for lo, hi in _NO_PUNCTUATION:
        yield from range(start, lo)
        start = hi + 1
    yield from range(start, sys.maxunicode + 1)


_TABLE = _build_table()
_SPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    """The v1 fold: what is left of a text once typesetting is ignored.

    NFKC; Arabic diacritics and tatweel removed; zero-width and bidi controls removed; alef forms
    (أ إ آ ٱ) → ا, ى → ي, ة → ه; Arabic-Indic and Persian digits → ASCII; punctuation and symbols
    removed; casefold; runs of whitespace → one space, trimmed.
    """
    text = unicodedata.normalize("NFKC", text).translate(_TABLE).casefold()
    return _SPACE.sub(" ", text).strip()


def content_hash(title: str, paragraphs: Sequence[str]) -> str:
    """``v1:`` + SHA-256 hex of ``fold(title) + "\\n" + fold(body paragraphs)``.

    Paragraphs are folded as one text (joined by blank lines, so they end up one space apart);
    captions, bylines and page chrome are never part of ``paragraphs``.
    """
    body = fold("\n\n".join(paragraphs))
    digest = hashlib.sha256((fold(title) + "\n" + body).encode("utf-8")).hexdigest()
    return f"{HASH_VERSION}:{digest}"


def _shingles(words: Sequence[str], size: int = 3) -> Iterable[str]:
    if len(words) < size:
        if words:
            yield " ".join(words)
        return
    for i in range(len(words) - size + 1):
        yield " ".join(words[i : i + size])


def simhash(text: str) -> int:
    """A 64-bit SimHash of the folded text's word 3-shingles (0 for an empty text)."""
    words = fold(text).split()
    weights = [0] * 64
    seen = False
    for shingle in _shingles(words):
        seen = True
        h = int.from_bytes(hashlib.blake2b(shingle.encode("utf-8"), digest_size=8).digest(), "big")
        for bit in range(64):
            weights[bit] += 1 if (h >> bit) & 1 else -1
    if not seen:
        return 0
    return sum(1 << bit for bit in range(64) if weights[bit] > 0)


def signature(title: str, paragraphs: Sequence[str]) -> str:
    """The near-duplicate signature of an article, ``s1:`` + 16 hex digits."""
    return f"{SIGNATURE_VERSION}:{simhash(title + chr(10) + chr(10).join(paragraphs)):016x}"


def signature_bits(sig: str) -> int:
    """The integer behind a signature; raises ValueError for a signature of another version."""
    version, _, hexdigits = sig.partition(":")
    if version != SIGNATURE_VERSION or len(hexdigits) != 16:
        raise ValueError(f"not an {SIGNATURE_VERSION} signature: {sig!r}")
    return int(hexdigits, 16)


def similarity(a: str, b: str) -> float:
    """How alike two signatures are: 1.0 identical, about 0.5 unrelated (1 - Hamming/64)."""
    return 1.0 - (signature_bits(a) ^ signature_bits(b)).bit_count() / 64


NEAR_DUPLICATE = 0.9
"""Signatures at least this similar are treated as the same story lightly edited."""

"""Fingerprints of an article: the versioned content hash and a near-duplicate signature.

The content hash decides identity of content (DESIGN.md, "Identity, content hash, revisions"):
two texts that differ only in how they are typeset (diacritics, tatweel, quote style, digits,
spacing, punctuation, case) hash the same; any change of words changes it. The fold is versioned:
changing :func:`fold` means a new prefix (``v2:``), never a silent change of ``v1:``.

The similarity signature is a 64-bit SimHash over word 3-shingles of the folded text, written
as ``s2:`` + 16 hex digits; :func:`similarity` compares two of them. Its version says how the
shingles are hashed: ``s1:`` (earlier releases, still found in stores) hashed each shingle with
BLAKE2b, ``s2:`` combines per-word BLAKE2b values (tabulation hashing), which is several times
quicker; signatures of different versions are never alike. Pure: no I/O, no clock.
"""

from __future__ import annotations

import functools
import hashlib
import operator
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

HASH_VERSION = "v1"
SIGNATURE_VERSION = "s2"
SIGNATURE_VERSIONS = ("s1", "s2")  # those similarity() reads

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


def _character_class(code_points: Iterable[int]) -> str:
    """A regular-expression class that matches these code points (written as ranges)."""
    ranges: list[list[int]] = []
    for cp in sorted(code_points):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return (
        "["
        + "".join(rf"\U{lo:08x}" + (rf"-\U{hi:08x}" if hi > lo else "") for lo, hi in ranges)
        + "]"
    )


@dataclass(frozen=True, slots=True)
class _Folding:
    """The table and the scans that apply it.

    The table is applied by scans in C rather than a dictionary lookup per character (the same
    result, which a test checks): what it removes from the Basic Multilingual Plane goes with
    one regex (a class of BMP code points compiles to a bitmap; one with astral code points
    would be a list of ranges tried in turn), astral removals only when a text has astral
    characters, then the few replacements one by one."""

    table: dict[int, str | None]
    remove: re.Pattern[str]
    replace: tuple[tuple[str, str], ...]
    replaced: re.Pattern[str]


@functools.cache
def _folding() -> _Folding:
    """Built on the first fold (tens of milliseconds), not at import: a process that folds
    nothing (a `once` whose sources all answer 304) never builds it."""
    table = _build_table()
    removed_bmp = _character_class(cp for cp, to in table.items() if to is None and cp <= 0xFFFF)
    replace = tuple(sorted((chr(cp), to) for cp, to in table.items() if to is not None))
    return _Folding(
        table=table,
        # "[…][…]*" rather than "[…]+": a pattern that starts with a class lets the regex
        # engine skip to the next candidate character; one that starts with a repeat is tried
        # at every position.
        remove=re.compile(removed_bmp + removed_bmp + "*"),
        replace=replace,
        replaced=re.compile(_character_class(ord(char) for char, _ in replace)),
    )


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _astral(match: re.Match[str]) -> str:
    char = match[0]
    table = _folding().table
    return char if ord(char) not in table else table[ord(char)] or ""


def _fold_characters(text: str) -> str:
    """NFKC, the table and casefold: the fold but for whitespace (every step is per character
    once NFKC is done, so a line break in the text stays where it was)."""
    folding = _folding()
    text = folding.remove.sub("", unicodedata.normalize("NFKC", text))
    if not text.isascii():
        if len(text.encode("utf-16-le", "surrogatepass")) != 2 * len(text):
            text = _ASTRAL.sub(_astral, text)
        if folding.replaced.search(text):
            for char, to in folding.replace:
                if char in text:
                    text = text.replace(char, to)
    return text.casefold()


def fold(text: str) -> str:
    """The v1 fold: what is left of a text once typesetting is ignored.

    NFKC; Arabic diacritics and tatweel removed; zero-width and bidi controls removed; alef forms
    (أ إ آ ٱ) → ا, ى → ي, ة → ه; Arabic-Indic and Persian digits → ASCII; punctuation and symbols
    removed; casefold; runs of whitespace → one space, trimmed.
    """
    return " ".join(_fold_characters(text).split())


def fold_all(texts: Sequence[str]) -> list[str]:
    """``[fold(t) for t in texts]``, done as one pass over the texts (see :func:`fold_words`)."""
    return [" ".join(words) for words in fold_words(texts)]


def fold_words(texts: Sequence[str]) -> list[list[str]]:
    """``[fold(t).split() for t in texts]``, done as one pass over the texts joined by line
    breaks.

    A line break is a code point that NFKC never composes with its neighbours and that the
    table and casefold leave alone, so the texts fold apart exactly as they would one by one;
    texts that hold line breaks themselves are folded one by one.
    """
    if len(texts) < 2:
        return [_fold_characters(t).split() for t in texts]
    joined = "\n".join(texts)
    parts = _fold_characters(joined).split("\n") if joined.count("\n") == len(texts) - 1 else []
    if len(parts) != len(texts):
        return [_fold_characters(t).split() for t in texts]
    return [part.split() for part in parts]


def content_hash(title: str, paragraphs: Sequence[str]) -> str:
    """``v1:`` + SHA-256 hex of ``fold(title) + "\\n" + fold(body paragraphs)``.

    Paragraphs are folded as one text (joined by blank lines, so they end up one space apart);
    captions, bylines and page chrome are never part of ``paragraphs``.
    """
    folded = fold_all([title, *paragraphs])
    return folded_content_hash(folded[0], folded[1:])


def folded_content_hash(title: str, paragraphs: Iterable[str]) -> str:
    """:func:`content_hash` from folds already made: ``fold(title)`` and ``fold(p)`` for each
    paragraph. The fold of paragraphs joined by whitespace is their folds joined by one space,
    leaving out those that fold to nothing (a property test checks it)."""
    body = " ".join(p for p in paragraphs if p)
    digest = hashlib.sha256((title + "\n" + body).encode("utf-8")).hexdigest()
    return f"{HASH_VERSION}:{digest}"


_WORD_DIGEST = functools.partial(hashlib.blake2b, digest_size=24)
_DIGEST_BYTES = operator.methodcaller("digest")
_SHINGLE = 3
# Each word's 24 bytes of BLAKE2b, kept across articles: the words of a language repeat from
# one article to the next, and a look-up costs a tenth of a digest. Emptied when full, so it
# stays near a megabyte in a process that reads millions of articles.
_DIGESTS: dict[str, bytes] = {}
_DIGESTS_KEPT = 5_000


def _word_digests(words: Sequence[str]) -> bytes:
    """The 24-byte BLAKE2b digest of each word, in order, joined."""
    digests = _DIGESTS
    new = set(words).difference(digests)
    if new:
        if len(digests) + len(new) > _DIGESTS_KEPT:
            digests.clear()
            new = set(words)
        digests.update(
            zip(new, map(_DIGEST_BYTES, map(_WORD_DIGEST, map(str.encode, new))), strict=True)
        )
    return b"".join(map(digests.__getitem__, words))


def _simhash(words: Sequence[str]) -> int:
    """The s2 SimHash of word 3-shingles (one shingle of all the words when there are fewer).

    Shingles are hashed by simple tabulation: each distinct word gets 24 bytes of BLAKE2b, three
    64-bit values T0, T1, T2, and the shingle (a, b, c) hashes to T0(a) ^ T1(b) ^ T2(c) (a
    3-independent hash, with one BLAKE2b per distinct word instead of one per shingle). Bit
    ``b`` of the result is set when more than half of the shingle hashes have it.

    Everything per shingle runs in C, on columns: byte ``j`` of every word's digest, in text
    order, is ``packed[j::24]``; read as one integer, a column XORed with the next two columns'
    shifted by one and two words gives byte ``j`` of every shingle hash, and
    ``(column & mask).bit_count()`` counts one of its bits in all of them at once.
    """
    if not words:
        return 0
    packed = _word_digests(words)
    width = min(_SHINGLE, len(words))  # words per shingle
    count = len(words) - width + 1  # shingles
    ones = int.from_bytes(b"\x01" * count, "big")  # bit 0 of the byte of every shingle
    masks = [ones << bit for bit in range(8)]
    result = 0
    for byte in range(8):  # byte 0 is the most significant (values are read big-endian)
        column = 0
        for position in range(width):  # T0 of the first word, T1 of the second, T2 of the third
            lane = packed[8 * position + byte :: 24]
            column ^= int.from_bytes(lane[position : position + count], "big")
        for bit, mask in enumerate(masks):
            if 2 * (column & mask).bit_count() > count:
                result |= 1 << ((7 - byte) * 8 + bit)
    return result


def simhash(text: str) -> int:
    """The 64-bit SimHash (s2) of the folded text's word 3-shingles (0 for an empty text)."""
    return _simhash(fold(text).split())


def signature(title: str, paragraphs: Sequence[str]) -> str:
    """The near-duplicate signature of an article, ``s2:`` + 16 hex digits."""
    folded = fold_all([title, *paragraphs])
    return folded_signature(folded[0], folded[1:])


def folded_signature(title: str, paragraphs: Iterable[str]) -> str:
    """:func:`signature` from folds already made (``fold(title)``, ``fold(p)`` per paragraph)."""
    words = title.split()
    for paragraph in paragraphs:
        words.extend(paragraph.split())
    return words_signature(words)


def words_signature(words: Sequence[str]) -> str:
    """:func:`signature` from the words of the folded title and paragraphs, in order."""
    return f"{SIGNATURE_VERSION}:{_simhash(words):016x}"


def _read(sig: str) -> tuple[str, int]:
    version, _, hexdigits = sig.partition(":")
    if version not in SIGNATURE_VERSIONS or len(hexdigits) != 16:
        raise ValueError(f"not a similarity signature: {sig!r}")
    return version, int(hexdigits, 16)


def signature_bits(sig: str) -> int:
    """The integer behind a signature of the current version; raises ValueError for another."""
    version, bits = _read(sig)
    if version != SIGNATURE_VERSION:
        raise ValueError(f"not an {SIGNATURE_VERSION} signature: {sig!r}")
    return bits


def similarity(a: str, b: str) -> float:
    """How alike two signatures are: 1.0 identical, about 0.5 unrelated (1 - Hamming/64).

    Signatures of different versions hash shingles differently, so their bits say nothing of
    each other: they compare as 0.0 (never near-duplicates). A string that is no signature of a
    known version raises ValueError.
    """
    version_a, bits_a = _read(a)
    version_b, bits_b = _read(b)
    if version_a != version_b:
        return 0.0
    return 1.0 - (bits_a ^ bits_b).bit_count() / 64


NEAR_DUPLICATE = 0.9
"""Signatures at least this similar are treated as the same story lightly edited."""

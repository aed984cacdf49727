"""Safe XML: refuse entity declarations (entity expansion, external entities) before any parse,
and lxml parsers (whole or incremental) that never load DTDs, resolve entities or touch the
network; gzip inflated piece by piece, within a limit.

Pure: bytes in, a verdict or a tree out.
"""

from __future__ import annotations

import functools
import re
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, TypedDict

from syndicator import lazy
from syndicator.errors import ExtractError

if TYPE_CHECKING:
    from lxml import etree
else:
    # lxml loads with the first parse: sniffing, inflating and the entity check need none of
    # it, nor does a command that only names the kinds of document (the CLI's --kind).
    etree = lazy.module("lxml.etree")

MAX_INFLATED = 20 * 1024 * 1024  # the default; callers pass the service's max_bytes
GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 256 * 1024
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.I)
_DOCTYPE = re.compile(rb"<!DOCTYPE[^>\[]*\[", re.I)


class _Safety(TypedDict):
    resolve_entities: bool
    no_network: bool
    load_dtd: bool
    dtd_validation: bool
    huge_tree: bool
    recover: bool
    remove_comments: bool
    remove_pis: bool


# Every parse of ours: no entity resolution, no DTD, no network, no huge trees.
_SAFE = _Safety(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    recover=True,
    remove_comments=True,
    remove_pis=True,
)


@functools.cache
def safe_parser() -> etree.XMLParser:
    """The parser of every whole-document parse of ours (made once, with the first)."""
    return etree.XMLParser(**_SAFE)


def check(body: bytes, url: str | None = None) -> None:
    """Raise ExtractError if the document declares entities (the billion-laughs family)."""
    head = body[:65536]
    if _DOCTYPE.search(head) and _ENTITY_DECL.search(head):
        raise ExtractError(
            "refused: the document declares XML entities "
            "(entity expansion and external entities are not allowed)",
            url=url,
        )


def gunzip(body: bytes, url: str | None = None, limit: int = MAX_INFLATED) -> bytes:
    """Inflate a gzip file (a ``sitemap.xml.gz``), refusing to grow past ``limit`` bytes."""
    return b"".join(inflated(body, url, limit))


def inflated(body: bytes, url: str | None = None, limit: int = MAX_INFLATED) -> Iterator[bytes]:
    """A document in pieces of at most CHUNK bytes: a gzip file inflated as it is read (never
    more than ``limit`` bytes in all, or ExtractError), anything else as it is."""
    if not body.startswith(GZIP_MAGIC):
        for start in range(0, len(body), CHUNK):
            yield body[start : start + CHUNK]
        return
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    data, produced = body, 0
    while data:
        try:
            piece = inflater.decompress(data, CHUNK)
        except zlib.error as e:
            raise ExtractError(f"corrupt gzip data: {e}", url=url) from e
        produced += len(piece)
        if produced > limit:
            raise ExtractError(f"refused: gzip data inflates past {_size(limit)}", url=url)
        if piece:
            yield piece
        data = inflater.unconsumed_tail
        if inflater.eof:
            break
        if not piece and not data:
            break


def inflated_head(body: bytes, size: int = 4096) -> bytes:
    """The first ``size`` bytes of a document, inflated if it is gzip (for sniffing)."""
    if not body.startswith(GZIP_MAGIC):
        return body[:size]
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, size)
    except zlib.error:
        return b""


def _size(limit: int) -> str:
    return f"{limit / (1024 * 1024):g} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"


def pull_parser(tags: tuple[str, ...]) -> etree.XMLPullParser:
    """An incremental parser with the safety of :func:`safe_parser` (no DTD, no entities, no
    network) that reports the end of each element with one of these local names, in any
    namespace."""
    return etree.XMLPullParser(events=("end",), tag=[f"{{*}}{name}" for name in tags], **_SAFE)


def parse(body: bytes, url: str | None = None) -> etree._Element:
    """Parse XML safely; raises ExtractError if nothing usable comes out."""
    check(body, url)
    try:
        root = etree.fromstring(body, parser=safe_parser())
    except etree.XMLSyntaxError as e:
        raise ExtractError(f"not well-formed XML: {e}", url=url) from e
    if root is None:
        raise ExtractError("not XML", url=url)
    return root


__all__ = [
    "MAX_INFLATED",
    "check",
    "gunzip",
    "inflated",
    "inflated_head",
    "parse",
    "pull_parser",
    "safe_parser",
]

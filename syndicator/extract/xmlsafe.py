"""Safe XML: refuse entity declarations (entity expansion, external entities) before any parse,
and an lxml parser that never loads DTDs, resolves entities or touches the network.

Pure: bytes in, a verdict or a tree out.
"""

from __future__ import annotations

import re
import zlib

from lxml import etree

from syndicator.errors import ExtractError

MAX_INFLATED = 50 * 1024 * 1024
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.I)
_DOCTYPE = re.compile(rb"<!DOCTYPE[^>\[]*\[", re.I)

PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    recover=True,
    remove_comments=True,
    remove_pis=True,
)


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
    if not body.startswith(b"\x1f\x8b"):
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as e:
        raise ExtractError(f"corrupt gzip data: {e}", url=url) from e
    if len(out) > limit:
        raise ExtractError(f"refused: gzip data inflates past {limit // (1024 * 1024)} MB", url=url)
    return out


def parse(body: bytes, url: str | None = None) -> etree._Element:
    """Parse XML safely; raises ExtractError if nothing usable comes out."""
    check(body, url)
    try:
        root = etree.fromstring(body, parser=PARSER)
    except etree.XMLSyntaxError as e:
        raise ExtractError(f"not well-formed XML: {e}", url=url) from e
    if root is None:
        raise ExtractError("not XML", url=url)
    return root


__all__ = ["MAX_INFLATED", "PARSER", "check", "gunzip", "parse"]

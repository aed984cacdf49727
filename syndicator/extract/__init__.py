"""Extraction: from a document's bytes and URL to candidate articles and teasers.

:func:`extract` sniffs (or is told) what kind of document it has and hands it to one extractor:
``html`` (article pages and listings), ``feed`` (RSS, Atom, RDF, JSON Feed), ``sitemap`` (sitemaps,
sitemap indexes, Google News sitemaps) or ``text`` (plain-text page dumps); the teasers of a
document complete the articles of the same document they stand for (``complete``). Pure: no network,
disk or clock; every failure is an :class:`~syndicator.errors.ExtractError` with a reason.
"""

from __future__ import annotations

import re

from syndicator.errors import ExtractError
from syndicator.extract import xmlsafe
from syndicator.model import Extraction, Selectors

KINDS = ("auto", "html", "article", "listing", "rss", "atom", "feed", "jsonfeed", "sitemap", "text")

_XML_ROOT = re.compile(rb"<(?:[\w-]+:)?(rss|feed|RDF|urlset|sitemapindex)\b")
# What an HTML page starts with: its doctype or first elements, or what pages put before them
# (styles and scripts, a server-side warning's <br /> and <b>).
_HTML_STARTS = (
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<body",
    b"<!--",
    b"<meta",
    b"<script",
    b"<style",
    b"<link",
    b"<title",
    b"<br",
    b"<b>",
)
_HTML_ROOT = re.compile(rb"<(?:!doctype\s+html|html|body)[\s>]", re.I)


def sniff(body: bytes, content_type: str | None = None) -> str:
    """``html``, ``feed``, ``sitemap``, ``text`` or ``binary``, from the first bytes."""
    head = body[:2048]
    stripped = head.lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n")
    if b"\x00" in head and not (head.startswith((b"\xff\xfe", b"\xfe\xff")) or _utf16ish(head)):
        return "binary"
    if _utf16ish(head):
        head = head.replace(b"\x00", b"")
        stripped = head.lstrip(b"\xff\xfe \t\r\n")
    if stripped.startswith(b"{"):
        return "feed"
    m = _XML_ROOT.search(head)
    if m:
        return "sitemap" if m.group(1) in (b"urlset", b"sitemapindex") else "feed"
    lower = stripped[:512].lower()
    if lower.startswith(_HTML_STARTS) or (b"<p" in lower or b"<div" in lower):
        return "html"
    if _HTML_ROOT.search(head):  # after an XML declaration (XHTML), a script, a server's warning
        return "html"
    if sum(b < 9 or 13 < b < 32 for b in head) > 4:
        return "binary"
    ctype = (content_type or "").lower()
    if "html" in ctype:
        return "html"
    if "xml" in ctype or "rss" in ctype or "atom" in ctype:
        return "feed"
    return "text"


def _utf16ish(head: bytes) -> bool:
    sample = head[:200]
    return len(sample) >= 8 and (
        sample[1::2].count(0) > len(sample) * 0.4 or sample[0::2].count(0) > len(sample) * 0.4
    )


def extract(
    body: bytes,
    url: str,
    *,
    content_type: str | None = None,
    kind: str = "auto",
    selectors: Selectors | None = None,
    sections: tuple[str, ...] = (),
    max_inflated: int = xmlsafe.MAX_INFLATED,
) -> Extraction:
    """Everything a document holds. ``kind`` as in source config (``html``, ``rss``…) or ``auto``.

    ``sections`` are section names the config knows, to help read plain-text dumps. A gzipped
    file (``sitemap.xml.gz``) is inflated to at most ``max_inflated`` bytes (the service's
    ``max_bytes``, the bound of any body): a sitemap as it is parsed, anything else first.
    """
    # The extractors and their parsers (bs4, feedparser, cssselect…) load with the first
    # document: a command that reads none (a `once` of 304s) never loads them.
    from syndicator.extract import dom, feed, html, sitemap, text
    from syndicator.extract.charset import decode
    from syndicator.extract.complete import complete_all

    if kind not in KINDS:
        raise ExtractError(f"unknown document kind {kind!r} (one of {', '.join(KINDS)})", url=url)
    if not body.strip():
        raise ExtractError("empty document", url=url)
    sniffed = sniff(xmlsafe.inflated_head(body), content_type)
    if sniffed == "binary":
        raise ExtractError("not a text document (binary data)", url=url)
    wanted = {
        "rss": "feed",
        "atom": "feed",
        "jsonfeed": "feed",
        "article": "html",
        "listing": "html",
    }.get(kind, kind)
    if wanted == "auto":
        wanted = sniffed
    as_sitemap = sniffed == "sitemap" if wanted == "feed" else sniffed != "feed"
    if wanted in ("feed", "sitemap") and as_sitemap:
        return sitemap.extract_sitemap(body, url, max_inflated=max_inflated)
    body = xmlsafe.gunzip(body, url, max_inflated)
    if wanted in ("feed", "sitemap"):
        return feed.extract_feed(body, url, content_type=content_type)
    decoded = decode(body, content_type)
    if wanted == "text":
        return complete_all(text.extract_text(decoded.text, url, sections=sections))
    root = dom.parse(decoded.text, url)
    if kind == "listing":
        return html.extract_page(root, url, selectors, force_listing=True)
    return complete_all(html.extract_page(root, url, selectors, force_article=kind == "article"))


__all__ = ["KINDS", "extract", "sniff"]

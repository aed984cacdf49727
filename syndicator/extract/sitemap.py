"""Sitemaps: ``urlset`` (with Google News and image extensions) and ``sitemapindex`` documents.

A ``urlset`` gives a Teaser per ``<url>`` (title, date, language from ``news:news``; picture from
``image:image``); an index gives the child sitemaps to read next. Gzipped sitemaps are inflated
with a size limit. Pure: bytes in, teasers out; it never follows the child sitemaps itself.
"""

from __future__ import annotations

from lxml import etree

from syndicator.errors import ExtractError
from syndicator.extract import xmlsafe
from syndicator.model import Extraction, Image, Teaser
from syndicator.normalize import DateError, absolute_url, clean_or_none, parse_date

MAX_URLS = 50_000  # the protocol's own limit per file


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child_text(el: etree._Element, name: str) -> str | None:
    for child in el:
        if _local(child.tag) == name:
            return clean_or_none(child.text)
    return None


def _child(el: etree._Element, name: str) -> etree._Element | None:
    for child in el:
        if _local(child.tag) == name:
            return child
    return None


def extract_sitemap(body: bytes, url: str) -> Extraction:
    """Teasers from a sitemap, or child sitemap URLs from a sitemap index."""
    root = xmlsafe.parse(xmlsafe.gunzip(body, url), url)
    kind = _local(root.tag)
    if kind == "sitemapindex":
        children = []
        for node in root:
            if _local(node.tag) == "sitemap":
                loc = absolute_url(_child_text(node, "loc"), url)
                if loc:
                    children.append(loc)
        return Extraction(kind="sitemapindex", sitemaps=tuple(dict.fromkeys(children)))
    if kind != "urlset":
        raise ExtractError(f"not a sitemap (root element <{kind or '?'}>)", url=url)
    teasers = []
    for node in root:
        if _local(node.tag) != "url":
            continue
        loc = absolute_url(_child_text(node, "loc"), url)
        if not loc:
            continue
        news = _child(node, "news")
        title = language = None
        date_raw = _child_text(node, "lastmod")
        if news is not None:
            title = _child_text(news, "title")
            date_raw = _child_text(news, "publication_date") or date_raw
            publication = _child(news, "publication")
            if publication is not None:
                language = _child_text(publication, "language")
        image = None
        image_node = _child(node, "image")
        if image_node is not None:
            image_url = absolute_url(_child_text(image_node, "loc"), url)
            if image_url:
                image = Image(
                    url=image_url,
                    caption=_child_text(image_node, "caption") or _child_text(image_node, "title"),
                )
        try:
            published = parse_date(date_raw)
        except DateError:
            published = None
        teasers.append(
            Teaser(url=loc, title=title or "", published=published, language=language, image=image)
        )
        if len(teasers) >= MAX_URLS:
            break
    return Extraction(kind="sitemap", teasers=tuple(teasers))

"""Sitemaps: ``urlset`` (with Google News and image extensions) and ``sitemapindex`` documents.

A ``urlset`` gives a Teaser per ``<url>`` (title, date, language from ``news:news``; picture from
``image:image``); an index gives the child sitemaps to read next. Gzipped sitemaps are inflated
with a size limit and parsed incrementally. Pure: bytes in, teasers out; it never follows the
child sitemaps itself.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

from lxml import etree

from syndicator.errors import ExtractError
from syndicator.extract import xmlsafe
from syndicator.model import Extraction, Image, Teaser
from syndicator.normalize import DateError, absolute_url, clean_or_none, parse_date

MAX_URLS = 50_000  # the protocol's own limit per file
_ROOT = re.compile(rb"<([A-Za-z_][\w.:-]*)")  # the first element (not <?xml, <!DOCTYPE)
_COMMENT = re.compile(rb"<!--.*?(?:-->|$)", re.S)


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1] if isinstance(tag, str) else ""


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


def extract_sitemap(
    body: bytes, url: str, *, max_inflated: int = xmlsafe.MAX_INFLATED
) -> Extraction:
    """Teasers from a sitemap, or child sitemap URLs from a sitemap index.

    Read incrementally: a gzip body is inflated a piece at a time (``max_inflated`` bytes at
    most) into a pull parser, and each ``<url>`` is read and dropped as soon as it ends, so a
    sitemap costs about its compressed size plus its teasers, never its whole tree."""
    pieces = xmlsafe.inflated(body, url, max_inflated)
    head = b""
    for piece in pieces:  # the entity check and the root element: the first 64 KiB
        head += piece
        if len(head) >= 65536:
            break
    xmlsafe.check(head, url)
    root = _ROOT.search(_COMMENT.sub(b"", head))
    kind = _local(root.group(1).decode("utf-8", "replace")) if root else ""
    if kind not in ("urlset", "sitemapindex"):
        if not root:
            raise ExtractError("not XML", url=url)
        raise ExtractError(f"not a sitemap (root element <{kind}>)", url=url)
    wanted = "sitemap" if kind == "sitemapindex" else "url"
    parser = xmlsafe.pull_parser((wanted,))
    children: list[str] = []
    teasers: list[Teaser] = []
    try:
        for piece in itertools.chain((head,), pieces):
            parser.feed(piece)
            for el in _elements(parser):
                parent = el.getparent()
                if parent is None or parent.getparent() is not None:
                    continue  # not a child of the root
                if wanted == "sitemap":
                    loc = absolute_url(_child_text(el, "loc"), url)
                    if loc:
                        children.append(loc)
                elif (teaser := _teaser(el, url)) is not None:
                    teasers.append(teaser)
                el.clear()  # read: drop it and what came before it
                while el.getprevious() is not None:
                    del parent[0]
            if len(teasers) >= MAX_URLS or len(children) >= MAX_URLS:
                break
        else:
            parser.close()
    except etree.LxmlError:
        pass  # what was read before the document broke is kept (recover, as a whole parse)
    if kind == "sitemapindex":
        return Extraction(kind="sitemapindex", sitemaps=tuple(dict.fromkeys(children))[:MAX_URLS])
    return Extraction(kind="sitemap", teasers=tuple(teasers[:MAX_URLS]))


def _elements(parser: etree.XMLPullParser) -> Iterator[etree._Element]:
    for _, found in parser.read_events():
        if isinstance(found, etree._Element):
            yield found


def _teaser(node: etree._Element, url: str) -> Teaser | None:
    loc = absolute_url(_child_text(node, "loc"), url)
    if not loc:
        return None
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
    return Teaser(url=loc, title=title or "", published=published, language=language, image=image)

"""Listing pages (home, section, related boxes): article links with what their cards show.

A card is the largest element around an article link that links to no other article: its title,
summary, section label, byline (author and dateline), time and picture become a Teaser. Links in
navigation, headers and footers are not articles; teasers inside related / "more" boxes are marked
``related`` (ingest follows only the page's own cards). Pure: a parsed page in, teasers out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from syndicator.extract import dom
from syndicator.model import Image, Teaser
from syndicator.normalize import (
    DateError,
    absolute_url,
    canonical_url,
    parse_date,
    split_byline,
    split_caption,
)

_SUMMARY = re.compile(
    r"(?:^|[\s_-])(?:summary|excerpt|dek|description|desc|lede|lead|standfirst|teaser-?text"
    r"|intro|abstract|blurb|snippet)(?:$|[\s_-])"
)
_SECTION = re.compile(
    r"(?:^|[\s_-])(?:section|kicker|category|cat|label|rubric|eyebrow|overline|tag)"
    r"(?:$|[\s_-])"
)
_BYLINE = re.compile(r"(?:^|[\s_-])(?:byline|author|writer|by)(?:$|[\s_-])")
_NOT_ARTICLE_PATH = re.compile(
    r"^/?(?:$|(?:section|sections|category|categories|tag|tags|topic|topics|author|authors|search"
    r"|about|contact|privacy|terms|login|register|subscribe|account|newsletter|rss|feed|index"
    r"|page|pages)(?:/|\.html?$|$))",
    re.I,
)
_CHROME_CONTAINERS = frozenset({"nav", "header", "footer", "form", "menu"})
_SITE_CHROME = re.compile(
    r"(?:^|[\s_-])(?:site-?header|site-?footer|masthead|nav\w*|menu|breadcrumbs?)(?:$|[\s_-])"
)


class PageUrls:
    """The absolute and canonical forms of a page's links, each worked out once per page."""

    def __init__(self, page_url: str) -> None:
        self.page_url = page_url
        self._absolute: dict[str | None, str | None] = {}
        self._canonical: dict[str, str] = {}

    def absolute(self, href: str | None) -> str | None:
        """``absolute_url(href, page_url)``."""
        try:
            return self._absolute[href]
        except KeyError:
            url = self._absolute[href] = absolute_url(href, self.page_url)
            return url

    def canonical(self, url: str) -> str:
        """``canonical_url(url)``."""
        try:
            return self._canonical[url]
        except KeyError:
            key = self._canonical[url] = canonical_url(url)
            return key


def cards(
    root: HtmlElement,
    page_url: str,
    selector: str | None = None,
    *,
    related: bool = False,
    urls: PageUrls | None = None,
) -> list[Teaser]:
    """Teasers for the article links under ``root``, in document order, one per URL.

    ``urls`` may be shared by the calls made for one page (it resolves links against
    ``page_url``)."""
    urls = urls if urls is not None and urls.page_url == page_url else PageUrls(page_url)
    anchors = dom.select(root, selector) if selector else _article_anchors(root, urls)
    by_url: dict[str, list[HtmlElement]] = {}
    for a in anchors:
        url = urls.absolute(a.get("href"))
        if url is None:
            continue
        by_url.setdefault(urls.canonical(url), []).append(a)
    if not by_url:
        return []
    # The article URLs linked from within each element up to the root (the link's own too).
    inside: dict[HtmlElement, set[str]] = {}
    for url, links in by_url.items():
        for a in links:
            for x in _up_to(a, root):
                inside.setdefault(x, set()).add(url)
    teasers = []
    for url, links in by_url.items():
        card = _card(links[0], url, inside, root)
        teaser = _teaser(card, links, url, page_url, related or _in_related_box(card, root))
        if teaser is not None:
            teasers.append(teaser)
    return teasers


def _article_anchors(root: HtmlElement, urls: PageUrls) -> list[HtmlElement]:
    page_url = urls.page_url
    page = urls.canonical(page_url) if urlsplit(page_url).scheme in ("http", "https") else page_url
    host = urlsplit(page_url).hostname
    # What lies above ``root`` is the same for every link: look at it once.
    above = [root, *dom.ancestors(root)]
    if any(
        isinstance(x.tag, str) and (x.tag in _CHROME_CONTAINERS or _is_site_chrome(x))
        for x in above
    ):
        return []
    in_heading = any(x.tag in _HEADINGS for x in above)
    chrome: dict[HtmlElement, bool] = {}  # links share ancestors: look at each one once

    def is_chrome(x: HtmlElement) -> bool:
        if x not in chrome:
            chrome[x] = isinstance(x.tag, str) and (
                x.tag in _CHROME_CONTAINERS or _is_site_chrome(x)
            )
        return chrome[x]

    out = []
    for a in root.iter("a"):
        url = urls.absolute(a.get("href"))
        if not url or url.startswith("mailto:"):
            continue
        parts = urlsplit(url)
        if (
            parts.scheme in ("http", "https")
            and host
            and parts.hostname
            and not _same_site(host, parts.hostname)
        ):
            continue
        if urls.canonical(url) == page or _NOT_ARTICLE_PATH.match(parts.path):
            continue
        between = list(_ancestors_below(a, root))
        if any(is_chrome(x) for x in between):
            continue
        text = dom.text_of(a) or (a.get("title") or "")
        heading = in_heading or any(x.tag in _HEADINGS for x in between)
        if len(text) < 12 and not heading and not _has_heading_sibling(a):
            continue
        if len(text.split()) < 3 and not heading:
            continue
        out.append(a)
    return out


_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5"})


def _ancestors_below(el: HtmlElement, root: HtmlElement) -> Iterator[HtmlElement]:
    """The ancestors of ``el`` up to (not including) ``root``."""
    for x in dom.ancestors(el):
        if x is root:
            return
        yield x


def _same_site(a: str, b: str) -> bool:
    a, b = a.lower().removeprefix("www."), b.lower().removeprefix("www.")
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def _is_site_chrome(el: HtmlElement) -> bool:
    words = dom.attr_text(el)
    role = (el.get("role") or "").lower()
    return role in ("navigation", "banner", "contentinfo") or bool(_SITE_CHROME.search(words))


def _has_heading_sibling(a: HtmlElement) -> bool:
    return any(x.tag in ("h1", "h2", "h3", "h4") for x in a.iter())


def _up_to(el: HtmlElement, root: HtmlElement) -> Iterator[HtmlElement]:
    """``el`` and its ancestors up to ``root`` (included)."""
    yield el
    if el is root:
        return
    for x in dom.ancestors(el):
        yield x
        if x is root:
            return


def _card(
    anchor: HtmlElement, url: str, inside: dict[HtmlElement, set[str]], root: HtmlElement
) -> HtmlElement:
    """Climb from the link while the element links to no other article."""
    card = anchor
    for parent in dom.ancestors(anchor):
        if parent is root.getparent():
            break
        if not inside.get(parent, set()) <= {url}:
            break
        card = parent
        if parent is root:
            break
    return card


def _in_related_box(card: HtmlElement, root: HtmlElement) -> bool:
    for a in dom.ancestors(card):
        if a.tag == "aside" or dom.RELATED.search(dom.attr_text(a)):
            return True
        if a is root:
            break
    return False


def _teaser(
    card: HtmlElement, links: list[HtmlElement], url: str, page_url: str, related: bool
) -> Teaser | None:
    title = _card_title(card, links)
    if not title:
        return None
    summary = None
    section = None
    byline = None
    published = None
    for el in card.iter():
        if not isinstance(el.tag, str) or (el.tag == "a" and el in links):
            continue
        words = dom.attr_text(el)
        if words == " ":  # no class, no id: none of the patterns below can match
            pass
        elif summary is None and _SUMMARY.search(words):
            summary = dom.text_of(el) or None
        elif section is None and _SECTION.search(words) and not _SUMMARY.search(words):
            text = dom.text_of(el)
            if text and len(text) < 60 and text != title:
                section = text
        elif byline is None and _BYLINE.search(words):
            byline = dom.text_of(el) or None
        if published is None and el.tag == "time":
            published = el.get("datetime") or dom.text_of(el) or None
    if summary is None:
        paragraphs = [dom.text_of(p) for p in card.iter("p")]
        paragraphs = [p for p in paragraphs if p and p != title and len(p) > 30]
        summary = max(paragraphs, key=len) if paragraphs else None
    authors, dateline = split_byline(byline)
    image = _card_image(card, page_url)
    when = None
    try:
        when = parse_date(published) if published else None
    except DateError:
        when = None
    return Teaser(
        url=url,
        title=title,
        summary=summary,
        section=section,
        authors=authors,
        dateline=dateline,
        published=when,
        image=image,
        related=related,
    )


def _card_title(card: HtmlElement, links: list[HtmlElement]) -> str:
    for heading in card.iter("h1", "h2", "h3", "h4", "h5"):
        text = dom.text_of(heading)
        if text:
            return text
    texts = [dom.text_of(a) or (a.get("title") or "") for a in links]
    return max(texts, key=len) if texts else ""


def _card_image(card: HtmlElement, page_url: str) -> Image | None:
    img = next(iter(card.iter("img", "amp-img")), None)
    if img is None:
        return None
    src = absolute_url(img.get("src") or img.get("data-src"), page_url)
    caption_el = next(iter(card.iter("figcaption")), None)
    caption, credit = split_caption(
        dom.text_of(caption_el) if caption_el is not None else img.get("alt")
    )
    if not src and not caption:
        return None
    return Image(url=src, caption=caption, credit=credit)

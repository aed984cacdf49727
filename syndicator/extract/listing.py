"""Listing pages (home, section, related boxes): article links with what their cards show.

A card is the largest element around an article link that links to no other article: its title,
summary, section label, byline (author and dateline), time and picture become a Teaser. Links in
navigation, headers and footers are not articles; teasers inside related / "more" boxes are marked
``related`` (ingest follows only the page's own cards). Pure: a parsed page in, teasers out.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from syndicator.extract import dom
from syndicator.extract.index import TreeIndex
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
    index: TreeIndex | None = None,
    words: dom.AttrWords | None = None,
) -> list[Teaser]:
    """Teasers for the article links under ``root``, in document order, one per URL.

    ``urls`` may be shared by the calls made for one page (it resolves links against
    ``page_url``); ``index`` likewise (an index of the page, or of ``root``), and ``words``
    (the names of the page's elements)."""
    urls = urls if urls is not None and urls.page_url == page_url else PageUrls(page_url)
    if index is None or root not in index:
        index = TreeIndex(root)
    if words is None:
        words = dom.AttrWords()
    anchors = dom.select(root, selector) if selector else _article_anchors(root, urls, index, words)
    by_url: dict[str, list[HtmlElement]] = {}
    linked: list[tuple[int, str]] = []  # (place in the page, article URL) of each link
    for a in anchors:
        url = urls.absolute(a.get("href"))
        if url is None:
            continue
        key = urls.canonical(url)
        by_url.setdefault(key, []).append(a)
        linked.append((index.position(a), key))
    if not by_url:
        return []
    links_of = _Links(index, linked)
    boxes = None if related else index.marked(root, lambda el: _is_box(el, words))
    teasers = []
    for url, links in by_url.items():
        card = _card(links[0], url, links_of, root)
        in_box = related or (boxes is not None and boxes.below(card))
        teaser = _teaser(card, links, url, page_url, in_box, words)
        if teaser is not None:
            teasers.append(teaser)
    return teasers


class _Links:
    """Which article URLs an element links to, from the links' places in document order: the
    links inside an element are a run of that order, found by binary search."""

    def __init__(self, index: TreeIndex, linked: list[tuple[int, str]]) -> None:
        linked.sort()
        self._index = index
        self._places = [place for place, _ in linked]
        self._urls = [url for _, url in linked]
        # For each link, where the run of links to the same URL that it starts ends.
        run_end = [0] * len(linked)
        for i in range(len(linked) - 1, -1, -1):
            same = i + 1 < len(linked) and self._urls[i + 1] == self._urls[i]
            run_end[i] = run_end[i + 1] if same else i + 1
        self._run_end = run_end

    def only(self, el: HtmlElement, url: str) -> bool:
        """True if every article link inside ``el`` (itself included) goes to ``url``."""
        first = bisect_left(self._places, self._index.position(el))
        last = bisect_right(self._places, self._index.end(el))
        if first >= last:
            return True
        return self._urls[first] == url and self._run_end[first] >= last


def _article_anchors(
    root: HtmlElement, urls: PageUrls, index: TreeIndex, words: dom.AttrWords
) -> list[HtmlElement]:
    page_url = urls.page_url
    page = urls.canonical(page_url) if urlsplit(page_url).scheme in ("http", "https") else page_url
    host = urlsplit(page_url).hostname
    # What lies above ``root`` is the same for every link: look at it once.
    above = [root, *dom.ancestors(root)]
    if any(
        isinstance(x.tag, str) and (x.tag in _CHROME_CONTAINERS or _is_site_chrome(x, words))
        for x in above
    ):
        return []
    in_heading = any(x.tag in _HEADINGS for x in above)
    # What lies below ``root``: the subtrees of site chrome and of headings, in one pass each.
    chrome = index.marked(root, lambda el: _is_chrome_container(el, words), self_too=False)
    headings = index.marked(root, _is_heading, self_too=False)

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
        if chrome.below(a):
            continue
        text = dom.text_of(a) or (a.get("title") or "")
        heading = in_heading or headings.below(a)
        if len(text) < 12 and not heading and not _has_heading_sibling(a):
            continue
        if len(text.split()) < 3 and not heading:
            continue
        out.append(a)
    return out


_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5"})


def _is_heading(el: HtmlElement) -> bool:
    return el.tag in _HEADINGS


def _is_chrome_container(el: HtmlElement, words: dom.AttrWords) -> bool:
    return el.tag in _CHROME_CONTAINERS or _is_site_chrome(el, words)


def _is_box(el: HtmlElement, words: dom.AttrWords) -> bool:
    return el.tag == "aside" or dom.names_box(words[el])


def _same_site(a: str, b: str) -> bool:
    a, b = a.lower().removeprefix("www."), b.lower().removeprefix("www.")
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def _is_site_chrome(el: HtmlElement, words: dom.AttrWords) -> bool:
    role = (el.get("role") or "").lower()
    return role in ("navigation", "banner", "contentinfo") or bool(_SITE_CHROME.search(words[el]))


def _has_heading_sibling(a: HtmlElement) -> bool:
    return any(x.tag in ("h1", "h2", "h3", "h4") for x in a.iter())


def _card(anchor: HtmlElement, url: str, links: _Links, root: HtmlElement) -> HtmlElement:
    """Climb from the link while the element links to no other article. (An element is climbed
    for one URL at most: the climbs of a page together visit each element once.)"""
    card = anchor
    for parent in dom.ancestors(anchor):
        if parent is root.getparent():
            break
        if not links.only(parent, url):
            break
        card = parent
        if parent is root:
            break
    return card


def _teaser(
    card: HtmlElement,
    links: list[HtmlElement],
    url: str,
    page_url: str,
    related: bool,
    names: dom.AttrWords,
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
        words = names[el]
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

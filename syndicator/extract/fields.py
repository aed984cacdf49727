"""The fields of an article page around its body: titles (the page's and the story's), bylines,
dateline, section, subtitle, dates, keywords and the teasers of related boxes. Pure; the body
itself is found in :mod:`syndicator.extract.locate`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from lxml.html import HtmlElement

from syndicator.extract import dom
from syndicator.extract.index import Subtrees, TreeIndex
from syndicator.extract.listing import PageUrls, cards
from syndicator.extract.meta import PageMeta, _ld_names, _ld_text, _ld_types
from syndicator.model import Selectors, Teaser
from syndicator.normalize import (
    clean_or_none,
    clean_text,
    split_authors,
    split_byline,
)

_SUBTITLE_CLASSES = re.compile(
    r"(?:^|[\s_-])(?:standfirst|sub-?title|subhead(?:line)?|dek|strapline"
    r"|sub-?heading|lead-?in|article-?summary|excerpt|intro)(?:$|[\s_-])"
)
_SECTION_CLASSES = re.compile(
    r"(?:^|[\s_-])(?:section-?label|section-?name|kicker|category|rubric"
    r"|eyebrow|overline|section)(?:$|[\s_-])"
)
_BYLINE_CLASSES = re.compile(
    r"(?:^|[\s_-])(?:byline|by-?line|author|author-?name|writer|reporter)"
    r"(?:$|[\s_-])"
)
_DATELINE_CLASSES = re.compile(r"(?:^|[\s_-])dateline(?:$|[\s_-])")
_TITLE_SEPARATORS = (" | ", " – ", " — ", " - ", " :: ", " « ", " » ", " · ", " • ", " ~ ", " : ")


# --------------------------------------------------------------------------------------------
# Title, byline, section, dates


# Titles a page states in its metadata, best first: bibliographic (Dublin Core), then the
# titles written for sharing cards and analytics, then a bare ``<meta name="title">``.
_META_TITLES = (
    "dc:title",
    "dcterms:title",
    "dc.title",
    "dcterms.title",
    "og:title",
    "twitter:title",
    "parsely-title",
    "title",
    "headline",
)


def _ld_headline(ld: dict[str, Any], confirms: list[str]) -> str | None:
    """The JSON-LD article's headline; its ``name`` instead when the ``headline`` is not the
    title the page shows (a description: Wikipedia's "constitutional monarchy in Oceania") and
    the ``name`` is (in the ``<title>``, the ``<h1>`` or a metadata title)."""
    headline, name = _ld_text(ld.get("headline")), _ld_text(ld.get("name"))
    if headline and name and headline != name:
        seen = [clean_text(c).casefold() for c in confirms if c]

        def shown(text: str) -> bool:
            folded = clean_text(text).casefold()
            return any(folded in c for c in seen)

        if not shown(headline) and shown(name):
            return name
    return headline


def page_title(meta: PageMeta, h1: str | None = None) -> str | None:
    """The page's title as the page states it (what a bookmark or a reader view shows): its
    JSON-LD headline, else its metadata title, else its ``<title>``, site name and all."""
    ld = meta.ld_article or {}
    stated = meta.first(*_META_TITLES)
    title = _ld_headline(ld, [meta.title_tag or "", stated or "", h1 or ""])
    return clean_or_none(title or stated or meta.title_tag)


def _title(
    root: HtmlElement, container: HtmlElement | None, meta: PageMeta, selectors: Selectors | None
) -> str | None:
    """The story's title: the headline without the site's name (what feeds show and the
    content hash reads)."""
    if selectors and selectors.title:
        el = dom.select_one(root, selectors.title)
        if el is not None and dom.text_of(el):
            return dom.text_of(el)
    ld = meta.ld_article or {}
    h1 = None
    for scope in (container, root):
        if scope is not None:
            el = scope.find(".//h1")
            if el is not None and dom.text_of(el):
                h1 = dom.text_of(el)
                break
    sites = meta.site_names()
    # An <h1> that the page's <title> does not contain names something else (the site, a
    # section, a box): there the <title> says what the page is. A <title> that is only the
    # site's name says nothing of the article.
    title_tag = meta.title_tag
    headline = h1
    if h1 and title_tag:
        folded = clean_text(title_tag).casefold()
        if clean_text(h1).casefold() not in folded and folded not in {
            clean_text(n).casefold() for n in sites
        }:
            headline = None
    stated = meta.first(*_META_TITLES[:7])
    candidates = [
        _ld_headline(ld, [title_tag or "", stated or "", h1 or ""]),
        stated,
        headline,
        meta.first(*_META_TITLES[7:]),
        title_tag,
        h1,
    ]
    for candidate in candidates:
        if candidate:
            return strip_site_name(candidate, sites, h1)
    return None


def strip_site_name(title: str, site_names: Iterable[str], h1: str | None = None) -> str:
    """A title without the site name a page appends or prepends (``X | Site``, ``Site - X``)."""
    title = clean_text(title)
    names = {clean_text(n).lower() for n in site_names if n}
    for sep in _TITLE_SEPARATORS:
        if sep not in title:
            continue
        head, _, tail = title.rpartition(sep)
        first, _, rest = title.partition(sep)
        if tail.strip().lower() in names and head.strip():
            return head.strip()
        if first.strip().lower() in names and rest.strip():
            return rest.strip()
        if h1 and clean_text(head) == h1:
            return h1
        if h1 and clean_text(rest) == h1:
            return h1
        # " | " is almost never part of a headline; a short last part is the site's name.
        if (
            sep in (" | ", " :: ", " · ", " • ")
            and len(tail.split()) <= 5
            and len(head) > len(tail)
        ):
            return head.strip()
    return title


# The elements of a scope (itself included) that have an attribute the byline, dateline, section
# and subtitle searches read; the others cannot be what they look for.
_MARKED = frozenset({"class", "id", "rel", "itemprop"})


def _bylines(
    scope: HtmlElement,
    ld: dict[str, Any],
    meta: PageMeta,
    selectors: Selectors | None,
    marked: list[HtmlElement],
    boxes: Subtrees,
    index: TreeIndex,
    words: dom.AttrWords,
) -> list[str]:
    if selectors and selectors.author:
        found = [dom.text_of(el) for el in dom.select(scope, selectors.author)]
        if any(found):
            return [f for f in found if f]
    # Names the page states for the article (JSON-LD, Dublin Core, then the other author
    # tags) before the visible byline: a byline element's text often holds more than the name
    # (the date, "About the author", the author's title), and the element that looks like one
    # is sometimes a commenter's or another story's.
    stated = _ld_names(ld.get("author")) or _meta_names(meta)
    visible = []
    bylined: Subtrees | None = None  # the byline elements' subtrees, below the scope
    for el in marked:
        if not isinstance(el.tag, str) or el.tag in ("script", "style"):
            continue
        if (
            _BYLINE_CLASSES.search(words[el])
            or el.get("rel") == "author"
            or el.get("itemprop") == "author"
        ):
            if bylined is None:  # (a byline class is a class: only the marked can have one)
                bylined = index.marked(
                    scope, lambda el: _has_byline_class(el, words), self_too=False, among=marked
                )
            if bylined.below(el):
                continue  # the outer byline element already covers it
            if boxes.below(el):
                continue
            text = dom.text_of(el)
            if text and len(text) < 200:
                visible.append(text)
    if stated:
        # The visible byline of the same author says where the story was written:
        # "Jane Doe (Cairo)" is kept whole, for its dateline.
        names = {name.casefold() for name in split_authors(stated)}
        for text in visible:
            authors, place = split_byline(text)
            if place and {a.casefold() for a in authors} == names:
                return [text]
        return stated
    return visible[:1] if len(visible) > 1 and _same_names(visible) else visible


# Meta tags that name an article's author, Dublin Core's first (the bibliographic statement).
_AUTHOR_META = (
    "dc:creator",
    "dc.creator",
    "dcterms:creator",
    "dcterms.creator",
    "author",
    "article:author",
    "byl",
    "sailthru.author",
    "parsely-author",
)


def _meta_names(meta: PageMeta) -> list[str]:
    """The author a ``<meta>`` names (not a profile's address)."""
    for name in _AUTHOR_META:
        for value in meta.meta.get(name, ()):
            value = value.strip()
            if value and not value.startswith("http"):
                return [value]
    return []


def _page_bylines(root: HtmlElement, boxes: Subtrees) -> list[str]:
    """The article's author as the page marks it up outside the article's container
    (``itemprop="author"``, ``rel="author"``: a header or a column beside the story), outside
    boxes of other stories: the first such name."""
    for el in root.iterfind(".//*[@itemprop='author']"):
        if not boxes.below(el):
            name = el.find(".//*[@itemprop='name']")
            text = dom.text_of(name if name is not None else el)
            if text and len(text) < 100:
                return [text]
    for el in root.iterfind(".//a[@rel='author']"):
        if not boxes.below(el):
            text = dom.text_of(el)
            if text and len(text) < 100:
                return [text]
    return []


def _has_byline_class(el: HtmlElement, words: dom.AttrWords) -> bool:
    return bool(_BYLINE_CLASSES.search(words[el]))


def _same_names(texts: list[str]) -> bool:
    firsts = {split_byline(t)[0] for t in texts}
    return len(firsts) == 1


def _dateline(marked: list[HtmlElement], boxes: Subtrees, words: dom.AttrWords) -> str | None:
    for el in marked:
        if isinstance(el.tag, str) and _DATELINE_CLASSES.search(words[el]):
            if boxes.below(el):
                continue
            text = dom.text_of(el).strip("()[] -–—:")
            if text and len(text) < 60:
                return text
    return None


def _section(
    scope: HtmlElement,
    ld: dict[str, Any],
    meta: PageMeta,
    selectors: Selectors | None,
    marked: list[HtmlElement],
    boxes: Subtrees,
    words: dom.AttrWords,
) -> str | None:
    if selectors and selectors.section:
        el = dom.select_one(scope, selectors.section)
        if el is not None and dom.text_of(el):
            return dom.text_of(el)
    section = _ld_text(ld.get("articleSection")) or meta.first(
        "article:section", "section", "category", "parsely-section"
    )
    if section:
        return section
    for el in marked:
        if isinstance(el.tag, str) and _SECTION_CLASSES.search(words[el]):
            if boxes.below(el):
                continue
            text = dom.text_of(el)
            if text and len(text) < 60:
                return text
    return _breadcrumb_section(meta)


def _breadcrumb_section(meta: PageMeta) -> str | None:
    for node in meta.ld:
        if "breadcrumblist" in _ld_types(node):
            items = node.get("itemListElement")
            if isinstance(items, list) and len(items) >= 2:

                def position(item: Any) -> float:
                    try:
                        return float(item.get("position", 0)) if isinstance(item, dict) else 0.0
                    except (TypeError, ValueError):
                        return 0.0

                ordered = sorted((i for i in items if isinstance(i, dict)), key=position)
                names = [_ld_text(i.get("name") or i.get("item")) for i in ordered]
                names = [n for n in names if n and not n.startswith("http")]
                if len(names) >= 2:
                    return names[-1]
    return None


def _subtitle(
    scope: HtmlElement,
    ld: dict[str, Any],
    title: str,
    selectors: Selectors | None,
    marked: list[HtmlElement],
    boxes: Subtrees,
    words: dom.AttrWords,
) -> str | None:
    if selectors and selectors.subtitle:
        el = dom.select_one(scope, selectors.subtitle)
        return dom.text_of(el) or None
    alternative = _ld_text(ld.get("alternativeHeadline"))
    if alternative and alternative != title:
        return alternative
    for el in marked:
        if not isinstance(el.tag, str) or el.tag in ("meta", "script"):
            continue
        if _SUBTITLE_CLASSES.search(words[el]) or el.get("itemprop") == "alternativeHeadline":
            if boxes.below(el):
                continue
            text = dom.text_of(el)
            if text and text != title and len(text) < 400:
                return text
    return None


def _dates(
    scope: HtmlElement,
    ld: dict[str, Any],
    meta: PageMeta,
    selectors: Selectors | None,
    boxes: Subtrees,
) -> tuple[str | None, str | None]:
    published = None
    if selectors and selectors.published:
        el = dom.select_one(scope, selectors.published)
        if el is not None:
            published = el.get("datetime") or el.get("content") or dom.text_of(el)
    published = published or (
        _ld_text(ld.get("datePublished"))
        or meta.first(
            "article:published_time",
            "datepublished",
            "og:article:published_time",
            "publish-date",
            "pubdate",
            "publishdate",
            "date",
            "dc.date",
            "dc.date.issued",
            "sailthru.date",
            "parsely-pub-date",
            "article.published",
            "published_time",
        )
    )
    updated = _ld_text(ld.get("dateModified")) or meta.first(
        "article:modified_time", "datemodified", "og:updated_time", "last-modified", "modified"
    )
    if not published:
        for el in scope.iter("time"):
            if boxes.below(el):
                continue
            value = el.get("datetime") or dom.text_of(el)
            if value:
                published = value
                break
    return published, updated


def _keywords(ld: dict[str, Any], meta: PageMeta) -> list[str]:
    raw = ld.get("keywords")
    words: list[str] = []
    if isinstance(raw, list):
        words = [w for w in (_ld_text(r) for r in raw) if w]
    elif isinstance(raw, str):
        words = [w.strip() for w in re.split(r"[,،]", raw)]
    for tag in meta.meta.get("article:tag", []):
        words.append(tag.strip())
    return [w for w in dict.fromkeys(words) if w][:20]


def _related_teasers(
    url: str, boxes: Subtrees, index: TreeIndex, words: dom.AttrWords | None = None
) -> Iterator[Teaser]:
    """Teasers in related-article boxes ("مقالات ذات صلة", "Read also"): the outermost
    ``<aside>`` and related/"more" boxes of the page, in document order."""
    seen: set[str] = set()
    urls = PageUrls(url)
    for box in boxes.tops:
        for teaser in cards(box, url, related=True, urls=urls, index=index, words=words):
            if teaser.url and teaser.url not in seen:
                seen.add(teaser.url)
                yield teaser

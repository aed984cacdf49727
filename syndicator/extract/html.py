"""Article pages: from an HTML document to a Draft article and the teasers it links to.

Metadata comes from, in order of trust: JSON-LD (NewsArticle / Article / ReportageNewsArticle …,
inside ``@graph`` and lists), microdata (``itemprop``), OpenGraph and ``article:*`` meta, other meta
tags, then the visible page. The body is found by per-source CSS selectors, then well-known body
containers, then a main-text scorer that works on pages with none of these; page chrome (share
bars, ads, related boxes, sticky titles, repeated captions…) is cut out of it. Pure: a parsed page
and its URL in, a Draft out. It does not fetch, and does not clean text (see ``normalize``).

The parts: what the page says of itself (:mod:`~syndicator.extract.meta`), where the body is
(:mod:`~syndicator.extract.locate`), the fields around it (:mod:`~syndicator.extract.fields`);
this module reads a page through them.
"""

from __future__ import annotations

import copy
import re

import lxml.html
from lxml.html import HtmlElement

from syndicator.errors import ExtractError
from syndicator.extract import body as blocks
from syndicator.extract import classify, dom, pictures
from syndicator.extract.fields import (
    _MARKED,
    _bylines,
    _dateline,
    _dates,
    _keywords,
    _page_bylines,
    _related_teasers,
    _section,
    _subtitle,
    _title,
    page_title,
)
from syndicator.extract.index import TreeIndex
from syndicator.extract.listing import cards
from syndicator.extract.locate import (
    _PAGE_ATTRIBUTES,
    _PAGE_TAGS,
    _article_container,
    _headline,
    _is_box,
    _join_parts,
    _locate_body,
)
from syndicator.extract.meta import PageMeta, _ld_images, _ld_text, _ld_url, read_meta
from syndicator.model import Draft, Extraction, Image, Selectors, Teaser
from syndicator.normalize import (
    absolute_url,
    body_of,
    clean_or_none,
)

# --------------------------------------------------------------------------------------------


def is_article_page(
    root: HtmlElement, meta: PageMeta, analysis: blocks.Analysis | None = None
) -> bool:
    """Does this page present one article (as opposed to a listing of many)?"""
    if analysis is None:
        analysis = blocks.analyse(root)
    return classify.is_article(analysis, declared=_declares_article(root, meta))


def _stands_alone(root: HtmlElement, url: str, analysis: blocks.Analysis) -> bool:
    """A page that holds text a reader sees and no link to another page (``javascript:`` and
    links within the page lead nowhere): not a listing, whatever it lacks of an article's
    shape (a note of a line or two, a page of pictures with their headings)."""
    if analysis.of(analysis.root).chars == 0:
        return False  # nothing shown (a script's shell): nothing to read
    page = url.split("#", 1)[0]
    for a in root.iter("a"):
        target = absolute_url(a.get("href"), url)
        if target is not None and target.split("#", 1)[0] != page:
            return False
    return True


def _declares_article(root: HtmlElement, meta: PageMeta) -> bool:
    """The page's metadata says it is one article."""
    if meta.ld_article is not None:
        return True
    if (meta.first("og:type") or "").lower() == "article":
        return True
    if root.find(".//*[@itemprop='articleBody']") is not None:
        return True
    return bool(meta.first("article:published_time") or meta.first("article:section"))


def extract_page(
    root: HtmlElement,
    url: str,
    selectors: Selectors | None = None,
    *,
    force_article: bool = False,
    force_listing: bool = False,
) -> Extraction:
    """An article page gives one Draft and its related teasers; a listing gives teasers."""
    meta = read_meta(root, url)
    words = dom.AttrWords()  # the names of the page's elements, for every pass below
    analysis = None if force_listing else blocks.analyse(root, words=words)
    if analysis is not None and (force_article or is_article_page(root, meta, analysis)):
        return _article_page(root, meta, selectors, analysis, words=words)
    teasers = tuple(cards(root, url, selectors.article_links if selectors else None, words=words))
    if not teasers and analysis is not None and _stands_alone(root, url, analysis):
        # A page that links nowhere lists nothing: what text it has is its own.
        return _article_page(root, meta, selectors, analysis, whole=True, words=words)
    return Extraction(
        kind="listing", teasers=teasers, title=page_title(meta), language=meta.language
    )


def _article_page(
    root: HtmlElement,
    meta: PageMeta,
    selectors: Selectors | None,
    analysis: blocks.Analysis,
    *,
    whole: bool = False,
    words: dom.AttrWords | None = None,
) -> Extraction:
    draft, related = extract_article(root, meta, selectors, analysis, whole=whole, words=words)
    return Extraction(
        kind="article",
        articles=(draft,),
        teasers=related,
        # The page's own title, as stated: the story's (the draft's) has no site name.
        title=page_title(meta, dom.text_of(root.find(".//h1"))) or draft.title,
        language=meta.language,
    )


def extract_article(
    root: HtmlElement,
    meta: PageMeta,
    selectors: Selectors | None = None,
    analysis: blocks.Analysis | None = None,
    *,
    whole: bool = False,
    words: dom.AttrWords | None = None,
) -> tuple[Draft, tuple[Teaser, ...]]:
    """The article on a page, and the teasers in its related-article boxes. ``analysis``: the
    page's text blocks (:func:`body.analyse`), if they were weighed already; ``whole``: with no
    block of running text, the page's ``<body>`` is the article's; ``words``: the names of the
    page's elements (the analysis's)."""
    url = meta.url
    ld = meta.ld_article or {}

    index = TreeIndex(root)  # where each element is: every "inside", "before" below asks it
    if words is None:
        words = dom.AttrWords()
    if analysis is None:
        analysis = blocks.analyse(root, words=words)
    analysis.mark_kept()
    # The elements the body selectors, the boxes of other stories and the byline, dateline,
    # section and subtitle searches look at (each ignores the others' extra elements: an
    # element with only ``rel``, an <aside> with no attribute), from one walk of the page.
    tagged = dom.with_attributes(root, _MARKED | _PAGE_ATTRIBUTES, _PAGE_TAGS)
    # A box has a class, an id or is <aside>.
    boxes = index.marked(root, lambda el: _is_box(el, words), among=tagged)
    related = tuple(_related_teasers(url, boxes, index, words))
    body_el, later, how = _locate_body(root, selectors, tagged, analysis, index, words)
    if body_el is None and whole:
        body_el = analysis.root
    # Below, chrome is cut out of the body: out of a copy of the body alone, unless parts of it
    # are to be moved together or the source's own selectors remove chrome (a CSS selector may
    # look at the page around the body): then out of a copy of the page, as it was found.
    whole_page = bool(later) or bool(selectors and selectors.remove)
    if whole_page:
        root = copy.deepcopy(root)
        body_el, later, how = _locate_body(root, selectors, None, None)
        if body_el is not None and later:
            body_el = _join_parts(body_el, later)
        index = TreeIndex(root)
        words = dom.AttrWords()  # of the copy's elements
        tagged = dom.with_attributes(root, _MARKED | _PAGE_ATTRIBUTES, _PAGE_TAGS)
        boxes = index.marked(root, lambda el: _is_box(el, words), among=tagged)
    container = _article_container(root, body_el)
    # A page that names no title anywhere is titled by its first words, as a feed item
    # without a title is (extract.feed).
    title = _title(root, container, meta, selectors) or _first_words(body_el)
    if not title:
        raise ExtractError("no title found", url=url)

    # Read what is around the body before the chrome goes.
    scope = container if container is not None else root
    marked = index.in_subtree(scope, tagged)  # all that the four below look at
    bylines = _bylines(scope, ld, meta, selectors, marked, boxes, index, words)
    if not bylines and scope is not root:
        bylines = _page_bylines(root, boxes)
    dateline = _dateline(marked, boxes, words)
    section = _section(scope, ld, meta, selectors, marked, boxes, words)
    subtitle = _subtitle(scope, ld, title, selectors, marked, boxes, words)
    published, updated = _dates(scope, ld, meta, selectors, boxes)
    headline = _headline(root, container)
    lead_images = pictures.lead_images(root, container, body_el, headline, index, boxes)

    method = "selectors" if selectors and selectors.body and body_el is not None else ""
    body_html = None
    body_text = None
    if body_el is not None:
        found = body_el
        if not whole_page:
            body_el = copy.deepcopy(body_el)  # the caller's page stays as it is
        if how == "container":
            body_el.set("data-syndicator-found", "container")
        dom.strip_chrome(body_el, selectors.remove if selectors else None)
        stated = isinstance(ld.get("articleBody"), str)  # the page's own text, said again
        if not (whole_page or stated) and not _holds_text(body_el) and _has_text(found):
            # Chrome's names took all its text: they were wrong (a live report whose class
            # says comments, a story all of whose blocks a theme names as widgets).
            body_el = copy.deepcopy(found)
            if how == "container":
                body_el.set("data-syndicator-found", "container")
            dom.strip_chrome(body_el, selectors.remove if selectors else None, names=False)
        body_html = "\n".join(
            [pictures.figure_html(img) for img in lead_images] + [_inner_html(body_el)]
        )
        method = method or (
            "container" if body_el.get("data-syndicator-found") == "container" else "main-text"
        )
    if isinstance(ld.get("articleBody"), str) and (body_el is None or not _has_text(body_el)):
        body_text = ld["articleBody"]
        body_html = None
        method = "json-ld"
    if method != "json-ld" and ld:
        method = f"json-ld+{method}"

    images = _ld_images(ld.get("image"), url) if ld.get("image") else []
    og_image = absolute_url(meta.first("og:image", "og:image:url", "twitter:image"), url)
    if og_image and not images:
        images = [Image(url=og_image, caption=clean_or_none(meta.first("og:image:alt")))]
    if body_html and pictures.has_images(body_html):
        images = []  # the page's own figures carry better captions than metadata
    if body_text is not None:
        images = list(images)

    canonical = (
        meta.canonical
        or absolute_url(meta.first("og:url"), url)
        or absolute_url(_ld_url(ld.get("mainEntityOfPage")), url)
    )
    body = None
    if body_html is not None and body_el is not None and body_el.tag in _WRAPPERS:
        # Read the body where it is rather than parse body_html again (normalize would).
        body = body_of(pictures.fragment_root(lead_images, body_el), canonical or url)
    draft = Draft(
        url=url,
        canonical=canonical,
        title=title,
        subtitle=subtitle,
        summary=clean_or_none(
            _ld_text(ld.get("description"))
            or meta.first("og:description", "description", "twitter:description")
        ),
        section=section,
        categories=tuple(_keywords(ld, meta)),
        bylines=tuple(bylines),
        dateline=dateline,
        language=_ld_text(ld.get("inLanguage")) or meta.language,
        direction=declared_direction(root, container),
        published=published,
        updated=updated,
        body_html=body_html,
        body_text=body_text,
        images=tuple(images),
        complete=True,
        method=method or "none",
        body=body,
    )
    return draft, related


def declared_direction(root: HtmlElement, container: HtmlElement | None) -> str | None:
    """The writing direction a page declares for its article: ``dir`` on the article's
    container, else on ``<body>``, else on ``<html>`` ("rtl" or "ltr"; ``auto`` declares none)."""
    body = root.find("body") if root.tag == "html" else None
    for el in (container, body, root):
        if el is not None:
            value = (el.get("dir") or "").strip().lower()
            if value in ("rtl", "ltr"):
                return value
    return None


# Body containers whose tree is the one that parsing their HTML inside a <div> gives.
_WRAPPERS = frozenset({"div", "article", "section", "main"})


def _first_words(el: HtmlElement | None, limit: int = 120) -> str | None:
    """The first sentence of an element's text, or its first words up to ``limit``."""
    text = dom.text_of(el)[: limit * 4]
    if not text:
        return None
    end = _SENTENCE_END.search(text)
    if end is not None and end.end() <= limit:
        return text[: end.end()].strip()
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


_SENTENCE_END = re.compile(r"[.!?。！？؟।](?=\s|$)")


def _has_text(el: HtmlElement) -> bool:
    return len(dom.text_of(el)) >= 40


def _holds_text(el: HtmlElement) -> bool:
    """Some text left (what :func:`_has_text` asks, first cheaply: most bodies hold far more
    than 40 characters, which their first text nodes show)."""
    seen = 0
    for piece in el.itertext():
        seen += len(piece.strip())
        if seen >= 200:
            return True
    return _has_text(el)


def _inner_html(el: HtmlElement) -> str:
    return str(lxml.html.tostring(el, encoding="unicode", method="html"))

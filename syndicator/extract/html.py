"""Article pages: from an HTML document to a Draft article and the teasers it links to.

Metadata comes from, in order of trust: JSON-LD (NewsArticle / Article / ReportageNewsArticle …,
inside ``@graph`` and lists), microdata (``itemprop``), OpenGraph and ``article:*`` meta, other meta
tags, then the visible page. The body is found by per-source CSS selectors, then well-known body
containers, then a main-text scorer that works on pages with none of these; page chrome (share
bars, ads, related boxes, sticky titles, repeated captions…) is cut out of it. Pure: a parsed page
and its URL in, a Draft out. It does not fetch, and does not clean text (see ``normalize``).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import lxml.html
from lxml.html import HtmlElement

from syndicator.errors import ExtractError
from syndicator.extract import body as blocks
from syndicator.extract import classify, dom, pictures
from syndicator.extract.index import Subtrees, TreeIndex
from syndicator.extract.listing import PageUrls, cards
from syndicator.model import Draft, Extraction, Image, Selectors, Teaser
from syndicator.normalize import (
    absolute_url,
    body_of,
    clean_or_none,
    clean_text,
    element_text,
    split_byline,
    split_caption,
)

ARTICLE_TYPES = frozenset(
    {
        "newsarticle",
        "article",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "reviewnewsarticle",
        "backgroundnewsarticle",
        "blogposting",
        "liveblogposting",
        "scholarlyarticle",
        "techarticle",
        "report",
        "socialmediaposting",
        "askpublicnewsarticle",
    }
)

# Containers that sites use for the article body, best first.
BODY_SELECTORS = (
    "[itemprop='articleBody']",
    ".article-body, .article__body, .articleBody, .article-body-content, .article-content-body",
    ".story-body, .story-text, .story__body, .story-content, .StoryBodyCompanionColumn",
    ".entry-content, .post-content, .post-body, .post__content, .article-content, .article-text",
    ".body-text, .news-body, .news-content, .content-body, .article__content, .td-post-content",
    ".field-name-body, .field--name-body, .main-text, .text-content, .c-entry-content",
    "#article-body, #articleBody, #story-body",
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


@dataclass
class PageMeta:
    """What a page says about itself, before we look at the visible text."""

    url: str
    canonical: str | None = None
    language: str | None = None
    title_tag: str | None = None
    meta: dict[str, list[str]] = field(default_factory=dict)
    ld: list[dict[str, Any]] = field(default_factory=list)
    ld_article: dict[str, Any] | None = None

    def first(self, *names: str) -> str | None:
        for name in names:
            for value in self.meta.get(name, ()):
                if value and value.strip():
                    return value.strip()
        return None

    def site_names(self) -> list[str]:
        names = [self.first("og:site_name", "application-name", "twitter:site")]
        for node in self.ld:
            publisher = node.get("publisher")
            if isinstance(publisher, dict):
                names.append(_ld_text(publisher.get("name")))
            if _ld_types(node) & {"website", "organization", "newsmediaorganization"}:
                names.append(_ld_text(node.get("name")))
        return [n for n in names if n]


def read_meta(root: HtmlElement, url: str) -> PageMeta:
    """Collect <meta>, <link rel=canonical>, <title>, lang and JSON-LD in one walk of the head."""
    meta = PageMeta(url=url)
    meta.language = root.get("lang") or root.get("xml:lang")
    for el in root.iter("meta", "link", "title", "script"):
        tag = el.tag
        if tag == "meta":
            # RDFa lets one attribute name several properties (``property="og:title
            # twitter:title"``): the content is each one's.
            names = (
                (el.get("property") or el.get("name") or el.get("itemprop") or "").lower().split()
            )
            if not names and el.get("http-equiv"):
                names = ["http-equiv:" + el.get("http-equiv", "").lower()]
            content = el.get("content")
            if content is not None:
                for name in names:
                    meta.meta.setdefault(name, []).append(content)
        elif tag == "link":
            rel = (el.get("rel") or "").lower().split()
            if "canonical" in rel and el.get("href") and meta.canonical is None:
                meta.canonical = absolute_url(el.get("href"), url)
        elif tag == "title" and meta.title_tag is None and not _in_svg(el):
            meta.title_tag = clean_or_none(element_text(el))
        elif tag == "script" and (el.get("type") or "").lower().strip() == "application/ld+json":
            meta.ld.extend(_ld_nodes(_load_json(el.text or "")))
    meta.ld_article = _pick_ld_article(meta.ld)
    if not meta.language:
        meta.language = meta.first(
            "content-language",
            "http-equiv:content-language",
            "og:locale",
            "language",
            "dc.language",
        )
    return meta


def _in_svg(el: HtmlElement) -> bool:
    return any(a.tag == "svg" for a in dom.ancestors(el))


# What pages wrap a script's JSON in for old parsers: an HTML comment, a CDATA section (itself
# often behind a JavaScript comment).
_JSON_WRAPPER = re.compile(r"^\s*(?://\s*)?(?:<!--|<!\[CDATA\[)|(?://\s*)?(?:-->|\]\]>)\s*$")


def _load_json(text: str) -> Any:
    text = _JSON_WRAPPER.sub("", text).strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        # Common breakage: raw newlines or tabs inside strings, a trailing comma.
        fixed = re.sub(r"[\n\r\t]+", " ", text)
        fixed = re.sub(r",\s*([}\]])", r"\1", fixed)
        try:
            return json.loads(fixed)
        except ValueError:
            return None


def _ld_nodes(data: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every JSON-LD object: top-level, inside lists and ``@graph`` (not nested properties)."""
    if depth > 4:
        return
    if isinstance(data, list):
        for item in data:
            yield from _ld_nodes(item, depth + 1)
    elif isinstance(data, dict):
        if "@graph" in data:
            yield from _ld_nodes(data["@graph"], depth + 1)
        if "@type" in data:
            yield data
        main = data.get("mainEntity")
        if isinstance(main, dict) and _ld_types(main) & ARTICLE_TYPES:
            yield main


def _ld_types(node: dict[str, Any]) -> set[str]:
    types = node.get("@type")
    if isinstance(types, str):
        types = [types]
    if not isinstance(types, list):
        return set()
    return {t.rsplit("/", 1)[-1].lower() for t in types if isinstance(t, str)}


def _pick_ld_article(nodes: list[dict[str, Any]]) -> dict[str, Any] | None:
    best: dict[str, Any] | None = None
    for node in nodes:
        if not (_ld_types(node) & ARTICLE_TYPES and (node.get("headline") or node.get("name"))):
            continue
        # Prefer the node with a body, then the first.
        if best is None or (node.get("articleBody") and not best.get("articleBody")):
            best = node
    return best


def _ld_text(value: Any) -> str | None:
    if isinstance(value, str):
        return clean_or_none(value)
    if isinstance(value, list):
        for v in value:
            text = _ld_text(v)
            if text:
                return text
    if isinstance(value, dict):
        return _ld_text(value.get("name") or value.get("@value") or value.get("text"))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _ld_names(value: Any) -> list[str]:
    if isinstance(value, list):
        return [n for v in value for n in _ld_names(v)]
    name = _ld_text(value)
    return [name] if name else []


def _ld_url(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        for v in value:
            url = _ld_url(v)
            if url:
                return url
    if isinstance(value, dict):
        return _ld_url(value.get("@id") or value.get("url"))
    return None


def _ld_images(value: Any, base: str) -> list[Image]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, str):
            url = absolute_url(item, base)
            caption, credit = None, None
        elif isinstance(item, dict):
            url = absolute_url(_ld_url(item.get("url") or item.get("contentUrl")), base)
            caption, credit = split_caption(
                _ld_text(item.get("caption") or item.get("description"))
            )
            credit = credit or clean_or_none(
                _ld_text(item.get("creditText") or item.get("copyrightHolder"))
            )
        else:
            continue
        if url:
            out.append(Image(url=url, caption=caption, credit=credit))
    return out


# --------------------------------------------------------------------------------------------


def is_article_page(
    root: HtmlElement, meta: PageMeta, analysis: blocks.Analysis | None = None
) -> bool:
    """Does this page present one article (as opposed to a listing of many)?"""
    if analysis is None:
        analysis = blocks.analyse(root)
    return classify.is_article(analysis, declared=_declares_article(root, meta))


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
    analysis = None if force_listing else blocks.analyse(root)
    if analysis is not None and (force_article or is_article_page(root, meta, analysis)):
        draft, related = extract_article(root, meta, selectors, analysis)
        return Extraction(
            kind="article",
            articles=(draft,),
            teasers=related,
            # The page's own title, as stated: the story's (the draft's) has no site name.
            title=page_title(meta, dom.text_of(root.find(".//h1"))) or draft.title,
            language=meta.language,
        )
    teasers = tuple(cards(root, url, selectors.article_links if selectors else None))
    return Extraction(
        kind="listing", teasers=teasers, title=page_title(meta), language=meta.language
    )


def extract_article(
    root: HtmlElement,
    meta: PageMeta,
    selectors: Selectors | None = None,
    analysis: blocks.Analysis | None = None,
) -> tuple[Draft, tuple[Teaser, ...]]:
    """The article on a page, and the teasers in its related-article boxes. ``analysis``: the
    page's text blocks (:func:`body.analyse`), if they were weighed already."""
    url = meta.url
    ld = meta.ld_article or {}

    index = TreeIndex(root)  # where each element is: every "inside", "before" below asks it
    if analysis is None:
        analysis = blocks.analyse(root)
    analysis.mark_kept()
    tagged = dom.with_attributes(root, _PAGE_ATTRIBUTES, _PAGE_TAGS)
    boxes = index.marked(root, _is_box, among=tagged)  # a box has a class, an id or is <aside>
    related = tuple(_related_teasers(url, boxes, index))
    body_el, later, how = _locate_body(root, selectors, tagged, analysis, index)
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
        boxes = index.marked(
            root, _is_box, among=dom.with_attributes(root, _PAGE_ATTRIBUTES, _PAGE_TAGS)
        )
    container = _article_container(root, body_el)
    # A page that names no title anywhere is titled by its first words, as a feed item
    # without a title is (extract.feed).
    title = _title(root, container, meta, selectors) or _first_words(body_el)
    if not title:
        raise ExtractError("no title found", url=url)

    # Read what is around the body before the chrome goes.
    scope = container if container is not None else root
    marked = dom.with_attributes(scope, _MARKED)  # all that the four below look at
    bylines = _bylines(scope, ld, meta, selectors, marked, boxes, index)
    dateline = _dateline(marked, boxes)
    section = _section(scope, ld, meta, selectors, marked, boxes)
    subtitle = _subtitle(scope, ld, title, selectors, marked, boxes)
    published, updated = _dates(scope, ld, meta, selectors, boxes)
    headline = _headline(root, container)
    lead_images = pictures.lead_images(root, container, body_el, headline, index, boxes)

    method = "selectors" if selectors and selectors.body and body_el is not None else ""
    body_html = None
    body_text = None
    if body_el is not None:
        if not whole_page:
            body_el = copy.deepcopy(body_el)  # the caller's page stays as it is
        if how == "container":
            body_el.set("data-syndicator-found", "container")
        dom.strip_chrome(body_el, selectors.remove if selectors else None)
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


def _inner_html(el: HtmlElement) -> str:
    return str(lxml.html.tostring(el, encoding="unicode", method="html"))


# --------------------------------------------------------------------------------------------
# Finding the body


def _find_body(root: HtmlElement, selectors: Selectors | None) -> HtmlElement | None:
    """The element that holds the article body (its first part, if it is cut into several).
    Marks a body found by its container's name (``data-syndicator-found``)."""
    body, _, how = _locate_body(root, selectors, None, None)
    if body is not None and how == "container":
        body.set("data-syndicator-found", "container")
    return body


def _locate_body(
    root: HtmlElement,
    selectors: Selectors | None,
    tagged: list[HtmlElement] | None,
    analysis: blocks.Analysis | None = None,
    index: TreeIndex | None = None,
) -> tuple[HtmlElement | None, list[HtmlElement], str]:
    """The element that holds the article body; the later parts of a body cut into several
    containers (for :func:`_join_parts`); and how it was found: ``selectors``, ``container``
    or ``main-text`` (``main_text`` marks what it finds). ``tagged``: the page's elements with
    _PAGE_ATTRIBUTES or _PAGE_TAGS, if they were listed already; ``index``: of ``root``, if
    one was built."""
    if selectors and selectors.body:
        found = dom.select(root, selectors.body)
        if found:
            if len(found) == 1:
                return found[0], [], "selectors"
            wrapper = lxml.html.Element("div")
            for el in found:
                wrapper.append(copy.deepcopy(el))
            return wrapper, [], "selectors"
    if analysis is None:
        analysis = blocks.analyse(root)
    for group in _body_candidates(root, tagged):
        parts = [el for el in group if _holds_text(el) and not analysis.of(el).chrome]
        if parts:
            later = _later_parts(parts, index)
            if blocks.plausible(analysis, [parts[0], *later]):
                return parts[0], later, "container"
    return main_text(root, analysis), [], "main-text"


def _holds_text(el: HtmlElement) -> bool:
    # Two paragraphs are quicker to find than the text is to measure.
    return next(islice(el.iterdescendants("p"), 1, None), None) is not None or (
        len(dom.text_of(el)) >= 150
    )


def _selector_atoms(selector: str) -> tuple[tuple[str, str], ...]:
    """``(attribute, value)`` of each part of a body selector (``.c``, ``#i``, ``[a='v']``)."""
    atoms = []
    for part in selector.split(","):
        part = part.strip()
        m = re.fullmatch(r"\[([\w-]+)='([^']*)'\]", part)
        if m:
            atoms.append((m[1], m[2]))
        elif re.fullmatch(r"[.#][\w-]+", part):
            atoms.append(("class" if part[0] == "." else "id", part[1:]))
        else:
            raise ValueError(f"not a simple selector: {part!r}")
    return tuple(atoms)


_BODY_ATOMS = tuple(_selector_atoms(selector) for selector in BODY_SELECTORS)


def _index_atoms() -> tuple[dict[str, set[int]], dict[tuple[str, str], set[int]]]:
    """Which entries of BODY_SELECTORS select a class word, and an (attribute, value) pair."""
    classes: dict[str, set[int]] = {}
    values: dict[tuple[str, str], set[int]] = {}
    for i, atoms in enumerate(_BODY_ATOMS):
        for name, value in atoms:
            if name == "class":
                classes.setdefault(value, set()).add(i)
            else:
                values.setdefault((name, value), set()).add(i)
    return classes, values


_BODY_CLASSES, _BODY_VALUES = _index_atoms()
_BODY_ATTRIBUTES = tuple(sorted({name for name, _ in _BODY_VALUES}))
# What the body selectors and the related boxes look at: one walk of the page lists them.
_PAGE_ATTRIBUTES = frozenset({"class", *_BODY_ATTRIBUTES})
_PAGE_TAGS = frozenset({"aside"})
_XML_SPACE = str.maketrans("\t\n\r", "   ")


def _body_candidates(
    root: HtmlElement, tagged: list[HtmlElement] | None = None
) -> list[list[HtmlElement]]:
    """What each of BODY_SELECTORS selects under ``root`` (in document order, as cssselect would:
    a class is a word of ``class`` split at XML whitespace, ``id`` and other attributes equal the
    value), with one walk of the elements that have such attributes instead of one per entry."""
    found: list[list[HtmlElement]] = [[] for _ in _BODY_ATOMS]
    if tagged is None:
        tagged = dom.with_attributes(root, _PAGE_ATTRIBUTES)
    for el in tagged:
        entries: set[int] = set()
        cls = el.get("class")
        if cls:
            for word in cls.translate(_XML_SPACE).split(" "):
                if word in _BODY_CLASSES:
                    entries |= _BODY_CLASSES[word]
        for name in _BODY_ATTRIBUTES:
            value = el.get(name)
            if value is not None and (name, value) in _BODY_VALUES:
                entries |= _BODY_VALUES[(name, value)]
        for i in entries:
            found[i].append(el)
    return found


def _later_parts(parts: list[HtmlElement], index: TreeIndex | None = None) -> list[HtmlElement]:
    """The body containers after the first that hold more of the same article.

    Some sites cut the body into several containers of the same kind with ads or related boxes
    in between; the parts of running text that belong to the same article as the first (the same
    ``<article>`` or ``<main>``, else the same parent) are joined, in document order.
    """
    first = parts[0]
    if len(parts) == 1:
        return []
    if index is None or first not in index:
        index = TreeIndex(first.getroottree().getroot())
    scopes = index.nearest(index.root, _is_scope)
    scope = scopes.get(first)
    return [
        el
        for el in parts[1:]
        if not index.inside(el, first)
        and (scopes.get(el) is scope if scope is not None else el.getparent() is first.getparent())
        and dom.link_density(el) < 0.5  # not a box of related links that shares the class
    ]


def _join_parts(first: HtmlElement, later: list[HtmlElement]) -> HtmlElement:
    """A <div> in place of the first body container, holding it and the later parts (moved
    there, their tail text left where it was). Changes the tree: only on a copy of the page."""
    wrapper = lxml.html.Element("div")
    first.addprevious(wrapper)
    for el in [first, *later]:
        dom.drop(el)  # its tail text stays where it was
        el.tail = None
        wrapper.append(el)
    return wrapper


def _is_scope(el: HtmlElement) -> bool:
    """An element that holds one article: ``<article>``, ``<main>``."""
    return el.tag in ("article", "main") or (el.get("role") or "") == "main"


def main_text(root: HtmlElement, analysis: blocks.Analysis | None = None) -> HtmlElement | None:
    """The element that holds the page's running text, found by weighing its text blocks
    (:func:`syndicator.extract.body.analyse`)."""
    if analysis is None:
        analysis = blocks.analyse(root)
    if analysis.best is not None:
        analysis.best.set("data-syndicator-found", "main-text")
    return analysis.best


_COMMAS = ",،、，､"
# Han, kana and hangul syllables: one character carries about as much as a short word.
_WIDE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def _text_weight(text: str) -> int:
    """Length of a text in Latin-equivalent characters (ideographs count three)."""
    return len(text) + 2 * len(_WIDE.findall(text)) if not text.isascii() else len(text)


def _has_block_children(el: HtmlElement) -> bool:
    return any(isinstance(c.tag, str) and c.tag in _BLOCKS for c in el)


_BLOCKS = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "ul",
        "ol",
        "table",
        "blockquote",
        "pre",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "figure",
        "header",
        "footer",
        "aside",
        "main",
        "nav",
        "form",
        "dl",
    }
)


def _article_container(root: HtmlElement, body: HtmlElement | None) -> HtmlElement | None:
    """The element around the article (headline, byline, lead picture, body)."""
    if body is not None:
        for a in dom.ancestors(body):
            if a.tag == "article" or "article" in (a.get("itemtype") or "").lower():
                return a
        for a in dom.ancestors(body):
            if a.tag == "main" or (a.get("role") or "") == "main":
                return a
        parent = body.getparent()
        return parent if parent is not None else body
    found = root.find(".//article")
    if found is None:
        found = root.find(".//main")
    return found


def _headline(root: HtmlElement, container: HtmlElement | None) -> HtmlElement | None:
    """The article's ``<h1>`` (in its container first)."""
    for scope in (container, root):
        if scope is not None:
            found = scope.find(".//h1")
            if found is not None:
                return found
    return None


def _is_box(el: HtmlElement) -> bool:
    """A box of other stories: an ``<aside>`` or a related/"more" box by its class or id."""
    return el.tag == "aside" or bool(dom.RELATED.search(dom.attr_text(el)))


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
) -> list[str]:
    if selectors and selectors.author:
        found = [dom.text_of(el) for el in dom.select(scope, selectors.author)]
        if any(found):
            return [f for f in found if f]
    visible = []
    bylined: Subtrees | None = None  # the byline elements' subtrees, below the scope
    for el in marked:
        if not isinstance(el.tag, str) or el.tag in ("script", "style"):
            continue
        words = dom.attr_text(el)
        if (
            _BYLINE_CLASSES.search(words)
            or el.get("rel") == "author"
            or el.get("itemprop") == "author"
        ):
            if bylined is None:
                bylined = index.marked(scope, _has_byline_class, self_too=False)
            if bylined.below(el):
                continue  # the outer byline element already covers it
            if boxes.below(el):
                continue
            text = dom.text_of(el)
            if text and len(text) < 200:
                visible.append(text)
    ld_names = _ld_names(ld.get("author"))
    meta_names = [
        n
        for n in (
            meta.first(
                "author", "article:author", "dc.creator", "byl", "sailthru.author", "parsely-author"
            ),
        )
        if n and not n.startswith("http")
    ]
    if visible:
        return visible[:1] if len(visible) > 1 and _same_names(visible) else visible
    return ld_names or meta_names


def _has_byline_class(el: HtmlElement) -> bool:
    return bool(_BYLINE_CLASSES.search(dom.attr_text(el)))


def _same_names(texts: list[str]) -> bool:
    firsts = {split_byline(t)[0] for t in texts}
    return len(firsts) == 1


def _dateline(marked: list[HtmlElement], boxes: Subtrees) -> str | None:
    for el in marked:
        if isinstance(el.tag, str) and _DATELINE_CLASSES.search(dom.attr_text(el)):
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
        if isinstance(el.tag, str) and _SECTION_CLASSES.search(dom.attr_text(el)):
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
        if (
            _SUBTITLE_CLASSES.search(dom.attr_text(el))
            or el.get("itemprop") == "alternativeHeadline"
        ):
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


def _related_teasers(url: str, boxes: Subtrees, index: TreeIndex) -> Iterator[Teaser]:
    """Teasers in related-article boxes ("مقالات ذات صلة", "Read also"): the outermost
    ``<aside>`` and related/"more" boxes of the page, in document order."""
    seen: set[str] = set()
    urls = PageUrls(url)
    for box in boxes.tops:
        for teaser in cards(box, url, related=True, urls=urls, index=index):
            if teaser.url and teaser.url not in seen:
                seen.add(teaser.url)
                yield teaser

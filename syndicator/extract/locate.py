"""Where an article page's body is: per-source selectors, the containers sites name
(``BODY_SELECTORS``), the block the weighing found (:mod:`syndicator.extract.body`), and the
elements around it (the article's container, its headline, boxes of other stories). Pure; it
does not cut chrome out of the body (``dom.strip_chrome``) or read its text (``normalize``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import islice

import lxml.html
from lxml.html import HtmlElement

from syndicator.extract import body as blocks
from syndicator.extract import dom
from syndicator.extract.index import TreeIndex
from syndicator.model import Selectors

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


# --------------------------------------------------------------------------------------------
# Finding the body


def _locate_body(
    root: HtmlElement,
    selectors: Selectors | None,
    tagged: list[HtmlElement] | None,
    analysis: blocks.Analysis | None = None,
    index: TreeIndex | None = None,
    words: dom.AttrWords | None = None,
) -> tuple[HtmlElement | None, list[HtmlElement], str]:
    """The element that holds the article body; the later parts of a body cut into several
    containers (for :func:`_join_parts`); and how it was found: ``selectors``, ``container``
    or ``main-text`` (``main_text`` marks what it finds). ``tagged``: the page's elements with
    _PAGE_ATTRIBUTES or _PAGE_TAGS, if they were listed already; ``index``: of ``root``, if
    one was built; ``words``: the names of its elements (:class:`dom.AttrWords`)."""
    if selectors and selectors.body:
        found = dom.select(root, selectors.body)
        if found:
            return found[0], _outermost(found[1:], found[0], root, index), "selectors"
    if analysis is None:
        analysis = blocks.analyse(root)
    for group in _body_candidates(root, tagged, words):
        parts = [el for el in group if _holds_text(el) and not analysis.of(el).chrome]
        if parts:
            later = _later_parts(parts, index)
            if blocks.plausible(analysis, [parts[0], *later]):
                return parts[0], later, "container"
    return main_text(root, analysis), [], "main-text"


def _outermost(
    later: list[HtmlElement], first: HtmlElement, root: HtmlElement, index: TreeIndex | None
) -> list[HtmlElement]:
    """The elements of ``later`` (in document order, after ``first``) that are inside neither
    ``first`` nor one kept before them: a source's body selector that matches several elements
    (``p``, or a class on nested blocks) takes each part of the text once, as the later parts of
    a body cut into several containers (:func:`_join_parts`)."""
    if not later:
        return []
    if index is None or first not in index:
        index = TreeIndex(root)
    kept = [first]
    for el in later:
        # The kept parts do not overlap and come in document order: an element inside any of
        # them is inside the last.
        if not index.inside(el, kept[-1]):
            kept.append(el)
    return kept[1:]


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
# Every class and id the selectors look for holds one of these, lower-cased (a test checks it):
# an element whose attr_text holds none can match only by its other attributes (itemprop).
BODY_HINTS = ("body", "content", "text")
_BODY_HINT = re.compile("|".join(BODY_HINTS))
_OTHER_ATTRIBUTES = tuple(name for name in _BODY_ATTRIBUTES if name != "id")
# What the body selectors and the related boxes look at: one walk of the page lists them.
_PAGE_ATTRIBUTES = frozenset({"class", *_BODY_ATTRIBUTES})
_PAGE_TAGS = frozenset({"aside"})
_XML_SPACE = str.maketrans("\t\n\r", "   ")


def _body_candidates(
    root: HtmlElement,
    tagged: list[HtmlElement] | None = None,
    words: dom.AttrWords | None = None,
) -> list[list[HtmlElement]]:
    """What each of BODY_SELECTORS selects under ``root`` (in document order, as cssselect would:
    a class is a word of ``class`` split at XML whitespace, ``id`` and other attributes equal the
    value), with one walk of the elements that have such attributes instead of one per entry.
    ``words``: the page's element names (:class:`dom.AttrWords`), if there are: an element whose
    names hold no body class or id is asked for its other attributes only."""
    found: list[list[HtmlElement]] = [[] for _ in _BODY_ATOMS]
    if tagged is None:
        tagged = dom.with_attributes(root, _PAGE_ATTRIBUTES)
    for el in tagged:
        names = _BODY_ATTRIBUTES
        if words is not None and not _BODY_HINT.search(words[el]):
            entries = _NONE
            names = _OTHER_ATTRIBUTES
        else:
            cls = el.get("class")
            entries = _class_entries(cls) if cls else _NONE
        for name in names:
            value = el.get(name)
            if value is not None and (name, value) in _BODY_VALUES:
                entries = entries | _BODY_VALUES[(name, value)]
        for i in entries:
            found[i].append(el)
    return found


_NONE: frozenset[int] = frozenset()


@lru_cache(maxsize=4096)
def _class_entries(cls: str) -> frozenset[int]:
    """The entries of BODY_SELECTORS that select a ``class`` attribute. Cached: a page repeats
    a few class attributes over many elements (list items, cards, menu entries)."""
    entries: set[int] = set()
    for word in cls.translate(_XML_SPACE).split(" "):
        if word in _BODY_CLASSES:
            entries |= _BODY_CLASSES[word]
    return frozenset(entries)


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


def _is_box(el: HtmlElement, words: dom.AttrWords | None = None) -> bool:
    """A box of other stories: an ``<aside>`` or a related/"more" box by its class or id."""
    return el.tag == "aside" or dom.names_box(dom.attr_text(el) if words is None else words[el])

"""Where a page's running text is: one pass over the tree that weighs its text blocks.

Every element gets, from one walk of the tree (children before parents, so linear in the size of
the page), how much text it holds, how much of that is link text, how much is running text
(paragraph-like blocks of enough length with few links, outside page chrome), and a score that
paragraphs give to the elements around them (commas and length, as a reader's eye weighs
prose). The best element, discounted by its link density, is where the text is; it then grows to
an ancestor while that ancestor adds a good share more running text (a body cut into sibling
blocks). The same figures tell an article from a listing (:mod:`syndicator.extract.classify`).

Pure: a parsed page in, an element and its figures out. It does not cut chrome out of what it
finds (``dom.strip_chrome`` does) and knows nothing of metadata; what an element's markup says
of its text (hidden, chrome by its tag, role or names) is :mod:`syndicator.extract.markup`'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree
from lxml.html import HtmlElement

from syndicator.extract import dom, markup

KEEP = "data-syndicator-keep"
# Tags whose content starts a new block of text (anything else is inline, within a paragraph).
BLOCKS = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "main",
        "header",
        "footer",
        "aside",
        "nav",
        "ul",
        "ol",
        "li",
        "dl",
        "dt",
        "dd",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "td",
        "th",
        "blockquote",
        "pre",
        "figure",
        "figcaption",
        "form",
        "fieldset",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "br",
        "address",
        "center",
        "details",
        "summary",
        "body",
        "html",
    ]
)
# Blocks that hold paragraphs rather than being one: text directly inside them (between <br>s,
# as many pages write) is scored for the block itself.
CONTAINERS = frozenset(
    [
        "div",
        "section",
        "article",
        "main",
        "td",
        "body",
        "blockquote",
        "center",
        "font",
        "span",
        "details",
    ]
)
HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_COMMA_CHARS = ",،、，､;；"
_ENDS = re.compile(r"[.!?。！？؟।](?=[\s\"'”’»)\]]|$)")
# Han, kana and hangul syllables: one character carries about as much as a short word.
_WIDE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def weight(text: str) -> int:
    """Length of a text in Latin-equivalent characters (ideographs count three), without the
    whitespace around it."""
    text = text.strip()
    return len(text) if text.isascii() else len(text) + 2 * len(_WIDE.findall(text))


@dataclass(slots=True)
class Figures:
    """What the walk found in one element (its whole subtree, chrome left out)."""

    chars: int = 0  # text, in weighted characters
    links: int = 0  # of which inside links
    inline_chars: int = 0  # text of the element's own paragraph (its text and inline children)
    inline_links: int = 0
    commas: int = 0  # in its own paragraph
    ends: int = 0  # sentence ends in its own paragraph
    has_block: bool = False  # a block element below it
    prose: int = 0  # running text: non-link characters of the paragraphs below it
    sentences: int = 0  # sentence ends in those paragraphs
    paragraphs: int = 0  # paragraphs of running text below it
    linked_headings: int = 0  # headings that are mostly a link (card titles)
    articles: int = 0  # <article> elements below it (itself included)
    stories: int = 0  # stories below it (not itself): see _sum_up
    headlines: int = 0  # <h1> elements below it that are not links
    titled: int = 0  # <h1>, <h2>, <h3> below it, links or not
    signed: int = 0  # a story's date or author below it: <time>, rel/itemprop author, datePublished
    anchors: int = 0  # <main> and body containers (entry-content…) below it, itself included
    score: float = 0.0
    # Points its paragraphs still give to the elements one, two and three levels up.
    carry1: float = 0.0
    carry2: float = 0.0
    carry3: float = 0.0
    named: bool = False  # its class or id names chrome
    chrome: bool = False  # chrome by its name, or inside such an element (its text scores little)
    linked: bool = False  # inside a link: a card's blocks wrapped in one <a>


@dataclass
class Analysis:
    """The figures of every element of a page, and the element the running text is in."""

    figures: dict[HtmlElement, Figures]
    best: HtmlElement | None
    root: HtmlElement  # the page's <body> (or root when it has none)
    # Elements whose class or id names chrome but that hold running text all the same.
    kept: frozenset[HtmlElement] = frozenset()

    def mark_kept(self) -> None:
        """Mark the kept elements (``data-syndicator-keep``), so that ``dom.strip_chrome``
        leaves them in a copy of the page."""
        for el in self.kept:
            el.set(KEEP, "")

    def of(self, el: HtmlElement | None) -> Figures:
        found = self.figures.get(el) if el is not None else None
        return found if found is not None else Figures()


def analyse(
    root: HtmlElement,
    *,
    names: bool = True,
    words: dom.AttrWords | None = None,
    shells: bool = False,
) -> Analysis:
    """Weigh the text blocks of a page and find where its running text is.

    One walk down lists the elements that count, one walk up weighs them. Text under an
    element whose class or id names chrome scores little and is not running text, unless that
    element plainly holds running text (paragraphs of sentences) and its name is not one only
    chrome has (comments, related stories, menus, footers…): a share button's class on the
    story's wrapper does not make the story chrome. When the names leave no running text
    anywhere, they were wrong: the page is weighed again without them. When there is still
    none, the page's text is all inside what is chrome by its tag or role (a ``<nav>`` or a
    banner left open around the whole page, the page written for readers without scripts in
    ``<noscript>``): it is weighed again as if those were blocks like others (``shells``).
    ``words``: the page's element names, shared with the other passes over it."""
    if words is None:
        words = dom.AttrWords()
    body = root.find("body")
    if body is None:
        body = root
    figures: dict[HtmlElement, Figures] = {}
    order: list[HtmlElement] = []
    ups: list[Figures | None] = []  # the figures of each one's parent (None for the body)
    # Preorder: which elements count (a parent is met before its children).
    for el in body.iter(etree.Element):
        tag = el.tag
        if not isinstance(tag, str):
            continue
        up = None
        if el is not body:
            up = figures.get(el.getparent())
            if up is None:
                continue  # below something skipped
        if tag in markup.NEVER_TEXT and not (shells and tag in markup.SHELLS):
            continue
        if el is body:
            keys: list[str] = []  # not read: the body is never named chrome
        else:
            keys = el.keys()  # read once for the two tests below
            if markup.hidden_or_chrome_tag(el, keys, shells):
                continue
        f = Figures()
        f.named = names and el is not body and markup.chrome_words(el, tag, words, keys)
        if not shells and ((up is not None and up.linked) or (tag == "a" and "href" in keys)):
            f.linked = True  # text inside a link is the link's, whatever blocks hold it
        if tag == "time" or (keys and _signs(el, keys)):
            f.signed = 1
        if tag == "main" or (
            tag in _CONTAINER_TAGS and not dom.NAMING.isdisjoint(keys) and dom.names_body(words[el])
        ):
            f.anchors = 1
        figures[el] = f
        order.append(el)
        ups.append(up)
    stories: set[HtmlElement] = set()
    kept = _sum_up(body, order, figures, stories)
    best = _best(body, order, ups, figures, stories)
    analysis = Analysis(figures, best, body, frozenset(kept))
    if best is None and names and any(f.chrome for f in figures.values()):
        analysis = analyse(root, names=False, words=words, shells=shells)
    if analysis.best is None and not shells:
        again = analyse(root, names=names, words=words, shells=True)
        if again.best is not None:
            return again
    return analysis


# What a body container is (entry-content, article-body…).
_CONTAINER_TAGS = frozenset({"div", "section", "article"})


def _holds_main(el: HtmlElement, f: Figures) -> bool:
    """An element named as a page's side column that holds its ``<main>`` or its body
    container with running text: the layout around both (``content-sidebar-wrap``)."""
    if not f.anchors or f.prose < PROSE_PER_CARD:
        return False
    return not markup.names_chrome_beyond_layout(el)


def _holds_running_text(el: HtmlElement, f: Figures) -> bool:
    """An element named as chrome that holds running text all the same."""
    if f.paragraphs < 2 or f.prose < 400 or f.sentences < 3:
        return False
    return not markup.names_only_chrome(el)


def _sum_up(
    body: HtmlElement,
    order: list[HtmlElement],
    figures: dict[HtmlElement, Figures],
    stories: set[HtmlElement],
) -> list[HtmlElement]:
    """Children before parents: add up each element's figures, score its paragraph, and judge
    the chrome names (an element's own figures are whole when it is met). The elements named
    as chrome but kept for the running text they hold.

    ``stories`` gets the elements that hold a story of their own: an ``<article>`` with a
    story's running text (PROSE_PER_CARD), or, among siblings under two ``<h1>`` or more, the
    one that holds one of them with that much running text (a page that loads the next
    stories below its own, each under its headline)."""
    kept = []
    for el in reversed(order):
        f = figures[el]
        tag = el.tag
        own = el.text
        chars = inline_chars = inline_links = links = commas = ends = 0
        if own and not own.isspace():
            chars = inline_chars = weight(own)
            commas, ends = _marks(own)
        has_block = False
        for child in el:
            tail = child.tail
            if tail and not tail.isspace():
                w = weight(tail)
                chars += w
                inline_chars += w
                c_commas, c_ends = _marks(tail)
                commas += c_commas
                ends += c_ends
            c = figures.get(child)
            if c is None:
                continue
            chars += c.chars
            links += c.links
            f.prose += c.prose
            f.sentences += c.sentences
            f.paragraphs += c.paragraphs
            f.linked_headings += c.linked_headings
            f.articles += c.articles
            if c.anchors:
                f.anchors += c.anchors
            if c.stories or c.titled or c.signed:
                f.stories += c.stories
                f.headlines += c.headlines
                f.titled += c.titled
                f.signed += c.signed
            if child in stories:
                f.stories += 1
            f.score += c.carry1
            f.carry1 += c.carry2
            f.carry2 += c.carry3
            if c.has_block or child.tag in BLOCKS:
                has_block = True
            else:  # inline: its text is part of this element's paragraph
                inline_chars += c.inline_chars
                inline_links += c.inline_links
                commas += c.commas
                ends += c.ends
        own_links = chars if tag == "a" else links  # what a heading's own links cover
        if tag == "a" or f.linked:
            links = chars
            inline_links = inline_chars
        f.chars, f.links = chars, links
        f.inline_chars, f.inline_links, f.commas, f.ends = inline_chars, inline_links, commas, ends
        f.has_block = has_block
        if tag in HEADINGS:
            if chars and own_links * 2 >= chars:
                f.linked_headings += 1
            elif tag == "h1" and chars:
                f.headlines += 1
            if tag in _TITLES:
                f.titled += 1
        elif (tag in BLOCKS or has_block or el is body) and inline_chars >= 25:
            _score_paragraph(el, f)
        if f.named:
            if _holds_running_text(el, f) or _holds_main(el, f):
                kept.append(el)
            else:  # chrome: none of its text is running text, and its points count little
                f.chrome = True
                f.prose = f.sentences = f.paragraphs = f.stories = 0
                if tag not in HEADINGS:  # a headline's class often says title or headline
                    f.headlines = 0
                f.carry1 *= 0.2
                f.carry2 *= 0.2
                f.carry3 *= 0.2
        if f.headlines >= 2:
            for child in el:
                c = figures.get(child)
                if (
                    c is not None
                    and c.headlines == 1
                    and c.signed
                    and c.prose >= PROSE_PER_CARD
                    and child not in stories
                ):
                    stories.add(child)
                    f.stories += 1
        if tag == "article":
            f.articles += 1
            if f.prose >= PROSE_PER_CARD and f.titled and f.signed:
                stories.add(el)
    return kept


_TITLES = frozenset({"h1", "h2", "h3"})


def _signs(el: HtmlElement, keys: list[str]) -> bool:
    """A story's byline or date by its markup: ``rel="author"``, ``itemprop`` author or
    datePublished (``<time>`` is one by its tag). ``keys``: its attribute names."""
    if "rel" in keys and el.get("rel") == "author":
        return True
    return "itemprop" in keys and el.get("itemprop") in ("author", "datePublished")


def _marks(text: str) -> tuple[int, int]:
    """Commas and sentence ends in a text."""
    if text.isascii():
        commas = text.count(",") + text.count(";")
    else:
        commas = len(_COMMAS.findall(text))
    return commas, len(_ENDS.findall(text))


_COMMAS = re.compile(f"[{_COMMA_CHARS}]")


def _score_paragraph(el: HtmlElement, f: Figures) -> None:
    """The element's own paragraph gives points to it (a container of text) or its parent,
    half as many to the next element up, a sixth and a ninth to the two above that."""
    density = f.inline_links / f.inline_chars
    if density > 0.5:
        return
    f.prose += f.inline_chars - f.inline_links
    f.sentences += f.ends
    f.paragraphs += 1
    points = 1.0 + f.commas + min(f.inline_chars / 100, 3.0)
    if el.tag in ("li", "dd", "dt", "th"):
        points *= 0.5
    points *= 1 - density
    if el.tag in CONTAINERS:
        f.score += points
        f.carry1 += points / 2
        f.carry2 += points / 6
        f.carry3 += points / 9
    else:
        f.carry1 += points
        f.carry2 += points / 2
        f.carry3 += points / 6


def plausible(analysis: Analysis, parts: list[HtmlElement]) -> bool:
    """Whether elements a page names as its body (by class, id or itemprop) plausibly hold its
    text: at least half the running text of the block the weighing found (a class that also
    marks a comment, a teaser or a summary holds far less)."""
    if analysis.best is None:
        return True
    return sum(analysis.of(el).prose for el in parts) >= 0.5 * analysis.of(analysis.best).prose


def _best(
    body: HtmlElement,
    order: list[HtmlElement],
    ups: list[Figures | None],
    figures: dict[HtmlElement, Figures],
    stories: set[HtmlElement],
) -> HtmlElement | None:
    best, best_score = None, 0.0
    for el, up in zip(order, ups, strict=True):  # parents first: inside chrome is chrome
        f = figures[el]
        if not f.chrome and up is not None:
            f.chrome = up.chrome
        if f.score <= 0 or f.chrome:
            continue
        adjusted = f.score * (1 - (f.links / f.chars if f.chars else 0.0))
        if adjusted > best_score:
            best, best_score = el, adjusted
    if best is None or best_score < 3:
        return None
    # A stream of whole stories, each an <article> (a page that loads the next ones below its
    # own): the page's story is the first.
    streamed = _outer_stories(best, stories) if figures[best].stories >= 2 else []
    if len(streamed) >= 2:
        first = streamed[0]
        return _grow(_top_scored(first, figures), first, figures, stories)
    return _grow(best, body, figures, stories)


def _outer_stories(el: HtmlElement, stories: set[HtmlElement]) -> list[HtmlElement]:
    """The ``<article>`` stories below ``el`` that are in no other, in document order."""
    found: list[HtmlElement] = []
    todo = list(reversed(el))
    while todo:  # depth first, in document order, not below a story found
        d = todo.pop()
        if d.tag == "article" and d in stories:
            found.append(d)
        elif len(d):
            todo.extend(reversed(d))
    return found


def _grow(
    best: HtmlElement,
    top: HtmlElement,
    figures: dict[HtmlElement, Figures],
    stories: set[HtmlElement],
) -> HtmlElement:
    """Grow ``best`` to the farthest ancestor up to ``top`` that adds a good share of running
    text to what is held so far (a body cut into blocks, each in wrappers of its own). A table
    is not an article by itself: the text it stands in (its introduction, the notes and
    references after it) is taken with it, however long the table.

    An ancestor that adds another story is never taken (a page that loads the next stories
    below its own, each under a headline or in an ``<article>`` of its own); the page's story
    is the first of them, so a block of running text before the one found, half as long or
    more, is taken instead."""
    grown = best
    own = 1 if best in stories else 0  # the stories best is in (or is), up to grown
    while grown is not top:
        parent = grown.getparent()
        p = figures.get(parent) if parent is not None else None
        if p is None:
            break
        child, grown = grown, parent
        held = figures[best]
        if child is not best and child in stories:
            own += 1
        if p.prose - held.prose >= PROSE_PER_CARD and p.stories > held.stories + own:
            # Another story: the page's own is the first of them.
            earlier = _earlier_story(parent, child, held, figures)
            if earlier is not None:
                best = _grow(_top_scored(earlier, figures), earlier, figures, stories)
                own = 1 if best in stories else 0
                for a in best.iterancestors():
                    if a is parent:
                        break
                    own += a in stories
            continue
        table = best.tag in _TABLES
        if _adds_running_text(p, held, 0.0 if table else 0.1, 0.6 if table else 0.2):
            best = grown
            own = 1 if best in stories else 0
    return best


def _earlier_story(
    el: HtmlElement, child: HtmlElement, held: Figures, figures: dict[HtmlElement, Figures]
) -> HtmlElement | None:
    """The first of ``el``'s children before ``child`` that holds running text, half as much
    as ``held`` or more: the page's own story, when ``el`` holds the next ones after it."""
    for c in el:
        if c is child:
            return None
        f = figures.get(c)
        if f is not None and not f.chrome and f.prose >= max(PROSE_PER_CARD, held.prose / 2):
            return c
    return None


def _top_scored(el: HtmlElement, figures: dict[HtmlElement, Figures]) -> HtmlElement:
    """The element of ``el``'s subtree with the most points, discounted by its link density."""
    best, best_score = el, 0.0
    for d in el.iter(etree.Element):
        f = figures.get(d)
        if f is None or f.chrome or f.score <= 0:
            continue
        adjusted = f.score * (1 - (f.links / f.chars if f.chars else 0.0))
        if adjusted > best_score:
            best, best_score = d, adjusted
    return best


_TABLES = frozenset({"table", "tbody", "thead", "tfoot"})
# Running text per linked heading below which a block of them is a grid of cards.
PROSE_PER_CARD = 400


def _adds_running_text(
    parent: Figures, child: Figures, share: float = 0.1, link_share: float = 0.2
) -> bool:
    """The parent holds a good share more running text than the child (``share`` of it, and
    150 characters), and what it adds reads as more of the same text (sentences, few links:
    at most ``link_share`` of it), not as teasers, captions or menus."""
    gain = parent.prose - child.prose
    if gain < max(share * child.prose, 150):
        return False
    # Beside a story, a grid of cards (linked headings with a line or two each: other stories)
    # is not more of the same text, however many sentences its blurbs have. (A block no longer
    # than a card's blurb is one of the cards: the grid is what the page holds.)
    cards = parent.linked_headings - child.linked_headings
    if cards >= 3 and gain < cards * PROSE_PER_CARD and child.prose >= PROSE_PER_CARD:
        return False
    added_chars = parent.chars - child.chars
    added_links = parent.links - child.links
    if added_chars <= 0 or added_links / added_chars > link_share:
        return False
    return parent.sentences - child.sentences >= max(1, gain // 300)

"""Shared HTML tree helpers for the page extractors: parsing, text, page chrome recognition.

Parsing is lxml.html (fast, forgiving); CSS selectors go through cssselect. This module knows what
page chrome looks like (navigation, share bars, ads, related boxes…) but not what an article is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import cast

import lxml.html
from cssselect import SelectorError
from lxml import etree
from lxml.cssselect import CSSSelector
from lxml.html import HtmlElement

from syndicator.errors import ExtractError
from syndicator.normalize import clean_text, element_text

# A page is parsed as UTF-8 bytes: libxml2 reads them as they are, where a str that is not
# ASCII would be handed over in Python's own layout (Latin-1, UCS-2 or UCS-4) for libxml2 to
# convert first, at more cost than encoding it here (the same tree, which a test checks).
PARSER = lxml.html.HTMLParser(
    remove_comments=True, remove_pis=True, collect_ids=False, huge_tree=False, encoding="utf-8"
)
# Every element an HtmlElement, chosen in C: lxml.html's own lookup is a Python call for each
# element that Python touches, only to give <form>, <input>, <select>, <textarea> and <label>
# classes of their own, whose form helpers this package never uses.
PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(
        element=lxml.html.HtmlElement,
        comment=lxml.html.HtmlComment,
        pi=lxml.html.HtmlProcessingInstruction,
        entity=lxml.html.HtmlEntity,
    )
)


_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# A declaration naming an encoding left at the start once the first is gone (a page that starts
# with two): lxml refuses such a str, and so the page was refused when it was parsed as one.
_ENCODING_DECLARATION = re.compile(r"^(<\?xml[^>]+)\s+encoding\s*=\s*[\"'][^\"']*[\"'](\s*\?>|)")
# Characters an HTML parser keeps in text but that no tree built through lxml's API may hold
# (XML 1.0 cannot carry them): removed before parsing, the form feed read as the space it is.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# The control characters among them, as UTF-8 bytes (each is one byte, below any byte of a
# character that is not ASCII): deleting them and comparing lengths is a quicker test than the
# regex search, on the UTF-8 text the parser reads anyway.
_CONTROL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])


def _xml_char(match: re.Match[str]) -> str:
    return " " if match.group() == "\x0c" else ""


_REFUSED_DECLARATION = (
    "Unicode strings with encoding declaration are not supported. "
    "Please use bytes input or XML fragments without declaration."
)


def _utf8(text: str) -> bytes | None:
    """``text`` in UTF-8 if it holds nothing ``_NOT_XML`` matches, else None."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        return None  # a lone surrogate
    if len(data.translate(None, _CONTROL_BYTES)) != len(data):
        return None
    if not text.isascii() and ("\ufffe" in text or "\uffff" in text):
        return None
    return data


def parse(text: str, url: str | None = None) -> HtmlElement:
    """Parse a decoded HTML document; raises ExtractError when there is no document at all."""
    text = _XML_DECLARATION.sub("", text)  # it may name another encoding than UTF-8
    data = _utf8(text)  # None: there are characters to remove
    if data is None:
        text = _NOT_XML.sub(_xml_char, text)
        data = text.encode("utf-8")
    if not text or text.isspace():
        raise ExtractError("empty document", url=url)
    if text.startswith("<?xml") and _ENCODING_DECLARATION.match(text):
        raise ExtractError(f"not HTML: {_REFUSED_DECLARATION}", url=url)
    try:
        root = lxml.html.document_fromstring(data, parser=PARSER, base_url=url)
    except (etree.ParserError, ValueError) as e:
        raise ExtractError(f"not HTML: {e}", url=url) from e
    if root is None:
        raise ExtractError("not HTML", url=url)
    return root


def text_of(el: HtmlElement | None) -> str:
    """The element's text with whitespace collapsed ("" for None)."""
    if el is None:
        return ""
    return clean_text(element_text(el))


def attr_text(el: HtmlElement) -> str:
    """Class and id of an element, lower-cased, for the chrome patterns below."""
    return f"{el.get('class') or ''} {el.get('id') or ''}".lower()


class AttrWords(dict[HtmlElement, str]):
    """:func:`attr_text` of the elements of one page, each worked out once: ``words[el]``.

    The passes over a page (the weighing of its text, the boxes of other stories, the byline,
    dateline, section and subtitle searches, the related teasers) ask the same elements for
    their names; lxml makes a new string for each attribute read. Only for a tree that keeps
    its class and id attributes while it is in use (copies get their own)."""

    __slots__ = ()

    def __missing__(self, el: HtmlElement) -> str:
        words = self[el] = attr_text(el)
        return words


@lru_cache(maxsize=256)
def css(selector: str) -> CSSSelector:
    try:
        return CSSSelector(selector, translator="html")
    except SelectorError as e:
        raise ExtractError(f"invalid CSS selector {selector!r}: {e}") from e


def with_attributes(
    root: HtmlElement, names: frozenset[str], tags: frozenset[str] = frozenset()
) -> list[HtmlElement]:
    """``root`` and its descendants that have one of these attributes or tags, in document
    order (a walk in Python is quicker here than the equivalent XPath query in libxml2)."""
    return [
        el for el in root.iter(etree.Element) if el.tag in tags or not names.isdisjoint(el.keys())
    ]


def select(root: HtmlElement, selector: str | None) -> list[HtmlElement]:
    if not selector:
        return []
    return cast(list[HtmlElement], css(selector)(root))


def select_one(root: HtmlElement, selector: str | None) -> HtmlElement | None:
    found = select(root, selector)
    return found[0] if found else None


# Elements that are never article content, by tag.
CHROME_TAGS = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "nav",
        "aside",
        "footer",
        "form",
        "button",
        "input",
        "select",
        "textarea",
        "iframe",
        "object",
        "embed",
        "svg",
        "canvas",
        "dialog",
        "menu",
        "link",
        "meta",
    }
)

# Class/id words that mark page chrome inside an article: share bars, ads, related boxes,
# newsletters, cookie banners, comment counters, sticky titles, repeated (lightbox) captions…
_CHROME_WORDS = (
    r"ads?|advert\w*|adslot|ad-?slot|dfp|gpt|sponsor\w*|promo\w*|banner"
    r"|share\w*|sharing|social\w*|sociable|addthis|sharethis"
    r"|related\w*|recommend\w*|read-?also|read-?more|more-?(?:news|stories|from)|see-?also"
    r"|also-?read|outbrain|taboola|most-?(?:read|popular|viewed)|popular|trending|teasers?"
    r"|newsletter\w*|subscri\w*|signup|sign-?up|paywall|cookie\w*|consent|gdpr"
    r"|comments?|comment-?count|disqus|replies"
    r"|sticky\w*|lightbox\w*|modal|popup|overlay|tooltip"
    r"|breadcrumbs?|tags|tag-?list|keywords|toolbar|tools|article-?tools|print|font-?size"
    r"|widget\w*|sidebar|side-?bar|rail|footer|masthead|site-?header|nav\w*|menu\w*"
    r"|skip|sr-only|visually-?hidden|screen-?reader\w*"
    r"|byline\w*|dateline|author\w*|meta|metadata|post-?meta|entry-?meta|timestamp|date"
    r"|section-?label|kicker|category|rubric|headline|title|standfirst|subtitle|dek|summary"
    r"|caption-?credit|video-?player|player|audio|podcast|embed|instagram|twitter|tweet"
)
_CHROME = re.compile(rf"(?:^|[\s_-])(?:{_CHROME_WORDS})(?:$|[\s_-])")
# Words that keep an element even if a chrome word also appears ("article-body-related" is rare;
# "article-body" containers must never go).
_KEEP = re.compile(
    r"(?:^|[\s_-])(?:article-?body|articlebody|story-?body|entry-?content|post-?content"
    r"|article-?content|article-?text|story-?text|body-?text)(?:$|[\s_-])"
)

RELATED = re.compile(
    r"(?:^|[\s_-])(?:related\w*|recommend\w*|read-?also|also-?read|more|more-?(?:news|stories)"
    r"|see-?also|most-?(?:read|popular|viewed)|popular|trending|teasers?|outbrain|taboola)(?:$|[\s_-])"
)


def is_chrome(
    el: HtmlElement,
    words: str | None = None,
    keys: list[str] | None = None,
    *,
    names: bool = True,
) -> bool:
    """True for page chrome: by tag, by class/id words, or hidden from readers. ``words``:
    the element's :func:`attr_text`, if known; ``keys``: its attribute names (``el.keys()``),
    if known (an attribute it lacks is not read); ``names``: whether names (class, id, a
    custom element's tag) count."""
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in CHROME_TAGS:
        return True
    if keys is None or not _HIDING.isdisjoint(keys):
        if el.get("aria-hidden") == "true" or el.get("hidden") is not None:
            return True
        style = (el.get("style") or "").replace(" ", "").lower()
        if "display:none" in style or "visibility:hidden" in style:
            return True
        if (el.get("role") or "").lower() in _CHROME_ROLES:
            return True
    if not names:
        return False
    if "-" in tag and chrome_name(tag):
        return True  # a custom element named for what it is (<cookie-banner>, <site-nav>)
    if keys is not None and NAMING.isdisjoint(keys):
        return False  # no class, no id: no name
    if words is None:
        words = attr_text(el)
    return chrome_name(words) and not (tag == "p" and is_prose(el))


@lru_cache(maxsize=4096)
def chrome_name(words: str) -> bool:
    """Class and id words (:func:`attr_text`) that name chrome. Cached: a page repeats a few
    class names over many elements (list items, cards, menu entries)."""
    if not words.strip() or _KEEP.search(words):
        return False
    if _ENTRY.search(words):
        # An entry's classes name the site's taxonomy (WordPress's post_class: ``hentry
        # type-post category-popular tag-ads``): its terms say what the story is about, not
        # what the element is.
        words = _TAXONOMY.sub(" ", words)
    return bool(_CHROME.search(words))


# An article's entry: microformats' hAtom ``hentry`` and ``h-entry``, a CMS's ``type-post``.
_ENTRY = re.compile(r"(?:^|\s)(?:hentry|h-entry|type-[\w-]+)(?:\s|$)")
# Taxonomy terms on an entry (``category-news``, ``tag-sponsored``).
_TAXONOMY = re.compile(r"(?:^|\s)(?:category|tag)-\S*")


@lru_cache(maxsize=4096)
def names_body(words: str) -> bool:
    """Class and id words that name an article's body container (``entry-content``…)."""
    return bool(_KEEP.search(words))


@lru_cache(maxsize=4096)
def names_box(words: str) -> bool:
    """Class and id words that name a box of other stories (related, more, most read…)."""
    return bool(RELATED.search(words))


# Sentence ends, Latin and CJK, Arabic and Devanagari.
_SENTENCE_END = re.compile(r"[.!?。！？؟।](?:[\s\"'”’»)\]]|$)")


def is_prose(el: HtmlElement) -> bool:
    """Running text: a few sentences with few links. Such a paragraph is content whatever its
    class says (sites mark gated paragraphs ``paywall``, styled ones ``promo-text``…)."""
    text = text_of(el)
    return len(text) >= 150 and len(_SENTENCE_END.findall(text)) >= 2 and link_density(el) < 0.25


def drop(el: HtmlElement) -> None:
    """Remove an element but keep its tail text in place."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    if tail and tail.strip():
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


_CHROME_ROLES = frozenset(
    {"navigation", "banner", "contentinfo", "complementary", "dialog", "alert", "menu"}
)
# The attributes that hide an element or give it a role (is_chrome reads them), and those that
# name it (attr_text).
_HIDING = frozenset({"aria-hidden", "hidden", "style", "role"})
NAMING = frozenset({"class", "id"})
# is_chrome can say yes only to a chrome tag or an element with one of these attributes.
_CHROME_ATTRIBUTES = _HIDING | NAMING


def may_be_chrome(el: HtmlElement, names: bool = True) -> bool:
    """:func:`is_chrome`, quicker for the many elements that have neither a chrome tag nor any
    attribute it reads."""
    if el.tag in CHROME_TAGS:
        return True
    keys = el.keys()
    if names and "-" in el.tag and chrome_name(el.tag):
        return True
    return not _CHROME_ATTRIBUTES.isdisjoint(keys) and is_chrome(el, keys=keys, names=names)


def strip_chrome(root: HtmlElement, extra: str | None = None, *, names: bool = True) -> None:
    """Remove page chrome below ``root`` (not ``root`` itself), plus what ``extra`` selects.
    ``names``: chrome by its class, id or custom tag goes too (else only by tag, role, or
    hidden)."""
    if root.tag in _WRAPPING_TAGS:
        root.tag = "div"  # found as the text's block: what its tag says is not what it holds
    doomed = [
        el for el in root.iterdescendants() if isinstance(el.tag, str) and may_be_chrome(el, names)
    ]
    doomed += _tag_lines(root)
    # A class that marks paragraphs of running text is a content class (``p.paywall`` on every
    # paragraph of a gated story), also on that story's short paragraphs.
    content_classes = {
        el.get("class")
        for el in root.iter("p")
        if el.get("class") and _CHROME.search(attr_text(el)) and is_prose(el)
    }
    # A "chrome" class on a wrapper holding most of the text (over 500 characters) is a misnomer,
    # not chrome: only a wrapper of more than 250 characters can be one, and only then is the
    # whole text measured (before anything goes, as are the wrappers: an element's text does not
    # change when what comes before it goes).
    sizes = {el: len(text_of(el)) for el in doomed if el.tag not in CHROME_TAGS}
    total = len(text_of(root)) if any(size > 250 for size in sizes.values()) else 0
    lines: dict[HtmlElement, int] = {}
    for el in doomed:
        if el.tag == "p" and el.get("class") in content_classes:
            continue
        if el.get("data-syndicator-keep") is not None:
            # Named as chrome, but found to hold running text (extract.body). A wrapper whose
            # tag is chrome's (the <form> of a page built as one form, a <nav> left open round
            # the text) is a block of the text: a <div>, which the body's reader keeps.
            if el.tag in _WRAPPING_TAGS:
                el.tag = "div"
            continue
        if el.tag not in CHROME_TAGS and total > 500 and sizes[el] > total * 0.5:
            continue
        if el.tag in PHRASING and _in_line(el, lines):
            continue  # words of a sentence (a glossed term, a link styled as a pop-up)
        drop(el)
    for el in select(root, extra):
        if el is not root:
            drop(el)


def _tag_lines(root: HtmlElement) -> list[HtmlElement]:
    """The lines of a body that list the story's tags or categories: blocks whose links all say
    so (``rel="tag"``, ``rel="category tag"``) and are most of their text."""
    lines = []
    seen: set[HtmlElement] = set()
    for a in root.iterdescendants("a"):
        rel = a.get("rel")
        if not rel or "tag" not in rel.split():
            continue
        block = a.getparent()
        while block is not None and block is not root and block.tag in PHRASING:
            block = block.getparent()
        if block is None or block is root or block in seen:
            continue
        seen.add(block)
        links = block.findall(".//a")
        if not all("tag" in (x.get("rel") or "").split() for x in links):
            continue
        text = len(text_of(block))
        if text and sum(len(text_of(x)) for x in links) * 2 >= text:
            lines.append(block)
    return lines


# Chrome's tags that can wrap a page's text (a page built as one form, markup left open).
_WRAPPING_TAGS = frozenset({"form", "nav", "aside", "footer", "noscript", "menu", "dialog"})

# Elements that are part of a line of text rather than a block of their own.
PHRASING = frozenset(
    {"a", "span", "em", "strong", "b", "i", "u", "abbr", "dfn", "mark", "q", "cite", "font"}
)


def _in_line(el: HtmlElement, lines: dict[HtmlElement, int]) -> bool:
    """An inline element in a line of running text (40 characters of it beside its own): part
    of the sentence, whatever its class says (a glossed term, a link styled as a pop-up).
    ``lines``: the length of each parent's line, measured once per parent."""
    parent = el.getparent()
    if (
        parent is None
        or _HIDDEN_NAMES.search(attr_text(el))
        or not _NOT_BY_NAME.isdisjoint(el.keys())
    ):
        return False  # hidden, or a role of its own: not for its name alone
    line = lines.get(parent)
    if line is None:
        line = len((parent.text or "").strip())
        for child in parent:
            if isinstance(child.tag, str) and child.tag in PHRASING:
                line += len(text_of(child))
            line += len((child.tail or "").strip())
        lines[parent] = line
    own = len(text_of(el))
    return line - own >= 40 and own < line - own


# Attributes that hide an element or give it a role (is_chrome reads them).
_NOT_BY_NAME = frozenset({"hidden", "aria-hidden", "style", "role"})
# Text written for screen readers or shown on demand only: never part of the line.
_HIDDEN_NAMES = re.compile(
    r"(?:^|[\s_-])(?:sr-only|visually-?hidden|screen-?reader\w*|skip|hidden)(?:$|[\s_-])"
)


def link_density(el: HtmlElement) -> float:
    text = len(text_of(el))
    if not text:
        return 1.0
    links = sum(len(text_of(a)) for a in el.iter("a"))
    return min(1.0, links / text)


def ancestors(el: HtmlElement) -> Iterator[HtmlElement]:
    parent = el.getparent()
    while parent is not None:
        yield parent
        parent = parent.getparent()

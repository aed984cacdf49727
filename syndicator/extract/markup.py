"""What an element's markup says of its text, before any of it is weighed: never text (scripts,
styles…), hidden from readers, page chrome by its tag, its role or its names, and the names that
only chrome has, even on an element that holds running text. The weighing of a page's text
blocks (:mod:`syndicator.extract.body`) asks these of each element.

Pure: an element (its tag, its attribute names, the page's words for it) in, a yes or no out.
It weighs no text and cuts nothing out of a page (``dom.strip_chrome`` does).
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

from syndicator.extract import dom

# Never text a reader reads, whatever it holds.
NEVER_TEXT = frozenset({"script", "style", "noscript", "template", "svg", "math", "head", "title"})

_CHROME_TAGS = frozenset(dom.CHROME_TAGS - {"form"})
_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "dialog", "menu"})


_CHROME_ATTRIBUTES = frozenset({"hidden", "aria-hidden", "style", "role"})


def hidden_or_chrome_tag(el: HtmlElement, keys: list[str], shells: bool = False) -> bool:
    """Page chrome by tag or role, or hidden from readers: its text is no one's article.
    ``keys``: the element's attribute names; ``shells``: chrome by tag or role is weighed as
    other blocks are (what is hidden, and what is never text, still is not)."""
    if el.tag in _CHROME_TAGS:
        return not (shells and el.tag in SHELLS)
    if _CHROME_ATTRIBUTES.isdisjoint(keys):
        return False  # most elements: one call to lxml instead of four
    if el.get("hidden") is not None or el.get("aria-hidden") == "true":
        return True
    style = el.get("style")
    if style and ("none" in style or "hidden" in style):
        style = style.replace(" ", "").lower()
        if "display:none" in style or "visibility:hidden" in style:
            return True
    role = el.get("role")
    return bool(role) and role.lower() in _ROLES and not shells


# What holds chrome by its tag, and what a broken page leaves open around its whole text.
SHELLS = frozenset({"nav", "aside", "footer", "menu", "dialog", "noscript"})


def chrome_words(el: HtmlElement, tag: str, words: dom.AttrWords, keys: list[str]) -> bool:
    """Whether the element's names (its class and id, or a custom element's tag) name page
    chrome. ``words``: the page's element names; ``keys``: the element's attribute names."""
    if "-" in tag and dom.chrome_name(tag):
        return True  # a custom element named for what it is (<site-navigation>)
    if dom.NAMING.isdisjoint(keys):  # no class, no id
        return False
    if tag in _JUDGED_BY_TEXT:
        # A paragraph is judged by its text (dom.is_prose); <article> and <main> say what they
        # hold by their tag, and their classes are often a site's taxonomy (``category-news``,
        # ``tag-jobs``, ``author-sarah``), not a description.
        return False
    return dom.is_chrome(el, words[el], keys)


_JUDGED_BY_TEXT = frozenset({"p", "article", "main"})


def names_only_chrome(el: HtmlElement) -> bool:
    """Whether the element's names are ones only chrome has (comments, related stories, menus,
    footers, ads…), whatever it holds: readers' comments are running text, yet not the story."""
    # A BEM modifier (``report__section--ads``) names a variant of the block, what it may also
    # hold: a block that holds running text is what its block name says.
    words = dom.attr_text(el)
    if "-" in el.tag:  # a custom element's name says what it is, as a class does
        words = f"{el.tag} {words}"
    return _ONLY_CHROME.search(_MODIFIERS.sub("", words)) is not None


_MODIFIERS = re.compile(r"--[\w-]*")


# Names only chrome has, whatever it holds (readers' comments are running text).
_ONLY_CHROME = re.compile(
    r"(?:^|[\s_-])(?:comments?|commentlist|disqus|repl(?:y|ies)|related\w*|recommend\w*"
    r"|outbrain|taboola|most-?(?:read|popular|viewed)|popular|trending|footer|sidebar|side-?bar"
    r"|nav\w*|menu\w*|newsletter\w*|subscri\w*|cookie\w*|consent|promo\w*|sponsor\w*"
    r"|ads?|advert\w*)(?:$|[\s_-])"
)


def names_chrome_beyond_layout(el: HtmlElement) -> bool:
    """Whether the element's names name chrome once the words of a page's side columns
    (sidebar, rail, widget area) are left out: a wrapper of the layout around the side column
    and the body (``content-sidebar-wrap``) is named for the column, not chrome itself."""
    return dom.chrome_name(_LAYOUT.sub(" ", dom.attr_text(el)))


# The names of a page's side columns (what a wrapper of the layout around them is named for).
_LAYOUT = re.compile(r"(?:^|[\s_-])(?:side-?bar\w*|rail|widget-?area)(?=$|[\s_-])")

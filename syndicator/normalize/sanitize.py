"""Sanitized content HTML: a safe subset of tags and attributes, URLs absolute."""

from __future__ import annotations

import re

import nh3

from syndicator.normalize.text import strip_bidi_controls
from syndicator.normalize.urls import absolute_url

# fmt: off
SAFE_TAGS = frozenset({
    "p", "br", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "li", "pre", "code", "em",
    "strong", "b", "i", "u", "s", "sub", "sup", "small", "mark", "q", "cite", "abbr", "a", "img",
    "figure", "figcaption", "table", "thead", "tbody", "tr", "th", "td", "hr", "span", "time", "dl",
    "dt", "dd",
})
# fmt: on
# fmt: off
SAFE_ATTRIBUTES = {
    "a": {"href", "title"}, "img": {"src", "alt", "width", "height"}, "abbr": {"title"},
    "time": {"datetime"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"},
    "*": {"dir", "lang"},
}
# fmt: on
_URL_ATTRIBUTES = {("a", "href"), ("img", "src")}


def sanitize_html(fragment: str, base_url: str | None) -> str:
    """A safe subset of HTML: no script, style, iframe, event handlers or ``javascript:`` URLs;
    link and image URLs made absolute against ``base_url``; links get ``rel="noopener …"``;
    no ``<img>`` left without a source (one whose ``src`` was refused is removed)."""

    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        if (tag, attribute) in _URL_ATTRIBUTES:
            return absolute_url(value, base_url)
        return value

    attributes = {tag: set(attrs) for tag, attrs in SAFE_ATTRIBUTES.items()}
    cleaned: str = nh3.clean(
        fragment,
        tags=set(SAFE_TAGS),
        clean_content_tags={
            "script",
            "style",
            "iframe",
            "noscript",
            "template",
            "object",
            "embed",
            "svg",
            "math",
            "textarea",
            "select",
            "button",
            "form",
        },
        attributes=attributes,
        attribute_filter=attribute_filter,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    ).strip()
    return strip_bidi_controls(_drop_sourceless_images(cleaned))


# An <img> as nh3 writes it: lower-case names, values in double quotes (a quote inside escaped).
_SERIALIZED_IMG = re.compile(r'<img((?:\s+[^\s"=>/]+(?:="[^"]*")?)*)\s*/?>')
_SRC_ATTRIBUTE = re.compile(r'\ssrc="[^"]')


def _drop_sourceless_images(cleaned: str) -> str:
    """Remove the pictures whose source the sanitizer refused (``file:``, ``data:``…): an
    ``<img>`` without ``src`` shows nothing but a broken-image box; its caption stays."""
    if "<img" not in cleaned:
        return cleaned
    return _SERIALIZED_IMG.sub(lambda m: m[0] if _SRC_ATTRIBUTE.search(m[1]) else "", cleaned)

"""What an HTML page says about itself before its visible text is read: ``<meta>``, ``<link
rel=canonical>``, ``<title>``, ``lang`` and JSON-LD (the article object, its names, links and
pictures). Pure; it does not read the page's body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml.html import HtmlElement

from syndicator.extract import dom
from syndicator.model import Image
from syndicator.normalize import (
    absolute_url,
    clean_or_none,
    element_text,
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

"""Teasers complete the articles they stand for.

A listing or a related box often says what an article's own text leaves out: its section
(«أوروبا»), its byline and dateline («الشرق الأوسط» (موسكو)). Where a teaser points at an article
— by its key, its address or its title — those fill the article's empty fields; what the article
says itself always wins. Pure: drafts and teasers in, drafts out. It does not route (``regions``)
and does not normalize (``normalize``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from syndicator import fingerprint
from syndicator.model import Draft, Extraction, Teaser
from syndicator.normalize import canonical_url, split_byline


def complete(draft: Draft, teasers: Iterable[Teaser]) -> Draft:
    """``draft`` with its empty section, bylines and dateline taken from the first teaser that
    gives each (the teasers are those that stand for it)."""
    section = draft.section
    bylines = draft.bylines
    dateline = draft.dateline
    # A byline such as "X (Moscow)" carries the article's own dateline: it is not empty.
    said_place = dateline is not None or any(split_byline(b)[1] for b in bylines)
    for teaser in teasers:
        if not section and teaser.section:
            section = teaser.section
        if not bylines and teaser.authors:
            bylines = teaser.authors
        if not said_place and not dateline and teaser.dateline:
            dateline = teaser.dateline
    if (section, bylines, dateline) == (draft.section, draft.bylines, draft.dateline):
        return draft
    return replace(draft, section=section, bylines=bylines, dateline=dateline)


def complete_all(extraction: Extraction) -> Extraction:
    """An extraction whose articles are completed by the teasers of the same document that
    stand for them."""
    if not extraction.articles or not extraction.teasers:
        return extraction
    drafts = list(extraction.articles)
    by_key: dict[str, int] = {}
    by_url: dict[str, int] = {}
    by_title: dict[str, int] = {}
    for i, draft in enumerate(drafts):
        if draft.key:
            by_key.setdefault(draft.key, i)
        for url in (draft.canonical, draft.url):
            key = _url_key(url)
            if key:
                by_url.setdefault(key, i)
        by_title.setdefault(fingerprint.fold(draft.title), i)
    found: dict[int, list[Teaser]] = {}
    for teaser in extraction.teasers:
        n = _target(teaser, by_key, by_url, by_title)
        if n is not None:
            found.setdefault(n, []).append(teaser)
    if not found:
        return extraction
    for n, teasers in found.items():
        drafts[n] = complete(drafts[n], teasers)
    return replace(extraction, articles=tuple(drafts))


def _target(
    teaser: Teaser, by_key: dict[str, int], by_url: dict[str, int], by_title: dict[str, int]
) -> int | None:
    if teaser.story and teaser.story in by_key:
        return by_key[teaser.story]
    key = _url_key(teaser.url)
    if key and key in by_url:
        return by_url[key]
    if not teaser.url:  # a teaser without a link is the story of the same title, if any
        return by_title.get(fingerprint.fold(teaser.title))
    return None


def _url_key(url: str | None) -> str | None:
    if not url or not url.startswith(("http://", "https://")):
        return None
    try:
        return canonical_url(url)
    except ValueError:
        return None

"""Ingest: what a document means once extracted, normalized, fingerprinted and routed.

:func:`read_document` is the pure heart of a source pass (no I/O): bytes and a URL in, clean
articles with their regions and the teasers around them out. The pass itself (fetch, store,
publish) builds on it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from syndicator import regions as region_rules
from syndicator.config import Config, Source
from syndicator.errors import ExtractError
from syndicator.extract import extract
from syndicator.model import Article, Teaser
from syndicator.normalize import normalize_article, zone


@dataclass(frozen=True, slots=True)
class Document:
    """A document read: its kind, its articles (normalized and routed), its teasers."""

    url: str
    kind: str
    articles: tuple[Article, ...]
    teasers: tuple[Teaser, ...]
    sitemaps: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


def rules_of(config: Config | None) -> tuple[region_rules.RegionRule, ...]:
    if config is None:
        return ()
    return tuple(region_rules.RegionRule(r.id, r.sections, r.places) for r in config.regions)


def read_document(
    body: bytes,
    url: str,
    *,
    now: datetime,
    config: Config | None = None,
    source: Source | None = None,
    content_type: str | None = None,
    kind: str | None = None,
) -> Document:
    """Extract, normalize, fingerprint and route everything in one document.

    ``kind`` overrides the source's kind (``article`` for a page reached from a listing).
    An article that cannot be normalized is reported in ``errors``; the others are kept.
    """
    wanted = kind or (source.kind if source else "auto")
    extraction = extract(
        body,
        url,
        content_type=content_type,
        kind=wanted,
        selectors=source.select if source else None,
        sections=config.known_sections if config else (),
    )
    rules = rules_of(config)
    tz = zone(source.timezone) if source and source.timezone else None
    articles: list[Article] = []
    errors: list[str] = []
    for draft in extraction.articles:
        try:
            article = normalize_article(
                draft,
                source_id=source.id if source else None,
                language=source.language if source else None,
                tz=tz,
                now=now,
            )
        except ExtractError as e:
            errors.append(str(e))
            continue
        if rules or (source and source.regions):
            matches = region_rules.route(article, rules, source.regions if source else ())
            article = replace(article, regions=matches)
        articles.append(article)
    return Document(
        url=url,
        kind=extraction.kind,
        articles=tuple(articles),
        teasers=extraction.teasers,
        sitemaps=extraction.sitemaps,
        errors=tuple(errors),
    )


def source_for(config: Config | None, url: str, source_id: str | None = None) -> Source | None:
    """The configured source a document belongs to: by id, else by URL."""
    if config is None:
        return None
    if source_id:
        return config.source(source_id)
    for s in config.sources:
        if s.url == url:
            return s
    return None

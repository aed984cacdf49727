"""What a document means once read: the pure heart of ingest (no I/O).

:func:`read_document` takes bytes and a URL and returns clean articles with their regions and
the teasers around them (extract → normalize → fingerprint → route); :func:`check_kind` says
whether a source's document is of the source's kind. Nothing here fetches or stores.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from syndicator import normalize  # its modules load on first use: a 304 reads nothing
from syndicator import regions as region_rules
from syndicator.config import Config, Source
from syndicator.errors import ExtractError
from syndicator.extract import extract, sniff
from syndicator.extract.complete import complete
from syndicator.extract.xmlsafe import inflated_head
from syndicator.fetch import (
    MAX_BYTES,
)
from syndicator.model import Article, Teaser


@dataclass(frozen=True, slots=True)
class Document:
    """A document read: its kind, its articles (normalized and routed), its teasers."""

    url: str
    kind: str
    articles: tuple[Article, ...]
    teasers: tuple[Teaser, ...]
    sitemaps: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    # The document's own title as it states it (an HTML page's, site name and all; a feed's);
    # its articles' titles are the stories'.
    title: str | None = None


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
    teaser: Teaser | None = None,
    item: Article | None = None,
) -> Document:
    """Extract, normalize, fingerprint and route everything in one document.

    ``kind`` overrides the source's kind (``article`` for a page reached from a listing);
    ``teaser``: the listing's card that led to this page, whose section, byline and dateline
    fill what the page's article leaves empty; ``item``: the feed item that led to this page,
    whose dates, section, byline, summary, language, pictures and guid do the same (the page
    is then routed as completed).
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
        max_inflated=config.service.max_bytes if config else MAX_BYTES,
    )
    if teaser is not None and extraction.articles:
        drafts = tuple(complete(draft, [teaser]) for draft in extraction.articles)
        extraction = replace(extraction, articles=drafts)
    rules = rules_of(config)
    tz = normalize.zone(source.timezone) if source and source.timezone else None
    articles: list[Article] = []
    errors: list[str] = []
    for n, draft in enumerate(extraction.articles, 1):
        try:
            article = normalize.normalize_article(
                draft,
                source_id=source.id if source else None,
                # Defaults, for an article whose document declares no language and whose text
                # is too short to tell: the feed's (its channel's), else the source's.
                language=extraction.language or (source.language if source else None),
                tz=tz,
                now=now,
            )
        except ExtractError as e:
            errors.append(str(e))
            continue
        except Exception as e:  # one item that cannot be read is dropped alone, never the rest
            errors.append(f"{url}: item {n} dropped, unreadable: {type(e).__name__}: {e}")
            continue
        if item is not None:
            article = _fill_from(article, item)
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
        title=extraction.title,
    )


def _fill_from(page: Article, item: Article) -> Article:
    """A page completed by what its feed item knew and the page did not say."""
    return replace(
        page,
        published=page.published or item.published,
        updated=page.updated or item.updated,
        section=page.section or item.section,
        categories=page.categories or item.categories,
        authors=page.authors or item.authors,
        dateline=page.dateline or item.dateline,
        summary=page.summary or item.summary,
        language=page.language or item.language,
        images=page.images or item.images,
        guid=page.guid or item.guid,
    )


# What a source's own document may be, by the source's kind (as extract.sniff names documents).
# Feeds and sitemaps are both lists of items, and the extractor reads either under either kind.
DOCUMENTS_OF_KIND = {
    "rss": ("feed", "sitemap"),
    "atom": ("feed", "sitemap"),
    "jsonfeed": ("feed", "sitemap"),
    "sitemap": ("sitemap", "feed"),
    "html": ("html", "text"),
    "text": ("text", "html"),
}
DOCUMENT_NAMES = {
    "feed": "a feed",
    "sitemap": "a sitemap",
    "html": "an HTML page",
    "text": "plain text",
    "binary": "binary data",
}


def check_kind(body: bytes, content_type: str | None, kind: str, url: str) -> None:
    """Raise ExtractError when a source's document is not of the source's kind (an HTML page
    where a feed was configured): the pass fails with that reason, every pass, until it is."""
    head = inflated_head(body)  # a gzipped sitemap: its first bytes, inflated
    found = sniff(head, content_type)
    allowed = DOCUMENTS_OF_KIND.get(kind)
    if allowed is None or found in allowed or found == "binary" or not head.strip():
        return
    wanted = "a feed" if allowed[0] == "feed" else DOCUMENT_NAMES[allowed[0]]
    raise ExtractError(
        f"not {wanted}: the document is {DOCUMENT_NAMES[found]} (the source's kind is {kind!r};"
        " fix the source's url or kind)",
        url=url,
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

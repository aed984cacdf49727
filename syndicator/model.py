"""The records that flow through the pipeline: frozen dataclasses, no behaviour beyond views.

An extractor turns a document into an :class:`Extraction` of :class:`Draft` articles (raw strings,
as found) and :class:`Teaser` links; ``normalize`` turns each draft into an :class:`Article`, the
clean, fingerprinted record that the store, the publisher and the notifier share.
Nothing here does I/O.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, TypeVar, overload

from syndicator.direction import text_direction

_Record = TypeVar("_Record")


def _pickled_by_position(cls: type[_Record]) -> type[_Record]:
    """A frozen, slotted record (of two fields or more) pickled as the tuple of its fields'
    values: the methods dataclasses gives it look its fields up on every call, a third of the
    time of unpickling an article, which the command of a streamed ingest does for every
    article its reader processes send. Applied over ``@dataclass``; the state is private to
    one run (nothing pickled is kept)."""
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    values = operator.attrgetter(*names)
    set_value = object.__setattr__

    def __getstate__(self: Any) -> tuple[Any, ...]:
        state: tuple[Any, ...] = values(self)
        return state

    def __setstate__(self: Any, state: tuple[Any, ...]) -> None:
        for name, value in zip(names, state, strict=True):
            set_value(self, name, value)

    setattr(cls, "__getstate__", __getstate__)  # noqa: B010 (mypy: no method assignment)
    setattr(cls, "__setstate__", __setstate__)  # noqa: B010
    return cls


@_pickled_by_position
@dataclass(frozen=True, slots=True)
class Image:
    """A picture of an article: where it is, what it shows, who took it (an agency name)."""

    url: str | None
    caption: str | None = None
    credit: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "caption": self.caption, "credit": self.credit}


@dataclass(frozen=True, slots=True)
class Body:
    """A body fragment split into what the hash reads (paragraphs) and what readers see.

    Made by ``normalize`` (``parse_body``, ``body_of``, ``body_from_text``) and carried by a
    :class:`Draft` from an extractor that has already split its document's body.
    """

    paragraphs: tuple[str, ...]
    images: tuple[Image, ...]
    html: str
    # Per paragraph, a number for the container it sits in among its siblings (the same number:
    # the same run of text); empty when the body has no structure to tell (plain text).
    flows: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Teaser:
    """A link to a story with what a card shows of it: a listing entry, a related-article box.

    A teaser is never an article of its own. ``story`` is the key of a full article in the same
    document that the teaser stands for, when there is one.
    """

    url: str | None
    title: str
    summary: str | None = None
    section: str | None = None
    authors: tuple[str, ...] = ()
    dateline: str | None = None
    published: datetime | None = None
    language: str | None = None
    image: Image | None = None
    story: str | None = None
    related: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "title": self.title,
            "summary": self.summary,
            "section": self.section,
            "authors": list(self.authors),
            "dateline": self.dateline,
            "published": iso(self.published),
            "story": self.story,
            "related": self.related,
        }


@dataclass(frozen=True, slots=True)
class Selectors:
    """Per-source CSS selectors (``[source.select]``) for sites the heuristics miss."""

    article_links: str | None = None
    title: str | None = None
    subtitle: str | None = None
    body: str | None = None
    author: str | None = None
    published: str | None = None
    section: str | None = None
    remove: str | None = None


@dataclass(frozen=True, slots=True)
class Draft:
    """An article as an extractor found it: strings as the document gives them, not yet cleaned.

    ``body_html`` is a fragment of paragraphs and figures (already cut out of the page chrome);
    ``body_text`` is the alternative for plain-text sources (paragraphs separated by blank lines).
    Dates are raw strings; ``normalize`` parses them with the source's timezone.

    ``body`` is optional: ``body_html`` already split by the normalizer (what
    ``normalize.parse_body(body_html, canonical or url)`` gives), when an extractor had the body's
    tree at hand and had it read there rather than parsed again from ``body_html``.
    """

    url: str
    title: str
    canonical: str | None = None
    guid: str | None = None
    subtitle: str | None = None
    summary: str | None = None
    section: str | None = None
    categories: tuple[str, ...] = ()
    bylines: tuple[str, ...] = ()
    dateline: str | None = None
    language: str | None = None
    # The writing direction the document declares for the article (``dir`` on its root, its
    # ``<body>`` or ``<html>``): "rtl" or "ltr"; None when it declares none.
    direction: str | None = None
    published: str | None = None
    updated: str | None = None
    body_html: str | None = None
    body_text: str | None = None
    images: tuple[Image, ...] = ()
    complete: bool = True
    method: str = ""
    key: str | None = None
    body: Body | None = None
    # False for a feed item that names no page of its own: ``url`` is then the feed's, and the
    # article is keyed by its source and GUID, so that such items of one feed stay apart.
    linked: bool = True


@dataclass(frozen=True, slots=True)
class Extraction:
    """What one document holds: full articles, teasers (links with card data), child sitemaps."""

    kind: str
    articles: tuple[Draft, ...] = ()
    teasers: tuple[Teaser, ...] = ()
    sitemaps: tuple[str, ...] = ()
    title: str | None = None
    language: str | None = None


@_pickled_by_position
@dataclass(frozen=True, slots=True)
class RegionMatch:
    """One reason an article belongs to a region."""

    region: str
    rule: str
    value: str

    def __str__(self) -> str:
        return f"{self.region}: {self.rule} {self.value!r}"


@_pickled_by_position
@dataclass(frozen=True, slots=True)
class Article:
    """A clean, normalized, fingerprinted article: the unit the store and the feeds deal in."""

    key: str
    url: str
    title: str
    paragraphs: tuple[str, ...]
    content_html: str
    content_hash: str
    similarity: str
    subtitle: str | None = None
    summary: str | None = None
    section: str | None = None
    categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    dateline: str | None = None
    language: str | None = None
    # "rtl" or "ltr" as the document declares it, else as the language (or, without one, the
    # text's letters: "auto") implies; None for left to right. Not stored: an article read back
    # from the store has the direction of its language.
    direction: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    images: tuple[Image, ...] = ()
    fetched_url: str | None = None
    guid: str | None = None
    complete: bool = True
    method: str = ""
    warnings: tuple[str, ...] = ()
    regions: tuple[RegionMatch, ...] = field(default=())

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def region_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.region for m in self.regions))

    def to_json(self) -> dict[str, Any]:
        """The ARTICLE object of the contract (``syndicator extract --json``, the API)."""
        return {
            "url": self.url,
            "key": self.key,
            "title": self.title,
            "subtitle": self.subtitle,
            "summary": self.summary,
            "section": self.section,
            "categories": list(self.categories),
            "authors": list(self.authors),
            "dateline": self.dateline,
            "language": self.language,
            "dir": self.direction or text_direction(self.language),
            "published": iso(self.published),
            "updated": iso(self.updated),
            "images": [i.to_json() for i in self.images],
            "paragraphs": list(self.paragraphs),
            "text": self.text,
            "content_html": self.content_html,
            "content_hash": self.content_hash,
            "similarity": self.similarity,
            "regions": list(self.region_ids),
            "region_reasons": [str(m) for m in self.regions],
            "method": self.method,
            "warnings": list(self.warnings),
        }


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
@overload
def as_utc(value: datetime | None) -> datetime | None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """A datetime in UTC: an aware one converted, a naive one taken to be UTC already (what
    SQLite gives back, and what the store wrote); None stays None. The project's one UTC
    helper, with :func:`iso` (for machines) and :func:`stamp` (for people)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    """RFC 3339 / ISO 8601 in UTC with a ``Z`` (an aware time converted, a naive one taken to
    be UTC), or None."""
    if value is None:
        return None
    return as_utc(value).isoformat().replace("+00:00", "Z")


def stamp(value: datetime) -> str:
    """A time as the ops tables and pages show it, to the second in UTC (an aware time
    converted, a naive one taken to be UTC): ``2026-03-10 11:20:00``."""
    return as_utc(value).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a story came from, for Atom's ``<source>``: the source's name and address."""

    id: str
    title: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """A stored article as a feed shows it: the entry id (assigned once, never changed) and the
    dates that belong to the entry rather than to the page (``updated`` moves only when the
    content hash changes)."""

    id: str
    article: Article
    published: datetime
    updated: datetime
    origin: Origin | None = None
    seq: int = 0
    deleted: bool = False
    dated: bool = True  # False: the document stated no publication date (``published`` is
    # when the article was first seen, for ordering only; feeds show no published date)
    source_id: str | None = None  # the source that brought it, when read from the store


@dataclass(frozen=True, slots=True)
class FeedInfo:
    """One region's feed: what to call it and where it lives (``region`` is ``all`` for all)."""

    region: str
    title: str
    base_url: str
    language: str | None = None
    description: str | None = None
    hubs: tuple[str, ...] = ()
    rtl: bool = False

"""Publishing: a region's entries rendered as Atom 1.0, RSS 2.0 and JSON Feed 1.1, RFC 5005 archive
pages, the OPML list and the index page, written atomically into the feeds folder.

The renderers (``render_*``) are pure: records in, bytes out, no disk and no clock, so the same
entries always render the same bytes (feed ``updated`` is the newest entry's, never *now*).
Atom and RSS are built with feedgen; what feedgen cannot express (per-entry ``xml:lang``,
``atom:source``, ``fh:archive``, hub links and Media RSS in RSS, ``dc:creator``) is added through
its extension API. :class:`Publisher` is the edge: it reads the store, renders, and replaces only
the files whose bytes changed. This module does not fetch, store or notify.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from feedgen.feed import FeedGenerator
from lxml import etree

from syndicator import pages
from syndicator.config import Config, Source
from syndicator.direction import is_rtl, text_direction, well_formed_tag
from syndicator.errors import PublishError
from syndicator.model import Entry, FeedInfo, Origin, as_utc, iso
from syndicator.store import Store

log = logging.getLogger(__name__)

ALL = "all"
FORMATS = {"atom": "atom", "rss": "rss", "json": "json"}  # format → file extension
MEDIA_TYPES = {
    "atom": "application/atom+xml",
    "rss": "application/rss+xml",
    "json": "application/feed+json",
}
TEXT_METHODS = frozenset({"text", "text-dump"})  # articles read from a plain-text page dump
TEXT_DUMP_TYPE = "text/plain"  # what their link (the dump) serves
FORMAT_NAMES = {"atom": "Atom", "rss": "RSS", "json": "JSON Feed"}
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
GENERATOR = "syndicator"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The ``updated`` of a feed with no entries and no known date: fixed, so it renders the same."""

XML_NS = "http://www.w3.org/XML/1998/namespace"
XML_LANG = f"{{{XML_NS}}}lang"
ATOM_NS = "http://www.w3.org/2005/Atom"
FH_NS = "http://purl.org/syndication/history/1.0"
AT_NS = "http://purl.org/atompub/tombstones/1.0"
MEDIA_NS = "http://search.yahoo.com/mrss/"
DC_NS = "http://purl.org/dc/elements/1.1/"

_ID = re.compile(r"[a-z0-9-]+")
# Characters XML 1.0 cannot carry (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_IMAGE_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "jpe": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
    "svg": "image/svg+xml",
    "bmp": "image/bmp",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "heic": "image/heic",
}


# --------------------------------------------------------------------------------------------
# Addresses and small pure helpers


def feed_url(base_url: str, region: str, fmt: str) -> str:
    """Where a region's feed is served: ``{base_url}/feeds/{region}.{atom|rss|json}``."""
    return f"{base_url.rstrip('/')}/feeds/{region}.{FORMATS[fmt]}"


def archive_url(base_url: str, region: str, page: int) -> str:
    """Where archive page ``page`` (1 = oldest) of a region is served."""
    return f"{base_url.rstrip('/')}/feeds/archive/{region}/{page}.atom"


def home_url(base_url: str) -> str:
    """The human page listing the regions (the ``alternate`` of every feed)."""
    return f"{base_url.rstrip('/')}/"


def directed(content_html: str, language: str | None) -> str:
    """An article's HTML content with its direction and language on a wrapping ``<div>``, so
    that a reader which drops it into a left-to-right page still sets it right to left (full
    stops, «» and numbers on the right side); left-to-right content is returned as it is."""
    if not content_html:
        return content_html
    direction = text_direction(language, content_html)
    if direction is None:
        return content_html
    tag = well_formed_tag(language)
    lang = f' lang="{html.escape(tag)}"' if tag else ""
    return f'<div dir="{direction}"{lang}>{content_html}</div>'


def image_type(url: str) -> str:
    """An image's media type guessed from its path's extension (``image/jpeg`` when unknown).

    A fixed table rather than :mod:`mimetypes`, whose answers depend on the machine's files."""
    path = urlsplit(url).path
    ext = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return _IMAGE_TYPES.get(ext, "image/jpeg")


def check_id(value: str, what: str = "region") -> str:
    """A region id fit for a file name (``[a-z0-9-]+``); anything else is refused."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise PublishError(
            f"refusing to publish {what} {value!r}: ids must match [a-z0-9-]+ "
            "(they become file names under feeds_dir)"
        )
    return value


def web_link(url: str | None) -> str:
    """``url`` if a reader may be sent there (http or https with a host, no whitespace or
    control character), else "": a feed never links to ``file:``, ``javascript:``, ``data:``
    or anything else, whatever reached the store (a local source's pages keep no link)."""
    if not url or not url.isprintable() or " " in url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme in ("http", "https") and parts.hostname else ""


def _clean(text: str | None) -> str:
    """Text that XML 1.0 can carry (the few control characters it cannot are dropped)."""
    if not text:
        return ""
    return _NOT_XML.sub("", text) if _NOT_XML.search(text) else text


def _rfc3339(value: datetime) -> str:
    return as_utc(value).isoformat()


def ordered(entries: Iterable[Entry]) -> list[Entry]:
    """Entries in feed order: newest ``updated`` first, then by entry id (a total order).

    Entries marked ``deleted`` are left out here: Atom shows them as RFC 6721 tombstones
    (``<at:deleted-entry ref=… when=…>``, see :func:`deleted`); RSS and JSON just drop them."""
    live = [e for e in entries if not e.deleted]
    live.sort(key=lambda e: e.id)
    live.sort(key=lambda e: as_utc(e.updated), reverse=True)
    return live


def deleted(entries: Iterable[Entry]) -> list[Entry]:
    """The entries to publish as RFC 6721 tombstones, newest removal first."""
    gone = sorted((e for e in entries if e.deleted), key=lambda e: e.id)
    gone.sort(key=lambda e: as_utc(e.updated), reverse=True)
    return gone


def newest(entries: Sequence[Entry], fallback: datetime | None = None) -> datetime:
    """A feed's ``updated``: its newest entry's, else the date given, else :data:`EPOCH`."""
    if entries:
        return max(as_utc(e.updated) for e in entries)
    return as_utc(fallback) if fallback else EPOCH


# --------------------------------------------------------------------------------------------
# A feed as every format sees it: prepared once, rendered three times


@dataclass(frozen=True, slots=True)
class _Item:
    id: str
    url: str
    url_type: str  # the media type of what ``url`` serves: a page, or a text dump
    title: str
    language: str | None
    published: datetime | None  # None: the document stated no publication date
    updated: datetime
    authors: tuple[str, ...]
    summary: str
    lead: str
    content_html: str
    categories: tuple[tuple[str, str, str], ...]  # (term, scheme, label)
    tags: tuple[str, ...]
    images: tuple[tuple[str, str, str, str, str | None], ...]  # url, type, caption, credit, title
    origin: Origin | None


@dataclass(frozen=True, slots=True)
class _Feed:
    region: str
    base_url: str
    title: str
    description: str
    language: str | None
    hubs: tuple[str, ...]
    updated: datetime
    items: tuple[_Item, ...]
    tombstones: tuple[tuple[str, datetime], ...] = ()  # (entry id, when removed)

    @property
    def needs_author(self) -> bool:
        """RFC 4287: every entry has an author; the feed's stands for entries without one."""
        return any(not item.authors for item in self.items)


def _as_is(text: str | None) -> str:
    return text or ""


def _item(entry: Entry, base_url: str, titles: Mapping[str, str], c: Callable[[Any], str]) -> _Item:
    a = entry.article
    regions = a.region_ids
    categories = [(r, f"{base_url}/regions", c(titles.get(r, r))) for r in regions]
    section = c(a.section).strip()
    if section:
        categories.append((section, f"{base_url}/sections", section))
    images = []
    for image in a.images:
        if src := web_link(image.url):
            caption, credit = c(image.caption).strip(), c(image.credit).strip()
            title = f"{caption} ({credit})" if caption and credit else caption or credit or None
            images.append((c(src), image_type(src), caption, credit, title))
    link = web_link(a.url)
    return _Item(
        id=c(entry.id),
        url=c(link),
        url_type=TEXT_DUMP_TYPE if a.method in TEXT_METHODS else "text/html",
        title=c(a.title) or c(link) or c(entry.id),
        language=well_formed_tag(a.language),
        published=as_utc(entry.published) if entry.dated else None,
        updated=as_utc(entry.updated),
        authors=tuple(n for n in (c(x).strip() for x in a.authors) if n),
        summary=c(a.summary or a.subtitle),
        lead=c(a.paragraphs[0]) if a.paragraphs else "",
        content_html=directed(c(a.content_html), a.language),
        categories=tuple(categories),
        tags=tuple(dict.fromkeys([*regions, *([section] if section else [])])),
        images=tuple(images),
        origin=None
        if entry.origin is None
        else Origin(
            c(entry.origin.id), c(entry.origin.title), c(web_link(entry.origin.url)) or None
        ),
    )


def _prepare(
    info: FeedInfo,
    entries: Sequence[Entry],
    titles: Mapping[str, str] | None,
    updated: datetime | None,
    *,
    clean: bool,
) -> _Feed:
    """The feed's fields and its entries in order. Strings go to lxml as they are (it refuses
    what XML cannot carry, at no cost when all is well); ``clean`` drops such characters."""
    c = _clean if clean else _as_is
    base = info.base_url.rstrip("/")
    labels = {info.region: info.title, **(titles or {})}
    live = ordered(entries)
    gone = deleted(entries)
    return _Feed(
        region=info.region,
        base_url=base,
        title=c(info.title),
        description=c(info.description),
        language=well_formed_tag(info.language),
        hubs=tuple(info.hubs),
        updated=newest([*live, *gone], updated),
        items=tuple(_item(e, base, labels, c) for e in live),
        tombstones=tuple((e.id, as_utc(e.updated)) for e in gone),
    )


# --------------------------------------------------------------------------------------------
# feedgen extensions: what the contract needs and feedgen's own fields cannot say.
# feedgen creates the instances itself; the renderers fill them in after ``add_entry``.
# feedgen writes Atom elements without a namespace under a default xmlns: so do these.


class _AtomFeedExtension:
    """Feed level: the RFC 5005 ``fh:archive`` marker of archive pages, and the RFC 6721
    tombstones of removed entries."""

    def __init__(self) -> None:
        self.archived = False
        self.tombstones: tuple[tuple[str, datetime], ...] = ()

    def extend_ns(self) -> dict[str, str]:
        ns = {"fh": FH_NS} if self.archived else {}
        if self.tombstones:
            ns["at"] = AT_NS
        return ns

    def extend_atom(self, feed: Any) -> Any:
        if self.archived:
            etree.SubElement(feed, f"{{{FH_NS}}}archive")
        for ref, when in self.tombstones:
            etree.SubElement(feed, f"{{{AT_NS}}}deleted-entry", ref=ref, when=_rfc3339(when))
        return feed

    def extend_rss(self, feed: Any) -> Any:
        return feed


class _AtomEntryExtension:
    """Entry level: ``xml:lang`` (the article's language), the links, and ``atom:source``.

    feedgen 1.0 drops ``rel``, ``type`` and ``title`` from entry links (its loop variable
    shadows the link data), so entry links are written here; feedgen is given the alternate
    link only when an entry has no content (it refuses an entry with neither), and that one
    gets its attributes here."""

    def __init__(self) -> None:
        self.item: _Item | None = None

    def extend_ns(self) -> dict[str, str]:
        return {}

    def extend_atom(self, entry: Any) -> Any:
        item = self.item
        if item is None:
            return entry
        if item.language:
            entry.set(XML_LANG, item.language)
        if item.content_html:
            if item.url:
                etree.SubElement(entry, "link", href=item.url, rel="alternate", type=item.url_type)
        elif item.url:
            link = entry.find("link")
            link.set("rel", "alternate")
            link.set("type", item.url_type)
        for url, kind, _, _, title in item.images:
            link = etree.SubElement(entry, "link", href=url, rel="enclosure", type=kind)
            if title:
                link.set("title", title)
        origin = item.origin
        if origin is not None:
            source = etree.SubElement(entry, "source")
            etree.SubElement(source, "id").text = origin.id
            etree.SubElement(source, "title").text = origin.title
            # The source feed as of when the entry was copied from it: then, at the latest
            etree.SubElement(source, "updated").text = _rfc3339(item.updated)
            if origin.url:
                etree.SubElement(source, "link", href=origin.url, rel="alternate")
        return entry

    def extend_rss(self, entry: Any) -> Any:
        return entry


class _RssFeedExtension:
    """Channel level: ``atom:link rel="hub"`` (feedgen writes only the self link in RSS)."""

    def __init__(self) -> None:
        self.hubs: tuple[str, ...] = ()

    def extend_ns(self) -> dict[str, str]:
        return {"dc": DC_NS, "media": MEDIA_NS}

    def extend_rss(self, rss: Any) -> Any:
        channel = rss.find("channel")
        for hub in self.hubs:
            etree.SubElement(channel, f"{{{ATOM_NS}}}link", href=hub, rel="hub")
        return rss

    def extend_atom(self, feed: Any) -> Any:
        return feed


class _RssEntryExtension:
    """Item level: ``pubDate``, ``dc:creator``, ``dc:language`` and Media RSS images.

    ``pubDate`` is written here (RFC 822 by :func:`email.utils.format_datetime`) rather than
    by feedgen, whose date formatter switches the process-wide locale for every date."""

    def __init__(self) -> None:
        self.item: _Item | None = None

    def extend_ns(self) -> dict[str, str]:
        return {}

    def extend_rss(self, element: Any) -> Any:
        item = self.item
        if item is None:
            return element
        if item.published is not None:
            etree.SubElement(element, "pubDate").text = format_datetime(item.published)
        for name in item.authors:
            etree.SubElement(element, f"{{{DC_NS}}}creator").text = name
        if item.language:
            etree.SubElement(element, f"{{{DC_NS}}}language").text = item.language
        for url, kind, caption, credit, _ in item.images:
            media = etree.SubElement(
                element, f"{{{MEDIA_NS}}}content", url=url, medium="image", type=kind
            )
            if caption:
                etree.SubElement(media, f"{{{MEDIA_NS}}}description", type="plain").text = caption
            if credit:
                etree.SubElement(media, f"{{{MEDIA_NS}}}credit").text = credit
        return element

    def extend_atom(self, entry: Any) -> Any:
        return entry


_EXT = "syndicator"


# --------------------------------------------------------------------------------------------
# Renderers


@dataclass(frozen=True, slots=True)
class ArchiveLinks:
    """RFC 5005 links of an Atom document.

    On the subscription feed only ``prev_archive`` (the newest complete archive page) is set.
    An archive page has ``current`` (the subscription feed), which also marks it
    ``<fh:archive/>``, and ``prev_archive`` / ``next_archive`` to its neighbours when they exist."""

    prev_archive: str | None = None
    next_archive: str | None = None
    current: str | None = None

    @property
    def archived(self) -> bool:
        return self.current is not None


@dataclass(frozen=True, slots=True)
class _Links:
    self_url: str | None = None
    html_url: str | None = None
    archive: ArchiveLinks | None = None


def _atom(feed: _Feed, links: _Links) -> bytes:
    archive = links.archive or ArchiveLinks()
    fg = FeedGenerator()
    fg.register_extension(_EXT, _AtomFeedExtension, _AtomEntryExtension, atom=True, rss=False)
    getattr(fg, _EXT).archived = archive.archived
    getattr(fg, _EXT).tombstones = () if archive.archived else feed.tombstones
    fg.id(feed_url(feed.base_url, feed.region, "atom"))
    fg.title(feed.title)
    if feed.description:
        fg.subtitle(feed.description)
    atom = MEDIA_TYPES["atom"]
    fg.link(
        href=links.self_url or feed_url(feed.base_url, feed.region, "atom"), rel="self", type=atom
    )
    if not archive.archived:
        for hub in feed.hubs:
            fg.link(href=hub, rel="hub")
    fg.link(href=links.html_url or home_url(feed.base_url), rel="alternate", type="text/html")
    if archive.current:
        fg.link(href=archive.current, rel="current", type=atom)
    if archive.prev_archive:
        fg.link(href=archive.prev_archive, rel="prev-archive", type=atom)
    if archive.next_archive:
        fg.link(href=archive.next_archive, rel="next-archive", type=atom)
    if feed.language:
        fg.language(feed.language)
    fg.updated(feed.updated)
    fg.generator(GENERATOR)
    if feed.needs_author:
        fg.author({"name": feed.title})
    for item in feed.items:
        fe = fg.add_entry(order="append")
        fe.id(item.id)
        fe.title(item.title)
        fe.updated(item.updated)
        if item.published is not None:
            fe.published(item.published)
        if item.authors:
            fe.author([{"name": name} for name in item.authors])
        if item.content_html:
            fe.content(item.content_html, type="html")
        elif item.url:
            fe.link(href=item.url, rel="alternate")
        else:  # RFC 4287: an entry without content has an alternate link; this one has neither
            fe.content(f"<p>{html.escape(item.summary or item.title)}</p>", type="html")
        if item.summary:
            fe.summary(item.summary)
        if item.categories:
            fe.category([{"term": t, "scheme": s, "label": lb} for t, s, lb in item.categories])
        getattr(fe, _EXT).item = item
    return bytes(fg.atom_str(pretty=True))


def _rss(feed: _Feed, links: _Links) -> bytes:
    fg = FeedGenerator()
    fg.register_extension(_EXT, _RssFeedExtension, _RssEntryExtension, atom=False, rss=True)
    getattr(fg, _EXT).hubs = feed.hubs
    fg.title(feed.title)
    fg.description(feed.description or feed.title)
    self_url = links.self_url or feed_url(feed.base_url, feed.region, "rss")
    fg.link(href=self_url, rel="self", type=MEDIA_TYPES["rss"])
    # feedgen makes its last link the channel <link>: the human page must come last.
    fg.link(href=links.html_url or home_url(feed.base_url), rel="alternate")
    if feed.language:
        fg.language(feed.language)
    fg.updated(feed.updated)  # lastBuildDate
    fg.generator(GENERATOR)
    for item in feed.items:
        fe = fg.add_entry(order="append")
        fe.id(item.id)  # also the guid, isPermaLink="false"
        fe.title(item.title)
        if item.url:
            fe.link(href=item.url)
        # description: the summary, else the lead paragraph; content:encoded: the full text.
        # Readers decode a description as HTML: it carries the text escaped for HTML.
        fe.summary(html.escape(item.summary or item.lead or item.title, quote=False))
        if item.content_html:
            fe.content(item.content_html)
        if item.images:  # RSS has one enclosure: the lead image (length unknown: 0)
            fe.link(href=item.images[0][0], rel="enclosure", type=item.images[0][1])
        if item.categories:
            fe.category([{"term": t, "scheme": s, "label": lb} for t, s, lb in item.categories])
        getattr(fe, _EXT).item = item
    return bytes(fg.rss_str(pretty=True))


def _json(feed: _Feed, links: _Links) -> bytes:
    out: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": feed.title,
        "home_page_url": links.html_url or home_url(feed.base_url),
        "feed_url": links.self_url or feed_url(feed.base_url, feed.region, "json"),
    }
    if feed.description:
        out["description"] = feed.description
    if feed.language:
        out["language"] = feed.language
    if feed.hubs:
        out["hubs"] = [{"type": "WebSub", "url": hub} for hub in feed.hubs]
    if feed.needs_author:
        out["authors"] = [{"name": feed.title}]
    out["items"] = [_json_item(item) for item in feed.items]
    text = json.dumps(out, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text.encode() + b"\n"


def _json_item(item: _Item) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": item.id,
        "title": item.title,
        "content_html": item.content_html,
        "date_modified": iso(item.updated),
    }
    if item.published is not None:
        out["date_published"] = iso(item.published)
    if item.url:
        out["url"] = item.url
    if item.summary:
        out["summary"] = item.summary
    if item.images:
        out["image"] = item.images[0][0]
    if item.authors:
        out["authors"] = [{"name": name} for name in item.authors]
    if item.tags:
        out["tags"] = list(item.tags)
    if item.language:
        out["language"] = item.language
    return out


_BUILDERS: dict[str, Callable[[_Feed, _Links], bytes]] = {
    "atom": _atom,
    "rss": _rss,
    "json": _json,
}


def render_region(
    info: FeedInfo,
    entries: Sequence[Entry],
    *,
    formats: Sequence[str] = ("atom", "rss", "json"),
    archive: ArchiveLinks | None = None,
    region_titles: Mapping[str, str] | None = None,
    updated: datetime | None = None,
    html_url: str | None = None,
) -> dict[str, bytes]:
    """A region's subscription feeds, format → bytes, each at its usual address; the entries
    are prepared once for all formats. ``archive`` gives the Atom feed its RFC 5005 links;
    ``html_url`` is the human page every format points at (the home page when None)."""
    feed = _prepare(info, entries, region_titles, updated, clean=False)
    out = {}
    for fmt in formats:
        links = _Links(html_url=html_url, archive=archive if fmt == "atom" else None)
        try:
            out[fmt] = _BUILDERS[fmt](feed, links)
        except ValueError:  # a character XML cannot carry (lxml refuses it): drop them all
            feed = _prepare(info, entries, region_titles, updated, clean=True)
            out[fmt] = _BUILDERS[fmt](feed, links)
    return out


def _render(
    fmt: str,
    info: FeedInfo,
    entries: Sequence[Entry],
    links: _Links,
    titles: Mapping[str, str] | None,
    updated: datetime | None,
) -> bytes:
    try:
        return _BUILDERS[fmt](_prepare(info, entries, titles, updated, clean=False), links)
    except ValueError:  # a character XML cannot carry (lxml refuses it): drop them all
        return _BUILDERS[fmt](_prepare(info, entries, titles, updated, clean=True), links)


def render_atom(
    info: FeedInfo,
    entries: Sequence[Entry],
    *,
    self_url: str | None = None,
    html_url: str | None = None,
    archive: ArchiveLinks | None = None,
    region_titles: Mapping[str, str] | None = None,
    updated: datetime | None = None,
) -> bytes:
    """An Atom 1.0 feed (RFC 4287) of ``entries``; an archive page when ``archive.current`` is set.

    ``self_url`` defaults to where the region's feed is served, ``html_url`` to the index page;
    ``region_titles`` labels the region categories (region id → title); ``updated`` is the
    feed's date when it has no entries (else :data:`EPOCH`)."""
    links = _Links(self_url, html_url, archive)
    return _render("atom", info, entries, links, region_titles, updated)


def render_archive_page(
    info: FeedInfo,
    entries: Sequence[Entry],
    *,
    page: int,
    complete_pages: int,
    region_titles: Mapping[str, str] | None = None,
) -> bytes:
    """RFC 5005 archive page ``page`` (1 = oldest) of a region that has ``complete_pages``."""
    base = info.base_url
    links = ArchiveLinks(
        current=feed_url(base, info.region, "atom"),
        prev_archive=archive_url(base, info.region, page - 1) if page > 1 else None,
        next_archive=archive_url(base, info.region, page + 1) if page < complete_pages else None,
    )
    return render_atom(
        replace(info, hubs=()),
        entries,
        self_url=archive_url(base, info.region, page),
        archive=links,
        region_titles=region_titles,
    )


def render_rss(
    info: FeedInfo,
    entries: Sequence[Entry],
    *,
    self_url: str | None = None,
    html_url: str | None = None,
    region_titles: Mapping[str, str] | None = None,
    updated: datetime | None = None,
) -> bytes:
    """An RSS 2.0 feed of ``entries``: ``guid isPermaLink="false"`` = entry id, RFC 822 dates,
    ``content:encoded``, Media RSS images, ``atom:link`` self and hub links."""
    links = _Links(self_url, html_url)
    return _render("rss", info, entries, links, region_titles, updated)


def render_json(
    info: FeedInfo,
    entries: Sequence[Entry],
    *,
    self_url: str | None = None,
    html_url: str | None = None,
    region_titles: Mapping[str, str] | None = None,
    updated: datetime | None = None,
) -> bytes:
    """A JSON Feed 1.1 of ``entries``: keys sorted, compact separators, UTF-8 as is."""
    links = _Links(self_url, html_url)
    return _render("json", info, entries, links, region_titles, updated)


def preferred_format(formats: Sequence[str]) -> str:
    """The format to name when only one is listed: Atom, else RSS, else JSON Feed."""
    for fmt in ("atom", "rss", "json"):
        if fmt in formats:
            return fmt
    return "atom"


def render_opml(title: str, feeds: Sequence[FeedInfo], *, formats: Sequence[str]) -> bytes:
    """An OPML 2.0 subscription list: one outline per region, pointing at its preferred feed."""
    fmt = preferred_format(formats)
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = _clean(title)
    etree.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = etree.SubElement(root, "body")
    for info in feeds:
        outline = etree.SubElement(
            body,
            "outline",
            type="rss",
            text=_clean(info.title),
            title=_clean(info.title),
            xmlUrl=feed_url(info.base_url, info.region, fmt),
            htmlUrl=pages.region_page_url(info.base_url, info.region),
        )
        language = well_formed_tag(info.language)
        if language:
            outline.set("language", language)
        if info.description:
            outline.set("description", _clean(info.description))
    return bytes(etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8"))


# --------------------------------------------------------------------------------------------
# Files


def write_atomic(path: Path, data: bytes) -> bool:
    """Put ``data`` at ``path`` unless it is already there; True when the file changed.

    Written to a temporary file in the same folder, flushed and synced, then renamed over the
    old one: readers see the old file or the new one, never a part. Raises OSError, leaving the
    old file in place and no temporary file behind. The temporary file's name is hidden, ends
    in ``.tmp`` and carries the writer's process id: one left by a writer that was killed
    before it could rename or remove it is never served, and :func:`sweep_temporary` removes
    it."""
    with suppress(OSError):
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    fd, name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX
    )
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.chmod(0o644)  # mkstemp makes it private; feeds are public
        tmp.replace(path)
    except BaseException:
        with suppress(OSError):
            tmp.unlink()
        raise
    return True


TEMP_SUFFIX = ".tmp"
STALE_TEMP_SECONDS = 3600.0  # a temporary file this old is a dead writer's, whatever its pid
_TEMP_NAME = re.compile(r"^\..+?(?:\.(?P<pid>\d+))?\.[A-Za-z0-9_]+\.tmp$")


def sweep_temporary(folder: Path, *, now: float | None = None) -> list[Path]:
    """Remove the temporary files that writers killed mid-write (``kill -9``, a power cut) left
    in ``folder`` and its subfolders; returns what was removed.

    A file is removed when the process named in it is gone, or when it is older than
    ``STALE_TEMP_SECONDS`` (an older name without a pid, or a pid reused since); the files of
    this process and of other live writers are left alone."""
    now = time.time() if now is None else now
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for path in folder.rglob(f".*{TEMP_SUFFIX}"):
        match = _TEMP_NAME.match(path.name)
        if match is None or not path.is_file():
            continue
        pid = int(match["pid"]) if match["pid"] else None
        try:
            old = now - path.stat().st_mtime > STALE_TEMP_SECONDS
        except FileNotFoundError:
            continue  # its writer renamed or removed it meanwhile
        if pid == os.getpid() or (not old and (pid is None or _alive(pid))):
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as e:
            log.warning("cannot remove the temporary file %s: %s", path, e.strerror or e)
            continue
        removed.append(path)
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted writer", len(removed))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, but belongs to someone else
        return True
    return True


def _sync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable (where the platform allows opening a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What :meth:`Publisher.publish` did. Paths are relative to ``feeds_dir``, POSIX style."""

    changed: tuple[str, ...]
    unchanged: tuple[str, ...]
    regions: tuple[str, ...]
    skipped: tuple[str, ...]
    seconds: float


class Publisher:
    """Renders regions from the store into ``config.service.feeds_dir``."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        self.base_url = config.service.base_url.rstrip("/")
        self.folder = Path(config.service.feeds_dir)
        self._regions = {r.id: r for r in config.regions}
        self._sources = {s.id: s for s in config.sources}
        self.titles = {r.id: r.title for r in config.regions}
        hubs = list(config.publish.hubs)
        if config.publish.builtin_hub:
            hubs.append(f"{self.base_url}/hub")
        self.hubs = tuple(dict.fromkeys(hubs))
        self.own_hub = self.hubs[0] if self.hubs else None  # the one the pages name

    # -- what each region is called -----------------------------------------------------------

    def feed_info(self, region: str) -> FeedInfo:
        """Title, language and hubs of a region's feed (``all``: the service's title, and a
        language only when every region shares it)."""
        if region == ALL:
            languages = {well_formed_tag(r.language) for r in self.config.regions}
            language = languages.pop() if len(languages) == 1 else None
            title, description = self.config.publish.title, None
        else:
            r = self._regions[region]
            language, title, description = well_formed_tag(r.language), r.title, r.description
        return FeedInfo(
            region=region,
            title=title,
            base_url=self.base_url,
            language=language,
            description=description,
            hubs=self.hubs,
            rtl=is_rtl(language),
        )

    def origin(self, source_id: str) -> Origin:
        """Where a story came from, for ``atom:source``."""
        source: Source | None = self._sources.get(source_id)
        oid = f"{self.base_url}/sources/{quote(source_id, safe='')}"
        if source is None:
            return Origin(id=oid, title=source_id)
        url = source.url if urlsplit(source.url).scheme in ("http", "https") else None
        return Origin(id=oid, title=source.title or source.id, url=url)

    def with_origins(self, entries: Sequence[Entry]) -> list[Entry]:
        sources = self.store.sources_of([e.id for e in entries])
        out = []
        for e in entries:
            sid = sources.get(e.id)
            out.append(replace(e, origin=self.origin(sid)) if sid and e.origin is None else e)
        return out

    # -- publishing ---------------------------------------------------------------------------

    def sweep(self) -> list[Path]:
        """Remove what writers killed mid-write left in the feeds folder (see sweep_temporary)."""
        return sweep_temporary(self.folder)

    def publish(self, regions: Iterable[str] | None = None) -> PublishResult:
        """Render ``regions`` (None: every configured region) and ``all`` in the configured
        formats, their complete archive pages, ``index.opml`` and ``index.html``; replace the
        files whose bytes changed. ``all`` comes with any region, since it holds every entry.
        Ids that are not configured are skipped (logged); ids that could escape the folder are
        refused. Raises PublishError when a file cannot be written (the old one stays)."""
        started = time.perf_counter()
        asked = [*self._regions, ALL] if regions is None else regions
        wanted = list(dict.fromkeys(check_id(r) for r in asked))
        skipped = tuple(r for r in wanted if r != ALL and r not in self._regions)
        for r in skipped:
            log.warning("not publishing region %r: it is not in the configuration", r)
        chosen = [r for r in wanted if r == ALL or r in self._regions]
        if chosen and ALL not in chosen:
            chosen.append(ALL)
        changed: list[str] = []
        unchanged: list[str] = []
        if chosen:
            self._mkdir(self.folder)
            touched: set[Path] = set()
            try:
                for region in chosen:
                    self._publish_region(region, changed, unchanged)
                self._publish_indexes(changed, unchanged)
            finally:
                for name in changed:
                    touched.add((self.folder / name).parent)
                for folder in sorted(touched):
                    _sync_folder(folder)
        return PublishResult(
            changed=tuple(changed),
            unchanged=tuple(unchanged),
            regions=tuple(chosen),
            skipped=skipped,
            seconds=time.perf_counter() - started,
        )

    def _publish_region(self, region: str, changed: list[str], unchanged: list[str]) -> None:
        info = self.feed_info(region)
        size = self.config.publish.archive_page_size
        archived = "atom" in self.config.publish.formats  # RFC 5005 archives are Atom
        complete = self.store.region_size(region) // size if archived else 0
        # Archive pages first, so that no feed links to a page not yet written.
        folder = self.folder / "archive" / region
        for page in range(1, complete + 1):
            path = folder / f"{page}.atom"
            if path.exists():
                continue  # complete pages are immutable
            self._mkdir(folder)
            page_entries = self.with_origins(self.store.archive(region, page, size))
            data = render_archive_page(
                info,
                page_entries,
                page=page,
                complete_pages=complete,
                region_titles=self.titles,
            )
            self._write(path, data, changed, unchanged)
        # The subscription feed: the newest entries, and at least every entry not archived yet
        # (RFC 5005: a reader catching up must find each entry in the feed or in an archive).
        entries = self.store.entries(region, self.config.publish.entries_per_feed)
        if archived:
            seen = {e.id for e in entries}
            tail = self.store.archive(region, complete + 1, size)
            entries += [e for e in tail if e.id not in seen]
        entries = self.with_origins(entries)
        entries += self.store.removed_entries(region, self.config.publish.entries_per_feed)
        prev = archive_url(self.base_url, region, complete) if complete else None
        # An empty feed is as old as its region (never 1970, never the clock of each render)
        created = None if entries else self.store.region_created(region, datetime.now(UTC))
        page_url = pages.region_page_url(self.base_url, region)
        feeds = render_region(
            info,
            entries,
            formats=self.config.publish.formats,
            archive=ArchiveLinks(prev_archive=prev),
            region_titles=self.titles,
            updated=created,
            html_url=page_url,
        )
        for fmt, data in feeds.items():
            self._write(self.folder / f"{region}.{FORMATS[fmt]}", data, changed, unchanged)
        # The region's page, beside its feeds: where a person who clicks "subscribe" lands
        human = pages.region_page(
            info,
            ordered(entries),
            formats=self.config.publish.formats,
            hub=self.own_hub,
            site_title=self.config.publish.title,
        )
        self._write(self.folder / f"{region}.html", human, changed, unchanged)

    def _publish_indexes(self, changed: list[str], unchanged: list[str]) -> None:
        regions = [*self._regions, ALL]
        feeds = [self.feed_info(r) for r in regions]
        formats = self.config.publish.formats
        title = self.config.publish.title
        opml = render_opml(title, feeds, formats=formats)
        self._write(self.folder / "index.opml", opml, changed, unchanged)
        latest = {r: self.with_origins(self.store.entries(r, pages.HEADLINES)) for r in regions}
        sizes = {r: self.store.region_count(r) for r in regions}
        shared = self.feed_info(ALL).language  # the regions' language, when they share one
        page = pages.home_page(
            title,
            feeds,
            formats=formats,
            latest=latest,
            sizes=sizes,
            language=shared,
            hub=self.own_hub,
        )
        self._write(self.folder / "index.html", page, changed, unchanged)

    def _write(self, path: Path, data: bytes, changed: list[str], unchanged: list[str]) -> None:
        name = path.relative_to(self.folder).as_posix()
        try:
            wrote = write_atomic(path, data)
        except OSError as e:
            raise PublishError(
                f"cannot write {path}: {e.strerror or e}; the previous file is left in place "
                f"(check that {path.parent} is writable and the disk is not full)"
            ) from e
        if wrote:
            changed.append(name)
        else:
            unchanged.append(name)

    @staticmethod
    def _mkdir(folder: Path) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise PublishError(f"cannot create {folder}: {e.strerror or e}") from e

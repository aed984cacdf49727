"""The renderers: prepared entries as Atom 1.0, RSS 2.0, JSON Feed 1.1, RFC 5005 archive pages
and the OPML list. Pure: records in, bytes out, no disk and no clock, so the same entries always
render the same bytes (feed ``updated`` is the newest entry's, never *now*)."""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from feedgen.feed import FeedGenerator
from lxml import etree

from syndicator import pages
from syndicator.direction import well_formed_tag
from syndicator.model import Entry, FeedInfo, as_utc, iso
from syndicator.publish import atom
from syndicator.publish.atom import ArchiveLinks
from syndicator.publish.common import (
    GENERATOR,
    JSON_FEED_VERSION,
    MEDIA_TYPES,
    archive_url,
    feed_url,
    home_url,
    ordered,
    xml_text,
)
from syndicator.publish.extensions import EXTENSION, RssEntryExtension, RssFeedExtension
from syndicator.publish.items import Feed, Item, prepare

# --------------------------------------------------------------------------------------------
# Renderers


@dataclass(frozen=True, slots=True)
class _Links:
    self_url: str | None = None
    html_url: str | None = None
    archive: ArchiveLinks | None = None


def _atom(feed: Feed, links: _Links) -> bytes:
    return atom.atom_feed(
        feed, self_url=links.self_url, html_url=links.html_url, archive=links.archive
    )


def _rss(feed: Feed, links: _Links) -> bytes:
    fg = FeedGenerator()
    fg.register_extension(EXTENSION, RssFeedExtension, RssEntryExtension, atom=False, rss=True)
    getattr(fg, EXTENSION).hubs = feed.hubs
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
        getattr(fe, EXTENSION).item = item
    return bytes(fg.rss_str(pretty=True))


def _json(feed: Feed, links: _Links) -> bytes:
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


def _json_item(item: Item) -> dict[str, Any]:
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


_BUILDERS: dict[str, Callable[[Feed, _Links], bytes]] = {
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
    feed = prepare(info, entries, region_titles, updated, clean=False)
    out = {}
    for fmt in formats:
        links = _Links(html_url=html_url, archive=archive if fmt == "atom" else None)
        try:
            out[fmt] = _BUILDERS[fmt](feed, links)
        except ValueError:  # a character XML cannot carry (lxml refuses it): drop them all
            feed = prepare(info, entries, region_titles, updated, clean=True)
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
    feed = prepare(info, entries, titles, updated, clean=False)
    try:
        return _BUILDERS[fmt](feed, links)
    except ValueError:  # a character XML cannot carry (lxml refuses it): drop them all
        return _BUILDERS[fmt](prepare(info, entries, titles, updated, clean=True), links)


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
    return render_atom(
        replace(info, hubs=()),
        entries,
        self_url=archive_url(base, info.region, page),
        archive=_archive_links(base, info.region, page, complete_pages),
        region_titles=region_titles,
    )


@dataclass(frozen=True, slots=True)
class RenderedEntry:
    """An entry of an archive page as it was rendered: its bytes in the page (from the
    indentation of ``<entry`` to the line break after ``</entry>``), and what the page it is
    put in needs to know of it: its id and ``updated`` (the page's order and date), and
    whether it has an author of its own."""

    id: str
    updated: datetime
    has_author: bool
    data: bytes


def render_archive_entries(
    info: FeedInfo,
    entries: Sequence[Entry],
    *,
    page: int,
    complete_pages: int,
    region_titles: Mapping[str, str] | None = None,
) -> tuple[bytes, list[RenderedEntry]]:
    """:func:`render_archive_page`, and each of its entries as rendered in it, to put other
    pages together from (:func:`join_archive_page`): an entry renders the same whatever page
    holds it."""
    base = info.base_url
    plain = replace(info, hubs=())
    self_url = archive_url(base, info.region, page)
    links = _archive_links(base, info.region, page, complete_pages)
    try:
        feed = prepare(plain, entries, region_titles, None, clean=False)
        head = atom.document_head(feed, self_url=self_url, archive=links)
        written = [atom.entry(item) for item in feed.items]
    except ValueError:  # a character XML cannot carry: drop them all, as render_atom does
        feed = prepare(plain, entries, region_titles, None, clean=True)
        head = atom.document_head(feed, self_url=self_url, archive=links)
        written = [atom.entry(item) for item in feed.items]
    data = [text.encode() for text in written]
    rendered = [
        RenderedEntry(e.id, as_utc(e.updated), bool(item.authors), bytes_)
        for e, item, bytes_ in zip(ordered(entries), feed.items, data, strict=True)
    ]
    return b"".join([head.encode(), *data, atom.FEED_END.encode()]), rendered


def join_archive_page(
    info: FeedInfo,
    entries: Sequence[RenderedEntry],
    *,
    page: int,
    complete_pages: int,
    region_titles: Mapping[str, str] | None = None,
) -> bytes:
    """Archive page ``page`` of entries already rendered (by :func:`render_archive_entries`):
    the same bytes as :func:`render_archive_page` of the entries they were rendered from."""
    base = info.base_url
    updated = max((e.updated for e in entries), default=None)
    anonymous = any(not e.has_author for e in entries)
    plain = replace(info, hubs=())
    self_url = archive_url(base, info.region, page)
    links = _archive_links(base, info.region, page, complete_pages)
    try:
        feed = prepare(plain, (), region_titles, updated, clean=False)
        head = atom.document_head(
            replace(feed, anonymous=anonymous), self_url=self_url, archive=links
        )
    except ValueError:  # a character XML cannot carry: drop them all, as render_atom does
        feed = prepare(plain, (), region_titles, updated, clean=True)
        head = atom.document_head(
            replace(feed, anonymous=anonymous), self_url=self_url, archive=links
        )
    order = sorted(entries, key=lambda e: e.id)
    order.sort(key=lambda e: e.updated, reverse=True)
    return b"".join([head.encode(), *(e.data for e in order), atom.FEED_END.encode()])


def _archive_links(base: str, region: str, page: int, complete_pages: int) -> ArchiveLinks:
    return ArchiveLinks(
        current=feed_url(base, region, "atom"),
        prev_archive=archive_url(base, region, page - 1) if page > 1 else None,
        next_archive=archive_url(base, region, page + 1) if page < complete_pages else None,
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
    etree.SubElement(head, "title").text = xml_text(title)
    etree.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = etree.SubElement(root, "body")
    for info in feeds:
        outline = etree.SubElement(
            body,
            "outline",
            type="rss",
            text=xml_text(info.title),
            title=xml_text(info.title),
            xmlUrl=feed_url(info.base_url, info.region, fmt),
            htmlUrl=pages.region_page_url(info.base_url, info.region),
        )
        language = well_formed_tag(info.language)
        if language:
            outline.set("language", language)
        if info.description:
            outline.set("description", xml_text(info.description))
    return bytes(etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8"))

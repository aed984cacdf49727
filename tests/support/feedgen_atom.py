"""The reference the Atom writer (``syndicator/publish/atom.py``) is held to: the same feed
rendered by feedgen, as the renderers did before they wrote Atom themselves — feedgen's tree,
with the elements the contract adds to it (``fh:archive``, tombstones, per-entry
``xml:lang``, entry links, ``atom:source``), serialized by lxml."""

from __future__ import annotations

import html
from typing import Any

from feedgen.feed import FeedGenerator
from lxml import etree

from syndicator.publish.atom import ArchiveLinks
from syndicator.publish.common import (
    AT_NS,
    FH_NS,
    GENERATOR,
    MEDIA_TYPES,
    XML_LANG,
    feed_url,
    home_url,
    rfc3339,
)
from syndicator.publish.items import Feed, Item

EXTENSION = "syndicator"


class _FeedExtension:
    def __init__(self) -> None:
        self.archived = False
        self.tombstones: tuple[tuple[str, Any], ...] = ()

    def extend_ns(self) -> dict[str, str]:
        ns = {"fh": FH_NS} if self.archived else {}
        if self.tombstones:
            ns["at"] = AT_NS
        return ns

    def extend_atom(self, feed: Any) -> Any:
        if self.archived:
            etree.SubElement(feed, f"{{{FH_NS}}}archive")
        for ref, when in self.tombstones:
            etree.SubElement(feed, f"{{{AT_NS}}}deleted-entry", ref=ref, when=rfc3339(when))
        return feed

    def extend_rss(self, feed: Any) -> Any:
        return feed


class _EntryExtension:
    # feedgen 1.0 drops rel, type and title from entry links (its loop variable shadows the
    # link data), so entry links are written here; feedgen is given the alternate link only
    # when an entry has no content (it refuses an entry with neither).
    def __init__(self) -> None:
        self.item: Item | None = None

    def extend_ns(self) -> dict[str, str]:
        return {}

    def extend_atom(self, entry: Any) -> Any:
        item = self.item
        assert item is not None
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
            etree.SubElement(source, "updated").text = rfc3339(item.updated)
            if origin.url:
                etree.SubElement(source, "link", href=origin.url, rel="alternate")
        return entry

    def extend_rss(self, entry: Any) -> Any:
        return entry


def feedgen_atom(
    feed: Feed,
    *,
    self_url: str | None = None,
    html_url: str | None = None,
    archive: ArchiveLinks | None = None,
) -> bytes:
    """``atom.atom_feed(feed, …)`` as feedgen renders it."""
    archive = archive or ArchiveLinks()
    fg = FeedGenerator()
    fg.register_extension(EXTENSION, _FeedExtension, _EntryExtension, atom=True, rss=False)
    getattr(fg, EXTENSION).archived = archive.archived
    getattr(fg, EXTENSION).tombstones = () if archive.archived else feed.tombstones
    fg.id(feed_url(feed.base_url, feed.region, "atom"))
    fg.title(feed.title)
    if feed.description:
        fg.subtitle(feed.description)
    atom = MEDIA_TYPES["atom"]
    fg.link(href=self_url or feed_url(feed.base_url, feed.region, "atom"), rel="self", type=atom)
    if not archive.archived:
        for hub in feed.hubs:
            fg.link(href=hub, rel="hub")
    fg.link(href=html_url or home_url(feed.base_url), rel="alternate", type="text/html")
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
        else:
            fe.content(f"<p>{html.escape(item.summary or item.title)}</p>", type="html")
        if item.summary:
            fe.summary(item.summary)
        if item.categories:
            fe.category([{"term": t, "scheme": s, "label": lb} for t, s, lb in item.categories])
        getattr(fe, EXTENSION).item = item
    return bytes(fg.atom_str(pretty=True))

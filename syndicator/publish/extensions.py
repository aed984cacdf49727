"""feedgen extensions: what the contract needs and feedgen's own fields cannot say
(``fh:archive``, tombstones, per-entry ``xml:lang``, ``atom:source``, hub links and Media RSS in
RSS, ``dc:creator``). Used by the renderers only."""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from typing import Any

from lxml import etree

from syndicator.publish.common import (
    AT_NS,
    ATOM_NS,
    DC_NS,
    FH_NS,
    MEDIA_NS,
    XML_LANG,
    rfc3339,
)
from syndicator.publish.items import Item

# --------------------------------------------------------------------------------------------
# feedgen extensions: what the contract needs and feedgen's own fields cannot say.
# feedgen creates the instances itself; the renderers fill them in after ``add_entry``.
# feedgen writes Atom elements without a namespace under a default xmlns: so do these.


class AtomFeedExtension:
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
            etree.SubElement(feed, f"{{{AT_NS}}}deleted-entry", ref=ref, when=rfc3339(when))
        return feed

    def extend_rss(self, feed: Any) -> Any:
        return feed


class AtomEntryExtension:
    """Entry level: ``xml:lang`` (the article's language), the links, and ``atom:source``.

    feedgen 1.0 drops ``rel``, ``type`` and ``title`` from entry links (its loop variable
    shadows the link data), so entry links are written here; feedgen is given the alternate
    link only when an entry has no content (it refuses an entry with neither), and that one
    gets its attributes here."""

    def __init__(self) -> None:
        self.item: Item | None = None

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
            etree.SubElement(source, "updated").text = rfc3339(item.updated)
            if origin.url:
                etree.SubElement(source, "link", href=origin.url, rel="alternate")
        return entry

    def extend_rss(self, entry: Any) -> Any:
        return entry


class RssFeedExtension:
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


class RssEntryExtension:
    """Item level: ``pubDate``, ``dc:creator``, ``dc:language`` and Media RSS images.

    ``pubDate`` is written here (RFC 822 by :func:`email.utils.format_datetime`) rather than
    by feedgen, whose date formatter switches the process-wide locale for every date."""

    def __init__(self) -> None:
        self.item: Item | None = None

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


EXTENSION = "syndicator"

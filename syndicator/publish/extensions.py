"""feedgen extensions for RSS: what the contract needs and feedgen's own fields cannot say
(hub links, ``pubDate``, ``dc:creator``, ``dc:language``, Media RSS). Used by the RSS renderer
only; Atom is written by :mod:`syndicator.publish.atom`."""

from __future__ import annotations

from email.utils import format_datetime
from typing import Any

from lxml import etree

from syndicator.publish.common import (
    ATOM_NS,
    DC_NS,
    MEDIA_NS,
)
from syndicator.publish.items import Item

# --------------------------------------------------------------------------------------------
# feedgen extensions: what the contract needs and feedgen's own fields cannot say.
# feedgen creates the instances itself; the renderers fill them in after ``add_entry``.


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

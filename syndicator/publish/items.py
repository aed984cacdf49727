"""A feed as every format sees it: a region's entries prepared once (links checked, labels,
images, direction), then rendered as Atom, RSS and JSON Feed. Pure: records in, records out."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from syndicator.direction import well_formed_tag
from syndicator.model import Entry, FeedInfo, Origin, as_utc
from syndicator.publish.common import (
    TEXT_DUMP_TYPE,
    TEXT_METHODS,
    deleted,
    directed,
    image_type,
    newest,
    ordered,
    web_link,
    xml_text,
)

# --------------------------------------------------------------------------------------------
# A feed as every format sees it: prepared once, rendered three times


@dataclass(frozen=True, slots=True)
class Item:
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
class Feed:
    region: str
    base_url: str
    title: str
    description: str
    language: str | None
    hubs: tuple[str, ...]
    updated: datetime
    items: tuple[Item, ...]
    tombstones: tuple[tuple[str, datetime], ...] = ()  # (entry id, when removed)
    # Entries written apart from ``items`` (an archive page put together from entries already
    # rendered) of which one at least has no author of its own
    anonymous: bool = False

    @property
    def needs_author(self) -> bool:
        """RFC 4287: every entry has an author; the feed's stands for entries without one."""
        return self.anonymous or any(not item.authors for item in self.items)


def _as_is(text: str | None) -> str:
    return text or ""


def _item(entry: Entry, base_url: str, titles: Mapping[str, str], c: Callable[[Any], str]) -> Item:
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
    return Item(
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


def prepare(
    info: FeedInfo,
    entries: Sequence[Entry],
    titles: Mapping[str, str] | None,
    updated: datetime | None,
    *,
    clean: bool,
) -> Feed:
    """The feed's fields and its entries in order. Strings go to lxml as they are (it refuses
    what XML cannot carry, at no cost when all is well); ``clean`` drops such characters."""
    c = xml_text if clean else _as_is
    base = info.base_url.rstrip("/")
    labels = {info.region: info.title, **(titles or {})}
    live = ordered(entries)
    gone = deleted(entries)
    return Feed(
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

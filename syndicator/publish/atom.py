"""Atom 1.0 documents (RFC 4287, with RFC 5005 archives and RFC 6721 tombstones) written
straight from a prepared :class:`~syndicator.publish.items.Feed`: the bytes lxml serializes
for the tree feedgen builds of the same feed (elements, attributes and namespaces in the same
order, escaped and indented as lxml does), written without building a tree; a bulk load's
thousands of archive entries cost a few string joins each.

The tests hold feedgen's rendering as the reference and compare the two on random feeds
(``tests/test_atom_writer.py``). As with lxml, a string XML 1.0 cannot carry (a control
character, a lone surrogate, U+FFFE, U+FFFF) raises :class:`ValueError`, and so does a feed
or an entry without the id, title and date that RFC 4287 requires."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from syndicator.publish.common import (
    AT_NS,
    ATOM_NS,
    FH_NS,
    GENERATOR,
    MEDIA_TYPES,
    NOT_XML,
    feed_url,
    home_url,
    rfc3339,
)
from syndicator.publish.items import Feed, Item

DECLARATION = "<?xml version='1.0' encoding='UTF-8'?>\n"
FEED_END = "</feed>\n"


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


# What lxml escapes, in the order it must be done ("&" first): in character data, and in an
# attribute value (between double quotes) that and more
_TEXT_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;"))
_ATTR_ENTITIES = (*_TEXT_ENTITIES, ('"', "&quot;"), ("\n", "&#10;"), ("\t", "&#9;"))


def _escaped(value: str, entities: tuple[tuple[str, str], ...]) -> str:
    for char, entity in entities:
        if char in value:
            value = value.replace(char, entity)
    return value


def text(value: str) -> str:
    """Character data escaped as lxml escapes it."""
    return _escaped(value, _TEXT_ENTITIES)


def attr(value: str) -> str:
    """An attribute value escaped as lxml escapes it (to go between double quotes)."""
    return _escaped(value, _ATTR_ENTITIES)


def _element(name: str, value: str | None, indent: str) -> str:
    """A text element on a line of its own (empty text: an open and a close tag, as lxml)."""
    if value is None:
        return f"{indent}<{name}/>\n"
    return f"{indent}<{name}>{text(value)}</{name}>\n"


def _check(document: str) -> str:
    """``document``, if XML 1.0 can carry every character of it (else ValueError, as lxml)."""
    bad = NOT_XML.search(document)
    if bad is not None:
        raise ValueError(
            f"All strings must be XML compatible: character {ord(bad.group()):#06x} is not"
        )
    return document


def document_head(
    feed: Feed,
    *,
    self_url: str | None = None,
    html_url: str | None = None,
    archive: ArchiveLinks | None = None,
) -> str:
    """The document up to its first entry: the declaration, the feed's start tag and its own
    elements (id, title, updated, author, links, generator, subtitle, the archive marker or
    the tombstones)."""
    archive = archive or ArchiveLinks()
    tombstones = () if archive.archived else feed.tombstones
    if not (feed.title and feed.updated):
        raise ValueError("a feed needs a title and a date (RFC 4287)")
    namespaces = f' xmlns:fh="{FH_NS}"' if archive.archived else ""
    if tombstones:
        namespaces += f' xmlns:at="{AT_NS}"'
    lang = f' xml:lang="{attr(feed.language)}"' if feed.language else ""
    own = feed_url(feed.base_url, feed.region, "atom")
    atom = MEDIA_TYPES["atom"]
    out = [
        DECLARATION,
        f'<feed{namespaces} xmlns="{ATOM_NS}"{lang}>\n',
        _element("id", own, "  "),
        _element("title", feed.title, "  "),
        _element("updated", feed.updated.isoformat(), "  "),
    ]
    if feed.needs_author:
        out.append(f"  <author>\n    <name>{text(feed.title)}</name>\n  </author>\n")
    links: list[tuple[str, str, str | None]] = [(self_url or own, "self", atom)]
    if not archive.archived:
        links += [(hub, "hub", None) for hub in feed.hubs]
    links.append((html_url or home_url(feed.base_url), "alternate", "text/html"))
    for href, rel in (
        (archive.current, "current"),
        (archive.prev_archive, "prev-archive"),
        (archive.next_archive, "next-archive"),
    ):
        if href:
            links.append((href, rel, atom))
    for href, rel, kind in links:
        out.append(f'  <link href="{attr(href)}" rel="{rel}"')
        out.append(f' type="{kind}"/>\n' if kind else "/>\n")
    out.append(f"  <generator>{GENERATOR}</generator>\n")
    if feed.description:
        out.append(_element("subtitle", feed.description, "  "))
    if archive.archived:
        out.append("  <fh:archive/>\n")
    for ref, when in tombstones:
        out.append(f'  <at:deleted-entry ref="{attr(ref)}" when="{rfc3339(when)}"/>\n')
    return _check("".join(out))


def entry(item: Item) -> str:
    """One entry, indented as in a document (from ``  <entry`` to the line break after
    ``</entry>``): the same whatever document holds it."""
    if not (item.id and item.title):
        raise ValueError("an entry needs an id and a title (RFC 4287)")
    lang = f' xml:lang="{attr(item.language)}"' if item.language else ""
    out = [
        f"  <entry{lang}>\n",
        _element("id", item.id, "    "),
        _element("title", item.title, "    "),
        _element("updated", item.updated.isoformat(), "    "),
    ]
    for name in item.authors:
        if name:
            out.append(f"    <author>\n      <name>{text(name)}</name>\n    </author>\n")
    if item.content_html:
        out.append(f'    <content type="html">{text(item.content_html)}</content>\n')
    elif item.url:
        out.append(f'    <link href="{attr(item.url)}" rel="alternate"')
        out.append(f' type="{attr(item.url_type)}"/>\n')
    else:  # RFC 4287: an entry without content has an alternate link; this one has neither
        stand_in = f"<p>{html.escape(item.summary or item.title)}</p>"
        out.append(f'    <content type="html">{text(stand_in)}</content>\n')
    if item.summary:
        out.append(_element("summary", item.summary, "    "))
    for term, scheme, label in item.categories:
        out.append(f'    <category term="{attr(term)}"')
        if scheme:
            out.append(f' scheme="{attr(scheme)}"')
        if label:
            out.append(f' label="{attr(label)}"')
        out.append("/>\n")
    if item.published is not None:
        out.append(_element("published", item.published.isoformat(), "    "))
    if item.content_html and item.url:
        out.append(f'    <link href="{attr(item.url)}" rel="alternate"')
        out.append(f' type="{attr(item.url_type)}"/>\n')
    for url, kind, _, _, title in item.images:
        out.append(f'    <link href="{attr(url)}" rel="enclosure" type="{attr(kind)}"')
        out.append(f' title="{attr(title)}"/>\n' if title else "/>\n")
    origin = item.origin
    if origin is not None:
        out.append("    <source>\n")
        out.append(_element("id", origin.id, "      "))
        out.append(_element("title", origin.title, "      "))
        out.append(_element("updated", rfc3339(item.updated), "      "))
        if origin.url:
            out.append(f'      <link href="{attr(origin.url)}" rel="alternate"/>\n')
        out.append("    </source>\n")
    out.append("  </entry>\n")
    return _check("".join(out))


def document(head: str, entries: Sequence[str]) -> bytes:
    """A whole document: its head (:func:`document_head`) and its entries (:func:`entry`)."""
    return "".join([head, *entries, FEED_END]).encode()


def atom_feed(
    feed: Feed,
    *,
    self_url: str | None = None,
    html_url: str | None = None,
    archive: ArchiveLinks | None = None,
) -> bytes:
    """The Atom document of ``feed``; an archive page when ``archive.current`` is set."""
    head = document_head(feed, self_url=self_url, html_url=html_url, archive=archive)
    return document(head, [entry(item) for item in feed.items])

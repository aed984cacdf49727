"""Publishing's shared vocabulary: formats and their media types, namespaces, where each
feed is served, and the small pure helpers every renderer uses (entry order, safe links, text
XML can carry). No rendering, no disk."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from syndicator.direction import text_direction, well_formed_tag
from syndicator.errors import PublishError
from syndicator.model import Entry, as_utc

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
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
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


def xml_text(text: str | None) -> str:
    """Text that XML 1.0 can carry (the few control characters it cannot are dropped)."""
    if not text:
        return ""
    return NOT_XML.sub("", text) if NOT_XML.search(text) else text


def rfc3339(value: datetime) -> str:
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

"""Feeds: RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 through feedparser, JSON Feed 1.0/1.1 by hand.

Each item becomes a Draft; an item that carries only a summary is marked ``complete=False`` so
that ingest can complete it from its page (``fetch_pages = "auto"``). Entity declarations are
refused before parsing. Ill-formed feeds give what feedparser could recover, or an ExtractError
when nothing was. Pure: bytes in, drafts out.
"""

from __future__ import annotations

import io
import json
import re
import time
from datetime import UTC, datetime
from typing import Any

import feedparser

from syndicator.errors import ExtractError
from syndicator.extract import xmlsafe
from syndicator.extract.charset import codec_name, header_charset
from syndicator.model import Draft, Extraction, Image
from syndicator.normalize import absolute_url, clean_or_none, split_caption

# A body with at least this much text, or this many paragraphs, is the whole article.
COMPLETE_CHARS = 1200
COMPLETE_PARAGRAPHS = 3

_TAGS = re.compile(r"<[^>]+>")


def extract_feed(body: bytes, url: str, *, content_type: str | None = None) -> Extraction:
    """Every item of an RSS, Atom, RDF or JSON feed as a Draft."""
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"{"):
        return extract_json_feed(stripped, url)
    xmlsafe.check(body, url)
    try:
        parsed = feedparser.parse(
            io.BytesIO(body),
            response_headers=_feed_headers(url, content_type),
            resolve_relative_uris=True,
            sanitize_html=True,
        )
    except Exception as e:  # feedparser's loose parser can fail in many ways on hostile input
        raise ExtractError(f"unreadable feed: {type(e).__name__}: {e}", url=url) from e
    feed = parsed.get("feed", {})
    entries = parsed.get("entries", [])
    if parsed.get("bozo") and not entries and not feed.get("title"):
        reason = parsed.get("bozo_exception")
        raise ExtractError(f"not a feed: {reason or 'nothing recognisable'}", url=url)
    if not parsed.get("version") and not entries and not feed:
        raise ExtractError("not a feed", url=url)
    language = clean_or_none(feed.get("language"))
    drafts = []
    for index, entry in enumerate(entries):
        draft = _entry_draft(entry, url, index)
        if draft is not None:
            drafts.append(draft)
    return Extraction(
        kind="feed",
        articles=tuple(drafts),
        title=clean_or_none(feed.get("title")),
        language=language,
    )


def _feed_headers(url: str, content_type: str | None) -> dict[str, str]:
    """The response headers feedparser sees: the URL (the base for relative links) and an XML type.

    We already know the document is a feed, so the media type is always XML; only the charset of
    a real ``Content-Type`` is kept. Without one, feedparser would read a feed as ISO-8859-1 (HTTP
    without a type) or US-ASCII (``text/xml``, RFC 3023) when the XML declaration is silent, and
    would flag a non-XML type (``text/html`` from a misconfigured server) as a broken feed.
    """
    charset = codec_name(header_charset(content_type))
    headers = {
        "content-type": f"application/xml; charset={charset}" if charset else "application/xml",
    }
    # feedparser resolves relative links itself but mangles file:// bases (file:///a → file://a);
    # for those it leaves links relative and we resolve them (see _entry_link).
    if url.startswith(("http://", "https://")):
        headers["content-location"] = url
    return headers


def _entry_draft(entry: Any, feed_url: str, index: int) -> Draft | None:
    link = _entry_link(entry, feed_url)
    guid = clean_or_none(entry.get("id") or entry.get("guid"))
    title = clean_or_none(_TAGS.sub(" ", entry.get("title") or ""))
    summary_html = entry.get("summary") or ""
    contents = [c.get("value") or "" for c in entry.get("content") or [] if isinstance(c, dict)]
    content_html = max(contents, key=len) if contents else ""
    body_html = content_html if len(content_html) >= len(summary_html) else summary_html
    if not title and not link and not body_html:
        return None
    if not title:
        title = clean_or_none(_TAGS.sub(" ", summary_html))
        title = (title[:120] + "…") if title and len(title) > 120 else title
    if not link and not guid:
        guid = f"item-{index}"
    authors = [a.get("name") for a in entry.get("authors") or [] if isinstance(a, dict)]
    if not any(authors) and entry.get("author"):
        authors = [entry.get("author")]
    categories = tuple(
        c
        for c in (clean_or_none(t.get("term") or t.get("label")) for t in entry.get("tags") or [])
        if c
    )
    summary = clean_or_none(_TAGS.sub(" ", summary_html)) if summary_html else None
    return Draft(
        url=link or feed_url,
        linked=bool(link),
        canonical=None,
        guid=guid,
        key=None,
        title=title or "",
        summary=summary if summary and len(summary) < 1000 else None,
        section=categories[0] if categories else None,
        categories=categories,
        bylines=tuple(a for a in authors if a),
        # The item's own language only: the channel's is the extraction's, a default that the
        # item's text overrides (an English item in an Arabic channel is English).
        language=_entry_language(entry),
        # RSS 1.0's dc:date and Atom entries without <published> only say when they were updated.
        published=_date(entry, "published") or _date(entry, "created") or _date(entry, "updated"),
        updated=_date(entry, "updated"),
        body_html=body_html or None,
        images=tuple(_entry_images(entry, feed_url)),
        # An item that names no page has nothing more to read: what it says is all of it.
        complete=is_complete(body_html) or not link,
        method="feed",
    )


def _entry_language(entry: Any) -> str | None:
    """The entry's own language (``xml:lang`` on the entry or its parts, ``dc:language``)."""
    for part in ("content", "title_detail", "summary_detail"):
        detail = entry.get(part)
        if isinstance(detail, list):
            detail = detail[0] if detail else None
        if isinstance(detail, dict) and detail.get("language"):
            return clean_or_none(detail["language"])
    return clean_or_none(entry.get("language"))


def is_complete(body_html: str) -> bool:
    """Does this item body look like the whole article rather than a summary?"""
    if not body_html:
        return False
    text = _TAGS.sub(" ", body_html)
    paragraphs = len(re.findall(r"<p[\s>]", body_html, re.I))
    return len(" ".join(text.split())) >= COMPLETE_CHARS or paragraphs >= COMPLETE_PARAGRAPHS


def _entry_link(entry: Any, feed_url: str) -> str | None:
    for link in entry.get("links") or []:
        if (
            isinstance(link, dict)
            and link.get("rel", "alternate") == "alternate"
            and link.get("href")
        ):
            return absolute_url(link["href"], feed_url)
    if entry.get("link"):
        return absolute_url(entry["link"], feed_url)
    guid = entry.get("id") or ""
    if entry.get("guidislink") and guid.startswith(("http://", "https://")):
        return guid
    return None


def _date(entry: Any, name: str) -> str | None:
    # Only what the entry itself has: feedparser answers a missing ``updated`` with ``published``
    # (and a DeprecationWarning); ``in`` does not play that game.
    raw = entry.get(name) if name in entry else None
    if raw:
        return str(raw)
    parsed = entry.get(f"{name}_parsed") if f"{name}_parsed" in entry else None
    if isinstance(parsed, time.struct_time):
        return datetime(*parsed[:6], tzinfo=UTC).isoformat()
    return None


def _entry_images(entry: Any, feed_url: str) -> list[Image]:
    images: list[Image] = []
    seen: set[str] = set()

    def add(url: str | None, caption: str | None = None, credit: str | None = None) -> None:
        resolved = absolute_url(url, feed_url)
        if resolved and resolved not in seen:
            seen.add(resolved)
            text, named = split_caption(caption) if caption else (None, None)
            images.append(Image(url=resolved, caption=text, credit=credit or named))

    for media in entry.get("media_content") or []:
        if isinstance(media, dict) and (
            media.get("medium") == "image" or str(media.get("type", "")).startswith("image/")
        ):
            add(media.get("url"), entry.get("media_description"), _credit(entry))
    for enclosure in entry.get("enclosures") or []:
        if isinstance(enclosure, dict) and str(enclosure.get("type", "")).startswith("image/"):
            add(enclosure.get("href") or enclosure.get("url"))
    if not images:
        for thumb in entry.get("media_thumbnail") or []:
            if isinstance(thumb, dict):
                add(thumb.get("url"), entry.get("media_description"), _credit(entry))
    return images


def _credit(entry: Any) -> str | None:
    credit = entry.get("media_credit")
    if isinstance(credit, list) and credit and isinstance(credit[0], dict):
        return clean_or_none(credit[0].get("content"))
    return None


# --------------------------------------------------------------------------------------------
# JSON Feed 1.0 / 1.1


def extract_json_feed(body: bytes, url: str) -> Extraction:
    """Items of a JSON Feed (https://jsonfeed.org/version/1.1, also 1.0)."""
    try:
        data = json.loads(body.decode("utf-8", errors="replace"))
    except ValueError as e:
        raise ExtractError(f"not JSON: {e}", url=url) from e
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith(
        ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")
    ):
        raise ExtractError("not a JSON Feed (no jsonfeed.org version)", url=url)
    items = data.get("items")
    if not isinstance(items, list):
        raise ExtractError("JSON Feed without an items list", url=url)
    language = _str(data.get("language"))
    feed_authors = _json_authors(data)
    drafts = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        link = absolute_url(_str(item.get("url")) or _str(item.get("external_url")), url)
        guid = _str(item.get("id"))
        html_body = _str(item.get("content_html"))
        text_body = _str(item.get("content_text"))
        title = _str(item.get("title")) or _first_words(
            text_body or _TAGS.sub(" ", html_body or "")
        )
        if not title and not link:
            continue
        authors = _json_authors(item) or feed_authors
        tags = tuple(t for t in (_str(t) for t in item.get("tags") or []) if t)
        images = []
        for key in ("image", "banner_image"):
            image_url = absolute_url(_str(item.get(key)), url)
            if image_url:
                images.append(Image(url=image_url))
        drafts.append(
            Draft(
                url=link or url,
                linked=bool(link),
                guid=guid or (None if link else f"item-{index}"),
                title=title or "",
                summary=_str(item.get("summary")),
                section=tags[0] if tags else None,
                categories=tags,
                bylines=tuple(authors),
                language=_str(item.get("language")),  # the feed's is only a default
                published=_str(item.get("date_published")),
                updated=_str(item.get("date_modified")),
                body_html=html_body,
                body_text=None if html_body else text_body,
                images=tuple(images),
                complete=not link
                or is_complete(html_body or "")
                or len(text_body or "") >= COMPLETE_CHARS,
                method="jsonfeed",
            )
        )
    return Extraction(
        kind="feed", articles=tuple(drafts), title=_str(data.get("title")), language=language
    )


def _str(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _json_authors(node: dict[str, Any]) -> list[str]:
    authors = node.get("authors")
    if not isinstance(authors, list):
        authors = [node["author"]] if isinstance(node.get("author"), dict) else []
    return [name for a in authors if isinstance(a, dict) and (name := _str(a.get("name")))]


def _first_words(text: str | None, limit: int = 120) -> str | None:
    text = clean_or_none(text)
    if not text:
        return None
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"

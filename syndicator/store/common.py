"""Small helpers the store's modules share: UTC and ISO times, JSON, bands of a signature,
entry ids, an article as events carry it. No database access.
"""

from __future__ import annotations

import difflib
import functools
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from syndicator import fingerprint
from syndicator.model import Article, as_utc, iso

# --------------------------------------------------------------------------------------------


# One encoder for every value stored as JSON (json.dumps with these options builds one a call)
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _dumps(value: Any) -> str:
    if value == []:  # most of an article's lists (authors, categories, images, reasons)
        return "[]"
    return _ENCODER.encode(value)


@functools.lru_cache(maxsize=4096)  # a batch reads each article's bands several times
def _bands(signature: str) -> tuple[int, int, int, int]:
    bits = fingerprint.signature_bits(signature)
    return tuple((bits >> (16 * i)) & 0xFFFF for i in range(4))  # type: ignore[return-value]


def entry_id_for(
    key: str,
    host: str,
    published: datetime | None,
    first_seen: datetime,
    content_hash: str | None = None,
) -> str:
    """The entry id of a new article: a tag URI (RFC 4151) derived from its key and dated by the
    article's own publication date (UTC), or the day it was first stored when it states none:
    every store that meets the article gives it the same id, whatever the day it does.

    With ``content_hash``: the id of a new story at an address whose own id an older article
    already holds (the address was that article's before a copy from a source ranking first
    took its place): derived from the key and the text, so it is fresh, and still the same in
    every store that meets the two stories in that order."""
    day = as_utc(published or first_seen)
    name = key if content_hash is None else f"{key}\n{content_hash}"
    return f"tag:{host},{day:%Y-%m-%d}:article/{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def text_diff(before: Sequence[str], after: Sequence[str]) -> str:
    """A readable unified diff of two paragraph lists."""
    lines = difflib.unified_diff(list(before), list(after), "before", "after", lineterm="", n=1)
    return "\n".join(lines)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def _fetched_location(item: Article) -> str | None:
    """The address an article was fetched at, when it is another location of it (canonical
    form): as :meth:`Store._locate_fetched` decides."""
    from syndicator.normalize import canonical_url

    fetched = item.fetched_url
    if not fetched or _scheme(fetched) not in ("http", "https", "file"):
        return None
    if _scheme(item.key) not in ("http", "https", "file"):
        return None
    fetched = canonical_url(fetched)
    return fetched if fetched != item.key else None


def _scheme(url: str) -> str:
    """``urlsplit(url).scheme``, without parsing the commonest URLs (``https://…``)."""
    if url.startswith("https://"):
        return "https"
    if url.startswith("http://"):
        return "http"
    return urlsplit(url).scheme


def _payload(row: Any) -> dict[str, Any]:
    """An article as events carry it (as :meth:`Store._article_payload` reads it)."""
    return {
        "id": row.entry_id,
        "url": row.url,
        "key": row.key,
        "title": row.title,
        "summary": row.summary,
        "section": row.section,
        "authors": json.loads(row.authors),
        "dateline": row.dateline,
        "language": row.language,
        "published": iso(row.published_at),
        "updated": iso(row.updated_at),
        "content_hash": row.content_hash,
        "source": row.source_id,
    }


def _event_row(kind: str, now: datetime, regions: Iterable[str], **payload: Any) -> dict[str, Any]:
    """The outbox row of one event."""
    event_id = str(uuid.uuid4())
    region_list = sorted(set(regions))
    body = {
        "id": event_id,
        "type": kind,
        "occurred_at": iso(now),
        "regions": region_list,
        **payload,
    }
    body.setdefault("changes", {})
    return {
        "event_id": event_id,
        "type": kind,
        "occurred_at": now,
        "regions": _dumps(region_list),
        "body": _dumps(body),
    }

"""Published files as the web server answers with them: held in memory, with their validators
and gzip bodies prepared once, and answered conditionally (strong ETag per content coding,
Last-Modified, 304, HEAD, ``Link`` to hub and self).

:class:`FeedCache` reads a folder (the feeds, or the bundled samples) into memory and re-reads
what changed; :class:`FileAnswers` answers a request for one of its files. Answering touches
neither the disk nor the database, and renders nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import NamedTuple

from syndicator.config import Config
from syndicator.web.asgi import (
    FEED_SECURITY,
    HTML_SECURITY,
    Headers,
    Scope,
    Send,
    send_response,
    text_response,
)

MEDIA_TYPES = {
    ".atom": "application/atom+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}
FEED_CACHE_CONTROL = b"public, max-age=60"
ARCHIVE_CACHE_CONTROL = b"public, max-age=86400"  # archive pages are complete (RFC 5005)


@dataclass(frozen=True, slots=True)
class FeedFile:
    """A published file as the web server answers with it: bytes, gzip bytes and validators."""

    path: str
    body: bytes
    gzipped: bytes
    etag: str
    last_modified: str
    modified: float
    media_type: str


class FeedCache:
    """The feeds folder (or another folder served as is, the bundled samples), read into memory:
    answering a request never touches the disk.

    Only files found under the folder with a known suffix (a key of ``media_types``) are ever
    held, keyed by their path relative to it: a request path that is not one of those keys
    (``../x``, an absolute path, a temporary file) finds nothing.
    """

    def __init__(self, folder: Path, media_types: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.media_types = MEDIA_TYPES if media_types is None else media_types
        self._files: dict[str, FeedFile] = {}
        self._stats: dict[str, tuple[int, int]] = {}  # path → (mtime_ns, size) when read

    def load(self, paths: Iterable[str] | None = None) -> None:
        """(Re)read the given files (relative to the folder), or every file when None."""
        if paths is None:
            found = {
                str(p.relative_to(self.folder).as_posix())
                for p in self.folder.rglob("*")
                if p.is_file() and p.suffix in self.media_types
            }
            for gone in set(self._files) - found:
                del self._files[gone]
                self._stats.pop(gone, None)
            paths = sorted(found)
        for rel in paths:
            path = self.folder / rel
            try:
                stat = path.stat()
                body = path.read_bytes()
            except FileNotFoundError:
                self._files.pop(rel, None)
                self._stats.pop(rel, None)
                continue
            modified = stat.st_mtime
            self._stats[rel] = (stat.st_mtime_ns, stat.st_size)
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            self._files[rel] = FeedFile(
                path=rel,
                body=body,
                gzipped=gzip.compress(body, compresslevel=6, mtime=0),
                etag=etag,
                last_modified=format_datetime(
                    datetime.fromtimestamp(int(modified), UTC), usegmt=True
                ),
                modified=modified,
                media_type=self.media_types[path.suffix],
            )

    def refresh(self) -> list[str]:
        """Re-read the files that changed on disk since they were read (by mtime and size),
        drop the ones that are gone, add new ones; returns the paths that changed. For
        ``serve``, where another process (``once`` from cron) publishes."""
        seen: dict[str, tuple[int, int]] = {}
        for root, dirs, files in os.walk(self.folder):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in files:
                if name.startswith(".") or Path(name).suffix not in self.media_types:
                    continue
                full = Path(root, name)
                try:
                    stat = full.stat()
                except FileNotFoundError:
                    continue
                seen[full.relative_to(self.folder).as_posix()] = (stat.st_mtime_ns, stat.st_size)
        gone = [p for p in self._files if p not in seen]
        for rel in gone:
            self._files.pop(rel, None)
            self._stats.pop(rel, None)
        changed = [p for p, st in seen.items() if self._stats.get(p) != st]
        if changed:
            self.load(sorted(changed))
        return sorted(changed + gone)

    def get(self, path: str) -> FeedFile | None:
        return self._files.get(path)

    def paths(self) -> list[str]:
        return sorted(self._files)


# --------------------------------------------------------------------------------------------
# Feed files: headers prepared once per file and config


class _Variant(NamedTuple):
    etag: bytes
    body: bytes
    full: Headers  # a 200's headers
    not_modified: Headers  # a 304's headers


class _Prepared(NamedTuple):
    file: FeedFile
    config: Config
    identity: _Variant
    gzip: _Variant
    last_modified: bytes


def prepare(file: FeedFile, config: Config, *, feed: bool = True) -> _Prepared:
    common: Headers = [
        (b"last-modified", file.last_modified.encode()),
        (
            b"cache-control",
            ARCHIVE_CACHE_CONTROL if file.path.startswith("archive/") else FEED_CACHE_CONTROL,
        ),
        (b"vary", b"accept-encoding"),
    ]
    if feed and file.path.endswith((".atom", ".rss", ".json")):
        base = config.service.base_url
        links = [f'<{hub}>; rel="hub"' for hub in config.publish.hubs]
        if config.publish.builtin_hub:
            links.append(f'<{base}/hub>; rel="hub"')
        links.append(f'<{base}/feeds/{file.path}>; rel="self"')
        common.append((b"link", ", ".join(links).encode()))
    common += HTML_SECURITY if file.media_type.startswith("text/html") else FEED_SECURITY
    media_type = file.media_type.encode()
    # A gzip body is another representation of the file: it gets its own strong ETag (RFC 9110
    # 8.8.3), so that a cache never mixes the two.
    plain_tag = file.etag.encode()
    gzip_tag = plain_tag[:-1] + b'-gzip"'

    def variant(tag: bytes, body: bytes, coding: Headers) -> _Variant:
        head = [(b"etag", tag), *common]
        full = [
            *head,
            (b"content-type", media_type),
            (b"content-length", str(len(body)).encode()),
            *coding,
        ]
        return _Variant(tag, body, full, head)

    return _Prepared(
        file,
        config,
        variant(plain_tag, file.body, []),
        variant(gzip_tag, file.gzipped, [(b"content-encoding", b"gzip")]),
        file.last_modified.encode(),
    )


def accepts_gzip(value: bytes) -> bool:
    """Whether an Accept-Encoding value allows gzip (``gzip;q=0`` and ``identity`` do not)."""
    value = value.lower()
    if b"gzip" not in value and b"*" not in value:
        return False
    if b"q=" not in value:
        return True
    weights: dict[bytes, float] = {}
    for part in value.split(b","):
        name, _, params = part.partition(b";")
        q = 1.0
        for param in params.split(b";"):
            key, _, number = param.strip().partition(b"=")
            if key == b"q":
                try:
                    q = float(number)
                except ValueError:
                    q = 0.0
        weights[name.strip()] = q
    for name in (b"gzip", b"x-gzip", b"*"):
        if name in weights:
            return weights[name] > 0
    return False


def etag_listed(header: bytes, etag: bytes) -> bool:
    """If-None-Match's weak comparison: is ``etag`` (or ``*``) in the list?"""
    for tag in header.split(b","):
        tag = tag.strip()
        if tag == b"*" or tag.removeprefix(b"W/") == etag:
            return True
    return False


def not_modified_since(header: bytes, prepared: _Prepared) -> bool:
    if header == prepared.last_modified:
        return True
    try:
        since = parsedate_to_datetime(header.decode("latin-1"))
    except (TypeError, ValueError, IndexError, OverflowError):
        return False  # not an HTTP date: ignored (RFC 9110 13.1.3)
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return int(prepared.file.modified) <= since.timestamp()


class FileAnswers:
    """Answers a request for a held file: the headers of each file are prepared once per file
    and config, then each request only picks its variant and compares validators."""

    def __init__(self) -> None:
        self._prepared: dict[str, _Prepared] = {}

    async def answer(
        self,
        scope: Scope,
        send: Send,
        file: FeedFile | None,
        config: Config,
        feeds: FeedCache,
        *,
        feed: bool = True,
    ) -> int:
        """Answer with a published file (``feed``, one of ``feeds``) or a file served as is (a
        sample); returns the status sent."""
        method = scope["method"]
        if method != "GET" and method != "HEAD":
            await send_response(
                send, text_response(405, "method not allowed", [(b"allow", b"GET, HEAD")])
            )
            return 405
        if file is None:
            await send_response(send, text_response(404, "not found"))
            return 404
        key = file.path if feed else "samples:" + file.path
        prepared = self._prepared.get(key)
        if prepared is None or prepared.file is not file or prepared.config is not config:
            if len(self._prepared) > 2 * len(feeds.paths()) + 128:
                self._prepared.clear()  # files were removed: forget their headers
            prepared = self._prepared[key] = prepare(file, config, feed=feed)
        if_none_match = if_modified_since = accept_encoding = None
        for key, value in scope["headers"]:
            if key == b"if-none-match":
                if_none_match = value
            elif key == b"if-modified-since":
                if_modified_since = value
            elif key == b"accept-encoding":
                accept_encoding = value
        variant = (
            prepared.gzip
            if accept_encoding is not None and accepts_gzip(accept_encoding)
            else prepared.identity
        )
        # If-None-Match wins over If-Modified-Since when both are sent (RFC 9110 13.2.2).
        if if_none_match is not None:
            fresh = if_none_match == variant.etag or etag_listed(if_none_match, variant.etag)
        else:
            fresh = if_modified_since is not None and not_modified_since(
                if_modified_since, prepared
            )
        if fresh:
            await send(
                {"type": "http.response.start", "status": 304, "headers": variant.not_modified}
            )
            await send({"type": "http.response.body", "body": b""})
            return 304
        await send({"type": "http.response.start", "status": 200, "headers": variant.full})
        await send(
            {"type": "http.response.body", "body": b"" if method == "HEAD" else variant.body}
        )
        return 200

"""Local files (``file://`` URLs and plain paths), read through the same interface as HTTP,
with validators emulated from their size and modification time."""

from __future__ import annotations

import time
from email.utils import formatdate
from pathlib import Path
from urllib.parse import unquote, urlsplit

from syndicator.errors import FetchError
from syndicator.fetch.records import (
    MAX_BYTES,
    Clock,
    Fetched,
    Response,
    Validators,
    parse_http_date,
)


def local_path(url: str) -> Path | None:
    """The file a ``file://`` URL or a plain path names; None for network (or broken) URLs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme in ("",) or (len(parts.scheme) == 1 and url[1:3] in (":\\", ":/")):
        return Path(url)
    return None


def file_etag(size: int, mtime_ns: int) -> str:
    """The strong ETag a local file is given: its size and modification time."""
    return f'"{size}-{mtime_ns}"'


def read_file(
    url: str,
    path: Path,
    max_bytes: int,
    validators: Validators | None,
    clock: Clock,
    final_url: str | None = None,
) -> Fetched:
    started = clock()
    try:
        stat = path.stat()
        if path.is_dir():
            raise FetchError(url, "is a folder, not a file")
        etag = file_etag(stat.st_size, stat.st_mtime_ns)
        last_modified = formatdate(stat.st_mtime, usegmt=True)
        final_url = final_url or path.resolve().as_uri()
        if validators and file_not_modified(validators, etag, stat.st_mtime):
            return Fetched(
                url, final_url, 304, b"", None, etag, last_modified, clock() - started, 1
            )
        if stat.st_size > max_bytes:
            raise FetchError(url, f"file larger than {max_bytes} bytes")
        with path.open("rb") as f:
            body = f.read(max_bytes + 1)
        if len(body) > max_bytes:  # it grew while we looked
            raise FetchError(url, f"file larger than {max_bytes} bytes")
    except FileNotFoundError as e:
        raise FetchError(url, "no such file") from e
    except IsADirectoryError as e:
        raise FetchError(url, "is a folder, not a file") from e
    except OSError as e:
        raise FetchError(url, f"cannot read: {e.strerror or e}") from e
    return Fetched(url, final_url, 200, body, None, etag, last_modified, clock() - started, 1)


def file_not_modified(validators: Validators, etag: str, mtime: float) -> bool:
    if validators.etag is not None:  # If-None-Match wins over If-Modified-Since (RFC 9110)
        return any(t.strip() in (etag, "*") for t in validators.etag.split(","))
    since = parse_http_date(validators.last_modified)
    return since is not None and int(mtime) <= since


def read_local(url: str, max_bytes: int = MAX_BYTES) -> Response:
    """Read a ``file://`` URL or a plain path (size-limited); raises FetchError."""
    path = local_path(url)
    if path is None:
        raise FetchError(url, "not a local file")
    fetched = read_file(url, path, max_bytes, None, time.monotonic)
    return Response(url=fetched.final_url, status=200, body=fetched.body)

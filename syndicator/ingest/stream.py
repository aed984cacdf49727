"""Documents an operator names (`syndicator ingest FILE…`): opened, and read as a stream in
batches, in bounded memory whatever their size. Nothing here stores them.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from syndicator.config import Config
from syndicator.errors import ExtractError, FetchError
from syndicator.fetch import (
    MAX_BYTES,
    fetch_once,
    local_path,
)
from syndicator.ingest.document import read_document
from syndicator.ingest.pushed import PUSH_SOURCE, article_from_object, parse_ndjson
from syndicator.model import Article

STREAM_BATCH = 500  # articles read, then stored, per step of a streamed ingest
_HEAD = 64 * 1024  # bytes read first, to tell what a named document is


@dataclass
class Batch:
    """Articles read from a pushed document, to be stored together, with the problems met
    while reading them (each naming its document, and its line in NDJSON) and how many bytes
    of the document were read by then."""

    articles: list[Article]
    errors: list[str]
    position: int


class _Rejoined(io.RawIOBase):
    """A stream whose first bytes were already read (to tell what it is), made whole again;
    counts the bytes read through it."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = memoryview(head)
        self._rest = rest
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(target), len(self._head))
            target[:n] = self._head[:n]
            self._head = self._head[n:]
        else:
            data = self._rest.read(len(target))
            n = len(data)
            target[:n] = data
        self.position += n
        return n


def read_stream(
    stream: BinaryIO,
    url: str,
    *,
    config: Config | None,
    now: datetime,
    source_id: str = PUSH_SOURCE,
    content_type: str | None = None,
    batch: int = STREAM_BATCH,
) -> Iterator[Batch]:
    """The articles of a document an operator pushes in (``syndicator ingest``), ``batch`` at
    a time, in bounded memory whatever the document's size.

    NDJSON of ARTICLE objects is read a line at a time: a bad line fails alone, named by its
    number; a line longer than ``max_bytes`` (the bound of one pushed article) is skipped as an
    error. What is not NDJSON (an HTML page, a feed, a text dump, a JSON Feed, one JSON object
    spread over lines) is read whole, then as :func:`read_document` reads it."""
    limit = config.service.max_bytes if config else MAX_BYTES
    head = stream.read(_HEAD)
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") and not _first_line_is_json(head):
        # Not one JSON object a line, or one line longer than the head: a single document
        # when it is no larger than one pushed body may be, else NDJSON with a bad first line.
        head += stream.read(limit + 1 - len(head))
        if len(head) <= limit:
            yield from _whole(head, url, config, now, source_id, content_type, batch)
            return
    elif not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        yield from _whole(head + stream.read(), url, config, now, source_id, content_type, batch)
        return
    raw = _Rejoined(head, stream)
    reader = io.BufferedReader(raw, buffer_size=_HEAD)
    if _is_json_feed_head(head):
        yield from _whole(reader.read(), url, config, now, source_id, content_type, batch)
        return
    articles: list[Article] = []
    errors: list[str] = []
    for n, obj in _ndjson_lines(reader, limit):
        if isinstance(obj, _NotJSON):
            errors.append(f"{url} line {n}: {obj}")
            continue
        try:
            articles.append(article_from_object(obj, config=config, now=now, source_id=source_id))
        except ExtractError as e:
            errors.append(f"{url} line {n}: {e}")
        if len(articles) >= batch:
            yield Batch(articles, errors, raw.position)
            articles, errors = [], []
    yield Batch(articles, errors, raw.position)


class _NotJSON(str):
    """Why a line is not JSON."""


def _ndjson_lines(reader: BinaryIO, limit: int) -> Iterator[tuple[int, Any]]:
    """(line number, object) for each line that is not blank, or (line number, why) for a line
    that is not JSON (a :class:`_NotJSON`)."""
    n = 0
    while True:
        line = reader.readline(limit + 1)
        if not line:
            return
        n += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # the rest of the line, unread
                line = reader.readline(_HEAD)
            yield n, _NotJSON(f"longer than {limit} bytes (max_bytes): skipped")
            continue
        if not line.strip():
            continue
        try:
            yield n, json.loads(line.decode("utf-8", errors="replace"))
        except json.JSONDecodeError as e:
            yield n, _NotJSON(f"not JSON ({e.msg} at column {e.colno})")
        except RecursionError:
            yield n, _NotJSON("not JSON (nested too deeply)")
        except ValueError:  # a number past the digits int() takes
            digits = sys.get_int_max_str_digits()
            yield n, _NotJSON(f"not JSON (a number of more than {digits} digits)")


def _first_line(head: bytes) -> bytes | None:
    """The first line of ``head`` that is not blank, if it ends within ``head``."""
    for line in head.split(b"\n")[:-1]:
        if line.strip():
            return line
    return None


def _first_line_is_json(head: bytes) -> bool:
    line = _first_line(head)
    if line is None:
        return False
    try:
        json.loads(line.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return False
    return True


def _is_json_feed_head(head: bytes) -> bool:
    """Whether the first line is a whole JSON Feed (read as a feed, not as an article)."""
    line = _first_line(head)
    try:
        obj = json.loads(line.decode("utf-8", errors="replace")) if line else None
    except (ValueError, RecursionError):
        return False
    return isinstance(obj, dict) and str(obj.get("version", "")).startswith(
        ("https://jsonfeed.org", "http://jsonfeed.org")
    )


def _whole(
    body: bytes,
    url: str,
    config: Config | None,
    now: datetime,
    source_id: str,
    content_type: str | None,
    batch: int,
) -> Iterator[Batch]:
    """A document read whole: one JSON object (or NDJSON small enough), else any document
    :func:`read_document` reads; its articles ``batch`` at a time."""
    articles: list[Article] = []
    errors: list[str] = []
    try:
        parsed = parse_ndjson(body)
        if parsed is not None:
            objects, not_json = parsed
            errors.extend(f"{url} {e}" for e in not_json)
            for n, obj in objects:
                try:
                    articles.append(
                        article_from_object(obj, config=config, now=now, source_id=source_id)
                    )
                except ExtractError as e:
                    errors.append(f"{url} line {n}: {e}")
        else:
            document = read_document(body, url, now=now, config=config, content_type=content_type)
            articles.extend(document.articles)
            errors.extend(document.errors)
            if not document.articles:
                errors.append(f"{url}: no article in this document")
    except ExtractError as e:
        errors.append(f"{url}: {e.reason}")
    size = len(body)
    del body
    if not articles:
        yield Batch([], errors, size)
    for start in range(0, len(articles), batch):
        yield Batch(articles[start : start + batch], errors if start == 0 else [], size)


def open_document(
    doc: str, *, user_agent: str | None = None, max_bytes: int = MAX_BYTES
) -> tuple[BinaryIO, str, str | None]:
    """A document named on the command line, open for reading: ``-`` (standard input) and
    local files as streams of any size; a URL fetched whole (``max_bytes`` bounds what comes
    over the network). Returns (stream, URL, content type); raises FetchError."""
    if doc == "-":
        return sys.stdin.buffer, "stdin:", None
    path = local_path(doc)
    if path is not None:
        try:
            if path.is_dir():
                raise FetchError(doc, "is a folder, not a file")
            return path.open("rb"), path.resolve().as_uri(), None
        except FileNotFoundError as e:
            raise FetchError(doc, "no such file") from e
        except OSError as e:
            raise FetchError(doc, f"cannot read: {e.strerror or e}") from e
    response = (
        fetch_once(doc, user_agent=user_agent, max_bytes=max_bytes)
        if user_agent
        else (fetch_once(doc, max_bytes=max_bytes))
    )
    return io.BytesIO(response.body), response.url, response.content_type

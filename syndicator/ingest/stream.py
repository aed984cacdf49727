"""Documents an operator names (`syndicator ingest FILE…`): opened, and read as a stream in
batches, in bounded memory whatever their size. Nothing here stores them.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from syndicator import processes
from syndicator.config import Config
from syndicator.errors import ExtractError, FetchError
from syndicator.fetch import (
    MAX_BYTES,
    fetch_once,
    local_path,
)
from syndicator.ingest.document import read_document
from syndicator.ingest.pushed import PUSH_SOURCE, article_from_object, not_json, parse_ndjson
from syndicator.model import Article

STREAM_BATCH = 500  # articles read, then stored, per step of a streamed ingest
_HEAD = 64 * 1024  # bytes read first, to tell what a named document is
CHUNK_LINES = 250  # NDJSON lines a reader process is given at once
CHUNK_BYTES = 4 * 1024 * 1024  # … or fewer, when they hold this much (one line at least)
READER_NICENESS = 5  # how much lower reader processes run than the command (reader_processes)
_BOM = b"\xef\xbb\xbf"  # UTF-8's byte order mark
FIRST_CHUNKS = 4  # chunks each reader is sent at once: read while the command opens its store


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
    workers: int = 0,
) -> Iterator[Batch]:
    """The articles of a document an operator pushes in (``syndicator ingest``), ``batch`` at
    a time, in bounded memory whatever the document's size.

    NDJSON of ARTICLE objects is read a line at a time: a bad line fails alone, named by its
    number; a line longer than ``max_bytes`` (the bound of one pushed article) is skipped as an
    error. With ``workers``, a document of more than one chunk of lines is read by that many
    reader processes (see :func:`reader_processes`) while the caller stores what they read:
    the same articles, errors and batches, in the same order. What is not NDJSON (an HTML
    page, a feed, a text dump, a JSON Feed, one JSON object spread over lines) is read whole,
    then as :func:`read_document` reads it."""
    limit = config.service.max_bytes if config else MAX_BYTES
    head = stream.read(_HEAD)
    if head.startswith(_BOM) and head[len(_BOM) :].lstrip(b" \t\r\n").startswith(b"{"):
        # JSON saved with a byte order mark (an editor's UTF-8): it is not part of the first
        # line. (An HTML page or a feed keeps it: there it tells the encoding.)
        head = head[len(_BOM) :]
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
    lines = _ndjson_lines(reader, limit)
    read = _Reading(config, now, source_id)
    for lines_read, position in _read_lines_of(lines, read, workers, lambda: raw.position):
        for n, got in lines_read:
            if isinstance(got, str):
                errors.append(f"{url} line {n}: {got}")
            else:
                articles.append(got)
            if len(articles) >= batch:
                yield Batch(articles, errors, position)
                articles, errors = [], []
    yield Batch(articles, errors, raw.position)


def read_documents(
    documents: Iterable[tuple[bytes | BinaryIO, str, str | None]],
    *,
    config: Config | None,
    now: datetime,
    source_id: str = PUSH_SOURCE,
    workers: int = 0,
) -> Generator[tuple[str, Batch], None, None]:
    """The batches of each document (bytes, or a stream; its URL; its content type), as
    :func:`read_stream` reads them, each with its document's URL, in order. A disk error while
    a document is read, or a reader process killed, ends it with a batch of that one error
    (the batches before it stand; the one being gathered is lost), and the next document is
    read."""
    for body, url, content_type in documents:
        stream = io.BytesIO(body) if isinstance(body, bytes) else body
        position = 0
        try:
            for batch in read_stream(
                stream,
                url,
                config=config,
                now=now,
                source_id=source_id,
                content_type=content_type,
                workers=workers,
            ):
                position = batch.position
                yield url, batch
        except OSError as e:
            yield url, Batch([], [f"{url}: cannot read: {e.strerror or e}"], position)
        except processes.WorkerLost as e:
            yield url, Batch([], [f"{url}: reading stopped: {e}; the rest was not read"], position)


# --------------------------------------------------------------------------------------------
# NDJSON lines read into articles, in this process or, for a large document, in reader
# processes on the other cores while this one stores what they read


@dataclass(frozen=True, slots=True)
class _Reading:
    """What every line of one document is read with."""

    config: Config | None
    now: datetime
    source_id: str

    def lines(self, lines: list[tuple[int, bytes | str]]) -> list[tuple[int, Article | str]]:
        """Each line (or why it was not read, a :class:`_NotJSON`) as an article, or why it is
        not one: one bad line fails alone, by its number, as in :func:`read_stream`."""
        out: list[tuple[int, Article | str]] = []
        for n, line in lines:
            obj = line if isinstance(line, str) else _decoded(line)
            if isinstance(obj, _NotJSON):
                out.append((n, str(obj)))
                continue
            try:
                out.append(
                    (
                        n,
                        article_from_object(
                            obj, config=self.config, now=self.now, source_id=self.source_id
                        ),
                    )
                )
            except ExtractError as e:
                out.append((n, str(e)))
        return out


def _chunks(
    lines: Iterator[tuple[int, bytes | str]], position: Callable[[], int]
) -> Iterator[tuple[list[tuple[int, bytes | str]], int]]:
    """The lines in chunks of at most CHUNK_LINES lines and CHUNK_BYTES bytes (one line at
    least), each with the bytes of the document read by its end."""
    chunk: list[tuple[int, bytes | str]] = []
    size = 0
    for n, line in lines:
        chunk.append((n, line))
        size += len(line)
        if len(chunk) >= CHUNK_LINES or size >= CHUNK_BYTES:
            yield chunk, position()
            chunk, size = [], 0
    if chunk:
        yield chunk, position()


def _read_lines_of(
    lines: Iterator[tuple[int, bytes | str]],
    read: _Reading,
    workers: int,
    position: Callable[[], int],
) -> Iterator[tuple[list[tuple[int, Article | str]], int]]:
    """The lines read into articles, in order, with the bytes of the document read by then:
    one at a time in this process, or in chunks by ``workers`` reader processes once the
    document is longer than one chunk (a few lines are not worth starting them). At most two
    chunks per reader are in flight, so memory stays bounded; the readers are gone when this
    ends, however it ends (an error, Ctrl-C, the caller stopping early)."""
    if workers < 1 or not processes.can_fork():
        for n, line in lines:
            yield read.lines([(n, line)]), position()
        return
    chunks = _chunks(lines, position)
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None)
    if second is None:
        yield read.lines(first[0]), first[1]
        return
    tasks = ((_read_chunk, (chunk, read_by)) for chunk, read_by in _chained(first, second, chunks))
    yield from processes.in_order(
        workers,
        tasks,
        started=_reader_started,
        startargs=(read,),
        nice=READER_NICENESS,
        initial=FIRST_CHUNKS,
    )


def _chained(
    first: tuple[list[tuple[int, bytes | str]], int],
    second: tuple[list[tuple[int, bytes | str]], int],
    rest: Iterator[tuple[list[tuple[int, bytes | str]], int]],
) -> Iterator[tuple[list[tuple[int, bytes | str]], int]]:
    yield first
    yield second
    yield from rest


def reader_processes() -> int:
    """Reader processes a large streamed document is read with: one per core, at most four
    (none on one core, or where processes are not forked). They run at a lower priority
    (``READER_NICENESS``) than the command, which stores what they read in turn: it keeps a
    core whenever it has work, and they share the other cores, and its own while it waits
    on them (with one reader fewer, a core idles whenever the command or its reader does)."""
    cores = processes.cores()
    return min(cores, 4) if cores > 1 and processes.can_fork() else 0


_READING: _Reading | None = None  # in a reader process: what its lines are read with


def _reader_started(read: _Reading) -> None:
    global _READING
    _READING = read


def _read_chunk(
    lines: list[tuple[int, bytes | str]], read_by: int
) -> tuple[list[tuple[int, Article | str]], int]:
    """One chunk of lines read, in a reader process."""
    assert _READING is not None
    return _READING.lines(lines), read_by


class _NotJSON(str):
    """Why a line is not JSON."""


def _ndjson_lines(reader: BinaryIO, limit: int) -> Iterator[tuple[int, bytes | str]]:
    """(line number, line) for each line that is not blank, or (line number, why) for a line
    too long to read (a :class:`_NotJSON`)."""
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
        yield n, line


def _decoded(line: bytes) -> Any:
    """A line's JSON value, or why it is not JSON (a :class:`_NotJSON`)."""
    try:
        return json.loads(line.decode("utf-8", errors="replace"))
    except json.JSONDecodeError as e:
        return _NotJSON(not_json(e))
    except RecursionError:
        return _NotJSON("not JSON (nested too deeply)")
    except ValueError:  # a number past the digits int() takes
        digits = sys.get_int_max_str_digits()
        return _NotJSON(f"not JSON (a number of more than {digits} digits)")


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

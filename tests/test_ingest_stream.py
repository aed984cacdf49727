"""``syndicator ingest`` of a file larger than ``max_bytes``: read as a stream, stored in
batches as it is read, one bad line failing alone with its number; memory bounded whatever the
file's size. Through the real command, on the store the test harness names."""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.commands import run_command, run_on_a_terminal, service_table

from syndicator import config as config_module
from syndicator.ingest import parse_ndjson, read_stream

WORDS = [
    "قال",
    "المتحدث",
    "باسم",
    "الحكومة",
    "إن",
    "الاجتماع",
    "الذي",
    "عقد",
    "في",
    "العاصمة",
    "ناقش",
    "خطة",
    "جديدة",
    "لتحسين",
    "شبكة",
    "النقل",
    "العام",
    "وتوسيع",
    "خطوط",
    "القطارات",
    "بين",
    "المدن",
    "الكبرى",
    "خلال",
    "السنوات",
    "المقبلة",
]
MAX_BYTES = 100_000


def article(n: int) -> dict[str, object]:
    words = [WORDS[(n * 7 + i * 3) % len(WORDS)] + str(n * 31 + i) for i in range(60)]
    return {
        "url": f"https://news.example/2026/story-{n}.html",
        "title": f"خبر رقم {n}",
        "section": "أوروبا",
        "published": "2026-02-03T10:00:00Z",
        "paragraphs": [" ".join(words[:30]) + ".", " ".join(words[30:]) + "."],
    }


def deployment(folder: Path) -> Path:
    config = folder / "syndicator.toml"
    config.write_text(
        service_table(folder, f"max_bytes = {MAX_BYTES}\n")
        + """
[[region]]
id = "europe"
title = "أوروبا"
language = "ar"
sections = ["أوروبا"]
""",
        encoding="utf-8",
    )
    return config


@pytest.mark.e2e
def test_a_file_larger_than_max_bytes_is_streamed_and_a_bad_line_fails_alone(
    tmp_path: Path,
) -> None:
    config = deployment(tmp_path)
    count = 1200  # three batches of 500 and a part: stored as read
    lines = [json.dumps(article(n), ensure_ascii=False) for n in range(count)]
    lines[16] = '{"url": "https://news.example/broken", "title": '  # line 17: not JSON
    lines[32] = json.dumps({"url": "https://news.example/untitled"})  # line 33: no title
    lines[700] = json.dumps({**article(700), "padding": "x" * (MAX_BYTES + 10)})  # too long
    lines.insert(900, "")  # a blank line is no error; the lines after it keep their numbers
    path = tmp_path / "articles.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert path.stat().st_size > 5 * MAX_BYTES

    done = run_command(config, "ingest", "--json", str(path), timeout=300)
    assert done.returncode == 1, done.stderr  # some lines failed; the rest are stored
    assert "Traceback" not in done.stderr
    out = json.loads(done.stdout)
    changes = [r["change"] for r in out["results"]]
    assert changes == ["created"] * (count - 3)
    errors = out["errors"]
    assert len(errors) == 3, errors
    assert "line 17: not JSON" in errors[0]
    assert "line 33:" in errors[1] and "title" in errors[1]
    assert "line 701: longer than" in errors[2] and "max_bytes" in errors[2]
    urls = {r["url"] for r in out["results"]}
    assert "https://news.example/2026/story-1199.html" in urls  # the last line, after the blank
    assert "https://news.example/2026/story-700.html" not in urls
    summary = done.stderr.strip().splitlines()[-1]
    assert summary.startswith("ingest: 1,197 article(s) from 1 document(s)"), summary
    assert "1,197 created" in summary and "3 error(s)" in summary

    # The same file again: every article unchanged (the identity rules hold across batches).
    again = run_command(config, "ingest", str(path), timeout=300)
    assert again.returncode == 1
    results = [line.split()[0] for line in again.stdout.splitlines() if line.startswith("unch")]
    assert len(results) == count - 3
    assert "1,197 unchanged" in again.stderr.strip().splitlines()[-1]
    feed = (tmp_path / "feeds" / "europe.atom").read_text(encoding="utf-8")
    assert "story-1199.html" in feed

    # A file of one article smaller than max_bytes reads as before, even as one JSON object.
    one = tmp_path / "one.json"
    one.write_text(json.dumps(article(5000), ensure_ascii=False, indent=2), encoding="utf-8")
    single = run_command(config, "ingest", "--json", str(one), timeout=300)
    assert single.returncode == 0, single.stderr
    assert [r["change"] for r in json.loads(single.stdout)["results"]] == ["created"]


@pytest.mark.e2e
def test_a_store_that_cannot_be_opened_stops_the_readers_already_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first batch is read before the store is opened (the readers are forked first): when
    the store then cannot be opened, the command says so, without a traceback or a result,
    and leaves no reader behind. (A SQLite path, whatever store the suite runs on.)"""
    import os

    monkeypatch.delenv("SYNDICATOR_DATABASE", raising=False)
    config = deployment(tmp_path)
    (tmp_path / "not-a-folder").write_text("a file", encoding="utf-8")
    text = config.read_text(encoding="utf-8").replace(
        f"sqlite:///{tmp_path}/s.db", f"sqlite:///{tmp_path}/not-a-folder/s.db"
    )
    config.write_text(text, encoding="utf-8")
    path = tmp_path / "articles.ndjson"
    lines = [json.dumps(article(n), ensure_ascii=False) for n in range(1200)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    done = run_command(config, "ingest", "--json", str(path), timeout=300)
    assert done.returncode != 0
    assert "cannot open the store" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    left = []
    for stat in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(config).encode() in stat.read_bytes() and stat.parent.name != str(os.getpid()):
                left.append(stat.parent.name)
        except OSError:
            continue
    assert left == []


@pytest.mark.e2e
def test_ingest_shows_its_progress_on_a_terminal_and_clears_it(tmp_path: Path) -> None:
    """On a terminal the command rewrites one line as it stores (the document, the articles
    stored, the errors, how much of the file is read), and clears it before the summary."""
    import re

    config = deployment(tmp_path)
    lines = [json.dumps(article(n), ensure_ascii=False) for n in range(1200)]
    path = tmp_path / "articles.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    size = f"{path.stat().st_size / 1e6:,.1f}"

    shown = run_on_a_terminal(config, "ingest", str(path), timeout=300)
    progress = re.findall(
        r"\r\x1b\[K" + re.escape(str(path)) + r": ([\d,]+) stored, (\d+) error\(s\), "
        r"([\d.,]+) MB of ([\d.,]+) MB \((\d+) %\) read",
        shown,
    )
    assert progress, shown[-500:]
    stored = [int(n.replace(",", "")) for n, *_ in progress]
    assert stored[0] == 500 and stored[-1] == 1200 and stored == sorted(stored), stored
    assert progress[-1][1:] == ("0", size, size, "100")
    assert all(total == size for *_, total, _ in progress)
    summary = shown.rstrip().splitlines()[-1]
    assert summary.startswith("ingest: 1,200 article(s) from 1 document(s)"), summary[-300:]
    assert shown.rindex("\r\x1b[K") > shown.rindex(" read")  # cleared after the last one


class Lines(io.RawIOBase):
    """NDJSON made as it is read: ``count`` lines, each an article padded with spaces."""

    def __init__(self, count: int, padding: int) -> None:
        self.lines: Iterator[bytes] = (
            json.dumps(article(n)).encode() + b" " * padding + b"\n" for n in range(count)
        )
        self.left = b""
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: object) -> int:
        target = memoryview(buffer).cast("B")  # type: ignore[arg-type]
        while len(self.left) < len(target):
            line = next(self.lines, None)
            if line is None:
                break
            self.left += line
        n = min(len(target), len(self.left))
        target[:n] = self.left[:n]
        self.left = self.left[n:]
        self.size += n
        return n


@pytest.mark.slow
def test_reading_takes_bounded_memory_whatever_the_size(tmp_path: Path) -> None:
    config = config_module.load(deployment(tmp_path))
    stream = Lines(count=4000, padding=5000)  # 20 MB, made as it is read
    now = datetime(2026, 2, 3, 12, tzinfo=UTC)
    tracemalloc.start()
    try:
        read = 0
        for batch in read_stream(
            io.BufferedReader(stream), "file:///big.ndjson", config=config, now=now
        ):
            assert not batch.errors, batch.errors[:3]
            read += len(batch.articles)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert read == 4000
    assert stream.size > 20_000_000
    # A batch of 500 small articles and the read buffers: a few MB, never the file's 20 MB.
    assert peak < 8_000_000, peak


LINE_BREAKS = ["\u2028", "\u2029", "\u0085"]  # str.splitlines() breaks; JSON strings hold them


def with_breaks(n: int) -> dict[str, object]:
    """Article ``n`` with a character ``str.splitlines()`` takes for a line end in its title and
    in a paragraph (JSON lets a string hold it unescaped)."""
    char = LINE_BREAKS[n % len(LINE_BREAKS)]
    obj = article(n)
    obj["title"] = f"خبر{char}رقم {n}"
    obj["paragraphs"] = [f"{p}{char}{p}" for p in obj["paragraphs"]]  # type: ignore[attr-defined]
    return obj


def test_ndjson_bodies_are_cut_at_newlines_only() -> None:
    lines = [json.dumps(with_breaks(n), ensure_ascii=False) for n in range(3)]
    body = (lines[0] + "\r\n" + lines[1] + "\n\n" + lines[2] + "\n").encode()
    parsed = parse_ndjson(body)
    assert parsed is not None
    objects, errors = parsed
    assert errors == []
    assert objects == [(1, with_breaks(0)), (2, with_breaks(1)), (4, with_breaks(2))]
    # A bad line is still named by its number, counted in newlines.
    bad = (lines[0] + "\n{broken\n" + lines[1] + "\n").encode()
    parsed = parse_ndjson(bad)
    assert parsed is not None
    assert [n for n, _ in parsed[0]] == [1, 3]
    assert len(parsed[1]) == 1 and parsed[1][0].startswith("line 2: not JSON")


@pytest.mark.parametrize("first", ["good", "bad"], ids=["streamed", "read-whole"])
def test_a_named_ndjson_file_is_cut_at_newlines_only(tmp_path: Path, first: str) -> None:
    """``syndicator ingest FILE``: streamed a line at a time, or read whole when its first line
    is not JSON; either way each line is one article."""
    config = config_module.load(deployment(tmp_path))
    lines = [json.dumps(with_breaks(n), ensure_ascii=False) for n in range(6)]
    if first == "bad":
        lines.insert(0, "{not json")
    data = ("\n".join(lines) + "\n").encode()
    now = datetime(2026, 2, 3, 12, tzinfo=UTC)
    batches = list(read_stream(io.BytesIO(data), "file:///b.ndjson", config=config, now=now))
    articles = [a for b in batches for a in b.articles]
    errors = [e for b in batches for e in b.errors]
    if first == "bad":
        assert len(errors) == 1 and errors[0].startswith("file:///b.ndjson line 1: not JSON")
    else:
        assert errors == []
    assert [a.url for a in articles] == [with_breaks(n)["url"] for n in range(6)]
    for n, a in enumerate(articles):
        assert a.title.startswith("خبر") and a.title.endswith(f"رقم {n}"), a.title


# The reader tests read a document of eleven chunks, as the command reads one of 2,750 lines
# and more (CHUNK_LINES = 250): the order of the readers' results only shows past the chunks
# the readers are sent at the start (FIRST_CHUNKS each) and in flight after. Nothing they check
# depends on how long a chunk is, so they cut chunks of CHUNK lines (and batches of BATCH
# articles), a tenth of the command's (the command's own sizes: the end-to-end and slow tests
# above).
CHUNK = 25
BATCH = 50


def hostile_lines(count: int) -> bytes:
    """NDJSON of ``count`` articles with bad lines among them, in the first five chunks of
    CHUNK lines: not JSON, no title, a lone surrogate, an absurd date, a javascript: URL,
    control characters, a blank line."""
    lines = [json.dumps(article(n), ensure_ascii=False) for n in range(count)]
    lines[3] = '{"url": "https://news.example/broken", "title": '
    lines[CHUNK + 10] = json.dumps({"url": "https://news.example/untitled"})
    lines[2 * CHUNK + 11] = (
        '{"url": "https://news.example/s", "title": "\\ud800", "paragraphs": ["x"]}'
    )
    lines[2 * CHUNK + 40] = json.dumps({**article(140), "published": "99999-01-01T00:00:00Z"})
    lines[3 * CHUNK + 27] = json.dumps({**article(177), "url": "javascript:alert(1)"})
    lines[3 * CHUNK + 31] = json.dumps({**article(181), "title": "ctl \u0001\u0002 title"})
    lines.insert(3 * CHUNK + 40, "")
    return ("\n".join(lines) + "\n").encode()


def test_reader_processes_read_the_same_batches_as_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large document read by reader processes gives the same articles, errors (by line
    number) and batches, in the same order, as read here; and no reader is left after."""
    import multiprocessing

    from syndicator.ingest import stream

    monkeypatch.setattr(stream, "CHUNK_LINES", CHUNK)
    config = config_module.load(deployment(tmp_path))
    data = hostile_lines(260)  # and a blank line: eleven chunks, the last of eleven lines
    now = datetime(2026, 2, 3, 12, tzinfo=UTC)

    def read(workers: int) -> list[tuple[list[object], list[str]]]:
        batches = read_stream(
            io.BytesIO(data),
            "file:///h.ndjson",
            config=config,
            now=now,
            batch=BATCH,
            workers=workers,
        )
        return [(list(b.articles), list(b.errors)) for b in batches]

    here = read(0)
    assert [len(a) for a, _ in here] == [50, 50, 50, 50, 50, 5]
    # Errors in the first batch and in the second, in chunks 1 to 5, by their lines' numbers
    # (the blank line, in chunk 5, is no error: the lines after it keep their numbers).
    assert [[e.split(":", 2)[1] for e in batch] for _, batch in here] == [
        ["///h.ndjson line 4", "///h.ndjson line 36"],
        ["///h.ndjson line 62", "///h.ndjson line 91", "///h.ndjson line 103"],
        [],
        [],
        [],
        [],
    ], here
    assert read(2) == here
    assert read(1) == here
    assert multiprocessing.active_children() == []


def test_reader_processes_end_when_the_reading_stops_early(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import multiprocessing

    from syndicator.ingest import stream

    monkeypatch.setattr(stream, "CHUNK_LINES", CHUNK)
    config = config_module.load(deployment(tmp_path))
    now = datetime(2026, 2, 3, 12, tzinfo=UTC)
    batches = read_stream(
        io.BytesIO(hostile_lines(260)),
        "file:///h.ndjson",
        config=config,
        now=now,
        batch=BATCH,
        workers=2,
    )
    first = next(batches)  # three chunks of eleven read: the readers still have chunks in hand
    assert len(first.articles) == BATCH
    assert multiprocessing.active_children() != []
    batches.close()  # the caller stops (an error while storing, Ctrl-C)
    assert multiprocessing.active_children() == []


def test_an_article_crosses_to_the_command_whole() -> None:
    """Reader processes send articles pickled (as the tuple of their fields): each comes back
    equal, field for field, with its images, region reasons and dates, still frozen."""
    import dataclasses
    import pickle
    from datetime import timedelta, timezone

    from syndicator.model import Article, Image, RegionMatch

    article = Article(
        key="https://news.example/a",
        url="https://news.example/a?x=1",
        title="A title",
        paragraphs=("One.", "Two."),
        content_html="<p>One.</p><p>Two.</p>",
        content_hash="h",
        similarity="s",
        summary=None,
        authors=("Ann", "Bo"),
        published=datetime(2026, 2, 1, 3, tzinfo=timezone(timedelta(hours=2))),
        images=(Image(url="https://news.example/i.jpg", caption="A caption"),),
        complete=False,
        regions=(RegionMatch("europe", "section", "Europe"),),
    )
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(article, protocol=protocol))
        assert back == article
        assert [getattr(back, f.name) for f in dataclasses.fields(Article)] == [
            getattr(article, f.name) for f in dataclasses.fields(Article)
        ]
        assert back.images[0] == article.images[0] and back.regions[0] == article.regions[0]
        with pytest.raises(dataclasses.FrozenInstanceError):
            back.title = "changed"  # type: ignore[misc]


def _niceness(_: int) -> int:
    import os

    return os.nice(0)


def test_processes_run_below_the_command_by_their_niceness() -> None:
    """Workers started with ``nice`` yield to the command (which takes their results in
    turn); without it they run as it does."""
    import os

    from syndicator import processes

    if not processes.can_fork():
        pytest.skip("no forked processes here")
    own = os.nice(0)
    tasks = [(_niceness, (n,)) for n in range(3)]
    assert list(processes.in_order(1, iter(tasks))) == [own] * 3
    expected = min(own + 5, 19)
    assert list(processes.in_order(2, iter(tasks), nice=5)) == [expected] * 3


def test_reader_processes_one_per_core_at_most_four(monkeypatch: pytest.MonkeyPatch) -> None:
    from syndicator import processes
    from syndicator.ingest import stream

    monkeypatch.setattr(processes, "can_fork", lambda: True)
    counts = {}
    for cores in (1, 2, 3, 8):
        monkeypatch.setattr(processes, "cores", lambda cores=cores: cores)
        counts[cores] = stream.reader_processes()
    assert counts == {1: 0, 2: 2, 3: 3, 8: 4}
    monkeypatch.setattr(processes, "can_fork", lambda: False)
    assert stream.reader_processes() == 0


def test_readers_at_a_lower_priority_read_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However the chunks are spread over one or two readers, the articles, errors and
    batches are those read in one process."""
    from syndicator.ingest import stream

    monkeypatch.setattr(stream, "CHUNK_LINES", CHUNK)
    # Six chunks (the last of 29 lines), batches of 60 articles: a bad line every seventh
    lines = [json.dumps(article(n)) if n % 7 else "{not json" for n in range(1, 280)]
    body = ("\n".join(lines) + "\n").encode()
    now = datetime(2026, 12, 4, tzinfo=UTC)

    def batches(workers: int) -> list[tuple[list[str], list[str]]]:
        return [
            ([a.key + a.content_hash + a.similarity for a in b.articles], b.errors)
            for b in read_stream(
                io.BytesIO(body), "file:///x", config=None, now=now, batch=60, workers=workers
            )
        ]

    alone = batches(0)
    assert batches(1) == alone
    assert batches(2) == alone


class FailingAfter(io.RawIOBase):
    """A stream whose disk fails (EIO) once ``limit`` bytes of ``data`` are read."""

    def __init__(self, data: bytes, limit: int) -> None:
        self.data, self.limit, self.at = data, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: object) -> int:
        import errno

        if self.at >= self.limit:
            raise OSError(errno.EIO, "Input/output error")
        target = memoryview(buffer).cast("B")  # type: ignore[arg-type]
        n = min(len(target), self.limit - self.at)
        target[:n] = self.data[self.at : self.at + n]
        self.at += n
        return n


def test_a_disk_error_while_reading_ends_the_document_with_that_error(tmp_path: Path) -> None:
    """The batches completed before the error stand (a batch being gathered when the disk
    fails is not); the error comes last, as a batch of its own naming the document; the next
    document is read as usual."""
    from syndicator.ingest import read_documents

    config = config_module.load(deployment(tmp_path))
    lines = [json.dumps(article(n)).encode() + b"\n" for n in range(1200)]
    data = b"".join(lines)
    cut = len(b"".join(lines[:700])) + 10  # inside line 701
    now = datetime(2026, 2, 3, 12, tzinfo=UTC)
    documents = [
        (io.BufferedReader(FailingAfter(data, cut)), "file:///bad.ndjson", None),
        (lines[5] + lines[6], "file:///good.ndjson", None),
    ]
    got = list(read_documents(documents, config=config, now=now, workers=0))
    assert [(url, len(b.articles), b.errors) for url, b in got] == [
        ("file:///bad.ndjson", 500, []),
        ("file:///bad.ndjson", 0, ["file:///bad.ndjson: cannot read: Input/output error"]),
        ("file:///good.ndjson", 2, []),
    ]
    assert got[1][1].position == got[0][1].position


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "-1 is out of range: 0 (read in this process) to 32"),
        ("100000", "100000 is out of range"),
        ("two", "not a whole number: 'two'"),
    ],
)
def test_ingest_refuses_a_reader_count_out_of_range(
    value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--workers` forks that many readers at once: a negative count or a typo's thousands is
    a usage error (exit 2) saying the range, before anything is read or forked."""
    from syndicator.cli.parser import build_parser

    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["ingest", "--workers", value, "a.ndjson"])
    assert stopped.value.code == 2
    assert f"argument --workers: {message}" in capsys.readouterr().err
    args = build_parser().parse_args(["ingest", "--workers", "0", "a.ndjson"])
    assert args.workers == 0


def test_a_reader_killed_ends_its_document_with_that_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader process that ends abruptly (killed, out of memory) ends the reading of its
    document with an error saying so, not a traceback: the batches before stand, no reader is
    left, and the next document is read by new readers."""
    import multiprocessing
    import os

    from syndicator.ingest import read_documents, stream

    monkeypatch.setattr(stream, "CHUNK_LINES", 25)
    config = config_module.load(deployment(tmp_path))
    parent = os.getpid()
    lines_of = stream._Reading.lines

    def dies_on_line_301(self: object, lines: list[tuple[int, object]]) -> object:
        if os.getpid() != parent and any(n == 301 for n, _ in lines):
            os._exit(9)
        return lines_of(self, lines)  # type: ignore[arg-type]

    monkeypatch.setattr(stream._Reading, "lines", dies_on_line_301)
    lines = [json.dumps(article(n)).encode() + b"\n" for n in range(600)]
    now = datetime(2026, 2, 3, 12, tzinfo=UTC)
    documents = [
        (b"".join(lines), "file:///killed.ndjson", None),
        (b"".join(lines[:100]), "file:///next.ndjson", None),
    ]
    got = [
        (url, len(b.articles), b.errors)
        for url, b in read_documents(documents, config=config, now=now, workers=2)
    ]
    error = (
        "file:///killed.ndjson: reading stopped: a worker process ended abruptly (killed, or "
        "out of memory); the rest was not read"
    )
    assert got[-2:] == [("file:///killed.ndjson", 0, [error]), ("file:///next.ndjson", 100, [])]
    assert sum(n for url, n, _ in got if url == "file:///killed.ndjson") < 300
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("lines", [2, 300], ids=["read-whole", "streamed"])
def test_ndjson_starting_with_a_byte_order_mark_reads_every_line(
    tmp_path: Path, lines: int
) -> None:
    """Editors on Windows save UTF-8 with a BOM: the first line is still an article (it was
    the whole document's error, every line lost), whether the file is small or streamed."""
    config = config_module.load(deployment(tmp_path))
    body = b"\xef\xbb\xbf" + "".join(
        json.dumps(article(n), ensure_ascii=False) + "\n" for n in range(lines)
    ).encode("utf-8")
    now = datetime(2026, 2, 3, 12, tzinfo=UTC)
    batches = list(read_stream(io.BytesIO(body), "file:///bom.ndjson", config=config, now=now))
    assert [e for b in batches for e in b.errors] == []
    urls = [a.url for b in batches for a in b.articles]
    assert len(urls) == lines
    assert urls[0] == "https://news.example/2026/story-0.html"


def test_a_line_cut_short_says_why_in_plain_words(tmp_path: Path) -> None:
    """The last line of a document that ended mid-string (a pipe closed early): its error
    reads as a sentence, in the streamed and in the whole reading alike ("starting at at
    column" before)."""
    config = config_module.load(deployment(tmp_path))
    now = datetime(2026, 2, 3, 12, tzinfo=UTC)
    whole = json.dumps(article(0), ensure_ascii=False) + "\n"
    cut = '{"url": "https://news.example/cut", "title": "Cut sh'
    for lines in (1, 300):  # read whole, then streamed
        body = (whole * lines + cut).encode("utf-8")
        batches = list(read_stream(io.BytesIO(body), "file:///c.ndjson", config=config, now=now))
        errors = [e for b in batches for e in b.errors]
        assert errors == [
            f"file:///c.ndjson line {lines + 1}: not JSON (Unterminated string starting at"
            f" column 46)"
        ], errors


def test_standard_input_named_twice_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ingest - -`: the second - is an error saying standard input is read once (it said
    "stdin:: empty document"); the first is read and stored."""
    import sys

    from syndicator import cli

    config = deployment(tmp_path)
    data = (json.dumps(article(1), ensure_ascii=False) + "\n").encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    assert cli.main(["--config", str(config), "ingest", "--json", "-", "-"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert [r["change"] for r in out["results"]] == ["created"]
    assert out["errors"] == ["-: standard input can be read once: the second - is skipped"]


@pytest.mark.parametrize("as_json", [True, False])
def test_a_store_failing_midway_ends_the_output_and_the_summary(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    as_json: bool,
) -> None:
    """The store failing after some batches were stored (a disk full, the database gone):
    the command still ends its output (`--json`: a whole JSON document), names the failure,
    prints its summary, and exits 1; the batches before stand."""
    from syndicator import cli
    from syndicator.errors import StoreError
    from syndicator.syndication import Syndication

    config = deployment(tmp_path)
    path = tmp_path / "articles.ndjson"
    lines = [json.dumps(article(n), ensure_ascii=False) for n in range(1200)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    push = Syndication.push
    calls = []

    def fails_the_second_time(self: Syndication, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise StoreError("the database failed (OperationalError: disk I/O error)")
        return push(self, *args, **kwargs)

    monkeypatch.setattr(Syndication, "push", fails_the_second_time)
    args = ["--config", str(config), "ingest", "--workers", "0", str(path)]
    assert cli.main(args[:3] + (["--json"] if as_json else []) + args[3:]) == 1
    shown = capsys.readouterr()
    stop = (
        "storing stopped: the database failed (OperationalError: disk I/O error) (the batches "
        "stored before it stand)"
    )
    if as_json:
        out = json.loads(shown.out)
        assert len(out["results"]) == 500 and out["errors"] == [stop]
    else:
        assert f"error: {stop}" in shown.err
    assert shown.err.strip().splitlines()[-1].startswith("ingest: 500 article(s) from 1")

"""Robustness: every odd and malformed feed in feedparser's own test corpus goes through the
extractor and the whole pure pipeline (extract → normalize → fingerprint) without a crash.

The corpus (~2,200 small files: bad encodings, broken markup, hostile entities, odd dates, every
RSS/Atom/RDF dialect) comes from feedparser's source distribution on PyPI. It is downloaded once
into ``.cache/corpus/`` under the repository and reused; without network the test is skipped.
The only exception a document may raise is :class:`~syndicator.errors.ExtractError`.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndicator.errors import ExtractError
from syndicator.extract import extract
from syndicator.ingest import read_document

CACHE = Path(__file__).resolve().parent.parent / ".cache" / "corpus"
REQUIREMENT = "feedparser==6.0.*"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
FEED_URL = "https://news.example/feeds/corpus.xml"
# Files that test HTTP behaviour name the Content-Type they were served with in a comment.
_SERVED_AS = re.compile(rb"^Header:\s*Content-type:\s*(.+?)\s*$", re.M | re.I)


def _corpus() -> Path:
    """feedparser's ``tests/`` folder, downloaded and unpacked into the cache the first time."""
    found = sorted(CACHE.glob("feedparser-6.0.*/tests"))
    if found:
        return found[-1]
    CACHE.mkdir(parents=True, exist_ok=True)
    if not sorted(CACHE.glob("feedparser-6.0.*.tar.gz")):
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--disable-pip-version-check",
            "--timeout",
            "30",
            "--dest",
            str(CACHE),
            REQUIREMENT,
        ]
        try:
            run = subprocess.run(command, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as e:
            pytest.skip(f"cannot download the feedparser corpus ({REQUIREMENT}): {e}")
        if run.returncode != 0:
            last = (run.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"cannot download the feedparser corpus ({REQUIREMENT}): {last}")
    archive = sorted(CACHE.glob("feedparser-6.0.*.tar.gz"))[-1]
    _unpack(archive)
    found = sorted(CACHE.glob("feedparser-6.0.*/tests"))
    if not found:
        pytest.fail(f"{archive.name} has no tests/ folder")
    return found[-1]


def _unpack(archive: Path) -> None:
    """Unpack a source distribution next to it, all or nothing (an interrupted run leaves none)."""
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        with tarfile.open(archive) as tar:
            tar.extractall(scratch, filter="data")
        for folder in Path(scratch).iterdir():
            if not (CACHE / folder.name).exists():
                folder.rename(CACHE / folder.name)


def _crash(path: Path, root: Path, stage: str, error: Exception) -> str:
    frame = traceback.extract_tb(error.__traceback__)[-1]
    where = f"{Path(frame.filename).name}:{frame.lineno}"
    return f"{path.relative_to(root)} [{stage}] {type(error).__name__} at {where}: {error}"


@pytest.mark.e2e
@pytest.mark.slow
def test_feedparser_corpus_never_crashes() -> None:
    root = _corpus()
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix != ".py")
    crashes: list[str] = []
    processed = 0
    for path in files:
        body = path.read_bytes()
        processed += 1
        try:
            extract(body, FEED_URL, kind="feed")
        except ExtractError:
            pass
        except Exception as e:  # the point of the test: collect, do not stop at the first
            crashes.append(_crash(path, root, "extract", e))
        try:
            read_document(body, FEED_URL, now=NOW, kind="feed")
        except ExtractError:
            pass
        except Exception as e:
            crashes.append(_crash(path, root, "read_document", e))
        served_as = _SERVED_AS.search(body[:2048])
        if served_as:
            content_type = served_as.group(1).decode("latin-1")
            try:
                read_document(body, FEED_URL, now=NOW, kind="feed", content_type=content_type)
            except ExtractError:
                pass
            except Exception as e:
                crashes.append(_crash(path, root, f"read_document as {content_type}", e))
    assert processed > 2000, f"only {processed} corpus files under {root}"
    assert not crashes, f"{len(crashes)} crashes in {processed} files, first ones:\n" + "\n".join(
        crashes[:8]
    )


# Regressions the corpus run found, pinned on small documents.

_ARABIC_RSS = (
    "<rss version='2.0'><channel><title>أخبار</title><item><title>بوتين في فيتنام</title>"
    "<link>https://news.example/a</link><pubDate>Thu, 20 Jun 2024 05:15:00 GMT</pubDate>"
    "</item></channel></rss>"
).encode()


@pytest.mark.parametrize("content_type", [None, "text/xml", "text/html", "text/plain"])
def test_utf8_feed_without_declaration_is_read_as_utf8(content_type: str | None) -> None:
    extraction = extract(_ARABIC_RSS, FEED_URL, kind="feed", content_type=content_type)
    assert extraction.title == "أخبار"
    assert [a.title for a in extraction.articles] == ["بوتين في فيتنام"]


def test_missing_updated_is_not_borrowed_from_published() -> None:
    (draft,) = extract(_ARABIC_RSS, FEED_URL, kind="feed").articles
    assert draft.published == "Thu, 20 Jun 2024 05:15:00 GMT"
    assert draft.updated is None

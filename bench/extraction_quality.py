"""Extraction quality: body text of real news pages against hand-checked gold texts.

The pages and gold texts are newspaper4k's test data (``tests/data/html/NAME.html`` with
``tests/data/txt/NAME.txt``), taken from its source distribution on PyPI and cached in
``.cache/corpus/``. On every page that has a gold text, two extractors run in the same process:

- ours: ``syndicator.extract.extract(body, url, kind="article")`` then ``normalize_article``;
  the body text is the article's paragraphs joined;
- trafilatura (``pip install -e '.[bench]'``), default settings without comments.

Score: token-level precision, recall and F1 of the body text against the gold text, as bags of
tokens with counts. Tokens are Unicode words (letters, digits and combining marks, NFKC,
casefolded); in scripts written without spaces (Han, kana, Thai, Lao, Khmer, Myanmar) every
character is a token. Prints one row per page and the means.

    .venv/bin/python bench/extraction_quality.py [--only NAME] [--show NAME] [--no-trafilatura]
"""

from __future__ import annotations

import argparse
import difflib
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from syndicator.errors import ExtractError
from syndicator.extract import extract
from syndicator.normalize import normalize_article

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "corpus"
NOW = datetime(2026, 1, 1, tzinfo=UTC)

# Scripts written without spaces between words: one token per character.
_CHARACTER_SCRIPTS = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x31FF),  # Bopomofo, kana extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFF9F),  # half-width katakana
    (0x20000, 0x3134F),  # CJK extensions B–G
)


def _by_character(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CHARACTER_SCRIPTS)


def tokens(text: str) -> Counter[str]:
    """The bag of word tokens of a text (see the module docstring)."""
    bag: Counter[str] = Counter()
    word: list[str] = []
    for ch in unicodedata.normalize("NFKC", text).casefold():
        if unicodedata.category(ch)[0] in "LNM":
            if _by_character(ch):
                if word:
                    bag["".join(word)] += 1
                    word = []
                bag[ch] += 1
            else:
                word.append(ch)
        elif word:
            bag["".join(word)] += 1
            word = []
    if word:
        bag["".join(word)] += 1
    return bag


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float
    tokens: int

    @classmethod
    def of(cls, text: str, gold: Counter[str]) -> Score:
        got = tokens(text)
        overlap = sum((got & gold).values())
        p = overlap / sum(got.values()) if got else 0.0
        r = overlap / sum(gold.values()) if gold else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return cls(p, r, f, sum(got.values()))


def ours(body: bytes, url: str) -> str:
    try:
        extraction = extract(body, url, kind="article")
    except ExtractError:
        return ""
    if not extraction.articles:
        return ""
    article = normalize_article(extraction.articles[0], now=NOW)
    return "\n\n".join(article.paragraphs)


def trafilatura_extractor() -> Callable[[bytes, str], str] | None:
    try:
        import trafilatura
    except ImportError:
        return None

    def run(body: bytes, url: str) -> str:
        with warnings.catch_warnings():  # its date parser warns about zone names
            warnings.simplefilter("ignore")
            return trafilatura.extract(body, url=url, include_comments=False) or ""

    return run


def corpus() -> Path:
    """newspaper4k's ``tests/data`` folder, downloaded into the cache the first time."""
    found = sorted(CACHE.glob("newspaper4k-*/tests/data"))
    if found:
        return found[-1]
    CACHE.mkdir(parents=True, exist_ok=True)
    if not sorted(CACHE.glob("newspaper4k-*.tar.gz")):
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--disable-pip-version-check",
            "--dest",
            str(CACHE),
            "newspaper4k",
        ]
        subprocess.run(command, check=True)
    archive = sorted(CACHE.glob("newspaper4k-*.tar.gz"))[-1]
    _unpack(archive)
    return sorted(CACHE.glob("newspaper4k-*/tests/data"))[-1]


def _unpack(archive: Path) -> None:
    """Unpack a source distribution next to it, all or nothing (an interrupted run leaves none)."""
    with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
        with tarfile.open(archive) as tar:
            tar.extractall(scratch, filter="data")
        for folder in Path(scratch).iterdir():
            if not (CACHE / folder.name).exists():
                folder.rename(CACHE / folder.name)


def page_url(data: Path, name: str) -> str:
    meta = data / "metadata" / f"{name}.json"
    if meta.exists():
        url = json.loads(meta.read_text(encoding="utf-8")).get("url")
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            return url
    return f"https://news.example/{name}.html"


def show(name: str, text: str, gold: str) -> None:
    """Our paragraphs against the gold text, line by line."""
    ours_lines = [line for line in text.split("\n") if line.strip()]
    gold_lines = [line.strip() for line in gold.split("\n") if line.strip()]
    for line in difflib.unified_diff(gold_lines, ours_lines, "gold", "ours", lineterm="", n=0):
        print(line[:220])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", help="only this page (repeatable)")
    parser.add_argument("--show", help="print our text against the gold text for this page")
    parser.add_argument("--no-trafilatura", action="store_true", help="score ours only")
    args = parser.parse_args()

    data = corpus()
    version = data.parent.parent.name
    names = sorted(
        p.stem for p in (data / "html").glob("*.html") if (data / "txt" / f"{p.stem}.txt").exists()
    )
    if args.only:
        names = [n for n in names if n in args.only]
    other = None if args.no_trafilatura else trafilatura_extractor()
    if other is None and not args.no_trafilatura:
        print("trafilatura is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 2

    print(f"{len(names)} pages with gold text from {version}\n")
    header = f"{'page':<22} {'P':>5} {'R':>5} {'F1':>5}"
    print(f"{'':22} {'ours':^17}" + (f"   {'trafilatura':^17}" if other else ""))
    print(header + (f"   {'P':>5} {'R':>5} {'F1':>5}" if other else ""))
    rows: list[tuple[Score, Score | None]] = []
    seconds = {"ours": 0.0, "trafilatura": 0.0}
    for name in names:
        body = (data / "html" / f"{name}.html").read_bytes()
        gold_text = (data / "txt" / f"{name}.txt").read_text(encoding="utf-8")
        gold = tokens(gold_text)
        url = page_url(data, name)
        start = time.perf_counter()
        text = ours(body, url)
        seconds["ours"] += time.perf_counter() - start
        mine = Score.of(text, gold)
        theirs = None
        if other is not None:
            start = time.perf_counter()
            theirs = Score.of(other(body, url), gold)
            seconds["trafilatura"] += time.perf_counter() - start
        rows.append((mine, theirs))
        line = f"{name[:22]:<22} {mine.precision:5.2f} {mine.recall:5.2f} {mine.f1:5.2f}"
        if theirs is not None:
            line += f"   {theirs.precision:5.2f} {theirs.recall:5.2f} {theirs.f1:5.2f}"
        print(line)
        if args.show == name:
            show(name, text, gold_text)

    def mean(values: list[float]) -> float:
        return statistics.fmean(values) if values else 0.0

    print("-" * len(header + ("   " + header[23:] if other else "")))
    mine_rows = [m for m, _ in rows]
    line = (
        f"{'mean':<22} {mean([s.precision for s in mine_rows]):5.3f}"
        f"{mean([s.recall for s in mine_rows]):6.3f}{mean([s.f1 for s in mine_rows]):6.3f}"
    )
    if other is not None:
        their_rows = [t for _, t in rows if t is not None]
        line += (
            f"   {mean([s.precision for s in their_rows]):5.3f}"
            f"{mean([s.recall for s in their_rows]):6.3f}{mean([s.f1 for s in their_rows]):6.3f}"
        )
    print(line)
    timing = f"ours {seconds['ours']:.2f}s"
    if other is not None:
        timing += f", trafilatura {seconds['trafilatura']:.2f}s"
    print(f"\ntime for {len(names)} pages: {timing}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

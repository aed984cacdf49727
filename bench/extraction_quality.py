"""Extraction quality: body text and metadata of real pages against gold, beside trafilatura.

Two corpora, ``--corpus readability`` (the default) or ``--corpus newspaper4k``:

- ``readability``: Mozilla Readability's test pages in ``../shared/corpora/readability/`` (or
  ``--corpus-dir``): ``source.html``, the text of ``expected.html`` as the gold body, and
  ``expected-metadata.json`` for the title, byline, language, direction and publication time.
  The corpus is not part of the project: when its folder is absent the run says so and stops.
- ``newspaper4k``: newspaper4k's test data (``tests/data/html/NAME.html`` with
  ``tests/data/txt/NAME.txt``), taken from its source distribution on PyPI and cached in
  ``.cache/corpus/``.

Each page is read as ``syndicator extract`` reads it by default (no ``--kind``):
``extract(body, url)`` then ``normalize_article``; the body text is the article's paragraphs
joined, and a page read as a listing has no body (such pages are listed). trafilatura 2.x
(``pip install -e '.[bench]'``) reads the same pages in the same run, default settings without
comments, with its metadata.

Body score: token-level precision, recall and F1 against the gold text, as bags of tokens with
counts. Tokens are Unicode words (letters, digits and combining marks, NFKC, casefolded); in
scripts written without spaces (Han, kana, Thai, Lao, Khmer, Myanmar) every character is a token.
Metadata (readability only, where the gold states the field): title exact after whitespace is
collapsed, twice: ``title`` is the article's (the story's headline, which feeds show and the
content hash reads: no site name), ``page_title`` the page's title as the page states it (what
``extract`` reports for the document; trafilatura's one title stands for both); byline when
the names agree (one contains the other, case and spaces folded); lang when the primary
subtags agree; dir = rtl on every right-to-left page; published time when the instants
agree (to the day when one side has no time of day).

    .venv/bin/python bench/extraction_quality.py [--corpus readability|newspaper4k]
        [--only NAME] [--show NAME] [--worst 15] [--no-trafilatura]

Exits 1 when the corpus folder is absent, 2 when trafilatura is wanted and not installed.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lxml.html

from syndicator.direction import text_direction
from syndicator.errors import ExtractError
from syndicator.extract import extract
from syndicator.model import Article
from syndicator.normalize import normalize_article

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "corpus"
READABILITY = ROOT.parent / "shared" / "corpora" / "readability"
NOW = datetime(2026, 12, 31, tzinfo=UTC)

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


@dataclass
class Reading:
    """What one extractor made of a page."""

    text: str = ""
    kind: str = "article"  # "article", "listing" or "error: …"
    method: str = ""
    title: str | None = None
    page_title: str | None = None
    byline: str | None = None
    lang: str | None = None
    dir: str | None = None
    published: str | None = None


@dataclass
class Page:
    name: str
    body: bytes
    url: str
    gold_text: str
    meta: dict[str, Any] = field(default_factory=dict)


def ours(body: bytes, url: str) -> Reading:
    try:
        extraction = extract(body, url)
    except ExtractError as e:
        return Reading(kind=f"error: {e}")
    if not extraction.articles:
        return Reading(
            kind=extraction.kind,
            title=extraction.title,
            page_title=extraction.title,
            lang=extraction.language,
        )
    article: Article = normalize_article(extraction.articles[0], now=NOW)
    text = "\n\n".join(article.paragraphs)
    direction = getattr(article, "direction", None) or text_direction(article.language, text)
    return Reading(
        text=text,
        kind=extraction.kind,
        method=article.method,
        title=article.title,
        page_title=extraction.title,
        byline=", ".join(article.authors) or None,
        lang=article.language,
        dir=direction,
        published=article.published.isoformat() if article.published else None,
    )


def trafilatura_extractor() -> Callable[[bytes, str], Reading] | None:
    try:
        import trafilatura
    except ImportError:
        return None

    def run(body: bytes, url: str) -> Reading:
        with warnings.catch_warnings():  # its date parser warns about zone names
            warnings.simplefilter("ignore")
            doc = trafilatura.bare_extraction(
                body, url=url, include_comments=False, with_metadata=True
            )
        if doc is None:
            return Reading(kind="none")
        data = doc if isinstance(doc, dict) else doc.as_dict()
        text = data.get("text") or ""
        return Reading(
            text=text,
            title=data.get("title"),
            page_title=data.get("title"),
            byline=data.get("author"),
            lang=data.get("language"),
            dir=text_direction(data.get("language"), text),
            published=data.get("date"),
        )

    return run


# --------------------------------------------------------------------------------------------
# Corpora


def readability_pages(folder: Path) -> list[Page]:
    pages = []
    for page in sorted(p for p in folder.iterdir() if (p / "source.html").exists()):
        meta_file = page / "expected-metadata.json"
        meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.exists() else {}
        pages.append(
            Page(
                name=page.name,
                body=(page / "source.html").read_bytes(),
                url=f"http://fakehost/test/{page.name}/",  # the address Readability's tests use
                gold_text=html_text((page / "expected.html").read_text(encoding="utf-8")),
                meta=meta,
            )
        )
    return pages


_BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "header",
        "footer",
        "main",
        "aside",
        "nav",
        "ul",
        "ol",
        "li",
        "dl",
        "dt",
        "dd",
        "table",
        "tr",
        "td",
        "th",
        "thead",
        "tbody",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "pre",
        "blockquote",
        "figure",
        "figcaption",
        "br",
        "hr",
    ]
)


def html_text(markup: str) -> str:
    """The visible text of an HTML fragment, block elements on lines of their own."""
    if not markup.strip():
        return ""
    root = lxml.html.fragment_fromstring(markup, create_parent="div")
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag in _BLOCK_TAGS:
            el.tail = "\n" + (el.tail or "")
            el.text = "\n" + (el.text or "")
    for el in root.iter("script", "style"):
        el.text = ""
    return str(root.text_content())


def newspaper4k_pages() -> tuple[list[Page], str]:
    data = newspaper4k_corpus()
    pages = []
    for path in sorted((data / "html").glob("*.html")):
        txt = data / "txt" / f"{path.stem}.txt"
        if txt.exists():
            pages.append(
                Page(
                    name=path.stem,
                    body=path.read_bytes(),
                    url=page_url(data, path.stem),
                    gold_text=txt.read_text(encoding="utf-8"),
                )
            )
    return pages, data.parent.parent.name


def newspaper4k_corpus() -> Path:
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


# --------------------------------------------------------------------------------------------
# Metadata


def _folded(value: str | None) -> str:
    return " ".join((value or "").split()).casefold()


def title_right(got: str | None, want: str) -> bool:
    return " ".join((got or "").split()) == " ".join(want.split())


def byline_right(got: str | None, want: str) -> bool:
    a, b = _folded(got), _folded(want)
    return bool(a and b) and (a in b or b in a)


def lang_right(got: str | None, want: str) -> bool:
    def primary(tag: str | None) -> str:
        return re.split(r"[-_]", (tag or "").strip().lower())[0]

    return bool(got) and primary(got) == primary(want)


def published_right(got: str | None, want: str) -> bool:
    if not got:
        return False
    a, b = _instant(got), _instant(want)
    if a is None or b is None:
        return got[:10] == want[:10]
    if len(got) <= 10 or len(want) <= 10:
        return a.date() == b.date()
    return a == b


def _instant(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


FIELDS: dict[str, Callable[[str | None, str], bool]] = {
    "title": title_right,
    "page_title": title_right,
    "byline": byline_right,
    "lang": lang_right,
    "published": published_right,
}


def metadata_scores(reading: Reading, meta: dict[str, Any]) -> dict[str, bool]:
    """Each field the gold states, right or wrong; ``dir`` on right-to-left pages only."""
    out = {}
    keys = {
        "title": "title",
        "page_title": "title",
        "byline": "byline",
        "lang": "lang",
        "published": "publishedTime",
    }
    for name, key in keys.items():
        want = meta.get(key)
        if isinstance(want, str) and want.strip():
            out[name] = FIELDS[name](getattr(reading, name), want)
    if meta.get("dir") == "rtl":
        out["dir"] = reading.dir == "rtl"
    return out


# --------------------------------------------------------------------------------------------


def show(text: str, gold: str) -> None:
    """Our paragraphs against the gold text, line by line."""
    ours_lines = [line for line in text.split("\n") if line.strip()]
    gold_lines = [line.strip() for line in gold.split("\n") if line.strip()]
    for line in difflib.unified_diff(gold_lines, ours_lines, "gold", "ours", lineterm="", n=0):
        print(line[:220])


def why(reading: Reading, score: Score, gold_chars: int) -> str:
    if reading.kind.startswith("error"):
        return reading.kind
    if reading.kind == "listing":
        return "read as a listing: no body"
    if not reading.text:
        return f"no body ({reading.method or 'nothing found'})"
    if score.f1 < 0.2:
        return f"wrong block ({reading.method})"
    if score.recall < score.precision:
        return f"body cut short: {score.tokens} tokens for ~{gold_chars} chars of gold"
    return f"chrome kept in the body ({reading.method})"


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", choices=("readability", "newspaper4k"), default="readability")
    parser.add_argument("--corpus-dir", type=Path, help="the readability corpus folder")
    parser.add_argument("--only", action="append", help="only this page (repeatable)")
    parser.add_argument("--show", help="print our text against the gold text for this page")
    parser.add_argument("--worst", type=int, default=15, help="how many worst pages to list")
    parser.add_argument("--no-trafilatura", action="store_true", help="score ours only")
    args = parser.parse_args()

    if args.corpus == "readability":
        folder = args.corpus_dir or READABILITY
        if not folder.is_dir():
            print(
                f"the readability corpus is not at {folder}: it is not part of the project; "
                "name its folder with --corpus-dir",
                file=sys.stderr,
            )
            return 1
        pages, version = readability_pages(folder), f"Readability's test pages in {folder}"
    else:
        pages, version = newspaper4k_pages()
    if args.only:
        pages = [p for p in pages if p.name in args.only]
    other = None if args.no_trafilatura else trafilatura_extractor()
    if other is None and not args.no_trafilatura:
        print("trafilatura is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 2

    print(f"{len(pages)} pages with gold text from {version}\n")
    width = max([22, *(len(p.name) for p in pages)][:1]) if pages else 22
    header = f"{'page':<{width}} {'P':>5} {'R':>5} {'F1':>5}"
    print(f"{'':{width}} {'ours':^17}" + (f"   {'trafilatura':^17}" if other else ""))
    print(header + (f"   {'P':>5} {'R':>5} {'F1':>5}" if other else ""))
    rows: list[tuple[Page, Reading, Score, Reading | None, Score | None]] = []
    seconds = {"ours": 0.0, "trafilatura": 0.0}
    for page in pages:
        gold = tokens(page.gold_text)
        start = time.perf_counter()
        mine = ours(page.body, page.url)
        seconds["ours"] += time.perf_counter() - start
        my_score = Score.of(mine.text, gold)
        theirs, their_score = None, None
        if other is not None:
            start = time.perf_counter()
            theirs = other(page.body, page.url)
            seconds["trafilatura"] += time.perf_counter() - start
            their_score = Score.of(theirs.text, gold)
        rows.append((page, mine, my_score, theirs, their_score))
        s = my_score
        line = f"{page.name[:width]:<{width}} {s.precision:5.2f} {s.recall:5.2f} {s.f1:5.2f}"
        if their_score is not None:
            t = their_score
            line += f"   {t.precision:5.2f} {t.recall:5.2f} {t.f1:5.2f}"
        if mine.kind != "article":
            line += f"   [{mine.kind}]"
        print(line)
        if args.show == page.name:
            show(mine.text, page.gold_text)

    print("-" * (len(header) * 2))
    summary(rows, other is not None, width)
    scored = [r for r in rows if r[0].meta]
    if scored:
        metadata_summary(scored, other is not None)
    worst(rows, args.worst)
    listings = [r[0].name for r in rows if r[1].kind == "listing"]
    readerable = [r[0].name for r in rows if r[1].kind == "listing" and r[0].meta.get("readerable")]
    print(
        f"\npages read as listings: {len(listings)}"
        + (f" ({', '.join(listings)})" if listings else "")
    )
    if any(r[0].meta for r in rows):
        print(f"  of which the gold calls articles (readerable): {len(readerable)}")
    timing = f"ours {seconds['ours']:.2f}s ({len(rows) / max(seconds['ours'], 1e-9):.1f} pages/s)"
    if other is not None:
        rate = len(rows) / max(seconds["trafilatura"], 1e-9)
        timing += f", trafilatura {seconds['trafilatura']:.2f}s ({rate:.1f} pages/s)"
    print(f"\ntime for {len(rows)} pages (with metadata): {timing}")
    return 0


def summary(rows: list[Any], with_other: bool, width: int) -> None:
    def line(label: str, scores: list[Score]) -> str:
        return (
            f"{mean([s.precision for s in scores]):5.3f}{mean([s.recall for s in scores]):6.3f}"
            f"{mean([s.f1 for s in scores]):6.3f}"
        )

    text = f"{'mean':<{width}} " + line("ours", [r[2] for r in rows])
    if with_other:
        text += "   " + line("trafilatura", [r[4] for r in rows])
    print(text)
    big = [r for r in rows if len(r[0].gold_text.strip()) >= 200]
    missed = [r for r in big if r[2].f1 < 0.2]
    print(
        f"pages with ≥200 chars of gold: {len(big)}; F1 < 0.2: ours {len(missed)}"
        + (
            f", trafilatura {sum(r[4].f1 < 0.2 for r in big)}; ours only "
            f"{sum(r[2].f1 < 0.2 and r[4].f1 >= 0.2 for r in big)}"
            if with_other
            else ""
        )
    )


def metadata_summary(rows: list[Any], with_other: bool) -> None:
    print("\nmetadata (pages where the gold states the field): right / stated")
    for name in ("title", "page_title", "byline", "lang", "dir", "published"):
        mine = [metadata_scores(r[1], r[0].meta).get(name) for r in rows]
        stated = [m for m in mine if m is not None]
        if not stated:
            continue
        share = sum(stated) / len(stated)
        text = f"  {name:<10} ours {sum(stated):>3}/{len(stated):<3} ({share:6.1%})"
        if with_other:
            theirs = [metadata_scores(r[3], r[0].meta).get(name) for r in rows]
            t = [m for m in theirs if m is not None]
            text += f"   trafilatura {sum(t):>3}/{len(t):<3} ({sum(t) / len(t):6.1%})"
        wrong = [r[0].name for r in rows if metadata_scores(r[1], r[0].meta).get(name) is False]
        print(text + (f"   ours wrong: {', '.join(wrong[:12])}" if wrong else ""))


def worst(rows: list[Any], count: int) -> None:
    ranked = sorted(rows, key=lambda r: r[2].f1)[:count]
    if not ranked:
        return
    print(f"\nworst {len(ranked)} pages (ours):")
    for page, mine, score, _, their_score in ranked:
        theirs = f", trafilatura {their_score.f1:.2f}" if their_score is not None else ""
        reason = why(mine, score, len(page.gold_text.strip()))
        print(f"  {page.name:<28} F1 {score.f1:.2f}{theirs}: {reason}")


if __name__ == "__main__":
    sys.exit(main())

"""Extraction speed and memory on real pages, beside trafilatura's, in the same process and run.

Every page of a corpus goes through the whole pure pipeline — ``extract`` (as ``syndicator
extract`` reads a page: kind sniffed, article or listing), ``normalize_article`` (which computes
the content hash and the similarity signature) — and, in the same process and the same run,
through ``trafilatura.bare_extraction`` with its metadata. Runs alternate between the two, on one
core; the figure is the median of the runs in pages per second of CPU time (wall-clock time is
printed too). The largest page of the corpus is then read once in a fresh process of each kind,
and its peak resident memory (``ru_maxrss``) printed.

    .venv/bin/python bench/corpus_speed.py [--corpus readability|newspaper4k] [--runs 3]
                                           [--profile] [--path FOLDER]

``readability``: ``../shared/corpora/readability`` (130 real pages; see its README).
``newspaper4k``: its test pages, cached in ``.cache/corpus/`` by ``bench/extraction_quality.py
--corpus newspaper4k``. The bench says so and stops when the corpus is absent. Targets (issue
10): ours at ≥ 2.5× trafilatura's pages per second on the readability corpus; peak RSS < 300 MB
on the largest page.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from syndicator.errors import ExtractError
from syndicator.extract import extract
from syndicator.normalize import normalize_article

ROOT = Path(__file__).resolve().parent.parent
READABILITY = ROOT.parent / "shared" / "corpora" / "readability"
CACHE = ROOT / ".cache" / "corpus"
NOW = datetime(2026, 12, 31, tzinfo=UTC)
TARGET_RATIO = 2.5
TARGET_RSS_MB = 300

Pages = list[tuple[str, bytes, str]]  # name, body, URL


def readability(folder: Path) -> Pages:
    return [
        (page.name, (page / "source.html").read_bytes(), f"http://fakehost/test/{page.name}/")
        for page in sorted(folder.iterdir())
        if (page / "source.html").exists()
    ]


def newspaper4k(folder: Path | None) -> Pages:
    found = [folder] if folder else sorted(CACHE.glob("newspaper4k-*/tests/data"))
    if not found or not (found[-1] / "html").is_dir():
        return []
    data = found[-1]
    pages = []
    for html in sorted((data / "html").glob("*.html")):
        meta = data / "metadata" / f"{html.stem}.json"
        url = f"https://news.example/{html.stem}.html"
        if meta.exists():
            given = json.loads(meta.read_text(encoding="utf-8")).get("url")
            if isinstance(given, str) and given.startswith(("http://", "https://")):
                url = given
        pages.append((html.stem, html.read_bytes(), url))
    return pages


def ours(body: bytes, url: str) -> None:
    try:
        extraction = extract(body, url)
    except ExtractError:
        return
    for draft in extraction.articles:
        with contextlib.suppress(ExtractError):
            normalize_article(draft, now=NOW)


def trafilatura_reader() -> Callable[[bytes, str], None] | None:
    try:
        import trafilatura
    except ImportError:
        return None

    def run(body: bytes, url: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trafilatura.bare_extraction(body, url=url, include_comments=False, with_metadata=True)

    return run


def timed(read: Callable[[bytes, str], None], pages: Pages) -> tuple[float, float]:
    """Pages per second: of CPU time, and of wall-clock time."""
    start, start_cpu = time.perf_counter(), time.process_time()
    for _, body, url in pages:
        read(body, url)
    cpu = time.process_time() - start_cpu
    wall = time.perf_counter() - start
    return len(pages) / cpu, len(pages) / wall


def peak_rss(which: str, path: Path, url: str) -> float:
    """Peak resident memory (MB) of a fresh process that reads one page once."""
    done = subprocess.run(
        [sys.executable, __file__, "--rss-of", str(path), "--url", url, "--reader", which],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def rss_of(path: Path, url: str, which: str) -> int:
    body = path.read_bytes()
    read = ours if which == "ours" else trafilatura_reader()
    assert read is not None
    print(f"# before reading: {high_water_mb():.0f} MB")
    read(body, url)
    print(f"{high_water_mb():.1f}")
    return 0


def high_water_mb() -> float:
    """This process's peak resident memory: ``VmHWM`` (of this program alone: ``ru_maxrss``
    carries over what the parent had when it forked)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", choices=("readability", "newspaper4k"), default="readability")
    parser.add_argument(
        "--path", type=Path, help="the corpus folder, if not where it is looked for"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each; the median is reported")
    parser.add_argument(
        "--profile", action="store_true", help="print the top of a cProfile of ours"
    )
    parser.add_argument("--rss-of", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--reader", default="ours", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_of:
        return rss_of(args.rss_of, args.url, args.reader)

    if args.corpus == "readability":
        folder = args.path or READABILITY
        if not folder.is_dir():
            print(f"the readability corpus is not at {folder}: nothing to measure", file=sys.stderr)
            return 2
        pages = readability(folder)
    else:
        pages = newspaper4k(args.path)
        if not pages:
            print(
                "newspaper4k's pages are not cached: run "
                "`bench/extraction_quality.py --corpus newspaper4k` once to fetch them",
                file=sys.stderr,
            )
            return 2
    size = sum(len(body) for _, body, _ in pages)
    print(f"{args.corpus}: {len(pages)} pages, {size / 1e6:.1f} MB")
    print("load average at start: " + " ".join(f"{n:.2f}" for n in os.getloadavg()))
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    other = trafilatura_reader()
    for _, body, url in pages[:5]:  # imports and caches warm
        ours(body, url)
        if other:
            other(body, url)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _, body, url in pages:
            ours(body, url)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        return 0

    ours_cpu, ours_wall, other_cpu, other_wall = [], [], [], []
    for _ in range(args.runs):
        cpu, wall = timed(ours, pages)
        ours_cpu.append(cpu)
        ours_wall.append(wall)
        if other:
            cpu, wall = timed(other, pages)
            other_cpu.append(cpu)
            other_wall.append(wall)
    print(
        f"syndicator:  {statistics.median(ours_cpu):6.1f} pages/s of CPU time "
        f"({statistics.median(ours_wall):.1f} wall clock), runs "
        + ", ".join(f"{r:.1f}" for r in ours_cpu)
    )
    if other:
        ratio = statistics.median(ours_cpu) / statistics.median(other_cpu)
        print(
            f"trafilatura: {statistics.median(other_cpu):6.1f} pages/s of CPU time "
            f"({statistics.median(other_wall):.1f} wall clock), runs "
            + ", ".join(f"{r:.1f}" for r in other_cpu)
        )
        print(f"ratio: {ratio:.2f}× trafilatura's pages/s (target ≥ {TARGET_RATIO}×)")
    else:
        print("trafilatura is not installed (pip install -e '.[bench]'): no comparison")

    name, body, url = max(pages, key=lambda p: len(p[1]))
    if args.corpus == "readability":
        path: Path | None = (args.path or READABILITY) / name / "source.html"
    else:
        found = [args.path] if args.path else sorted(CACHE.glob("newspaper4k-*/tests/data"))
        path = found[-1] / "html" / f"{name}.html" if found else None
    if path is not None:
        mine = peak_rss("ours", path, url)
        line = f"largest page {name} ({len(body) / 1e6:.2f} MB): peak RSS {mine:.0f} MB"
        if other:
            line += f" (trafilatura {peak_rss('trafilatura', path, url):.0f} MB)"
        print(line + f", target < {TARGET_RSS_MB} MB")
    print("load average at end: " + " ".join(f"{n:.2f}" for n in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

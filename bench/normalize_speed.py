"""Normalizing alone: CPU time of ``normalize`` on ingest's articles and on real pages, and a
before/after comparison of its speed and of every output.

    .venv/bin/python bench/normalize_speed.py [--articles 2000] [--runs 5] [--corpus FOLDER]
                                              [--before TREE] [--dump FILE] [--profile]

Four sets of input, each normalized on one core and timed in CPU seconds (the median of
``--runs`` runs; the machine is shared, CPU time is the steadier measure):

- ``ingest``: ``--articles`` ARTICLE objects as ``bench/ingest.py`` generates them (six Arabic
  paragraphs, no declared language), each read as ``syndicator ingest`` reads one
  (``ingest.article_from_object``: URL and date checks, ``normalize_article``);
- ``corpus``: the drafts ``extract`` finds in the pages of the readability corpus
  (``../shared/corpora/readability``; skipped, and said so, when absent), each through
  ``normalize_article``; and ``corpus+extract``: the whole extract → normalize of those pages
  (the extractors call normalize's text, caption, byline, URL and body functions);
- ``page``: ``bench/throughput.py``'s 60 KB article page, extract → normalize.

``--before TREE`` (a checkout of the code to compare with, e.g. ``git worktree add --detach
/tmp/before main``): the runs alternate between that tree's ``syndicator`` and this one, each in
its own process, and every output of both (each Article and each extraction, written out with
``repr``) is compared: the bench prints the ratio of CPU times and says whether the outputs are
byte-identical (the first differences if not). ``--dump FILE`` writes this tree's outputs.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import importlib.util
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
READABILITY = ROOT.parent / "shared" / "corpora" / "readability"
NOW = datetime(2026, 12, 31, tzinfo=UTC)
SETS = ("ingest", "corpus", "corpus+extract", "page")


def bench_module(name: str) -> ModuleType:
    """Another script of bench/ (its generators), loaded from its file."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cpu_of(work: Callable[[], object]) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


class Inputs:
    """What the sets read, built once (untimed)."""

    def __init__(self, articles: int, corpus: Path) -> None:
        from syndicator.errors import ExtractError
        from syndicator.extract import extract

        self.objects = [bench_module("ingest").article(n) for n in range(articles)]
        self.pages: list[tuple[str, bytes, str]] = []
        if corpus.is_dir():
            self.pages = [
                (p.name, (p / "source.html").read_bytes(), f"http://fakehost/test/{p.name}/")
                for p in sorted(corpus.iterdir())
                if (p / "source.html").exists()
            ]
        self.drafts: list[Any] = []
        for _, body, url in self.pages:
            with contextlib.suppress(ExtractError):
                self.drafts.extend(extract(body, url).articles)
        throughput = bench_module("throughput")
        self.page: tuple[bytes, str] = (throughput.page(), throughput.URL)


def run_sets(inputs: Inputs, out: list[str] | None = None) -> dict[str, Callable[[], None]]:
    """One callable per set; with ``out``, each appends the repr of what it produced."""
    from syndicator.errors import ExtractError
    from syndicator.extract import extract
    from syndicator.ingest import article_from_object
    from syndicator.normalize import normalize_article

    def keep(name: str, value: object) -> None:
        if out is not None:
            out.append(f"{name}\t{value!r}")

    def ingest() -> None:
        for n, obj in enumerate(inputs.objects):
            keep(f"ingest {n}", article_from_object(obj, config=None, now=NOW))

    def corpus() -> None:
        for n, draft in enumerate(inputs.drafts):
            try:
                keep(f"corpus {n}", normalize_article(draft, now=NOW))
            except ExtractError as e:
                keep(f"corpus {n}", e)

    def pages(pages: list[tuple[str, bytes, str]]) -> None:
        for name, body, url in pages:
            try:
                found = extract(body, url)
            except ExtractError as e:
                keep(f"extract {name}", e)
                continue
            keep(f"extract {name}", found)
            for n, draft in enumerate(found.articles):
                try:
                    keep(f"article {name} {n}", normalize_article(draft, now=NOW))
                except ExtractError as e:
                    keep(f"article {name} {n}", e)

    return {
        "ingest": ingest,
        "corpus": corpus,
        "corpus+extract": lambda: pages(inputs.pages),
        "page": lambda: pages([("page", *inputs.page)] * 20),
    }


def worker(args: argparse.Namespace) -> int:
    """Time each set ``--runs`` times in this process and print one JSON line: the CPU seconds
    of each run, and the digest of the outputs (written to ``--dump`` when given)."""
    import syndicator

    inputs = Inputs(args.articles, args.corpus)
    outputs: list[str] = []
    for work in run_sets(inputs, outputs).values():
        work()  # warm, and the outputs
    if args.dump:
        args.dump.write_text("\n".join(outputs) + "\n", encoding="utf-8")
    timed = run_sets(inputs)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for work in timed.values():
            work()
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(35)
    cpu = {name: [cpu_of(work) for _ in range(args.runs)] for name, work in timed.items()}
    digest = hashlib.sha256("\n".join(outputs).encode("utf-8", "surrogatepass")).hexdigest()
    sizes = {
        "ingest": len(inputs.objects),
        "corpus": len(inputs.drafts),
        "corpus+extract": len(inputs.pages),
        "page": 20,
    }
    print(
        json.dumps(
            {
                "code": str(Path(syndicator.__file__).parent),
                "cpu": cpu,
                "sizes": sizes,
                "outputs": len(outputs),
                "digest": digest,
            }
        )
    )
    return 0


def launch(tree: Path, args: argparse.Namespace, dump: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", "--articles", str(args.articles)]
    command += ["--runs", "1", "--corpus", str(args.corpus), "--dump", str(dump)]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"the run under {tree} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def first_differences(before: Path, after: Path, most: int = 5) -> list[str]:
    old = before.read_text(encoding="utf-8").splitlines()
    new = after.read_text(encoding="utf-8").splitlines()
    found = [f"- {a[:300]}\n+ {b[:300]}" for a, b in zip(old, new, strict=False) if a != b]
    if len(old) != len(new):
        found.append(f"{len(old)} outputs before, {len(new)} after")
    return found[:most]


def compare(args: argparse.Namespace) -> int:
    trees = {"before": args.before.resolve(), "after": ROOT}
    times: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as folder:
        dumps = {which: Path(folder) / f"{which}.txt" for which in trees}
        for run in range(args.runs):
            order = ("before", "after") if run % 2 == 0 else ("after", "before")
            for which in order:
                result = launch(trees[which], args, dumps[which])
                if run == 0:
                    print(f"{which}: {result['code']}, {result['outputs']} outputs")
                sizes = result["sizes"]
                for name, seconds in result["cpu"].items():
                    times[which].setdefault(name, []).extend(seconds)
        differences = first_differences(dumps["before"], dumps["after"])
        if args.dump:
            args.dump.write_text(dumps["after"].read_text(encoding="utf-8"), encoding="utf-8")
    print(f"load average at end: {' '.join(f'{n:.2f}' for n in os.getloadavg())}")
    print(f"{'set':<16}{'items':>7}{'before CPU s':>14}{'after CPU s':>13}{'after/before':>14}")
    for name in SETS:
        if not sizes.get(name):
            continue
        old = statistics.median(times["before"][name])
        new = statistics.median(times["after"][name])
        print(f"{name:<16}{sizes[name]:>7}{old:>14.3f}{new:>13.3f}{new / old:>14.2f}")
    if differences:
        print("outputs DIFFER:")
        print("\n".join(differences))
        return 1
    print("outputs byte-identical (every Article and extraction, by repr)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=READABILITY)
    parser.add_argument("--before", type=Path, help="a checkout of the code to compare with")
    parser.add_argument("--dump", type=Path, help="write every output here")
    parser.add_argument("--profile", action="store_true", help="a cProfile of one pass, on stderr")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    if not args.corpus.is_dir():
        print(f"no readability corpus at {args.corpus}: its sets are skipped", file=sys.stderr)
    if args.before:
        return compare(args)
    if args.worker:
        return worker(args)
    inputs = Inputs(args.articles, args.corpus)
    sets = run_sets(inputs)
    for work in sets.values():
        work()  # warm
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for work in sets.values():
            work()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(35)
        return 0
    for name, work in sets.items():
        seconds = statistics.median(cpu_of(work) for _ in range(args.runs))
        print(f"{name:<16}{seconds:>9.3f} CPU s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

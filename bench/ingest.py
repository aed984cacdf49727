"""Benchmark: the whole ``syndicator ingest`` command on generated articles, and where time goes.

    .venv/bin/python bench/ingest.py [--articles 10000] [--database sqlite|postgresql|URL]
                                     [--files 1] [--repeat 1] [--no-profile]
                                     [--before DIR] [-- INGEST_ARG…]

Writes ``--articles`` ARTICLE objects (six Arabic paragraphs of ~40 words, a section that routes
to one region, no declared language, so the detector runs; words drawn at random from a small
vocabulary, so that no two are near-duplicates) as NDJSON in ``--files`` files, then:

1. runs ``python -m syndicator --config … ingest FILE…`` as a separate process on an empty
   store, and prints articles per second of its wall time (start-up, reading, normalizing,
   storing, publishing and exit included), and the same per CPU second of that process (on a
   shared machine the wall time counts the time other work held the cores), and its peak RSS;
2. runs the same command again in this process under cProfile (``--workers 0``: all of it in
   this process), on another empty store, and prints the share of each stage, by where the
   time is spent: extract (``syndicator/extract``, JSON decoding), normalize, language (the
   detector), fingerprint, store (``syndicator/store``, SQLAlchemy and the database driver),
   publish (``syndicator/publish``, feedgen, lxml's serializer), read (``syndicator/ingest``:
   the pushed object's checks and draft, routing), start-up (imports, the config), and the
   rest. A built-in (a regex, ``str.join``, ``int.bit_count``), which the profiler sees
   without a file, counts for the stage of the code that called it. Profiling slows Python
   code more than C code, so the shares are a guide, the first figure the measure.

With ``--before DIR`` (another checkout of the project, e.g. ``git worktree add --detach DIR
COMMIT``), each whole-process run is made twice, alternating, once with DIR's code and once with
this one, each on its own empty store: a before/after comparison taken in the same run.

Stores: ``sqlite`` (a file in a temporary folder, the default), ``postgresql`` (a new database on
the server at ``$SYNDICATOR_TEST_POSTGRES``, default ``postgresql+psycopg://postgres@127.0.0.1:5432``,
named ``ingest_bench_…``, dropped afterwards) or a database URL.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POSTGRES = os.environ.get(
    "SYNDICATOR_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432"
)
TEXT = (
    "قال المتحدث باسم الحكومة إن الاجتماع الذي عقد في العاصمة يوم الثلاثاء ناقش خطة جديدة "
    "لتحسين شبكة النقل العام وتوسيع خطوط القطارات بين المدن الكبرى خلال السنوات المقبلة "
    "وأضاف أن التمويل سيأتي من صندوق خاص بالبنية التحتية بالتعاون مع البلديات والقطاع الخاص "
    "ومن المتوقع أن تبدأ الأعمال في الربيع المقبل بعد استكمال الدراسات الفنية والبيئية اللازمة"
)
WORDS = TEXT.split()

CONFIG = """
[service]
base_url = "http://127.0.0.1:8080"
database = "{database}"
feeds_dir = "{feeds}"

[[region]]
id = "europe"
title = "أوروبا"
language = "ar"
sections = ["أوروبا"]
"""

# Where a profiled function's time is counted, by the first pattern its file name matches.
STAGES = (
    (
        "language",
        (
            "pycld2",
            "cld.detect",  # CLD2 itself: a built-in, profiled with no file name
            "normalize/language.py:detect_language",
            "normalize/language.py:guess_language",
        ),
    ),
    ("extract", ("syndicator/extract", "json/", "_json")),
    ("fingerprint", ("syndicator/fingerprint",)),
    ("normalize", ("syndicator/normalize", "nh3", "unicodedata", "dateutil")),
    ("store", ("syndicator/store", "sqlalchemy", "sqlite3", "psycopg")),
    ("publish", ("syndicator/publish", "feedgen", "lxml")),
    # Reading a pushed object (its checks, the draft, routing it to regions) and the stream
    ("read", ("syndicator/ingest", "syndicator/regions.py")),
    ("start-up", ("importlib", "syndicator/config")),
)


def article(n: int) -> dict[str, object]:
    """Article ``n``: its words drawn at random (seeded by ``n``), so no two are near-duplicates."""
    rng = random.Random(n)
    paragraphs = [" ".join(rng.choices(WORDS, k=40)) + "." for _ in range(6)]
    return {
        "url": f"https://news.example/{n // 1000}/story-{n}.html",
        "title": f"خبر رقم {n} عن خطة النقل الجديدة",
        "section": "أوروبا",
        "published": f"2026-02-{1 + n % 28:02d}T{n % 24:02d}:00:00Z",
        "paragraphs": paragraphs,
    }


def write_articles(folder: Path, count: int, files: int) -> list[Path]:
    paths = [folder / f"articles-{i}.ndjson" for i in range(files)]
    handles = [p.open("w", encoding="utf-8") for p in paths]
    try:
        for n in range(count):
            handles[n % files].write(json.dumps(article(n), ensure_ascii=False) + "\n")
    finally:
        for h in handles:
            h.close()
    return paths


@contextlib.contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A URL of an empty store, removed afterwards when this made it."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'store-{uuid.uuid4().hex[:8]}.db'}"
        return
    if kind != "postgresql":
        yield kind
        return
    import sqlalchemy as sa

    name = f"ingest_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def config_file(folder: Path, url: str, name: str) -> Path:
    """A config naming ``url`` and an empty feeds folder (archive pages already written would
    not be written again: each run starts from none)."""
    path = folder / f"{name}.toml"
    shutil.rmtree(folder / f"feeds-{name}", ignore_errors=True)
    path.write_text(CONFIG.format(database=url, feeds=folder / f"feeds-{name}"), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Run:
    """One whole ``ingest`` process: wall seconds; CPU seconds (user + system) of it and of the
    processes it started (its reader processes), and of the command's own process alone
    (sampled from ``/proc`` every 20 ms: within that of the end); peak RSS (MB, of the
    largest process so far); its output."""

    wall: float
    cpu: float
    own_cpu: float | None
    rss: float
    out: str


def whole_process(
    config: Path, files: list[Path], code: Path = ROOT, extra: tuple[str, ...] = ()
) -> Run:
    """One ``ingest`` process run with the package in ``code``. On a shared machine the CPU
    time is the steadier figure: the wall time counts the time other work held the cores.
    With reader processes, the command's own CPU time bounds its wall time from below on an
    idle machine (what the readers do runs beside it)."""
    command = [sys.executable, "-m", "syndicator", "--config", str(config), "ingest", "--json"]
    env = {**os.environ, "PYTHONPATH": str(code)}
    ticks = os.sysconf("SC_CLK_TCK")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    own: float | None = None
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*command, *extra, *map(str, files)], cwd=code, env=env, stdout=out, stderr=err
        )
        stat = Path(f"/proc/{process.pid}/stat")
        while process.poll() is None:
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                own = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode != 0:
        sys.exit(f"ingest exited {process.returncode}: {stderr.strip()[-2000:]}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return Run(elapsed, cpu, own, after.ru_maxrss / 1024, stdout)


def stage_of(where: str) -> str:
    for stage, patterns in STAGES:
        if any(p in where for p in patterns):
            return stage
    return "other"


def profiled(config: Path, files: list[Path]) -> dict[str, float]:
    from syndicator import cli

    profile = cProfile.Profile()
    with contextlib.redirect_stdout(io.StringIO()):
        profile.enable()
        # All the work in this process (no reader or renderer processes), where the profiler
        # sees it.
        args = ["--config", str(config), "ingest", "--json", "--workers", "0"]
        code = cli.main([*args, *map(str, files)])
        profile.disable()
    if code != 0:
        sys.exit(f"ingest (profiled) exited {code}")
    shares: dict[str, float] = {}
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    for (filename, _, function), (_, _, tottime, _, callers) in stats.items():
        stage = stage_of(f"{filename}:{function}")
        if stage == "other" and filename == "~" and callers:
            # A built-in (str.join, a regex, int.bit_count, a compile): profiled without a
            # file, its time is its callers' stage's, split by what each call edge took.
            for (caller_file, _, caller), edge in callers.items():
                where = stage_of(f"{caller_file}:{caller}")
                shares[where] = shares.get(where, 0.0) + edge[2]
            continue
        shares[stage] = shares.get(stage, 0.0) + tottime
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=1, help="NDJSON files to spread them over")
    parser.add_argument("--database", default="sqlite", help="sqlite, postgresql or a URL")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled run")
    parser.add_argument("--repeat", type=int, default=1, help="whole-process runs")
    parser.add_argument(
        "--before", type=Path, help="another checkout: its code runs too, alternating with this"
    )
    parser.add_argument(
        "ingest_args", nargs="*", metavar="-- ARG", help="more arguments for the ingest command"
    )
    args = parser.parse_args()
    codes = [("before", args.before.resolve()), ("now", ROOT)] if args.before else [("", ROOT)]
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = write_articles(folder, args.articles, args.files)
        size = sum(p.stat().st_size for p in files)
        print(f"{args.articles:,} articles in {args.files} file(s), {size / 1e6:.1f} MB")
        for _ in range(args.repeat):
            for label, code in codes:
                with database(args.database, folder) as url:
                    config = config_file(folder, url, "whole")
                    run = whole_process(config, files, code, tuple(args.ingest_args))
                changes = [r["change"] for r in json.loads(run.out)["results"]]
                created = changes.count("created")
                own = f"{run.own_cpu:.1f} s" if run.own_cpu is not None else "?"
                print(
                    f"whole process ({args.database}{', ' + label if label else ''}): "
                    f"{run.wall:.1f} s wall, {args.articles / run.wall:,.0f} articles/s; "
                    f"{run.cpu:.1f} s CPU, {args.articles / run.cpu:,.0f} articles per CPU "
                    f"second (the command's own process: {own}); peak RSS {run.rss:.0f} MB "
                    f"({created:,} created; load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
        if args.no_profile:
            return
        with database(args.database, folder) as url:
            started = time.perf_counter()
            shares = profiled(config_file(folder, url, "profiled"), files)
            elapsed = time.perf_counter() - started
        total = sum(shares.values())
        print(f"in process, profiled: {elapsed:.1f} s")
        for stage in (*(s for s, _ in STAGES), "other"):
            print(f"  {stage:<12}{100 * shares.get(stage, 0.0) / total:5.1f} %")


if __name__ == "__main__":
    main()

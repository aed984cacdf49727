"""Benchmark: a `once` pass over unchanged sources that all answer 304, in this process and as
the whole command, beside a bare aiohttp client's floor over the same URLs.

    .venv/bin/python bench/once_304.py [--sources 1000] [--repeat 5] [--database sqlite]
    .venv/bin/python bench/once_304.py --sources 10000 --repeat 3

The loopback server of ``bench/fetch_304.py`` (a child process) answers 200 to a plain GET and
304 to a conditional one. A first pass (not timed) stores every source's validators in a fresh
store (``sqlite``, a file in a temporary folder, or ``postgresql``: a new database on the
server at ``$SYNDICATOR_TEST_POSTGRES``, dropped afterwards). Then, in rounds:

- **in process**: the whole of ``run_once`` (reading validators, the conditional GETs,
  ``service.concurrency`` at a time, recording every pass and its fetch-log row);
- **whole process**: ``python -m syndicator --config … once``, start-up, publishing and exit
  included: its wall time, CPU time and peak RSS;
- **aiohttp floor**: a bare aiohttp session asking the same URLs with validators, as many at a
  time: what no polling client here can beat.

Prints the median and best of each and the ratio of the whole process to the floor (taken in
the same rounds: the machine's load weighs on both alike).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fetch_304 import Server, aiohttp_pass
from ingest import database

from syndicator import config
from syndicator.ingest import run_once
from syndicator.store import Store

ROOT = Path(__file__).resolve().parent.parent


def write_config(folder: Path, url: str, base: str, sources: int, concurrency: int) -> Path:
    lines = [
        "[service]",
        f'database = "{url}"',
        f'feeds_dir = "{folder}/feeds"',
        f"concurrency = {concurrency}",
        f"per_host = {concurrency}",
        "respect_robots = false",
        "",
        '[[region]]\nid = "all-news"\ntitle = "News"\n',
    ]
    for i in range(sources):
        lines.append(f'[[source]]\nid = "s{i}"\nkind = "rss"\nurl = "{base}/s/{i}"\nevery = "5m"\n')
    path = folder / "bench.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def whole_process(path: Path, folder: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one ``syndicator once``."""
    env = {k: v for k, v in os.environ.items() if k not in ("SYNDICATOR_CONFIG",)}
    with (folder / "once.out").open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "syndicator", "--config", str(path), "once"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = (folder / "once.out").read_text(errors="replace")[-2000:]
        sys.exit(f"once exited {process.returncode}: {tail}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def show(name: str, times: list[float], sources: int) -> None:
    median = statistics.median(times)
    print(
        f"  {name:<16} median {median:6.2f} s, best {min(times):6.2f} s, "
        f"{sources / median:7,.0f} sources/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database", default="sqlite", help="sqlite, postgresql or a URL")
    parser.add_argument("--no-in-process", action="store_true", help="whole process only")
    args = parser.parse_args()
    server = Server()
    inside: list[float] = []
    whole: list[float] = []
    cpu: list[float] = []
    rss: list[float] = []
    floor: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            with database(args.database, folder) as url:
                path = write_config(folder, url, server.base, args.sources, args.concurrency)
                cfg = config.load(path)
                store = Store(cfg.service.database)
                first = asyncio.run(run_once(cfg, store))
                assert not first.failed, first.failed[0].error
                urls = [f"{server.base}/s/{i}" for i in range(args.sources)]
                for _ in range(args.repeat):
                    if not args.no_in_process:
                        started = time.perf_counter()
                        result = asyncio.run(run_once(cfg, store))
                        inside.append(time.perf_counter() - started)
                        assert all(p.not_modified for p in result.passes)
                    elapsed, seconds, peak = whole_process(path, folder)
                    whole.append(elapsed)
                    cpu.append(seconds)
                    rss.append(peak)
                    started = time.perf_counter()
                    asyncio.run(aiohttp_pass(urls, args.concurrency))
                    floor.append(time.perf_counter() - started)
                store.close()
    finally:
        server.close()
    print(
        f"once over {args.sources:,} sources answering 304 ({args.database}, "
        f"concurrency {args.concurrency}, {args.repeat} rounds):"
    )
    if inside:
        show("in process", inside, args.sources)
    show("whole process", whole, args.sources)
    show("aiohttp floor", floor, args.sources)
    ratios = [w / f for w, f in zip(whole, floor, strict=True)]
    print(
        f"  whole process: CPU median {statistics.median(cpu):.2f} s, "
        f"peak RSS {max(rss):.0f} MB; "
        f"whole / floor in the same round: median {statistics.median(ratios):.1f}x, "
        f"best {min(ratios):.1f}x"
    )


if __name__ == "__main__":
    main()

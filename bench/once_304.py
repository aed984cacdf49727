"""Benchmark: a `once` pass over 1,000 unchanged sources that all answer 304.

    .venv/bin/python bench/once_304.py [--sources 1000] [--repeat 5]

The loopback server of ``bench/fetch_304.py`` (a child process) answers 200 to a plain GET and
304 to a conditional one. A first pass stores every source's validators in a fresh SQLite store;
each timed pass is then the whole of ``run_once``: reading validators, 1,000 conditional GETs
(``service.concurrency`` at a time), and one store transaction per source recording the pass and
its fetch log. Prints the median and best pass.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fetch_304 import Server

from syndicator import config
from syndicator.ingest import run_once
from syndicator.store import Store


def write_config(folder: Path, base: str, sources: int, concurrency: int) -> Path:
    lines = [
        "[service]",
        f'database = "sqlite:///{folder}/bench.db"',
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    server = Server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            cfg = config.load(write_config(folder, server.base, args.sources, args.concurrency))
            store = Store(cfg.service.database)
            first = asyncio.run(run_once(cfg, store))
            assert not first.failed, first.failed[0].error
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                result = asyncio.run(run_once(cfg, store))
                times.append(time.perf_counter() - started)
                assert all(p.not_modified for p in result.passes)
            store.close()
    finally:
        server.close()
    median = statistics.median(times)
    print(f"once over {args.sources} sources answering 304 (concurrency {args.concurrency}):")
    print(
        f"  median {median:.2f} s, best {min(times):.2f} s, {args.sources / median:.0f} sources/s"
    )


if __name__ == "__main__":
    main()

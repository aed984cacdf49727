"""Benchmark: publishing with nothing changed, on stores of 10,000 and 100,000 articles.

    .venv/bin/python bench/publish_scale.py [--articles 10000 100000] [--before DIR]
                                            [--runs 7] [--stores DIR]

Each store is made by the ``ingest`` command on ``bench/ingest.py``'s generated articles (one
region, ``europe``, holds them all, and ``all`` every one), with ``--before``'s code when given
(a checkout of the project, e.g. ``git worktree add --detach DIR main``), so that the store is
one an older version left; kept in ``--stores`` (default: a temporary folder) and reused by the
next run that names the same folder. For each side (``--before`` and this checkout), a copy of
the store and of its published feeds is opened by that side's code in a process of its own:
first the time to open it (an older schema is upgraded then: the migration's time), then what
a publish reads and renders for one region, ``all`` and the indexes (``Publisher._publish_region``
twice and ``_publish_indexes``, as after a pass that changed one region), ``--runs`` times after
one run to warm up. The table gives the median and best run, in wall seconds and CPU seconds of
that process, the time spent in SQL statements (the database's work, measured around each) and
how many published files changed: 0, or the side renders other bytes than the ingest that
published them (with ``--before``, its code).

The machine's load average is printed first: on a shared machine the CPU time is the steadier
figure (the wall time counts the time other work held the cores).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from ingest import CONFIG, write_articles  # noqa: E402


def build(folder: Path, count: int, code: Path) -> Path:
    """A store of ``count`` generated articles, ingested by ``code``'s command (kept)."""
    store = folder / f"n{count}"
    if (store / "store.db").exists() and (store / "built").exists():
        return store
    shutil.rmtree(store, ignore_errors=True)
    store.mkdir(parents=True)
    files = write_articles(store, count, 1)
    config = store / "build.toml"
    config.write_text(
        CONFIG.format(database=f"sqlite:///{store / 'store.db'}", feeds=store / "feeds"),
        encoding="utf-8",
    )
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(config), "ingest", *map(str, files)],
        env={**os.environ, "PYTHONPATH": str(code)},
        cwd=code,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(f"  built {count:,} articles with {code} in {time.perf_counter() - started:.0f} s")
    for f in files:
        f.unlink()
    (store / "built").touch()
    return store


def side(store: Path, label: str, code: Path, runs: int) -> dict[str, float]:
    """Copy the store and its feeds for ``label``, and time ``code`` publishing from them."""
    work = store / label
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    shutil.copy(store / "store.db", work / "store.db")
    shutil.copytree(store / "feeds", work / "feeds")
    config = work / "publish.toml"
    config.write_text(
        CONFIG.format(database=f"sqlite:///{work / 'store.db'}", feeds=work / "feeds"),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(config), str(runs)],
        env={**os.environ, "PYTHONPATH": str(code)},
        cwd=code,
        check=True,
        capture_output=True,
        text=True,
    )
    shutil.rmtree(work)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def child(config_path: str, runs: int) -> None:
    """In ``code``'s process: open the store, then publish ``runs`` + 1 times."""
    from sqlalchemy import event

    from syndicator.config import load
    from syndicator.syndication import Syndication

    started = time.perf_counter()
    app = Syndication(load(Path(config_path), environ={}))
    opened = time.perf_counter() - started
    sql = [0.0]

    @event.listens_for(app.store.engine, "before_cursor_execute")
    def _before(conn, *_):  # type: ignore[no-untyped-def]
        conn.info["started"] = time.perf_counter()

    @event.listens_for(app.store.engine, "after_cursor_execute")
    def _after(conn, *_):  # type: ignore[no-untyped-def]
        sql[0] += time.perf_counter() - conn.info["started"]

    publisher = app.publisher
    walls, cpus, sqls, changed = [], [], [], 0
    for n in range(runs + 1):
        sql[0] = 0.0
        wall, cpu = time.perf_counter(), time.process_time()
        written: list[str] = []
        for region in ("europe", "all"):
            publisher._publish_region(region, written, [])
        publisher._publish_indexes(written, [])
        if n:  # the first run warms up
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            sqls.append(sql[0])
        changed = max(changed, len(written))
    app.close()
    print(
        json.dumps(
            {
                "open": opened,
                "wall": statistics.median(walls),
                "wall_best": min(walls),
                "cpu": statistics.median(cpus),
                "cpu_best": min(cpus),
                "sql": statistics.median(sqls),
                "changed": changed,
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--before", type=Path, help="another checkout: its code runs too")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--stores", type=Path, help="where stores are made and kept")
    args = ap.parse_args()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cores")
    folder = args.stores or Path(tempfile.mkdtemp(prefix="publish-scale-"))
    sides = [("after", ROOT)]
    if args.before:
        sides.insert(0, ("before", args.before.resolve()))
    print(
        f"{'articles':>9} {'code':>7} {'open s':>7} {'wall s':>7} {'best':>6} "
        f"{'CPU s':>6} {'best':>6} {'SQL s':>6} {'changed':>7}"
    )
    try:
        for count in args.articles:
            store = build(folder, count, sides[0][1])
            for label, code in sides:
                r = side(store, label, code, args.runs)
                print(
                    f"{count:>9,} {label:>7} {r['open']:>7.3f} {r['wall']:>7.3f} "
                    f"{r['wall_best']:>6.3f} {r['cpu']:>6.3f} {r['cpu_best']:>6.3f} "
                    f"{r['sql']:>6.3f} {int(r['changed']):>7}"
                )
    finally:
        if args.stores is None:
            shutil.rmtree(folder)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], int(sys.argv[3]))
    else:
        main()

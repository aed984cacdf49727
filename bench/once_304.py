"""Benchmark: a `once` pass over unchanged sources that all answer 304, in this process and as
the whole command, beside a bare aiohttp client's floor over the same URLs.

    .venv/bin/python bench/once_304.py [--sources 1000] [--repeat 5] [--database sqlite]
    .venv/bin/python bench/once_304.py --sources 10000 --repeat 3
    .venv/bin/python bench/once_304.py --before ../old-checkout   # before and after a change

The loopback server of ``bench/fetch_304.py`` (a child process) answers 200 to a plain GET and
304 to a conditional one. A first pass (not timed) stores every source's validators in a fresh
store (``sqlite``, a file in a temporary folder, or ``postgresql``: a new database on the
server at ``$SYNDICATOR_TEST_POSTGRES``, dropped afterwards). Then, in rounds:

- **in process**: the whole of ``run_once`` (reading validators, the conditional GETs,
  ``service.concurrency`` at a time, recording every pass and its fetch-log row);
- **whole process**: ``python -m syndicator --config … once``, start-up, publishing and exit
  included: its wall time, CPU time, peak RSS (VmHWM) and the time its threads were ready to
  run but waited for a core (the run queue: on a shared machine most of the gap between wall
  and CPU time);
- **aiohttp floor, process**: a bare aiohttp client (``bench/aiohttp_floor.py``) asking the
  same URLs with validators, as many at a time, as a process of its own: interpreter start-up
  and its imports included, measured the same way as the whole ``once``;
- **aiohttp floor, in process**: the same client in this process: what no polling client here
  can beat.

With ``--before DIR`` (another checkout of the project: the code before a change), its whole
``once`` runs too in each round, over the same server and a store of its own (which its first,
untimed pass fills: a store of this code's schema may be newer than it reads). Both processes
run with their
bytecode kept (in a temporary folder, as an installed deployment
has it). Prints the median and best of each and the ratios of the whole process to each floor,
taken in the same rounds (the machine's load weighs on both alike).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from aiohttp_floor import aiohttp_pass
from fetch_304 import Server
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
        # A pass's deadline counts its wait for a slot: the untimed first pass of 10,000
        # sources (10,000 feeds to read) can outlast the default 2 minutes on a loaded machine.
        'pass_timeout = "15m"',
        "",
        '[[region]]\nid = "all-news"\ntitle = "News"\n',
    ]
    for i in range(sources):
        lines.append(f'[[source]]\nid = "s{i}"\nkind = "rss"\nurl = "{base}/s/{i}"\nevery = "5m"\n')
    path = folder / "bench.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def child_env(pycache: Path) -> dict[str, str]:
    """The environment of the timed processes: bytecode kept (in ``pycache``, outside the
    tree) as an installed deployment has it, so that neither process recompiles its modules
    each time (this machine sets PYTHONDONTWRITEBYTECODE)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SYNDICATOR_CONFIG", "PYTHONDONTWRITEBYTECODE")
    }
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


@dataclass
class Run:
    """One timed process: wall and CPU seconds, peak RSS (MB), and the seconds its threads
    were ready to run but waited for a core (the run queue, from /proc/PID/task/*/schedstat):
    its main thread's (the event loop's), and all its threads' added up."""

    wall: float
    cpu: float
    rss: float
    queued: float
    queued_all: float


def timed(command: list[str], env: dict[str, str], out: Path, cwd: Path = ROOT) -> Run:
    """Run ``command`` to its end and measure it; exit with its output if it fails."""
    with out.open("wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, env=env)
        waits: dict[str, int] = {}
        done = threading.Event()
        sampler = threading.Thread(target=_sample, args=(process.pid, waits, done))
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = out.read_text(errors="replace")[-2000:]
        sys.exit(f"{command[1:4]} exited {process.returncode}: {tail}")
    peak = waits.pop("peak", 0) / 1024
    main = waits.get(str(process.pid), 0) / 1e9
    return Run(elapsed, usage.ru_utime + usage.ru_stime, peak, main, sum(waits.values()) / 1e9)


def _sample(pid: int, waits: dict[str, int], done: threading.Event) -> None:
    """Every 10 ms until the process ends: each thread's run-queue wait so far, and the
    process's peak RSS (VmHWM, kB, under "peak"). Both are read from /proc rather than taken
    from wait4: its ru_maxrss counts the memory of the process that started the child (Linux
    keeps the larger of the two across exec). A thread's last 10 ms may be missed: the waits
    are a lower bound."""
    proc = Path(f"/proc/{pid}")
    while not done.wait(0.01):
        try:
            tasks = list((proc / "task").iterdir())
            status = (proc / "status").read_text()
        except OSError:
            return
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                waits["peak"] = max(waits.get("peak", 0), int(line.split()[1]))
        for task in tasks:
            try:
                fields = (task / "schedstat").read_text().split()
            except OSError:
                continue
            waits[task.name] = int(fields[1])


def show(name: str, times: list[float], sources: int, runs: list[Run] | None = None) -> None:
    median = statistics.median(times)
    line = (
        f"  {name:<22} median {median:6.2f} s, best {min(times):6.2f} s, "
        f"{sources / median:7,.0f} sources/s"
    )
    if runs:
        line += (
            f"; CPU {statistics.median(r.cpu for r in runs):.2f} s, waiting for a core "
            f"{statistics.median(r.queued for r in runs):.2f} s "
            f"(all threads {statistics.median(r.queued_all for r in runs):.2f} s), "
            f"peak RSS {max(r.rss for r in runs):.0f} MB"
        )
    print(line)


def ratios(name: str, top: list[float], bottom: list[float]) -> None:
    each = [t / b for t, b in zip(top, bottom, strict=True)]
    print(f"  {name:<40} median {statistics.median(each):5.1f}x, best {min(each):5.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database", default="sqlite", help="sqlite, postgresql or a URL")
    parser.add_argument("--no-in-process", action="store_true", help="whole process only")
    parser.add_argument(
        "--before",
        type=Path,
        help="another checkout (the code before a change): its whole once too, in the same rounds",
    )
    args = parser.parse_args()
    server = Server()
    inside: list[float] = []
    whole: list[Run] = []
    floor_process: list[Run] = []
    before: list[Run] = []
    floor: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            env = child_env(folder / "pycache")
            with (
                database(args.database, folder) as url,
                database(args.database, folder) as before_url,
            ):
                path = write_config(folder, url, server.base, args.sources, args.concurrency)
                (folder / "before").mkdir()
                before_path = write_config(
                    folder / "before", before_url, server.base, args.sources, args.concurrency
                )
                cfg = config.load(path)
                store = Store(cfg.service.database)
                first = asyncio.run(run_once(cfg, store))
                assert not first.failed, first.failed[0].error
                urls = [f"{server.base}/s/{i}" for i in range(args.sources)]
                once = [sys.executable, "-m", "syndicator", "--config", str(path), "once"]
                bare = [
                    sys.executable,
                    str(ROOT / "bench" / "aiohttp_floor.py"),
                    server.base,
                    f"--sources={args.sources}",
                    f"--concurrency={args.concurrency}",
                ]
                other = dict(env, PYTHONPATH=str(args.before or ""))  # its package, not ours
                once_before = [*once[:4], str(before_path), "once"]
                for command in (once, bare):  # not timed: writes their bytecode
                    timed(command, env, folder / "warm.out")
                if args.before:  # not timed: its first pass, then its bytecode
                    for _ in range(2):
                        timed(once_before, other, folder / "warm.out", args.before)
                for _ in range(args.repeat):
                    if not args.no_in_process:
                        started = time.perf_counter()
                        result = asyncio.run(run_once(cfg, store))
                        inside.append(time.perf_counter() - started)
                        assert all(p.not_modified for p in result.passes)
                    whole.append(timed(once, env, folder / "once.out"))
                    if args.before:
                        before.append(timed(once_before, other, folder / "before.out", args.before))
                    floor_process.append(timed(bare, env, folder / "floor.out"))
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
    show("whole process", [r.wall for r in whole], args.sources, whole)
    if before:
        show("whole process, before", [r.wall for r in before], args.sources, before)
    show("aiohttp floor, process", [r.wall for r in floor_process], args.sources, floor_process)
    show("aiohttp floor, in process", floor, args.sources)
    print("in the same rounds:")
    wall = [r.wall for r in whole]
    ratios("whole process / aiohttp floor, process", wall, [r.wall for r in floor_process])
    if before:
        ratios(
            "before / aiohttp floor, process",
            [r.wall for r in before],
            [r.wall for r in floor_process],
        )
        ratios("CPU: whole process / before", [r.cpu for r in whole], [r.cpu for r in before])
    ratios("whole process / aiohttp floor, in process", wall, floor)
    ratios(
        "CPU: whole process / aiohttp floor, process",
        [r.cpu for r in whole],
        [r.cpu for r in floor_process],
    )


if __name__ == "__main__":
    main()

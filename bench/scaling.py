"""Benchmark: the scaled mode. Source passes per minute per worker, 1 to N workers; and the job
engines it was chosen among.

    .venv/bin/python bench/scaling.py workers [--sources 300] [--every 2] [--seconds 30]
        [--max-workers 3] [--concurrency 8] [--latency 0]
    .venv/bin/python bench/scaling.py scale [--sources 10000] [--every 60] [--changing 0.05]
        [--seconds 60] [--max-workers 3 | --workers 1,2,3] [--concurrency 16]
    .venv/bin/python bench/scaling.py engines [--jobs 2000] [--latency 200]

``workers``: the fixture site (../shared) serves ``--sources`` sources (its section pages and
feeds behind distinct query strings), all due every ``--every`` seconds, far more than the
workers can do: one ``run --role scheduler`` defers their passes and K ``run --role worker``
processes (K = 1 … ``--max-workers``) run them, each with ``--concurrency`` jobs at once, on a
fresh PostgreSQL database each time. After a warm-up (the first passes, which read every page),
passes are counted for ``--seconds`` from the store's fetch log: the steady state of a news
source, a conditional GET answered 304 and the pass recorded. With ``--latency L`` every source
is instead a page the site answers after L seconds (a slow news site): passes then wait on the
network, not the CPU, as they mostly do in production.

``scale``: a deployment's size. ``--sources`` (10,000) RSS sources on a loopback server of
this script's own (a child process, raw asyncio) that answers each conditional GET with 304
unless the source changed: every ``--every`` seconds a fixed ``--changing`` share of them (5 %,
a different share each period) gains a new item (full text in the feed, ``fetch_pages =
"never"``: no page fetches). One scheduler and K workers (K = 1 … ``--max-workers``) on a fresh
PostgreSQL database each time; after the first passes, and from one period after the
scheduler started (when every source falls due at the full rate) plus a warm-up, for
``--seconds``: passes per minute (the fetch log), articles stored per second, the scheduler's
CPU (per due time and as a share of a core), the workers' CPU per pass and peak RSS, the
engine's queue (``procrastinate_jobs`` waiting and running) and the connections open to the
database, sampled every ``--sample`` seconds, the load average before and after, and at the
end the database's size. Every run stops after ``--seconds`` whatever it reached. Databases are
named ``$BENCH_DB_PREFIX`` (``syndicator_bench``) and a random suffix, and dropped.

``engines``: the same three measurements on procrastinate (PostgreSQL) and Celery (over Redis,
and over RabbitMQ): the latency of one tiny job (from defer to start, one at a time, ``--latency``
of them), the throughput of ``--jobs`` tiny jobs deferred at once to one worker process, and
how long a job runs on no worker after ``kill -9`` of the worker running it (two workers, the
engines' settings for recovering jobs as the scaled mode uses them: procrastinate heartbeats
every 1 s and a stall time of 4 s, looked at every second; Celery ``acks_late`` with
``reject_on_worker_lost``, a Redis visibility timeout of 10 s). Needs ``pip install
'.[bench]'`` for Celery, and the services on 127.0.0.1 (PostgreSQL 5432, Redis 6379, RabbitMQ
5672, guest/guest); an engine whose service is absent is left out, saying so.

Prints tables; docs/SCALING.md records them with the machine they ran on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
POSTGRES = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
DB_PREFIX = os.environ.get("BENCH_DB_PREFIX", "syndicator_bench")  # databases made and dropped
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/15")
RABBITMQ = os.environ.get("BENCH_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672//")
DOCUMENTS = (
    ("html", "section/europe.html"),
    ("html", "section/asia.html"),
    ("rss", "feed.rss"),
    ("rss", "partner/feed.xml"),
)
HEARTBEAT, STALLED_AFTER = 1.0, 4.0


# --------------------------------------------------------------------------------------------
# Shared helpers


@contextmanager
def database() -> Iterator[str]:
    """A fresh PostgreSQL database (libpq URL), dropped afterwards."""
    name = f"{DB_PREFIX}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def spawn(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            ["timeout", "--kill-after=5", "900", *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )


def child_of(process: subprocess.Popen[bytes]) -> int:
    """The process ``timeout`` runs."""
    path = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    for _ in range(200):
        children = path.read_text().split() if path.exists() else []
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise RuntimeError("no child process")


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in processes:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)


def wait_for(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise RuntimeError(f"not within {seconds:.0f} s: {what}")


# --------------------------------------------------------------------------------------------
# workers: source passes per minute with 1 … N workers


@contextmanager
def fixture_site(folder: Path) -> Iterator[str]:
    server = SHARED / "tools" / "fixture_server.py"
    if not server.is_file():
        sys.exit(f"{server} is missing: the workers benchmark needs ../shared")
    portfile = folder / "port"
    process = spawn(
        [sys.executable, str(server), "--port", "0", "--portfile", str(portfile)],
        folder / "fixture.log",
    )
    try:
        port = wait_for(lambda: portfile.exists() and portfile.read_text().strip(), 15, "port")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop([process])


def write_config(
    folder: Path, base: str, sources: int, every: float, concurrency: int, latency: float
) -> Path:
    lines = [
        "[service]",
        'base_url = "http://127.0.0.1:8080"',
        f'feeds_dir = "{folder}/feeds"',
        # The sources stand for as many sites: one host here, but no per-host limit below the
        # jobs a worker runs at once.
        f"per_host = {concurrency}",
        "[jobs]",
        f"concurrency = {concurrency}",
        f"heartbeat = {HEARTBEAT:g}",
        f"stalled_after = {STALLED_AFTER:g}",
        "[[region]]",
        'id = "europe"',
        'title = "Europe"',
        'sections = ["أوروبا", "Europe"]',
        "[[region]]",
        'id = "asia"',
        'title = "Asia"',
        'sections = ["آسيا", "Asia"]',
    ]
    for n in range(sources):
        kind, path = DOCUMENTS[n % len(DOCUMENTS)]
        if latency:
            kind, path = "html", f"__fault/slow/{latency:g}"
        lines += [
            "[[source]]",
            f'id = "s{n:04d}"',
            f'kind = "{kind}"',
            f'url = "{base}/{path}?source={n}"',
            f'every = "{every:g}s"',
            'jitter = "0s"',
        ]
    path = folder / "syndicator.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used (user and system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def first_passes_done(url: str, sources: int) -> bool:
    with psycopg.connect(url) as conn:
        read = conn.execute("SELECT count(*) FROM sources WHERE last_fetch_at IS NOT NULL")
        row = read.fetchone()
        busy = conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE lock = 'first-passes' "
            "AND status IN ('todo', 'doing')"
        ).fetchone()
    return bool(row and row[0] >= sources and busy and busy[0] == 0)


def passes(url: str, since: float, until: float) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM fetch_log WHERE at >= to_timestamp(%s) AND at < to_timestamp(%s)"
            " AND url LIKE '%%?source=%%'",
            (since, until),
        ).fetchone()
    return int(row[0]) if row else 0


def bench_workers(args: argparse.Namespace) -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as tmp:
        folder = Path(tmp)
        with fixture_site(folder) as base:
            for k in range(1, args.max_workers + 1):
                run = folder / f"k{k}"
                run.mkdir()
                config = write_config(
                    run, base, args.sources, args.every, args.concurrency, args.latency
                )
                with database() as url:
                    env = {
                        "SYNDICATOR_DATABASE": url.replace("postgresql://", "postgresql+psycopg://")
                    }
                    command = [sys.executable, "-m", "syndicator", "--config", str(config), "run"]
                    processes = [
                        spawn([*command, "--role", "scheduler"], run / "scheduler.log", env)
                    ]
                    try:
                        wait_for(
                            lambda r=run: "scheduler active" in (r / "scheduler.log").read_text(),
                            60,
                            "the scheduler",
                        )
                        processes += [
                            spawn([*command, "--role", "worker"], run / f"worker-{n}.log", env)
                            for n in range(k)
                        ]
                        # Warm up: the first passes (every page read once), then steady passes.
                        wait_for(
                            lambda u=url: first_passes_done(u, args.sources), 300, "first passes"
                        )
                        time.sleep(args.warmup)
                        pids = [child_of(p) for p in processes]
                        cpu_before = [cpu_seconds(pid) for pid in pids]
                        since = time.time()
                        time.sleep(args.seconds)
                        until = time.time()
                        cpu = [
                            cpu_seconds(pid) - b for pid, b in zip(pids, cpu_before, strict=True)
                        ]
                    finally:
                        stop(processes)
                    count = passes(url, since, until)
                per_minute = count * 60 / (until - since)
                scheduler_ms = cpu[0] * 1000 / max(count, 1)
                worker_ms = sum(cpu[1:]) * 1000 / max(count, 1)
                rows.append((k, per_minute, per_minute / k, worker_ms, scheduler_ms))
                print(f"  {k} worker(s): {per_minute:,.0f} passes/min", file=sys.stderr)
    demanded = args.sources * 60 / args.every
    answered = f"each answering in {args.latency:g} s" if args.latency else "answering 304"
    print(
        f"\n{args.sources} sources {answered}, due every {args.every:g} s ({demanded:,.0f} "
        f"passes/min wanted), {args.concurrency} jobs at once per worker, "
        f"{os.cpu_count()} cores\n"
    )
    print(
        "| workers | passes/min | per worker | vs 1 worker | worker CPU per pass "
        "| scheduler CPU per pass |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for k, total, each, worker_ms, scheduler_ms in rows:
        print(
            f"| {k} | {total:,.0f} | {each:,.0f} | {total / max(rows[0][1], 1):.2f}× "
            f"| {worker_ms:.1f} ms | {scheduler_ms:.1f} ms |"
        )


# --------------------------------------------------------------------------------------------
# scale: 10,000 sources, a share of them changing each period


RSS_HEAD = (
    '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
    'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
    "<title>Source {n}</title><link>https://news.invalid/{n}/</link>"
    "<description>Source {n}</description>"
)
RSS_ITEM = (
    "<item><title>Story {k} of source {n}</title><link>https://news.invalid/{n}/{k}</link>"
    '<guid isPermaLink="false">s{n}-{k}</guid><pubDate>{date}</pubDate>'
    "<category>Europe</category><description>Story {k} of source {n}.</description>"
    "<content:encoded><![CDATA[{body}]]></content:encoded></item>"
)
WORDS = [
    "the",
    "minister",
    "said",
    "talks",
    "on",
    "the",
    "new",
    "transport",
    "plan",
    "would",
    "resume",
    "next",
    "week",
    "after",
    "both",
    "sides",
    "agreed",
    "an",
    "agenda",
    "covering",
    "rail",
    "links",
    "between",
    "the",
    "largest",
    "cities",
    "and",
    "their",
    "funding",
]


class _Changing(asyncio.Protocol):
    """``GET /feed?source=N``: source N's feed, whose version is the last period in which it
    changed (``changed``); 304 when the client's ETag names that version."""

    started = 0.0
    every = 60.0
    share = 20  # one source in ``share`` changes each period

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        out = []
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            out.append(self.answer(head.decode("latin-1")))
        if out:
            self.transport.write(b"".join(out))

    @classmethod
    def version(cls, n: int, period: int) -> int:
        """The last period (≤ ``period``) in which source ``n`` changed; -1: never yet."""
        last = period - (period + n * 7919) % cls.share
        return last if last >= 0 else -1

    def answer(self, head: str) -> bytes:
        line = head.split("\r\n", 1)[0]
        if "?source=" not in line:
            return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        n = int(line.split("?source=", 1)[1].split()[0])
        period = int((time.time() - self.started) // self.every)
        version = self.version(n, period)
        etag = f'"v{version}"'
        if f"if-none-match: {etag}" in head.lower():
            return f"HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\n\r\n".encode()
        items = []
        for k in range(version, max(version - 3 * self.share, -1), -self.share):
            rng = random.Random(n * 100_003 + k)
            body = "".join("<p>" + " ".join(rng.choices(WORDS, k=40)) + ".</p>" for _ in range(4))
            when = time.strftime(
                "%a, %d %b %Y %H:%M:%S +0000", time.gmtime(self.started + k * self.every)
            )
            items.append(RSS_ITEM.format(n=n, k=k, date=when, body=body))
        xml = (RSS_HEAD.format(n=n) + "".join(items) + "</channel></rss>\n").encode()
        return (
            f"HTTP/1.1 200 OK\r\nETag: {etag}\r\nContent-Type: application/rss+xml\r\n"
            f"Content-Length: {len(xml)}\r\n\r\n"
        ).encode() + xml


async def _serve_changing(portfile: Path, every: float, share: int, seconds: float) -> None:
    _Changing.started, _Changing.every, _Changing.share = time.time(), every, share
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Changing, "127.0.0.1", 0, backlog=2048)
    portfile.write_text(str(server.sockets[0].getsockname()[1]))
    async with server:
        await asyncio.sleep(seconds)


@contextmanager
def changing_site(folder: Path, every: float, share: int) -> Iterator[str]:
    portfile = folder / "port"
    process = spawn(
        [sys.executable, __file__, "_changing", str(portfile), f"{every:g}", str(share)],
        folder / "site.log",
    )
    try:
        port = wait_for(lambda: portfile.exists() and portfile.read_text().strip(), 15, "port")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop([process])


def write_scale_config(
    folder: Path, base: str, sources: int, every: float, jobs: int, jitter: float
) -> Path:
    """The deployment: [jobs] heartbeat and stalled_after at their defaults (the first passes
    of 10,000 sources keep a worker's loop busier than the 1 s / 4 s of ``workers``), and each
    source's due times spread over its period (``jitter``), as a deployment of this size
    needs: 10,000 due at the same second are 10,000 deferrals at once."""
    lines = [
        "[service]",
        'base_url = "http://127.0.0.1:8080"',
        f'feeds_dir = "{folder}/feeds"',
        f"per_host = {jobs}",  # the sources stand for as many sites
        "respect_robots = false",
        "[jobs]",
        f"concurrency = {jobs}",
        "[[region]]",
        'id = "europe"',
        'title = "Europe"',
        'sections = ["Europe"]',
    ]
    for n in range(sources):
        lines += [
            "[[source]]",
            f'id = "s{n:05d}"',
            'kind = "rss"',
            f'url = "{base}/feed?source={n}"',
            f'every = "{every:g}s"',
            f'jitter = "{jitter:g}s"',
            'fetch_pages = "never"',
        ]
    path = folder / "syndicator.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def queue(url: str) -> tuple[int, int, int]:
    """Jobs waiting (todo, due now) and running (doing) in the engine's table, and the
    connections open to the database (this one left out)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing') "
            "AND (scheduled_at IS NULL OR scheduled_at <= now()) GROUP BY status"
        ).fetchall()
        connections = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        ).fetchone()
    counts = dict(rows)
    return (
        int(counts.get("todo", 0)),
        int(counts.get("doing", 0)),
        (int(connections[0]) - 1) if connections else 0,
    )


def stored(url: str, since: float, until: float) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM articles WHERE first_seen_at >= to_timestamp(%s) "
            "AND first_seen_at < to_timestamp(%s)",
            (since, until),
        ).fetchone()
    return int(row[0]) if row else 0


def database_figures(url: str) -> tuple[float, int, int]:
    """The database's size (MB), its articles, and the connections open to it."""
    with psycopg.connect(url) as conn:
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        count = conn.execute("SELECT count(*) FROM articles").fetchone()
        connections = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        ).fetchone()
    return (
        (size[0] if size else 0) / 1e6,
        int(count[0]) if count else 0,
        (int(connections[0]) - 1) if connections else 0,  # not this one
    )


def seed(url: str, base: str, sources: int, every: float, site_started: float, share: int) -> None:
    """A deployment already running: every source read once, at a time spread over the last
    period, with the validators its feed answers now (so its next pass is a conditional GET,
    answered 304 unless it changed since), as the scheduler finds it after a restart."""
    from syndicator.store import Store

    store = Store(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        store.sync_sources((f"s{n:05d}", "rss", f"{base}/feed?source={n}") for n in range(sources))
    finally:
        store.close()
    _Changing.share = share
    period = int((time.time() - site_started) // every)
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE sources SET first_fetch_at = now() - interval '1 day', "
            "last_fetch_at = now() - random() * %s * interval '1 second', health = 'ok', "
            "last_status = 304",
            (every,),
        )
        conn.execute("UPDATE sources SET last_success_at = last_fetch_at")
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO http_cache (source_id, url, etag, checked_at, status, misses) "
                "VALUES (%s, %s, %s, now(), 200, 0)",
                [
                    (f"s{n:05d}", f"{base}/feed?source={n}", f'"v{_Changing.version(n, period)}"')
                    for n in range(sources)
                ],
            )


def failed_deferrals(log: str) -> int:
    """Due passes the scheduler could not defer at a first try (it keeps and retries them),
    from its log: ``deferring N source passes failed``, or the old ``cannot defer``."""
    total = log.count("cannot defer")
    for line in log.splitlines():
        if "source passes failed" in line and "deferring " in line:
            total += int(line.split("deferring ", 1)[1].split()[0])
    return total


def bench_scale(args: argparse.Namespace) -> None:
    share = round(1 / args.changing)
    counts = (
        [int(k) for k in args.workers.split(",")]
        if args.workers
        else list(range(1, args.max_workers + 1))
    )
    rows = []
    series: dict[int, list[tuple[float, int, int, int]]] = {}
    # Each source's due times: its period plus a jitter, from the due time before (APScheduler 3
    # adds the jitter to the jittered time): on average a period and half the jitter apart.
    # Fresh, the jitter is a whole period (or all 10,000 would fall due at once); seeded, the
    # last fetches spread the due times, and the jitter is the default (a tenth of the period).
    jitter = min(args.every / 10, 60) if args.seeded else args.every
    mean_period = args.every + jitter / 2
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        folder = Path(tmp)
        site_started = time.time()
        with changing_site(folder, args.every, share) as base:
            for k in counts:
                run = folder / f"k{k}"
                run.mkdir()
                config = write_scale_config(
                    run, base, args.sources, args.every, args.concurrency, jitter
                )
                with database() as url:
                    env = {
                        "SYNDICATOR_DATABASE": url.replace("postgresql://", "postgresql+psycopg://")
                    }
                    if args.seeded:
                        seed(url, base, args.sources, args.every, site_started, share)
                    command = [sys.executable, "-m", "syndicator", "--config", str(config), "run"]
                    processes = [
                        spawn([*command, "--role", "scheduler"], run / "scheduler.log", env)
                    ]
                    try:
                        wait_for(
                            lambda r=run: "scheduler active" in (r / "scheduler.log").read_text(),
                            120,
                            "the scheduler",
                        )
                        active = time.monotonic()
                        processes += [
                            spawn([*command, "--role", "worker"], run / f"worker-{n}.log", env)
                            for n in range(k)
                        ]
                        try:
                            wait_for(
                                lambda u=url: first_passes_done(u, args.sources),
                                args.first_passes,
                                "first passes",
                            )
                        except RuntimeError:
                            print(
                                f"  {k} worker(s): the first passes did not end within "
                                f"{args.first_passes:g} s; stopped",
                                flush=True,
                            )
                            continue
                        first = time.monotonic() - active
                        # The steady state: every source's due times come one period (plus
                        # its jitter) after the scheduler started them; from one period on,
                        # they fall due at the full rate.
                        time.sleep(
                            max(args.warmup, active + args.every + args.warmup - time.monotonic())
                        )
                        pids = [child_of(p) for p in processes]
                        cpu_before = [cpu_seconds(pid) for pid in pids]
                        load_before = os.getloadavg()[0]
                        since = time.time()
                        samples = []
                        while time.time() - since < args.seconds:
                            todo, doing, connections = queue(url)
                            samples.append((time.time() - since, todo, doing, connections))
                            time.sleep(args.sample)
                        until = time.time()
                        load_after = os.getloadavg()[0]
                        cpu = [
                            cpu_seconds(pid) - b for pid, b in zip(pids, cpu_before, strict=True)
                        ]
                        rss = [peak_rss_mb(pid) for pid in pids]
                        size, articles, _ = database_figures(url)
                    finally:
                        stop(processes)
                    count = passes(url, since, until)
                    new = stored(url, since, until)
                if os.environ.get("BENCH_KEEP_LOGS"):  # the roles' logs, kept for a look
                    kept = Path(os.environ["BENCH_KEEP_LOGS"]) / f"k{k}"
                    kept.mkdir(parents=True, exist_ok=True)
                    for one in run.glob("*.log"):
                        (kept / one.name).write_bytes(one.read_bytes())
                scheduler_log = (run / "scheduler.log").read_text(errors="replace")
                errors = failed_deferrals(scheduler_log)
                requeued = scheduler_log.count("queued again")
                seconds = until - since
                due = args.sources * seconds / mean_period  # due times the scheduler met
                todos = [t for _, t, _, _ in samples]
                rows.append(
                    (
                        k,
                        first,
                        count * 60 / seconds,
                        new / seconds,
                        cpu[0] * 1000 / max(due, 1),
                        cpu[0] * 100 / seconds,
                        sum(cpu[1:]) * 1000 / max(count, 1),
                        max(rss[1:]),
                        rss[0],
                        (min(todos), statistics.median(todos), max(todos)),
                        size,
                        articles,
                        max(c for _, _, _, c in samples),
                        errors,
                        requeued,
                        (load_before, load_after),
                    )
                )
                series[k] = samples
                print(f"  {k} worker(s): {rows[-1]}", flush=True)  # a row as soon as it is known
    wanted = args.sources * 60 / mean_period
    print(
        f"\n{args.sources:,} sources due every {args.every:g} s plus a jitter of up to "
        f"{jitter:g} s ({wanted:,.0f} passes/min wanted), "
        f"{'already read once (seeded), ' if args.seeded else ''}"
        f"{100 / share:g} % of them changing each period, {args.concurrency} jobs at "
        f"once per worker, {args.seconds:g} s measured from one period after the scheduler "
        f"started, {os.cpu_count()} cores\n"
    )
    print(
        "| workers | first passes | passes/min | articles/s stored | scheduler CPU per due time "
        "| scheduler CPU | worker CPU per pass | worker peak RSS | scheduler peak RSS "
        "| queue waiting min / median / max | database | connections (max) "
        "| deferrals failed at first try | jobs requeued | load (1 min) before / after |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        k, first, per_min, per_s, sched, sched_pct, work, wrss, srss, (lo, mid, hi) = row[:10]
        size, arts, conns, errors, requeued, (load_a, load_b) = row[10:]
        print(
            f"| {k} | {first:.0f} s | {per_min:,.0f} | {per_s:.1f} | {sched:.2f} ms "
            f"| {sched_pct:.0f} % of a core | {work:.1f} ms | {wrss:.0f} MB | {srss:.0f} MB "
            f"| {lo:,} / {mid:,.0f} / {hi:,} | {size:.0f} MB ({arts:,} articles) | {conns} "
            f"| {errors:,} | {requeued:,} | {load_a:.1f} / {load_b:.1f} |"
        )
    print("\nqueue waiting over time (s: jobs waiting / running), every 10th sample:")
    for k, samples in series.items():
        points = ", ".join(f"{t:.0f}: {todo:,}/{doing}" for t, todo, doing, _ in samples[::10])
        print(f"  {k} worker(s): {points}")


# --------------------------------------------------------------------------------------------
# engines: procrastinate against Celery


def stamp(record: str, job: str) -> None:
    """A job's start, appended to the record file: job id, pid, time."""
    with open(record, "a") as f:
        f.write(f"{job} {os.getpid()} {time.time():.6f}\n")


def tiny(record: str, job: str, sleep: float = 0.0) -> None:
    """The job both engines run: note its start, then sleep (0: none)."""
    stamp(record, job)
    time.sleep(sleep)


def starts(record: Path) -> list[tuple[str, int, float]]:
    if not record.exists():
        return []
    out = []
    for line in record.read_text().splitlines():
        job, pid, at = line.split()
        out.append((job, int(pid), float(at)))
    return out


# -- procrastinate


def procrastinate_app(url: str) -> Any:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))
    app.task(name="tiny")(tiny)
    return app


def procrastinate_worker(url: str) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    app = procrastinate_app(url)
    app.run_worker(
        concurrency=1,
        update_heartbeat_interval=HEARTBEAT,
        stalled_worker_timeout=STALLED_AFTER,
        fetch_job_polling_interval=1.0,
        delete_jobs="successful",
    )


class Procrastinate:
    name = "procrastinate (PostgreSQL)"

    def __init__(self, url: str) -> None:
        from procrastinate.schema import SchemaManager

        self.url = url
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SchemaManager.get_schema())  # type: ignore[arg-type]
        self.app = procrastinate_app(url)
        self.app.open()

    def worker(self, log: Path) -> subprocess.Popen[bytes]:
        return spawn([sys.executable, __file__, "_procrastinate", self.url], log)

    def ready(self, workers: int) -> bool:
        with psycopg.connect(self.url) as conn:
            row = conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()
        return bool(row and row[0] >= workers)

    def defer(self, record: Path, job: str, sleep: float = 0.0) -> None:
        self.app.configure_task("tiny").defer(record=str(record), job=job, sleep=sleep)

    def defer_many(self, record: Path, jobs: list[str]) -> None:
        self.app.configure_task("tiny").batch_defer(
            *({"record": str(record), "job": j} for j in jobs)
        )

    def recover(self) -> None:
        """What the scaled mode's scheduler does every second."""

        async def once() -> None:
            async with self.app.open_async():
                manager = self.app.job_manager
                for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER):
                    await manager.retry_job(job)
                await manager.prune_stalled_workers(STALLED_AFTER)

        asyncio.run(once())

    def close(self) -> None:
        self.app.close()


# -- Celery


def celery_app(broker: str) -> Any:
    from celery import Celery

    app = Celery("bench", broker=broker)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_transport_options={"visibility_timeout": 10},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    app.task(name="tiny")(tiny)
    return app


def celery_worker(broker: str) -> None:
    app = celery_app(broker)
    app.worker_main(
        [
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname=bench-{os.getpid()}@%h",
        ]
    )


class Celery:
    def __init__(self, name: str, broker: str) -> None:
        self.name = name
        self.broker = broker
        self.app = celery_app(broker)
        with self.app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)
        self.app.control.purge()

    def worker(self, log: Path) -> subprocess.Popen[bytes]:
        return spawn([sys.executable, __file__, "_celery", self.broker], log)

    def ready(self, workers: int) -> bool:
        replies = self.app.control.ping(timeout=0.5) or []
        return len(replies) >= workers

    def defer(self, record: Path, job: str, sleep: float = 0.0) -> None:
        self.app.send_task("tiny", kwargs={"record": str(record), "job": job, "sleep": sleep})

    def defer_many(self, record: Path, jobs: list[str]) -> None:
        for j in jobs:
            self.defer(record, j)

    def recover(self) -> None:
        """Celery recovers by itself (the broker gives the message back)."""

    def close(self) -> None:
        self.app.control.purge()


def measure(engine: Any, folder: Path, jobs: int, latency_jobs: int) -> tuple[str, ...]:
    record = folder / "record"
    workers = [engine.worker(folder / "worker-1.log")]
    try:
        wait_for(lambda: engine.ready(1), 60, "a worker")
        # Latency: one job at a time, from defer to start.
        latencies = []
        for n in range(latency_jobs):
            job = f"l{n}"
            sent = time.time()
            engine.defer(record, job)
            at = wait_for(
                lambda j=job: next((s for s in starts(record) if s[0] == j), None), 30, job
            )
            latencies.append(at[2] - sent)
        # Throughput: many tiny jobs deferred at once, one worker process running them.
        names = [f"t{n}" for n in range(jobs)]
        began = time.time()  # deferred at once: procrastinate in one batch, Celery one by one
        engine.defer_many(record, names)
        wait_for(lambda: sum(1 for s in starts(record) if s[0].startswith("t")) >= jobs, 600, "all")
        times = sorted(s[2] for s in starts(record) if s[0].startswith("t"))
        throughput = (jobs - 1) / (times[-1] - times[0])  # the worker's pace, not the sender's
        deferring = jobs / (times[-1] - began)
        # Recovery: a second worker; kill -9 the one running a long job.
        workers.append(engine.worker(folder / "worker-2.log"))
        wait_for(lambda: engine.ready(2), 60, "two workers")
        engine.defer(record, "long", sleep=600.0)
        first = wait_for(
            lambda: next((s for s in starts(record) if s[0] == "long"), None), 30, "long"
        )
        victim = next(w for w in workers if child_of(w) == first[1])
        os.kill(first[1], signal.SIGKILL)
        killed = time.time()
        deadline = killed + 90
        again = None
        while time.time() < deadline and again is None:
            engine.recover()
            again = next((s for s in starts(record) if s[0] == "long" and s[1] != first[1]), None)
            time.sleep(1.0 if again is None else 0)
        recovery = f"{again[2] - killed:.1f} s" if again else "> 90 s"
        workers.remove(victim)
    finally:
        stop(workers)
        engine.close()
    return (
        engine.name,
        f"{statistics.median(latencies) * 1000:.1f} ms",
        f"{sorted(latencies)[int(len(latencies) * 0.95)] * 1000:.1f} ms",
        f"{throughput:,.0f} jobs/s",
        f"{deferring:,.0f} jobs/s",
        recovery,
    )


def bench_engines(args: argparse.Namespace) -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-engines-") as tmp:
        folder = Path(tmp)
        with database() as url:
            (folder / "p").mkdir()
            rows.append(measure(Procrastinate(url), folder / "p", args.jobs, args.latency))
        for name, broker in (("Celery (Redis)", REDIS), ("Celery (RabbitMQ)", RABBITMQ)):
            try:
                engine = Celery(name, broker)
            except ImportError:
                print(f"{name}: left out, Celery is not installed (pip install '.[bench]')")
                continue
            except Exception as e:  # the broker is absent: say so and go on
                print(f"{name}: left out, {broker} does not answer ({e})")
                continue
            (folder / name).mkdir()
            rows.append(measure(engine, folder / name, args.jobs, args.latency))
    print(
        f"\n{args.latency} jobs one at a time; {args.jobs} deferred at once; "
        f"{os.cpu_count()} cores\n"
    )
    print(
        "| engine | latency p50 | latency p95 | run by 1 worker process "
        "| deferred and run | job back after kill -9 |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "_procrastinate":
        procrastinate_worker(sys.argv[2])
        return
    if len(sys.argv) > 4 and sys.argv[1] == "_changing":
        asyncio.run(_serve_changing(Path(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), 3600))
        return
    if len(sys.argv) > 2 and sys.argv[1] == "_celery":
        celery_worker(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    w = sub.add_parser("workers", help="source passes per minute with 1 … N workers")
    w.add_argument("--sources", type=int, default=300)
    w.add_argument("--every", type=float, default=2.0)
    w.add_argument("--seconds", type=float, default=30.0)
    w.add_argument("--warmup", type=float, default=5.0)
    w.add_argument("--max-workers", type=int, default=3)
    w.add_argument("--concurrency", type=int, default=8)
    w.add_argument("--latency", type=float, default=0.0, help="seconds each source takes")
    c = sub.add_parser("scale", help="10,000 sources, 5 % changing, 1 … N workers")
    c.add_argument("--sources", type=int, default=10_000)
    c.add_argument("--every", type=float, default=60.0)
    c.add_argument("--changing", type=float, default=0.05, help="share changing each period")
    c.add_argument("--seconds", type=float, default=60.0)
    c.add_argument("--warmup", type=float, default=10.0)
    c.add_argument("--first-passes", type=float, default=600.0, help="seconds allowed for them")
    c.add_argument("--sample", type=float, default=1.0, help="seconds between queue samples")
    c.add_argument("--max-workers", type=int, default=3)
    c.add_argument("--workers", default="", help="worker counts to run, e.g. 1,2,3")
    c.add_argument(
        "--seeded",
        action="store_true",
        help="start as a deployment whose sources were all read (no first passes)",
    )
    c.add_argument("--concurrency", type=int, default=16)
    e = sub.add_parser("engines", help="procrastinate against Celery")
    e.add_argument("--jobs", type=int, default=2000)
    e.add_argument("--latency", type=int, default=200)
    args = parser.parse_args()
    if args.what == "workers":
        bench_workers(args)
    elif args.what == "scale":
        bench_scale(args)
    else:
        bench_engines(args)


if __name__ == "__main__":
    main()

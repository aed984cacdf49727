"""The scaled mode end to end: one PostgreSQL, a scheduler (and a standby), three workers and
60 sources on the fixture site, every process the real ``syndicator run --role …``.

- Every source is fetched once per due time, never twice at once: in the fixture server's
  request log no source's URL is fetched twice within half its interval, each is fetched about
  as often as it is due, and the engine's table never shows two running jobs of one source.
- ``kill -9`` of the worker running a (slow) pass: its job runs again on another worker within
  the stall time; every source goes on being fetched.
- ``kill -9`` of the active scheduler: the standby takes over within seconds.
- Publishing and deliveries, single-flight: never two jobs of one lock running at once.
- The feeds the workers published are byte-identical to a one-process ``once`` over the same
  sources into another database.

And a web node (``run --role web``) beside a scheduler and a worker: it serves what the worker
published, a pushed article is published by the worker and announced to a webhook target by a
``deliver`` job; every role but ``all`` refuses a SQLite store.

Skips, saying why, when PostgreSQL or ../shared is absent. Bounded: every process runs under a
``timeout`` backstop and the test stops them all.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import psycopg
import pytest
from support.service import ServiceProcess, free_port, own_env, wait_for
from support.sites import FixtureSite, Receiver, run_receiver

from syndicator.notify.webhooks import verify

pytestmark = pytest.mark.e2e  # end to end: the service or its commands, as processes

POSTGRES = os.environ.get(
    "SYNDICATOR_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432"
)
LIBPQ = POSTGRES.replace("postgresql+psycopg://", "postgresql://", 1)
BACKSTOP = 150  # seconds: no process of this test outlives it
EVERY = 5.0
HEARTBEAT = 1.0
STALLED_AFTER = 4.0
# What a loaded machine (CI runs on 2 cores) may add to a bound: every process here polls or
# ticks once a second, and any of them may wait a few seconds for a core.
SLACK = 6.0
DOCUMENTS = (
    ("html", "section/europe.html"),
    ("html", "section/asia.html"),
    ("rss", "feed.rss"),
    ("rss", "partner/feed.xml"),
)
SOURCES = 60  # the last one is slow: its pass takes SLOW seconds
SLOW = 12
REGIONS = """
[[region]]
id = "europe"
title = "أوروبا"
language = "ar"
sections = ["أوروبا", "Europe"]
places = ["موسكو", "وارسو", "بروكسل", "باريس", "روما", "لاهاي", "بريشتينا"]

[[region]]
id = "asia"
title = "آسيا"
language = "ar"
sections = ["آسيا", "Asia"]
places = ["هانوي", "طوكيو", "بكين", "سيول"]
"""


def admin() -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(f"{LIBPQ}/postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES}: the scaled mode needs it")


@pytest.fixture
def databases() -> Iterator[Callable[[], str]]:
    """Fresh databases of this test (URLs), dropped at the end."""
    conn = admin()
    made: list[str] = []

    def make() -> str:
        name = f"syndicator_scaling_{uuid.uuid4().hex[:10]}"
        conn.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return f"{POSTGRES}/{name}"

    try:
        yield make
    finally:
        for name in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


def source_url(site: FixtureSite, n: int) -> str:
    if n == SOURCES - 1:
        return site.url(f"__fault/slow/{SLOW}?source=s{n:02d}")
    return site.url(f"{DOCUMENTS[n % len(DOCUMENTS)][1]}?source=s{n:02d}")


def write_config(site: FixtureSite, folder: Path) -> Path:
    lines = [
        "[service]",
        'base_url = "http://127.0.0.1:8080"',
        f'database = "sqlite:///{folder}/unused.db"',  # each process is given $SYNDICATOR_DATABASE
        f'feeds_dir = "{folder}/feeds"',
        "[publish]",
        "debounce = 0.5",
        "[jobs]",
        f"heartbeat = {HEARTBEAT:g}",
        f"stalled_after = {STALLED_AFTER:g}",
        "concurrency = 4",
        REGIONS,
    ]
    for n in range(SOURCES):
        kind = "html" if n == SOURCES - 1 else DOCUMENTS[n % len(DOCUMENTS)][0]
        lines += [
            "[[source]]",
            f'id = "s{n:02d}"',
            f'kind = "{kind}"',
            f'url = "{source_url(site, n)}"',
            f'every = "{EVERY:g}s"',
            'jitter = "0s"',
        ]
    path = folder / "syndicator.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def role_process(
    name: str, config: Path, database: str, *args: str, env: dict[str, str] | None = None
) -> ServiceProcess:
    """``syndicator --config CONFIG ARGS…`` (a role of the scaled mode) on ``database``, its log
    ``NAME.log`` beside the config."""
    return ServiceProcess(
        config,
        *args,
        cwd=config.parent,
        log=config.parent / f"{name}.log",
        env=own_env(keep_database=True, **(env or {}), SYNDICATOR_DATABASE=database),
        backstop=BACKSTOP,
        name=name,
    ).start()


def query(database: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    url = database.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, args).fetchall()  # type: ignore[arg-type]


def feed_files(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def test_scheduler_and_three_workers_share_sixty_sources(
    private_site: FixtureSite, databases: Callable[[], str], tmp_path: Path
) -> None:
    scaled = tmp_path / "scaled"
    scaled.mkdir()
    config = write_config(private_site, scaled)
    database = databases()
    processes: list[ServiceProcess] = []

    def start(name: str, *args: str) -> ServiceProcess:
        process = role_process(name, config, database, "run", *args)
        processes.append(process)
        return process

    try:
        # Two schedulers (one takes the lock, the other stands by) and three workers, started
        # together; each worker says which of the engine's workers it is.
        first = start("scheduler-1", "--role", "scheduler")
        wait_for(lambda: "scheduler active" in first.output(), "a scheduler became active", 60)
        second = start("scheduler-2", "--role", "scheduler")
        started_workers = [start(f"worker-{n}", "--role", "worker") for n in range(1, 4)]
        wait_for(lambda: "standing by" in second.output(), "the second scheduler stood by", 60)
        workers: dict[int, ServiceProcess] = {}
        for worker in started_workers:
            line = wait_for(
                lambda w=worker: re.search(r"is the engine's worker (\d+)", w.output()),
                f"{worker.name} running jobs",
                60,
            )
            workers[int(line.group(1))] = worker
        # The first passes (one job, every source, the slow one too) are over: from here on
        # each source has passes of its own.
        wait_for(
            lambda: (
                not query(
                    database,
                    "SELECT 1 FROM procrastinate_jobs WHERE task_name = 'syndicator:first_passes' "
                    "AND status IN ('todo', 'doing')",
                )
            ),
            "the first passes done",
            60,
        )
        started = time.time()
        running_per_lock: list[int] = []

        def watch(seconds: float) -> None:
            """Meanwhile, how many jobs of one lock (a source's, publishing's, delivering's) run
            at once (the engine's own table)."""
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                rows = query(
                    database,
                    "SELECT lock, count(*) FROM procrastinate_jobs "
                    "WHERE status = 'doing' AND lock IS NOT NULL GROUP BY lock",
                )
                running_per_lock.append(max((r[1] for r in rows), default=0))
                time.sleep(0.25)

        watch(8)
        # kill -9 the worker running the slow source's pass.
        slow_lock = f"source:s{SOURCES - 1:02d}"

        def slow_job() -> tuple[int, int] | None:
            """A job of the slow source running on a worker, and still running a second
            later: a pass fetching (one that finds nothing to do ends in milliseconds)."""
            sql = (
                "SELECT id, worker_id FROM procrastinate_jobs WHERE status = 'doing' "
                "AND lock = %s AND worker_id IS NOT NULL"
            )
            rows = query(database, sql, slow_lock)
            if not rows or rows[0][1] not in workers:
                return None
            time.sleep(1)
            return (rows[0][0], rows[0][1]) if query(database, sql, slow_lock) == rows else None

        _, victim_id = wait_for(slow_job, "a worker running the slow pass", 40)
        victim = workers.pop(victim_id)
        victim.kill9()
        killed = time.time()

        def taken_over() -> bool:
            """The slow source's pass runs again on a live worker: its job queued again, or
            (when the scheduler had queued a newer one meanwhile) that newer one."""
            rows = query(
                database,
                "SELECT worker_id FROM procrastinate_jobs WHERE status = 'doing' AND lock = %s",
                slow_lock,
            )
            return bool(rows) and rows[0][0] in workers

        wait_for(taken_over, "the dead worker's job running on another worker", 30)
        recovered = time.time() - killed
        watch(4)
        # kill -9 the active scheduler: the standby takes over.
        first.kill9()
        scheduler_killed = time.time()
        wait_for(lambda: "scheduler active" in second.output(), "the standby took over", 30)
        took_over = time.time() - scheduler_killed
        watch(3 * EVERY)
        # Let the last changes be published, then stop everything.
        wait_for(
            lambda: (
                not query(
                    database,
                    "SELECT 1 FROM region_changes WHERE NOT published UNION ALL "
                    "SELECT 1 FROM procrastinate_jobs WHERE task_name <> 'syndicator:source_pass' "
                    "AND status IN ('todo', 'doing')",
                )
            ),
            "the changes published",
            20,
        )
        finished = time.time()
        log = private_site.requests()
    finally:
        for process in processes:
            process.stop()
    outputs = "\n".join(f"--- {p.name}\n{p.output()[-3000:]}" for p in processes)
    assert "Traceback" not in outputs, outputs

    # Once per due time, never twice at once.
    fetches: dict[str, list[float]] = defaultdict(list)
    for entry in log:
        query_string = urlsplit(entry["path"]).query
        if query_string.startswith("source=") and entry["t"] >= started:
            fetches[query_string].append(entry["t"])
    regular = [f"source=s{n:02d}" for n in range(SOURCES - 1)]
    assert set(regular) <= set(fetches), sorted(set(regular) - set(fetches))
    window = finished - started
    closest = min(b - a for s in regular for a, b in zip(fetches[s], fetches[s][1:], strict=False))
    assert closest > EVERY / 2, f"a source was fetched twice within {closest:.2f} s"
    counts = sorted(len(fetches[s]) for s in regular)
    due = window / EVERY
    # Each source is due about window/EVERY times: never fetched more often, and (on a busy
    # machine, with a worker and a scheduler killed on the way) at least half as often.
    assert counts[-1] <= due + 1, (counts, due)
    assert counts[0] >= due / 2 - 1, (counts, due)
    assert running_per_lock and max(running_per_lock) == 1
    # The dead worker's job ran again within the stall time (its last heartbeat up to
    # HEARTBEAT s before the kill, the scheduler looks every second, a worker polls for a job
    # queued again every second).
    assert recovered <= STALLED_AFTER + HEARTBEAT + 2 + SLACK, recovered
    assert took_over <= 1 + SLACK, took_over
    # After each kill every source went on: no gap longer than the stall time and an interval.
    longest, where, after = max(
        (b - a, s, a - started)
        for s in regular
        for a, b in zip(fetches[s], fetches[s][1:], strict=False)
    )
    assert longest <= STALLED_AFTER + 2 * EVERY + SLACK, (
        f"{where} not fetched for {longest:.1f} s from {after:.1f} s on; worker killed at "
        f"{killed - started:.1f} s, scheduler at {scheduler_killed - started:.1f} s"
    )
    print(
        f"\n{len(regular)} sources over {window:.0f} s, due {due:.1f} times each: fetched "
        f"{counts[0]}–{counts[-1]} times, closest fetches {closest:.2f} s apart, longest gap "
        f"{longest:.2f} s; dead worker's job resumed after {recovered:.1f} s, standby "
        f"scheduler active after {took_over:.1f} s"
    )

    # The same sources through one process into another database: the same feed bytes.
    reference = tmp_path / "reference"
    reference.mkdir()
    text = config.read_text(encoding="utf-8").replace(str(scaled), str(reference))
    (reference / "syndicator.toml").write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "SYNDICATOR_CONFIG"}
    env["SYNDICATOR_DATABASE"] = databases()
    once = subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(reference / "syndicator.toml"), "once"]
        + [a for n in range(SOURCES - 1) for a in ("--source", f"s{n:02d}")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        cwd=reference,
    )
    assert once.returncode == 0, once.stdout + once.stderr
    ours, theirs = feed_files(scaled / "feeds"), feed_files(reference / "feeds")
    assert ours.keys() == theirs.keys()
    different = [name for name in ours if ours[name] != theirs[name]]
    assert not different, different


SECRET = "downstream-secret"
TOKEN = "scaled-token"


def get(url: str, token: str | None = None, body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def events_of(receiver: Receiver) -> list[dict[str, Any]]:
    """The webhook events answered 204, each signature checked."""
    out = []
    for post in receiver.posts():
        headers, body = post["headers"], post["body"].encode()
        assert verify(
            SECRET, headers["X-Syndicator-Timestamp"], body, headers["X-Syndicator-Signature-256"]
        )
        if post["answered"] == 204:
            out.append(json.loads(body))
    return out


def test_a_web_node_serves_and_pushes_while_workers_publish_and_deliver(
    private_site: FixtureSite, fixtures_dir: Path, databases: Callable[[], str], tmp_path: Path
) -> None:
    with run_receiver(tmp_path / "receiver", fail_first=1) as receiver:
        port = free_port()
        folder = tmp_path / "scaled"
        folder.mkdir()
        lines = [
            "[service]",
            f'base_url = "http://127.0.0.1:{port}"',
            f'listen = "127.0.0.1:{port}"',
            f'database = "sqlite:///{folder}/unused.db"',
            f'feeds_dir = "{folder}/feeds"',
            "[publish]",
            "debounce = 0.3",
            "[jobs]",
            "heartbeat = 1",
            "stalled_after = 4",
            "[security]",
            "allow_private_targets = true",  # the receiver is on loopback
            REGIONS,
            "[[notify]]",
            'id = "downstream"',
            'kind = "webhook"',
            f'url = "{receiver.base}/hook"',
            'secret_env = "HOOK_SECRET"',
            'events = ["article.created", "feed.updated"]',
        ]
        for n in range(2):
            kind, path = DOCUMENTS[n]
            lines += ["[[source]]", f'id = "s{n:02d}"', f'kind = "{kind}"']
            lines += [f'url = "{private_site.url(path)}"', 'every = "30s"']
        config = folder / "syndicator.toml"
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        database = databases()
        env = {"HOOK_SECRET": SECRET, "SYNDICATOR_API_TOKEN": TOKEN}
        processes = [
            role_process(role, config, database, "run", "--role", role, env=env)
            for role in ("scheduler", "worker", "web")
        ]
        base = f"http://127.0.0.1:{port}"
        try:
            # The worker's first passes, published into the shared folder, served by the web node.
            def europe() -> bytes:
                status, body = get(f"{base}/feeds/europe.atom")
                return body if status == 200 and b"<entry" in body else b""

            feed = wait_for(europe, "the europe feed served by the web node", 60)
            first = feedparser.parse(feed)
            assert first.entries
            # Each new story announced by a delivery job (the first POST failed and was retried).
            wanted = {e.link for e in first.entries}
            wait_for(
                lambda: (
                    wanted
                    <= {
                        e["article"]["url"]
                        for e in events_of(receiver)
                        if e["type"] == "article.created"
                    }
                ),
                "article.created for each story of the europe feed",
                30,
            )
            # A push to the web node: stored there, published by the worker, announced.
            story = {
                "url": "https://push.example/europe/scaled",
                "title": "قصة مدفوعة إلى عقدة الويب",
                "section": "أوروبا",
                "paragraphs": ["فقرة طويلة بما يكفي لتكون نص الخبر المدفوع إلى الخدمة الموزعة."],
            }
            status, answer = get(f"{base}/api/articles", TOKEN, json.dumps(story).encode())
            assert status == 200, answer
            assert json.loads(answer)["results"][0]["change"] == "created"
            wait_for(
                lambda: story["url"].encode() in europe(), "the pushed story in the europe feed", 30
            )
            wait_for(
                lambda: any(
                    e["type"] == "article.created" and e["article"]["url"] == story["url"]
                    for e in events_of(receiver)
                ),
                "article.created of the pushed story",
                30,
            )
            assert get(f"{base}/healthz")[0] == 200
        finally:
            for process in processes:
                process.stop()
        outputs = "\n".join(f"--- {p.name}\n{p.output()[-3000:]}" for p in processes)
        assert "Traceback" not in outputs, outputs
        codes = {p.name: p.returncode for p in processes}
        assert set(codes.values()) == {0}, (codes, outputs)
        events = events_of(receiver)
        ids = [e["id"] for e in events]
        assert len(ids) == len(set(ids)), "an event delivered twice"
        assert {"article.created", "feed.updated"} <= {e["type"] for e in events}


@pytest.mark.parametrize("role", ["scheduler", "worker", "web"])
def test_the_scaled_roles_refuse_a_sqlite_store(tmp_path: Path, role: str) -> None:
    config = tmp_path / "syndicator.toml"
    config.write_text(
        f'[service]\ndatabase = "sqlite:///{tmp_path}/s.db"\nfeeds_dir = "{tmp_path}/feeds"\n'
        '[[region]]\nid = "all-news"\ntitle = "News"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    done = subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(config), "run", "--role", role],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "PostgreSQL" in done.stderr and "service.database" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


# --------------------------------------------------------------------------------------------
# What ``run`` guarantees ops (tests/test_ops.py), held by the scaled roles too:
#
# - A refused reload (SIGHUP with a cron that can never be built) keeps the scheduler's and the
#   workers' config and schedules, is logged once naming the file and key, and every web node's
#   ``/healthz`` and status page say "degraded: last reload refused (…)" until a good reload.
# - The database away for a few seconds (its connections refused and terminated, again and
#   again) stops nothing for good: every role is still running afterwards, says in its log that
#   the store failed and that it carried on, and what changed in a source meanwhile (and after)
#   is published by the workers, served by the web node and delivered to a webhook, without a
#   restart.

AWAY = 5.0  # seconds the database is taken away


def service_lines(folder: Path, port: int) -> list[str]:
    return [
        "[service]",
        f'base_url = "http://127.0.0.1:{port}"',
        f'listen = "127.0.0.1:{port}"',
        f'database = "sqlite:///{folder}/unused.db"',  # each process is given $SYNDICATOR_DATABASE
        f'feeds_dir = "{folder}/feeds"',
        "[publish]",
        "debounce = 0.3",
        "[jobs]",
        "heartbeat = 1",
        "stalled_after = 4",
        "[[region]]",
        'id = "world"',
    ]


def rss(items: list[int]) -> str:
    """A feed of the stories numbered ``items``, each complete in the feed (no page read)."""
    entries = "".join(
        f"<item><title>الخبر رقم {n}</title><link>https://news.example/world/{n}</link>"
        f"<guid>https://news.example/world/{n}</guid>"
        f"<pubDate>Thu, 03 Dec 2026 0{n % 10}:00:00 GMT</pubDate>"
        f"<description><![CDATA[<p>نص الخبر رقم {n}، وفيه ما يكفي من الكلام ليكون خبراً "
        f"كاملاً تقرؤه الخدمة من الموجز نفسه دون أن تطلب صفحته.</p>]]></description></item>"
        for n in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<link>https://news.example/</link><description>d</description>{entries}"
        "</channel></rss>"
    )


def write_feed(path: Path, items: list[int]) -> None:
    staged = path.with_suffix(".new")
    staged.write_text(rss(items), encoding="utf-8")
    staged.replace(path)  # readers see the old file or the new one, never half of one


def health(base: str) -> dict[str, Any]:
    status, body = get(f"{base}/healthz")
    return json.loads(body) if status in (200, 503) else {}


def reload_problems(base: str) -> list[str]:
    return [p for p in health(base).get("problems", []) if "last reload refused" in p]


def hang_up(*processes: ServiceProcess) -> None:
    for process in processes:
        os.kill(process.pid, signal.SIGHUP)


def test_a_refused_reload_of_the_scaled_roles_shows_on_the_web_node_until_a_good_one(
    databases: Callable[[], str],
    tmp_path: Path,
) -> None:
    port = free_port()
    folder = tmp_path / "scaled"
    folder.mkdir()
    feed = folder / "steady.xml"
    write_feed(feed, [1])
    config = folder / "syndicator.toml"
    good = "\n".join(
        [
            *service_lines(folder, port),
            "[[source]]",
            'id = "hourly"',
            'kind = "rss"',
            f'url = "{feed}"',
            'cron = "0 * * * *"',
            'fetch_pages = "never"',
            "[[source]]",
            'id = "steady"',
            'kind = "rss"',
            f'url = "{feed}"',
            'every = "1s"',
            'jitter = "0s"',
            'fetch_pages = "never"',
        ]
    )
    config.write_text(good + "\n", encoding="utf-8")
    database = databases()
    env = {"SYNDICATOR_API_TOKEN": TOKEN}
    scheduler, worker, web = (
        role_process(role, config, database, "run", "--role", role, env=env)
        for role in ("scheduler", "worker", "web")
    )
    base = f"http://127.0.0.1:{port}"

    def passes() -> int:
        rows = query(database, "SELECT count(*) FROM fetch_log WHERE source_id = 'steady'")
        return int(rows[0][0])

    try:
        wait_for(lambda: "scheduler active" in scheduler.output(), "the scheduler active", 60)
        wait_for(lambda: "is the engine's worker" in worker.output(), "the worker's jobs", 60)
        wait_for(lambda: health(base).get("status"), "the web node answering", 60)
        wait_for(lambda: passes() >= 2, "the steady source read again and again", 30)
        assert not reload_problems(base)

        # SIGHUP with an hour that does not exist, to the scheduler and the worker: refused.
        config.write_text(
            good.replace('cron = "0 * * * *"', 'cron = "0 25 * * *"') + "\n", encoding="utf-8"
        )
        hang_up(scheduler, worker)
        problems = wait_for(
            lambda: len(reload_problems(base)) == 2 and reload_problems(base),
            "both refused reloads in the web node's /healthz",
            30,
        )
        assert health(base)["status"] == "degraded"
        for role, problem in zip(("scheduler", "worker"), problems, strict=True):
            assert problem.startswith("last reload refused ("), problem
            assert "syndicator.toml: source 'hourly'.cron" in problem, problem
            assert "hours are 0–23" in problem, problem
            assert f"the {role} " in problem and "runs on its old config" in problem, problem
        status, page = get(f"{base}/status")
        assert status == 200
        assert page.decode().count("degraded: last reload refused (") == 2, page.decode()
        for process in (scheduler, worker):
            log = process.output()
            assert len(re.findall("reload refused", log)) == 1, log
            assert "syndicator.toml: source 'hourly'.cron" in log, log
        # The old schedules run on: the steady source is still read every second.
        seen = passes()
        wait_for(lambda: passes() >= seen + 2, "the steady source still read", 30)

        # A good config: applied by both, and the web node is no longer degraded by them.
        config.write_text(
            good.replace('cron = "0 * * * *"', 'cron = "30 * * * *"') + "\n", encoding="utf-8"
        )
        hang_up(scheduler, worker)
        wait_for(lambda: "config reloaded" in scheduler.output(), "the scheduler reloaded", 30)
        wait_for(lambda: not reload_problems(base), "the refusals cleared in /healthz", 30)
        status, page = get(f"{base}/status")
        assert status == 200 and b"last reload refused" not in page
    finally:
        for process in (scheduler, worker, web):
            process.stop()
    outputs = "\n".join(f"--- {p.name}\n{p.output()[-3000:]}" for p in (scheduler, worker, web))
    assert "Traceback" not in outputs and "never retrieved" not in outputs, outputs
    codes = {p.name: p.returncode for p in (scheduler, worker, web)}
    assert set(codes.values()) == {0}, (codes, outputs)


@contextmanager
def database_away(database: str, seconds: float) -> Iterator[None]:
    """The database refuses new connections, and every connection to it is terminated, again
    and again for ``seconds``; then it takes connections again."""
    name = database.rsplit("/", 1)[1]
    with psycopg.connect(f"{LIBPQ}/postgres", autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        try:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                )
                time.sleep(0.25)
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')


def created(receiver: Receiver) -> set[str]:
    return {e["article"]["url"] for e in events_of(receiver) if e["type"] == "article.created"}


def test_the_scaled_roles_carry_on_after_the_database_was_away(
    databases: Callable[[], str],
    tmp_path: Path,
) -> None:
    with run_receiver(tmp_path / "receiver", fail_first=1) as receiver:
        port = free_port()
        folder = tmp_path / "scaled"
        folder.mkdir()
        feed = folder / "news.xml"
        write_feed(feed, [1])
        config = folder / "syndicator.toml"
        lines = [
            *service_lines(folder, port),
            "[security]",
            "allow_private_targets = true",  # the receiver is on loopback
            "[[notify]]",
            'id = "downstream"',
            'kind = "webhook"',
            f'url = "{receiver.base}/hook"',
            'secret_env = "HOOK_SECRET"',
            'events = ["article.created"]',
            "[[source]]",
            'id = "news"',
            'kind = "rss"',
            f'url = "{feed}"',
            'every = "1s"',
            'jitter = "0s"',
            'fetch_pages = "never"',
            'regions = ["world"]',
        ]
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        database = databases()
        env = {"HOOK_SECRET": SECRET, "SYNDICATOR_API_TOKEN": TOKEN}
        processes = [
            role_process(role, config, database, "run", "--role", role, env=env)
            for role in ("scheduler", "worker", "web")
        ]
        base = f"http://127.0.0.1:{port}"

        def served(*urls: str) -> bool:
            status, body = get(f"{base}/feeds/world.atom")
            return status == 200 and all(u.encode() in body for u in urls)

        def story(n: int) -> str:
            return f"https://news.example/world/{n}"

        try:
            wait_for(lambda: served(story(1)), "the first story served by the web node", 60)
            wait_for(lambda: story(1) in created(receiver), "the first story announced", 30)

            # The database away for AWAY seconds, a new story in the source meanwhile.
            with database_away(database, AWAY):
                write_feed(feed, [1, 2])
            write_feed(feed, [1, 2, 3])  # and another one once it is back
            wait_for(lambda: served(story(2), story(3)), "the new stories served", 60)
            pushed = "https://push.example/world/after"
            body = {
                "url": pushed,
                "title": "خبر مدفوع بعد عودة قاعدة البيانات",
                "paragraphs": ["نص الخبر المدفوع بعد عودة قاعدة البيانات، وفيه ما يكفي."],
                "regions": ["world"],
            }
            answer = wait_for(
                lambda: (
                    (a := get(f"{base}/api/articles", TOKEN, json.dumps(body).encode()))[0] == 200
                    and a
                ),
                "a push stored by the web node",
                30,
            )
            assert json.loads(answer[1])["results"][0]["change"] == "created"
            wait_for(lambda: served(pushed), "the pushed story published", 30)
            wanted = {story(1), story(2), story(3), pushed}
            wait_for(lambda: wanted <= created(receiver), "every story announced", 60)
            running = {p.name: p.returncode for p in processes}
            assert set(running.values()) == {None}, running  # nothing died, nothing restarted
            assert health(base).get("store") == "ok"
        finally:
            for process in processes:
                process.stop()
        outputs = "\n".join(f"--- {p.name}\n{p.output()[-4000:]}" for p in processes)
        assert "Traceback" not in outputs and "never retrieved" not in outputs, outputs
        codes = {p.name: p.returncode for p in processes}
        assert set(codes.values()) == {0}, (codes, outputs)
        ids = [e["id"] for e in events_of(receiver)]
        assert len(ids) == len(set(ids)), "an event delivered twice"
        # Each role said that the store went away, and carried on.
        scheduler, worker, web = (p.output() for p in processes)
        assert re.search(r"lost the lock's session|cannot reach the database", scheduler), scheduler
        assert "scheduler active" in scheduler.split("lost the lock's session")[-1], scheduler
        assert "worker: lost the job notifications" in worker, worker
        # The scheduler may have pruned the worker as stalled while its heartbeats could not be
        # written: then the engine's worker ended, and was started again under a new id.
        restarted = worker.split("worker: the job engine stopped")
        assert len(restarted) == 1 or "is the engine's worker" in restarted[-1], worker
        assert "cannot read the store" in web and "the store answers again" in web, web

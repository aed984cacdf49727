"""The scaled mode as ops run it: what ``run`` guarantees (tests/test_ops.py), held by the
``run --role scheduler|worker|web`` processes sharing one PostgreSQL.

- A refused reload (SIGHUP with a cron that can never be built) keeps the scheduler's and the
  workers' config and schedules, is logged once naming the file and key, and every web node's
  ``/healthz`` and status page say "degraded: last reload refused (…)" until a good reload.
- The database away for a few seconds (its connections refused and terminated, again and
  again) stops nothing for good: every role is still running afterwards, says in its log that
  the store failed and that it carried on, and what changed in a source meanwhile (and after)
  is published by the workers, served by the web node and delivered to a webhook, without a
  restart.

Skips, saying why, when PostgreSQL is absent. Every process runs under a ``timeout`` backstop.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from conftest import Receiver, run_receiver
from test_scaling import (  # noqa: F401 (databases is a fixture)
    LIBPQ,
    SECRET,
    TOKEN,
    Process,
    databases,
    events_of,
    get,
    query,
    wait_for,
)
from test_web import free_port

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


def hang_up(*processes: Process) -> None:
    for process in processes:
        os.kill(process.pid, signal.SIGHUP)


def test_a_refused_reload_of_the_scaled_roles_shows_on_the_web_node_until_a_good_one(
    databases: Callable[[], str],  # noqa: F811
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
        Process(role, config, database, "run", "--role", role, env=env)
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
    codes = {p.name: p.process.returncode for p in (scheduler, worker, web)}
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
    databases: Callable[[], str],  # noqa: F811
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
            Process(role, config, database, "run", "--role", role, env=env)
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
            running = {p.name: p.process.poll() for p in processes}
            assert set(running.values()) == {None}, running  # nothing died, nothing restarted
            assert health(base).get("store") == "ok"
        finally:
            for process in processes:
                process.stop()
        outputs = "\n".join(f"--- {p.name}\n{p.output()[-4000:]}" for p in processes)
        assert "Traceback" not in outputs and "never retrieved" not in outputs, outputs
        codes = {p.name: p.process.returncode for p in processes}
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

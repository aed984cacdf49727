"""What ops read and trust, end to end through the real service: schedules and next runs on
every surface, reloads that apply whole or not at all, and health that says what is wrong.

The service is ``syndicator run`` (or ``serve``) as a subprocess on loopback
(``support.service.Server``); the commands (``status``, ``check``) run as subprocesses on the
same config.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from support.database import PostgresDatabases
from support.service import Server, asgi_call, samples_toml
from support.sites import PARAGRAPHS, Site, SlowSubscriber, run_receiver

from syndicator.demo import SAMPLES_DIR

pytestmark = pytest.mark.e2e  # end to end: the service or its commands, as processes

BEIRUT = ZoneInfo("Asia/Beirut")


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


def syndicator(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m syndicator --config CONFIG ARGS``, run where the config is."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    return subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(config), *args],
        cwd=config.parent if config.is_file() else config,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def command(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    """A command on the server's config and store."""
    return syndicator(server.config, *args)


def next_local(hour: int, zone: ZoneInfo, after: datetime) -> datetime:
    local = after.astimezone(zone)
    at = datetime(local.year, local.month, local.day, hour, tzinfo=zone)
    if at <= local:
        day = local.date() + timedelta(days=1)
        at = datetime(day.year, day.month, day.day, hour, tzinfo=zone)
    return at.astimezone(UTC)


def hang_up(server: Server) -> None:
    """SIGHUP to the service itself. (``Server.signal`` signals the ``timeout`` backstop, which
    passes the signal on but then kills the service five seconds later.)"""
    assert server.process is not None
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    os.kill(int(children[0]), signal.SIGHUP)


def stamps(text: str) -> set[str]:
    return set(re.findall(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d", text))


# --------------------------------------------------------------------------------------------
# Next runs: one instant, in UTC, on every surface


def test_every_surface_shows_the_same_next_run_of_a_cron_source_in_another_zone(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory()
    (server.config / "10-service.toml").write_text(server.service_toml(), encoding="utf-8")
    (server.config / "20-sources.toml").write_text(
        f'[[source]]\nid = "beirut"\nkind = "rss"\nurl = "{SAMPLES_DIR}/feeds/rss2.xml"\n'
        'cron = "0 17 * * *"\ntimezone = "Asia/Beirut"\n',
        encoding="utf-8",
    )
    before = datetime.now(UTC)
    server.start()
    row = server.wait_until(
        lambda: next(
            (
                r
                for r in server.get("/api/sources").json()
                if r["last_fetch_at"] and r["next_due_at"]
            ),
            None,
        ),
        "the source read once, its next run recorded",
    )
    after = datetime.now(UTC)
    expected = {next_local(17, BEIRUT, before), next_local(17, BEIRUT, after)}
    due = datetime.fromisoformat(row["next_due_at"])
    assert due in expected and row["next_due_at"].endswith("Z"), row  # 15:00 UTC in winter
    assert row["next_run"] == row["next_due_at"], row
    stamp = due.strftime("%Y-%m-%d %H:%M:%S")
    iso = due.strftime("%Y-%m-%dT%H:%M:%S")

    page = server.get("/status").text
    assert stamp in page and f'datetime="{iso}Z"' in page
    status = command(server, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)[0]["next_due_at"] == row["next_due_at"]
    table = command(server, "status")
    assert stamp in table.stdout and stamps(table.stdout) - {stamp} <= stamps(
        row["last_fetch_at"].replace("T", " ")
    ), table.stdout
    check = command(server, "check")
    assert check.returncode == 0 and stamp in check.stdout, check.stdout
    assert server.stop() == 0

    # `serve` reads the next run from the store: the same instant.
    serve = server_factory("serve", "serve")
    serve.config = server.config
    (server.config / "10-service.toml").write_text(
        f'[service]\nbase_url = "{serve.base}"\nlisten = "127.0.0.1:{serve.port}"\n'
        f'database = "sqlite:///{server.folder}/syndicator.db"\n'
        f'feeds_dir = "{server.folder}/feeds"\n',
        encoding="utf-8",
    )
    serve.start()
    (row,) = serve.get("/api/sources").json()
    assert row["next_run"] == row["next_due_at"] == due.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert stamp in serve.get("/status").text


# --------------------------------------------------------------------------------------------
# Entry ids: a store rebuilt from the same sources a week later publishes the same ids


def test_a_store_rebuilt_a_week_later_publishes_the_same_entry_ids(tmp_path: Path) -> None:
    import asyncio

    from syndicator import config as config_module
    from syndicator.ingest import run_once
    from syndicator.store import Store

    def rebuild(name: str, now: datetime) -> dict[str, tuple[str, datetime | None]]:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "10-samples.toml").write_text(samples_toml(), encoding="utf-8")
        (folder / "20-service.toml").write_text(
            f'[service]\ndatabase = "sqlite:///{folder}/s.db"\n', encoding="utf-8"
        )
        cfg = config_module.load(folder, environ={})
        store = Store(cfg.service.database, host="ops.example")
        try:
            asyncio.run(run_once(cfg, store, now=now))
            entries = store.entries("all")
        finally:
            store.close()
        return {e.article.key: (e.id, e.article.published) for e in entries}

    now = datetime.now(UTC)
    first, week_later = rebuild("first", now), rebuild("later", now + timedelta(days=7))
    assert first.keys() == week_later.keys() and len(first) >= 8
    # An article that states its date has it in both stores; one that does not is dated by
    # the pass that stored it (and its id by that day).
    # (An article that states no date publishes none: its ``published`` is None in both.)
    dated = {k for k in first if first[k][1] is not None and first[k][1] == week_later[k][1]}
    assert len(dated) >= 5
    for key, (entry_id, published) in first.items():
        if key in dated:
            assert published is not None
            assert entry_id == week_later[key][0], key
            assert f",{published:%Y-%m-%d}:" in entry_id
        else:
            assert published is None and week_later[key][1] is None
            assert f",{now:%Y-%m-%d}:" in entry_id
            assert f",{now + timedelta(days=7):%Y-%m-%d}:" in week_later[key][0]


# --------------------------------------------------------------------------------------------
# Reload: whole or not at all


def schedules(server: Server) -> dict[str, tuple[str, str | None]]:
    return {r["id"]: (r["schedule"], r["next_run"]) for r in server.get("/api/sources").json()}


def test_a_refused_reload_keeps_everything_and_says_so_until_a_good_one(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory()
    (server.config / "10-service.toml").write_text(server.service_toml(), encoding="utf-8")
    good = (
        f'[[source]]\nid = "hourly"\nkind = "rss"\nurl = "{SAMPLES_DIR}/feeds/rss2.xml"\n'
        'cron = "0 * * * *"\n'
        f'[[source]]\nid = "steady"\nkind = "atom"\nurl = "{SAMPLES_DIR}/feeds/atom.xml"\n'
        'every = "1h"\n'
    )
    sources = server.config / "20-sources.toml"
    sources.write_text(good, encoding="utf-8")
    server.start()
    server.wait_until(
        lambda: all(n for _, n in schedules(server).values()), "every source is scheduled"
    )
    before = schedules(server)
    assert server.get("/healthz").json()["status"] == "ok"

    # SIGHUP with an hour that does not exist: refused whole, said once, counted, degraded.
    sources.write_text(good.replace('cron = "0 * * * *"', 'cron = "0 25 * * *"'), encoding="utf-8")
    hang_up(server)
    health = server.wait_until(
        lambda: (h := server.get("/healthz").json())["status"] == "degraded" and h,
        "the refused reload shows in /healthz",
    )
    assert health["reload"].startswith("last reload refused (")
    assert "20-sources.toml: source 'hourly'.cron" in health["reload"]
    assert "hours are 0–23" in health["reload"]
    assert server.metric("syndicator_config_reloads_total", result="error") == 1
    assert server.metric("syndicator_config_reloads_total", result="ok") == 0
    assert schedules(server) == before  # the old schedules run on, none left unscheduled
    page = server.get("/status").text
    assert "degraded: last reload refused (" in page and "source &#x27;hourly&#x27;.cron" in page
    log = server.output()
    assert "Traceback" not in log and "never retrieved" not in log
    assert len(re.findall(r"reload refused", log)) == 1, log

    # POST /api/reload with the same config: 422 with the reason, nothing changed.
    answer = server.post("/api/reload")
    assert answer.status == 422, answer.text
    assert any(
        "source 'hourly'.cron" in e and "hours are 0–23" in e for e in answer.json()["errors"]
    )
    assert server.metric("syndicator_config_reloads_total", result="error") == 2
    assert schedules(server) == before
    assert server.get("/healthz").json()["status"] == "degraded"

    # A good config: applied, and health is ok again.
    sources.write_text(good.replace('cron = "0 * * * *"', 'cron = "30 * * * *"'), encoding="utf-8")
    answer = server.post("/api/reload")
    assert answer.status == 200 and answer.json()["rescheduled"] == ["hourly"]
    health = server.get("/healthz").json()
    assert health["status"] == "ok" and "reload" not in health
    assert "last reload refused" not in server.get("/status").text
    assert datetime.fromisoformat(schedules(server)["hourly"][1] or "").minute == 30
    assert server.metric("syndicator_config_reloads_total", result="ok") == 1


# --------------------------------------------------------------------------------------------
# Rechecks: a correction made only on the article page is found by the next pass due for one


def corrected_site(site: Site, *, corrected: bool) -> None:
    """A feed whose item carries a summary only (so the page is read), and the page: before
    and after a correction that changes its text and dateModified but not the feed."""
    site.pages["/feed.rss"] = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        f"<link>{site.base}/</link><description>d</description><item>"
        f"<title>الخبر الأول</title><link>{site.base}/a/story.html</link>"
        f"<guid>{site.base}/a/story.html</guid><description>ملخص قصير.</description>"
        "<pubDate>Thu, 03 Dec 2026 09:00:00 GMT</pubDate></item></channel></rss>"
    ).encode()
    modified = "2026-12-03T11:00:00Z" if corrected else "2026-12-03T09:00:00Z"
    extra = "<p>تصحيح: الرقم الصحيح هو اثنا عشر وليس عشرة كما ورد سابقاً.</p>" if corrected else ""
    site.pages["/a/story.html"] = (
        '<html lang="ar"><head><meta property="og:type" content="article">'
        '<meta property="article:published_time" content="2026-12-03T09:00:00Z">'
        f'<meta property="article:modified_time" content="{modified}">'
        "<title>الخبر الأول</title></head><body><article><h1>الخبر الأول</h1>"
        f'<div class="article-body">{PARAGRAPHS}{extra}</div></article></body></html>'
    ).encode()


def recheck_config(folder: Path, site: Site, recheck: str, every: str = "1h") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "c.toml"
    path.write_text(
        f'[service]\ndatabase = "sqlite:///{folder}/s.db"\nfeeds_dir = "{folder}/feeds"\n'
        'respect_robots = false\n[[region]]\nid = "world"\n'
        f'[[source]]\nid = "news"\nkind = "rss"\nurl = "{site.base}/feed.rss"\n'
        f'every = "{every}"\nrecheck = "{recheck}"\nrecheck_window = "30d"\n'
        'regions = ["world"]\n',
        encoding="utf-8",
    )
    return path


def once_command(config: Path) -> str:
    run = syndicator(config, "once")
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_a_correction_only_on_the_page_is_found_by_the_next_recheck_in_once(
    tmp_path: Path, site: Site
) -> None:
    corrected_site(site, corrected=False)
    due = recheck_config(tmp_path / "due", site, recheck="0s")  # every pass
    never = recheck_config(tmp_path / "never", site, recheck="off")
    later = recheck_config(tmp_path / "later", site, recheck="1h")
    for config in (due, never, later):
        assert "news: 1 created" in once_command(config)
    corrected_site(site, corrected=True)

    site.requests.clear()
    assert "news: 1 updated" in once_command(due)  # the feed said nothing: 304
    assert site.requests == ["/feed.rss", "/a/story.html"]
    feed = (tmp_path / "due" / "feeds" / "world.atom").read_text(encoding="utf-8")
    assert "تصحيح" in feed and "<updated>2026-12-03T11:00:00" in feed

    for config in (never, later):  # not due: the page is not asked for, nothing changes
        site.requests.clear()
        assert "news: not modified" in once_command(config)
        assert site.requests == ["/feed.rss"]


def test_a_correction_only_on_the_page_is_found_by_the_next_recheck_in_run(
    server_factory: Callable[..., Server],
    site: Site,
) -> None:
    corrected_site(site, corrected=False)
    server = server_factory()
    (server.config / "10-service.toml").write_text(server.service_toml(), encoding="utf-8")
    (server.config / "20-source.toml").write_text(
        f'[[source]]\nid = "news"\nkind = "rss"\nurl = "{site.base}/feed.rss"\n'
        'every = "1s"\njitter = "0s"\nrecheck = "2s"\nrecheck_window = "30d"\n',
        encoding="utf-8",
    )
    server.start()
    server.wait_until(
        lambda: len(server.get("/api/articles").json()) == 1, "the story is stored", seconds=20
    )
    corrected_site(site, corrected=True)
    article = server.wait_until(
        lambda: next(
            (
                a
                for a in server.get("/api/articles").json()
                if a["updated"].startswith("2026-12-03T11")
            ),
            None,
        ),
        "the correction is found by a recheck",
        seconds=20,
    )
    record = server.get(f"/api/articles/{article['id']}").json()
    assert record["revision"] == 1 and "تصحيح" in record["revisions"][0]["diff"]


# --------------------------------------------------------------------------------------------
# Health that says what is wrong: a document of another kind, a source that stopped finding


def ops_config(folder: Path, sources: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "c.toml"
    path.write_text(
        f'[service]\ndatabase = "sqlite:///{folder}/s.db"\nfeeds_dir = "{folder}/feeds"\n'
        "respect_robots = false\n" + sources,
        encoding="utf-8",
    )
    return path


def once_lines(config: Path) -> dict[str, str]:
    run = syndicator(config, "once")
    assert "Traceback" not in run.stderr, run.stderr
    return dict(line.split(": ", 1) for line in run.stdout.splitlines() if ": " in line)


def source_status(config: Path) -> dict[str, dict[str, Any]]:
    """What ``status --json`` shows, read from the store the config names."""
    from syndicator import config as config_module
    from syndicator.store import Store

    store = Store(config_module.load(config, environ={}).service.database)
    try:
        return {state.id: state.to_json() for state in store.source_states()}
    finally:
        store.close()


def test_a_document_not_of_the_sources_kind_fails_every_pass(tmp_path: Path, site: Site) -> None:
    """An rss source on an HTML page that an html source reads too, and one on a local HTML
    file that happens to be well-formed XML: each pass fails with the reason, never a 304 of
    the other source's, never "nothing new"."""
    site.article("story", "الخبر الأول")
    page = tmp_path / "page.html"
    page.write_text(
        '<!DOCTYPE html>\n<html lang="ar"><head><title>صفحة</title></head><body></body></html>\n',
        encoding="utf-8",
    )
    config = ops_config(
        tmp_path / "kinds",
        f'[[source]]\nid = "page-html"\nkind = "html"\nurl = "{site.base}/a/story.html"\n'
        f'[[source]]\nid = "page-rss"\nkind = "rss"\nurl = "{site.base}/a/story.html"\n'
        f'[[source]]\nid = "file-rss"\nkind = "rss"\nurl = "{page}"\n'
        f'[[source]]\nid = "feed-html"\nkind = "html"\nurl = "{SAMPLES_DIR}/feeds/rss2.xml"\n',
    )
    reasons = {
        "page-rss": "not a feed: the document is an HTML page (the source's kind is 'rss'",
        "file-rss": "not a feed: the document is an HTML page (the source's kind is 'rss'",
        "feed-html": "not an HTML page: the document is a feed (the source's kind is 'html'",
    }
    for n in range(1, 4):
        lines = once_lines(config)
        assert lines["page-html"] == ("1 created" if n == 1 else "not modified"), lines
        status = source_status(config)
        for source_id, reason in reasons.items():
            assert lines[source_id].startswith(f"failed: unusable document: {reason}"), lines
            row = status[source_id]
            assert (row["health"], row["failures"]) == ("failing", n), row
            assert reason in row["last_error"], row
        assert status["page-html"]["health"] == "ok"


def test_a_source_that_keeps_finding_nothing_where_it_found_some_is_degraded(
    tmp_path: Path, site: Site
) -> None:
    def feed(items: int, title: str = "t") -> None:
        entries = "".join(
            f"<item><title>خبر {n}</title><link>{site.base}/a/{n}.html</link>"
            f"<description>{PARAGRAPHS}</description>"
            "<pubDate>Thu, 03 Dec 2026 09:00:00 GMT</pubDate></item>"
            for n in range(items)
        )
        site.pages["/feed.rss"] = (
            f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}'
            f"</title><link>{site.base}/</link><description>d</description>{entries}"
            "</channel></rss>"
        ).encode()

    config = ops_config(
        tmp_path / "zero",
        f'[[source]]\nid = "news"\nkind = "rss"\nurl = "{site.base}/feed.rss"\n'
        'fetch_pages = "never"\n',
    )

    def health() -> tuple[str, str | None, int | None]:
        row = source_status(config)["news"]
        return row["health"], row["health_reason"], row["last_found"]

    def once() -> str:  # `once`'s own code, in process (the command's cost is its imports)
        import asyncio

        from syndicator import config as config_module
        from syndicator.syndication import Syndication

        app = Syndication(config_module.load(config, environ={}))
        try:
            outcome = asyncio.run(app.once())
        finally:
            app.close()
        assert outcome.once is not None
        (result,) = outcome.once.passes
        return result.summary()

    feed(2)
    assert once() == "2 created"
    assert health() == ("ok", None, 2)
    feed(0)
    assert once() == "nothing new"
    degraded = ("degraded", "found nothing, where an earlier pass found 2", 0)
    assert health() == degraded
    assert once() == "not modified"  # the same empty feed: still degraded
    assert health() == degraded
    feed(0, title="another empty feed")
    assert once() == "nothing new"
    assert health() == degraded
    feed(2)
    assert once() == "2 unchanged"
    assert health() == ("ok", None, 2)


# --------------------------------------------------------------------------------------------
# WebSub: the latest request for a subscription wins, through the real hub


def test_the_hub_applies_requests_for_one_subscription_in_arrival_order(
    server_factory: Callable[..., Server],
) -> None:
    import sqlite3
    from contextlib import closing
    from urllib.parse import urlencode

    server = server_factory()
    (server.config / "10-samples.toml").write_text(samples_toml(every="1h"), encoding="utf-8")
    (server.config / "20-service.toml").write_text(
        server.service_toml() + "\n[security]\nallow_private_targets = true\n", encoding="utf-8"
    )
    server.start()
    subscriber = SlowSubscriber([2.0])  # the first verification is answered slowly
    try:
        topic = f"{server.base}/feeds/world.atom"
        for mode in ("subscribe", "unsubscribe"):
            form = {"hub.mode": mode, "hub.topic": topic, "hub.callback": subscriber.callback}
            answer = server.request(
                "POST",
                "/hub",
                {"content-type": "application/x-www-form-urlencoded"},
                urlencode(form).encode(),
            )
            assert answer.status == 202, answer.text
        server.wait_until(lambda: "unsubscribe" in subscriber.asked, "the unsubscribe is verified")
        assert server.stop() == 0  # shutdown waits for the verifications in flight
    finally:
        subscriber.close()
    with closing(sqlite3.connect(f"file:{server.folder}/syndicator.db?mode=ro", uri=True)) as db:
        assert db.execute("SELECT topic, callback FROM subscriptions").fetchall() == []
    assert "superseded by a newer request" in server.output()


# --------------------------------------------------------------------------------------------
# Background work: a task that dies is restarted, and /healthz says which and why


def test_a_task_that_dies_is_restarted_and_health_says_which_and_why(tmp_path: Path) -> None:
    import asyncio

    from syndicator import config as config_module
    from syndicator.service import Service
    from syndicator.supervise import Supervisor, TaskState
    from syndicator.web import make_app

    async def supervised() -> tuple[list[str], dict[str, Any], list[str]]:
        runs: list[str] = []
        supervisor = Supervisor()

        async def flaky() -> None:
            runs.append("run")
            if len(runs) == 1:
                raise RuntimeError("a bug")
            await asyncio.sleep(30)

        supervisor.start("dispatcher", flaky)
        while len(runs) < 2:
            await asyncio.sleep(0.05)
        report, problems = supervisor.report(), supervisor.problems()
        await supervisor.stop()
        return runs, report, problems

    runs, report, problems = asyncio.run(supervised())
    assert runs == ["run", "run"]
    assert report["dispatcher"]["state"] == "running" and report["dispatcher"]["restarts"] == 1
    assert report["dispatcher"]["last_error"] == "RuntimeError: a bug"
    assert problems == [
        "task dispatcher was restarted (1 time(s); the last time it died: RuntimeError: a bug)"
    ]

    # What /healthz and the status page make of it.
    (tmp_path / "c.toml").write_text(
        f'[service]\ndatabase = "sqlite:///{tmp_path}/s.db"\nfeeds_dir = "{tmp_path}/feeds"\n',
        encoding="utf-8",
    )
    service = Service(config_module.load(tmp_path / "c.toml", environ={}), poll=False)
    try:
        state = service.supervisor.tasks["dispatcher"] = TaskState("dispatcher")
        state.running, state.restarts, state.last_error = False, 1, "OperationalError: gone"
        state.last_failure = datetime.now(UTC)
        app = make_app(service)
        health = json.loads(asgi_call(app, "GET", "/healthz").body)
        assert health["status"] == "degraded"
        assert health["tasks"]["dispatcher"]["state"] == "restarting"
        assert health["problems"] == ["task dispatcher died (OperationalError: gone); restarting"]
        page = asgi_call(app, "GET", "/status").body.decode()
        assert "degraded: task dispatcher died (OperationalError: gone); restarting" in page
    finally:
        service.syndication.close()


# --------------------------------------------------------------------------------------------
# The database away for a few seconds: every event is delivered afterwards, without a restart

AWAY = 5.0  # seconds the database is taken away


class DatabaseAway:
    """Takes the service's database away and gives it back: on SQLite, another process holds
    the database's write lock (``BEGIN EXCLUSIVE``: every write waits, and fails after the
    service's ``database_timeout``); on PostgreSQL, the database refuses connections and the
    service's are terminated."""

    def __init__(self, kind: str, url: str) -> None:
        self.kind, self.url = kind, url
        self.holder: subprocess.Popen[str] | None = None

    def __enter__(self) -> DatabaseAway:
        if self.kind == "sqlite":
            path = self.url.removeprefix("sqlite:///")
            self.holder = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "import sqlite3, sys, time\n"
                    "db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n"
                    "db.execute('BEGIN EXCLUSIVE')\n"
                    "print('held', flush=True)\n"
                    "sys.stdin.readline()\n"
                    "db.execute('COMMIT')\n",
                    path,
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert self.holder.stdout is not None
            assert self.holder.stdout.readline().strip() == "held"
        else:
            name = self.url.rsplit("/", 1)[1]
            self._admin(
                f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false',
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{name}' AND pid <> pg_backend_pid()",
            )
        return self

    def __exit__(self, *_: object) -> None:
        if self.holder is not None:
            self.holder.communicate(input="\n", timeout=30)  # commits, exits, pipes closed
        else:
            name = self.url.rsplit("/", 1)[1]
            self._admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')

    def _admin(self, *statements: str) -> None:
        import sqlalchemy as sa

        admin = sa.create_engine(
            self.url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT"
        )
        try:
            with admin.connect() as conn:
                for statement in statements:
                    conn.execute(sa.text(statement))
        finally:
            admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(kind, URL): a SQLite file, or a fresh, empty PostgreSQL database (skipped where none
    answers): the service creates its schema."""
    if request.param == "sqlite":
        yield "sqlite", f"sqlite:///{tmp_path}/away.db"
        return
    postgres: PostgresDatabases = request.getfixturevalue("postgres")
    name = postgres.create("empty", prefix="syndicator_away")
    try:
        yield "postgresql", postgres.url(name)
    finally:
        # Gone at once, before server_factory stops the service: a service stopping while
        # its database is being dropped waits for the drop at each connection it tries.
        postgres.drop(name, now=True)


def test_every_event_is_delivered_after_the_database_was_away(
    server_factory: Callable[..., Server],
    database: tuple[str, str],
    tmp_path: Path,
) -> None:
    import time

    kind, url = database
    server = server_factory()
    with run_receiver(tmp_path / "receiver", fail_first=3) as receiver:
        (server.config / "10-service.toml").write_text(
            server.service_toml().replace(
                f'database = "sqlite:///{server.folder}/syndicator.db"',
                f'database = "{url}"'
                # SQLite waits for a lock (30 s by default): the test waits one second.
                + ('\ndatabase_timeout = "1s"' if kind == "sqlite" else ""),
            )
            + '\n[security]\nallow_private_targets = true\n[[region]]\nid = "world"\n'
            f'[[notify]]\nkind = "webhook"\nurl = "{receiver.base}/hook"\n'
            'events = ["article.created"]\n'
            # a source read every second: its passes meet the database away too
            f'[[source]]\nid = "steady"\nkind = "rss"\nurl = "{SAMPLES_DIR}/feeds/rss2.xml"\n'
            'every = "1s"\njitter = "0s"\nregions = ["world"]\n',
            encoding="utf-8",
        )
        server.start()

        def push(n: int) -> int:
            body = json.dumps(
                {
                    "url": f"https://push.example/world/{n}",
                    "title": f"خبر رقم {n}",
                    "paragraphs": [f"نص الخبر رقم {n}، وفيه ما يكفي من الكلام."],
                    "regions": ["world"],
                }
            )
            return server.post("/api/articles", body).status

        def delivered() -> set[str]:
            return {
                json.loads(p["body"])["article"]["url"]
                for p in receiver.posts()
                if p["answered"] == 204
            }

        # Two events wait for their deliveries (the receiver fails its first three POSTs) when
        # the database goes away.
        assert push(1) == 200 and push(2) == 200
        with DatabaseAway(kind, url):
            started = time.monotonic()
            refused = push(3)  # a write while the database is away: refused, not lost
            assert refused == 503, refused
            while time.monotonic() - started < AWAY:
                assert server.get("/feeds/world.atom").status in (200, 404)  # still serving
                time.sleep(0.2)
        assert server.wait_until(lambda: push(3) == 200, "a push is stored again", seconds=30)
        assert push(4) == 200
        pushed = {f"https://push.example/world/{n}" for n in (1, 2, 3, 4)}
        stored = {a["url"] for a in server.get("/api/articles?limit=500").json()}
        assert pushed < stored  # and the source's articles
        server.wait_until(lambda: delivered() == stored, "every event delivered", seconds=60)
        health = server.get("/healthz").json()
        assert health["tasks"]["dispatcher"] == {
            "state": "running",
            "restarts": 0,
            "last_error": None,
            "last_failure": None,
        }, health
        log = server.output()
        assert "Traceback" not in log and "never retrieved" not in log, log
        assert "notifications: the store answers again" in log, log
        assert re.search(r"source steady: .*the pass is tried again in 1s", log), log

"""The scheduler and source health: triggers from config, first runs after a restart spread out,
backoff after failures, reload that adds, removes and reschedules; health verdicts and events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syndicator import config
from syndicator.config import Source
from syndicator.errors import ConfigError
from syndicator.health import PassFacts, assess, pass_backoff
from syndicator.scheduler import Scheduler, first_run, jitter_of, spread, trigger_of

NOW = datetime(2026, 2, 10, 12, tzinfo=UTC)
STALE = timedelta(days=2)


def source(**fields: object) -> Source:
    base: dict[str, object] = {"id": "s", "kind": "rss", "url": "http://x/", "every": 600.0}
    return Source(**(base | fields))  # type: ignore[arg-type]


def test_interval_and_cron_triggers() -> None:
    assert trigger_of(source()).interval == timedelta(minutes=10)  # type: ignore[attr-defined]
    assert jitter_of(source()) == 60 and jitter_of(source(every=30.0)) == 3
    cron = trigger_of(source(every=None, cron="*/15 6-23 * * *", timezone="Asia/Riyadh"))
    nxt = cron.get_next_fire_time(None, datetime(2026, 2, 10, 2, 59, tzinfo=UTC))
    assert nxt == datetime(2026, 2, 10, 3, 0, tzinfo=UTC)  # 06:00 in Riyadh


def test_first_runs_follow_the_last_fetch_and_spread_when_overdue() -> None:
    s = source()
    assert first_run(s, NOW - timedelta(minutes=4), NOW) == NOW + timedelta(minutes=6)
    overdue = first_run(s, NOW - timedelta(hours=5), NOW)
    assert NOW <= overdue < NOW + timedelta(seconds=30)
    offsets = {spread(f"source-{i}", 30) for i in range(50)}
    assert len(offsets) == 50 and all(0 <= o < 30 for o in offsets)
    assert first_run(s, None, NOW) == NOW + timedelta(seconds=spread("s", 30))


def test_pass_backoff_doubles_is_capped_and_honours_retry_after() -> None:
    assert [pass_backoff(600, n) for n in range(4)] == [600, 600, 1200, 2400]
    assert pass_backoff(600, 20) == 6 * 3600
    assert pass_backoff(7 * 3600, 3) == 7 * 3600  # never below the interval
    assert pass_backoff(60, 1, retry_after=900) == 900


def facts(**fields: object) -> PassFacts:
    base: dict[str, object] = {"ok": True, "not_modified": False, "found": 5, "read": 5}
    return PassFacts(**(base | fields))  # type: ignore[arg-type]


def test_health_verdicts_and_their_events() -> None:
    v = assess("ok", 5, NOW, NOW, facts(ok=False), NOW, STALE)
    assert (v.health, v.event) == ("failing", "source.failing")
    v = assess("failing", 5, NOW, NOW, facts(ok=False), NOW, STALE)
    assert (v.health, v.event) == ("failing", None)
    v = assess("failing", 5, NOW, NOW, facts(changed=True), NOW, STALE)
    assert (v.health, v.event) == ("ok", "source.recovered")
    v = assess("ok", 5, NOW, NOW, facts(found=0), NOW, STALE)
    assert v.health == "degraded" and "found nothing" in v.reason
    v = assess("ok", 5, NOW, NOW, facts(missing_title=4), NOW, STALE)
    assert v.health == "degraded" and "titles" in v.reason
    v = assess("ok", 5, NOW - timedelta(days=3), NOW, facts(not_modified=True), NOW, STALE)
    assert (v.health, v.event) == ("stale", "source.stale")
    v = assess("stale", 5, NOW - timedelta(days=3), NOW, facts(not_modified=True), NOW, STALE)
    assert (v.health, v.event) == ("stale", None)


def write(path: Path, sources: str) -> config.Config:
    path.write_text('[[region]]\nid = "r"\n' + sources, encoding="utf-8")
    return config.load(path, environ={})


def test_reload_adds_removes_and_reschedules(tmp_path: Path) -> None:
    async def main() -> None:
        ran: list[str] = []

        async def run(source_id: str) -> None:
            ran.append(source_id)

        path = tmp_path / "c.toml"
        first = write(
            path,
            '[[source]]\nid = "a"\nkind = "rss"\nurl = "http://a/"\nevery = "1h"\n'
            '[[source]]\nid = "b"\nkind = "rss"\nurl = "http://b/"\nevery = "1h"\n',
        )
        scheduler = Scheduler(run)
        scheduler.start(first, {"a": NOW, "b": NOW}, now=NOW)
        try:
            before = scheduler.next_runs()
            assert before["a"] == NOW + timedelta(hours=1)
            second = write(
                path,
                '[[source]]\nid = "b"\nkind = "rss"\nurl = "http://b2/"\n'
                'every = "1h"\n'
                '[[source]]\nid = "c"\nkind = "rss"\nurl = "http://c/"\n'
                'every = "1s"\n',
            )
            result = scheduler.apply(second, {}, now=datetime.now(UTC))
            assert (result.added, result.removed, result.rescheduled) == (["c"], ["a"], [])
            assert scheduler.next_runs()["b"] == before["b"]  # untouched: keeps its next run
            third = write(
                path,
                '[[source]]\nid = "b"\nkind = "rss"\nurl = "http://b2/"\n'
                'every = "2h"\n'
                '[[source]]\nid = "c"\nkind = "rss"\nurl = "http://c/"\n'
                'every = "1s"\n',
            )
            assert scheduler.apply(third, {}).rescheduled == ["b"]
            # c's first run is within its 1 s interval (spread over it), a's never comes.
            for _ in range(100):
                if "c" in ran:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.05)
            assert "c" in ran and "a" not in ran  # the new source is polled
            scheduler.defer("b", NOW + timedelta(days=1))
            assert scheduler.next_runs()["b"] == NOW + timedelta(days=1)
        finally:
            scheduler.shutdown()

    asyncio.run(main())


def test_a_source_never_runs_twice_at_once(tmp_path: Path) -> None:
    async def main() -> None:
        running = 0
        most = 0
        runs = 0
        loop = asyncio.get_running_loop()
        due_again = asyncio.Event()

        class Skips(logging.Handler):
            """APScheduler says when a job came due while its run was still going."""

            def emit(self, record: logging.LogRecord) -> None:
                if "maximum number of running instances" in record.getMessage():
                    loop.call_soon_threadsafe(due_again.set)

        async def run(source_id: str) -> None:
            nonlocal running, most, runs
            running += 1
            most = max(most, running)
            # The run lasts until the source has come due again meanwhile (every 0.1 s): that
            # due run must wait or be skipped, never overlap this one.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(due_again.wait(), timeout=10)
            running -= 1
            runs += 1

        cfg = write(
            tmp_path / "c.toml",
            '[[source]]\nid = "a"\nkind = "rss"\nurl = "http://a/"\nevery = 0.1\njitter = "0s"\n',
        )
        skips = Skips(logging.WARNING)
        logging.getLogger("apscheduler").addHandler(skips)
        scheduler = Scheduler(run)
        scheduler.start(cfg, {}, now=datetime.now(UTC))
        try:
            async with asyncio.timeout(30):
                while not runs:
                    await asyncio.sleep(0.02)
        finally:
            scheduler.shutdown()
            logging.getLogger("apscheduler").removeHandler(skips)
        assert most == 1 and due_again.is_set()

    asyncio.run(main())


@pytest.mark.parametrize("bad", ['jitter = "soon"', 'every = "0s"'])
def test_bad_schedules_are_config_errors(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError):
        write(
            tmp_path / "c.toml", f'[[source]]\nid = "a"\nkind = "rss"\nurl = "http://a/"\n{bad}\n'
        )


def test_a_reload_whose_trigger_cannot_be_built_changes_nothing(tmp_path: Path) -> None:
    """Validation refuses such a config first; should a trigger still fail to build, the
    scheduler refuses the reload before any job is touched (ConfigError naming file and key)."""
    from dataclasses import replace

    async def main() -> None:
        async def run(source_id: str) -> None:
            return None

        path = tmp_path / "c.toml"
        cfg = write(
            path,
            '[[source]]\nid = "a"\nkind = "rss"\nurl = "http://a/"\nevery = "1h"\n'
            '[[source]]\nid = "b"\nkind = "rss"\nurl = "http://b/"\ncron = "0 * * * *"\n',
        )
        scheduler = Scheduler(run)
        # Started at the real time: from a fixed day in the past, APScheduler would first go
        # through every hour of the cron schedule since then (the runs missed, coalesced).
        now = datetime.now(UTC)
        scheduler.start(cfg, {"a": now, "b": now}, now=now)
        try:
            before = scheduler.next_runs()
            a, b = cfg.sources
            broken = replace(
                cfg,
                sources=(
                    replace(a, every=7200.0),
                    replace(b, cron="0 25 * * *"),
                    replace(a, id="c"),
                ),
            )
            with pytest.raises(ConfigError) as info:
                scheduler.apply(broken, {})
            assert str(info.value).startswith(f"{path}: source 'b'.cron: cannot be scheduled")
            assert scheduler.next_runs() == before  # a not rescheduled, c not added
        finally:
            scheduler.shutdown()

    asyncio.run(main())


def test_the_scaled_scheduler_refuses_a_reload_whole(tmp_path: Path) -> None:
    """``run --role scheduler``: a reload that fails after the config was read (a trigger that
    cannot be built) leaves the running config and every schedule as they were."""
    from dataclasses import replace

    from syndicator import jobs

    async def main() -> None:
        cfg = write(
            tmp_path / "c.toml",
            f'[service]\ndatabase = "sqlite:///{tmp_path}/s.db"\n'
            '[[source]]\nid = "a"\nkind = "rss"\nurl = "http://a/"\nevery = "1h"\n',
        )
        roles = jobs.Roles(tmp_path / "c.toml", cfg)
        active = jobs.ActiveScheduler(roles, None, None)  # type: ignore[arg-type]
        active.syndication.store.sync_sources([("a", "rss", "http://a/")])
        now = datetime.now(UTC)
        active.scheduler.start(cfg, {"a": now}, now=now)
        try:
            before = active.scheduler.next_runs()
            (a,) = cfg.sources
            broken = replace(
                cfg, sources=(replace(a, every=60.0), replace(a, id="z", cron="61 * * * *"))
            )
            with pytest.raises(ConfigError):
                await jobs.reload_roles(roles, [active], broken)
            assert roles.config is cfg and active.syndication.config is cfg
            assert active.scheduler.next_runs() == before
            assert [s.id for s in active.syndication.store.source_states()] == ["a"]
        finally:
            active.scheduler.shutdown()
            active.syndication.close()

    asyncio.run(main())


@pytest.mark.parametrize(
    ("last_found", "found_some", "pass_facts", "health", "reason"),
    [
        # read, found nothing: degraded, saying what an earlier pass found
        (5, 5, facts(found=0, read=0), "degraded", "where an earlier pass found 5"),
        # and on the passes after it, read again or answered 304: still degraded
        (0, 5, facts(found=0, read=0), "degraded", "where an earlier pass found 5"),
        (0, 5, facts(not_modified=True, found=0, read=0), "degraded", "earlier pass found 5"),
        # never found anything, first pass or not
        (None, None, facts(found=0, read=0), "degraded", "found nothing to read"),
        (0, None, facts(found=0, read=0), "degraded", "found nothing to read"),
        (0, None, facts(not_modified=True, found=0, read=0), "degraded", "found nothing to read"),
        # finding some again, or a 304 of a document that had some: ok
        (0, 5, facts(found=3, read=3, changed=True), "ok", "read fine"),
        (4, 4, facts(not_modified=True, found=0, read=0), "ok", "read fine"),
    ],
)
def test_a_source_that_keeps_finding_nothing_stays_degraded(
    last_found: int | None, found_some: int | None, pass_facts: PassFacts, health: str, reason: str
) -> None:
    v = assess("ok", last_found, NOW, NOW, pass_facts, NOW, STALE, found_some=found_some)
    assert v.health == health and reason in v.reason, v

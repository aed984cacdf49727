"""The scaled mode's queue at the size of a deployment, in process, on a real PostgreSQL (the
suite's own database on the PostgreSQL lane, one of this module's otherwise; skipped, saying
why, when the server is absent):

- the scheduler defers many sources' due passes in a few statements over one connection, a
  source whose pass is still waiting keeps that one, and the rows are the engine's own;
- deferrals the database refuses are kept, logged with the database's reason (never a bare
  "Database error."), and written once it answers again;
- the first passes of thousands of sources are jobs of a bounded size, run one after the
  other in config order, never deferred twice for one source;
- a log line about a job or a reload of thousands of sources is short: how many, the first few;
- the active scheduler, end to end over 1,050 sources: first passes in bounded jobs, every due
  pass deferred, every next due time recorded, the job table's statistics refreshed.

``tests/test_scaling.py`` runs the roles as processes; ``bench/scaling.py scale`` measures them
at 10,000 sources.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import procrastinate
import psycopg
import pytest
from support.database import PostgresDatabases
from support.service import wait_for

from syndicator import config as config_module
from syndicator.jobs import engine as engine_module
from syndicator.jobs import scheduling
from syndicator.jobs.queue import (
    DEFER_BATCH,
    FIRST_PASSES,
    FIRST_PASSES_CHUNK,
    FIRST_PASSES_LOCK,
    NAMESPACE,
    SOURCE_PASS,
    defer_delivery,
    defer_first_passes,
    defer_publish,
    defer_source_pass,
    defer_source_passes,
    describe,
    summarise,
)
from syndicator.jobs.roles import Roles
from syndicator.jobs.scheduling import ActiveScheduler, Deferrals, requeue_stalled
from syndicator.scheduler import ReloadResult

T = TypeVar("T")


@pytest.fixture
def database(
    request: pytest.FixtureRequest, tmp_path: Path, test_database: str | None
) -> Iterator[str]:
    """A PostgreSQL database (SQLAlchemy URL) holding the engine's tables: the suite's own on
    the PostgreSQL lane, else a fresh one of this test's (copied from the session's template)."""
    if test_database is not None and test_database.startswith("postgresql"):
        url = test_database
        _schema(url)
        yield url
        return
    postgres: PostgresDatabases = request.getfixturevalue("postgres")
    with postgres.database("jobs", prefix="syndicator_jobs") as url:
        yield url


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _schema(url: str) -> None:
    cfg = config_module.Config(service=config_module.ServiceSettings(database=url))
    asyncio.run(engine_module.ensure_schema(cfg))


def query(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        cursor = conn.execute(sql, args)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


def with_engine(url: str, body: Callable[[procrastinate.App], Awaitable[T]]) -> T:
    """Run ``body`` with a job engine over ``url`` whose pool holds ONE connection."""

    async def main() -> T:
        engine = procrastinate.App(
            connector=procrastinate.PsycopgConnector(
                conninfo=_libpq(url), min_size=1, max_size=1, timeout=30
            )
        )
        async with engine.open_async():  # the tasks by name: only deferred and taken here
            return await body(engine)

    return asyncio.run(main())


def ids(count: int) -> list[str]:
    return [f"s{n:05d}" for n in range(count)]


def test_due_passes_are_deferred_many_to_a_statement_and_a_waiting_one_stays(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    due = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
    sources = ids(2 * DEFER_BATCH + 500)

    async def body(engine: procrastinate.App) -> tuple[set[str], int]:
        # One source's pass deferred by the engine's own defer: it is waiting already.
        await defer_source_pass(engine, sources[7], due)
        statements = 0
        execute = engine.connector.execute_query_all_async

        async def counted(query: Any, **arguments: Any) -> list[dict[str, Any]]:
            nonlocal statements
            statements += 1
            return await execute(query, **arguments)

        monkeypatch.setattr(engine.connector, "execute_query_all_async", counted)
        done = await defer_source_passes(engine, dict.fromkeys(sources, due))
        return done, statements

    done, statements = with_engine(database, body)
    assert done == set(sources) - {sources[7]}
    assert statements == 3  # 2,500 due passes: three statements, not 2,500
    rows = query(
        database,
        "SELECT queueing_lock, lock, queue_name, task_name, priority, args, status, scheduled_at "
        "FROM procrastinate_jobs ORDER BY id",
    )
    assert len(rows) == len(sources)
    assert sorted(r[0] for r in rows) == sorted(f"source:{s}" for s in sources)
    engines_own, *ours = rows  # the one the engine deferred, then ours: the same shape
    for row in ours:
        assert row[0] == row[1]  # its lock is its queueing lock, as the engine's
        assert row[2:5] == engines_own[2:5] == ("default", SOURCE_PASS, 0)
        assert row[5] == {"source_id": row[0].removeprefix("source:"), "due": due.isoformat()}
        assert row[6:] == ("todo", None)
    assert engines_own[5] == {"source_id": sources[7], "due": due.isoformat()}

    # A worker takes one of ours as it takes any job: the arguments its task is called with.
    async def take(engine: procrastinate.App) -> Any:
        worker = await engine.job_manager.register_worker()
        return await engine.job_manager.fetch_job(queues=None, worker_id=worker)

    job = with_engine(database, take)
    assert job.task_name == SOURCE_PASS and set(job.task_kwargs) == {"source_id", "due"}


def test_ten_thousand_due_passes_go_through_one_connection(database: str) -> None:
    sources = ids(10_000)

    async def body(engine: procrastinate.App) -> tuple[bool, dict[str, int], set[str]]:
        heard: set[str] = set()
        deferrals = Deferrals(engine, heard.update)
        now = datetime.now(UTC)
        for source_id in sources:
            deferrals.add(source_id, now)
        deferrals.add(sources[0], now)  # due twice before the write: one pass
        written = await deferrals.flush()
        for source_id in sources[:100]:  # due again while their passes wait: refused, kept
            deferrals.add(source_id, now)
        await deferrals.flush()
        return written, deferrals.counts, heard

    written, counts, heard = with_engine(database, body)
    assert written and heard == set(sources)
    assert counts == {"deferred": 10_000, "waiting already": 100, "refused": 0}
    (row,) = query(database, "SELECT count(*), count(DISTINCT lock) FROM procrastinate_jobs")
    assert row == (10_000, 10_000)


def test_deferrals_the_database_refuses_are_kept_and_logged_with_its_reason(
    database: str, caplog: pytest.LogCaptureFixture
) -> None:
    sources = ids(10)

    async def body(engine: procrastinate.App) -> tuple[bool, int, bool, int]:
        deferrals = Deferrals(engine)
        now = datetime.now(UTC)
        for source_id in sources:
            deferrals.add(source_id, now)
        query(database, "ALTER TABLE procrastinate_jobs RENAME TO procrastinate_jobs_away")
        try:
            refused = await deferrals.flush()
        finally:
            query(database, "ALTER TABLE procrastinate_jobs_away RENAME TO procrastinate_jobs")
        kept = len(deferrals.pending)
        deferrals.add(sources[0], now)  # due again meanwhile: still one pass
        written = await deferrals.flush()
        return refused, kept, written, deferrals.failures

    with caplog.at_level(logging.INFO, logger="syndicator.jobs"):
        refused, kept, written, failures = with_engine(database, body)
    assert not refused and kept == 10
    assert written and failures == 0
    (row,) = query(database, "SELECT count(*) FROM procrastinate_jobs")
    assert row == (10,)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    (error,) = errors
    # What failed, how many, and why: the database's own reason, not the engine's bare words.
    assert "deferring 10 source passes failed" in error
    assert "UndefinedTable" in error and "procrastinate_jobs" in error
    assert "kept, 10 waiting" in error
    assert any("takes deferrals again" in r.getMessage() for r in caplog.records)


def test_an_error_is_described_with_its_causes() -> None:
    try:
        try:
            raise TimeoutError("couldn't get a connection after 30.00 sec")
        except TimeoutError as e:
            raise RuntimeError("Database error.") from e
    except RuntimeError as e:
        said = describe(e)
    assert said == (
        "RuntimeError: Database error. <- TimeoutError: couldn't get a connection after 30.00 sec"
    )


def test_first_passes_are_bounded_jobs_run_one_after_the_other_in_config_order(
    database: str,
) -> None:
    sources = ids(5 * FIRST_PASSES_CHUNK + 50)

    async def body(engine: procrastinate.App) -> tuple[int, int, list[Any], int]:
        deferred = await defer_first_passes(engine, sources)
        again = await defer_first_passes(engine, sources)  # a scheduler taking over: none
        manager = engine.job_manager
        worker = await manager.register_worker()
        taken = [await manager.fetch_job(queues=None, worker_id=worker)]
        taken.append(await manager.fetch_job(queues=None, worker_id=worker))  # the lock's held
        first = taken[0]
        assert first is not None
        await manager.finish_job(first, procrastinate.jobs.Status.SUCCEEDED, delete_job=True)
        taken.append(await manager.fetch_job(queues=None, worker_id=worker))
        # A source added later, the others still waiting: a job of its own.
        added = await defer_first_passes(engine, [*sources[FIRST_PASSES_CHUNK:], "late"])
        return deferred, again, taken, added

    deferred, again, taken, added = with_engine(database, body)
    assert deferred == 6 and again == 0 and added == 1
    first, while_running, second = taken
    assert while_running is None  # never two first-passes jobs running at once
    assert first.task_name == second.task_name == FIRST_PASSES
    assert first.task_kwargs["source_ids"] == sources[:FIRST_PASSES_CHUNK]
    assert second.task_kwargs["source_ids"] == sources[FIRST_PASSES_CHUNK : 2 * FIRST_PASSES_CHUNK]
    rows = query(database, "SELECT lock, args FROM procrastinate_jobs ORDER BY id")
    assert {r[0] for r in rows} == {FIRST_PASSES_LOCK}
    chunks = [r[1]["source_ids"] for r in rows]
    assert all(len(c) <= FIRST_PASSES_CHUNK for c in chunks)
    assert [s for c in chunks for s in c] == [*sources[FIRST_PASSES_CHUNK:], "late"]


def test_publishing_deliveries_and_first_passes_go_ahead_of_waiting_source_passes(
    database: str,
) -> None:
    async def body(engine: procrastinate.App) -> list[str]:
        await defer_source_passes(engine, dict.fromkeys(ids(50), datetime.now(UTC)))
        await defer_publish(engine, 0)
        await defer_delivery(engine)
        await defer_first_passes(engine, ["fresh"])
        worker = await engine.job_manager.register_worker()
        taken = []
        for _ in range(4):
            job = await engine.job_manager.fetch_job(queues=None, worker_id=worker)
            assert job is not None
            taken.append(job.task_name)
        return taken

    taken = with_engine(database, body)
    # A backlog of source passes holds up no feed and no notification.
    assert taken == [
        f"{NAMESPACE}:publish",
        f"{NAMESPACE}:deliver",
        FIRST_PASSES,
        SOURCE_PASS,
    ]


def test_a_dead_workers_job_of_many_sources_is_one_short_log_line(
    database: str, caplog: pytest.LogCaptureFixture
) -> None:
    sources = ids(FIRST_PASSES_CHUNK)

    async def body(engine: procrastinate.App) -> list[int]:
        await defer_first_passes(engine, sources)
        worker = await engine.job_manager.register_worker()
        assert await engine.job_manager.fetch_job(queues=None, worker_id=worker) is not None
        stale = "now() - interval '1 hour'"
        query(database, f"UPDATE procrastinate_workers SET last_heartbeat = {stale}")
        return await requeue_stalled(engine, 30)

    with caplog.at_level(logging.WARNING, logger="syndicator.jobs"):
        requeued = with_engine(database, body)
    assert len(requeued) == 1
    (line,) = [r.getMessage() for r in caplog.records if "queued again" in r.getMessage()]
    assert f"source_ids=[{FIRST_PASSES_CHUNK} (s00000, s00001, s00002, s00003, s00004, …)]" in line
    assert len(line) < 200, line


def test_many_ids_in_a_log_line_are_summarised() -> None:
    many = ids(10_000)
    assert summarise(many) == "10,000 (s00000, s00001, s00002, s00003, s00004, …)"
    assert summarise(many[:3]) == "s00000, s00001, s00002"
    said = str(ReloadResult(added=many, removed=["old"]))
    assert said == "added 10,000 (s00000, s00001, s00002, s00003, s00004, …); removed old"


def test_the_active_scheduler_defers_first_passes_and_due_passes_at_scale(
    database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Next due times are recorded at the scheduler's next look (a second apart in service):
    # here a fifth of a second, and the sources are due every 0.3 s (a number of seconds, as a
    # config may give it), so that the test waits for the work, not for the looks or the clock.
    monkeypatch.setattr(scheduling, "TICK", 0.2)
    count = 2 * FIRST_PASSES_CHUNK + 50
    lines = [
        "[service]",
        f'database = "{database}"',
        f'feeds_dir = "{tmp_path}/feeds"',
        "[jobs]",
        "concurrency = 2",
    ]
    for n in range(count):  # never fetched: no worker runs here
        lines += [
            "[[source]]",
            f'id = "s{n:05d}"',
            'kind = "rss"',
            f'url = "http://127.0.0.1:9/{n}"',
            "every = 0.3",
            'jitter = "0s"',
        ]
    (tmp_path / "c.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = config_module.load(tmp_path / "c.toml", environ={})

    async def main() -> None:
        engine = engine_module.make_engine(cfg)
        lock = await psycopg.AsyncConnection.connect(_libpq(database), autocommit=True)
        stop = asyncio.Event()
        async with engine.open_async(), lock:
            active = ActiveScheduler(Roles(tmp_path / "c.toml", cfg), engine, lock)
            running = asyncio.create_task(active.run(stop))
            try:
                await asyncio.to_thread(
                    wait_for,
                    lambda: query(
                        database,
                        "SELECT count(*) FROM sources WHERE next_due_at IS NOT NULL "
                        "HAVING count(*) = %s",
                        count,
                    ),
                    "every source's pass deferred and its next due time recorded",
                    60,
                )
            finally:
                stop.set()
                await running

    asyncio.run(main())
    rows = query(
        database,
        "SELECT task_name, count(*), max(jsonb_array_length(args -> 'source_ids')) "
        "FROM procrastinate_jobs GROUP BY task_name ORDER BY task_name",
    )
    assert rows == [(FIRST_PASSES, 3, FIRST_PASSES_CHUNK), (SOURCE_PASS, count, None)]
    # A thousand jobs and more deferred: the job table's statistics were refreshed, so the
    # engine plans its job-taking query for a full table, not an empty one.
    wait_for(
        lambda: query(
            database,
            "SELECT 1 FROM pg_stat_user_tables WHERE relname = 'procrastinate_jobs' "
            "AND last_analyze IS NOT NULL",
        ),
        "the job table analysed",
        seconds=60,
    )

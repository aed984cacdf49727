"""The queue of the scaled mode: where it is (the store's PostgreSQL), the names of its jobs,
and deferring each with its lock (never two of one kind waiting or running where that
matters): many sources' passes in one statement, the first passes as jobs of a bounded size.
Also how its errors and its long lists are told in a log line."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, LiteralString

import procrastinate
from procrastinate import exceptions as engine_errors
from procrastinate import jobs
from procrastinate.types import JSONDict, JSONValue
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from syndicator.errors import ConfigError


def conninfo(database: str) -> str:
    """The libpq URL of the configured store, which must be PostgreSQL."""
    try:
        url = make_url(database)
    except ArgumentError:
        url = None
    if url is None or url.get_backend_name() != "postgresql":
        raise ConfigError(
            "the scaled mode (run --role scheduler, worker or web) shares one PostgreSQL "
            "between its processes; this store is not PostgreSQL",
            key="service.database",
            fix='use database = "postgresql+psycopg://USER@HOST/DB" (or $SYNDICATOR_DATABASE), '
            "or run --role all",
        )
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


NAMESPACE = "syndicator"


SOURCE_PASS = f"{NAMESPACE}:source_pass"


FIRST_PASSES = f"{NAMESPACE}:first_passes"


PUBLISH = f"{NAMESPACE}:publish"


DELIVER = f"{NAMESPACE}:deliver"


AHEAD = jobs.DEFAULT_PRIORITY + 1  # publishing, deliveries and first passes: taken before
# any source pass waiting (a backlog of ten thousand passes holds up no feed, no notification)


async def _defer(
    engine: procrastinate.App,
    task: str,
    lock: str,
    *,
    schedule_at: datetime | None = None,
    priority: int = jobs.DEFAULT_PRIORITY,
    **kwargs: Any,
) -> int | None:
    """Defer a job holding ``lock`` as its lock and queueing lock: None when one is already
    waiting (that one will do)."""
    try:
        job_id: int = await engine.configure_task(
            task, lock=lock, queueing_lock=lock, schedule_at=schedule_at, priority=priority
        ).defer_async(**kwargs)
    except engine_errors.AlreadyEnqueued:
        return None
    return job_id


async def defer_source_pass(
    engine: procrastinate.App, source_id: str, due: datetime, *, later: bool = False
) -> int | None:
    """A pass of this source, due at ``due`` (and not started before it when ``later``)."""
    return await _defer(
        engine,
        SOURCE_PASS,
        f"source:{source_id}",
        schedule_at=due if later else None,
        source_id=source_id,
        due=due.isoformat(),
    )


FIRST_PASSES_LOCK = "first-passes"


FIRST_PASSES_CHUNK = 500  # sources a ``first_passes`` job reads: seconds of a worker's time


DEFER_BATCH = 1000  # due source passes deferred in one statement


_DEFER_PASSES: LiteralString = """
    INSERT INTO procrastinate_jobs
        (queue_name, task_name, priority, lock, queueing_lock, args, scheduled_at)
    SELECT %(queue)s, %(task)s, %(priority)s, job.lock, job.lock, job.args, NULL
      FROM unnest(%(locks)s::text[], %(args)s::jsonb[]) AS job(lock, args)
     ORDER BY job.lock
    ON CONFLICT (queueing_lock) WHERE status = 'todo' DO NOTHING
    RETURNING queueing_lock
"""


async def defer_source_passes(engine: procrastinate.App, due: Mapping[str, datetime]) -> set[str]:
    """The passes of many sources, each due at its time, in one statement per
    :data:`DEFER_BATCH`: a source whose pass (or retry) is already waiting is left out (its
    queueing lock, as :func:`defer_source_pass`). The jobs are the engine's own, as its
    ``defer`` writes them (its triggers notify the workers). Returns the sources deferred.
    Raises the engine's ``ConnectorException`` (the database failing): the caller keeps what
    it could not defer and tries again."""
    deferred: set[str] = set()
    items = sorted(due.items())
    for start in range(0, len(items), DEFER_BATCH):
        chunk = items[start : start + DEFER_BATCH]
        rows = await engine.connector.execute_query_all_async(
            _DEFER_PASSES,
            queue=jobs.DEFAULT_QUEUE,  # the task's, as it declares none
            task=SOURCE_PASS,
            priority=jobs.DEFAULT_PRIORITY,
            locks=[f"source:{source_id}" for source_id, _ in chunk],
            args=[{"source_id": source_id, "due": when.isoformat()} for source_id, when in chunk],
        )
        deferred.update(row["queueing_lock"].removeprefix("source:") for row in rows)
    return deferred


_FIRST_PASSES_WAITING: LiteralString = """
    SELECT jsonb_array_elements_text(args -> 'source_ids') AS source_id
      FROM procrastinate_jobs
     WHERE lock = %(lock)s AND status IN ('todo', 'doing')
"""


async def defer_first_passes(engine: procrastinate.App, source_ids: Sequence[str]) -> int:
    """The first passes of sources never read, stored in config order: jobs of
    :data:`FIRST_PASSES_CHUNK` sources each, in that order, sharing one lock, so the engine
    runs them one after the other in the order deferred, and each is over in seconds (none
    outlasts ``stalled_after`` to be taken for a dead worker's). Sources that a waiting or
    running one already holds are left out. Returns the jobs deferred."""
    rows = await engine.connector.execute_query_all_async(
        _FIRST_PASSES_WAITING, lock=FIRST_PASSES_LOCK
    )
    held = {row["source_id"] for row in rows}
    wanted = [s for s in source_ids if s not in held]
    chunks = [
        wanted[start : start + FIRST_PASSES_CHUNK]
        for start in range(0, len(wanted), FIRST_PASSES_CHUNK)
    ]
    if chunks:
        arguments: list[JSONDict] = [{"source_ids": list[JSONValue](chunk)} for chunk in chunks]
        await engine.configure_task(
            FIRST_PASSES, lock=FIRST_PASSES_LOCK, priority=AHEAD
        ).batch_defer_async(*arguments)
    return len(chunks)


async def defer_publish(engine: procrastinate.App, debounce: float) -> int | None:
    """Publish soon: in ``debounce`` seconds, together with whatever else changes meanwhile."""
    when = datetime.now(UTC) + timedelta(seconds=debounce)
    return await _defer(engine, PUBLISH, "publish", schedule_at=when, priority=AHEAD)


async def defer_delivery(engine: procrastinate.App) -> int | None:
    return await _defer(engine, DELIVER, "deliver", priority=AHEAD)


def describe(error: BaseException) -> str:
    """An error for a log line: its class and message, then each cause's (the engine says
    only "Database error." and keeps the reason, say a ``PoolTimeout``, as the cause)."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(parts) < 4:
        seen.add(id(current))
        lines = str(current).strip().splitlines()
        parts.append(f"{type(current).__name__}: {lines[0]}" if lines else type(current).__name__)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return " <- ".join(parts)


def summarise(ids: Iterable[Any], first: int = 5) -> str:
    """Many ids in a log line: how many, and the first few."""
    items = list(ids)
    shown = ", ".join(str(i) for i in items[:first])
    if len(items) <= first:
        return shown
    return f"{len(items):,} ({shown}, …)"


def job_name(job: Any) -> str:
    """A job in a log line: its task, id and arguments, a long list of them summarised."""
    arguments = ", ".join(
        f"{key}=[{summarise(value)}]" if isinstance(value, list) else f"{key}={value!r}"
        for key, value in job.task_kwargs.items()
    )
    return f"{job.task_name}[{job.id}]({arguments})"

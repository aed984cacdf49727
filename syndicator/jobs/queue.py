"""The queue of the scaled mode: where it is (the store's PostgreSQL), the names of its jobs,
and deferring each with its lock (never two of one kind waiting or running where that
matters)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import procrastinate
from procrastinate import exceptions as engine_errors
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


async def _defer(
    engine: procrastinate.App,
    task: str,
    lock: str,
    *,
    schedule_at: datetime | None = None,
    **kwargs: Any,
) -> int | None:
    """Defer a job holding ``lock`` as its lock and queueing lock: None when one is already
    waiting (that one will do)."""
    try:
        job_id: int = await engine.configure_task(
            task, lock=lock, queueing_lock=lock, schedule_at=schedule_at
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


async def defer_first_passes(engine: procrastinate.App, source_ids: list[str]) -> int | None:
    """The first passes of sources never read, together, stored in config order."""
    return await _defer(engine, FIRST_PASSES, "first-passes", source_ids=source_ids)


async def defer_publish(engine: procrastinate.App, debounce: float) -> int | None:
    """Publish soon: in ``debounce`` seconds, together with whatever else changes meanwhile."""
    when = datetime.now(UTC) + timedelta(seconds=debounce)
    return await _defer(engine, PUBLISH, "publish", schedule_at=when)


async def defer_delivery(engine: procrastinate.App) -> int | None:
    return await _defer(engine, DELIVER, "deliver")

"""The job engine: procrastinate over the store's PostgreSQL, with our tasks; its tables
created beside the store's, once."""

from __future__ import annotations

import logging

import procrastinate
import psycopg
from procrastinate.schema import SchemaManager

from syndicator.config import Config
from syndicator.jobs.queue import NAMESPACE, conninfo
from syndicator.jobs.tasks import tasks

log = logging.getLogger("syndicator.jobs")


SCHEDULER_LOCK = 0x73796E6469636174  # the advisory lock the active scheduler holds


SCHEMA_LOCK = SCHEDULER_LOCK + 1  # held while the engine's tables are created


def make_engine(config: Config) -> procrastinate.App:
    """The job engine (procrastinate) over the store's database, with our tasks."""
    engine = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=conninfo(config.service.database),
            min_size=1,
            max_size=max(4, config.jobs.concurrency + 2),
        )
    )
    engine.add_tasks_from(tasks, namespace=NAMESPACE)
    return engine


async def ensure_schema(config: Config) -> None:
    """Create the engine's tables beside the store's, once (whichever role starts first)."""
    conn = await psycopg.AsyncConnection.connect(conninfo(config.service.database))
    async with conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        cursor = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
        row = await cursor.fetchone()
        if row is not None and row[0]:
            return
        await conn.execute(SchemaManager.get_schema())
        log.info("created the job tables")

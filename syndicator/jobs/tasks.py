"""The jobs a worker runs: a source's pass (the same ``refresh_source`` as ``run``, followed up
with jobs: a retry scheduled for later, a ``publish`` job, a ``deliver`` job), the first passes,
publishing and delivering; and what a worker's jobs share (:class:`Runtime`)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import LiteralString

import procrastinate
from procrastinate import exceptions as engine_errors

from syndicator.config import Config, Source
from syndicator.ingest import FollowUp, make_fetcher, refresh_source, run_once
from syndicator.jobs.queue import (
    FIRST_PASSES_LOCK,
    defer_delivery,
    defer_publish,
    defer_source_pass,
    describe,
)
from syndicator.jobs.roles import worker_name
from syndicator.scheduler import trigger_of
from syndicator.syndication import Syndication

log = logging.getLogger("syndicator.jobs")


tasks = procrastinate.Blueprint()


_FIRST_PASSES_PENDING: LiteralString = """
    SELECT EXISTS (
        SELECT 1 FROM procrastinate_jobs WHERE lock = %(lock)s AND status IN ('todo', 'doing')
    ) AS pending
"""


class Runtime:
    """What a worker's jobs share: the config, the store and publisher, a fetcher, a poster."""

    def __init__(self, config: Config, engine: procrastinate.App) -> None:
        self.config = config
        self.engine = engine
        self.syndication = Syndication(config)
        self.fetcher = make_fetcher(config)
        self.poster = self.syndication.poster()
        self.dispatcher = self.syndication.dispatcher(self.poster)
        self.follow_up = WorkerFollowUp(self)
        self.engine_id: int | None = None

    def introduce(self, context: procrastinate.JobContext) -> None:
        """Say once which of the engine's workers this process is (its jobs name it)."""
        if self.engine_id is None and context.job.worker_id is not None:
            self.engine_id = context.job.worker_id
            log.info("worker %s is the engine's worker %d", worker_name(), self.engine_id)

    async def reload(self, new: Config) -> None:
        """Apply a new config whole: the new fetcher is made before anything is swapped."""
        fetcher = make_fetcher(new) if new.service != self.config.service else None
        self.config = new
        self.syndication.config = new
        self.syndication.publisher.config = new
        if fetcher is not None:
            old_fetcher, self.fetcher = self.fetcher, fetcher
            await old_fetcher.aclose()

    async def close(self) -> None:
        await self.fetcher.aclose()
        await self.poster.aclose()
        self.syndication.close()

    async def source_pass(self, source_id: str, due: datetime) -> str:
        try:
            source = self.config.source(source_id)
        except KeyError:
            return "not configured (any more)"
        if not source.enabled:
            return "disabled"
        store = self.syndication.store
        state = await asyncio.to_thread(store.source_state, source_id)
        if state is not None and state.paused:
            return "paused"
        last = state.last_fetch_at if state else None
        if last is None and await self._first_passes_pending():
            return "its first pass is under way"
        if last is not None and last > due - timedelta(seconds=_half_interval(source, due)):
            # The pass before started late, this close to this one's due time: like the
            # coalescing of ``run``, one late pass stands for both.
            return "coalesced with the pass before"
        result = await refresh_source(
            source,
            datetime.now(UTC),
            config=self.config,
            store=store,
            fetcher=self.fetcher,
            follow_up=self.follow_up,
        )
        return f"{source_id}: {result.summary()}"

    async def first_passes(self, source_ids: list[str]) -> str:
        """The first passes of sources never read, as ``run`` and ``once`` make them: fetched
        together, stored in config order, so which copy of a story a fresh deployment keeps
        (and the entry id it gets) never depends on which worker ran which source first."""
        store = self.syndication.store
        states = {s.id: s for s in await asyncio.to_thread(store.source_states)}
        wanted = set(source_ids)
        fresh = [
            s.id
            for s in self.config.sources
            if s.id in wanted and s.enabled and not (s.id in states and states[s.id].last_fetch_at)
        ]
        if not fresh:
            return "every source was read already"
        result = await run_once(
            self.config,
            store,
            source_ids=fresh,
            fetcher=self.fetcher,
            now=datetime.now(UTC),
            follow_up=self.follow_up,
        )
        return f"{len(result.passes)} first passes, {len(result.failed)} failed"

    async def _first_passes_pending(self) -> bool:
        """Whether first passes wait or run: one row looked for, not the jobs read (each
        holds the ids of hundreds of sources, and a fresh deployment's first regular passes
        ask this for every source)."""
        row = await self.engine.connector.execute_query_one_async(
            _FIRST_PASSES_PENDING, lock=FIRST_PASSES_LOCK
        )
        return bool(row["pending"])

    async def publish(self) -> str:
        outcome = await asyncio.to_thread(self.syndication.publish_changes, ())
        await self.follow_up.wake()
        changed = len(outcome.published.changed) if outcome.published else 0
        return f"{changed} files changed, {len(outcome.announced)} regions announced"

    async def deliver(self) -> str:
        done = await self.dispatcher.drain()
        return f"{done.delivered} delivered, {done.failed} to retry, {done.dead} dead"


class WorkerFollowUp(FollowUp):
    """After a pass run by a worker: a failed source's retry is a job scheduled for then (it
    holds the source's queueing lock, so the scheduler's regular runs are refused until it has
    run); changed regions are published by a ``publish`` job (after the debounce, with
    whatever else changes meanwhile); new events are delivered by a ``deliver`` job."""

    retries = True

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def retry(self, source: Source, at: datetime) -> None:
        await asyncio.to_thread(self.runtime.syndication.store.set_next_due, source.id, at)
        try:
            await defer_source_pass(self.runtime.engine, source.id, at, later=True)
        except engine_errors.ProcrastinateException as e:
            log.error(
                "source %s: deferring its retry at %s failed (%s): the scheduler defers its "
                "next pass when it is due",
                source.id,
                at.isoformat(),
                describe(e),
            )

    async def request_publish(self, regions: set[str]) -> None:
        try:
            await defer_publish(self.runtime.engine, self.runtime.config.publish.debounce)
        except engine_errors.ProcrastinateException as e:
            log.error(
                "deferring publishing failed (%s): the scheduler defers it at its next look "
                "for unannounced changes",
                describe(e),
            )

    async def wake(self) -> None:
        try:
            await defer_delivery(self.runtime.engine)
        except engine_errors.ProcrastinateException as e:
            log.error(
                "deferring deliveries failed (%s): the scheduler defers them at its next look "
                "for due notifications",
                describe(e),
            )


def _half_interval(source: Source, due: datetime) -> float:
    """Half the time from this due time to the next one."""
    if source.cron:
        following = trigger_of(source).get_next_fire_time(None, due + timedelta(seconds=1))
        if following is not None:
            gap: float = (following - due).total_seconds()
            return max(0.0, gap / 2)
        return 0.0
    return (source.every or 600) / 2


def _runtime(context: procrastinate.JobContext) -> Runtime:
    runtime: Runtime = context.additional_context["runtime"]
    runtime.introduce(context)
    return runtime


@tasks.task(name="source_pass", pass_context=True)
async def source_pass(context: procrastinate.JobContext, source_id: str, due: str) -> str:
    return await _runtime(context).source_pass(source_id, datetime.fromisoformat(due))


@tasks.task(name="first_passes", pass_context=True)
async def first_passes(context: procrastinate.JobContext, source_ids: list[str]) -> str:
    return await _runtime(context).first_passes(source_ids)


@tasks.task(name="publish", pass_context=True)
async def publish(context: procrastinate.JobContext) -> str:
    return await _runtime(context).publish()


@tasks.task(name="deliver", pass_context=True)
async def deliver(context: procrastinate.JobContext) -> str:
    return await _runtime(context).deliver()

"""``run --role scheduler``: the one active scheduler (holding an advisory lock) defers a
source's pass when it is due, publishing and deliveries when there is work, and queues again
the jobs of workers that stopped; the others stand by."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from datetime import UTC, datetime
from typing import Any

import procrastinate
import psycopg
from procrastinate import exceptions as engine_errors
from procrastinate.jobs import Status

from syndicator import config as config_module
from syndicator.config import Config
from syndicator.errors import SyndicatorError
from syndicator.jobs.engine import SCHEDULER_LOCK, ensure_schema, make_engine
from syndicator.jobs.queue import (
    conninfo,
    defer_delivery,
    defer_first_passes,
    defer_publish,
    defer_source_pass,
)
from syndicator.jobs.roles import Roles, on_hangup, record_reload, stop_on_signals
from syndicator.scheduler import Scheduler, triggers_of
from syndicator.syndication import Syndication

log = logging.getLogger("syndicator.jobs")


TICK = 1.0  # seconds between the active scheduler's looks at stalled jobs and pending work


STANDBY_POLL = 1.0  # seconds between a standby scheduler's tries to take the lock


CLEANUP_EVERY = 600.0  # seconds between deletions of old finished jobs


KEEP_FINISHED = 24  # hours a failed or cancelled job stays visible


class ActiveScheduler:
    """The scheduler that holds the lock: defers the jobs until stopped or the lock is lost."""

    def __init__(self, roles: Roles, engine: procrastinate.App, lock: psycopg.AsyncConnection[Any]):
        self.roles = roles
        self.engine = engine
        self.lock = lock
        self.syndication = Syndication(roles.config)
        self.scheduler = Scheduler(self.due)
        self._last_cleanup = 0.0
        self._deferring: set[asyncio.Task[Any]] = set()
        self._next_due: dict[str, datetime | None] = {}
        # When this scheduler last became active or saw the database fail: workers' heartbeats
        # are judged only ``stalled_after`` seconds later (they could not write them either).
        self._trusted_from = 0.0

    @property
    def config(self) -> Config:
        return self.roles.config

    async def run(self, stop: asyncio.Event) -> None:
        store = self.syndication.store
        cfg = self.config
        await asyncio.to_thread(store.sync_sources, ((s.id, s.kind, s.url) for s in cfg.sources))
        # The web nodes show the active scheduler's refused reload, if it runs on an old config.
        await asyncio.to_thread(store.set_problem, "reload:scheduler", self.roles.refused)
        states = {s.id: s for s in await asyncio.to_thread(store.source_states)}
        # As ``run`` does: sources never read get their first passes together (one job, stored
        # in config order); their scheduled runs start one interval later.
        now = datetime.now(UTC)
        fresh = [
            s.id
            for s in cfg.sources
            if s.enabled and not (s.id in states and states[s.id].last_fetch_at)
        ]
        last = {k: v.last_fetch_at for k, v in states.items()} | dict.fromkeys(fresh, now)
        self.scheduler.start(cfg, last)
        if fresh:
            await defer_first_passes(self.engine, fresh)
        self._trusted_from = asyncio.get_running_loop().time() + cfg.jobs.stalled_after
        log.info(
            "scheduler active: %d sources (%d never read)",
            sum(s.enabled for s in cfg.sources),
            len(fresh),
        )
        try:
            while not stop.is_set():
                await self.tick()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=TICK)
        finally:
            if self._deferring:  # the source jobs deferring right now finish first
                await asyncio.wait(set(self._deferring), timeout=10)
            self.scheduler.shutdown()
            self.syndication.close()

    async def reload(self, new: Config) -> None:
        """Apply a new config whole, or raise and change nothing: every trigger is built and
        the new sources recorded before the schedules and the config are swapped."""
        triggers = triggers_of(new)
        store = self.syndication.store
        await asyncio.to_thread(store.sync_sources, [(s.id, s.kind, s.url) for s in new.sources])
        states = await asyncio.to_thread(store.source_states)
        self.syndication.config = new
        self.syndication.publisher.config = new
        result = self.scheduler.apply(
            new, {s.id: s.last_fetch_at for s in states}, triggers=triggers
        )
        log.info("config reloaded: %s", result)

    async def due(self, source_id: str) -> None:
        """A source is due (an APScheduler job): defer its pass."""
        task = asyncio.current_task()
        if task is not None:
            self._deferring.add(task)
        try:
            deferred = await defer_source_pass(self.engine, source_id, datetime.now(UTC))
        except (engine_errors.ProcrastinateException, OSError) as e:
            log.error("cannot defer a pass of %s: %s", source_id, e)
            return
        except asyncio.CancelledError:  # stopping: the next scheduler defers it
            return
        finally:
            self._deferring.discard(task)
        if deferred is None:
            log.debug("source %s: a pass is still waiting (or a retry is due later)", source_id)
            return
        self._next_due[source_id] = self.scheduler.next_runs().get(source_id)

    async def tick(self) -> None:
        """Check the lock's session is alive (else raise: this scheduler stands down), queue
        again the jobs of dead workers, defer publishing and deliveries when there is work."""
        await self.lock.execute("SELECT 1")
        cfg = self.config
        loop = asyncio.get_running_loop()
        try:
            if loop.time() >= self._trusted_from:
                await requeue_stalled(self.engine, cfg.jobs.stalled_after)
            store = self.syndication.store
            if self._next_due:  # when the sources deferred since the last tick are due next
                runs, self._next_due = self._next_due, {}
                await asyncio.to_thread(_record_next_runs, store, runs)
            if await asyncio.to_thread(store.has_unannounced_changes):
                await defer_publish(self.engine, cfg.publish.debounce)
            if await asyncio.to_thread(store.notifications_due, datetime.now(UTC)):
                await defer_delivery(self.engine)
            if loop.time() - self._last_cleanup > CLEANUP_EVERY:
                self._last_cleanup = loop.time()
                await self.engine.job_manager.delete_old_jobs(
                    nb_hours=KEEP_FINISHED,
                    include_failed=True,
                    include_cancelled=True,
                    include_aborted=True,
                )
        except (SyndicatorError, engine_errors.ProcrastinateException) as e:
            cause = e.__cause__ or e
            detail = str(cause).strip().splitlines()
            log.error(
                "scheduler: %s (%s); looking again in %.0f s",
                type(cause).__name__,
                detail[0] if detail else "no detail",
                TICK,
            )
            self._trusted_from = loop.time() + cfg.jobs.stalled_after


def _record_next_runs(store: Any, runs: dict[str, datetime | None]) -> None:
    for source_id, when in runs.items():
        store.set_next_due(source_id, when)


async def requeue_stalled(engine: procrastinate.App, stalled_after: float) -> list[int]:
    """Jobs left running by workers that stopped sending heartbeats are run again (the engine's
    own stalled-job API). One whose source already has a newer job waiting is closed as failed:
    the newer one does its work."""
    manager = engine.job_manager
    requeued = []
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after):
        try:
            await manager.retry_job(job)
        except engine_errors.UniqueViolation:
            await manager.finish_job(job, Status.FAILED, delete_job=False)
            log.warning("job %s of a dead worker: superseded by a newer one", job.call_string)
            continue
        assert job.id is not None
        requeued.append(job.id)
        log.warning("job %s of a dead worker: queued again", job.call_string)
    await manager.prune_stalled_workers(stalled_after)
    return requeued


async def run_scheduler(config_path: str | os.PathLike[str] | None) -> None:
    """``run --role scheduler``: stand by until this process holds the scheduler lock, then
    schedule until SIGTERM or Ctrl-C, or until the lock's session is lost (then stand by
    again)."""
    cfg = config_module.load(config_path)
    roles = Roles(config_path, cfg)
    engine = make_engine(cfg)
    await ensure_schema(cfg)
    stop = stop_on_signals()
    active: list[ActiveScheduler] = []

    async def reload(new: Config) -> None:
        await reload_roles(roles, active, new)

    async def refused(problem: str | None) -> None:
        roles.refused = problem
        for one in active:  # the active scheduler's state is the one the web nodes show
            await record_reload(one.syndication.store, "scheduler", problem)

    on_hangup(config_path, reload, "scheduler", refused)
    async with engine.open_async():
        while not stop.is_set():
            lock = await _take_lock(roles, stop)
            if lock is None:
                break
            try:
                one = ActiveScheduler(roles, engine, lock)
                active.append(one)
                await one.run(stop)
            except (psycopg.Error, OSError) as e:
                log.error("scheduler: lost the lock's session (%s); standing by", e)
            except SyndicatorError as e:  # the store failed while starting: try again shortly
                log.error("scheduler: %s; trying again in %.0f s", e, STANDBY_POLL)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=STANDBY_POLL)
            finally:
                active.clear()
                with contextlib.suppress(psycopg.Error, OSError):
                    await lock.close()
    log.info("scheduler stopped")


async def reload_roles(roles: Roles, active: list[ActiveScheduler], new: Config) -> None:
    """The scheduler's reload: the active scheduler's schedules first (which raise, changing
    nothing, when the new config cannot be applied), then the config every role reads."""
    for one in active:
        await one.reload(new)
    roles.config = new


async def _take_lock(roles: Roles, stop: asyncio.Event) -> psycopg.AsyncConnection[Any] | None:
    """A session holding the scheduler lock, once this process gets it (None if stopped)."""
    announced = False
    unreachable = False
    while not stop.is_set():
        try:
            conn = await psycopg.AsyncConnection.connect(
                conninfo(roles.config.service.database),
                autocommit=True,
                # A scheduler whose machine vanishes loses the lock within ~10 s.
                keepalives=1,
                keepalives_idle=5,
                keepalives_interval=2,
                keepalives_count=3,
            )
            try:
                cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (SCHEDULER_LOCK,))
                row = await cursor.fetchone()
            except BaseException:
                await conn.close()
                raise
        except psycopg.Error as e:
            if not unreachable:  # said once while it lasts: the scheduler tries every second
                log.error("scheduler: cannot reach the database (trying every second): %s", e)
            unreachable = True
        else:
            if unreachable:
                log.info("scheduler: the database answers again")
            unreachable = False
            if row is not None and row[0]:
                return conn
            await conn.close()
            if not announced:
                log.info("scheduler standing by: another one is active")
                announced = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=STANDBY_POLL)
    return None

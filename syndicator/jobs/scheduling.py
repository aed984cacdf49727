"""``run --role scheduler``: the one active scheduler (holding an advisory lock) defers a
source's pass when it is due (the passes due within a moment of each other in one statement),
publishing and deliveries when there is work, and queues again the jobs of workers that
stopped; the others stand by."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, LiteralString

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
    defer_source_passes,
    describe,
    job_name,
    summarise,
)
from syndicator.jobs.roles import Roles, on_hangup, record_reload, stop_on_signals
from syndicator.scheduler import Scheduler, triggers_of
from syndicator.syndication import Syndication

log = logging.getLogger("syndicator.jobs")


TICK = 1.0  # seconds between the active scheduler's looks at stalled jobs and pending work


STANDBY_POLL = 1.0  # seconds between a standby scheduler's tries to take the lock


CLEANUP_EVERY = 600.0  # seconds between deletions of old finished jobs


KEEP_FINISHED = 24  # hours a failed or cancelled job stays visible


FLUSH = 0.2  # seconds between the writes of the due passes gathered meanwhile


ANALYZE_AFTER = 1000  # jobs deferred since the job table's statistics were last refreshed …


ANALYZE_EVERY = 30.0  # … and at most this often (seconds)


RETRY_PAUSE = 1.0  # seconds before due passes the database refused are written again; doubled …


MAX_RETRY_PAUSE = 30.0  # … up to this, while it keeps refusing


_ANALYZE_JOBS: LiteralString = "ANALYZE procrastinate_jobs"


class Deferrals:
    """The due passes of sources, gathered as they fall due and deferred together, a few
    times a second, in one statement per thousand (:func:`defer_source_passes`): one
    connection of the engine's pool at a time, whatever the number of sources. When the
    database refuses them they are kept and written again (later each time), and the log says
    how many and why; a source due again meanwhile is still one pass. ``deferred`` hears of
    the sources whose passes were deferred (not those that had one waiting already)."""

    def __init__(
        self,
        engine: procrastinate.App,
        deferred: Callable[[set[str]], None] = lambda ids: None,
    ) -> None:
        self.engine = engine
        self.deferred = deferred
        self.pending: dict[str, datetime] = {}
        self.failures = 0  # writes in a row the database refused
        self.closing = asyncio.Event()
        self.counts = {"deferred": 0, "waiting already": 0, "refused": 0}

    def add(self, source_id: str, due: datetime) -> None:
        self.pending.setdefault(source_id, due)  # one pass stands for a source due twice

    async def flush(self) -> bool:
        """Defer every pending pass; False (the passes kept, the reason logged) when the
        database refused them."""
        if not self.pending:
            return True
        batch, self.pending = self.pending, {}
        try:
            done = await defer_source_passes(self.engine, batch)
        except (engine_errors.ProcrastinateException, psycopg.Error, OSError) as e:
            for source_id, due in batch.items():  # kept, the earliest due time of each
                self.pending[source_id] = min(due, self.pending.get(source_id, due))
            self.failures += 1
            self.counts["refused"] += len(batch)
            log.error(
                "scheduler: deferring %d source passes failed (%s); kept, %d waiting to be "
                "deferred, trying again in %.0f s",
                len(batch),
                describe(e),
                len(self.pending),
                self.pause(),
            )
            return False
        if self.failures:
            log.info(
                "scheduler: the database takes deferrals again (%d source passes deferred after "
                "%d failed tries)",
                len(done),
                self.failures,
            )
        self.failures = 0
        self.counts["deferred"] += len(done)
        self.counts["waiting already"] += len(batch) - len(done)
        if len(done) < len(batch):
            log.debug(
                "a pass is still waiting (or a retry is due later) for %s",
                summarise(sorted(set(batch) - done)),
            )
        self.deferred(done)
        return True

    def pause(self) -> float:
        """Seconds before the next write: a moment, or longer while the database refuses."""
        if not self.failures:
            return FLUSH
        return float(min(RETRY_PAUSE * 2 ** (self.failures - 1), MAX_RETRY_PAUSE))

    async def run(self) -> None:
        """Write the due passes until :attr:`closing`, then the last of them (for up to
        ten seconds)."""
        while not self.closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closing.wait(), timeout=self.pause())
            try:
                await self.flush()
            except Exception:  # a bug: said, and the next write tries again
                log.exception("scheduler: deferring source passes failed")
                self.failures += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), timeout=10)
        if self.pending:
            log.warning(
                "scheduler: %d due source passes not deferred while stopping (%s): the next "
                "active scheduler defers them at their next due times",
                len(self.pending),
                summarise(sorted(self.pending)),
            )


class ActiveScheduler:
    """The scheduler that holds the lock: defers the jobs until stopped or the lock is lost."""

    def __init__(self, roles: Roles, engine: procrastinate.App, lock: psycopg.AsyncConnection[Any]):
        self.roles = roles
        self.engine = engine
        self.lock = lock
        self.syndication = Syndication(roles.config)
        self.scheduler = Scheduler(self.due)
        self.deferrals = Deferrals(engine, self._deferred)
        self._last_cleanup = 0.0
        self._analyzed = (0, 0.0)  # jobs deferred, loop time: when statistics were refreshed
        self._next_due: dict[str, datetime | None] = {}
        # When this scheduler last became active or saw the database fail: workers' heartbeats
        # are judged only ``stalled_after`` seconds later (they could not write them either).
        self._trusted_from = 0.0

    @property
    def config(self) -> Config:
        return self.roles.config

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await self.start()
            writing = asyncio.create_task(self.deferrals.run())
            try:
                while not stop.is_set() and not writing.done():
                    await self.tick()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=TICK)
            finally:
                self.scheduler.shutdown()  # no more due times; those gathered are written first
                self.deferrals.closing.set()
                try:
                    await writing
                except Exception:  # its own errors are logged where they happen: a bug
                    log.exception("scheduler: the writing of due passes ended")
        finally:
            self.scheduler.shutdown()
            self.syndication.close()

    async def start(self) -> None:
        """Record the sources, defer the first passes of those never read, start the
        schedules."""
        store = self.syndication.store
        cfg = self.config
        await asyncio.to_thread(store.sync_sources, ((s.id, s.kind, s.url) for s in cfg.sources))
        # The web nodes show the active scheduler's refused reload, if it runs on an old config.
        await asyncio.to_thread(store.set_problem, "reload:scheduler", self.roles.refused)
        states = {s.id: s for s in await asyncio.to_thread(store.source_states)}
        # As ``run`` does: sources never read get their first passes (jobs of a bounded size,
        # run one after the other, stored in config order); their scheduled runs start one
        # interval later.
        now = datetime.now(UTC)
        fresh = [
            s.id
            for s in cfg.sources
            if s.enabled and not (s.id in states and states[s.id].last_fetch_at)
        ]
        last = {k: v.last_fetch_at for k, v in states.items()} | dict.fromkeys(fresh, now)
        if fresh:
            jobs = await defer_first_passes(self.engine, fresh)
            log.info("first passes of %d sources: %d jobs deferred", len(fresh), jobs)
        self.scheduler.start(cfg, last)
        self._trusted_from = asyncio.get_running_loop().time() + cfg.jobs.stalled_after
        log.info(
            "scheduler active: %d sources (%d never read)",
            sum(s.enabled for s in cfg.sources),
            len(fresh),
        )

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
        """A source is due (an APScheduler job): its pass is deferred with the others due
        within the same moment (:class:`Deferrals`)."""
        self.deferrals.add(source_id, datetime.now(UTC))

    def _deferred(self, source_ids: set[str]) -> None:
        """Passes deferred: when each of these sources is due next, recorded at the next tick
        (for ``status`` and the web nodes)."""
        for source_id in source_ids:
            self._next_due[source_id] = self.scheduler.next_run(source_id)

    async def tick(self) -> None:
        """Check the lock's session is alive (else raise: this scheduler stands down), queue
        again the jobs of dead workers, defer publishing and deliveries when there is work."""
        await self.lock.execute("SELECT 1")
        cfg = self.config
        loop = asyncio.get_running_loop()
        step = "queueing again the jobs of dead workers"
        try:
            if loop.time() >= self._trusted_from:
                await requeue_stalled(self.engine, cfg.jobs.stalled_after)
            store = self.syndication.store
            if self._next_due:  # when the sources deferred since the last tick are due next
                step = "recording next due times"
                runs, self._next_due = self._next_due, {}
                await asyncio.to_thread(store.set_next_dues, runs)
            step = "deferring publishing"
            if await asyncio.to_thread(store.has_unannounced_changes):
                await defer_publish(self.engine, cfg.publish.debounce)
            step = "deferring deliveries"
            if await asyncio.to_thread(store.notifications_due, datetime.now(UTC)):
                await defer_delivery(self.engine)
            deferred = self.deferrals.counts["deferred"]
            if (
                deferred - self._analyzed[0] >= ANALYZE_AFTER
                and loop.time() - self._analyzed[1] >= ANALYZE_EVERY
            ):
                # The engine takes each job with a query whose plan follows the job table's
                # statistics; a table that grew from nothing to thousands of waiting jobs
                # before autovacuum looked at it is planned as if empty: 1–2 s a job taken at
                # 10,000 waiting, against milliseconds once analysed.
                step = "refreshing the job table's statistics"
                self._analyzed = (deferred, loop.time())
                await self.engine.connector.execute_query_async(_ANALYZE_JOBS)
            if loop.time() - self._last_cleanup > CLEANUP_EVERY:
                step = "deleting old finished jobs"
                self._last_cleanup = loop.time()
                await self.engine.job_manager.delete_old_jobs(
                    nb_hours=KEEP_FINISHED,
                    include_failed=True,
                    include_cancelled=True,
                    include_aborted=True,
                )
        except (SyndicatorError, engine_errors.ProcrastinateException) as e:
            log.error("scheduler: %s failed (%s); looking again in %.0f s", step, describe(e), TICK)
            self._trusted_from = loop.time() + cfg.jobs.stalled_after


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
            log.warning("job %s of a dead worker: superseded by a newer one", job_name(job))
            continue
        assert job.id is not None
        requeued.append(job.id)
        log.warning("job %s of a dead worker: queued again", job_name(job))
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
                log.error("scheduler: lost the lock's session (%s); standing by", describe(e))
            except (SyndicatorError, engine_errors.ProcrastinateException) as e:
                # The store or the queue failed while starting: try again shortly.
                log.error("scheduler: %s; trying again in %.0f s", describe(e), STANDBY_POLL)
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

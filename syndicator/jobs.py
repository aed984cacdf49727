"""The scaled mode: several ``syndicator run`` processes, on several machines, sharing one
PostgreSQL, with procrastinate (a job queue kept in that same PostgreSQL) as the job engine.

``run --role``:

- ``scheduler``: the source schedules of :mod:`syndicator.scheduler`, but a due source *defers
  a job* ``source_pass`` instead of running it: one queueing lock per source (never two of its
  jobs waiting) and one lock per source (never two running). It also defers ``publish`` when
  region changes wait to be announced and ``deliver`` when notifications are due, and queues
  again the jobs of workers that stopped sending heartbeats. Exactly one scheduler is active: the
  one holding a PostgreSQL advisory lock on its session; the others stand by and take over within
  a second or two of that session ending.
- ``worker``: runs the jobs: ``first_passes`` (sources never read, stored in config order, as
  ``run`` and ``once`` do), ``source_pass`` (the pass of ``run``, with its backoff after a
  failure: the retry is a job scheduled for later, holding the source's queueing lock),
  ``publish`` (one at a time everywhere; every region with unannounced changes) and ``deliver``
  (one at a time everywhere, so each target's events still go out in order).
- ``web``: ``serve`` over the shared store and feeds folder; a push requests a ``publish`` job.

This module owns procrastinate, as fetch.py owns httpx: nothing else imports it. The passes,
publishing and deliveries are the code ``run --role all`` uses (ingest, app, notify).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import procrastinate
import psycopg
from procrastinate import exceptions as engine_errors
from procrastinate.jobs import Status
from procrastinate.schema import SchemaManager
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from syndicator import config as config_module
from syndicator.app import App
from syndicator.config import Config, Source
from syndicator.errors import ConfigError, SyndicatorError
from syndicator.ingest import FollowUp, make_fetcher, refresh_source, run_once
from syndicator.scheduler import Scheduler, trigger_of, triggers_of

log = logging.getLogger("syndicator.jobs")

ROLES = ("all", "scheduler", "worker", "web")
NAMESPACE = "syndicator"
SOURCE_PASS = f"{NAMESPACE}:source_pass"
FIRST_PASSES = f"{NAMESPACE}:first_passes"
PUBLISH = f"{NAMESPACE}:publish"
DELIVER = f"{NAMESPACE}:deliver"
SCHEDULER_LOCK = 0x73796E6469636174  # the advisory lock the active scheduler holds
SCHEMA_LOCK = SCHEDULER_LOCK + 1  # held while the engine's tables are created
TICK = 1.0  # seconds between the active scheduler's looks at stalled jobs and pending work
STANDBY_POLL = 1.0  # seconds between a standby scheduler's tries to take the lock
CLEANUP_EVERY = 600.0  # seconds between deletions of old finished jobs
KEEP_FINISHED = 24  # hours a failed or cancelled job stays visible
POLL_JOBS = 1.0  # seconds between a worker's looks for jobs scheduled for later
RESTART_PAUSE = 1.0  # seconds before a worker's engine or listener starts again; doubled …
MAX_RESTART_PAUSE = 30.0  # … up to this, while the database stays away

tasks = procrastinate.Blueprint()


# --------------------------------------------------------------------------------------------
# The engine


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


def make_engine(config: Config) -> procrastinate.App:
    """The procrastinate app over the store's database, with our tasks."""
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


# --------------------------------------------------------------------------------------------
# The tasks (run by workers)


class Runtime:
    """What a worker's jobs share: the config, the store and publisher, a fetcher, a poster."""

    def __init__(self, config: Config, engine: procrastinate.App) -> None:
        self.config = config
        self.engine = engine
        self.app = App(config)
        self.fetcher = make_fetcher(config)
        self.poster = self.app.poster()
        self.dispatcher = self.app.dispatcher(self.poster)
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
        self.app.config = new
        self.app.publisher.config = new
        if fetcher is not None:
            old_fetcher, self.fetcher = self.fetcher, fetcher
            await old_fetcher.aclose()

    async def close(self) -> None:
        await self.fetcher.aclose()
        await self.poster.aclose()
        self.app.close()

    async def source_pass(self, source_id: str, due: datetime) -> str:
        try:
            source = self.config.source(source_id)
        except KeyError:
            return "not configured (any more)"
        if not source.enabled:
            return "disabled"
        store = self.app.store
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
        store = self.app.store
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
        manager = self.engine.job_manager
        for status in ("doing", "todo"):
            if list(await manager.list_jobs_async(lock="first-passes", status=status)):
                return True
        return False

    async def publish(self) -> str:
        outcome = await asyncio.to_thread(self.app.publish_changes, ())
        await defer_delivery(self.engine)
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
        await asyncio.to_thread(self.runtime.app.store.set_next_due, source.id, at)
        await defer_source_pass(self.runtime.engine, source.id, at, later=True)

    async def request_publish(self, regions: set[str]) -> None:
        await defer_publish(self.runtime.engine, self.runtime.config.publish.debounce)

    async def wake(self) -> None:
        await defer_delivery(self.runtime.engine)


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


# --------------------------------------------------------------------------------------------
# The roles


@dataclass
class Roles:
    """A role's config, reloaded on SIGHUP (a bad config is refused and the old one kept), and
    why the last reload was refused (None since a good one)."""

    config_path: str | os.PathLike[str] | None
    config: Config
    refused: str | None = None


def reload_problem(role: str, error: str) -> str:
    """What the web nodes show while a role runs on its old config after a refused reload."""
    return f"last reload refused ({error}): the {role} {worker_name()} runs on its old config"


async def record_reload(store: Any, role: str, problem: str | None) -> None:
    """Record in the store (None: clear) a role's refused reload, for every web node's
    ``/healthz`` and status page: the last reload of the role's processes decides."""
    try:
        await asyncio.to_thread(store.set_problem, f"reload:{role}", problem)
    except SyndicatorError as e:
        log.warning("%s: cannot record the reload's outcome for the web nodes: %s", role, e)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def run_worker(config_path: str | os.PathLike[str] | None) -> None:
    """``run --role worker``: run jobs until SIGTERM or Ctrl-C; the running ones finish first.

    The signals are ours, not the engine's: it would take a second SIGTERM (a supervisor that
    signals the process and then its group, an impatient operator) as "die now", leaving its
    jobs to be found stalled. Here a repeated signal changes nothing; ``kill -9`` is the way to
    stop at once, and the jobs then run again elsewhere."""
    cfg = config_module.load(config_path)
    engine = make_engine(cfg)
    await ensure_schema(cfg)
    stop = _stop_on_signals()
    async with engine.open_async():
        runtime = Runtime(cfg, engine)
        # A worker that started read a good config: no refused reload of workers to show.
        await record_reload(runtime.app.store, "worker", None)

        async def refused(problem: str | None) -> None:
            await record_reload(runtime.app.store, "worker", problem)

        _on_hangup(config_path, runtime.reload, "worker", refused)
        log.info(
            "worker %s: %d jobs at once, heartbeat every %s",
            worker_name(),
            cfg.jobs.concurrency,
            config_module.format_duration(cfg.jobs.heartbeat),
        )
        _keep_listening(engine)
        asyncio.get_running_loop().set_exception_handler(_engine_task_failed)
        stopping = asyncio.create_task(stop.wait())
        pause = RESTART_PAUSE
        try:
            while not stop.is_set():
                worker = asyncio.create_task(
                    engine.run_worker_async(
                        name=worker_name(),
                        concurrency=cfg.jobs.concurrency,
                        update_heartbeat_interval=cfg.jobs.heartbeat,
                        stalled_worker_timeout=cfg.jobs.stalled_after,
                        fetch_job_polling_interval=POLL_JOBS,
                        delete_jobs="successful",
                        additional_context={"runtime": runtime},
                        install_signal_handlers=False,
                    )
                )
                await asyncio.wait({worker, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not worker.done():
                    log.info("worker stopping: the running jobs finish first")
                    worker.cancel()  # the engine's graceful stop: no new job, the running end
                    with contextlib.suppress(asyncio.CancelledError):
                        await worker
                    break
                # The engine's worker ended by itself: the database failed for longer than
                # its pool waits (or a side task of the engine did). Start it again, later
                # each time, until the database answers; its jobs are found stalled meanwhile.
                why = _ended(worker)
                log.error(
                    "worker: the job engine stopped (%s); starting it again in %.0f s", why, pause
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=pause)
                pause = min(pause * 2, MAX_RESTART_PAUSE)
                runtime.engine_id = None  # the engine registers it again under a new id
        finally:
            stopping.cancel()
            await runtime.close()
    log.info("worker stopped")


def _ended(task: asyncio.Task[Any]) -> str:
    """Why a task that ended by itself did."""
    if task.cancelled():
        return "cancelled"
    error = task.exception()
    if error is None:
        return "it returned"
    cause = error.__cause__ or error
    detail = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {detail[0] if detail else 'no detail'}"


def _engine_task_failed(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A task of the job engine's that failed with nobody left to ask (a job's status that
    could not be written when the database went away, or after the scheduler gave the job to
    another worker): one line in the log, not a traceback; the scheduler's stalled-job checks
    run the job again if it must. Anything else goes to the loop's usual handler."""
    error = context.get("exception")
    if isinstance(error, engine_errors.ProcrastinateException):
        cause = error.__cause__ or error
        detail = str(cause).strip().splitlines()
        log.warning(
            "worker: a task of the job engine failed (%s: %s); the job runs again if it must",
            type(cause).__name__,
            detail[0] if detail else "no detail",
        )
        return
    loop.default_exception_handler(context)


def _keep_listening(engine: procrastinate.App) -> None:
    """The engine's worker listens for new jobs on a connection of its own; when that
    connection is lost and cannot be made again at once (the database restarting), the engine's
    listener ends for good and the worker finds new jobs only by polling. Ours listens again,
    after a pause that grows while the database stays away (jobs are polled meanwhile)."""
    manager = engine.job_manager
    listen = manager.listen_for_jobs

    async def listen_for_jobs(**kwargs: Any) -> None:
        pause = RESTART_PAUSE
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            try:
                await listen(**kwargs)
            except engine_errors.ProcrastinateException as e:
                if loop.time() - began > MAX_RESTART_PAUSE:  # it listened for a while
                    pause = RESTART_PAUSE
                why = f"{type(e.__cause__ or e).__name__}: {e.__cause__ or e}".strip()
                log.warning(
                    "worker: lost the job notifications (%s); listening again in %.0f s "
                    "(looking for jobs every %.0f s meanwhile)",
                    why.splitlines()[0],
                    pause,
                    POLL_JOBS,
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_RESTART_PAUSE)
            else:
                pause = RESTART_PAUSE
                await asyncio.sleep(RESTART_PAUSE)

    setattr(manager, "listen_for_jobs", listen_for_jobs)  # noqa: B010 (an instance's method)


class ActiveScheduler:
    """The scheduler that holds the lock: defers the jobs until stopped or the lock is lost."""

    def __init__(self, roles: Roles, engine: procrastinate.App, lock: psycopg.AsyncConnection[Any]):
        self.roles = roles
        self.engine = engine
        self.lock = lock
        self.app = App(roles.config)
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
        store = self.app.store
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
            self.app.close()

    async def reload(self, new: Config) -> None:
        """Apply a new config whole, or raise and change nothing: every trigger is built and
        the new sources recorded before the schedules and the config are swapped."""
        triggers = triggers_of(new)
        store = self.app.store
        await asyncio.to_thread(store.sync_sources, [(s.id, s.kind, s.url) for s in new.sources])
        states = await asyncio.to_thread(store.source_states)
        self.app.config = new
        self.app.publisher.config = new
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
            store = self.app.store
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
    stop = _stop_on_signals()
    active: list[ActiveScheduler] = []

    async def reload(new: Config) -> None:
        await reload_roles(roles, active, new)

    async def refused(problem: str | None) -> None:
        roles.refused = problem
        for one in active:  # the active scheduler's state is the one the web nodes show
            await record_reload(one.app.store, "scheduler", problem)

    _on_hangup(config_path, reload, "scheduler", refused)
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


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


_reloads: set[asyncio.Task[None]] = set()


def _on_hangup(
    config_path: str | os.PathLike[str] | None,
    apply: Callable[[Config], Awaitable[None]],
    role: str,
    report: Callable[[str | None], Awaitable[None]],
) -> None:
    """SIGHUP reloads the config; a bad one is refused and the running one kept. ``report``
    is told why (None after a good reload), so the web nodes can say so."""
    loop = asyncio.get_running_loop()

    async def reload() -> None:
        try:
            new = await asyncio.to_thread(config_module.load, config_path)
            conninfo(new.service.database)
            await apply(new)
        except SyndicatorError as e:  # a bad config, or the store failing: nothing applied
            log.error("reload refused, keeping the running config:\n    %s", e)
            await report(reload_problem(role, str(e)))
            return
        await report(None)

    def on_hangup() -> None:
        task = asyncio.ensure_future(reload())
        _reloads.add(task)
        task.add_done_callback(_reloads.discard)

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGHUP, on_hangup)


# --------------------------------------------------------------------------------------------
# ``run --role web``: ``serve``, whose pushes request a publish job


def web_app() -> Any:
    """One web worker's ASGI application (granian calls this in each worker process): the
    ``serve`` application, with publishing handed to the workers as a job."""
    from syndicator.server import worker_service
    from syndicator.web import make_app

    service = worker_service()
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    engine = make_engine(service.config)
    engine.open()
    pending: set[asyncio.Future[None]] = set()

    def request_publish(regions: set[str]) -> None:
        debounce = service.config.publish.debounce
        future = asyncio.get_running_loop().run_in_executor(
            None, _defer_publish_sync, engine, debounce
        )
        pending.add(future)
        future.add_done_callback(pending.discard)

    service.publishing.requester = request_publish
    return make_app(service, manage=True)


def _defer_publish_sync(engine: procrastinate.App, debounce: float) -> None:
    when = datetime.now(UTC) + timedelta(seconds=debounce)
    try:
        engine.configure_task(
            PUBLISH, lock="publish", queueing_lock="publish", schedule_at=when
        ).defer()
    except engine_errors.AlreadyEnqueued:
        pass
    except engine_errors.ProcrastinateException as e:
        log.error("cannot request a publish job (the scheduler will): %s", e)


def serve_web(config_path: str | os.PathLike[str] | None, *, workers: int, json_logs: bool) -> None:
    """``run --role web``."""
    from syndicator.server import serve

    conninfo(config_module.load(config_path).service.database)
    serve(config_path, workers=workers, json_logs=json_logs, factory="syndicator.jobs:web_app")


def run_role(
    role: str, config_path: str | os.PathLike[str] | None, *, verbose: bool = False
) -> None:
    """Run the scheduler or a worker until stopped (uvloop when it is installed)."""
    if not verbose:
        logging.getLogger("procrastinate").setLevel(logging.WARNING)
    conninfo(config_module.load(config_path).service.database)
    main = run_scheduler if role == "scheduler" else run_worker
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it where it builds
        asyncio.run(main(config_path))
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main(config_path))

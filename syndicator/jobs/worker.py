"""``run --role worker``: runs jobs until stopped; the job engine and its notification listener
are started again while the database is away."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

import procrastinate
from procrastinate import exceptions as engine_errors

from syndicator import config as config_module
from syndicator.jobs.engine import ensure_schema, make_engine
from syndicator.jobs.queue import describe
from syndicator.jobs.roles import on_hangup, record_reload, stop_on_signals, worker_name
from syndicator.jobs.tasks import Runtime

log = logging.getLogger("syndicator.jobs")


POLL_JOBS = 1.0  # seconds between a worker's looks for jobs scheduled for later


RESTART_PAUSE = 1.0  # seconds before a worker's engine or listener starts again; doubled …


MAX_RESTART_PAUSE = 30.0  # … up to this, while the database stays away


async def run_worker(config_path: str | os.PathLike[str] | None) -> None:
    """``run --role worker``: run jobs until SIGTERM or Ctrl-C; the running ones finish first.

    The signals are ours, not the engine's: it would take a second SIGTERM (a supervisor that
    signals the process and then its group, an impatient operator) as "die now", leaving its
    jobs to be found stalled. Here a repeated signal changes nothing; ``kill -9`` is the way to
    stop at once, and the jobs then run again elsewhere."""
    cfg = config_module.load(config_path)
    engine = make_engine(cfg)
    await ensure_schema(cfg)
    stop = stop_on_signals()
    async with engine.open_async():
        runtime = Runtime(cfg, engine)
        # A worker that started read a good config: no refused reload of workers to show.
        await record_reload(runtime.syndication.store, "worker", None)

        async def refused(problem: str | None) -> None:
            await record_reload(runtime.syndication.store, "worker", problem)

        on_hangup(config_path, runtime.reload, "worker", refused)
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
    return describe(error)


def _engine_task_failed(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A task of the job engine's that failed with nobody left to ask (a job's status that
    could not be written when the database went away, or after the scheduler gave the job to
    another worker): one line in the log, not a traceback; the scheduler's stalled-job checks
    run the job again if it must. Anything else goes to the loop's usual handler."""
    error = context.get("exception")
    if isinstance(error, engine_errors.ProcrastinateException):
        log.warning(
            "worker: a task of the job engine failed (%s); the job runs again if it must",
            describe(error),
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
                log.warning(
                    "worker: lost the job notifications (%s); listening again in %.0f s "
                    "(looking for jobs every %.0f s meanwhile)",
                    describe(e),
                    pause,
                    POLL_JOBS,
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_RESTART_PAUSE)
            else:
                pause = RESTART_PAUSE
                await asyncio.sleep(RESTART_PAUSE)

    setattr(manager, "listen_for_jobs", listen_for_jobs)  # noqa: B010 (an instance's method)

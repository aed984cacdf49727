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

This package owns procrastinate, as fetch/ owns httpx: nothing else imports it. The passes,
publishing and deliveries are the code ``run --role all`` uses (ingest, syndication, notify). Its
modules: queue (the jobs and their locks), engine, tasks (what a worker runs), roles (what the
roles share), scheduling, worker, web.
"""

from __future__ import annotations

import asyncio
import logging
import os

from syndicator import config as config_module
from syndicator.jobs.engine import ensure_schema, make_engine
from syndicator.jobs.queue import (
    DELIVER,
    FIRST_PASSES,
    PUBLISH,
    SOURCE_PASS,
    conninfo,
    defer_delivery,
    defer_first_passes,
    defer_publish,
    defer_source_pass,
)
from syndicator.jobs.roles import ROLES, Roles, record_reload, reload_problem, worker_name
from syndicator.jobs.scheduling import ActiveScheduler, reload_roles, requeue_stalled, run_scheduler
from syndicator.jobs.tasks import Runtime, WorkerFollowUp
from syndicator.jobs.web import serve_web, web_app
from syndicator.jobs.worker import run_worker

__all__ = [
    "DELIVER",
    "FIRST_PASSES",
    "PUBLISH",
    "ROLES",
    "SOURCE_PASS",
    "ActiveScheduler",
    "Roles",
    "Runtime",
    "WorkerFollowUp",
    "conninfo",
    "defer_delivery",
    "defer_first_passes",
    "defer_publish",
    "defer_source_pass",
    "ensure_schema",
    "make_engine",
    "record_reload",
    "reload_problem",
    "reload_roles",
    "requeue_stalled",
    "run_role",
    "run_scheduler",
    "run_worker",
    "serve_web",
    "web_app",
    "worker_name",
]


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

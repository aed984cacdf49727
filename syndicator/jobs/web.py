"""``run --role web``: ``serve``, whose pushes request a ``publish`` job."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import procrastinate
from procrastinate import exceptions as engine_errors

from syndicator import config as config_module
from syndicator.jobs.engine import make_engine
from syndicator.jobs.queue import AHEAD, PUBLISH, conninfo, describe

log = logging.getLogger("syndicator.jobs")


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
            PUBLISH, lock="publish", queueing_lock="publish", schedule_at=when, priority=AHEAD
        ).defer()
    except engine_errors.AlreadyEnqueued:
        pass
    except engine_errors.ProcrastinateException as e:
        log.error("deferring publishing failed (%s): the scheduler defers it", describe(e))


def serve_web(config_path: str | os.PathLike[str] | None, *, workers: int, json_logs: bool) -> None:
    """``run --role web``."""
    from syndicator.server import serve

    conninfo(config_module.load(config_path).service.database)
    serve(config_path, workers=workers, json_logs=json_logs, factory="syndicator.jobs:web_app")

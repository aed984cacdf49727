"""What the scaled mode's roles share: their config, reloaded on SIGHUP (a bad one refused,
and shown on every web node), their names, and stopping on SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from syndicator import config as config_module
from syndicator.config import Config
from syndicator.errors import SyndicatorError
from syndicator.jobs.queue import conninfo

log = logging.getLogger("syndicator.jobs")


ROLES = ("all", "scheduler", "worker", "web")


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


def stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


_reloads: set[asyncio.Task[None]] = set()


def on_hangup(
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

"""Long-lived tasks kept alive: each runs under a supervisor that restarts it, after a pause
that grows with each restart, when it ends with an error, and keeps what happened for
``/healthz`` and the status page.

A task survives what it can by itself (a store error: it backs off and tries again); the
supervisor is for what it could not — a bug — so that no background work is ever silently gone.
Nothing here knows what the tasks do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from syndicator.model import iso

log = logging.getLogger("syndicator")

FIRST_PAUSE = 1.0  # seconds before the first restart; doubled with each restart …
MAX_PAUSE = 60.0  # … up to this
RECENT = timedelta(minutes=10)  # a restart this recent keeps the service degraded


@dataclass
class TaskState:
    """What happened to one supervised task."""

    name: str
    running: bool = True
    restarts: int = 0
    last_error: str | None = None
    last_failure: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "state": "running" if self.running else "restarting",
            "restarts": self.restarts,
            "last_error": self.last_error,
            "last_failure": iso(self.last_failure),
        }


class Supervisor:
    """Runs named coroutines and restarts the ones that fail."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.clock = clock
        self.tasks: dict[str, TaskState] = {}
        self._handles: dict[str, asyncio.Task[None]] = {}

    def start(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        """Run ``run()`` as the task ``name``: again whenever it raises, until it returns."""
        self.tasks[name] = TaskState(name)
        self._handles[name] = asyncio.ensure_future(self._keep(self.tasks[name], run))

    async def _keep(self, state: TaskState, run: Callable[[], Awaitable[None]]) -> None:
        pause = FIRST_PAUSE
        while True:
            try:
                await run()
                return  # it ended by itself: it was told to stop
            except Exception as e:  # a bug: say so, and run it again
                state.running = False
                state.restarts += 1
                state.last_error = f"{type(e).__name__}: {e}"
                state.last_failure = self.clock()
                log.error(
                    "task %s died (%s); restarting it in %.0f s",
                    state.name,
                    state.last_error,
                    pause,
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_PAUSE)
                state.running = True
                log.info("task %s restarted", state.name)

    async def wait(self, name: str, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for a task told to stop to end, then cancel it."""
        handle = self._handles.get(name)
        if handle is None:
            return
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(handle, timeout=timeout)

    async def stop(self) -> None:
        """Cancel every task (they end at their next wait) and wait for them."""
        for handle in self._handles.values():
            handle.cancel()
        for handle in self._handles.values():
            with contextlib.suppress(asyncio.CancelledError):
                await handle

    def report(self) -> dict[str, dict[str, Any]]:
        return {name: state.to_json() for name, state in sorted(self.tasks.items())}

    def problems(self) -> list[str]:
        """A sentence for each task that is down, or that was restarted recently."""
        now = self.clock()
        out = []
        for name, state in sorted(self.tasks.items()):
            if not state.running:
                out.append(f"task {name} died ({state.last_error}); restarting")
            elif state.last_failure is not None and now - state.last_failure < RECENT:
                out.append(
                    f"task {name} was restarted ({state.restarts} time(s); the last time it "
                    f"died: {state.last_error})"
                )
        return out

"""Worker processes for CPU-bound work over large inputs (a streamed ingest's lines, a bulk
load's archive pages), in order and with bounded memory. The pools are forked (the package is
already imported: they start at once); their processes leave Ctrl-C to the parent, which stops
them, and end with the parent even when it is killed. Knows nothing of what they run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")


def can_fork() -> bool:
    """Whether work may go to forked processes here: on Linux, where they can also be made to
    end with their parent (PR_SET_PDEATHSIG), so none is ever left behind."""
    return sys.platform == "linux"


def cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # pragma: no cover - not Linux


def in_order(
    workers: int,
    tasks: Iterable[tuple[Callable[..., T], tuple[Any, ...]]],
    *,
    started: Callable[..., None] | None = None,
    startargs: tuple[Any, ...] = (),
    nice: int = 0,
    initial: int = 2,
) -> Generator[T, None, None]:
    """Each task's result, in the order of ``tasks``, computed by ``workers`` forked processes
    (each runs ``started(*startargs)`` first). Tasks are taken from ``tasks`` as results are
    given, at most two per process ahead, so memory stays bounded whatever their number, but
    ``initial`` per process at the start (work for them while the caller does something else
    before it asks for more than the first result). A task's exception is raised here, in its
    turn; a process that ended abruptly (killed, out of memory) is :class:`WorkerLost`. The
    processes are gone when this ends, however it ends (an error, Ctrl-C, the caller stopping
    early).

    ``nice``: how much lower the processes' priority is than this one's. With more processes
    than the cores this one leaves, this one still has a core whenever it has work (taking
    the results in turn is what everything waits on), and they share the rest, its own core
    too while it waits on them."""
    import multiprocessing

    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_started,
        initargs=(os.getpid(), nice, started, startargs),
    )
    pending: deque[Future[T]] = deque()
    tasks = iter(tasks)
    limit = max(initial, 2) * workers  # tasks pending at most: at the start, then two each
    try:
        while True:
            try:
                while len(pending) < limit:
                    task = next(tasks, None)
                    if task is None:
                        break
                    pending.append(pool.submit(task[0], *task[1]))
                if not pending:
                    return
                limit = 2 * workers
                result = pending.popleft().result()
            except BrokenProcessPool as e:
                raise WorkerLost(
                    "a worker process ended abruptly (killed, or out of memory)"
                ) from e
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class WorkerLost(RuntimeError):
    """A worker process of :func:`in_order` ended before it gave its result: killed, or out
    of memory. The results given before it stand; the rest are not computed."""


def _started(
    parent: int, nice: int, started: Callable[..., None] | None, startargs: tuple[Any, ...]
) -> None:
    """In a worker: Ctrl-C is the parent's to handle (it stops the workers), the worker ends
    when the parent does, even if the parent is killed, and yields to it by ``nice``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if os.getppid() != parent:  # the parent ended before the line above took effect
        os._exit(1)
    if nice:
        with contextlib.suppress(OSError):  # pragma: no cover - a system that refuses
            os.nice(nice)
    if started is not None:
        started(*startargs)

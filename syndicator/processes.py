"""Worker processes for CPU-bound work over large inputs (a streamed ingest's lines, a bulk
load's archive pages), in order and with bounded memory. The pools are forked (the package is
already imported: they start at once); their processes leave Ctrl-C to the parent, which stops
them, and end with the parent even when it is killed. Knows nothing of what they run.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
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
    here: Callable[..., T] | None = None,
) -> Generator[T, None, None]:
    """Each task's result, in the order of ``tasks``, computed by ``workers`` forked processes
    (each runs ``started(*startargs)`` first). Tasks are taken from ``tasks`` as results are
    given, at most two per process ahead, so memory stays bounded whatever their number. A
    task's exception is raised here, in its turn. The processes are gone when this ends,
    however it ends (an error, Ctrl-C, the caller stopping early).

    With ``here``, a task's function as this process runs it (given the task's arguments):
    when the oldest result is asked for before a process has it, this process computes the
    next task itself rather than wait (at most two per process ahead too), so it keeps its
    core busy when the processes are the slower side."""
    import multiprocessing

    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_started,
        initargs=(os.getpid(), started, startargs),
    )
    pending: deque[Future[T]] = deque()
    sent = 0  # the pending tasks the processes have
    tasks = iter(tasks)
    try:
        while True:
            while sent < 2 * workers and len(pending) < 4 * workers:
                task = next(tasks, None)
                if task is None:
                    break
                pending.append(pool.submit(task[0], *task[1]))
                sent += 1
            if not pending:
                return
            if here is not None and not pending[0].done() and len(pending) < 4 * workers:
                task = next(tasks, None)
                if task is not None:
                    pending.append(_run_here(here, task[1]))
                    continue
                here = None  # no task left to take
            oldest = pending.popleft()
            if not isinstance(oldest, _DoneHere):
                sent -= 1
            yield oldest.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _DoneHere(Future):  # type: ignore[type-arg]
    """A task this process computed: its result (or exception), given in its turn."""


def _run_here(function: Callable[..., T], args: tuple[Any, ...]) -> Future[T]:
    done: Future[T] = _DoneHere()
    try:
        done.set_result(function(*args))
    except Exception as e:  # raised in its turn, as a process's would be
        done.set_exception(e)
    return done


def _started(parent: int, started: Callable[..., None] | None, startargs: tuple[Any, ...]) -> None:
    """In a worker: Ctrl-C is the parent's to handle (it stops the workers), and the worker
    ends when the parent does, even if the parent is killed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if os.getppid() != parent:  # the parent ended before the line above took effect
        os._exit(1)
    if started is not None:
        started(*startargs)

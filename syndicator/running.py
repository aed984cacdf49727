"""What ``run`` does around each pass of a source: the follow-up of :func:`refresh_source`
(a failed source's next run deferred in the scheduler, the pass counted and logged, the next
runs recorded, publishing requested, the dispatcher woken) and the publishing it requests,
debounced.

It neither fetches nor renders: passes are :mod:`syndicator.ingest`'s, publishing is
``Syndication.publish_changes``'s. :class:`syndicator.service.Service` owns one of each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from syndicator.config import Config, Source
from syndicator.errors import SyndicatorError
from syndicator.ingest import FollowUp, PassResult
from syndicator.ingest.refresh import source_state
from syndicator.metrics import Metrics
from syndicator.notify import Dispatcher
from syndicator.scheduler import Scheduler
from syndicator.store import SourceState
from syndicator.syndication import Syndication
from syndicator.web import FeedCache

log = logging.getLogger("syndicator")


class RunFollowUp(FollowUp):
    """After a pass of ``run`` (scheduled, fetch-now or first): a failed source's next run is
    deferred in the scheduler; the pass is counted in the metrics and logged, and the next runs
    recorded for status and ``serve``; changed regions are published after the debounce; the
    dispatcher is woken for the pass's events."""

    retries = True

    def __init__(
        self,
        *,
        scheduler: Scheduler,
        store: Any,
        metrics: Metrics,
        publishing: DebouncedPublisher,
        dispatcher: Dispatcher,
    ) -> None:
        self.scheduler, self.store, self.metrics = scheduler, store, metrics
        self.publishing, self.dispatcher = publishing, dispatcher
        self.first_running: set[str] = set()  # first passes not yet stored

    async def retry(self, source: Source, at: datetime) -> None:
        self.scheduler.defer(source.id, at)

    async def report(self, result: PassResult) -> None:
        self.first_running.discard(result.source_id)  # a first pass: stored now
        count_pass(self.metrics, result, await source_state(self.store, result.source_id))
        if result.ok:
            log.info("source %s: %s", result.source_id, result.summary())
        await asyncio.to_thread(record_next_runs, self.scheduler, self.store, [result.source_id])

    async def request_publish(self, regions: set[str]) -> None:
        self.publishing.request(regions)

    async def wake(self) -> None:
        self.dispatcher.wake.set()


def count_pass(metrics: Metrics, result: PassResult, state: SourceState | None) -> None:
    """A stored pass in the metrics: its outcome, duration, changes and the source's health."""
    m = metrics
    outcome = "failed" if not result.ok else "not-modified" if result.not_modified else "ok"
    m.passes.labels(result.source_id, outcome).inc()
    m.pass_seconds.observe(result.duration)
    for change in ("created", "updated", "duplicate", "unchanged"):
        n = result.changes.count(change)
        if n:
            m.articles.labels(change).inc(n)
    m.fetches.labels(result.source_id, "error" if not result.ok else outcome).inc()
    m.set_health(result.source_id, result.health)
    if state is not None:
        m.failures.labels(result.source_id).set(state.failures)
        if state.last_success_at:
            m.last_success.labels(result.source_id).set(state.last_success_at.timestamp())


def record_next_runs(scheduler: Scheduler, store: Any, only: Iterable[str] | None = None) -> None:
    """Store the scheduler's next runs (for status and serve); a store that fails only delays
    that: the schedules themselves live in the scheduler."""
    runs = scheduler.next_runs()
    try:
        for source_id in only if only is not None else runs:
            if source_id in runs:
                store.set_next_due(source_id, runs[source_id])
    except SyndicatorError as e:
        log.warning("next runs not recorded: %s", e)


class DebouncedPublisher:
    """Publishing in ``run``: regions are published ``debounce`` seconds after the last request,
    or ``longest_wait`` after the first, whichever comes first (a steady stream of changes is
    still published); one publish at a time; the files it changed are read into the feed cache
    and the dispatcher is woken (for the ``feed.updated`` events). A publish that fails keeps
    its regions and is tried again later."""

    def __init__(
        self,
        syndication: Syndication,
        *,
        config: Callable[[], Config],
        metrics: Metrics,
        feeds: FeedCache,
        dispatcher: Dispatcher,
    ) -> None:
        self.syndication, self._config, self.metrics = syndication, config, metrics
        self.feeds, self.dispatcher = feeds, dispatcher
        self.pending: set[str] = set()
        self.running = False  # a failed publish is retried only while the service runs
        # Scaled mode (``run --role web``): publishing is a job for the workers, not ours.
        self.requester: Callable[[set[str]], None] | None = None
        self._task: asyncio.Task[None] | None = None  # the debounce wait
        self._publishing: asyncio.Task[None] | None = None  # a publish under way
        self._lock = asyncio.Lock()  # one publish at a time
        self._first_request: float | None = None

    def request(self, regions: Iterable[str]) -> None:
        """Publish these regions soon (after the debounce)."""
        if self.requester is not None:
            self.requester(set(regions))
            return
        self.pending.update(regions)
        now = time.monotonic()
        if self._first_request is None:
            self._first_request = now
        if self._task is not None and not self._task.done():
            self._task.cancel()
        settings = self._config().publish
        deadline = self._first_request + settings.longest_wait
        delay = max(0.0, min(settings.debounce, deadline - now))
        self._task = asyncio.ensure_future(self._later(delay))

    async def _later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        # A newer request cancels the wait, never the publish once begun: cancelled, it went
        # on in its thread, but the web server kept the old files and the notifier was not
        # woken (an external hub pinged for the change fetched the old feed).
        self._publishing = asyncio.ensure_future(self._now())

    async def _finished(self) -> None:
        if self._publishing is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._publishing

    async def _now(self) -> None:
        async with self._lock:
            await self._locked()

    async def _locked(self) -> None:
        regions, self.pending = set(self.pending), set()
        self._first_request = None
        started = time.monotonic()
        try:
            outcome = await asyncio.to_thread(self.syndication.publish_changes, regions)
        except SyndicatorError as e:
            log.error("publishing %s failed: %s", ", ".join(sorted(regions)), e)
            self.pending.update(regions)  # keep them: retried, or sooner with the next change
            if self.running:
                self.retry()
            return
        self.metrics.publish_seconds.observe(time.monotonic() - started)
        if outcome.published is not None:
            self.metrics.published_files.inc(len(outcome.published.changed))
            self.feeds.load(outcome.published.changed)
            log.info(
                "published %s (%d files changed)",
                ", ".join(sorted(regions)),
                len(outcome.published.changed),
            )
        self.dispatcher.wake.set()

    def retry(self) -> None:
        """Publish what is pending again later, even if nothing else changes meanwhile."""
        delay = max(1.0, self._config().publish.longest_wait)
        self._task = asyncio.ensure_future(self._later(delay))

    async def flush(self) -> None:
        """Publish now whatever is waiting (tests, shutdown)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._finished()
        if self.pending:
            await self._now()

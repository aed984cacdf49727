"""The long-running service behind ``syndicator run`` and ``serve``: its life cycle, the
scheduled passes, reload, pushes, and the published files held in memory for the web server.

:class:`Service` is what the web layer talks to (``feeds``, ``push``, ``reload``, ``sources``,
``metrics``). A pass is :func:`~syndicator.ingest.refresh_source`, followed up as
:mod:`syndicator.running` says (back-off, metrics, debounced publishing, the dispatcher woken);
the web server around it is started by :mod:`syndicator.server`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from syndicator import config as config_module
from syndicator import demo
from syndicator.config import Config
from syndicator.errors import ConfigError, ExtractError, SyndicatorError
from syndicator.fetch import Fetcher
from syndicator.ingest import (
    PassResult,
    article_from_object,
    make_fetcher,
    refresh_source,
    run_once,
)
from syndicator.metrics import Metrics
from syndicator.model import Article, iso
from syndicator.notify import all_topics
from syndicator.notify.websub import Hub
from syndicator.running import DebouncedPublisher, RunFollowUp, record_next_runs
from syndicator.scheduler import ReloadResult, Scheduler, triggers_of
from syndicator.supervise import Supervisor
from syndicator.syndication import Syndication
from syndicator.web import FeedCache, FeedFile

log = logging.getLogger("syndicator")

STORE_RETRY = 15.0  # seconds before a pass the store failed is tried again (at most its interval)
WATCH_SECONDS = 1.0  # how often ``serve`` looks for feed files another process published
PUSH_BATCH = 500  # pushed articles read, then stored, per step off the event loop


class Service:
    """The running service. With ``poll=False`` (``syndicator serve``) there is no scheduler:
    nothing is fetched, and the feed files are re-read when another process publishes them."""

    def __init__(
        self,
        config: Config,
        *,
        config_path: str | os.PathLike[str] | None = None,
        syndication: Syndication | None = None,
        poll: bool = True,
    ) -> None:
        self.config = config
        self.poll = poll
        self.config_path = config_path
        self.syndication = syndication or Syndication(config)
        self.metrics = Metrics()
        self.feeds = FeedCache(Path(config.service.feeds_dir))
        self.samples = FeedCache(demo.SAMPLES_DIR, demo.SAMPLE_TYPES)  # read when first asked
        self.scheduler = Scheduler(self.run_source)
        self.fetcher = make_fetcher(config)
        self.started_at = datetime.now(UTC)
        self.on_reload: Callable[[], None] | None = None  # after a reload that was applied
        self.reload_refused: str | None = None  # why the last reload was refused, until a good one
        # ``serve`` and the scaled mode's web nodes: what the store says other processes of the
        # deployment are unwell with (a scheduler's refused reload), read by the feeds watcher.
        self.shared_problems: list[str] = []
        self._stop = asyncio.Event()
        self.poster = self.syndication.poster()
        self.dispatcher = self.syndication.dispatcher(self.poster, on_delivery=self._delivered)
        self.publishing = DebouncedPublisher(
            self.syndication,
            config=lambda: self.config,
            metrics=self.metrics,
            feeds=self.feeds,
            dispatcher=self.dispatcher,
        )
        self.follow_up = RunFollowUp(
            scheduler=self.scheduler,
            store=self.store,
            metrics=self.metrics,
            publishing=self.publishing,
            dispatcher=self.dispatcher,
        )
        self.hub = Hub(self.syndication.store, self.poster, lambda: all_topics(self.config))
        self.supervisor = Supervisor()  # the long-lived tasks: restarted if they die
        self._first_pass: asyncio.Task[None] | None = None
        self._passes: dict[str, asyncio.Task[Any]] = {}  # scheduled passes under way
        self._stopping = False
        self._manual: set[asyncio.Task[PassResult | None]] = set()  # fetch-now passes

    @property
    def store(self) -> Any:
        return self.syndication.store

    def sample(self, path: str) -> FeedFile | None:
        """A file of the bundled sample site (``path`` relative to it), when this service
        serves the samples (``[service] serve_samples``); read into memory when first asked."""
        if not self.config.service.serve_samples:
            return None
        if not self.samples.paths():
            self.samples.load()
        return self.samples.get(path)

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        cfg = self.config
        if not self.poll:
            await self._start_serving()
            return
        self.store.sync_sources((s.id, s.kind, s.url) for s in cfg.sources)
        states = {s.id: s for s in self.store.source_states()}
        for source in cfg.sources:
            state = states.get(source.id)
            self.metrics.set_health(source.id, state.health if state else "new")
        # Files always match the store at start (unchanged files are not rewritten). When they
        # cannot be written (a full disk), the service starts on the files already published.
        try:
            await asyncio.to_thread(self.syndication.publish_changes, [r.id for r in cfg.regions])
        except SyndicatorError as e:
            log.error("publishing at start failed, serving the files already published: %s", e)
            self.publishing.pending.update(r.id for r in cfg.regions)
        self.feeds.load()
        # Sources never read before get their first pass together, stored in config order (as
        # `once` does): which copy of a story a fresh deployment links to never depends on which
        # server answered first. Their scheduled runs start one interval later.
        now = datetime.now(UTC)
        fresh = [
            s.id
            for s in cfg.sources
            if s.enabled and not (states.get(s.id) and states[s.id].last_fetch_at)
        ]
        last = {k: v.last_fetch_at for k, v in states.items()} | dict.fromkeys(fresh, now)
        self.scheduler.start(cfg, last)
        self.record_next_runs()
        if fresh:
            self._first_pass = asyncio.ensure_future(self._first_passes(fresh))
        self.supervisor.start("dispatcher", lambda: self.dispatcher.run(self._stop))
        self.publishing.running = True
        if self.publishing.pending:
            self.publishing.retry()
        log.info(
            "service started: %d sources, %d regions, feeds in %s",
            sum(s.enabled for s in cfg.sources),
            len(cfg.regions),
            cfg.service.feeds_dir,
        )

    async def _first_passes(self, source_ids: list[str]) -> None:
        """The first pass of every source never read before, together (as ``once`` does):
        each source's outcome is recorded and published as soon as it is stored."""
        now = datetime.now(UTC)
        self.follow_up.first_running = set(source_ids)
        try:
            await run_once(
                self.config,
                self.store,
                source_ids=source_ids,
                fetcher=self.fetcher,
                now=now,
                follow_up=self.follow_up,
            )
        except SyndicatorError as e:  # the store failed: their scheduled runs read them
            log.error("first passes: %s", e)
        finally:
            self.follow_up.first_running.clear()

    async def _start_serving(self) -> None:
        """``serve``: what is stored and published, read only; the files watched for changes."""
        states = {s.id: s for s in await asyncio.to_thread(self.store.source_states)}
        self.shared_problems = await asyncio.to_thread(self.store.problems)
        for source in self.config.sources:
            state = states.get(source.id)
            self.metrics.set_health(source.id, state.health if state else "new")
        await asyncio.to_thread(self.feeds.load)
        self.supervisor.start("feeds-watcher", self._watch_feeds)
        self.publishing.running = True
        log.info(
            "serving what is stored and published: %d feed files in %s",
            len(self.feeds.paths()),
            self.config.service.feeds_dir,
        )

    async def _watch_feeds(self) -> None:
        """Re-read the feed files another process published, and the problems other processes
        recorded in the store; a store that fails is read again at the next look."""
        store_failing = False
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            try:
                self.shared_problems = await asyncio.to_thread(self.store.problems)
            except SyndicatorError as e:
                if not store_failing:
                    log.warning("cannot read the store (looking again every second): %s", e)
                store_failing = True
            else:
                if store_failing:
                    log.info("the store answers again")
                store_failing = False
            try:
                changed = await asyncio.to_thread(self.feeds.refresh)
            except OSError as e:
                log.warning("cannot read the feeds folder: %s", e)
                continue
            if changed:
                log.info("feed files changed on disk: %s", ", ".join(changed[:10]))

    async def stop(self) -> None:
        self.publishing.running = False
        self._stopping = True
        if not self.poll:
            await self.supervisor.stop()
        # Passes under way are given up (what they found is fetched again by the next run;
        # nothing half-stored: a pass stores in one transaction). Said once, by name.
        under_way = sorted(set(self._passes) | self.follow_up.first_running)
        passes = list(self._passes.values())
        self.scheduler.shutdown()
        for task in passes:
            task.cancel()
        if self._first_pass is not None and not self._first_pass.done():
            self._first_pass.cancel()
            passes.append(self._first_pass)
        manual = list(self._manual)  # fetch-now passes under way
        for task in manual:
            task.cancel()
        passes += manual
        if passes:
            await asyncio.gather(*passes, return_exceptions=True)
        if under_way:
            log.info("stopping: cancelled the passes of %s", ", ".join(under_way))
        await self.publishing.flush()
        self._stop.set()
        self.dispatcher.wake.set()
        await self.supervisor.wait("dispatcher", timeout=10)
        await self.supervisor.stop()
        await self.hub.settle()
        await self.fetcher.aclose()
        await self.poster.aclose()
        self.syndication.close()
        log.info("service stopped")

    # -- passes ----------------------------------------------------------------------------

    async def run_source(self, source_id: str, *, forced: bool = False) -> PassResult | None:
        """One pass of one source (a scheduler job, or ``forced``: fetch now, paused or not),
        then backoff, metrics and publishing. A paused source's scheduled runs do nothing."""
        try:
            source = self.config.source(source_id)
        except KeyError:
            return None  # removed by a reload while it was due
        if source_id in self.follow_up.first_running:
            return None  # its first pass (a slow one) is still under way: one pass at a time
        now = datetime.now(UTC)
        task = asyncio.current_task()
        if task is not None:
            self._passes[source_id] = task
        try:
            if not forced:
                paused = await asyncio.to_thread(self.store.source_state, source_id)
                if paused is not None and paused.paused:
                    log.debug("source %s is paused: not fetched", source_id)
                    return None
            return await refresh_source(
                source,
                now,
                config=self.config,
                store=self.store,
                fetcher=self.fetcher,
                follow_up=self.follow_up,
            )
        except SyndicatorError as e:  # the store failed: the pass is tried again soon
            delay = min(source.every or STORE_RETRY, STORE_RETRY)
            self.scheduler.defer(source_id, now + timedelta(seconds=delay))
            log.error(
                "source %s: %s; the pass is tried again in %s",
                source_id,
                e,
                config_module.format_duration(delay),
            )
            return None
        except asyncio.CancelledError:
            if self._stopping:  # stop() cancelled it, and says so in one line
                return None
            raise
        finally:
            self._passes.pop(source_id, None)

    def record_next_runs(self, only: Iterable[str] | None = None) -> None:
        record_next_runs(self.scheduler, self.store, only)

    def request_publish(self, regions: Iterable[str]) -> None:
        """Publish these regions soon (``running.DebouncedPublisher``)."""
        self.publishing.request(regions)

    async def publish_pending(self) -> None:
        """Publish now whatever is waiting (tests, shutdown)."""
        await self.publishing.flush()

    # -- what the web layer calls ----------------------------------------------------------

    async def reload(self) -> ReloadResult:
        """Re-read the config and apply it whole, or not at all.

        Everything that can fail — reading and validating the files, building every source's
        trigger, recording new sources in the store, opening a new fetcher — happens before
        anything is swapped. A refused reload keeps the running config and schedules, logs one
        error, counts ``syndicator_config_reloads_total{result="error"}``, makes ``/healthz``
        and the status page say "degraded: last reload refused (…)" until a good reload, and
        raises (ConfigError for a bad config, another SyndicatorError when the store failed)."""
        if self.config_path is None:
            raise ConfigError("this service was not started from a config path")
        old = self.config
        fetcher: Fetcher | None = None
        try:
            new = await asyncio.to_thread(config_module.load, self.config_path)
            triggers = triggers_of(new) if self.poll else {}
            states: dict[str, Any] = {}
            if self.poll:
                await asyncio.to_thread(
                    self.store.sync_sources, [(s.id, s.kind, s.url) for s in new.sources]
                )
                states = {s.id: s for s in await asyncio.to_thread(self.store.source_states)}
            if new.service != old.service:
                fetcher = make_fetcher(new)
        except SyndicatorError as e:
            if fetcher is not None:
                await fetcher.aclose()
            self.metrics.reloads.labels("error").inc()
            self.reload_refused = str(e)
            log.error("reload refused, keeping the running config:\n    %s", e)
            raise
        # The swap: nothing below can fail on the new config.
        self.reload_refused = None
        self.config = new
        self.syndication.config = new
        self.syndication.publisher.config = new
        if fetcher is not None:
            old_fetcher, self.fetcher = self.fetcher, fetcher
            await old_fetcher.aclose()
        if not self.poll:
            result = _diff_sources(old, new)
        else:
            last = {k: v.last_fetch_at for k, v in states.items()}
            result = self.scheduler.apply(new, last, triggers=triggers)
        for source_id in result.removed:
            self.metrics.forget(source_id)
        for source_id in result.added:
            self.metrics.set_health(
                source_id, states[source_id].health if source_id in states else "new"
            )
        self.metrics.reloads.labels("ok").inc()
        log.info("config reloaded: %s", result)
        if not self.poll:
            if self.on_reload is not None:
                self.on_reload()
            return result
        self.record_next_runs()
        if old.regions != new.regions or old.publish != new.publish:
            self.request_publish([r.id for r in new.regions])
        return result

    async def push(self, objects: list[tuple[int, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
        """Store pushed ARTICLE objects (each with its line number); returns per-article results
        and per-line errors. All are read first (nothing is stored if one is wrong), then
        stored PUSH_BATCH at a time, one transaction each; both off the event loop, a batch
        per step, so that the web server keeps answering meanwhile."""
        now = datetime.now(UTC)
        config = self.config

        def read(batch: list[tuple[int, Any]]) -> tuple[list[Article], list[str]]:
            articles, errors = [], []
            for n, obj in batch:
                try:
                    articles.append(article_from_object(obj, config=config, now=now))
                except ExtractError as e:
                    errors.append(f"line {n}: {e}")
            return articles, errors

        articles: list[Article] = []
        errors: list[str] = []
        for start in range(0, len(objects), PUSH_BATCH):
            read_ok, read_errors = await asyncio.to_thread(
                read, objects[start : start + PUSH_BATCH]
            )
            articles.extend(read_ok)
            errors.extend(read_errors)
        if errors:
            return [], errors
        results: list[dict[str, Any]] = []
        for start in range(0, len(articles), PUSH_BATCH):
            changes = await asyncio.to_thread(
                self.syndication.push, articles[start : start + PUSH_BATCH], now=now
            )
            for change in ("created", "updated", "duplicate", "unchanged"):
                if changes.count(change):
                    self.metrics.articles.labels(change).inc(changes.count(change))
            if changes.feeds:
                self.request_publish(changes.feeds)
            results.extend(
                {"url": c.url, "id": c.entry_id, "change": c.change} for c in changes.changes
            )
        self.dispatcher.wake.set()
        return results, []

    def problems(self) -> list[str]:
        """What makes the service itself degraded, whatever its sources' health: a refused
        reload (until a good one), a background task that died (recently), and under ``serve``
        what other processes of the deployment recorded in the store (a scheduler's refused
        reload)."""
        out = []
        if self.reload_refused is not None:
            out.append(f"last reload refused ({self.reload_refused})")
        return out + self.shared_problems + self.supervisor.problems()

    def fetch_now(self, source_id: str) -> asyncio.Task[PassResult | None]:
        """Start a pass of a source now (the ``fetch now`` of the ops pages), paused or not;
        its scheduled runs are unchanged. Raises KeyError for an unknown source."""
        self.config.source(source_id)
        task = asyncio.ensure_future(self.run_source(source_id, forced=True))
        self._manual.add(task)
        task.add_done_callback(self._manual.discard)
        return task

    async def set_paused(self, source_id: str, paused: bool) -> None:
        """Pause or resume a source: kept in the store, so every process and restart sees it.
        Raises KeyError for an unknown source."""
        source = self.config.source(source_id)
        now = datetime.now(UTC)
        await asyncio.to_thread(self.store.sync_sources, [(source.id, source.kind, source.url)])
        await asyncio.to_thread(self.store.set_paused, source_id, paused, now)
        log.info("source %s %s", source_id, "paused" if paused else "resumed")

    def _delivered(self, target: str, outcome: str) -> None:
        kind = target.split(":", 1)[0]
        self.metrics.deliveries.labels(target if kind == "notify" else kind, outcome).inc()

    def sources(self) -> list[dict[str, Any]]:
        """One row per configured source: its config and its stored state."""
        states = {s.id: s for s in self.store.source_states()}
        runs = self.scheduler.next_runs()
        rows = []
        for source in self.config.sources:
            state = states.get(source.id)
            row: dict[str, Any] = {
                "id": source.id,
                "kind": source.kind,
                "url": source.url,
                "schedule": source.schedule,
                "enabled": source.enabled,
                "regions": list(source.regions),
            }
            if state is not None:
                row.update(
                    {k: v for k, v in state.to_json().items() if k not in ("id", "kind", "url")}
                )
            nxt = runs.get(source.id) if self.poll else state.next_due_at if state else None
            row["next_run"] = iso(nxt)
            rows.append(row)
        return rows


def _diff_sources(old: Config, new: Config) -> ReloadResult:
    """What a reload changes in the sources, for ``serve`` (which schedules none of them)."""
    before = {s.id: s for s in old.sources if s.enabled}
    after = {s.id: s for s in new.sources if s.enabled}
    return ReloadResult(
        added=[s for s in after if s not in before],
        removed=[s for s in before if s not in after],
        rescheduled=[s for s in after if s in before and before[s].schedule != after[s].schedule],
    )

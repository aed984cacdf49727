"""One deployment's syndication: its config, store, publisher and notifier wired together.

The commands (``once``, ``ingest``, ``publish``) and the service (``run``, ``serve``) share these
steps: a pass over the sources, publishing the regions that changed, announcing each published
change as a ``feed.updated`` event, and delivering pending notifications. Each step is one call;
nothing here parses, renders or talks SQL itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from syndicator.config import Config
from syndicator.errors import PublishError
from syndicator.fetch import Poster
from syndicator.ingest import (
    PUSH_SOURCE,
    FollowUp,
    OnceResult,
    PassResult,
    run_once,
)
from syndicator.model import Article
from syndicator.notify import Dispatcher, Round
from syndicator.publish import Publisher, PublishResult
from syndicator.store import ChangeSet, PendingChanges, Store

if TYPE_CHECKING:
    from syndicator.ingest import Batch


def open_store(config: Config) -> Store:
    """The configured store, created or upgraded as needed."""
    host = urlsplit(config.service.base_url).hostname or "syndicator.invalid"
    return Store(config.service.database, host=host, timeout=config.service.database_timeout)


@dataclass
class Outcome:
    """What a command did: passes, pushed results, what was published and announced."""

    once: OnceResult | None = None
    pushed: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    published: PublishResult | None = None
    publish_error: str | None = None
    announced: list[str] = field(default_factory=list)
    notified: Round | None = None


class Syndication:
    """The steps every command and process shares, over one config and store (``Service``
    and the scaled mode's roles hold one each; "app" is left to the ASGI application)."""

    def __init__(self, config: Config, store: Store | None = None) -> None:
        self.config = config
        self.store = store or open_store(config)
        self.publisher = Publisher(config, self.store)

    def close(self) -> None:
        self.store.close()

    async def once(
        self,
        source_ids: Sequence[str] = (),
        *,
        progress: Callable[[PassResult], None] | None = None,
    ) -> Outcome:
        """``syndicator once``: one pass over the sources, each source's changes published
        and announced as soon as it is stored (a slow source holds up no other's), then what
        is left to publish, then the notifications."""
        outcome = Outcome()
        waiting: set[str] = set()  # regions stored and not yet published
        wake = asyncio.Event()
        finished = False

        async def publisher() -> None:
            while True:
                await wake.wait()
                wake.clear()
                if waiting:
                    regions = set(waiting)
                    waiting.clear()
                    await asyncio.to_thread(self._publish_into, outcome, regions)
                if finished and not waiting:
                    return

        class Follow(FollowUp):
            """Each stored pass: heard of by ``progress``, its regions published at once."""

            async def report(self, result: PassResult) -> None:
                if progress is not None:
                    progress(result)

            async def request_publish(self, regions: set[str]) -> None:
                waiting.update(regions)
                wake.set()

        publishing = asyncio.ensure_future(publisher())
        try:
            outcome.once = await run_once(
                self.config, self.store, source_ids=source_ids, follow_up=Follow()
            )
        finally:
            finished = True
            wake.set()
            await publishing
        # What is left: regions with changes not yet announced, feed files missing.
        await asyncio.to_thread(self._publish_into, outcome, set())
        outcome.notified = await self.deliver()
        return outcome

    def _publish_into(self, outcome: Outcome, regions: set[str]) -> None:
        """Publish and announce (publish_changes), adding what was done to ``outcome``. A file
        that cannot be written is said in ``outcome.publish_error``: what was stored stays
        stored and is published by the next run; the events written with it are delivered."""
        step = Outcome()
        try:
            self.publish_changes(regions, step)
        except PublishError as e:
            outcome.publish_error = str(e)
        outcome.announced.extend(step.announced)
        if step.published is not None:
            before = outcome.published
            outcome.published = (
                step.published
                if before is None
                else PublishResult(
                    changed=tuple(dict.fromkeys((*before.changed, *step.published.changed))),
                    unchanged=tuple(dict.fromkeys((*before.unchanged, *step.published.unchanged))),
                    regions=tuple(dict.fromkeys((*before.regions, *step.published.regions))),
                    skipped=tuple(dict.fromkeys((*before.skipped, *step.published.skipped))),
                    seconds=before.seconds + step.published.seconds,
                )
            )

    def poster(self) -> Poster:
        service = self.config.service
        return Poster(
            user_agent=service.user_agent,
            allow_private=self.config.security.allow_private_targets,
        )

    def dispatcher(
        self, poster: Poster, on_delivery: Callable[[str, str], None] | None = None
    ) -> Dispatcher:
        """The notification dispatcher over this store (the one place it is built): it reads
        the config as it is at each round (a reload changes it)."""
        return Dispatcher(
            lambda: self.config,
            self.store,
            poster,
            feeds_dir=lambda: Path(self.config.service.feeds_dir),
            on_delivery=on_delivery,
        )

    async def deliver(self) -> Round:
        """Deliver the pending notifications once (what fails waits for the next run)."""
        poster = self.poster()
        try:
            return await self.dispatcher(poster).drain()
        finally:
            await poster.aclose()

    def publish_changes(
        self, regions: Iterable[str], outcome: Outcome | None = None, *, renderers: int = 0
    ) -> Outcome:
        """Re-render the regions that changed, those with stored changes not yet announced (a
        run stopped or failed between storing and publishing them) and any whose files are
        missing, then write one ``feed.updated`` event per region whose published entries
        changed. Raises PublishError when a file cannot be written (the old one stays).
        ``renderers``: processes that render a bulk load's new archive pages."""
        outcome = outcome or Outcome()
        # Taken before rendering: a change stored meanwhile (by a pass running beside us) is
        # announced after the publish that includes it, never before.
        pending = self.store.pending_changes()
        configured = {r.id for r in self.config.regions} | {"all"}
        unannounced = {p.region for p in pending} & configured
        wanted = set(regions) | unannounced | self.missing_regions()
        self.publisher.sweep()
        if wanted:
            wanted.add("all")
            outcome.published = self.publisher.publish(sorted(wanted), renderers=renderers)
        outcome.announced = self.announce(pending=pending)
        return outcome

    def missing_regions(self) -> set[str]:
        folder = Path(self.config.service.feeds_dir)
        ids = [r.id for r in self.config.regions] + ["all"]
        fmt = self.config.publish.formats[0] if self.config.publish.formats else "atom"
        return {r for r in ids if not (folder / f"{r}.{fmt}").exists()}

    def announce(
        self, now: datetime | None = None, *, pending: Sequence[PendingChanges] | None = None
    ) -> list[str]:
        """One ``feed.updated`` per region with unannounced changes (after it was published):
        the ``pending`` ones read before publishing, else all of them."""
        when = now or datetime.now(UTC)
        events = []
        base = self.config.service.base_url
        for change in self.store.pending_changes() if pending is None else pending:
            feed = {"region": change.region, "url": f"{base}/feeds/{change.region}.atom"}
            events.append(self.store.announce(change, when, feed))
        return events

    def ingest(
        self,
        batches: Iterable[tuple[str, Batch]],
        source_id: str = PUSH_SOURCE,
        *,
        now: datetime,
        stored: Callable[[str, Batch, ChangeSet], None] | None = None,
        renderers: int = 0,
    ) -> Outcome:
        """``syndicator ingest``: store pushed documents (HTML, feed, text dump, NDJSON of
        ARTICLE objects), as ``ingest.read_documents`` reads them at ``now``, as one source's
        pass, a batch at a time, one transaction each; then publish and announce (a file that
        cannot be written is said in ``outcome.publish_error``, as by ``once``). ``stored``
        hears of every batch (with its document's URL) once it is stored (its results are
        then not kept in the outcome: a document of any size takes bounded memory).
        ``renderers``: processes that render the archive pages a bulk load completes."""
        outcome = Outcome()
        regions: set[str] = set()
        done = 0  # articles stored: each gets its own instant, in document order
        for url, batch in batches:
            changes = ChangeSet()
            if batch.articles:
                at = now + timedelta(microseconds=done)
                changes = self.push(batch.articles, source_id=source_id, now=at)
                done += len(batch.articles)
            outcome.errors.extend(batch.errors)
            regions |= changes.feeds
            if stored is not None:
                stored(url, batch, changes)
            else:
                outcome.pushed.extend(
                    {"url": c.url, "id": c.entry_id, "change": c.change} for c in changes.changes
                )
        try:
            self.publish_changes(regions, outcome, renderers=renderers)
        except PublishError as e:  # what was stored stays stored: the next run publishes it
            outcome.publish_error = str(e)
        return outcome

    def push(
        self,
        articles: Sequence[Article],
        *,
        source_id: str = PUSH_SOURCE,
        now: datetime | None = None,
    ) -> ChangeSet:
        """Store articles that were pushed rather than fetched, in one transaction."""
        suppress = frozenset(r.id for r in self.config.regions if r.suppress_near_duplicates)
        return self.store.apply(
            source_id, articles, now=now or datetime.now(UTC), suppress=suppress
        )

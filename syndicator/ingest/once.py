"""`syndicator once`: one pass over every enabled (or every named) source, concurrently,
each stored as soon as it is done, in config order among those that finish together.

It does not publish or notify: the caller hears of each stored pass (``progress``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from syndicator import demo
from syndicator.config import Config, Source
from syndicator.fetch import (
    Fetcher,
)
from syndicator.ingest.commit import PassResult, Plan, Together
from syndicator.ingest.refresh import FollowUp, Turn, refresh_source
from syndicator.ingest.source_pass import SourcePass
from syndicator.store import Store

QUIET_BATCH = 200
PASSES_PER_REQUEST = 2  # passes fetching at a time, per request the fetcher lets be in flight
ORDER_GRACE = 2.0  # seconds a finished pass waits for the passes ranked before it to finish


def _commit_quiet(store: Store, quiet: list[tuple[SourcePass, Plan]]) -> list[PassResult]:
    """Passes that found nothing to store (not modified, failed) record how they went in one
    transaction, together: a few statements for the lot."""
    with store.transaction() as conn:
        together = Together(store.source_states_in(conn, [p.source.id for p, _ in quiet]))
        results = [p.commit(plan, conn, together=together) for p, plan in quiet]
        together.flush(store, conn)
        return results


@dataclass
class OnceResult:
    passes: list[PassResult]
    paused: list[str] = field(default_factory=list)  # sources left alone: paused by ops

    @property
    def regions(self) -> set[str]:
        return {r for p in self.passes for r in p.changes.feeds}

    @property
    def failed(self) -> list[PassResult]:
        return [p for p in self.passes if not p.ok]


def sources_due_for_rechecks(store: Store, sources: Sequence[Source], now: datetime) -> set[str]:
    """Which of these sources have pages due for a recheck: one query per distinct (recheck,
    recheck_window) setting, not one per source (``once`` over a thousand sources)."""
    groups: dict[tuple[float, float], set[str]] = {}
    for source in sources:
        if source.recheck is not None:
            groups.setdefault((source.recheck, source.recheck_window), set()).add(source.id)
    due: set[str] = set()
    for (every, window), ids in groups.items():
        found = store.sources_with_rechecks(
            now, window=timedelta(seconds=window), every=timedelta(seconds=every)
        )
        due |= found & ids
    return due


def make_fetcher(config: Config) -> Fetcher:
    service = config.service
    return Fetcher(
        user_agent=service.user_agent,
        timeout=service.timeout,
        max_bytes=service.max_bytes,
        concurrency=service.concurrency,
        per_host=service.per_host,
        respect_robots=service.respect_robots,
        mounts=demo.mounts(config),
    )


async def run_once(
    config: Config,
    store: Store,
    *,
    source_ids: Sequence[str] = (),
    now: datetime | None = None,
    fetcher: Fetcher | None = None,
    follow_up: FollowUp | None = None,
) -> OnceResult:
    """One pass over every enabled (or every named) source: each source's
    :func:`~syndicator.ingest.refresh.refresh_source`, many at once. Each is stored as soon as
    its pass is done, so a slow source holds up no other: ``follow_up`` hears of each stored
    pass at once (to publish it). Which copy of a story a feed links to never depends on who
    answered first: the passes are stored in config order (:class:`InConfigOrder`), and the
    store ranks sources in that order (a copy from a source that ranks first takes the entry
    over, same entry id). Sources paused by ops are left alone, named or not
    (``OnceResult.paused``)."""
    chosen = [s for s in config.sources if (s.id in source_ids if source_ids else s.enabled)]
    store.sync_sources((s.id, s.kind, s.url) for s in config.sources)
    paused = store.paused_sources()
    skipped = [s.id for s in chosen if s.id in paused]
    chosen = [s for s in chosen if s.id not in paused]
    own_fetcher = fetcher is None
    fetcher = fetcher or make_fetcher(config)
    try:
        when = now or datetime.now(UTC)
        listings = store.validators_of((s.id, s.url) for s in chosen)
        due = sources_due_for_rechecks(store, chosen, when)
        order = InConfigOrder(store, len(chosen))
        # As many passes fetch at a time as keep the fetcher's requests busy (a pass waiting
        # for its host's turn leaves room for others); the rest wait, in config order, and a
        # pass's deadline starts when it begins, so ten thousand sources behind a few dozen
        # slots do not time out in the queue.
        slots = asyncio.Semaphore(config.service.concurrency * PASSES_PER_REQUEST)
        storing = asyncio.ensure_future(order.run())
        passes = [
            asyncio.ensure_future(
                refresh_source(
                    source,
                    when,
                    config=config,
                    store=store,
                    fetcher=fetcher,
                    follow_up=follow_up or FollowUp(),
                    turn=order.turn(n),
                    recheck=source.id in due,
                    listing=listings.get((source.id, source.url)),
                    slot=slots,
                )
            )
            for n, source in enumerate(chosen)
        ]
        try:
            await storing
            results = list(await asyncio.gather(*passes))
        finally:
            for task in [storing, *passes]:
                task.cancel()
            await asyncio.gather(storing, *passes, return_exceptions=True)
    finally:
        if own_fetcher:
            await fetcher.aclose()
    return OnceResult(results, skipped)


@dataclass
class _Waiting:
    """A pass whose plan is done, waiting for its turn to be stored."""

    since: float  # event loop time
    source_pass: SourcePass
    plan: Plan
    stored: asyncio.Future[PassResult]  # set once it is stored
    followed: asyncio.Future[None]  # set once the steps after it are done


class InConfigOrder:
    """Turns in which the passes of a ``once`` are stored: in config order among those that
    finish together. A finished pass is stored once no pass ranked before it is still
    running, or once it has waited ORDER_GRACE for them; passes with nothing to store (not
    modified, failed) share one transaction. Each pass's steps after storing are done before
    the next pass is stored, so they are heard of in the order they were stored."""

    def __init__(self, store: Store, count: int) -> None:
        self.store = store
        self.count = count
        self.planning = set(range(count))
        self.waiting: dict[int, _Waiting] = {}
        self.arrived = asyncio.Event()

    def turn(self, n: int) -> Turn:
        """The turn of the ``n``-th pass in config order."""
        return functools.partial(self._stored, n)

    @contextlib.asynccontextmanager
    async def _stored(
        self, n: int, source_pass: SourcePass, plan: Plan
    ) -> AsyncIterator[PassResult]:
        loop = asyncio.get_running_loop()
        waiting = _Waiting(
            loop.time(), source_pass, plan, loop.create_future(), loop.create_future()
        )
        self.waiting[n] = waiting
        self.planning.discard(n)
        self.arrived.set()
        result = await waiting.stored
        try:
            yield result
        except BaseException as e:
            if isinstance(e, Exception):
                waiting.followed.set_exception(e)
            else:
                waiting.followed.cancel()
            raise
        waiting.followed.set_result(None)

    async def run(self) -> None:
        """Store the passes as their turns come, until every pass is stored."""
        loop = asyncio.get_running_loop()
        while self.planning or self.waiting:
            first_running = min(self.planning, default=self.count)
            now = loop.time()
            due = [
                n
                for n in sorted(self.waiting)
                if n < first_running or now - self.waiting[n].since >= ORDER_GRACE
            ]
            if not due:
                self.arrived.clear()
                waits = [w.since + ORDER_GRACE - now for w in self.waiting.values()]
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self.arrived.wait(), timeout=max(0.0, min(waits)) if waits else None
                    )
                continue
            quiet = [n for n in due if not self.waiting[n].plan.articles]
            for start in range(0, len(quiet), QUIET_BATCH):
                batch = quiet[start : start + QUIET_BATCH]
                plans = [(self.waiting[n].source_pass, self.waiting[n].plan) for n in batch]
                results = await asyncio.to_thread(_commit_quiet, self.store, plans)
                for n, result in zip(batch, results, strict=True):
                    await self._hand(n, result)
            for n in due:
                if n in self.waiting:
                    one = self.waiting[n]
                    await self._hand(n, await asyncio.to_thread(one.source_pass.commit, one.plan))

    async def _hand(self, n: int, result: PassResult) -> None:
        """Give a stored pass its result, and wait for the steps after it."""
        waiting = self.waiting.pop(n)
        waiting.stored.set_result(result)
        await waiting.followed

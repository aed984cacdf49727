"""`syndicator once`: one pass over every enabled (or every named) source, concurrently,
each stored as soon as it is done, in config order among those that finish together.

It does not publish or notify: the caller hears of each stored pass (``progress``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from syndicator import demo
from syndicator.config import Config, Source
from syndicator.fetch import (
    Fetcher,
)
from syndicator.ingest.source_pass import PassResult, Plan, SourcePass, Together
from syndicator.store import Store

QUIET_BATCH = 200
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
    progress: Callable[[PassResult], Awaitable[None] | None] | None = None,
) -> OnceResult:
    """One pass over every enabled (or every named) source. Sources are fetched concurrently
    and each is stored as soon as its pass is done, so a slow source holds up no other:
    ``progress`` hears of each stored pass at once (to publish it). Which copy of a story a
    feed links to never depends on who answered first: the store ranks sources in config order
    (a copy from a source that ranks first takes the entry over, same entry id). Passes that
    found nothing to store (not modified, failed) and finish together share one transaction.
    Sources paused by ops are left alone, named or not (``OnceResult.paused``)."""
    chosen = [s for s in config.sources if (s.id in source_ids if source_ids else s.enabled)]
    store.sync_sources((s.id, s.kind, s.url) for s in config.sources)
    paused = store.paused_sources()
    skipped = [s.id for s in chosen if s.id in paused]
    chosen = [s for s in chosen if s.id not in paused]
    own_fetcher = fetcher is None
    fetcher = fetcher or make_fetcher(config)
    try:
        when = now or datetime.now(UTC)
        passes = [
            SourcePass(s, config=config, store=store, fetcher=fetcher, now=when) for s in chosen
        ]
        listings = store.validators_of((s.id, s.url) for s in chosen)
        due = sources_due_for_rechecks(store, chosen, when)
        for source_pass in passes:
            source = source_pass.source
            if (source.id, source.url) in listings:
                source_pass.known_validators = {source.url: listings[(source.id, source.url)]}
            source_pass.recheck = source_pass.source.id in due
        tasks = {asyncio.ensure_future(p.plan()): n for n, p in enumerate(passes)}
        results: list[PassResult] = []
        loop = asyncio.get_running_loop()
        ready: dict[int, tuple[float, Plan]] = {}  # finished, not stored: when, plan

        async def store_ready(running: set[asyncio.Task[Plan]]) -> None:
            """Store, in config order, each finished pass that no pass ranked before it is
            still running for, or that has waited ORDER_GRACE for them; the quiet ones
            (nothing to store) together."""
            first_running = min((tasks[t] for t in running), default=len(passes))
            now_ = loop.time()
            due = [
                n for n in sorted(ready) if n < first_running or now_ - ready[n][0] >= ORDER_GRACE
            ]
            quiet = [n for n in due if not ready[n][1].articles]
            for start in range(0, len(quiet), QUIET_BATCH):
                batch = quiet[start : start + QUIET_BATCH]
                plans = [(passes[n], ready.pop(n)[1]) for n in batch]
                for result in await asyncio.to_thread(_commit_quiet, store, plans):
                    await report(result)
            for n in due:
                if n in ready:
                    await report(await asyncio.to_thread(passes[n].commit, ready.pop(n)[1]))

        async def report(result: PassResult) -> None:
            results.append(result)
            if progress is not None:
                reply = progress(result)
                if reply is not None:
                    await reply

        pending = set(tasks)
        try:
            while pending or ready:
                waits = [when + ORDER_GRACE - loop.time() for when, _ in ready.values()]
                if pending:
                    finished, pending = await asyncio.wait(
                        pending,
                        timeout=max(0.0, min(waits)) if waits else None,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    for task in finished:
                        ready[tasks[task]] = (loop.time(), task.result())
                await store_ready(pending)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        if own_fetcher:
            await fetcher.aclose()
    rank = {s.id: n for n, s in enumerate(chosen)}
    results.sort(key=lambda r: rank[r.source_id])
    return OnceResult(results, skipped)

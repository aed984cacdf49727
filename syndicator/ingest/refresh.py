"""A source's whole refresh, top to bottom: plan → fetch → read → decide → store → health →
back-off → publish request → wake the dispatcher.

:func:`refresh_source` is the one pass every process runs: ``run`` (a scheduled source, "fetch
now", the first passes), ``once`` and the scaled mode's workers. What differs between them is
said by the caller, never written again here: the :class:`FollowUp` (where a failed source's
next try is scheduled, who hears of the pass, how publishing is requested, how the notification
dispatcher is woken) and the turn in which the pass is stored (alone, or in config order with
the passes that finish beside it: :mod:`.once`).

It does not publish, deliver or schedule anything itself: the follow-up does, in the caller's
own way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta

from syndicator import health
from syndicator.config import Config, Source, format_duration
from syndicator.errors import SyndicatorError
from syndicator.fetch import Fetcher
from syndicator.ingest.commit import PassResult, Plan
from syndicator.ingest.source_pass import SourcePass
from syndicator.store import SourceState, Store

log = logging.getLogger("syndicator")

# How a pass is stored: given the pass and what it found, an async context whose value is the
# stored result; the steps after the pass run inside it (so passes stored in order are also
# followed up in that order).
Turn = Callable[[SourcePass, Plan], AbstractAsyncContextManager[PassResult]]


class FollowUp:
    """What the process that ran a pass does after it. The steps and their order are
    :func:`after_pass`'s; each method says what its step means in this process. This base
    does nothing: ``once`` schedules no retry and wakes no dispatcher (it delivers at its end)."""

    #: whether this process schedules a failed source's next try (``once`` does not)
    retries = False

    async def retry(self, source: Source, at: datetime) -> None:
        """Schedule the next pass of a source that failed: not before ``at``."""

    async def report(self, result: PassResult) -> None:
        """The pass is stored: count it, log it, show it."""

    async def request_publish(self, regions: set[str]) -> None:
        """These regions changed: publish them (soon)."""

    async def wake(self) -> None:
        """The pass wrote events to the outbox: wake the notification dispatcher."""


@contextlib.asynccontextmanager
async def stored_alone(source_pass: SourcePass, plan: Plan) -> AsyncIterator[PassResult]:
    """A pass stored in a transaction of its own, off the event loop."""
    yield await asyncio.to_thread(source_pass.commit, plan)


async def refresh_source(
    source: Source,
    now: datetime,
    *,
    config: Config,
    store: Store,
    fetcher: Fetcher,
    follow_up: FollowUp,
    turn: Turn = stored_alone,
    recheck: bool = True,
    listing: tuple[str | None, str | None] | None = None,
    slot: AbstractAsyncContextManager[object] | None = None,
) -> PassResult:
    """One source's whole pass, begun at ``now``.

    ``recheck``: look for stored pages due for a recheck (``once`` knows which sources have
    none); ``listing``: the listing's stored validators, when the caller read them already;
    ``slot``: held while the pass fetches and reads (``once`` bounds how many do so at a time,
    so that a pass's ``pass_timeout`` starts when it gets its slot, not while it queues)."""
    # Plan: where this source's fetches may go, and what is known of its listing.
    source_pass = SourcePass(source, config=config, store=store, fetcher=fetcher, now=now)
    source_pass.recheck = recheck
    if listing is not None:
        source_pass.known_validators = {source.url: listing}
    # Fetch → read → decide: the listing (conditional GET), the pages not yet known or due for
    # a recheck, each read by the pure core (extract, normalize, fingerprint, route).
    async with slot or contextlib.nullcontext():
        plan = await source_pass.plan()
    # Store → health: one transaction writes the articles, the outbox events, the fetch log
    # and the source's health verdict.
    async with turn(source_pass, plan) as result:
        # After the pass: back-off, report, publish request, wake the dispatcher.
        await after_pass(source, result, now, store=store, follow_up=follow_up)
    return result


async def after_pass(
    source: Source, result: PassResult, now: datetime, *, store: Store, follow_up: FollowUp
) -> None:
    """The steps after a stored pass, in every process: a failed source's next try waits
    longer with each failure in a row (at least the server's Retry-After); the pass is
    reported; the regions it changed are published; the dispatcher is woken for its events."""
    if not result.ok and follow_up.retries:
        state = await source_state(store, source.id)
        failures = state.failures if state else 1
        delay = health.pass_backoff(source.every or 3600, failures, result.retry_after)
        await follow_up.retry(source, now + timedelta(seconds=delay))
        log.warning(
            "source %s failed (%s); retry in %s", source.id, result.error, format_duration(delay)
        )
    await follow_up.report(result)
    if result.changes.feeds:
        await follow_up.request_publish(set(result.changes.feeds))
    if result.changes.changed or result.event:
        await follow_up.wake()


async def source_state(store: Store, source_id: str) -> SourceState | None:
    """A source's stored state, or None when the store cannot say right now."""
    try:
        return await asyncio.to_thread(store.source_state, source_id)
    except SyndicatorError as e:
        log.warning("source %s: its state cannot be read: %s", source_id, e)
        return None

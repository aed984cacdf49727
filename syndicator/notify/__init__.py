"""The outbox dispatcher: every change event, delivered at least once to everyone who cares.

Events are written to the outbox by the store, in the transaction of the change. The dispatcher
*fans out* each new event into one delivery per target — configured webhooks and apprise
targets (filtered by event type and region), external WebSub hubs to ping, and subscribers of our
built-in hub — and moves its cursor in the same transaction, so a crash neither loses nor
duplicates a fan-out. It then *delivers*: per target, oldest first (one target's events arrive in
order; a failing target holds back only itself), retrying with exponential backoff and jitter,
dead-lettering after the target's ``max_attempts``. The delivery id (the event id) is the same on
every retry. Everything it needs to resume lives in the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from syndicator.config import Config, Notify
from syndicator.errors import FetchError, NotifyError, StoreError
from syndicator.fetch import Poster
from syndicator.notify import apprise, webhooks, websub
from syndicator.store import Delivery, OutboxEvent, Store

log = logging.getLogger("syndicator.notify")

DEFAULT_ATTEMPTS = 8
BASE_DELAY = 2.0
MAX_DELAY = 3600.0
STORE_PAUSE = 1.0  # seconds the loop waits after the store failed, doubled each time …
STORE_PAUSE_CAP = 60.0  # … up to a minute
FEED_TYPES = {
    "atom": "application/atom+xml",
    "rss": "application/rss+xml",
    "json": "application/feed+json",
}


def delivery_delay(attempts: int, rng: random.Random, base: float = BASE_DELAY) -> float:
    """Seconds before the next try after ``attempts`` failed ones: 2, 4, 8 … s (±25 %), ≤ 1 h."""
    delay = min(MAX_DELAY, base * 2 ** max(0, attempts - 1))
    return float(delay * rng.uniform(0.75, 1.25))


def topics_of(config: Config, region: str) -> list[str]:
    base = config.service.base_url
    return [f"{base}/feeds/{region}.{fmt}" for fmt in config.publish.formats]


def all_topics(config: Config) -> set[str]:
    regions = [r.id for r in config.regions] + ["all"]
    return {t for r in regions for t in topics_of(config, r)}


def hub_url(config: Config) -> str:
    return f"{config.service.base_url}/hub"


def wants(target: Notify, event: OutboxEvent) -> bool:
    if event.type not in target.events:
        return False
    if not target.regions or "all" in target.regions:
        return True
    if not event.regions:  # source events concern no region: for unfiltered targets only
        return False
    return bool(set(event.regions) & set(target.regions))


@dataclass
class Round:
    fanned_out: int = 0
    attempted: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0


class Dispatcher:
    """Fans out and delivers. ``config`` is read on every round, so a reload takes effect."""

    def __init__(
        self,
        config: Callable[[], Config],
        store: Store,
        poster: Poster,
        *,
        feeds_dir: Callable[[], Path],
        on_delivery: Callable[[str, str], None] | None = None,
        rng: random.Random | None = None,
        base_delay: float = BASE_DELAY,
    ) -> None:
        self.config = config
        self.store = store
        self.poster = poster
        self.feeds_dir = feeds_dir
        self.on_delivery = on_delivery
        self.rng = rng or random.Random()
        self.base_delay = base_delay
        self.wake = asyncio.Event()

    # -- fan-out ---------------------------------------------------------------------------

    def targets(self, event: OutboxEvent, now: datetime) -> list[str]:
        cfg = self.config()
        out = [f"notify:{t.id}" for t in cfg.notify if wants(t, event)]
        if event.type == "feed.updated":
            out += [f"hub:{hub}" for hub in cfg.publish.hubs]
            if cfg.publish.builtin_hub:
                topics = [t for r in event.regions for t in topics_of(cfg, r)]
                out += [f"websub:{s.id}" for s in self.store.subscribers(topics, now)]
        return out

    def fan_out(self, now: datetime | None = None) -> int:
        """Record a delivery for each target of each event not fanned out yet; returns how
        many. Only notify targets take events other than ``feed.updated`` (hubs and WebSub
        subscribers take that one): with none configured, the others (a bulk load's thousands
        of article events) are passed over unread."""
        now = now or datetime.now(UTC)
        only = None if self.config().notify else ("feed.updated",)
        upto = self.store.newest_event() if only else None
        total = 0
        while True:
            events = self.store.events_after(self.store.outbox_cursor(), types=only, upto=upto)
            if not events:
                if upto:
                    self.store.pass_over_events(upto)
                return total
            items = [(e, target) for e in events for target in self.targets(e, now)]
            self.store.enqueue(events[-1].seq, items, now)
            total += len(items)

    # -- delivery --------------------------------------------------------------------------

    async def deliver_due(self, now: datetime | None = None) -> Round:
        """One attempt for the due head delivery of each target, concurrently across targets."""
        now = now or datetime.now(UTC)
        result = Round(fanned_out=await asyncio.to_thread(self.fan_out, now))
        due = await asyncio.to_thread(self.store.due_deliveries, now)
        outcomes = await asyncio.gather(*(self._attempt(d) for d in due))
        for outcome in outcomes:
            result.attempted += 1
            setattr(result, outcome, getattr(result, outcome) + 1)
        return result

    async def drain(self, *, rounds: int = 20) -> Round:
        """Deliver everything due now, target after target, without waiting for retries
        (``syndicator once``): what fails is retried by the next run."""
        total = Round()
        for _ in range(rounds):
            r = await self.deliver_due()
            total.fanned_out += r.fanned_out
            total.attempted += r.attempted
            total.delivered += r.delivered
            total.failed += r.failed
            total.dead += r.dead
            if r.attempted == 0 or r.delivered == 0:
                break
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """The service's loop: deliver, then sleep until the next retry or a wake-up. While
        the store fails, it waits longer after each failure (1 s doubling up to a minute)
        and tries again: what was not recorded as delivered is delivered again (at least
        once), and nothing waiting in the outbox is lost."""
        failures = 0
        while not stop.is_set():
            # Cleared before the round, not after it: a wake-up during the round (a push, a
            # publish) starts the next one at once instead of waiting for the timeout.
            self.wake.clear()
            try:
                attempted = (await self.deliver_due()).attempted
                next_at = (
                    None if attempted else await asyncio.to_thread(self.store.next_delivery_at)
                )
            except StoreError as e:
                failures += 1
                pause = min(STORE_PAUSE_CAP, STORE_PAUSE * 2 ** (failures - 1))
                log.error("notifications: %s; trying again in %.0f s", e, pause)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=pause)
                continue
            if failures:
                log.info("notifications: the store answers again")
                failures = 0
            if attempted:
                continue  # a round sends one delivery per target: the next may be due already
            wait = 1.0
            if next_at is not None:
                wait = max(0.05, min(wait, (next_at - datetime.now(UTC)).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=wait)

    async def _attempt(self, delivery: Delivery) -> str:
        cfg = self.config()
        max_attempts = DEFAULT_ATTEMPTS
        try:
            kind, _, ref = delivery.target.partition(":")
            if kind == "notify":
                target = next((t for t in cfg.notify if t.id == ref), None)
                if target is None:
                    raise _Gone("the target is no longer configured")
                max_attempts = target.max_attempts
                await self._notify(target, delivery)
            elif kind == "hub":
                event = json.loads(delivery.body)
                region = str((event.get("feed") or {}).get("region") or "all")
                await websub.ping(self.poster, ref, topics_of(cfg, region))
            elif kind == "websub":
                await self._distribute(cfg, int(ref))
            else:
                raise _Gone(f"unknown target kind {kind!r}")
        except (NotifyError, FetchError, _Gone) as e:
            return await self._failed(delivery, str(e), max_attempts, gone=isinstance(e, _Gone))
        except StoreError:
            raise  # the store is down: the round stops, the loop logs it and goes on
        except Exception as e:  # anything else fails this delivery alone, never the dispatcher
            log.debug("notification %s to %s", delivery.event_id, delivery.target, exc_info=True)
            return await self._failed(
                delivery, f"{type(e).__name__}: {e}", max_attempts, gone=False
            )
        await asyncio.to_thread(self.store.delivered, delivery.id, datetime.now(UTC))
        self._count(delivery.target, "delivered")
        return "delivered"

    async def _notify(self, target: Notify, delivery: Delivery) -> None:
        if target.kind == "webhook":
            assert target.url is not None
            await webhooks.send(
                self.poster,
                target.url,
                delivery.type,
                delivery.event_id,
                delivery.body.encode("utf-8"),
                target.secret,
                time.time(),
            )
        else:
            await apprise.send(target.apprise_urls, json.loads(delivery.body))

    async def _distribute(self, cfg: Config, subscription_id: int) -> None:
        sub = await asyncio.to_thread(self.store.subscription, subscription_id)
        if sub is None or sub.expires_at <= datetime.now(UTC):
            raise _Gone("the subscription has ended")
        name = sub.topic.rsplit("/feeds/", 1)[-1]
        path = self.feeds_dir() / name
        try:
            body = await asyncio.to_thread(path.read_bytes)
        except OSError as e:
            raise NotifyError(f"cannot read {name}: {e.strerror}") from e
        content_type = FEED_TYPES.get(path.suffix.lstrip("."), "application/octet-stream")
        try:
            await websub.distribute(
                self.poster, sub.callback, sub.topic, hub_url(cfg), body, content_type, sub.secret
            )
        except websub.SubscriptionGone as e:  # the subscriber deleted it: no retries, no more
            await asyncio.to_thread(self.store.unsubscribe, sub.topic, sub.callback)
            raise _Gone(str(e)) from e

    async def _failed(
        self, delivery: Delivery, error: str, max_attempts: int, *, gone: bool
    ) -> str:
        attempts = delivery.attempts + 1
        if gone or attempts >= max_attempts:
            await asyncio.to_thread(self.store.failed, delivery.id, error, None)
            log.error(
                "notification %s to %s dead after %d attempts: %s",
                delivery.event_id,
                delivery.target,
                attempts,
                error,
            )
            self._count(delivery.target, "dead")
            return "dead"
        retry_at = datetime.now(UTC) + timedelta(
            seconds=delivery_delay(attempts, self.rng, self.base_delay)
        )
        await asyncio.to_thread(self.store.failed, delivery.id, error, retry_at)
        log.warning(
            "notification %s to %s failed (attempt %d): %s",
            delivery.event_id,
            delivery.target,
            attempts,
            error,
        )
        self._count(delivery.target, "retry")
        return "failed"

    def _count(self, target: str, outcome: str) -> None:
        if self.on_delivery is not None:
            self.on_delivery(target, outcome)


class _Gone(Exception):
    """The delivery can never succeed (its target or subscription is gone)."""


def summary(store: Store) -> list[dict[str, Any]]:
    return store.delivery_summary()

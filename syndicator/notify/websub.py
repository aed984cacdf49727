"""WebSub (W3C Recommendation): pinging external hubs as a publisher, and our built-in hub.

Publisher: on every change of a region, each configured hub gets ``hub.mode=publish`` with both
``hub.url`` and ``hub.topic`` for each of the region's feed URLs (hubs differ in which they read).

Hub (``POST /hub``): subscribe and unsubscribe requests for our own feeds are answered 202 and
then verified asynchronously (intent verification: the callback must echo ``hub.challenge``).
Requests for one (topic, callback) take effect in the order they arrived: the latest wins, and
an older one still verifying is given up (its verification cancelled), so a slow answer to an
earlier subscribe can never undo a later unsubscribe. A verified request is written to the
store with retries if the store fails for a moment;
the verification request is the callback URL with our parameters appended to its own query
string, which is kept as it is. Leases have a default, a minimum and a maximum, and run from the
verification request; ``hub.secret`` makes distributions signed with ``X-Hub-Signature:
sha256=…``. Callbacks that resolve to private or loopback addresses are refused unless
``[security] allow_private_targets``. Content distribution itself is a delivery like any other
(see the dispatcher): the new feed body, with ``Link`` headers to hub and self; a subscriber that
answers 410 Gone has ended its subscription.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit, urlunsplit

from syndicator.errors import FetchError, NotifyError, StoreError
from syndicator.fetch import Poster
from syndicator.normalize import external_url
from syndicator.store import Store

log = logging.getLogger("syndicator.websub")

DEFAULT_LEASE = 10 * 86400
MIN_LEASE = 3600
MAX_LEASE = 30 * 86400
MAX_SECRET = 199  # "less than 200 bytes"
# Bounds on what subscribe and unsubscribe requests can make the hub hold. Verifications under
# way share the notifier's HTTP client (100 connections), so they are kept well under that.
MAX_PENDING_VERIFICATIONS = 64
MAX_PENDING_PER_HOST = 8  # one callback host cannot take every verification slot
VERIFY_TIMEOUT = 15.0  # seconds for the whole verification request, however the callback drips
SETTLE_TIMEOUT = 5.0  # seconds shutdown waits for verifications before it gives them up
MAX_SUBSCRIPTIONS = 10_000
RETRY_AFTER = 15  # seconds a refused subscriber is told to wait (about one verification timeout)
STORE_RETRIES = (0.5, 1.0, 2.0, 4.0, 8.0)  # seconds between tries of a verified request's write


def hub_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verification_url(callback: str, params: Mapping[str, str]) -> str:
    """The callback URL with ``params`` appended after its own query string, which is kept
    byte for byte (WebSub 5.1: the hub preserves the query string and appends to its end)."""
    parts = urlsplit(callback)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


def _canonical(url: str) -> str:
    """A topic as sent, in the form our own feed URLs are written in ("" if not a URL)."""
    try:
        return external_url(url)
    except ValueError:
        return ""


class SubscriptionGone(NotifyError):
    """The subscriber answered 410 Gone: it has deleted the subscription (WebSub 7)."""


async def ping(poster: Poster, hub: str, topics: list[str]) -> None:
    """Tell an external hub that these topics changed."""
    for topic in topics:
        body = urlencode({"hub.mode": "publish", "hub.url": topic, "hub.topic": topic}).encode()
        answer = await poster.post(hub, body, {"Content-Type": "application/x-www-form-urlencoded"})
        if not 200 <= answer.status < 300:
            raise NotifyError(f"hub {hub} answered HTTP {answer.status} for {topic}")


async def distribute(
    poster: Poster,
    callback: str,
    topic: str,
    hub_url: str,
    body: bytes,
    content_type: str,
    secret: str | None,
) -> None:
    """Send a subscriber the topic's new content (authenticated when it gave a secret)."""
    headers = {
        "Content-Type": content_type,
        "Link": f'<{hub_url}>; rel="hub", <{topic}>; rel="self"',
    }
    if secret:
        headers["X-Hub-Signature"] = hub_signature(secret, body)
    answer = await poster.post(callback, body, headers)
    if answer.status == 410:
        raise SubscriptionGone(f"subscriber {callback} answered 410 Gone")
    if not 200 <= answer.status < 300:
        raise NotifyError(f"subscriber {callback} answered HTTP {answer.status}")


@dataclass(frozen=True, slots=True)
class HubAnswer:
    status: int
    text: str
    retry_after: int | None = None  # seconds, with a 429


class Hub:
    """The built-in hub. ``topics()`` gives the feed URLs it serves (they change on reload)."""

    def __init__(
        self,
        store: Store,
        poster: Poster,
        topics: Callable[[], set[str]],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.poster = poster
        self.topics = topics
        self.clock = clock
        self._pending: set[asyncio.Task[None]] = set()
        self._reserved = 0  # requests past the checks whose verification is about to start
        self._hosts: Counter[str] = Counter()  # callback host → its verifications held
        # Per (topic, callback): the number of the newest request, the task of a request still
        # verifying (a newer one cancels it), and a lock that applies verified ones in turn.
        self._newest: dict[tuple[str, str], int] = {}
        self._verifying: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._applying: dict[tuple[str, str], asyncio.Lock] = {}

    async def handle(self, form: Mapping[str, str]) -> HubAnswer:
        """A POST to /hub (already form-decoded)."""
        mode = form.get("hub.mode", "")
        if mode in ("subscribe", "unsubscribe"):
            return await self._subscription(mode, form)
        if mode == "publish":
            url = self._topic(form.get("hub.url") or form.get("hub.topic") or "")
            if url is None:
                return HubAnswer(400, "hub.url is not a topic of this hub")
            return HubAnswer(202, "accepted: subscribers get every change as it is published")
        return HubAnswer(400, "hub.mode must be subscribe, unsubscribe or publish")

    async def _subscription(self, mode: str, form: Mapping[str, str]) -> HubAnswer:
        try:
            # Checked and stored in one canonical form: what is verified, stored, called and
            # logged is the same string, with no control character or space in it.
            callback = external_url(form.get("hub.callback", ""))
        except ValueError as e:
            return HubAnswer(400, f"hub.callback must be an absolute http(s) URL: {e}")
        topic = self._topic(form.get("hub.topic", ""))
        if topic is None:
            return HubAnswer(400, "hub.topic is not a feed of this hub")
        secret = form.get("hub.secret") or None
        if secret is not None and len(secret.encode("utf-8")) > MAX_SECRET:
            return HubAnswer(400, "hub.secret must be shorter than 200 bytes")
        parts = urlsplit(callback)
        lease = DEFAULT_LEASE
        if mode == "subscribe":  # an unsubscription's lease is ignored (WebSub 5.1)
            try:
                requested = int(form.get("hub.lease_seconds") or DEFAULT_LEASE)
            except ValueError:
                return HubAnswer(400, "hub.lease_seconds must be a number of seconds")
            lease = max(MIN_LEASE, min(MAX_LEASE, requested))
        host = parts.hostname or ""
        if len(self._pending) + self._reserved >= MAX_PENDING_VERIFICATIONS:
            return HubAnswer(
                429, "too many subscription requests waiting; retry later", RETRY_AFTER
            )
        if self._hosts[host] >= MAX_PENDING_PER_HOST:
            return HubAnswer(
                429, "too many verifications under way for this callback host", RETRY_AFTER
            )
        # The slot is held across the store query, so that concurrent requests cannot pass
        # the checks above together.
        self._hosts[host] += 1
        self._reserved += 1
        try:
            if mode == "subscribe":
                count = await asyncio.to_thread(self.store.count_subscriptions)
                if count >= MAX_SUBSCRIPTIONS:
                    self._release(host)
                    return HubAnswer(429, "this hub has all the subscriptions it can take")
            key = (topic, callback)
            number = self._newest[key] = self._newest.get(key, 0) + 1
            older = self._verifying.get(key)
            if older is not None:
                older.cancel()  # superseded while still verifying: the newer one decides
            task = asyncio.ensure_future(self._verify(mode, topic, callback, lease, secret, number))
            self._verifying[key] = task
        except BaseException:
            self._release(host)
            raise
        finally:
            self._reserved -= 1
        self._pending.add(task)

        def done(task: asyncio.Task[None]) -> None:
            self._pending.discard(task)
            self._release(host)
            if self._verifying.get(key) is task:
                del self._verifying[key]
            if self._newest.get(key) == number:  # no newer request: forget the key
                del self._newest[key]
                lock = self._applying.get(key)
                if lock is not None and not lock.locked():
                    del self._applying[key]

        task.add_done_callback(done)
        return HubAnswer(202, "accepted: the callback will be asked to confirm")

    def _topic(self, given: str) -> str | None:
        """The feed of ours a topic names (as our config spells it), however the subscriber
        spelled it (case of the host, a default port), or None."""
        wanted = _canonical(given)
        if not wanted:
            return None
        for topic in self.topics():
            if topic == given or _canonical(topic) == wanted:
                return topic
        return None

    def _release(self, host: str) -> None:
        self._hosts[host] -= 1
        if self._hosts[host] <= 0:
            del self._hosts[host]

    async def _verify(
        self, mode: str, topic: str, callback: str, lease: int, secret: str | None, number: int
    ) -> None:
        key = (topic, callback)
        try:
            verified, asked_at = await self._ask(mode, topic, callback, lease)
        except asyncio.CancelledError:
            if self._newest.get(key, number) != number:
                log.info("websub %s to %s superseded by a newer request", mode, callback)
                return
            raise
        if self._verifying.get(key) is asyncio.current_task():
            del self._verifying[key]  # verified: from here on a newer request waits its turn
        if not verified:
            return
        async with self._applying.setdefault(key, asyncio.Lock()):
            for delay in (*STORE_RETRIES, None):
                if self._newest.get(key) != number:
                    log.info("websub %s to %s superseded by a newer request", mode, callback)
                    return
                try:
                    if mode == "subscribe":
                        await asyncio.to_thread(
                            self.store.subscribe, topic, callback, secret, lease, asked_at
                        )
                    else:
                        await asyncio.to_thread(self.store.unsubscribe, topic, callback)
                    break
                except StoreError as e:
                    if delay is None:
                        log.error("websub %s to %s verified but not stored: %s", mode, callback, e)
                        return
                    log.warning(
                        "websub %s to %s: the store failed (%s); retrying", mode, callback, e
                    )
                    await asyncio.sleep(delay)
        log.info("websub %s verified: %s → %s", mode, topic, callback)

    async def _ask(self, mode: str, topic: str, callback: str, lease: int) -> tuple[bool, datetime]:
        """Intent verification: did the subscriber confirm, and when was it asked."""
        challenge = secrets.token_urlsafe(24)
        params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": challenge}
        if mode == "subscribe":
            params["hub.lease_seconds"] = str(lease)
        asked_at = self.clock()  # the lease runs from the verification request (WebSub 5.3)
        try:
            async with asyncio.timeout(VERIFY_TIMEOUT):
                # Not poster.get(callback, params): httpx would drop the callback's own query.
                answer = await self.poster._send("GET", verification_url(callback, params))
        except FetchError as e:
            log.warning("websub %s to %s not verified: %s", mode, callback, e.reason)
            return False, asked_at
        except TimeoutError:
            log.warning(
                "websub %s to %s not verified: no answer within %.0f s",
                mode,
                callback,
                VERIFY_TIMEOUT,
            )
            return False, asked_at
        except Exception as e:  # whatever one verification meets, it fails alone
            log.warning("websub %s to %s not verified: %s: %s", mode, callback, type(e).__name__, e)
            return False, asked_at
        if not 200 <= answer.status < 300 or answer.body.decode("utf-8", "replace") != challenge:
            log.info(
                "websub %s to %s refused by the subscriber (HTTP %s)", mode, callback, answer.status
            )
            return False, asked_at
        return True, asked_at

    async def settle(self, timeout: float = SETTLE_TIMEOUT) -> None:
        """Wait for the verifications under way (tests, shutdown), at most ``timeout`` seconds;
        those still waiting then are given up (their subscribers did not get a verification and
        will ask again, as WebSub subscribers do)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._pending:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            await asyncio.wait(list(self._pending), timeout=left)
        if self._pending:
            log.warning("websub: %d verification(s) given up at shutdown", len(self._pending))
            for task in list(self._pending):
                task.cancel()
            await asyncio.gather(*list(self._pending), return_exceptions=True)

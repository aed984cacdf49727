"""Notifications: signed webhooks through the outbox, retries with the same delivery id, per-target
order, dead letters, private-address refusal, WebSub pings and distribution, apprise alerts.

The targets are the project's receiver (``tests/receiver.py``) on loopback; the store is a real
SQLite file.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from support.records import NOW, SECRET, article, deliver_all, dispatcher_for, load_config
from support.sites import Receiver, SlowSubscriber, run_receiver

from syndicator import config
from syndicator.fetch import PRIVATE_REFUSED, Poster
from syndicator.notify import apprise as alerts
from syndicator.notify import delivery_delay, topics_of, wants
from syndicator.notify.webhooks import signature, verify
from syndicator.notify.websub import Hub, hub_signature
from syndicator.store import OutboxEvent, Store


def test_signature_is_hmac_of_timestamp_dot_body() -> None:
    body = b'{"id":"x"}'
    expected = hmac.new(SECRET.encode(), b"1770000000." + body, hashlib.sha256).hexdigest()
    assert signature(SECRET, "1770000000", body) == f"sha256={expected}"
    assert verify(SECRET, "1770000000", body, f"sha256={expected}")
    assert not verify(SECRET, "1770000001", body, f"sha256={expected}")


def test_delivery_delays_grow_and_are_capped() -> None:
    rng = random.Random(1)
    delays = [delivery_delay(n, rng) for n in range(1, 20)]
    assert 1.5 <= delays[0] <= 2.5 and 3 <= delays[1] <= 5
    assert max(delays) <= 3600 * 1.25


def test_targets_filter_by_type_and_region(tmp_path: Path) -> None:
    cfg = load_config(tmp_path, 'regions = ["europe"]\nevents = ["article.created"]')
    target = cfg.notify[0]
    created = OutboxEvent(1, "e1", "article.created", ("europe",), "{}")
    assert wants(target, created)
    assert not wants(target, OutboxEvent(2, "e2", "article.created", ("asia",), "{}"))
    assert not wants(target, OutboxEvent(3, "e3", "article.updated", ("europe",), "{}"))
    assert not wants(target, OutboxEvent(4, "e4", "source.failing", (), "{}"))


def test_apprise_messages_read_well() -> None:
    title, body = alerts.message(
        {
            "type": "source.failing",
            "source": {
                "id": "wire",
                "reason": "its own document could not be fetched",
                "last_error": "HTTP 500",
                "failures": 3,
                "url": "https://n.example/feed",
            },
        }
    )
    assert title == "syndicator: source wire is failing"
    assert "HTTP 500" in body and "3" in body


# --------------------------------------------------------------------------------------------


def check_signed(post: dict[str, Any]) -> dict[str, Any]:
    headers = post["headers"]
    body = post["body"].encode()
    assert verify(
        SECRET, headers["X-Syndicator-Timestamp"], body, headers["X-Syndicator-Signature-256"]
    )
    event: dict[str, Any] = json.loads(body)
    assert headers["X-Syndicator-Event"] == event["type"]
    assert headers["X-Syndicator-Delivery"] == event["id"]
    assert set(event) >= {"id", "type", "occurred_at", "regions", "changes"}
    return event


def test_webhooks_are_signed_and_retried_with_the_same_delivery_id(tmp_path: Path) -> None:
    with run_receiver(tmp_path / "receiver", fail_first=2) as receiver:
        cfg = load_config(tmp_path, url=f"{receiver.base}/hooks")
        store = Store(f"sqlite:///{tmp_path}/s.db")
        store.apply("s", [article(1), article(2)], now=NOW)

        async def run() -> None:
            poster = Poster(allow_private=True)
            try:
                await deliver_all(dispatcher_for(cfg, store, poster), store)
            finally:
                await poster.aclose()

        asyncio.run(run())
        posts = receiver.posts()
        store.close()
    assert [p["answered"] for p in posts] == [500, 500, 204, 204]
    events = [check_signed(p) for p in posts]
    # The first event failed twice, then arrived; the second waited for it (per-target order).
    assert events[0]["id"] == events[1]["id"] == events[2]["id"]
    assert [e["article"]["url"] for e in events[2:]] == [
        "https://n.example/1",
        "https://n.example/2",
    ]


def test_a_target_that_keeps_failing_is_dead_lettered(tmp_path: Path) -> None:
    with run_receiver(tmp_path / "receiver", fail_first=100) as receiver:
        cfg = load_config(tmp_path, "max_attempts = 3", url=f"{receiver.base}/hooks")
        store = Store(f"sqlite:///{tmp_path}/s.db")
        store.apply("s", [article(1)], now=NOW)

        async def run() -> None:
            poster = Poster(allow_private=True)
            try:
                await deliver_all(dispatcher_for(cfg, store, poster), store)
            finally:
                await poster.aclose()

        asyncio.run(run())
        assert len(receiver.posts()) == 3
        (row,) = store.delivery_summary()
        store.close()
    assert row["target"] == "notify:downstream"
    assert row["dead"] == 1 and row["pending"] == 0 and len(row["dead_events"]) == 1
    assert "HTTP 500" in row["last_error"]


def test_private_targets_are_refused_unless_allowed(receiver: Receiver, tmp_path: Path) -> None:
    cfg = load_config(
        tmp_path, "max_attempts = 1", url=f"{receiver.base}/hooks", allow_private=False
    )
    store = Store(f"sqlite:///{tmp_path}/s.db")
    store.apply("s", [article(1)], now=NOW)

    async def run() -> None:
        poster = Poster(allow_private=False)
        try:
            await deliver_all(dispatcher_for(cfg, store, poster), store)
        finally:
            await poster.aclose()

    asyncio.run(run())
    (row,) = store.delivery_summary()
    store.close()
    assert receiver.posts() == []
    assert row["dead"] == 1 and row["last_error"].endswith(PRIVATE_REFUSED)


def test_fan_out_survives_a_restart_without_duplicates(receiver: Receiver, tmp_path: Path) -> None:
    cfg = load_config(tmp_path, url=f"{receiver.base}/hooks")
    store = Store(f"sqlite:///{tmp_path}/s.db")
    store.apply("s", [article(1)], now=NOW)
    poster_less = dispatcher_for(cfg, store, Poster(allow_private=True))
    assert poster_less.fan_out(NOW) == 1
    asyncio.run(poster_less.poster.aclose())
    store.close()
    # A new process: the cursor and the pending delivery are in the store.
    store = Store(f"sqlite:///{tmp_path}/s.db")

    async def run() -> None:
        poster = Poster(allow_private=True)
        try:
            dispatcher = dispatcher_for(cfg, store, poster)
            assert dispatcher.fan_out(NOW) == 0
            await deliver_all(dispatcher, store)
        finally:
            await poster.aclose()

    asyncio.run(run())
    store.close()
    assert len(receiver.posts()) == 1


def test_without_notify_targets_article_events_are_passed_over(tmp_path: Path) -> None:
    """With no notify target only ``feed.updated`` has targets (the hub's subscribers): the
    article events are passed over, the cursor still reaches the newest event, and each
    feed update still reaches its subscriber, once, however the events interleave."""
    cfg = dataclasses.replace(load_config(tmp_path), notify=())
    store = Store(f"sqlite:///{tmp_path}/s.db")
    store.subscribe(topics_of(cfg, "europe")[0], "http://127.0.0.1:9/cb", None, 3600, NOW)
    dispatcher = dispatcher_for(cfg, store, Poster(allow_private=True))
    for n in range(3):  # article events, then a feed update, three times over
        store.apply("s", [article(10 * n + i) for i in range(4)], now=NOW)
        for change in store.pending_changes():
            store.announce(change, NOW, {"region": change.region})
    events = store.events_after(0, limit=1000)
    updates = [e for e in events if e.type == "feed.updated"]
    assert len(events) > len(updates) > 0
    assert dispatcher.fan_out(NOW) == sum("europe" in e.regions for e in updates) == 3
    assert store.outbox_cursor() == events[-1].seq == store.newest_event()
    store.apply("s", [article(99)], now=NOW)  # an event after: passed over by the next round
    assert dispatcher.fan_out(NOW) == 0
    assert store.outbox_cursor() == store.newest_event() > events[-1].seq
    assert store.pending_deliveries() == 3
    asyncio.run(dispatcher.poster.aclose())
    store.close()


def test_websub_hub_verifies_and_distributes(receiver: Receiver, tmp_path: Path) -> None:
    cfg = load_config(tmp_path, 'events = ["feed.updated"]', url=f"{receiver.base}/hooks")
    feeds = Path(cfg.service.feeds_dir)
    feeds.mkdir()
    (feeds / "europe.atom").write_bytes(b"<feed xmlns='http://www.w3.org/2005/Atom'/>")
    store = Store(f"sqlite:///{tmp_path}/s.db")
    europe, asia = topics_of(cfg, "europe")[0], topics_of(cfg, "asia")[0]

    async def run() -> None:
        poster = Poster(allow_private=True)
        hub = Hub(store, poster, lambda: {europe, asia})
        try:
            bad = await hub.handle(
                {
                    "hub.mode": "subscribe",
                    "hub.topic": "http://else/x",
                    "hub.callback": f"{receiver.base}/cb",
                }
            )
            assert bad.status == 400
            answer = await hub.handle(
                {
                    "hub.mode": "subscribe",
                    "hub.topic": europe,
                    "hub.callback": f"{receiver.base}/cb",
                    "hub.secret": "sub-secret",
                    "hub.lease_seconds": "60",
                }
            )
            assert answer.status == 202
            await hub.settle()
            (sub,) = store.subscribers([europe], datetime.now(UTC))
            assert sub.expires_at - datetime.now(UTC) > timedelta(minutes=50)  # minimum lease
            store.apply("s", [article(1, "europe"), article(2, "asia")], now=NOW)
            for pending in store.pending_changes():
                store.announce(pending, NOW, {"region": pending.region})
            await deliver_all(dispatcher_for(cfg, store, poster), store)
        finally:
            await poster.aclose()

    asyncio.run(run())
    store.close()
    verification = [r for r in receiver.received() if r["kind"] == "verify"]
    assert verification[0]["query"]["hub.topic"] == europe
    distributions = [p for p in receiver.posts() if p["path"] == "/cb"]
    assert len(distributions) == 1  # europe changed and is subscribed; asia is not
    d = distributions[0]
    assert d["headers"]["Content-Type"] == "application/atom+xml"
    assert d["headers"]["X-Hub-Signature"] == hub_signature("sub-secret", d["body"].encode())
    assert f'<{europe}>; rel="self"' in d["headers"]["Link"]
    hooks = [json.loads(p["body"]) for p in receiver.posts() if p["path"] == "/hooks"]
    assert sorted(h["regions"][0] for h in hooks) == ["asia", "europe"]


def test_external_hubs_get_publish_pings(receiver: Receiver, tmp_path: Path) -> None:
    cfg = load_config(tmp_path, 'events = ["article.created"]', url=f"{receiver.base}/hooks")
    cfg = config.from_documents(
        [
            (
                "x.toml",
                {
                    "service": {
                        "base_url": "http://127.0.0.1:8080",
                        "feeds_dir": str(tmp_path / "feeds"),
                    },
                    "publish": {"hubs": [f"{receiver.base}/hub"], "builtin_hub": False},
                    "security": {"allow_private_targets": True},
                    "region": [{"id": "europe", "title": "Europe"}],
                },
            )
        ],
        environ={},
    )
    store = Store(f"sqlite:///{tmp_path}/s.db")
    store.apply("s", [article(1)], now=NOW)
    for pending in store.pending_changes():
        store.announce(pending, NOW, {"region": pending.region})

    async def run() -> None:
        poster = Poster(allow_private=True)
        try:
            await deliver_all(dispatcher_for(cfg, store, poster), store)
        finally:
            await poster.aclose()

    asyncio.run(run())
    store.close()
    pings = [parse_qs(p["body"]) for p in receiver.posts() if p["path"] == "/hub"]
    topics = topics_of(cfg, "europe")
    assert [p["hub.mode"][0] for p in pings] == ["publish"] * len(topics)
    assert [p["hub.url"][0] for p in pings] == topics == [p["hub.topic"][0] for p in pings]


def test_apprise_alerts_reach_a_json_endpoint(receiver: Receiver, tmp_path: Path) -> None:
    host = receiver.base.removeprefix("http://")

    async def run() -> None:
        await alerts.send(
            (f"json://{host}/alerts",),
            {"type": "source.recovered", "source": {"id": "wire", "reason": "read fine"}},
        )

    asyncio.run(run())
    (post,) = receiver.posts()
    assert post["path"] == "/alerts"
    assert "wire has recovered" in json.loads(post["body"])["title"]


# --------------------------------------------------------------------------------------------
# WebSub: requests for one subscription take effect in the order they arrived


TOPIC = "http://hub.test/feeds/world.atom"


def requests_in_order(tmp_path: Path, after: dict[int, int], *phases: list[str]) -> list[int]:
    """Send each phase's requests to one (topic, callback), one after another, each once the
    subscriber has been asked to verify the one before (still verifying: the subscriber answers
    its Nth verification only after its Mth, for each N: M of ``after``, or at once); after each
    phase, once every verification is over, how many subscriptions are stored."""

    async def main() -> list[int]:
        store = Store(f"sqlite:///{tmp_path}/hub.db")
        poster = Poster(allow_private=True)
        subscriber = SlowSubscriber(after=after)
        hub = Hub(store, poster, lambda: {TOPIC})
        stored = []
        sent = 0
        try:
            for modes in phases:
                for mode in modes:
                    form = {
                        "hub.mode": mode,
                        "hub.topic": TOPIC,
                        "hub.callback": subscriber.callback,
                    }
                    assert (await hub.handle(form)).status == 202
                    sent += 1
                    async with asyncio.timeout(30):  # its verification reached the subscriber
                        while len(subscriber.asked) < sent:
                            await asyncio.sleep(0.01)
                await hub.settle(timeout=30)
                stored.append(len(store.subscribers([TOPIC], datetime.now(UTC))))
            assert subscriber.asked == [mode for modes in phases for mode in modes]
            return stored
        finally:
            subscriber.close()
            await poster.aclose()
            store.close()

    return asyncio.run(main())


def test_an_unsubscribe_after_a_subscribe_still_verifying_wins(tmp_path: Path) -> None:
    # The subscribe is confirmed only after the unsubscribe.
    assert requests_in_order(tmp_path, {0: 1}, ["subscribe", "unsubscribe"]) == [0]


def test_the_latest_of_several_requests_wins(tmp_path: Path) -> None:
    phases = ["subscribe", "unsubscribe", "subscribe"], ["unsubscribe", "subscribe", "unsubscribe"]
    # In each phase the subscriber confirms the three in reverse order.
    assert requests_in_order(tmp_path, {0: 1, 1: 2, 3: 4, 4: 5}, *phases) == [1, 0]


def test_a_subscribe_after_an_unsubscribe_still_verifying_wins(tmp_path: Path) -> None:
    # The unsubscribe is confirmed only after the second subscribe.
    phases = ["subscribe"], ["unsubscribe", "subscribe"]
    assert requests_in_order(tmp_path, {1: 2}, *phases) == [1, 1]

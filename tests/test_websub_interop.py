"""WebSub interoperability with an independent implementation: Flask-WebSub 0.4.1 (PyPI).

What runs, all on 127.0.0.1, each Flask app under werkzeug's ``make_server`` in a thread that is
shut down at teardown, beside the real ``syndicator run`` subprocess (``server_factory``):

- **Our publisher, their hub** (``test_flask_websub_hub_distributes_our_feed``):
  ``flask_websub.hub.Hub`` with ``SQLite3HubStorage`` and ``PUBLISH_SUPPORTED = True``. Its tasks
  are Celery tasks and it has no mode without Celery; it runs on a Celery app in eager mode
  (``task_always_eager``: each task runs inline in the hub's request, no broker, no worker), with
  ``task_eager_propagates`` so that a failing task answers our ping with an error. Our service
  has ``[publish] hubs = [that hub]`` (built-in hub off). Flask-WebSub's subscriber finds the hub
  and topic with its ``discover()`` (our ``Link`` header), subscribes at their hub (which verifies
  its intent), then an article pushed to ``POST /api/articles`` makes our service publish the
  region and ping the hub (``hub.mode=publish`` with ``hub.topic`` and ``hub.url``). Proven: the
  hub fetched our feed (it requires our ``Link`` rel=hub and rel=self, or fails the ping) and
  distributed exactly the bytes we serve to its subscriber.
- **Their subscriber, our hub** (``test_flask_websub_subscriber_at_our_hub``):
  ``flask_websub.subscriber.Subscriber`` with SQLite storage, its callback blueprint in a Flask
  app. It discovers our built-in hub (``Link`` header of ``/feeds/world.atom``) and subscribes
  twice: as discovered over plain HTTP, without a secret, asking a one-minute lease; and with a
  secret. Flask-WebSub sends ``hub.secret`` to HTTPS hubs only (WebSub: a secret SHOULD only be
  sent over HTTPS) and ``syndicator run`` serves plain HTTP, so the second goes through a TLS
  front (werkzeug with a ``trustme`` certificate) that forwards the form to our ``POST /hub``
  unchanged. Both pass our intent verification (our lease, clamped to one hour, is what the
  subscriber stores); a pushed article reaches both, the signed one only because the subscriber's
  own ``X-Hub-Signature`` check passed (it drops a body whose signature does not match). After the
  first one unsubscribes (verified too), the next article reaches only the second.

Our hub's side of points of the Recommendation that Flask-WebSub does not exercise (a callback
with its own query string, an unsubscription's lease, when a lease starts, a subscriber answering
410 Gone) is checked without it, against a mock transport.

The two interop tests take about 15 s together; they are skipped, saying why, where Flask-WebSub,
Celery or trustme cannot be imported (they come with the ``dev`` extra).
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.records import article, deliver_all, dispatcher_for, load_config
from support.service import TOKEN, Server
from support.service import wait_for as service_wait_for

from syndicator.fetch import Poster
from syndicator.notify import topics_of
from syndicator.notify.websub import Hub as OurHub
from syndicator.store import Store

pytestmark = pytest.mark.e2e  # end to end: the service or its commands, as processes

try:
    import celery
    import flask
    import trustme
    from flask_websub.hub import Hub, SQLite3HubStorage
    from flask_websub.subscriber import (
        SQLite3SubscriberStorage,
        SQLite3TempSubscriberStorage,
        Subscriber,
        discover,
    )
    from werkzeug.serving import make_server
except ImportError as e:  # pragma: no cover - they come with the dev extra
    MISSING: str | None = (
        f"{e.name} cannot be imported: Flask-WebSub, Celery and trustme come with the dev extra"
    )
else:
    MISSING = None

needs_flask_websub = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")

WAIT_SECONDS = 15.0


# --------------------------------------------------------------------------------------------
# Loopback servers, and what the Flask-WebSub subscriber saw


@contextmanager
def serving(app: Any, ssl_context: ssl.SSLContext | None = None) -> Iterator[Any]:
    """``app`` under werkzeug on a free loopback port (threaded), shut down on exit."""
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=ssl_context)
    thread = threading.Thread(target=server.serve_forever, name="wsgi-interop", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


class Seen:
    """The subscriber's events and the distribution requests its app received (any thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bodies: list[tuple[str, bytes]] = []  # (callback id, body) passed to listeners
        self.verified: list[tuple[str, str]] = []  # (callback id, mode)
        self.errors: list[tuple[str, str]] = []
        self.posts: list[dict[str, Any]] = []  # headers and body of every POST to a callback

    def bodies_of(self, callback_id: str) -> list[bytes]:
        with self.lock:
            return [body for cid, body in self.bodies if cid == callback_id]


def subscriber_app(folder: Path) -> tuple[Any, Subscriber, Seen]:
    """A Flask app whose ``/callbacks/<id>`` are Flask-WebSub's subscriber endpoints."""
    app = flask.Flask("interop-subscriber")
    storage = str(folder / "subscriber.sqlite3")
    subscriber = Subscriber(
        SQLite3SubscriberStorage(storage), SQLite3TempSubscriberStorage(storage)
    )
    app.register_blueprint(subscriber.build_blueprint(url_prefix="/callbacks"))
    seen = Seen()

    def on_body(topic: str, callback_id: str, body: bytes) -> None:
        with seen.lock:
            seen.bodies.append((callback_id, body))

    def on_verified(topic: str, callback_id: str, mode: str) -> None:
        with seen.lock:
            seen.verified.append((callback_id, mode))

    def on_error(topic: str, callback_id: str, reason: str) -> None:
        with seen.lock:
            seen.errors.append((callback_id, reason))

    subscriber.add_listener(on_body)
    subscriber.add_success_handler(on_verified)
    subscriber.add_error_handler(on_error)

    @app.before_request
    def record() -> None:
        request = flask.request
        if request.method == "POST":
            with seen.lock:
                seen.posts.append(
                    {
                        "path": request.path,
                        "headers": dict(request.headers),
                        "body": request.get_data(cache=True),
                    }
                )

    return app, subscriber, seen


wait_for = functools.partial(service_wait_for, seconds=WAIT_SECONDS, interval=0.05)


def service_config(server: Server, **publish: Any) -> str:
    return (
        server.service_toml(**publish)
        + "\n[security]\nallow_private_targets = true\n\n"
        + '[[region]]\nid = "world"\ntitle = "World"\nlanguage = "en"\nsections = ["World"]\n'
    )


def push(server: Server, name: str) -> dict[str, Any]:
    article = {
        "url": f"https://interop.example/world/{name}",
        "title": f"Interop story {name}",
        "regions": ["world"],
        "paragraphs": [f"A paragraph of the story {name}, long enough to make a body of it."],
    }
    answer = server.post("/api/articles", json.dumps(article), token=TOKEN)
    assert answer.status == 200, answer.body
    (result,) = answer.json()["results"]
    assert result["change"] == "created"
    return article


# --------------------------------------------------------------------------------------------
# (a) our publisher pings, Flask-WebSub's hub fetches and distributes


@needs_flask_websub
def test_flask_websub_hub_distributes_our_feed(
    tmp_path: Path,
    server_factory: Callable[..., Server],
) -> None:
    hub_app = flask.Flask("interop-hub")
    hub_app.config["PUBLISH_SUPPORTED"] = True  # accept hub.mode=publish pings
    tasks = celery.Celery("interop-hub", set_as_current=False)
    tasks.conf.update(task_always_eager=True, task_eager_propagates=True)
    hub = Hub(SQLite3HubStorage(str(tmp_path / "hub.sqlite3")), tasks, REQUEST_TIMEOUT=10)
    hub_app.register_blueprint(hub.build_blueprint(url_prefix="/hub-path"))
    pings: list[dict[str, str]] = []

    @hub_app.after_request
    def record(response: Any) -> Any:
        form = flask.request.form
        if form.get("hub.mode") == "publish":
            pings.append({**form.to_dict(), "answered": str(response.status_code)})
        return response

    sub_app, subscriber, seen = subscriber_app(tmp_path)

    with serving(hub_app) as hub_server, serving(sub_app) as sub_server:
        hub_url = f"http://127.0.0.1:{hub_server.server_port}/hub-path"
        sub_app.config["SERVER_NAME"] = f"127.0.0.1:{sub_server.server_port}"
        server = server_factory()
        (server.config / "syndicator.toml").write_text(
            service_config(server, hubs=[hub_url], builtin_hub=False), encoding="utf-8"
        )
        server.start()
        topic = f"{server.base}/feeds/world.atom"
        server.wait_until(lambda: server.get("/feeds/world.atom").status == 200, "world feed")

        # Their discovery reads our Link header: their hub, and the topic's self URL.
        found = discover(topic, timeout=10)
        assert found == {"hub_url": hub_url, "topic_url": topic}
        with sub_app.app_context():
            callback_id = subscriber.subscribe(**found)
        # Eager: the hub verified the subscriber's intent before it answered 202.
        assert seen.verified == [(callback_id, "subscribe")], seen.errors

        article = push(server, "hub-" + uuid.uuid4().hex[:8])
        (body,) = wait_for(lambda: seen.bodies_of(callback_id), "their hub distributes our feed")
        served = server.get("/feeds/world.atom")
        assert body == served.body  # the full feed, as we serve it: the hub fetched it from us
        assert article["url"].encode() in body
        (post,) = seen.posts
        assert post["headers"]["Content-Type"].startswith("application/atom+xml")
        link = post["headers"]["Link"]  # theirs forwards our Link header with the content
        assert f'<{topic}>; rel="self"' in link and f'<{hub_url}>; rel="hub"' in link
        # One ping per feed of each changed region, each with hub.topic and hub.url, each
        # answered 202 by their hub (after it fetched the topic) and counted delivered by us.
        delivered = wait_for(
            lambda: server.metric("syndicator_deliveries_total", target="hub", outcome="delivered"),
            "the pings delivered",
        )
        world = [f"{server.base}/feeds/world.{fmt}" for fmt in ("atom", "rss", "json")]
        assert [p["hub.topic"] for p in pings if "/world." in p["hub.topic"]] == world
        assert all(p["hub.url"] == p["hub.topic"] and p["answered"] == "202" for p in pings)
        assert delivered == 1  # one feed.updated (world): one delivery, a ping per format
        assert server.metric("syndicator_deliveries_total", target="hub", outcome="retry") == 0
        server.stop()


# --------------------------------------------------------------------------------------------
# (b) Flask-WebSub's subscriber at our built-in hub


def forwarder(target: str) -> Callable[..., list[bytes]]:
    """A WSGI app that POSTs each request's form to ``target`` and answers what it answered:
    the TLS front of our hub, for a subscriber that sends secrets to HTTPS hubs only."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        request = urllib.request.Request(
            target,
            data=body,
            method=environ["REQUEST_METHOD"],
            headers={"Content-Type": environ.get("CONTENT_TYPE", "")},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, data = response.status, response.read()
        except urllib.error.HTTPError as e:
            status, data = e.code, e.read()
        start_response(
            f"{status} {HTTPStatus(status).phrase}",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))],
        )
        return [data]

    return app


@needs_flask_websub
def test_flask_websub_subscriber_at_our_hub(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    server_factory: Callable[..., Server],
) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))  # the subscriber trusts the front
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(tls)

    server = server_factory()
    (server.config / "syndicator.toml").write_text(service_config(server), encoding="utf-8")
    server.start()
    topic = f"{server.base}/feeds/world.atom"
    server.wait_until(lambda: server.get("/feeds/world.atom").status == 200, "world feed")
    sub_app, subscriber, seen = subscriber_app(tmp_path)

    with (
        serving(sub_app) as sub_server,
        serving(forwarder(f"{server.base}/hub"), ssl_context=tls) as front,
    ):
        sub_app.config["SERVER_NAME"] = f"127.0.0.1:{sub_server.server_port}"
        found = discover(topic, timeout=10)
        assert found == {"hub_url": f"{server.base}/hub", "topic_url": topic}
        secret = "interop-" + uuid.uuid4().hex
        with sub_app.app_context():
            plain = subscriber.subscribe(**found, lease_seconds=60)
            signed = subscriber.subscribe(
                topic_url=topic,
                hub_url=f"https://127.0.0.1:{front.server_port}/",
                secret=secret,
            )
        wait_for(
            lambda: sorted(seen.verified) == sorted([(plain, "subscribe"), (signed, "subscribe")]),
            "our hub verifies both subscriptions",
        )
        assert not seen.errors
        # The lease our hub chose (its minimum, one hour) is the one it told the subscriber.
        assert subscriber.storage[plain]["lease_seconds"] == 3600

        first = push(server, "sub-" + uuid.uuid4().hex[:8])
        for callback_id in (plain, signed):
            (body,) = wait_for(lambda c=callback_id: seen.bodies_of(c), f"{callback_id} gets it")
            assert first["url"].encode() in body
        with seen.lock:
            signed_posts = [p for p in seen.posts if p["path"].endswith(signed)]
        assert signed_posts[0]["headers"]["X-Hub-Signature"].startswith("sha256=")
        assert f'<{topic}>; rel="self"' in signed_posts[0]["headers"]["Link"]

        with sub_app.app_context():
            subscriber.unsubscribe(plain)
        wait_for(lambda: (plain, "unsubscribe") in seen.verified, "the unsubscription verified")
        second = push(server, "after-" + uuid.uuid4().hex[:8])
        wait_for(lambda: len(seen.bodies_of(signed)) == 2, "the signed subscription gets more")
        assert second["url"].encode() in seen.bodies_of(signed)[1]
        time.sleep(0.5)  # a delivery to the ended subscription would have come with it
        assert len(seen.bodies_of(plain)) == 1
    server.stop()


# --------------------------------------------------------------------------------------------
# Our hub, on what the interop does not reach


def test_our_hub_on_query_strings_leases_and_gone(tmp_path: Path) -> None:
    cfg = load_config(tmp_path, 'events = ["article.created"]')
    feeds = Path(cfg.service.feeds_dir)
    feeds.mkdir()
    (feeds / "europe.atom").write_bytes(b"<feed xmlns='http://www.w3.org/2005/Atom'/>")
    store = Store(f"sqlite:///{tmp_path}/s.db")
    europe = topics_of(cfg, "europe")[0]
    started = datetime.now(UTC).replace(microsecond=0)
    clock = [started]
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "GET":
            clock[0] += timedelta(seconds=30)  # a slow subscriber: the lease began before
            return httpx.Response(200, content=request.url.params["hub.challenge"])
        return httpx.Response(410 if request.url.path == "/gone" else 204)

    callback = "http://127.0.0.1:9/gone?user=a%20b&user=2&hub.mode=theirs"

    async def run() -> None:
        poster = Poster(allow_private=True, transport=httpx.MockTransport(answer))
        hub = OurHub(store, poster, lambda: {europe}, clock=lambda: clock[0])
        try:
            form = {"hub.mode": "subscribe", "hub.topic": europe, "hub.callback": callback}
            assert (await hub.handle(form)).status == 202
            await hub.settle()
            # An unsubscription's hub.lease_seconds is ignored, whatever it says.
            other = {**form, "hub.mode": "unsubscribe", "hub.lease_seconds": "soon"}
            assert (
                await hub.handle({**other, "hub.callback": "http://127.0.0.1:9/x"})
            ).status == 202
            await hub.settle()
            (sub,) = store.subscribers([europe], started)
            assert sub.expires_at == started + timedelta(days=10)  # from the request, not after
            store.apply("s", [article(1, "europe")], now=started)
            for pending in store.pending_changes():
                store.announce(pending, started, {"region": pending.region})
            await deliver_all(dispatcher_for(cfg, store, poster), store)
        finally:
            await poster.aclose()

    asyncio.run(run())
    verify = seen[0]
    assert verify.method == "GET" and verify.url.path == "/gone"
    # The callback's own query string first, as it was, then ours (WebSub 5.1).
    assert verify.url.query.startswith(b"user=a%20b&user=2&hub.mode=theirs&hub.mode=subscribe&")
    assert verify.url.params["hub.topic"] == europe
    # 410 Gone: one attempt, then the subscription is over.
    assert [r.url.path for r in seen if r.method == "POST"].count("/gone") == 1
    assert store.subscribers([europe], started) == []
    store.close()

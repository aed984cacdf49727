"""What a hostile client can send, and what syndicator does with it: each rule of
docs/RELIABILITY.md ("Hostile clients") pinned, in process where a part decides and end to end
through the real ``syndicator run`` on loopback (``support.service.Server``).
"""

from __future__ import annotations

import io
import json
import logging
import re
import sqlite3
import urllib.parse
import uuid
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.service import Server, wait_for
from support.sites import Receiver

from syndicator.logs import NoForgery
from syndicator.normalize import external_url
from syndicator.store import Store

LINE_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL)")


def assert_no_forged_lines(log: str) -> None:
    """Every line of a service log is a record of its own or an indented continuation."""
    for line in log.splitlines():
        assert LINE_START.match(line) or line.startswith((" ", "\t")) or not line, line


# --------------------------------------------------------------------------------------------
# URLs from outside: checked, canonical, stored as used


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("HTTP://Example.COM:80/cb?x=1&Y=%0D%0A", "http://example.com/cb?x=1&Y=%0D%0A"),
        ("https://EXAMPLE.com:443", "https://example.com/"),
        ("https://example.com:8443/a/ü?q=ä", "https://example.com:8443/a/%C3%BC?q=%C3%A4"),
        ("http://bücher.example/", "http://xn--bcher-kva.example/"),
        ("http://[::1]:8080/cb", "http://[::1]:8080/cb"),
    ],
)
def test_urls_from_outside_are_stored_in_one_form(given: str, stored: str) -> None:
    assert external_url(given) == stored
    assert external_url(stored) == stored


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("http://host/cb\r\nX-Injected: 1", "control characters"),
        ("http://host/cb\nx", "control characters"),
        ("http://host/c\x00b", "control characters"),
        ("http://host/c\x7fb", "control characters"),
        ("http://host/c\x85b", "control characters"),
        ("http://host/c\u2028b", "control characters"),
        ("http://host/a b", "control characters and spaces"),
        ("http://host/a\tb", "control characters"),
        (" http://host/", "control characters and spaces"),
        ("http://host/\ud800", "control characters"),
        ("http://user:pw@host/", "user name or password"),
        ("http://user@host/", "user name or password"),
        ("http://host/#frag", "fragment"),
        ("ftp://host/", "http(s)"),
        ("javascript:alert(1)", "http(s)"),
        ("file:///etc/passwd", "http(s)"),
        ("http:///cb", "no host"),
        ("http://]x/", "not a URL"),
        ("http://host:99999/", "not a URL"),
        ("http://%0d%0a.example/", "bad host"),
        ("http://host/" + "a" * 5000, "longer than"),
    ],
)
def test_urls_from_outside_are_refused_when_unsafe(given: str, why: str) -> None:
    with pytest.raises(ValueError, match=re.escape(why)):
        external_url(given)


def test_logged_values_cannot_forge_a_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(NoForgery())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    logger = logging.getLogger(f"test.forgery.{uuid.uuid4().hex}")
    logger.propagate = False
    logger.addHandler(handler)
    forged = "x\n2026-01-01 00:00:00 ERROR  all sources failing\r\x1b[2Kgone"
    logger.warning("websub to %s not verified: %s", forged, 3)
    logger.warning(forged)  # a message without values is a value
    logger.warning("two lines of ours:\n    %s", "one\ntwo")
    lines = stream.getvalue().splitlines()
    assert len([line for line in lines if LINE_START.match(line)]) == 3
    assert_no_forged_lines(stream.getvalue())
    assert "\\r\\x1b[2Kgone" in stream.getvalue()
    assert "\n    2026-01-01 00:00:00 ERROR  all sources failing" in stream.getvalue()


# --------------------------------------------------------------------------------------------
# One delivery that fails, however it fails, fails alone


def notify_toml(server: Server, receiver: Receiver) -> str:
    return (
        server.service_toml()
        + "\n[security]\nallow_private_targets = true\n"
        + '\n[[region]]\nid = "world"\ntitle = "World"\n'
        + f'\n[[notify]]\nkind = "webhook"\nurl = "{receiver.base}/hook"\n'
        + 'events = ["article.created"]\nmax_attempts = 3\n'
    )


def push_one(server: Server, n: int) -> None:
    body = {
        "url": f"https://news.example/{n}",
        "title": f"Story {n}",
        "paragraphs": [f"The whole of story {n}, told in one paragraph."],
        "regions": ["world"],
    }
    answer = server.post("/api/articles", json.dumps(body))
    assert answer.status == 200, answer.text


def hook_titles(receiver: Receiver) -> set[str]:
    return {
        json.loads(p["body"])["article"]["title"] for p in receiver.posts() if p["path"] == "/hook"
    }


def test_a_broken_callback_never_stops_notifications(
    server_factory: Callable[..., Server],
    receiver: Receiver,
) -> None:
    """A subscription whose callback no HTTP client takes (stored raw, as a hub that did not
    check its callbacks stored them) fails its own deliveries; webhooks keep flowing."""
    server = server_factory()
    (server.config / "service.toml").write_text(notify_toml(server, receiver), encoding="utf-8")
    store = Store(f"sqlite:///{server.folder}/syndicator.db")
    raw = "http://127.0.0.1:9/cb\r\nX-Injected: 1"
    store.subscribe(f"{server.base}/feeds/world.atom", raw, None, 86400, datetime.now(UTC))
    store.close()
    server.start()
    push_one(server, 1)
    wait_for(lambda: "Story 1" in hook_titles(receiver), "the first webhook")
    wait_for(lambda: "X-Injected" in server.output(), "the broken delivery fails")
    push_one(server, 2)
    wait_for(lambda: "Story 2" in hook_titles(receiver), "the second webhook (dispatcher alive)")
    assert server.get("/healthz").status == 200
    assert server.stop() == 0
    log = server.output()
    assert "Traceback" not in log
    assert_no_forged_lines(log)
    assert "failed (attempt 1): http://127.0.0.1:9/cb\\r\n    X-Injected: 1: not an http" in log


def hub_form(server: Server, callback: str, mode: str = "subscribe") -> Any:
    form = {
        "hub.mode": mode,
        "hub.topic": f"{server.base}/feeds/world.atom",
        "hub.callback": callback,
    }
    return server.post(
        "/hub",
        urllib.parse.urlencode(form),
        token=None,
        content_type="application/x-www-form-urlencoded",
    )


def stored_callbacks(server: Server) -> list[str]:
    path = server.folder / "syndicator.db"
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
        return [row[0] for row in db.execute("select callback from subscriptions")]


def test_hub_callbacks_are_checked_and_stored_canonical(
    server_factory: Callable[..., Server],
    receiver: Receiver,
) -> None:
    server = server_factory()
    (server.config / "service.toml").write_text(notify_toml(server, receiver), encoding="utf-8")
    server.start()
    for bad in (
        f"{receiver.base}/cb\r\nX-Injected: 1",
        f"{receiver.base}/cb x",
        receiver.base.replace("http://", "http://user:pw@") + "/cb",
        f"{receiver.base}/cb\x00",
    ):
        answer = hub_form(server, bad)
        assert answer.status == 400, (bad, answer.text)
        assert "hub.callback must be an absolute http(s) URL" in answer.text
    host, port = receiver.base.removeprefix("http://").split(":")
    given = f"HTTP://{host}:{port}/Cb?token=%41b"
    assert hub_form(server, given).status == 202
    canonical = f"http://{host}:{port}/Cb?token=%41b"
    wait_for(lambda: stored_callbacks(server) == [canonical], "the canonical callback is stored")
    verified = [r for r in receiver.received() if r["kind"] == "verify"]
    assert [r["path"] for r in verified] == ["/Cb"]
    assert verified[0]["query"]["token"] == "Ab"  # the subscriber's own query, kept
    assert server.stop() == 0
    assert_no_forged_lines(server.output())


def test_webhook_urls_in_the_config_are_checked(tmp_path: Path) -> None:
    from syndicator.config import load
    from syndicator.errors import ConfigError

    for url in ("http://h/a b", "http://u:p@h/hook", "http://h/\\u0007"):
        path = tmp_path / "c.toml"
        path.write_text(f'[[notify]]\nkind = "webhook"\nurl = "{url}"\n', encoding="utf-8")
        with pytest.raises(ConfigError, match=r"notify\[0\]\.url"):
            load(path, environ={})
    path.write_text('[[notify]]\nkind = "webhook"\nurl = "HTTP://H.example:80/hook"\n')
    assert load(path, environ={}).notify[0].url == "http://h.example/hook"


# --------------------------------------------------------------------------------------------
# Pushed articles: 400s that name the line and the field, capped; the work off the event loop


def article(n: int | str, **fields: Any) -> dict[str, Any]:
    return {
        "url": f"https://push.example/{n}",
        "title": f"Pushed story {n}",
        "paragraphs": [f"The whole of pushed story {n}, in one paragraph."],
        **fields,
    }


BAD_PUSHES = [
    ('{"a":' * 100_000, "line 1: not JSON (nested too deeply)"),
    (
        json.dumps(article(1)) + "\n" + json.dumps(article(2))[:-1] + ', "x": ' + "9" * 5000 + "}",
        "line 2: not JSON (a number of more than 4300 digits)",
    ),
    (json.dumps(article(1, published="1" * 5000)), "line 1: published: implausible date"),
    (
        json.dumps(article(1, published="0001-01-01T00:00:00+14:00")),
        "line 1: published: not a date: '0001-01-01T00:00:00+14:00' falls outside the years",
    ),
    (
        json.dumps(article(1, updated="2026-13-45")),
        "line 1: updated: not a date: '2026-13-45'",
    ),
    (
        json.dumps(article(1)) + "\n\n" + json.dumps(article(2, title="lone \ud800")),
        "line 3: title: not valid Unicode (a lone surrogate, U+D800)",
    ),
    (
        json.dumps(article(1, images=[{"url": "https://i.example/a.jpg", "caption": "\udfff"}])),
        "line 1: images[0].caption: not valid Unicode (a lone surrogate, U+DFFF)",
    ),
    (
        json.dumps(article(1, images=[{"url": "javascript:alert(1)"}])),
        "line 1: images[0].url: not an http(s) URL",
    ),
    (json.dumps(article(1) | {"url": "file:///etc/passwd"}), "line 1: url: not an http(s) URL"),
    (
        json.dumps(article(1) | {"url": "https://p.example/a\r\nb"}),
        "line 1: url: contains '\\r'",
    ),
    (json.dumps(article(1, images=5)), "line 1: images: must be a list"),
    (json.dumps(article(1, authors="Ann")), "line 1: authors: must be a list of strings"),
    (json.dumps(article(1, regions="world")), "line 1: regions: must be a list of strings"),
    (json.dumps(article(1, summary=["x"])), "line 1: summary"),
]


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One `run` for the push tests (nothing they send is stored): the service as a process,
    so its tests are marked e2e."""
    server = Server(tmp_path_factory.mktemp("push") / "service")
    (server.config / "service.toml").write_text(
        server.service_toml() + '\n[[region]]\nid = "world"\ntitle = "World"\n',
        encoding="utf-8",
    )
    server.start()
    try:
        yield server
        assert server.stop() == 0
        log = server.output()
        assert "Traceback" not in log
        assert_no_forged_lines(log)
    finally:
        server.kill()


@pytest.mark.e2e
@pytest.mark.parametrize(("body", "error"), BAD_PUSHES, ids=range(len(BAD_PUSHES)))
def test_bad_pushes_are_400s_naming_line_and_field(pushed: Server, body: str, error: str) -> None:
    answer = pushed.post("/api/articles", body, content_type="application/x-ndjson")
    assert answer.status == 400, answer.text
    errors = answer.json()["errors"]
    assert errors[0].startswith(error), errors
    assert answer.json()["error_count"] == len(errors)
    assert pushed.get("/api/articles").json() == []


@pytest.mark.parametrize(
    ("drop", "fields", "error"),
    [
        (("url", "title"), {}, "an article needs a 'url' (http or https) and a 'title'"),
        (("title",), {}, "an article needs a 'title'"),
        (("url",), {}, "an article needs a 'url' (http or https)"),
        ((), {"title": 12}, "title: must be a string, not int"),
        ((), {"title": float("nan")}, "title: must be a string, not float"),
        ((), {"title": ["a"]}, "title: must be a string, not list"),
        (("title",), {"url": True}, "url: must be a string, not bool"),
    ],
)
def test_a_missing_or_mistyped_url_or_title_is_named(
    drop: tuple[str, ...], fields: dict[str, Any], error: str
) -> None:
    """The error says which of the two required fields is missing, or which has the wrong
    type, not that both are needed."""
    from datetime import UTC, datetime

    from syndicator.errors import ExtractError
    from syndicator.ingest import article_from_object

    obj = {k: v for k, v in article(1).items() if k not in drop} | fields
    with pytest.raises(ExtractError) as refused:
        article_from_object(obj, config=None, now=datetime(2026, 12, 4, tzinfo=UTC))
    assert str(refused.value) == error


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        # a surrogate pair split across two strings is two lone surrogates; the first is named
        ({"paragraphs": ["fine", "a \ud83d", "\ude00 b"]}, "paragraphs[1]: not valid Unicode"),
        ({"extra": {"k\udc00": [1, {"deep": ["x", "\udbff"]}]}}, "extra: not valid Unicode"),
        ({"extra": [{"deep": ["x", "y\udbff"]}]}, "extra[0].deep[1]: not valid Unicode"),
        ({"title": "\U0001f600 \u0627", "extra": {"\U0001f600": [None, 1.5]}}, None),
    ],
)
def test_lone_surrogates_are_found_anywhere_and_named(
    fields: dict[str, Any], error: str | None
) -> None:
    from datetime import UTC, datetime

    from syndicator.errors import ExtractError
    from syndicator.ingest import article_from_object

    obj = json.loads(json.dumps(article(1) | fields))
    now = datetime(2026, 12, 4, tzinfo=UTC)
    if error is None:
        assert article_from_object(obj, config=None, now=now).title == fields["title"]
        return
    with pytest.raises(ExtractError, match=re.escape(error)):
        article_from_object(obj, config=None, now=now)


@pytest.mark.e2e
def test_error_answers_are_capped(pushed: Server) -> None:
    answer = pushed.post("/api/articles", "{}\n" * 100_000, content_type="application/x-ndjson")
    assert answer.status == 400
    body = answer.json()
    assert len(body["errors"]) == 100 and body["error_count"] == 100_000
    assert body["errors"][99].startswith("line 100: an article needs a 'url'")
    assert len(answer.body) < 20_000


def test_a_push_is_read_and_stored_off_the_event_loop_in_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The JSON is parsed, the articles read and stored in worker threads, never on the event
    loop that answers /healthz and the feeds; at most PUSH_BATCH articles per step (500; 5 in
    this test)."""
    import asyncio
    import threading

    from syndicator import config as config_module
    from syndicator import ingest, service
    from syndicator.service import PUSH_BATCH, Service
    from syndicator.web import routes

    (tmp_path / "c.toml").write_text(
        f'[service]\ndatabase = "sqlite:///{tmp_path}/s.db"\nfeeds_dir = "{tmp_path}/feeds"\n'
        '[[region]]\nid = "world"\ntitle = "World"\n',
        encoding="utf-8",
    )
    svc = Service(config_module.load(tmp_path / "c.toml", environ={"T": "t"}), poll=False)
    threads: dict[str, set[int]] = {"parse": set(), "read": set(), "store": set()}
    batches: list[int] = []

    def watched(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            threads[name].add(threading.get_ident())
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(routes, "parse_ndjson", watched("parse", ingest.parse_ndjson))
    monkeypatch.setattr(service, "article_from_object", watched("read", ingest.article_from_object))
    real_push = svc.syndication.push

    def push(articles: Any, **kwargs: Any) -> Any:
        batches.append(len(articles))
        return watched("store", real_push)(articles, **kwargs)

    monkeypatch.setattr(svc.syndication, "push", push)
    monkeypatch.setattr(service, "PUSH_BATCH", 5)  # batches of 5 show it as well as of 500
    count = 5 * 2 + 2
    body = "\n".join(json.dumps(article(n)) for n in range(count)).encode()

    async def go() -> int:
        loop_thread = threading.get_ident()
        objects, errors = await asyncio.to_thread(routes.parse_ndjson, body)
        results, problems = await svc.push(objects)
        assert not errors and not problems and len(results) == count
        assert all(loop_thread not in seen for seen in threads.values()), threads
        return loop_thread

    try:
        asyncio.run(go())
    finally:
        svc.syndication.close()
    assert batches == [5, 5, 2]
    assert PUSH_BATCH == 500
    assert all(threads.values())


# --------------------------------------------------------------------------------------------
# Idle connections: 3,000 of them, and clients are still served

FLOOD_HEAD = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"  # and nothing more, ever


def flood_socket(port: int, source: str) -> Any:
    import socket

    conn = socket.socket()
    conn.settimeout(5)
    try:
        conn.bind((source, 0))
        conn.connect(("127.0.0.1", port))
        conn.sendall(FLOOD_HEAD)
    except OSError:  # refused at once (429), or reset: the server is doing its job
        pass
    return conn


def test_idle_connections_never_keep_clients_out(
    server_factory: Callable[..., Server],
) -> None:
    """3,000 sockets that send part of a head and stop, while real clients ask for /healthz and
    a feed: every one of those is answered 200. 1,000 come from one address (held up to its
    cap, the rest refused at once), 2,000 from 20 others; the server may hold 1,792 (its file
    limit, 2,048, less its reserve), so the newest push out the oldest idle ones."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4000:
        if hard != resource.RLIM_INFINITY and hard < 4000:
            pytest.skip(f"3,000 sockets need a limit on open files over 4,000 (hard: {hard})")
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))
    server = server_factory(open_files=2048)
    (server.config / "service.toml").write_text(
        server.service_toml() + '\n[[region]]\nid = "world"\ntitle = "World"\n',
        encoding="utf-8",
    )
    server.start()
    clients = ("127.0.0.2", "127.0.0.3")
    sources = ["127.0.0.1"] * 1000 + [f"127.0.0.{10 + n % 20}" for n in range(2000)]
    sockets: list[Any] = []
    answers: list[int] = []
    try:
        for n, source in enumerate(sources, 1):
            sockets.append(flood_socket(server.port, source))
            if n % 250 == 0:
                for client in clients:
                    for path in ("/healthz", "/feeds/world.json"):
                        answers.append(get_from(server, path, client))
        assert answers and all(status == 200 for status in answers), answers
    finally:
        for conn in sockets:
            conn.close()
    assert server.stop() == 0
    log = server.output()
    assert "Traceback" not in log
    assert "open files limited to 2048: serving 1792 connections at most" in log


def get_from(server: Server, path: str, source: str) -> int:
    import http.client

    conn = http.client.HTTPConnection(
        "127.0.0.1", server.port, timeout=10, source_address=(source, 0)
    )
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0
    finally:
        conn.close()


def test_hub_topics_match_however_the_subscriber_spells_them() -> None:
    import asyncio

    from syndicator.notify.websub import Hub

    ours = "http://Feeds.Example:80/feeds/world.atom"  # as a config's base_url may spell it
    hub = Hub(None, None, lambda: {ours})  # type: ignore[arg-type]  # publish needs neither
    for given in (
        ours,
        "HTTP://feeds.example/feeds/world.atom",
        "http://feeds.example:80/feeds/world.atom",
    ):
        answer = asyncio.run(hub.handle({"hub.mode": "publish", "hub.url": given}))
        assert answer.status == 202, given
    for other in (
        "http://feeds.example/feeds/asia.atom",
        "http://feeds.example/feeds/world.atom\n",
    ):
        answer = asyncio.run(hub.handle({"hub.mode": "publish", "hub.url": other}))
        assert answer.status == 400, other


@pytest.mark.e2e
def test_since_outside_the_years_1_to_9999_is_a_400(pushed: Server) -> None:
    for since in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-05:00"):
        answer = pushed.get("/api/articles?since=" + urllib.parse.quote(since))
        assert answer.status == 400, answer.text
        assert "outside the years 1 to 9999" in answer.json()["error"]


def test_a_trickled_body_is_cut_after_body_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that sends a head and then its body a byte at a time cannot hold a connection
    and a task for ever: past BODY_SECONDS (60; 0.3 here) the answer is 408, nothing stored."""
    import asyncio

    from syndicator import config as config_module
    from syndicator import web
    from syndicator.service import Service
    from syndicator.web import asgi

    monkeypatch.setattr(asgi, "BODY_SECONDS", 0.3)
    (tmp_path / "c.toml").write_text(
        f'[service]\ndatabase = "sqlite:///{tmp_path}/s.db"\nfeeds_dir = "{tmp_path}/feeds"\n',
        encoding="utf-8",
    )
    environ = {"SYNDICATOR_API_TOKEN": "secret"}
    svc = Service(config_module.load(tmp_path / "c.toml", environ=environ), poll=False)
    app = web.make_app(svc)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0.1)  # a byte now and then, never the end
        return {"type": "http.request", "body": b"{", "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/articles",
        "query_string": b"",
        "client": ("127.0.0.1", 1),
        "headers": [
            (b"content-type", b"application/json"),
            (b"authorization", b"Bearer secret"),
        ],
    }
    try:
        asyncio.run(app(scope, receive, send))
        assert sent[0]["status"] == 408
        assert (b"connection", b"close") in sent[0]["headers"]
        assert svc.store.counts()["articles"] == 0
    finally:
        svc.syndication.close()

"""The API and the WebSub hub under abuse, against the real ``syndicator run`` on loopback.

What a hostile or careless client can send: wrong tokens, oversized bodies, header floods and very
long URLs, bursts of writes, malformed WebSub requests, floods of subscriptions to callbacks that
never answer, cross-origin requests. Each test checks the answer a client gets and that the
service keeps serving feeds, stores nothing it should not, and stays within its memory.

Clients are told apart by their loopback source address (127.0.0.1, 127.0.0.2, …: Linux routes
all of 127/8 to the loopback interface), which is the address the rate limiter keys on. The
servers come from ``test_web`` (``Server``, ``server_factory``): each stops with SIGTERM and
must exit 0.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import socket
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
from support.service import TOKEN, Answer, Server, samples_toml
from support.sites import serving

from syndicator import config as config_module
from syndicator.errors import ConfigErrors
from syndicator.notify.websub import MAX_PENDING_PER_HOST, MAX_PENDING_VERIFICATIONS
from syndicator.web import MAX_CLIENTS, RateLimiter

FORM = "application/x-www-form-urlencoded"
EVIL_ORIGIN = "https://evil.example"
RSS_GROWTH_KIB = 64 * 1024  # a flood may cost buffers and caches, never an unbounded amount


# --------------------------------------------------------------------------------------------
# Clients, subscribers and the service process


def call(
    server: Server,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    *,
    source: str = "127.0.0.1",
    timeout: float = 20.0,
) -> Answer:
    """One request from the loopback address ``source`` on a fresh connection."""
    conn = http.client.HTTPConnection(
        "127.0.0.1", server.port, timeout=timeout, source_address=(source, 0)
    )
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()


def post_hub(
    server: Server,
    form: dict[str, str] | bytes,
    *,
    content_type: str | None = FORM,
    source: str = "127.0.0.1",
) -> Answer:
    body = urlencode(form).encode() if isinstance(form, dict) else form
    headers = {"content-type": content_type} if content_type else {}
    return call(server, "POST", "/hub", headers, body, source=source)


def push(server: Server, body: bytes, *, token: str = TOKEN, source: str = "127.0.0.1") -> Answer:
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    return call(server, "POST", "/api/articles", headers, body, source=source)


def article(name: str) -> bytes:
    return json.dumps(
        {
            "url": f"https://abuse.example/world/{name}",
            "title": f"Story {name}",
            "section": "World",
            "paragraphs": [f"A paragraph about story {name}, long enough to be a body."],
        }
    ).encode()


def raw_exchange(port: int, data: bytes, *, timeout: float = 30.0) -> bytes:
    """Send raw bytes and read the answer until the server closes or the head has arrived."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # Refused before the whole request was read: what it answered is read below.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while b"\r\n\r\n" not in received:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        return received


def service_pid(server: Server) -> int:
    """The service's own process (the server runs under ``timeout``, as a backstop)."""
    assert server.process is not None
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(children[0])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


def stored_subscriptions(server: Server) -> list[tuple[str, str]]:
    path = server.folder / "syndicator.db"
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
        return [(t, c) for t, c in db.execute("SELECT topic, callback FROM subscriptions")]


def articles_stored(server: Server) -> int:
    return len(server.get("/api/articles?limit=500").json())


class Subscriber:
    """A WebSub subscriber on loopback that confirms every verification (echoes the challenge)
    and records them."""

    def __init__(self) -> None:
        self.verifications: list[dict[str, str]] = []
        seen = self.verifications

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                seen.append(query)
                body = query.get("hub.challenge", "").encode()
                self.send_response(200)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.running = ExitStack()
        self.base = self.running.enter_context(serving(Handler))

    def url(self, path: str = "/cb") -> str:
        return self.base + path

    def close(self) -> None:
        self.running.close()


class BlackHoles:
    """Callback hosts that take connections (the kernel completes them) and never answer."""

    def __init__(self, hosts: list[str]) -> None:
        self.sockets: dict[str, socket.socket] = {}
        for host in hosts:
            sock = socket.socket()
            sock.bind((host, 0))
            sock.listen(1024)
            self.sockets[host] = sock

    def url(self, host: str, n: int) -> str:
        return f"http://{host}:{self.sockets[host].getsockname()[1]}/cb/{n}"

    def close(self) -> None:
        for sock in self.sockets.values():
            sock.close()


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    sub = Subscriber()
    try:
        yield sub
    finally:
        sub.close()


def abuse_toml(rate_limit: float | None = None, rate_burst: int | None = None) -> str:
    """Loopback callbacks allowed (the subscribers here are local); the rate limits given."""
    lines = ["[service]"]
    if rate_limit is not None:
        lines.append(f"rate_limit = {rate_limit}")
    if rate_burst is not None:
        lines.append(f"rate_burst = {rate_burst}")
    lines += ["", "[security]", "allow_private_targets = true", ""]
    return "\n".join(lines)


REGION_ONLY = '[[region]]\nid = "world"\ntitle = "World"\nsections = ["World"]\n'


def start(server: Server, *documents: str) -> Server:
    """Write ``documents`` after the server's own [service] and start it, feeds published."""
    (server.config / "20-service.toml").write_text(server.service_toml(), encoding="utf-8")
    for n, text in enumerate(documents):
        (server.config / f"{30 + n}-abuse.toml").write_text(text, encoding="utf-8")
    server.start()
    server.wait_until(lambda: server.get("/feeds/world.atom").status == 200, "world.atom served")
    return server


# --------------------------------------------------------------------------------------------
# One service on the samples for the read-mostly checks (limits high: the bursts are elsewhere)


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("abuse") / "service")
    (server.config / "10-samples.toml").write_text(samples_toml(every="10m"), encoding="utf-8")
    try:
        start(server, abuse_toml(rate_limit=1000, rate_burst=1000))
        server.wait_until_settled()
        yield server
        code = server.stop()
        assert code == 0, server.output()
        assert "Traceback" not in server.output()
    finally:
        server.kill()


# --------------------------------------------------------------------------------------------
# Tokens


@pytest.mark.parametrize("path", ["/api/articles", "/api/reload"])
def test_wrong_tokens_are_refused_and_store_nothing(svc: Server, path: str) -> None:
    before = articles_stored(svc)
    same_length = TOKEN[:-1] + ("x" if TOKEN[-1] != "x" else "y")
    wrong = {
        "same length": f"Bearer {same_length}",
        "shorter": f"Bearer {TOKEN[:-1]}",
        "longer": f"Bearer {TOKEN}0",
        "a prefix of it": f"Bearer {TOKEN[:4]}",
        "empty": "Bearer ",
        "another scheme": f"Basic {TOKEN}",
        "no scheme": TOKEN,
    }
    for what, value in wrong.items():
        headers = {"content-type": "application/json", "authorization": value}
        answer = call(svc, "POST", path, headers, article(f"token-{what}"))
        assert answer.status == 401, what
        assert answer.headers["www-authenticate"].startswith('Bearer realm="syndicator"'), what
        assert answer.json()["error"], what
    missing = call(svc, "POST", path, {"content-type": "application/json"}, article("x"))
    assert missing.status == 401
    assert articles_stored(svc) == before
    for what in wrong:
        url = quote(f"https://abuse.example/world/token-{what}", safe="")
        assert svc.get(f"/api/articles/{url}").status == 404


# --------------------------------------------------------------------------------------------
# Sizes: bodies, headers, URLs


def test_oversized_bodies_are_refused(svc: Server) -> None:
    big = b'{"url": "https://abuse.example/big", "title": "big", "text": "' + b"x" * (6 << 20)
    assert push(svc, big).status == 413
    headers = {"content-type": "application/json", "authorization": f"Bearer {TOKEN}"}
    chunks = (big[i : i + 65536] for i in range(0, len(big), 65536))
    conn = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=20)
    try:
        conn.request("POST", "/api/articles", body=chunks, headers=headers, encode_chunked=True)
        assert conn.getresponse().status == 413
    finally:
        conn.close()
    # The hub takes 64 KiB: a WebSub request is a handful of short parameters.
    form = b"hub.mode=subscribe&hub.secret=" + b"s" * (65 << 10)
    refused = post_hub(svc, form)
    assert refused.status == 413 and b"64 KiB" in refused.body
    assert svc.get("/api/articles/" + quote("https://abuse.example/big", safe="")).status == 404


def test_header_floods_and_long_urls_are_answered(svc: Server) -> None:
    pid = service_pid(svc)
    before = rss_kib(pid)
    head = b"GET /feeds/world.atom HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    cases = {
        "a 1 MiB URL": b"GET /feeds/" + b"a" * (1 << 20) + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        "a 64 KiB query": b"GET /feeds/world.atom?" + b"q" * (64 << 10) + b" HTTP/1.1\r\n\r\n",
        "10,000 headers": head
        + b"".join(b"X-Flood-%d: %s\r\n" % (n, b"v" * 20) for n in range(10_000))
        + b"\r\n",
        "a 1 MiB header": head + b"X-Big: " + b"v" * (1 << 20) + b"\r\n\r\n",
        "a malformed header": head + b"No colon here\r\n\r\n",
        "a bad request line": b"GET\r\n\r\n",
    }
    for what, data in cases.items():
        answer = raw_exchange(svc.port, data)
        status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
        # Answered, or the connection closed; never a server error.
        assert status in (0, 200, 400, 404, 414, 431), (what, answer[:200])
        assert svc.get("/healthz").status == 200, what
        assert svc.get("/feeds/world.atom").status == 200, what
    assert rss_kib(pid) - before < RSS_GROWTH_KIB
    assert "Traceback" not in svc.output()


# --------------------------------------------------------------------------------------------
# Rate limits


def test_rate_limiter_buckets_and_memory() -> None:
    now = [0.0]
    limiter = RateLimiter(2.0, 3, max_clients=100, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]  # the burst
    assert limiter.take("a") == pytest.approx(0.5)  # then one token every 0.5 s
    assert limiter.take("a") == pytest.approx(0.5)  # a refused request costs nothing
    assert limiter.take("b") == 0.0  # another client has its own bucket
    now[0] = 0.5
    assert limiter.take("a") == 0.0
    assert limiter.take("a") == pytest.approx(0.5)
    # Memory: never more than max_clients buckets, the least recently seen dropped first.
    for n in range(10_000):
        limiter.take(f"10.0.{n // 256}.{n % 256}")
    assert len(limiter) == 100
    # A bucket idle long enough to be full again (3 / 2 = 1.5 s) is forgotten.
    now[0] += 1.5
    assert limiter.take("c") == 0.0
    assert len(limiter) == 1
    assert RateLimiter(20.0, 40).max_clients == MAX_CLIENTS


def test_rate_keys_are_validated() -> None:
    base: dict[str, Any] = {"service": {}}
    cfg = config_module.from_documents([("a.toml", base)], environ={})
    assert (cfg.service.rate_limit, cfg.service.rate_burst) == (20.0, 40)
    off = config_module.from_documents(
        [("a.toml", {"service": {"rate_limit": 0, "rate_burst": 1}})], environ={}
    )
    assert (off.service.rate_limit, off.service.rate_burst) == (0.0, 1)
    for key, value in [
        ("rate_limit", -1),
        ("rate_limit", "fast"),
        ("rate_limit", math.inf),
        ("rate_limit", math.nan),
        ("rate_limit", True),
        ("rate_burst", 0),
        ("rate_burst", 2.5),
        ("rate_burst", -3),
    ]:
        with pytest.raises(ConfigErrors) as caught:
            config_module.from_documents([("a.toml", {"service": {key: value}})], environ={})
        assert f"service.{key}" in str(caught.value), (key, value)


def test_writes_past_the_limit_get_429(
    server_factory: Callable[..., Server],
) -> None:
    # 4 at once, then one every 2 s: the refill during the test's first requests stays small.
    server = start(server_factory("limited"), REGION_ONLY, abuse_toml(0.5, 4))
    for _ in range(4):  # cheap writes: authorized, then refused for their empty body
        assert push(server, b"").status == 400
    refused = push(server, article("over"))
    assert refused.status == 429
    assert refused.json()["error"].startswith("too many requests")
    retry = int(refused.headers["retry-after"])
    assert 1 <= retry <= 2
    assert (
        server.get("/api/articles/" + quote("https://abuse.example/world/over", safe="")).status
        == 404
    )
    # The bucket is the client's: the hub and reload share it, other clients have their own.
    subscribe = {"hub.mode": "subscribe", "hub.topic": "x", "hub.callback": "http://x/"}
    hub = post_hub(server, subscribe)
    assert hub.status == 429 and "retry-after" in hub.headers
    reload = call(server, "POST", "/api/reload", {"authorization": f"Bearer {TOKEN}"})
    assert reload.status == 429
    assert push(server, article("other-client"), source="127.0.0.2").status == 200
    # Reads are never limited.
    etag = server.get("/feeds/world.atom").headers["etag"]
    for n in range(60):
        answer = call(server, "GET", "/feeds/world.atom", {"if-none-match": etag} if n % 2 else {})
        assert answer.status in (200, 304)
    for path in ("/healthz", "/api/sources", "/api/articles", "/", "/status", "/metrics"):
        assert call(server, "GET", path).status == 200, path
    # Wrong tokens spend tokens too: guessing is limited like everything else.
    for _ in range(4):
        assert push(server, article("guess"), token="wrong", source="127.0.0.3").status == 401
    assert push(server, article("guess"), source="127.0.0.3").status == 429
    # After Retry-After, the client may write again.
    time.sleep(retry)
    assert push(server, article("after"), source="127.0.0.1").status == 200
    assert server.metric("syndicator_http_requests_total", route="/api/articles", status="429") >= 2
    assert "Traceback" not in server.output()


# --------------------------------------------------------------------------------------------
# WebSub requests (W3C WebSub: 5.1 subscriber sends subscription request)


def bad_hub_requests(base: str) -> list[tuple[str, dict[str, str] | bytes, str | None, int]]:
    topic = f"{base}/feeds/world.atom"
    cb = "http://127.0.0.1:9/cb"
    sub = {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": cb}
    return [
        ("no hub.mode", {"hub.topic": topic, "hub.callback": cb}, FORM, 400),
        ("an unknown hub.mode", {**sub, "hub.mode": "follow"}, FORM, 400),
        ("no hub.topic", {"hub.mode": "subscribe", "hub.callback": cb}, FORM, 400),
        ("a topic elsewhere", {**sub, "hub.topic": "https://else.example/feed.atom"}, FORM, 400),
        ("a feed we do not serve", {**sub, "hub.topic": f"{base}/feeds/nope.atom"}, FORM, 400),
        ("no hub.callback", {"hub.mode": "subscribe", "hub.topic": topic}, FORM, 400),
        ("a relative callback", {**sub, "hub.callback": "/cb"}, FORM, 400),
        ("an ftp callback", {**sub, "hub.callback": "ftp://127.0.0.1/cb"}, FORM, 400),
        ("a javascript: callback", {**sub, "hub.callback": "javascript:alert(1)"}, FORM, 400),
        ("a callback without host", {**sub, "hub.callback": "http:///cb"}, FORM, 400),
        ("a callback with a fragment", {**sub, "hub.callback": cb + "#x"}, FORM, 400),
        ("a callback that is no URL", {**sub, "hub.callback": "http://]x/cb"}, FORM, 400),
        ("a 200-byte secret", {**sub, "hub.secret": "s" * 200}, FORM, 400),
        ("a secret of 200 UTF-8 bytes", {**sub, "hub.secret": "س" * 100}, FORM, 400),
        ("a lease that is not a number", {**sub, "hub.lease_seconds": "soon"}, FORM, 400),
        (
            "unsubscribe, bad callback",
            {**sub, "hub.mode": "unsubscribe", "hub.callback": "x"},
            FORM,
            400,
        ),
        (
            "publish of a feed we do not serve",
            {"hub.mode": "publish", "hub.url": "http://e/"},
            FORM,
            400,
        ),
        ("not a form", b"hub.mode", FORM, 400),
        ("not UTF-8", b"hub.mode=subscribe&hub.topic=\xff\xfe", FORM, 400),
        ("a JSON body", json.dumps(sub).encode(), "application/json", 415),
        ("a text body", urlencode(sub).encode(), "text/plain", 415),
        ("a multipart body", b"--x--", "multipart/form-data; boundary=x", 415),
        ("no content type", urlencode(sub).encode(), None, 415),
    ]


def test_invalid_websub_requests(svc: Server, subscriber: Subscriber) -> None:
    for what, form, content_type, status in bad_hub_requests(svc.base):
        if isinstance(form, dict) and form.get("hub.callback") == "http://127.0.0.1:9/cb":
            form = {**form, "hub.callback": subscriber.url()}
        answer = post_hub(svc, form, content_type=content_type)
        assert answer.status == status, (what, answer.status, answer.body)
        assert answer.headers["content-type"].startswith("text/plain"), what
        assert answer.body.strip(), what  # a reason a person can read
    time.sleep(1.0)  # a verification started by mistake would have reached the subscriber
    assert subscriber.verifications == []
    assert stored_subscriptions(svc) == []


def test_valid_websub_requests_are_accepted_and_verified(
    svc: Server, subscriber: Subscriber
) -> None:
    topic = f"{svc.base}/feeds/world.atom"
    callback = subscriber.url("/valid")
    subscribe = {
        "hub.mode": "subscribe",
        "hub.topic": topic,
        "hub.callback": callback,
        "hub.secret": "s" * 199,  # "less than 200 bytes"
        "hub.lease_seconds": "86400",
    }
    answer = post_hub(svc, subscribe)
    assert answer.status == 202, answer.body
    svc.wait_until(lambda: (topic, callback) in stored_subscriptions(svc), "the subscription")
    (verification,) = subscriber.verifications
    assert verification["hub.mode"] == "subscribe" and verification["hub.topic"] == topic
    assert verification["hub.lease_seconds"] == "86400"
    # Repeated parameters: the first counts.
    repeated = urlencode(subscribe).encode() + b"&hub.mode=publish"
    assert post_hub(svc, repeated).status == 202
    assert post_hub(svc, {"hub.mode": "publish", "hub.url": topic}).status == 202
    assert post_hub(svc, {**subscribe, "hub.mode": "unsubscribe"}).status == 202
    svc.wait_until(lambda: (topic, callback) not in stored_subscriptions(svc), "unsubscribed")


# --------------------------------------------------------------------------------------------
# Subscription floods


class Monitor:
    """A feed reader polling from its own address while something else happens: every answer's
    status and time."""

    def __init__(self, server: Server, source: str = "127.0.0.99") -> None:
        self.server, self.source = server, source
        self.samples: list[tuple[str, int, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Monitor:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        paths = ["/feeds/world.atom", "/healthz", "/feeds/all.json"]
        n = 0
        while not self._stop.is_set():
            path = paths[n % len(paths)]
            started = time.monotonic()
            try:
                status = call(self.server, "GET", path, source=self.source).status
            except OSError:
                status = 0
            self.samples.append((path, status, time.monotonic() - started))
            n += 1
            self._stop.wait(0.05)


def flood(
    server: Server, forms: list[dict[str, str]], sources: list[str], workers: int = 8
) -> list[Answer]:
    def send(n: int) -> Answer:
        return post_hub(server, forms[n], source=sources[n % len(sources)])

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(send, range(len(forms))))


def test_subscription_flood_is_bounded(
    server_factory: Callable[..., Server],
    subscriber: Subscriber,
) -> None:
    server = start(server_factory("flood"), REGION_ONLY, abuse_toml())  # default rate limits
    topic = f"{server.base}/feeds/world.atom"
    pid = service_pid(server)
    for _ in range(20):
        server.get("/feeds/world.atom")
    rss_before = rss_kib(pid)
    hosts = ["127.0.0.1"] + [f"127.0.0.{n}" for n in range(10, 19)]
    holes = BlackHoles(hosts)
    try:
        with Monitor(server) as monitor:
            started = time.monotonic()
            # One client, 500 subscriptions to callbacks on one host that never answers.
            one = flood(
                server,
                [
                    {
                        "hub.mode": "subscribe",
                        "hub.topic": topic,
                        "hub.callback": holes.url(hosts[0], n),
                    }
                    for n in range(500)
                ],
                ["127.0.0.1"],
            )
            # Ten clients, 40 each (their bursts), to nine more such hosts.
            many = flood(
                server,
                [
                    {
                        "hub.mode": "subscribe",
                        "hub.topic": topic,
                        "hub.callback": holes.url(hosts[1 + n % 9], n),
                    }
                    for n in range(400)
                ],
                [f"127.0.0.{n}" for n in range(20, 30)],
            )
            elapsed = time.monotonic() - started
            time.sleep(1.0)  # the monitor keeps polling while the verifications hang
        statuses_one = Counter(a.status for a in one)
        statuses_many = Counter(a.status for a in many)
        assert set(statuses_one) <= {202, 429} and set(statuses_many) <= {202, 429}
        reasons = Counter(a.body.decode().strip() for a in [*one, *many] if a.status == 429)
        assert all("retry-after" in a.headers for a in [*one, *many] if a.status == 429)
        assert any(r.startswith("too many requests from this address") for r in reasons), reasons
        assert any("for this callback host" in r for r in reasons), reasons
        assert any(r.startswith("too many subscription requests waiting") for r in reasons)
        # Verifications hang up to 10 s (the HTTP client's timeout) before their slot is free.
        if elapsed < 9:
            assert statuses_one[202] == MAX_PENDING_PER_HOST, statuses_one
            assert statuses_one[202] + statuses_many[202] == MAX_PENDING_VERIFICATIONS
        else:  # a very slow host: slots were freed during the flood, but still bounded
            rounds = math.ceil(elapsed / 10)
            assert statuses_one[202] + statuses_many[202] <= MAX_PENDING_VERIFICATIONS * rounds
        # Feeds and health answered all along, promptly.
        assert len(monitor.samples) >= 10
        assert all(status == 200 for _, status, _ in monitor.samples), monitor.samples
        worst = max(seconds for _, _, seconds in monitor.samples)
        assert worst < 2.0, worst
        assert stored_subscriptions(server) == []  # nothing answered: nothing stored
        assert rss_kib(pid) - rss_before < RSS_GROWTH_KIB
        # Once the hanging verifications time out, a real subscriber gets through.
        subscribe = {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": subscriber.url()}
        deadline = time.monotonic() + 30
        while (answer := post_hub(server, subscribe, source="127.0.0.100")).status == 429:
            assert time.monotonic() < deadline, "the hanging verifications never timed out"
            time.sleep(1.0)
        assert answer.status == 202
        server.wait_until(
            lambda: stored_subscriptions(server) == [(topic, subscriber.url())], "verified"
        )
    finally:
        holes.close()
    log = server.output()
    assert "Traceback" not in log
    assert "not verified" in log


# --------------------------------------------------------------------------------------------
# Cross-origin requests and the HTML pages' headers


CORS_PATHS = [
    "/feeds/world.atom",
    "/feeds/index.opml",
    "/",
    "/status",
    "/healthz",
    "/metrics",
    "/openapi.json",
    "/api/sources",
    "/api/articles",
    "/api/reload",
    "/hub",
]


def test_no_cors_headers(svc: Server) -> None:
    for path in CORS_PATHS:
        get = call(svc, "GET", path, {"origin": EVIL_ORIGIN})
        preflight = call(
            svc,
            "OPTIONS",
            path,
            {
                "origin": EVIL_ORIGIN,
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
            },
        )
        assert preflight.status in (404, 405), (path, preflight.status)
        for answer in (get, preflight):
            assert not [h for h in answer.headers if h.startswith("access-control-")], path
    # A cross-origin write with a token still needs the token, and gets no CORS grant.
    refused = call(
        svc,
        "POST",
        "/api/articles",
        {"origin": EVIL_ORIGIN, "content-type": "text/plain"},
        article("cors"),
    )
    assert refused.status == 401 and "access-control-allow-origin" not in refused.headers


HTML_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: http: data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def test_html_pages_carry_security_headers(svc: Server) -> None:
    index = call(svc, "GET", "/")
    answers = {
        "/": index,
        "/ (304)": call(svc, "GET", "/", {"if-none-match": index.headers["etag"]}),
        "HEAD /": call(svc, "HEAD", "/"),
        "/status": call(svc, "GET", "/status"),
        "HEAD /status": call(svc, "HEAD", "/status"),
        "/status/outbox": call(svc, "GET", "/status/outbox"),
        "/status/sources/sample-world": call(svc, "GET", "/status/sources/sample-world"),
        "/feeds/world.html": call(svc, "GET", "/feeds/world.html"),
    }
    assert answers["/ (304)"].status == 304
    for what, answer in answers.items():
        for name, value in HTML_HEADERS.items():
            assert answer.headers.get(name) == value, (what, name)

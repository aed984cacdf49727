"""Local HTTP servers for tests, all on loopback with a free port.

- ``FixtureSite`` / ``run_fixture_site``: the project's fixture news site
  (``tests/fixture_site.py`` over ``tests/fixtures``), as a process; conftest.py's
  ``fixture_site``, ``private_site`` and ``shared_site`` fixtures start it.
- ``Receiver`` / ``run_receiver``: ``tests/receiver.py``, a webhook target and WebSub
  subscriber, as a process (the ``receiver`` fixture).
- ``Site``: a small site in this process whose pages a test sets, changes and takes down, with
  ETags and 304s as a real server gives them.
- ``HostileSite``: a server in this process whose every answer a test chooses (status,
  headers, body, trickled or not); the ``hostile_site`` fixture.
- ``SlowSubscriber``: a WebSub subscriber that answers its Nth verification after a delay,
  or only once it has answered another.
"""

from __future__ import annotations

import hashlib
import http.client
import http.server
import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

TESTS = Path(__file__).resolve().parents[1]
FIXTURES = TESTS / "fixtures"
FIXTURE_SERVER = TESTS / "fixture_site.py"
# A backstop only: the server is stopped at the end of the session. Long enough for a full run.
FIXTURE_SERVER_MAX_SECONDS = 900
STARTUP_SECONDS = 15.0
# How often a server in a thread looks whether it is asked to stop: shutdown() waits up to this
# long (the standard library's 0.5 s made every test with a site of its own wait that at the end).
STOP_POLL = 0.05


PARAGRAPHS = "".join(
    f"<p>فقرة رقم {i} من الخبر، وفيها ما يكفي من الكلام ليكون نصاً.</p>" for i in range(6)
)


class Site:
    """Pages by path; a page set to an int answers that status."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes | int] = {}
        self.requests: list[str] = []  # the paths asked for, in order
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                site.requests.append(self.path)
                page = site.pages.get(self.path, 404)
                if isinstance(page, int):
                    self.send_response(page)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                etag = '"' + hashlib.sha256(page).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                kind = (
                    "application/rss+xml" if self.path.endswith((".rss", ".xml")) else "text/html"
                )
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": STOP_POLL}, daemon=True
        )
        self.thread.start()

    def article(self, slug: str, title: str) -> None:
        self.pages[f"/a/{slug}.html"] = (
            f'<html lang="ar"><head><meta property="og:type" content="article">'
            f'<meta property="article:section" content="أوروبا">'
            f'<meta property="article:published_time" content="2026-02-10T09:00:00Z">'
            f"<title>{title}</title></head><body><article><h1>{title}</h1>"
            f'<div class="article-body">{PARAGRAPHS}</div></article></body></html>'
        ).encode()

    def listing(self, slugs: list[str]) -> None:
        cards = "".join(
            f'<article class="card"><h2><a href="/a/{s}.html">عنوان الخبر {s} الطويل</a></h2>'
            f"</article>"
            for s in slugs
        )
        self.pages["/europe.html"] = f"<html><body><main>{cards}</main></body></html>".encode()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# A hostile site: a loopback HTTP server whose every answer a test chooses


@dataclass
class Route:
    """One path's answer: status, headers and body, sent at once or ``drip`` seconds apart
    per ``chunk`` bytes (a server that trickles its body)."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    drip: float = 0.0
    chunk: int = 1


class HostileSite:
    """A threaded HTTP/1.1 server on ``host`` (a loopback address) and a free port. Paths
    without a route answer 404 (robots.txt included); ``seen`` lists the paths asked for."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[str] = []
        self._stop = threading.Event()
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                site.seen.append(self.path)
                route = site.routes.get(self.path) or Route(b"not here", 404)
                try:
                    self.send_response(route.status)
                    for key, value in route.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(route.body)))
                    self.end_headers()
                    if not route.drip:
                        self.wfile.write(route.body)
                        return
                    self.wfile.flush()
                    for n in range(0, len(route.body), route.chunk):
                        if site._stop.wait(route.drip):
                            break
                        self.wfile.write(route.body[n : n + route.chunk])
                        self.wfile.flush()
                except OSError:  # the client hung up: what some tests are for
                    self.close_connection = True

        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://{host}:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": STOP_POLL}, daemon=True
        )
        self._thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def route(
        self,
        path: str,
        body: bytes | str,
        *,
        status: int = 200,
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
        drip: float = 0.0,
        chunk: int = 1,
    ) -> str:
        """Answer ``path`` so from now on; returns its URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        sent = {"Content-Type": content_type, **(headers or {})}
        self.routes[path] = Route(data, status, sent, drip, chunk)
        return self.url(path)

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)


@contextmanager
def serving(
    handler: type[BaseHTTPRequestHandler], poll_interval: float = STOP_POLL
) -> Iterator[str]:
    """A test module's own request handler served on loopback, a thread per connection; yields
    the base URL (``http://127.0.0.1:PORT``) and stops the server when the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass(frozen=True)
class FixtureSite:
    """The running fixture site: ``base`` is ``http://127.0.0.1:PORT`` (no trailing slash)."""

    base: str

    def url(self, path: str) -> str:
        return self.base + "/" + path.lstrip("/")

    def set_phase(self, phase: str) -> None:
        """Serve the site as it was (``"base"``) or after its update (``"update"``).

        The site is shared by the whole session: a test that changes the phase sets it back.
        """
        if phase not in ("base", "update"):
            raise ValueError(f"unknown phase {phase!r}")
        self._get(f"/__control/phase/{phase}")

    def requests(self) -> list[dict[str, Any]]:
        """The server's request log so far (method, path, status, validators, user agent…)."""
        log: list[dict[str, Any]] = json.loads(self._get("/__requests"))
        return log

    def _get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url(path), timeout=10) as response:
            body: bytes = response.read()
            return body


@contextmanager
def run_fixture_site(folder: Path, root: Path = FIXTURES) -> Iterator[FixtureSite]:
    folder.mkdir(parents=True, exist_ok=True)
    portfile = folder / "port"
    process = subprocess.Popen(
        [
            sys.executable,
            str(FIXTURE_SERVER),
            "--root",
            str(root),
            "--port",
            "0",
            "--portfile",
            str(portfile),
            "--max-seconds",
            str(FIXTURE_SERVER_MAX_SECONDS),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port = _wait_for_port(portfile, process)
        yield FixtureSite(f"http://127.0.0.1:{port}")
    finally:
        process.kill()
        process.wait(timeout=10)


def _wait_for_port(portfile: Path, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the fixture server exited with code {process.returncode}")
        text = portfile.read_text().strip() if portfile.exists() else ""
        if text.isdigit():
            return int(text)
        time.sleep(0.02)
    pytest.fail(f"the fixture server did not start within {STARTUP_SECONDS:.0f} s")


@dataclass(frozen=True)
class Receiver:
    """``tests/receiver.py``: records webhook POSTs and answers WebSub verifications."""

    base: str

    def received(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self.base + "/__received", timeout=10) as response:
            data: list[dict[str, Any]] = json.loads(response.read())
            return data

    def posts(self) -> list[dict[str, Any]]:
        return [r for r in self.received() if r["kind"] == "post"]


@contextmanager
def run_receiver(folder: Path, fail_first: int = 0) -> Iterator[Receiver]:
    """The project's own receiver (``tests/receiver.py``) on a free loopback port."""
    folder.mkdir(parents=True, exist_ok=True)
    portfile = folder / "port"
    process = subprocess.Popen(
        [
            sys.executable,
            str(TESTS / "receiver.py"),
            "--port",
            "0",
            "--portfile",
            str(portfile),
            "--fail-first",
            str(fail_first),
            "--max-seconds",
            "600",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port = _wait_for_port(portfile, process)
        yield Receiver(f"http://127.0.0.1:{port}")
    finally:
        process.kill()
        process.wait(timeout=10)


class SlowSubscriber:
    """A subscriber on loopback that confirms every verification; the Nth verification it is
    asked for waits ``delays[N]`` seconds before its answer (none past the list), or, with
    ``after={N: M}``, waits until it has answered its Mth (at most ``HOLD`` seconds): an order
    of answers that does not hang on how fast anything runs."""

    HOLD = 30.0

    def __init__(self, delays: Sequence[float] = (), after: dict[int, int] | None = None) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        self.asked: list[str] = []
        subscriber = self
        lock = threading.Lock()
        answered: dict[int, threading.Event] = {}
        holds = after or {}

        def event(n: int) -> threading.Event:
            with lock:
                return answered.setdefault(n, threading.Event())

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                with lock:
                    n = len(subscriber.asked)
                    subscriber.asked.append(query["hub.mode"])
                if n in holds:
                    event(holds[n]).wait(SlowSubscriber.HOLD)
                else:
                    time.sleep(delays[n] if n < len(delays) else 0.0)
                body = query["hub.challenge"].encode()
                try:
                    self.send_response(200)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the hub gave up on this one
                    pass
                finally:
                    event(n).set()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": STOP_POLL}, daemon=True
        )
        self.thread.start()
        self.callback = f"http://127.0.0.1:{self.httpd.server_address[1]}/cb?id=1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

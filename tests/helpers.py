"""Helpers that several test modules share (import as ``from helpers import …``).

``postgres_database`` makes a fresh PostgreSQL database for a test and drops it afterwards
(skipping the test, saying why, where no server answers).

``Site`` is a small web site on loopback whose pages a test sets, changes and takes down, with
ETags and 304s as a real server gives them.

``jing_validate`` checks Atom documents against RFC 4287's RELAX NG schema (the project's own
copy, ``tests/data/atom.rnc``) with jing (``apt-get install jing``). Without jing the check is
not run, and the test goes on: the checks after it still run, and a test that passes them all
is reported as skipped, saying that jing is missing and how to install it (conftest.py).
``HostileSite`` is a loopback server whose every answer a test chooses (status, headers, body,
trickled or not); ``Deployment`` is a one-file config in a temporary folder run through
``python -m syndicator``.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

POSTGRES = os.environ.get(
    "SYNDICATOR_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432"
)
ATOM_SCHEMA = Path(__file__).resolve().parent / "data" / "atom.rnc"
NO_JING = "jing is not installed (apt-get install jing): the Atom schema check was not run"
# Checks a test could not run (an outside tool is missing), by test id: conftest.py reports a
# test that passed everything else as skipped, with these reasons.
NOT_RUN: dict[str, list[str]] = {}


def not_run(reason: str) -> None:
    """Note that a check of the current test could not run; the test goes on."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    NOT_RUN.setdefault(test, []).append(reason)


def jing_validate(*paths: Path | str, schema: Path = ATOM_SCHEMA) -> None:
    """Validate each file against ``schema`` (RELAX NG compact syntax) in one jing run.

    Fails the test with jing's messages when a file is invalid. Without jing, notes the check
    as not run and returns: the rest of the test still runs."""
    if not paths:
        raise ValueError("jing_validate needs at least one file")
    jing = shutil.which("jing")
    if jing is None:
        not_run(NO_JING)
        return
    run = subprocess.run(
        [jing, "-c", str(schema), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # jing prints its findings on stdout; stderr only carries launcher warnings about jars.
    if run.returncode != 0 or run.stdout.strip():
        pytest.fail(f"jing rejected the document(s):\n{run.stdout}{run.stderr}", pytrace=False)


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
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
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


@contextmanager
def postgres_database(prefix: str = "syndicator_test") -> Iterator[str]:
    """The URL of a fresh PostgreSQL database, dropped afterwards (its connections too)."""
    import sqlalchemy as sa

    admin = sa.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError:
        admin.dispose()
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES}: PostgreSQL tests skipped")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --------------------------------------------------------------------------------------------
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
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
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


# --------------------------------------------------------------------------------------------
# A small deployment of the real command line


class Deployment:
    """One config file (``[service]`` in a temporary folder, one region ``world`` that every
    source feeds, the sources given), run with ``python -m syndicator``."""

    def __init__(self, folder: Path, sources: str = "", extra: str = "") -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.feeds = folder / "feeds"
        self.database = os.environ.get("SYNDICATOR_DATABASE") or f"sqlite:///{folder}/s.db"
        self.config = folder / "syndicator.toml"
        self.config.write_text(
            f'[service]\nbase_url = "http://127.0.0.1:8080"\n'
            f'database = "sqlite:///{folder}/s.db"\nfeeds_dir = "{self.feeds}"\n'
            f"{extra}\n"
            '[[region]]\nid = "world"\ntitle = "World"\n' + sources,
            encoding="utf-8",
        )

    @staticmethod
    def source(source_id: str, kind: str, url: str, **more: Any) -> str:
        settings = "".join(f"{k} = {json.dumps(v)}\n" for k, v in more.items())
        return (
            f'\n[[source]]\nid = "{source_id}"\nkind = "{kind}"\nurl = "{url}"\n'
            f'regions = ["world"]\n{settings}'
        )

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "SYNDICATOR_CONFIG"}
        return subprocess.run(
            [sys.executable, "-m", "syndicator", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.folder,
            env=env,
        )

    def feed(self, name: str = "world.json") -> Any:
        text = (self.feeds / name).read_text(encoding="utf-8")
        return json.loads(text) if name.endswith(".json") else text


def wait_for(check: Any, what: str, seconds: float = 30, interval: float = 0.1) -> Any:
    """``check()``'s first true answer, asked every ``interval`` s; AssertionError naming
    ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"not within {seconds:.0f} s: {what}")

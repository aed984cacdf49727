"""Helpers that several test modules share (import as ``from helpers import …``).

``postgres_database`` makes a fresh PostgreSQL database for a test and drops it afterwards
(skipping the test, saying why, where no server answers).

``Site`` is a small web site on loopback whose pages a test sets, changes and takes down, with
ETags and 304s as a real server gives them.

``jing_validate`` checks Atom documents against RFC 4287's RELAX NG schema in
``../shared/schemas/atom.rnc`` with jing (``apt-get install jing``); a test that calls it is
skipped, with the reason, when jing or the shared folder is missing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
POSTGRES = os.environ.get(
    "SYNDICATOR_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432"
)
ATOM_SCHEMA = SHARED / "schemas" / "atom.rnc"


def jing_validate(*paths: Path | str, schema: Path = ATOM_SCHEMA) -> None:
    """Validate each file against ``schema`` (RELAX NG compact syntax) in one jing run.

    Fails the test with jing's messages when a file is invalid; skips it when jing is not
    installed or the schema is not there."""
    if not paths:
        raise ValueError("jing_validate needs at least one file")
    jing = shutil.which("jing")
    if jing is None:
        pytest.skip("jing is not installed (apt-get install jing): Atom schema checks skipped")
    if not schema.is_file():
        pytest.skip(f"{schema} is missing (../shared is absent): Atom schema checks skipped")
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

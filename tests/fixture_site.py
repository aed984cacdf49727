#!/usr/bin/env python3
"""The project's fixture news site on loopback, for tests: the files of ``tests/fixtures/``
served with the behaviour of a real site, and the faults a real site has.

    python3 tests/fixture_site.py [--port 0] [--portfile FILE] [--root DIR] [--phase base|update]
                                  [--max-seconds S]

Paths (under ``--root``, by default tests/fixtures):
  /…                 the site (``site/``); in phase ``update``, ``site-update/`` over it
  /partner/…         a partner site that reprints a story (``partner/``)
  /broken/…          documents a reader must refuse or survive (``broken/``)
  /__control/phase/base | update   switch the phase (any method)
  /__requests        every request answered so far, as JSON
  /__fault/status/CODE             that status
  /__fault/slow/SECONDS            an answer after SECONDS (at most 60)
  /__fault/huge/MB                 MB mebibytes of HTML-like text, announced (at most 512)
  /__fault/redirect-loop           a redirect to itself
  /__fault/gzip-bomb               1 MiB of gzip that inflates to 1 GiB
  /__fault/retry-after/SECONDS     429 with Retry-After
  /__fault/flaky/N/PATH            503 for the first N requests of that path, then PATH
  /__fault/reset                   the connection closed without an answer

``{{BASE}}`` in a file becomes the site's own base URL. Files get a strong ETag and the
phase's Last-Modified; If-None-Match and If-Modified-Since get 304. HTML goes out without a
charset, so that a page's own ``<meta>`` says its encoding. Binds 127.0.0.1 only; stops by
itself after ``--max-seconds``. Standard library only.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import threading
import time
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MEDIA_TYPES = {
    ".html": "text/html",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".xml": "application/xml",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".jpg": "image/jpeg",
}
LAST_MODIFIED = {"base": "Tue, 10 Feb 2026 17:00:00 GMT", "update": "Wed, 11 Feb 2026 08:00:00 GMT"}
FOLDERS = {"partner/": "partner", "broken/": "broken"}


class Site:
    """The state the requests share: the phase, the request log, the flaky counters."""

    def __init__(self, root: Path, phase: str) -> None:
        self.root = root.resolve()
        self.phase = phase
        self.lock = threading.Lock()
        self.log: list[dict[str, Any]] = []
        self.flaky: dict[str, int] = {}
        self._bomb: bytes | None = None

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.log.append(entry)

    def bomb(self) -> bytes:
        with self.lock:
            if self._bomb is None:
                self._bomb = gzip.compress(bytes(1 << 30), compresslevel=9, mtime=0)
            return self._bomb

    def file(self, path: str) -> tuple[Path, str] | None:
        """The file a path names and the phase it belongs to, or None (never outside root)."""
        relative = path.lstrip("/") or "index.html"
        if relative.endswith("/"):
            relative += "index.html"
        for prefix, folder in FOLDERS.items():
            if relative.startswith(prefix):
                candidates = [(self.root / folder / relative[len(prefix) :], "base")]
                break
        else:
            candidates = [(self.root / "site" / relative, "base")]
            if self.phase == "update":
                candidates.insert(0, (self.root / "site-update" / relative, "update"))
        for candidate, phase in candidates:
            resolved = candidate.resolve()
            if resolved.is_relative_to(self.root) and resolved.is_file():
                return resolved, phase
        return None


def handler_for(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "syndicator-fixture-site/1"

        def log_message(self, format: str, *args: Any) -> None:
            return  # the request log is the record

        @property
        def base(self) -> str:
            host, port = self.server.server_address[:2]
            return f"http://{host}:{port}"

        def answer(
            self, status: int, body: bytes = b"", headers: dict[str, str] | None = None
        ) -> None:
            headers = dict(headers or {})
            headers.setdefault("Content-Length", str(len(body)))
            # Recorded before the answer is sent: a client that reads the log as soon as it has
            # its answer finds the request there.
            site.record(
                {
                    "t": time.time(),
                    "method": self.command,
                    "path": self.path,
                    "status": status,
                    "if_none_match": self.headers.get("If-None-Match"),
                    "if_modified_since": self.headers.get("If-Modified-Since"),
                    "user_agent": self.headers.get("User-Agent"),
                    "phase": site.phase,
                }
            )
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD" and body:
                    self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_POST(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path.startswith("/__control/phase/"):
                phase = path.rsplit("/", 1)[1]
                if phase not in LAST_MODIFIED:
                    self.answer(400, b"unknown phase\n")
                    return
                site.phase = phase
                self.answer(200, f"phase {phase}\n".encode())
            elif path == "/__requests":
                with site.lock:
                    body = json.dumps(site.log, ensure_ascii=False).encode()
                self.answer(200, body, {"Content-Type": "application/json"})
            elif path.startswith("/__fault/"):
                self.fault(path.removeprefix("/__fault/").split("/"))
            else:
                self.serve(path)

        def serve(self, path: str) -> None:
            found = site.file(path)
            if found is None:
                page = b"<!DOCTYPE html><html><body><h1>Not found</h1></body></html>\n"
                self.answer(404, page, {"Content-Type": "text/html"})
                return
            file, phase = found
            body = file.read_bytes().replace(b"{{BASE}}", self.base.encode())
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            modified = LAST_MODIFIED[phase]
            headers = {
                "ETag": etag,
                "Last-Modified": modified,
                "Cache-Control": "max-age=60",
                "Content-Type": MEDIA_TYPES.get(file.suffix, "application/octet-stream"),
            }
            if self.not_modified(etag, modified):
                del headers["Content-Type"]
                self.answer(304, b"", headers | {"Content-Length": "0"})
                return
            self.answer(200, body, headers)

        def not_modified(self, etag: str, modified: str) -> bool:
            tags = self.headers.get("If-None-Match")
            if tags is not None:  # it wins over If-Modified-Since (RFC 9110 13.2.2)
                return tags.strip() == "*" or etag in (t.strip() for t in tags.split(","))
            since = self.headers.get("If-Modified-Since")
            if not since:
                return False
            try:
                return parsedate_to_datetime(since) >= parsedate_to_datetime(modified)
            except (TypeError, ValueError):
                return False

        def fault(self, parts: list[str]) -> None:
            kind, args = parts[0], parts[1:]
            text = {"Content-Type": "text/plain"}
            if kind == "status" and args and args[0].isdigit():
                self.answer(int(args[0]), f"status {args[0]}\n".encode(), text)
            elif kind == "slow" and args:
                time.sleep(min(float(args[0]), 60.0))
                self.answer(
                    200, b"<html><body><p>late</p></body></html>\n", {"Content-Type": "text/html"}
                )
            elif kind == "huge" and args and args[0].isdigit():
                self.huge(min(int(args[0]), 512))
            elif kind == "redirect-loop":
                self.answer(302, b"", {"Location": "/__fault/redirect-loop"})
            elif kind == "gzip-bomb":
                headers = {"Content-Type": "text/html", "Content-Encoding": "gzip"}
                self.answer(200, site.bomb(), headers)
            elif kind == "retry-after" and args:
                self.answer(429, b"too many requests\n", text | {"Retry-After": args[0]})
            elif kind == "flaky" and len(args) > 1 and args[0].isdigit():
                target = "/" + "/".join(args[1:])
                key = f"{args[0]}:{target}"
                with site.lock:
                    seen = site.flaky.get(key, 0)
                    site.flaky[key] = seen + 1
                if seen < int(args[0]):
                    self.answer(503, b"try again later\n", text)
                else:
                    self.serve(target)
            elif kind == "reset":
                self.close_connection = True
                self.connection.close()
            else:
                self.answer(404, b"no such fault\n", text)

        def huge(self, mebibytes: int) -> None:
            block = (b"<p>" + b"y" * 1017 + b"</p>\n") * 1024  # 1 MiB
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(mebibytes * len(block)))
                self.end_headers()
                for _ in range(mebibytes):
                    self.wfile.write(block)
            except (BrokenPipeError, ConnectionResetError):
                pass
            site.record(
                {"t": time.time(), "method": self.command, "path": self.path, "status": 200}
            )

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--portfile", type=Path)
    parser.add_argument("--root", type=Path, default=FIXTURES)
    parser.add_argument("--phase", choices=sorted(LAST_MODIFIED), default="base")
    parser.add_argument("--max-seconds", type=float, default=900)
    args = parser.parse_args()
    site = Site(args.root, args.phase)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(site))
    server.daemon_threads = True
    if args.portfile:
        args.portfile.write_text(str(server.server_address[1]))
    stopper = threading.Timer(args.max_seconds, server.shutdown)
    stopper.daemon = True
    stopper.start()
    server.serve_forever(poll_interval=0.1)


if __name__ == "__main__":
    main()

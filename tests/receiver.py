#!/usr/bin/env python3
"""A downstream site on loopback, for tests: the target of webhooks and the subscriber of
WebSub callbacks. It keeps everything it was sent and shows it at ``GET /__received``.

    python3 tests/receiver.py [--port 0] [--portfile FILE] [--fail-first N] [--max-seconds S]

- ``POST`` anything: kept (path, headers, body as text, or base64 when it is not UTF-8); the
  answer is 204, or 500 for the first N posts (``--fail-first``: retries get exercised).
- ``GET`` with ``hub.mode`` subscribe or unsubscribe and a ``hub.challenge``: a WebSub intent
  verification, kept and answered with the challenge.
- ``GET /__received``: every request kept so far, oldest first, as a JSON list of objects with
  ``kind`` (``post``, ``verify`` or ``get``), ``path`` and the rest.

It binds 127.0.0.1 only, and stops by itself after ``--max-seconds``. Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MAX_BODY = 10 * 1024 * 1024


class Journal:
    """What the receiver was sent, and how many posts it should still refuse."""

    def __init__(self, fail_first: int) -> None:
        self.lock = threading.Lock()
        self.entries: list[dict[str, Any]] = []
        self.refusals_left = fail_first

    def keep(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.entries.append({"at": time.time(), **entry})

    def refuse_next(self) -> bool:
        with self.lock:
            if self.refusals_left > 0:
                self.refusals_left -= 1
                return True
            return False

    def dump(self) -> bytes:
        with self.lock:
            return json.dumps(self.entries, ensure_ascii=False).encode()


def handler_for(journal: Journal) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return  # the journal is the record

        def answer(self, status: int, body: bytes = b"", kind: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/__received":
                self.answer(200, journal.dump(), "application/json")
                return
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            mode = query.get("hub.mode")
            if mode in ("subscribe", "unsubscribe") and "hub.challenge" in query:
                journal.keep({"kind": "verify", "path": parts.path, "query": query})
                self.answer(200, query["hub.challenge"].encode())
                return
            journal.keep({"kind": "get", "path": parts.path, "query": query})
            self.answer(404, b"nothing here\n")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(min(length, MAX_BODY))
            try:
                body, encoding = raw.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                body, encoding = base64.b64encode(raw).decode("ascii"), "base64"
            refused = journal.refuse_next()
            journal.keep(
                {
                    "kind": "post",
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "body": body,
                    "encoding": encoding,
                    "answered": 500 if refused else 204,
                }
            )
            if refused:
                self.answer(500, b"refused on purpose\n")
            else:
                self.answer(204)

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--portfile", type=Path)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=900)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(Journal(args.fail_first)))
    server.daemon_threads = True
    if args.portfile:
        args.portfile.write_text(str(server.server_address[1]))
    stopper = threading.Timer(args.max_seconds, server.shutdown)
    stopper.daemon = True
    stopper.start()
    server.serve_forever(poll_interval=0.1)


if __name__ == "__main__":
    main()

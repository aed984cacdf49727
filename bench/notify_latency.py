"""Benchmark: notification latency, from ``POST /api/articles`` returning to the article's arrival
at a webhook target and at a WebSub subscriber of our built-in hub.

    .venv/bin/python bench/notify_latency.py [--articles 300] [--rate 20] [--burst 100]
                                             [--debounce 2,0.2] [--max-delay S] [--entries 50]
                                             [--json]

For each ``[publish] debounce`` given (with ``[publish] max_delay = --max-delay`` when given), in
turn: the real ``syndicator run`` in a temporary folder
(one region, no sources, ``entries_per_feed = --entries``, ``allow_private_targets``), with one
webhook target for ``article.created`` (signed) and, subscribed through ``POST /hub`` with a
secret, one WebSub callback on ``world.atom``. Both receivers live in this process, on loopback,
in a threaded HTTP/1.1 server (keep-alive) that checks every signature and notes the monotonic
time an article is first seen: in the ``article.created`` event for the webhook, and as an
entry of a distributed feed for WebSub. The pusher sends ``--articles`` articles one by one, at
``--rate`` a second, each on a keep-alive connection, and notes when each POST returned.

Then, once all is delivered, ``--burst`` more articles in one NDJSON POST: how long until each
is notified (the whole burst is one store transaction, one publish, and one delivery per
article and webhook target, sent in order).

Latency = first arrival − POST returned (negative: it arrived before the answer was read).
A WebSub distribution is the whole feed, its newest ``entries_per_feed`` entries: an article
pushed out of the window before a publish is never distributed, and is counted as missed. Not
part of the test suite; it starts and stops everything itself.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from syndicator.notify.webhooks import verify
from syndicator.notify.websub import hub_signature

TOKEN = "bench-token"
HOOK_SECRET = "bench-hook-secret"
SUB_SECRET = "bench-subscriber-secret"
ARTICLE_URL = re.compile(rb"https://bench\.example/story/(\d+)")


# --------------------------------------------------------------------------------------------
# The receivers: webhook target and WebSub subscriber, in one threaded server


@dataclass
class Arrivals:
    lock: threading.Lock = field(default_factory=threading.Lock)
    webhook: dict[int, float] = field(default_factory=dict)  # article → first arrival
    websub: dict[int, float] = field(default_factory=dict)
    webhook_posts: int = 0
    distributions: int = 0
    bad_signatures: int = 0
    verified: bool = False


def receiver(arrivals: Arrivals) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the notifier reuses its connections

        def log_message(self, *args: Any) -> None:
            pass

        def answer(self, status: int, body: bytes = b"") -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # WebSub intent verification
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            if query.get("hub.mode") == "subscribe" and "hub.challenge" in query:
                arrivals.verified = True
                return self.answer(200, query["hub.challenge"].encode())
            return self.answer(404)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            now = time.monotonic()
            if self.path == "/hook":
                ok = verify(
                    HOOK_SECRET,
                    self.headers.get("X-Syndicator-Timestamp", ""),
                    body,
                    self.headers.get("X-Syndicator-Signature-256", ""),
                )
                found = ARTICLE_URL.search(json.loads(body)["article"]["url"].encode())
                ids = [int(found.group(1))] if found else []
            else:
                ok = self.headers.get("X-Hub-Signature") == hub_signature(SUB_SECRET, body)
                ids = [int(n) for n in set(ARTICLE_URL.findall(body))]
            with arrivals.lock:
                if not ok:
                    arrivals.bad_signatures += 1
                elif self.path == "/hook":
                    arrivals.webhook_posts += 1
                    for n in ids:
                        arrivals.webhook.setdefault(n, now)
                else:
                    arrivals.distributions += 1
                    for n in ids:
                        arrivals.websub.setdefault(n, now)
            self.answer(204)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


# --------------------------------------------------------------------------------------------
# The service


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write_config(
    folder: Path, port: int, hook: str, debounce: float, entries: int, max_delay: float | None
) -> Path:
    config = folder / "syndicator.toml"
    longest = "" if max_delay is None else f"max_delay = {max_delay}"
    config.write_text(
        f"""
[service]
base_url = "http://127.0.0.1:{port}"
listen = "127.0.0.1:{port}"
database = "sqlite:///{folder}/store.db"
feeds_dir = "{folder}/feeds"

[publish]
debounce = {debounce}
{longest}
entries_per_feed = {entries}
formats = ["atom", "rss", "json"]

[security]
allow_private_targets = true

[[region]]
id = "world"
title = "World"
language = "en"
sections = ["World"]

[[notify]]
id = "bench"
kind = "webhook"
url = "{hook}"
secret_env = "BENCH_HOOK_SECRET"
events = ["article.created"]
""",
        encoding="utf-8",
    )
    return config


@contextlib.contextmanager
def running(folder: Path, config: Path, port: int) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    env.update(SYNDICATOR_API_TOKEN=TOKEN, BENCH_HOOK_SECRET=HOOK_SECRET)
    with (folder / "run.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "syndicator", "--config", str(config), "run"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"syndicator run did not start; see {folder / 'run.log'}")
            with contextlib.suppress(OSError), urllib.request.urlopen(base + "/healthz") as r:
                if r.status in (200, 503):
                    break
            time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def subscribe(base: str, callback: str, arrivals: Arrivals) -> None:
    form = urllib.parse.urlencode(
        {
            "hub.mode": "subscribe",
            "hub.topic": f"{base}/feeds/world.atom",
            "hub.callback": callback,
            "hub.secret": SUB_SECRET,
        }
    ).encode()
    request = urllib.request.Request(
        base + "/hub", data=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
    deadline = time.monotonic() + 10
    while not arrivals.verified:
        if time.monotonic() > deadline:
            raise SystemExit("the WebSub subscription was not verified")
        time.sleep(0.02)


def article(n: int, run: str) -> dict[str, Any]:
    return {
        "url": f"https://bench.example/story/{n}",
        "title": f"Story {n} of run {run}",
        "regions": ["world"],
        "paragraphs": [f"Paragraph of story {n}: enough words to make it a body of text."],
    }


def push_burst(port: int, first: int, count: int, run: str) -> float:
    """``count`` articles in one NDJSON POST; returns when it returned."""
    body = "\n".join(json.dumps(article(n, run)) for n in range(first, first + count))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {TOKEN}"}
    conn.request("POST", "/api/articles", body + "\n", headers)
    response = conn.getresponse()
    answer = response.read()
    returned = time.monotonic()
    conn.close()
    if response.status != 200:
        raise SystemExit(f"burst: HTTP {response.status} {answer[:200]!r}")
    return returned


def push_all(port: int, count: int, rate: float, run: str) -> dict[int, float]:
    """POST ``count`` articles, one every 1/rate s; returns article → when its POST returned."""
    returned: dict[int, float] = {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    start = time.monotonic()
    for n in range(count):
        wait = start + n / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        conn.request("POST", "/api/articles", json.dumps(article(n, run)), headers)
        response = conn.getresponse()
        body = response.read()
        returned[n] = time.monotonic()
        if response.status != 200 or json.loads(body)["results"][0]["change"] != "created":
            raise SystemExit(f"push {n}: HTTP {response.status} {body[:200]!r}")
    conn.close()
    return returned


# --------------------------------------------------------------------------------------------


def publish_seconds(base: str) -> tuple[int, float]:
    """How many publishes the service made, and their total seconds (its /metrics)."""
    with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
        text = response.read().decode()
    found = dict(re.findall(r"^syndicator_publish_seconds_(count|sum) (\S+)$", text, re.M))
    return int(float(found.get("count", 0))), float(found.get("sum", 0))


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": ordered[-1],
        "min": ordered[0],
        "mean": statistics.fmean(ordered),
    }


def wait_all(arrivals: Arrivals, ids: range, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with arrivals.lock:
            if all(n in arrivals.webhook and n in arrivals.websub for n in ids):
                return
        time.sleep(0.02)


def one_run(
    debounce: float, count: int, rate: float, entries: int, burst: int, max_delay: float | None
) -> dict[str, Any]:
    arrivals = Arrivals()
    server = receiver(arrivals)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    recv = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with tempfile.TemporaryDirectory(prefix="syndicator-latency-") as tmp:
            folder, port = Path(tmp), free_port()
            config = write_config(folder, port, recv + "/hook", debounce, entries, max_delay)
            with running(folder, config, port) as base:
                subscribe(base, recv + "/websub", arrivals)
                returned = push_all(port, count, rate, f"{debounce}")
                # Wait for every webhook, and for WebSub until a publish can no longer come.
                wait_all(arrivals, range(count), max(debounce * 10, max_delay or 0) + 5)
                burst_returned = 0.0
                if burst:
                    time.sleep(debounce + 1)  # the last publish and its deliveries are done
                    burst_returned = push_burst(port, count, burst, f"{debounce}")
                    wait_all(arrivals, range(count, count + burst), debounce * 10 + 30)
                publishes = publish_seconds(base)
    finally:
        server.shutdown()
        server.server_close()
    with arrivals.lock:
        hook = [arrivals.webhook[n] - returned[n] for n in returned if n in arrivals.webhook]
        sub = [arrivals.websub[n] - returned[n] for n in returned if n in arrivals.websub]
        tail = range(count, count + burst)
        burst_hook = [arrivals.webhook[n] - burst_returned for n in tail if n in arrivals.webhook]
        burst_sub = [arrivals.websub[n] - burst_returned for n in tail if n in arrivals.websub]
        return {
            "burst": {
                "articles": burst,
                "webhook": {"received": len(burst_hook), **percentiles(burst_hook)},
                "websub": {"received": len(burst_sub), **percentiles(burst_sub)},
            },
            "debounce": debounce,
            "max_delay": max_delay,
            "articles": count,
            "rate": rate,
            "entries_per_feed": entries,
            "webhook": {"received": len(hook), **percentiles(hook)},
            "websub": {"received": len(sub), **percentiles(sub)},
            "publishes": publishes[0],
            "publish_mean_seconds": publishes[1] / publishes[0] if publishes[0] else None,
            "webhook_posts": arrivals.webhook_posts,
            "distributions": arrivals.distributions,
            "bad_signatures": arrivals.bad_signatures,
        }


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| debounce, max_delay | pushed           | channel | received | p50 ms | p95 ms | p99 ms "
        "| max ms |",
        "|--------------------:|------------------|---------|---------:|-------:|-------:|-------:"
        "|-------:|",
    ]

    def row(r: dict[str, Any], pushed: str, channel: str, c: dict[str, Any], n: int) -> str:
        figures = [f"{c[k] * 1000:,.0f}" if k in c else "–" for k in ("p50", "p95", "p99", "max")]
        longest = r["max_delay"] if r["max_delay"] is not None else r["debounce"] * 10
        settings = f"{r['debounce']:g} s, {longest:g} s"
        return (
            f"| {settings:>19} | {pushed:<16} | {channel:<7} | {c['received']:>4}/{n:<3} | "
            + " | ".join(f"{f:>6}" for f in figures)
            + " |"
        )

    for r in results:
        spaced = f"{r['articles']} at {r['rate']:g}/s"
        for channel in ("webhook", "websub"):
            lines.append(row(r, spaced, channel, r[channel], r["articles"]))
        b = r["burst"]
        if b["articles"]:
            for channel in ("webhook", "websub"):
                pushed = f"{b['articles']} in 1 POST"
                lines.append(row(r, pushed, channel, b[channel], b["articles"]))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=300)
    ap.add_argument("--rate", type=float, default=20.0, help="articles pushed per second")
    ap.add_argument("--burst", type=int, default=100, help="then this many in one POST (0: none)")
    ap.add_argument("--debounce", default="2,0.2", help="comma-separated [publish] debounce")
    ap.add_argument(
        "--max-delay", type=float, default=None, help="[publish] max_delay (default: 10 × debounce)"
    )
    ap.add_argument("--entries", type=int, default=50, help="[publish] entries_per_feed")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args()
    results = []
    for debounce in (float(d) for d in args.debounce.split(",")):
        result = one_run(
            debounce, args.articles, args.rate, args.entries, args.burst, args.max_delay
        )
        if result["bad_signatures"]:
            raise SystemExit(f"{result['bad_signatures']} notifications had a bad signature")
        results.append(result)
        print(f"debounce {debounce:g} s done", file=sys.stderr)
    print(table(results))
    for r in results:
        mean = r["publish_mean_seconds"]
        print(
            f"debounce {r['debounce']:g} s: {r['publishes']} publishes"
            + (f", {mean * 1000:,.0f} ms each on average" if mean else "")
            + f"; {r['distributions']} WebSub distributions, {r['webhook_posts']} webhook POSTs"
        )
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

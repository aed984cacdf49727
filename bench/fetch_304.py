"""Benchmark: one pass of conditional GETs over 1,000 sources that all answer 304.

    .venv/bin/python bench/fetch_304.py [--sources 1000] [--concurrency 50] [--repeat 7]

A raw-socket asyncio HTTP/1.1 server (keep-alive, 304 to any If-None-Match, 404 for robots.txt)
runs in a child process on 127.0.0.1, so it neither shares the client's event loop nor becomes the
bottleneck. Each pass asks for /s/0 … /s/N-1 with validators, ``--concurrency`` at a time,
through a fresh client (connections and robots.txt included), and is timed:

- ``Fetcher (httpx transport)``: syndicator's Fetcher over httpx's own transport (httpcore);
- ``Fetcher (aiohttp)``: the same Fetcher straight over aiohttp (its default);
- ``Fetcher (httpx over aiohttp)``: the same Fetcher through an httpx client over
  httpx-aiohttp's transport (what it does when the environment names a proxy; its default
  until 2026-12-04);
- ``httpx.AsyncClient alone``: plain httpx, default transport, no Fetcher (its overhead);
- ``aiohttp alone``: a bare aiohttp session, for reference.

Prints a table (median and best pass, requests per second of the median pass). Not part of the
test suite; it only talks to the loopback server it starts and stops.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx

from syndicator.fetch import Fetcher, Validators, make_transport
from syndicator.fetch.records import TransportKind

sys.path.insert(0, str(Path(__file__).resolve().parent))

from aiohttp_floor import ETAG, aiohttp_pass

LAST_MODIFIED = "Tue, 10 Feb 2026 17:00:00 GMT"
NOT_MODIFIED = (
    f"HTTP/1.1 304 Not Modified\r\nETag: {ETAG}\r\nLast-Modified: {LAST_MODIFIED}\r\n\r\n"
).encode()
OK = (
    f"HTTP/1.1 200 OK\r\nETag: {ETAG}\r\nLast-Modified: {LAST_MODIFIED}\r\n"
    "Content-Type: application/rss+xml\r\nContent-Length: 7\r\n\r\n<rss/>\n"
).encode()
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


# --------------------------------------------------------------------------------------------
# The server (child process)


class _Conditional(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and pipelining, GET only, no request bodies: just fast."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        out = []
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head, self.buffer = self.buffer[:end].lower(), self.buffer[end + 4 :]
            if head.startswith(b"get /robots.txt"):
                out.append(NOT_FOUND)
            elif b"\r\nif-none-match:" in head or b"\r\nif-modified-since:" in head:
                out.append(NOT_MODIFIED)
            else:
                out.append(OK)
        if out:
            self.transport.write(b"".join(out))


async def _serve(portfile: Path, max_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Conditional, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    portfile.write_text(str(port))
    async with server:
        await asyncio.sleep(max_seconds)


class Server:
    """The child process, started and stopped around the benchmark."""

    def __init__(self, max_seconds: float = 600.0) -> None:
        self.folder = tempfile.TemporaryDirectory()
        portfile = Path(self.folder.name) / "port"
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(portfile), "--max-seconds", str(max_seconds)]
        )
        deadline = time.monotonic() + 10
        while not portfile.exists() or not portfile.read_text():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise RuntimeError("the benchmark server did not start")
            time.sleep(0.02)
        self.base = f"http://127.0.0.1:{portfile.read_text()}"

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.folder.cleanup()


# --------------------------------------------------------------------------------------------
# The clients


async def _gather(urls: list[str], concurrency: int, one: Callable[[str], Awaitable[int]]) -> None:
    semaphore = asyncio.Semaphore(concurrency)

    async def limited(url: str) -> int:
        async with semaphore:
            return await one(url)

    statuses = await asyncio.gather(*(limited(u) for u in urls))
    if any(s != 304 for s in statuses):
        raise RuntimeError(f"expected 304 everywhere, got {sorted(set(statuses))}")


def fetcher_pass(kind: str) -> Callable[[list[str], int], Coroutine[Any, Any, None]]:
    async def run(urls: list[str], concurrency: int) -> None:
        validators = Validators(ETAG, LAST_MODIFIED)
        transport: httpx.AsyncBaseTransport | TransportKind = "aiohttp"
        if kind != "aiohttp":
            transport = make_transport(
                "aiohttp" if kind == "httpx-aiohttp" else "httpx", max_connections=concurrency
            )
        async with Fetcher(
            transport=transport, concurrency=concurrency, per_host=concurrency
        ) as fetcher:

            async def one(url: str) -> int:
                return (await fetcher.get(url, validators)).status

            await _gather(urls, concurrency, one)

    return run


async def httpx_pass(urls: list[str], concurrency: int) -> None:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as client:

        async def one(url: str) -> int:
            response = await client.get(url, headers={"If-None-Match": ETAG})
            return response.status_code

        await _gather(urls, concurrency, one)


CLIENTS: dict[str, Callable[[list[str], int], Coroutine[Any, Any, None]]] = {
    "Fetcher (httpx transport)": fetcher_pass("httpx"),
    "Fetcher (aiohttp)": fetcher_pass("aiohttp"),
    "Fetcher (httpx over aiohttp)": fetcher_pass("httpx-aiohttp"),
    "httpx.AsyncClient alone": httpx_pass,
    "aiohttp alone": aiohttp_pass,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sources", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--max-seconds", type=float, default=600.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve, args.max_seconds))
        return
    server = Server()
    try:
        urls = [f"{server.base}/s/{i}" for i in range(args.sources)]
        times: dict[str, list[float]] = {name: [] for name in CLIENTS}
        for _ in range(args.repeat):  # round robin, so that a busy moment hits every client
            for name, client in CLIENTS.items():
                started = time.perf_counter()
                asyncio.run(client(urls, args.concurrency))
                times[name].append(time.perf_counter() - started)
        rows = []
        for name, passes in times.items():
            median = statistics.median(passes)
            rows.append((name, median, min(passes), args.sources / median))
    finally:
        server.close()
    print(
        f"{args.sources} conditional GETs answered 304, concurrency {args.concurrency}, "
        f"median of {args.repeat} passes (fresh client each pass)\n"
    )
    print(f"| {'client':<28} | {'seconds (median)':>16} | {'seconds (best)':>14} | {'req/s':>7} |")
    print(f"|{'-' * 30}|{'-' * 17}:|{'-' * 15}:|{'-' * 8}:|")
    for name, median, best, rate in rows:
        print(f"| {name:<28} | {median:>16.3f} | {best:>14.3f} | {rate:>7.0f} |")


if __name__ == "__main__":
    main()

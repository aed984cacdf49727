"""The HTTP server's own limits under `run`: request heads past 64 KiB are answered 431, heads
that never finish are dropped, and neither limit touches request bodies."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from syndicator import service


async def echo_length(scope: Any, receive: Any, send: Any) -> None:
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = str(size).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setattr(service, "HEAD_SECONDS", 0.5)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        echo_length,
        host="127.0.0.1",
        port=port,
        log_config=None,
        lifespan="off",
        http=service.bounded_protocol(),
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(srv.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield port
    srv.should_exit = True
    thread.join(timeout=10)


def exchange(port: int, data: bytes, wait: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as conn:
        conn.sendall(data)
        chunks = []
        try:
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
        return b"".join(chunks)


def test_a_huge_head_is_refused(server: int) -> None:
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * (1 << 20) + b"\r\n\r\n"
    assert exchange(server, head).startswith(b"HTTP/1.1 431 ")


def test_a_head_that_never_ends_is_dropped(server: int) -> None:
    started = time.monotonic()
    answer = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ", wait=10)
    assert answer == b"" and time.monotonic() - started < 5


def test_bodies_are_not_heads(server: int) -> None:
    body = b"x" * (300 << 10)
    request = (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    ) + body
    answer = exchange(server, request)
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(str(len(body)).encode())
    # Keep-alive: a second request on the same connection gets its own head budget.
    pair = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 2
    with socket.create_connection(("127.0.0.1", server), timeout=5) as conn:
        conn.sendall(pair)
        time.sleep(0.3)
        assert conn.recv(65536).count(b"HTTP/1.1 200 ") == 2

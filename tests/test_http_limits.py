"""The HTTP server's own limits under `run` (syndicator/connections.py): request heads past
64 KiB are answered 431 however they arrive, heads that never finish are dropped, neither limit
touches request bodies; connections are capped per client address and in all, idle ones giving
way to new clients. The end-to-end flood test is in test_hostile_clients.py."""

from __future__ import annotations

import asyncio
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
import uvicorn

from syndicator import connections


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


@contextmanager
def serving(**limits: int) -> Iterator[int]:
    """The echo application under uvicorn with our protocol, in a thread; its port. It listens
    on 127.0.0.1 (clients may still come from other loopback addresses, 127.0.0.2…), on a socket
    bound here, so no other process can take the port between choosing and listening."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        echo_length,
        host="127.0.0.1",
        port=port,
        log_config=None,
        lifespan="off",
        http=connections.bounded_protocol(**limits),
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(srv.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield port
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    """One server with the default limits for the module's tests (stopping one takes uvicorn
    0.1-0.2 s). The head budgets are read as each connection opens: a test that waits for a
    connection to be dropped shortens them for its own (``short_heads``)."""
    with serving() as port:
        yield port


@pytest.fixture
def short_heads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connections, "FIRST_HEAD_SECONDS", 0.25)
    monkeypatch.setattr(connections, "HEAD_SECONDS", 0.25)


def exchange(port: int, data: bytes, wait: float = 5.0, source: str = "127.0.0.1") -> bytes:
    with socket.create_connection(
        ("127.0.0.1", port), timeout=wait, source_address=(source, 0)
    ) as conn:
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


def test_a_head_that_never_ends_is_dropped(server: int, short_heads: None) -> None:
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
        answers = b""
        while answers.count(b"HTTP/1.1 200 ") < 2 and (chunk := conn.recv(65536)):
            answers += chunk
        assert answers.count(b"HTTP/1.1 200 ") == 2


@pytest.mark.parametrize("size", [65 << 10, 80 << 10, 100 << 10])
def test_a_head_over_64_kib_in_one_write_is_refused(server: int, size: int) -> None:
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * size + b"\r\n\r\n"
    assert exchange(server, head).startswith(b"HTTP/1.1 431 ")
    many = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-H: %s\r\n" % (b"v" * 1000) * ((size >> 10) + 1)
    assert exchange(server, many + b"\r\n").startswith(b"HTTP/1.1 431 ")
    url = b"GET /" + b"u" * size + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert exchange(server, url).startswith(b"HTTP/1.1 431 ")


def test_a_connection_that_sends_nothing_is_dropped(server: int, short_heads: None) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=10) as conn:
        assert closed(conn)  # by the server, FIRST_HEAD_SECONDS later


def closed(conn: socket.socket) -> bool:
    """Whether the server closed this connection (an orderly close, or a reset: it had unread
    bytes of ours)."""
    try:
        return conn.recv(100) == b""
    except ConnectionResetError:
        return True


def idle(port: int, source: str) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    return conn


ONE_REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def test_connections_are_capped_per_client_address() -> None:
    with serving(max_connections=100, per_client=5) as port, ExitStack() as stack:
        for _ in range(5):
            stack.enter_context(idle(port, "127.0.0.3"))
        refused = exchange(port, ONE_REQUEST, source="127.0.0.3")
        assert refused.startswith(b"HTTP/1.1 429 ") and b"retry-after: 5" in refused
        assert exchange(port, ONE_REQUEST, source="127.0.0.4").startswith(b"HTTP/1.1 200 ")


def test_a_full_server_closes_its_oldest_idle_connection_for_a_new_client() -> None:
    with serving(max_connections=10, per_client=100) as port, ExitStack() as stack:
        sockets = [stack.enter_context(idle(port, f"127.0.1.{n}")) for n in range(10)]
        assert exchange(port, ONE_REQUEST, source="127.0.2.1").startswith(b"HTTP/1.1 200 ")
        assert closed(sockets[0])  # the oldest idle one made room
        # The others are still open: none is readable (closed or reset) within 0.1 s.
        assert select.select(sockets[1:], [], [], 0.1)[0] == []

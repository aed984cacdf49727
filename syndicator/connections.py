"""The limits ``syndicator run``'s HTTP server keeps on its connections, which uvicorn lacks.

- **Request heads**: a head (request line and headers) larger than MAX_HEAD is answered 431,
  whether it trickles in or arrives in one write (its size is counted as it comes and as the
  parser reads it); a connection that has sent no complete head within FIRST_HEAD_SECONDS is
  dropped, and a later head (keep-alive) must be whole within HEAD_SECONDS.
- **Connections per client address**: at most ``per_client`` at once; more are answered 429
  and closed (idle sockets from one address cannot fill the server).
- **Connections in all**: at most ``max_connections``. When they are all taken, a new one
  closes the oldest connection that has not yet sent a complete head (an idle one: it has
  cost the server nothing yet), so that a flood of idle sockets from many addresses never
  keeps a real client out; only when every connection is busy with a request is a new one
  answered 503.

This module knows uvicorn's httptools protocol and nothing of the application behind it.
"""

from __future__ import annotations

import asyncio
import resource
from collections import Counter, OrderedDict
from typing import Any

MAX_HEAD = 64 * 1024  # bytes of request line and headers
FIRST_HEAD_SECONDS = 5.0  # for a new connection to send its first complete head
HEAD_SECONDS = 30.0  # for a later head on a kept-alive connection, once begun
MAX_CONNECTIONS = 4096  # in all, at most (fewer when the file limit is lower: see fd_budget)
PER_CLIENT = 256  # from one client address at once
FD_RESERVE = 256  # file descriptors kept for the store, feeds, outgoing requests, logs


def raise_fd_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit (as servers do; the
    hard limit is the operator's: ``LimitNOFILE=`` in a systemd unit, ``ulimit -Hn``), and
    return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return soft


def fd_budget(soft_limit: int, wanted: int = MAX_CONNECTIONS) -> int:
    """How many connections fit in ``soft_limit`` open files, FD_RESERVE kept for the rest."""
    return max(64, min(wanted, soft_limit - FD_RESERVE))


class Registry:
    """The connections of one server: how many, from whom, and which are still idle (no
    complete head yet), oldest first."""

    def __init__(self, max_connections: int, per_client: int) -> None:
        self.max_connections, self.per_client = max_connections, per_client
        self.total = 0
        self.by_client: Counter[str] = Counter()
        self.idle: OrderedDict[Any, None] = OrderedDict()

    def admit(self, connection: Any, client: str) -> int | None:
        """None when ``connection`` may stay (it is counted), else the status to refuse it
        with (429: too many from its address; 503: the server is full of busy connections)."""
        if self.per_client and self.by_client[client] >= self.per_client:
            return 429
        if self.total >= self.max_connections:
            if not self.idle:
                return 503
            oldest, _ = self.idle.popitem(last=False)
            oldest.drop()  # counted out when its connection is lost
        self.total += 1
        self.by_client[client] += 1
        self.idle[connection] = None
        return None

    def busy(self, connection: Any) -> None:
        """``connection`` sent a complete head: it is no longer evicted for a newcomer."""
        self.idle.pop(connection, None)

    def release(self, connection: Any, client: str) -> None:
        self.idle.pop(connection, None)
        self.total -= 1
        self.by_client[client] -= 1
        if self.by_client[client] <= 0:
            del self.by_client[client]


def bounded_protocol(max_connections: int = MAX_CONNECTIONS, per_client: int = PER_CLIENT) -> type:
    """uvicorn's httptools protocol with the limits above; one registry per class made."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    registry = Registry(max_connections, per_client)

    class BoundedHead(HttpToolsProtocol):
        registry_of_connections = registry

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)  # type: ignore[arg-type]
            self._head_bytes = 0  # raw bytes of the head under way
            self._head_size = 0  # its size as the parser read it (URL and headers)
            self._in_head = True
            self._refused = False
            self._head_timer: asyncio.TimerHandle | None = None
            self._client_address = self.client[0] if self.client else ""
            status = registry.admit(self, self._client_address)
            self._counted = status is None
            if status is not None:
                self._refuse(status, b"too many connections\n")
                return
            self._head_timer = asyncio.get_running_loop().call_later(
                FIRST_HEAD_SECONDS, self._too_slow
            )

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_timer()
            if self._counted:
                self._counted = False
                registry.release(self, self._client_address)
            super().connection_lost(exc)

        def drop(self) -> None:
            """Close an idle connection to make room for a new one."""
            if not self.transport.is_closing():
                self.transport.close()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._head_size = 0
            if not self._in_head:  # a further request on a kept-alive connection
                self._in_head, self._head_bytes = True, 0
                self._stop_timer()
                self._head_timer = asyncio.get_running_loop().call_later(
                    HEAD_SECONDS, self._too_slow
                )

        def on_url(self, url: bytes) -> None:
            self._head_size += len(url)
            if self._head_size > MAX_HEAD:
                self._refuse(431, b"request head too large\n")
            if not self._refused:
                super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._head_size += len(name) + len(value) + 4
            if self._head_size > MAX_HEAD:
                self._refuse(431, b"request head too large\n")
            if not self._refused:
                super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._stop_timer()
            if self._refused:
                return  # answered already: no request reaches the application
            registry.busy(self)
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            if not self._refused:
                super().on_body(body)

        def on_message_complete(self) -> None:
            if not self._refused:
                super().on_message_complete()

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            if not self._in_head:
                super().data_received(data)
                return
            self._head_bytes += len(data)
            super().data_received(data)
            if self._in_head and self._head_bytes > MAX_HEAD:
                self._refuse(431, b"request head too large\n")

        def _refuse(self, status: int, message: bytes) -> None:
            self._refused = True
            if self.transport.is_closing():
                return
            reason = {429: b"Too Many Requests", 431: b"Request Header Fields Too Large"}.get(
                status, b"Service Unavailable"
            )
            retry = b"retry-after: 5\r\n" if status in (429, 503) else b""
            self.transport.write(
                b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
                b"content-length: %d\r\n%sconnection: close\r\n\r\n%s"
                % (status, reason, len(message), retry, message)
            )
            self.transport.close()

        def _too_slow(self) -> None:
            self._head_timer = None
            if self._in_head and not self.transport.is_closing():
                self.transport.close()

        def _stop_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

    return BoundedHead

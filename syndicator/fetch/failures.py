"""The mapping of transport failures to :class:`~syndicator.errors.FetchError`: one short,
stable reason per kind of failure (what a status table shows and metrics count by), and which
of them are worth another attempt (:class:`Transient`)."""

from __future__ import annotations

import errno
import os
import socket
import ssl
from collections.abc import Iterator

from syndicator.errors import FetchError
from syndicator.fetch.lib import httpx


class Transient(Exception):
    """A failure worth another attempt (after ``wait`` seconds when the server said so)."""

    def __init__(self, error: FetchError, wait: float | None = None) -> None:
        super().__init__(error.reason)
        self.error, self.wait = error, wait


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and what caused it, through chained and grouped exceptions."""
    stack, seen = [error], set[int]()
    while stack and len(seen) < 32:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        if isinstance(e, BaseExceptionGroup):
            stack.extend(e.exceptions)
        for nxt in (e.__context__, e.__cause__):
            if nxt is not None:
                stack.append(nxt)


def transport_error(url: str, e: Exception) -> FetchError | Transient:
    """A transport exception as a FetchError: transient (retried) unless the URL itself is bad."""
    if isinstance(e, httpx.UnsupportedProtocol):
        return FetchError(url, "unsupported URL scheme")
    if isinstance(e, httpx.InvalidURL):
        return FetchError(url, "invalid URL")
    if isinstance(e, httpx.TimeoutException):
        # Believe the cause over the class: a transport may file a dropped connection under
        # timeouts (httpx-aiohttp maps every aiohttp connection error to ConnectTimeout).
        cause = e.__cause__
        timed_out = (
            cause is None
            or isinstance(cause, TimeoutError)
            or type(cause).__module__.startswith(("httpx", "httpcore"))
        )
    else:
        timed_out = isinstance(e, TimeoutError)
    if timed_out:
        reason = "timed out connecting" if isinstance(e, httpx.ConnectTimeout) else "timed out"
    else:
        reason = f"connection failed: {_describe(list(_causes(e)))}"
    error = FetchError(url, reason)
    error.__cause__ = e
    return Transient(error)


_ERRNO_REASONS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.EPIPE: "connection reset",
    errno.ECONNABORTED: "connection reset",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
}


def _describe(causes: list[BaseException]) -> str:
    """A short, stable account of why a connection failed, from the exceptions behind it."""
    for c in causes:
        if isinstance(c, ssl.SSLCertVerificationError):
            # aiohttp's ClientConnectorCertificateError passes for one and holds the real one.
            verified = getattr(c, "certificate_error", c)
            return f"TLS certificate not trusted ({getattr(verified, 'verify_message', c)})"
        if isinstance(c, ssl.SSLError):
            return f"TLS error ({c.reason or 'handshake failed'})"
        if isinstance(c, socket.gaierror):
            return "host name not resolved"
    for c in causes:
        if isinstance(c, OSError) and c.errno:
            return _ERRNO_REASONS.get(c.errno) or os.strerror(c.errno).lower()
    text = " ".join(str(c).lower() for c in causes)
    if "refused" in text or "all connection attempts failed" in text:
        return "connection refused"
    if "reset" in text:
        return "connection reset"
    if "incomplete" in text or "peer closed" in text or "payload" in text:
        return "body cut short"
    if "disconnected" in text or "without sending" in text or "closed" in text:
        return "closed without an answer"
    return type(causes[-1]).__name__ if causes else "unknown error"

"""The httpx transports the fetcher's httpx wire can run on (:mod:`~syndicator.fetch.wire`):
httpx's own, or aiohttp's through httpx-aiohttp when it is installed; one TLS context shared by
all, the aiohttp wire's too."""

from __future__ import annotations

import functools
import os
import ssl

from syndicator.fetch.lib import httpx
from syndicator.fetch.records import TransportKind


def make_transport(
    kind: TransportKind = "auto", *, max_connections: int = 100
) -> httpx.AsyncBaseTransport:
    """The transport a :class:`Fetcher` sends through.

    ``"aiohttp"`` is httpx-aiohttp's transport over an aiohttp session (no cookie jar of its own,
    no decompression: the Fetcher reads raw bytes either way); ``"httpx"`` is httpx's own
    (httpcore). ``"auto"`` takes aiohttp when it is installed: it answers conditional GETs
    several times faster (see docs/PERFORMANCE.md).
    """
    if kind in ("auto", "aiohttp"):
        try:
            return aiohttp_transport(max_connections)
        except ImportError:
            if kind == "aiohttp":
                raise
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    return httpx.AsyncHTTPTransport(verify=tls_context(), limits=limits, retries=0)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every transport, with httpx's defaults (made here, so that the
    aiohttp wire does not import httpx for it): the roots of $SSL_CERT_FILE, else of
    $SSL_CERT_DIR, else certifi's. Loading them costs tens of milliseconds, too much for each
    Fetcher."""
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    import certifi  # httpx's own source of roots (it depends on it)

    return ssl.create_default_context(cafile=certifi.where())


def aiohttp_transport(max_connections: int) -> httpx.AsyncBaseTransport:
    import aiohttp
    from httpx_aiohttp import AiohttpTransport

    def session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max_connections, ssl=tls_context()),
            cookie_jar=aiohttp.DummyCookieJar(),  # httpx keeps the cookies
            auto_decompress=False,
        )

    return AiohttpTransport(verify=tls_context(), client=session)

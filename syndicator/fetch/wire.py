"""How one request of the fetcher goes out and its answer comes back: straight over an
aiohttp session (the default: a conditional GET costs a third of what it costs through httpx),
or over an ``httpx.AsyncClient`` on any httpx transport (httpx's own, a mock in tests, and
whenever the environment names an HTTP proxy, which httpx honours as it always has).

Either way the fetcher sees one shape of answer (:class:`Reply`: status, headers read as
``httpx.Headers`` reads them, raw body bytes, close) and one family of failures (httpx's, which
:func:`~syndicator.fetch.failures.transport_error` maps to ours). Redirects, limits, robots.txt,
the private-address guard and bodies are the fetcher's, the same over both wires; this module
does not retry, judge a status or read a body it is not asked for.
"""

from __future__ import annotations

import urllib.request
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from syndicator.fetch.lib import httpx
from syndicator.fetch.records import TransportKind
from syndicator.fetch.targets import Target
from syndicator.fetch.transports import make_transport, tls_context

if TYPE_CHECKING:
    import aiohttp

CHUNK_BYTES = 16 * 1024


class Headers(Protocol):
    """An answer's headers (``httpx.Headers`` and :class:`RawHeaders` are)."""

    def get(self, key: str, default: Any = None) -> Any: ...


class Reply(Protocol):
    """An answer whose body is still to be read (``httpx.Response`` is one)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Headers: ...

    def aiter_raw(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class Wire(Protocol):
    async def send(self, url: Target, headers: Mapping[str, str]) -> Reply:
        """GET ``url`` (redirects not followed), its body left unread."""
        ...

    async def aclose(self) -> None: ...


def open_wire(
    transport: httpx.AsyncBaseTransport | TransportKind,
    *,
    headers: Mapping[str, str],
    timeout: float,
    connect_timeout: float,
    max_connections: int,
) -> Wire:
    """The wire a :class:`~syndicator.fetch.Fetcher` sends through: aiohttp's own for
    ``"auto"`` (when aiohttp is installed) and ``"aiohttp"``, unless the environment names a
    proxy; else an httpx client over ``transport`` (a kind, or a transport of its own)."""
    if isinstance(transport, str) and transport != "httpx" and not urllib.request.getproxies():
        try:
            return AiohttpWire(
                headers=headers,
                timeout=timeout,
                connect_timeout=connect_timeout,
                max_connections=max_connections,
            )
        except ImportError:
            if transport == "aiohttp":
                raise
    if isinstance(transport, str):
        transport = make_transport(transport, max_connections=max_connections)
    return HttpxWire(
        httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            headers=dict(headers),
            follow_redirects=False,
        )
    )


class HttpxWire:
    """Requests through an ``httpx.AsyncClient`` (its transport, cookies and proxies)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def send(self, url: Target, headers: Mapping[str, str]) -> Reply:
        request = self.client.build_request("GET", url.url, headers=headers)
        return await self.client.send(request, stream=True)

    async def aclose(self) -> None:
        await self.client.aclose()


class AiohttpWire:
    """Requests straight through one aiohttp session: a pool of ``max_connections``, our TLS
    context for https (made with the first such request), cookies kept per host as httpx
    keeps them (IP-address hosts too), no decompression (the fetcher inflates, bounded),
    redirects left to the fetcher. The session is made on the first request, inside the event
    loop that uses it."""

    def __init__(
        self,
        *,
        headers: Mapping[str, str],
        timeout: float,
        connect_timeout: float,
        max_connections: int,
    ) -> None:
        import aiohttp

        self._aiohttp = aiohttp
        # What httpx sent by default besides ours (aiohttp adds Host itself).
        self.headers = {"Accept": "*/*", **headers}
        self.timeout = aiohttp.ClientTimeout(
            total=None, connect=timeout, sock_connect=connect_timeout, sock_read=timeout
        )
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        aiohttp = self._aiohttp
        self._session = aiohttp.ClientSession(
            # Our TLS context goes with each https request (send): loading its roots costs
            # tens of milliseconds, which a pass of plain-http sources never pays.
            connector=aiohttp.TCPConnector(limit=self.max_connections),
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            timeout=self.timeout,
            auto_decompress=False,
            trust_env=False,  # proxies from the environment take the httpx wire (open_wire)
        )
        return self._session

    async def send(self, url: Target, headers: Mapping[str, str]) -> Reply:
        session = self._session or self._open()
        try:
            response = await session.request(
                "GET",
                url.text,
                headers={**self.headers, **headers},
                allow_redirects=False,
                compress=False,
                ssl=tls_context() if url.scheme == "https" else True,
            )
        except self._aiohttp.ClientError as e:
            mapped = _as_httpx(self._aiohttp, e)
            if mapped is e:
                raise
            raise mapped from e
        return AiohttpReply(self._aiohttp, response)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class AiohttpReply:
    """An aiohttp response seen as the fetcher reads any answer."""

    __slots__ = ("_aiohttp", "_response", "headers", "status_code")

    def __init__(self, aiohttp: Any, response: aiohttp.ClientResponse) -> None:
        self._aiohttp = aiohttp
        self._response = response
        self.status_code = response.status
        self.headers = RawHeaders(response.raw_headers)

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_chunked(CHUNK_BYTES):
                yield chunk
        except self._aiohttp.ClientError as e:
            mapped = _as_httpx(self._aiohttp, e)
            if mapped is e:
                raise
            raise mapped from e

    async def aclose(self) -> None:
        # Back to the pool when the body was read to its end; the connection closed if not.
        self._response.release()


class RawHeaders:
    """Headers as they came (name and value bytes), read as ``httpx.Headers`` reads them
    without making one (or importing httpx) for every answer: a name matches in any case, a
    repeated header's values are joined with ", ", and all of them are decoded as ASCII, else
    UTF-8, else ISO-8859-1."""

    __slots__ = ("_encoding", "_raw")

    def __init__(self, raw: Sequence[tuple[bytes, bytes]]) -> None:
        self._raw = raw
        self._encoding: str | None = None

    @property
    def encoding(self) -> str:
        if self._encoding is None:
            self._encoding = "iso-8859-1"
            for encoding in ("ascii", "utf-8"):
                try:
                    for name, value in self._raw:
                        name.decode(encoding)
                        value.decode(encoding)
                except UnicodeDecodeError:
                    continue
                self._encoding = encoding
                break
        return self._encoding

    def get(self, key: str, default: Any = None) -> Any:
        encoding = self.encoding
        wanted = key.lower().encode(encoding)
        values = [v.decode(encoding) for k, v in self._raw if k.lower() == wanted]
        return ", ".join(values) if values else default


def _as_httpx(aiohttp: Any, e: Exception) -> Exception:
    """The few aiohttp failures whose kind the fetcher's reasons tell apart, as httpx's
    (a bad URL, a connect timeout); any other is left as it is, its causes say what it was."""
    if isinstance(e, aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(str(e))
    if isinstance(e, aiohttp.InvalidURL):
        return httpx.InvalidURL(str(e))
    if isinstance(e, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(str(e))
    return e

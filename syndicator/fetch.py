"""Fetching documents: HTTP(S) with httpx, and local files for bundled samples and drop folders.

This module is the only one that talks to the network. :class:`Fetcher` makes conditional GETs
(``If-None-Match`` / ``If-Modified-Since`` → 304), follows redirects itself (so a loop is named as
one), retries what is worth retrying (connection failures, timeouts, 5xx other than 501, a short
``Retry-After``), limits concurrency globally and per host, honours robots.txt, and bounds the
body it keeps — after decompression, which it does itself while streaming, so a gzip bomb costs
no more memory than ``max_bytes``. Local files (``file://`` URLs and plain paths) go through the
same :meth:`Fetcher.get`, with validators emulated from their size and modification time.

Every failure is a :class:`~syndicator.errors.FetchError` whose ``reason`` is short and stable
enough to show in a status table and to count by; no httpx (or transport) exception leaves here.
This module does not parse, decode charsets or store what it fetches, and keeps no state between
runs (the robots.txt cache lives as long as one :class:`Fetcher`).
"""

from __future__ import annotations

import asyncio
import errno
import functools
import ipaddress
import math
import os
import random
import socket
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import Literal
from urllib.parse import unquote, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from syndicator import __version__
from syndicator.errors import FetchError

DEFAULT_USER_AGENT = f"syndicator/{__version__}"
MAX_BYTES = 20 * 1024 * 1024
ROBOTS_MAX_BYTES = 512 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT_ENCODING = "gzip, deflate"

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
TransportKind = Literal["auto", "aiohttp", "httpx"]


@dataclass(frozen=True, slots=True)
class Validators:
    """What a previous answer said about its version: sent back for a conditional GET."""

    etag: str | None = None
    last_modified: str | None = None

    def __bool__(self) -> bool:
        return bool(self.etag or self.last_modified)


@dataclass(frozen=True, slots=True)
class Fetched:
    """One successful fetch: 200 (or another 2xx) with a body, or 304 with an empty one."""

    url: str
    final_url: str
    status: int
    body: bytes = field(repr=False)
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    elapsed: float = 0.0
    attempts: int = 1

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def validators(self) -> Validators:
        """The validators to send next time."""
        return Validators(self.etag, self.last_modified)


@dataclass(frozen=True, slots=True)
class Response:
    """The answer of :func:`fetch_once` and :func:`read_local` (``url`` is where it ended up)."""

    url: str
    status: int
    body: bytes = field(repr=False)
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None


# --------------------------------------------------------------------------------------------
# Where a fetch may go


@dataclass(frozen=True, slots=True)
class Reach:
    """Where the fetches of one source may go.

    ``local_root``: local files (``file:`` URLs and paths) are read only inside this folder, and
    only for a source that is itself a local file; None (the default) refuses every local file,
    so that nothing reached over the network can name a local path. ``public_only``: every
    hop of every request (redirects included) must go to a public address; loopback, private,
    link-local (the cloud metadata address among them) and other special addresses are refused
    (``[security] allow_private_sources``)."""

    local_root: Path | None = None
    public_only: bool = False


ANYWHERE = Reach()

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_private_address(address: IPAddress) -> bool:
    """Whether an address is anything but a public unicast one: loopback, private, link-local
    (169.254.169.254, the metadata service of the clouds, is one), shared, reserved,
    unspecified or multicast. An IPv4 address mapped into IPv6 is judged as itself."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def inside(path: Path, root: Path) -> bool:
    """Whether ``path`` (symbolic links resolved) is ``root`` or lies under it."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError, ValueError):  # a loop of links, a name the OS refuses
        return False


# --------------------------------------------------------------------------------------------
# Local files


def local_path(url: str) -> Path | None:
    """The file a ``file://`` URL or a plain path names; None for network (or broken) URLs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme in ("",) or (len(parts.scheme) == 1 and url[1:3] in (":\\", ":/")):
        return Path(url)
    return None


def file_etag(size: int, mtime_ns: int) -> str:
    """The strong ETag a local file is given: its size and modification time."""
    return f'"{size}-{mtime_ns}"'


def _read_file(
    url: str,
    path: Path,
    max_bytes: int,
    validators: Validators | None,
    clock: Clock,
    final_url: str | None = None,
) -> Fetched:
    started = clock()
    try:
        stat = path.stat()
        if path.is_dir():
            raise FetchError(url, "is a folder, not a file")
        etag = file_etag(stat.st_size, stat.st_mtime_ns)
        last_modified = formatdate(stat.st_mtime, usegmt=True)
        final_url = final_url or path.resolve().as_uri()
        if validators and _file_not_modified(validators, etag, stat.st_mtime):
            return Fetched(
                url, final_url, 304, b"", None, etag, last_modified, clock() - started, 1
            )
        if stat.st_size > max_bytes:
            raise FetchError(url, f"file larger than {max_bytes} bytes")
        with path.open("rb") as f:
            body = f.read(max_bytes + 1)
        if len(body) > max_bytes:  # it grew while we looked
            raise FetchError(url, f"file larger than {max_bytes} bytes")
    except FileNotFoundError as e:
        raise FetchError(url, "no such file") from e
    except IsADirectoryError as e:
        raise FetchError(url, "is a folder, not a file") from e
    except OSError as e:
        raise FetchError(url, f"cannot read: {e.strerror or e}") from e
    return Fetched(url, final_url, 200, body, None, etag, last_modified, clock() - started, 1)


def _file_not_modified(validators: Validators, etag: str, mtime: float) -> bool:
    if validators.etag is not None:  # If-None-Match wins over If-Modified-Since (RFC 9110)
        return any(t.strip() in (etag, "*") for t in validators.etag.split(","))
    since = _parse_http_date(validators.last_modified)
    return since is not None and int(mtime) <= since


def read_local(url: str, max_bytes: int = MAX_BYTES) -> Response:
    """Read a ``file://`` URL or a plain path (size-limited); raises FetchError."""
    path = local_path(url)
    if path is None:
        raise FetchError(url, "not a local file")
    fetched = _read_file(url, path, max_bytes, None, time.monotonic)
    return Response(url=fetched.final_url, status=200, body=fetched.body)


# --------------------------------------------------------------------------------------------
# Transports


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
            return _aiohttp_transport(max_connections)
        except ImportError:
            if kind == "aiohttp":
                raise
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    return httpx.AsyncHTTPTransport(verify=_tls_context(), limits=limits, retries=0)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context (httpx's defaults: certifi's roots) for every transport: loading the
    certificates costs tens of milliseconds, too much for each Fetcher."""
    return httpx.create_ssl_context()


def _aiohttp_transport(max_connections: int) -> httpx.AsyncBaseTransport:
    import aiohttp
    from httpx_aiohttp import AiohttpTransport

    def session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max_connections, ssl=_tls_context()),
            cookie_jar=aiohttp.DummyCookieJar(),  # httpx keeps the cookies
            auto_decompress=False,
        )

    return AiohttpTransport(verify=_tls_context(), client=session)


# --------------------------------------------------------------------------------------------
# The fetcher


class _Transient(Exception):
    """A failure worth another attempt (after ``wait`` seconds when the server said so)."""

    def __init__(self, error: FetchError, wait: float | None = None) -> None:
        super().__init__(error.reason)
        self.error, self.wait = error, wait


@dataclass(slots=True)
class _Answer:
    final_url: str
    status: int
    headers: httpx.Headers
    body: bytes = b""


class Fetcher:
    """Conditional GETs with limits, retries and robots.txt, over one ``httpx.AsyncClient``.

    Use as ``async with Fetcher(...) as fetcher: await fetcher.get(url, validators)``.

    - ``timeout`` bounds one whole attempt, connect to last byte and across its redirects
      (``total_timeout`` when given), so a server dripping bytes cannot hold a slot; each read
      and the connect (``connect_timeout`` when given) are bounded by it too. The time an
      attempt waits for a slot behind other requests does not count.
    - ``max_bytes`` bounds the body kept, enforced while streaming and after decompression.
    - ``max_redirects`` hops are followed (relative ``Location`` resolved); past that the reason
      is "redirect loop" if a URL came back, else "too many redirects".
    - ``retries`` more attempts follow a connection failure, a timeout or a 5xx (not 501), after
      an exponential backoff (``backoff`` × 2ⁿ, capped at ``max_backoff``) with jitter. A 429 or
      503 with ``Retry-After`` at most ``retry_after_cap`` seconds is waited for and retried;
      a longer one fails at once with ``FetchError.retry_after`` for the scheduler to honour.
    - ``concurrency`` requests in flight at most, ``per_host`` to one host name.
    - ``respect_robots``: robots.txt is fetched once per origin and cached for the life of the
      Fetcher, and matched with our user agent. A 4xx (no robots.txt) allows everything; so does
      a 5xx, an unreachable or oversized robots.txt — a source that ops configured is not
      silenced by a broken robots.txt (RFC 9309 would disallow on 5xx). Crawl-delay is ignored.
    - ``sleep`` and ``clock`` (wall-clock seconds: elapsed times, HTTP-date ``Retry-After`` when
      the answer has no ``Date``) and ``transport`` can be replaced in tests.
    - ``mounts`` (URL prefix → folder) are addresses this service serves from a folder of its
      own (the bundled samples at ``{base_url}/samples/``): their files are read from the
      folder, as the web server would send them, under their http(s) URL — no request to
      ourselves, so ``once`` reads them with no server running. Nothing outside the folder.
    """

    def __init__(
        self,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        timeout: float = 20.0,
        connect_timeout: float | None = None,
        total_timeout: float | None = None,
        max_bytes: int = MAX_BYTES,
        max_redirects: int = 5,
        retries: int = 2,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        retry_after_cap: float = 5.0,
        concurrency: int = 16,
        per_host: int = 4,
        respect_robots: bool = True,
        transport: httpx.AsyncBaseTransport | TransportKind = "auto",
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.time,
        mounts: Mapping[str, Path] | None = None,
    ) -> None:
        if concurrency < 1 or per_host < 1:
            raise ValueError("concurrency and per_host must be at least 1")
        self.user_agent = user_agent
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.retry_after_cap = retry_after_cap
        self.total_timeout = timeout if total_timeout is None else total_timeout
        self.per_host = per_host
        self.respect_robots = respect_robots
        self._sleep = sleep
        self._clock = clock
        self._mounts = {prefix: folder.resolve() for prefix, folder in (mounts or {}).items()}
        self._random = random.Random()
        self._global = asyncio.Semaphore(concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._robots: dict[tuple[str, str, int | None], RobotFileParser | None] = {}
        self._robots_locks: dict[tuple[str, str, int | None], asyncio.Lock] = {}
        self._resolved: dict[str, tuple[float, bool, bool]] = {}  # host → when, any, all private
        if isinstance(transport, str):
            transport = make_transport(transport, max_connections=concurrency)
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=connect_timeout or timeout),
            headers={"User-Agent": user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            follow_redirects=False,
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- the pass for one URL -------------------------------------------------------------

    async def get(
        self, url: str, validators: Validators | None = None, reach: Reach = ANYWHERE
    ) -> Fetched:
        """GET ``url`` (conditionally, with ``validators``) where ``reach`` allows; raises
        FetchError on any failure."""
        path = local_path(url)
        if path is not None:
            if reach.local_root is None:
                raise FetchError(url, "refused: a local file, and this source is not one")
            if not inside(path, reach.local_root):
                raise FetchError(url, f"refused: a local file outside {reach.local_root}")
            return await asyncio.to_thread(
                _read_file, url, path, self.max_bytes, validators, self._clock
            )
        mounted = self._mounted(url)
        if mounted is not None:
            return await asyncio.to_thread(
                _read_file, url, mounted, self.max_bytes, validators, self._clock, url
            )
        try:
            scheme = urlsplit(url).scheme.lower()
        except ValueError as e:
            raise FetchError(url, "invalid URL") from e
        if scheme not in ("http", "https"):
            raise FetchError(url, f"unsupported URL scheme {scheme!r}")
        headers: dict[str, str] = {}
        if validators and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                answer = await self._attempt(url, headers, reach.public_only)
            except _Transient as t:
                if attempt > self.retries:
                    raise t.error from t.error.__cause__
                await self._sleep(t.wait if t.wait is not None else self._backoff_delay(attempt))
                continue
            sent = validators or Validators()
            return Fetched(
                url=url,
                final_url=answer.final_url,
                status=answer.status,
                body=answer.body,
                content_type=answer.headers.get("content-type"),
                etag=answer.headers.get("etag") or (sent.etag if answer.status == 304 else None),
                last_modified=answer.headers.get("last-modified")
                or (sent.last_modified if answer.status == 304 else None),
                elapsed=max(0.0, self._clock() - started),
                attempts=attempt,
            )

    def _mounted(self, url: str) -> Path | None:
        """The file a URL under one of the ``mounts`` names (FetchError outside its folder)."""
        for prefix, folder in self._mounts.items():
            if not url.startswith(prefix):
                continue
            try:
                rest = urlsplit(url[len(prefix) :]).path
            except ValueError as e:
                raise FetchError(url, "invalid URL") from e
            path = (folder / unquote(rest)).resolve()
            if not path.is_relative_to(folder):
                raise FetchError(url, "no such file")
            return path
        return None

    def _backoff_delay(self, attempt: int) -> float:
        delay = min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1))
        return delay / 2 + self._random.uniform(0, delay / 2)

    async def _attempt(self, url: str, headers: dict[str, str], public_only: bool) -> _Answer:
        """One attempt: redirects followed, the status judged; _Transient if worth retrying."""
        answer = await self._follow(
            url,
            headers,
            max_bytes=self.max_bytes,
            robots=self.respect_robots,
            public_only=public_only,
        )
        status = answer.status
        if 200 <= status < 300 or status == 304:
            return answer
        if 300 <= status < 400:
            raise FetchError(url, f"HTTP {status}", status=status)
        retry_after = None
        if status in (429, 503):
            retry_after = _retry_after(answer.headers, self._clock())
        if retry_after is not None:
            label = "rate limited" if status == 429 else f"HTTP {status}"
            error = FetchError(
                url,
                f"{label} (retry after {math.ceil(retry_after)} s)",
                status=status,
                retry_after=retry_after,
            )
            if retry_after <= self.retry_after_cap:
                raise _Transient(error, wait=retry_after)
            raise error
        if status == 429:
            raise FetchError(url, "rate limited", status=status)
        if status >= 500 and status != 501:
            raise _Transient(FetchError(url, f"HTTP {status}", status=status))
        raise FetchError(url, f"HTTP {status}", status=status)

    async def _follow(
        self,
        url: str,
        headers: dict[str, str],
        *,
        max_bytes: int,
        robots: bool,
        public_only: bool = False,
    ) -> _Answer:
        """GET ``url``, following redirects; the body is read only for a 2xx. With
        ``public_only`` every hop is checked before anything is sent to it (robots.txt too)."""
        current = url
        seen: set[str] = set()
        looped = False
        loop = asyncio.get_running_loop()
        budget = self.total_timeout
        for hop in range(self.max_redirects + 1):
            try:
                request = self._client.build_request("GET", current, headers=headers)
            except httpx.InvalidURL as e:
                raise FetchError(url, "invalid URL") from e
            seen.add(str(request.url))
            if public_only and await self.is_private(request.url.host, request.url.port):
                where = "redirected to" if hop else "the address of"
                raise FetchError(
                    url,
                    f"refused: {where} {request.url.host} is not a public address "
                    "([security] allow_private_sources)",
                )
            if robots and not await self._allowed(request.url, public_only):
                raise FetchError(url, "disallowed by robots.txt")
            async with self._slot(request.url.host):
                # The budget runs while a slot is held: connect to last byte, across the hops
                # (time spent waiting for a slot behind other requests is not the server's).
                started = loop.time()
                try:
                    async with asyncio.timeout(max(0.0, budget)):
                        answer, current = await self._hop(url, request, max_bytes)
                except TimeoutError as e:
                    error = FetchError(url, "timed out")
                    error.__cause__ = e
                    raise _Transient(error) from e
                budget -= loop.time() - started
            if answer is not None:
                return answer
            looped = looped or current in seen
        raise FetchError(url, "redirect loop" if looped else "too many redirects")

    async def _hop(
        self, url: str, request: httpx.Request, max_bytes: int
    ) -> tuple[_Answer | None, str]:
        """One request of a chain: the answer, or (None, where it redirects)."""
        try:
            response = await self._client.send(request, stream=True)
        except Exception as e:
            raise _transport_error(url, e) from e
        try:
            status = response.status_code
            if 200 <= status < 300:
                body = await self._read_body(url, response, max_bytes)
                return _Answer(str(request.url), status, response.headers, body), ""
            await _drain(response)
            if status not in REDIRECT_STATUSES:
                return _Answer(str(request.url), status, response.headers), ""
            location = response.headers.get("location")
            if not location:
                raise FetchError(url, f"HTTP {status} without Location", status=status)
            return None, _resolve(url, request.url, location)
        finally:
            await _close(response)

    async def _read_body(self, url: str, response: httpx.Response, max_bytes: int) -> bytes:
        """The body, within the limits; a refusal still says what the server answered."""
        try:
            return await self._read_limited(url, response, max_bytes)
        except FetchError as e:
            if e.status is None:
                raise FetchError(url, e.reason, status=response.status_code) from e
            raise

    async def _read_limited(self, url: str, response: httpx.Response, max_bytes: int) -> bytes:
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > max_bytes:
            raise FetchError(url, f"body larger than {max_bytes} bytes")
        decoder = _decoder(url, response.headers.get("content-encoding"), max_bytes)
        chunks: list[bytes] = []
        received = 0
        try:
            async for raw in response.aiter_raw():
                received += len(raw)
                if received > max_bytes:
                    raise FetchError(url, f"body larger than {max_bytes} bytes")
                chunks.append(decoder.feed(raw) if decoder else raw)
        except (FetchError, _Transient):
            raise
        except Exception as e:
            raise _transport_error(url, e) from e
        if decoder:
            chunks.append(decoder.finish())
        return b"".join(chunks)

    async def is_private(self, host: str, port: int | None = None, *, every: bool = False) -> bool:
        """Whether ``host`` is, or resolves to, an address that is not public: any of its
        addresses (a hop to it is refused), or with ``every`` all of them (a source configured
        there is an intranet one; a name with a public address among private ones is not). A
        name that does not resolve is not private (its fetch fails on its own). Lookups are
        kept for RESOLVED_SECONDS, so the pages of one site cost one."""
        host = host.strip("[]")
        try:
            return is_private_address(ipaddress.ip_address(host))
        except ValueError:
            pass
        now = time.monotonic()
        known = self._resolved.get(host)
        if known is None or now - known[0] >= RESOLVED_SECONDS:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port or 443, type=socket.SOCK_STREAM
                )
            except (OSError, UnicodeError):
                return False
            flags = [is_private_address(ipaddress.ip_address(i[4][0])) for i in infos]
            if len(self._resolved) > 4096:
                self._resolved.clear()
            known = self._resolved[host] = (now, any(flags), bool(flags) and all(flags))
        return known[2] if every else known[1]

    @asynccontextmanager
    async def _slot(self, host: str) -> AsyncIterator[None]:
        """A place among the requests in flight: the host's first, so one busy host does not
        hold global places while it waits for its own."""
        semaphore = self._hosts.get(host)
        if semaphore is None:
            semaphore = self._hosts[host] = asyncio.Semaphore(self.per_host)
        async with semaphore, self._global:
            yield

    # -- robots.txt -----------------------------------------------------------------------

    async def _allowed(self, url: httpx.URL, public_only: bool = False) -> bool:
        origin = (url.scheme, url.host, url.port)
        if origin not in self._robots:
            lock = self._robots_locks.setdefault(origin, asyncio.Lock())
            async with lock:
                if origin not in self._robots:
                    self._robots[origin] = await self._load_robots(url, public_only)
        parser = self._robots[origin]
        return parser is None or parser.can_fetch(self.user_agent, str(url))

    async def _load_robots(self, url: httpx.URL, public_only: bool) -> RobotFileParser | None:
        """The origin's robots.txt rules, or None (allow all) when it has none or is broken
        (or redirects where the fetch it is for may not go)."""
        robots_url = str(url.copy_with(path="/robots.txt", query=None, fragment=None))
        try:
            answer = await self._follow(
                robots_url,
                {},
                max_bytes=min(self.max_bytes, ROBOTS_MAX_BYTES),
                robots=False,
                public_only=public_only,
            )
        except (FetchError, _Transient):
            return None
        if not 200 <= answer.status < 300:
            return None
        parser = RobotFileParser(robots_url)
        parser.parse(answer.body.decode("utf-8", errors="replace").splitlines())
        return parser


# --------------------------------------------------------------------------------------------
# Bodies

DRAIN_BYTES = 64 * 1024
RESOLVED_SECONDS = 30.0  # how long Fetcher.is_private remembers what a host name resolved to


async def _drain(response: httpx.Response) -> None:
    """Read a small unwanted body (a 304's, a redirect's, an error page) so that the connection
    can be reused; a large one is left for closing the connection to cut short."""
    received = 0
    try:
        async for raw in response.aiter_raw():
            received += len(raw)
            if received > DRAIN_BYTES:
                return
    except Exception:  # the status is all we needed
        return


async def _close(response: httpx.Response) -> None:
    try:
        await response.aclose()
    except Exception:  # closing a broken connection: nothing left to save
        return


class _Decoder:
    """Streaming gzip/deflate decoding that never produces more than ``limit`` bytes in all."""

    def __init__(self, url: str, encoding: str, limit: int) -> None:
        self.url, self.encoding, self.limit = url, encoding, limit
        self.produced = 0
        self.fed = False
        self.pending = b""  # deflate: the first bytes, until we know zlib from raw deflate
        self.inflater: zlib._Decompress | None = None
        if encoding == "gzip":
            self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        self.fed = self.fed or bool(data)
        if self.inflater is None:
            self.pending += data
            if len(self.pending) < 2:
                return b""
            cmf, flg = self.pending[0], self.pending[1]
            zlib_header = cmf & 0x0F == 8 and (cmf << 8 | flg) % 31 == 0
            self.inflater = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
            data, self.pending = self.pending, b""
        out: list[bytes] = []
        while data:
            inflater = self.inflater
            try:
                chunk = inflater.decompress(data, self.limit - self.produced + 1)
            except zlib.error as e:
                raise FetchError(self.url, f"bad {self.encoding} body") from e
            self._count(chunk)
            out.append(chunk)
            data = inflater.unconsumed_tail
            if inflater.eof:
                data = inflater.unused_data
                if not data.strip(b"\0") or self.encoding != "gzip":
                    break  # trailing padding, or bytes after a deflate stream: ignored
                self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # next gzip member
        return b"".join(out)

    def finish(self) -> bytes:
        if not self.fed:  # no body at all (a HEAD-like answer): nothing to decode
            return b""
        if self.inflater is None:
            if self.pending:
                raise FetchError(self.url, f"bad {self.encoding} body")
            return b""
        try:
            tail = self.inflater.flush()
        except zlib.error as e:
            raise FetchError(self.url, f"bad {self.encoding} body") from e
        self._count(tail)
        if not self.inflater.eof:
            raise FetchError(self.url, f"truncated {self.encoding} body")
        return tail

    def _count(self, chunk: bytes) -> None:
        self.produced += len(chunk)
        if self.produced > self.limit:
            raise FetchError(self.url, f"decompressed body larger than {self.limit} bytes")


def _decoder(url: str, header: str | None, limit: int) -> _Decoder | None:
    codings = [c.strip().lower() for c in (header or "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return None
    if len(codings) > 1:
        raise FetchError(url, f"unsupported content encoding {header!r}")
    coding = {"x-gzip": "gzip"}.get(codings[0], codings[0])
    if coding not in ("gzip", "deflate"):
        raise FetchError(url, f"unsupported content encoding {coding!r}")
    return _Decoder(url, coding, limit)


# --------------------------------------------------------------------------------------------
# Small helpers


def _resolve(url: str, base: httpx.URL, location: str) -> str:
    try:
        target = base.join(location.strip()).copy_with(fragment=None)
    except httpx.InvalidURL as e:
        raise FetchError(url, "redirect to an invalid URL") from e
    if target.scheme not in ("http", "https"):
        raise FetchError(url, f"redirect to unsupported URL scheme {target.scheme!r}")
    return str(target)


def _parse_http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value.strip()).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _retry_after(headers: httpx.Headers, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        when = _parse_http_date(value)
        if when is None:
            return None
        # Relative to the server's own clock when it says what time it is: no skew.
        seconds = when - (_parse_http_date(headers.get("date")) or now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


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


def _transport_error(url: str, e: Exception) -> FetchError | _Transient:
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
    return _Transient(error)


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
            return f"TLS certificate not trusted ({c.verify_message})"
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


# --------------------------------------------------------------------------------------------
# One document, synchronously


def fetch_once(
    url: str,
    *,
    user_agent: str = DEFAULT_USER_AGENT,
    timeout: float = 20.0,
    max_bytes: int = MAX_BYTES,
) -> Response:
    """One plain GET (or file read), for ``syndicator extract``: no validators, no retries, no
    robots.txt (ops asked for this one document). Not for use inside a running event loop."""
    if local_path(url) is not None:
        return read_local(url, max_bytes)

    async def once() -> Fetched:
        async with Fetcher(
            user_agent=user_agent,
            timeout=timeout,
            max_bytes=max_bytes,
            retries=0,
            respect_robots=False,
            concurrency=1,
            per_host=1,
        ) as fetcher:
            return await fetcher.get(url)

    fetched = asyncio.run(once())
    return Response(
        url=fetched.final_url,
        status=fetched.status,
        body=fetched.body,
        content_type=fetched.content_type,
        etag=fetched.etag,
        last_modified=fetched.last_modified,
    )


# --------------------------------------------------------------------------------------------
# Outgoing notifications: webhook POSTs, WebSub pings, distributions and intent verification


@dataclass(frozen=True, slots=True)
class Answer:
    """What a notification target answered."""

    status: int
    body: bytes = field(repr=False)
    elapsed: float = 0.0


PRIVATE_REFUSED = "refused: the target resolves to a private or loopback address"


async def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse a target (webhook, WebSub callback) whose host is, or resolves to, a loopback,
    private, link-local or otherwise non-public address, unless private targets are allowed."""
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname) and url.isprintable()
    except ValueError:
        usable = False
    if not usable or " " in url:
        raise FetchError(url, "not an http(s) URL")
    if allow_private:
        return
    host = parts.hostname or ""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
        except OSError as e:
            raise FetchError(url, "connection failed: host name not resolved") from e
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if is_private_address(address):
            raise FetchError(url, PRIVATE_REFUSED)


class Poster:
    """Short outgoing requests to notification targets, with a timeout and a size cap on what
    is read back. Private addresses are refused unless ``allow_private`` (see check_target)."""

    def __init__(
        self,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        timeout: float = 10.0,
        allow_private: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.allow_private = allow_private
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": user_agent},
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        return await self._send("POST", url, content=body, headers=headers)

    async def get(self, url: str, params: dict[str, str]) -> Answer:
        return await self._send("GET", url, params=params)

    async def _send(self, method: str, url: str, **kwargs: object) -> Answer:
        await check_target(url, allow_private=self.allow_private)
        started = time.monotonic()
        try:
            async with self._client.stream(method, url, **kwargs) as response:  # type: ignore[arg-type]
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > 65536:
                        break
                return Answer(
                    response.status_code, b"".join(chunks)[:65536], time.monotonic() - started
                )
        except httpx.TimeoutException as e:
            raise FetchError(url, "timed out") from e
        except httpx.HTTPError as e:
            raise FetchError(url, f"connection failed: {type(e).__name__}") from e
        except (httpx.InvalidURL, httpx.StreamError, ValueError, UnicodeError) as e:
            raise FetchError(url, f"invalid request ({type(e).__name__})") from e

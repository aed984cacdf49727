"""The fetcher: conditional GETs over one wire (:mod:`~syndicator.fetch.wire`: aiohttp's
own session, or an ``httpx.AsyncClient``), with redirects followed one hop at a time (each
judged by the source's :class:`~syndicator.fetch.guard.Reach`), retries, concurrency limits
globally and per host, robots.txt, and bounded bodies; and :func:`fetch_once`, one plain GET
for ``syndicator extract``."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import math
import random
import socket
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit
from urllib.robotparser import RobotFileParser

from syndicator.errors import FetchError
from syndicator.fetch import guard
from syndicator.fetch.bodies import close_response, decoder_for, drain
from syndicator.fetch.failures import Transient, transport_error
from syndicator.fetch.guard import ANYWHERE, Reach, inside
from syndicator.fetch.lib import httpx
from syndicator.fetch.local import local_path, read_file, read_local
from syndicator.fetch.records import (
    ACCEPT_ENCODING,
    DEFAULT_USER_AGENT,
    MAX_BYTES,
    REDIRECT_STATUSES,
    ROBOTS_MAX_BYTES,
    Clock,
    Fetched,
    Response,
    Sleep,
    TransportKind,
    Validators,
    parse_http_date,
)
from syndicator.fetch.targets import Target
from syndicator.fetch.wire import Headers, Reply, open_wire


@dataclass(slots=True)
class _Answer:
    final_url: str
    status: int
    headers: Headers
    body: bytes = b""


class Fetcher:
    """Conditional GETs with limits, retries and robots.txt, over one wire: straight over
    aiohttp by default, or through an ``httpx.AsyncClient`` (``transport="httpx"``, a
    transport of its own, or a proxy named by the environment; see :func:`open_wire`).

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
        self._wire = open_wire(
            transport,
            headers={"User-Agent": user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            timeout=timeout,
            connect_timeout=connect_timeout or timeout,
            max_connections=concurrency,
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
        await self._wire.aclose()

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
                read_file, url, path, self.max_bytes, validators, self._clock
            )
        mounted = self._mounted(url)
        if mounted is not None:
            return await asyncio.to_thread(
                read_file, url, mounted, self.max_bytes, validators, self._clock, url
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
            except Transient as t:
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
        """One attempt: redirects followed, the status judged; Transient if worth retrying."""
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
                raise Transient(error, wait=retry_after)
            raise error
        if status == 429:
            raise FetchError(url, "rate limited", status=status)
        if status >= 500 and status != 501:
            raise Transient(FetchError(url, f"HTTP {status}", status=status))
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
                target = Target.parse(current)
            except httpx.InvalidURL as e:
                raise FetchError(url, "invalid URL") from e
            seen.add(target.text)
            if public_only and await self.is_private(target.host, target.port):
                where = "redirected to" if hop else "the address of"
                raise FetchError(
                    url,
                    f"refused: {where} {target.host} is not a public address "
                    "([security] allow_private_sources)",
                )
            if robots and not await self._allowed(target, public_only):
                raise FetchError(url, "disallowed by robots.txt")
            async with self._slot(target.host):
                # The budget runs while a slot is held: connect to last byte, across the hops
                # (time spent waiting for a slot behind other requests is not the server's).
                started = loop.time()
                try:
                    async with asyncio.timeout(max(0.0, budget)):
                        answer, current = await self._hop(url, target, headers, max_bytes)
                except TimeoutError as e:
                    error = FetchError(url, "timed out")
                    error.__cause__ = e
                    raise Transient(error) from e
                budget -= loop.time() - started
            if answer is not None:
                return answer
            looped = looped or current in seen
        raise FetchError(url, "redirect loop" if looped else "too many redirects")

    async def _hop(
        self, url: str, target: Target, headers: dict[str, str], max_bytes: int
    ) -> tuple[_Answer | None, str]:
        """One request of a chain: the answer, or (None, where it redirects)."""
        try:
            response = await self._wire.send(target, headers)
        except Exception as e:
            raise transport_error(url, e) from e
        try:
            status = response.status_code
            if 200 <= status < 300:
                body = await self._read_body(url, response, max_bytes)
                return _Answer(target.text, status, response.headers, body), ""
            await drain(response)
            if status not in REDIRECT_STATUSES:
                return _Answer(target.text, status, response.headers), ""
            location = response.headers.get("location")
            if not location:
                raise FetchError(url, f"HTTP {status} without Location", status=status)
            return None, _resolve(url, target.url, location)
        finally:
            await close_response(response)

    async def _read_body(self, url: str, response: Reply, max_bytes: int) -> bytes:
        """The body, within the limits; a refusal still says what the server answered."""
        try:
            return await self._read_limited(url, response, max_bytes)
        except FetchError as e:
            if e.status is None:
                raise FetchError(url, e.reason, status=response.status_code) from e
            raise

    async def _read_limited(self, url: str, response: Reply, max_bytes: int) -> bytes:
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > max_bytes:
            raise FetchError(url, f"body larger than {max_bytes} bytes")
        decoder = decoder_for(url, response.headers.get("content-encoding"), max_bytes)
        chunks: list[bytes] = []
        received = 0
        try:
            async for raw in response.aiter_raw():
                received += len(raw)
                if received > max_bytes:
                    raise FetchError(url, f"body larger than {max_bytes} bytes")
                chunks.append(decoder.feed(raw) if decoder else raw)
        except (FetchError, Transient):
            raise
        except Exception as e:
            raise transport_error(url, e) from e
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
        literal = _literal_is_private(host)
        if literal is not None:
            return literal
        now = time.monotonic()
        known = self._resolved.get(host)
        if known is None or now - known[0] >= RESOLVED_SECONDS:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port or 443, type=socket.SOCK_STREAM
                )
            except (OSError, UnicodeError):
                return False
            flags = [guard.is_private_address(ipaddress.ip_address(i[4][0])) for i in infos]
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

    async def _allowed(self, url: Target, public_only: bool = False) -> bool:
        origin = (url.scheme, url.host, url.port)
        if origin not in self._robots:
            lock = self._robots_locks.setdefault(origin, asyncio.Lock())
            async with lock:
                if origin not in self._robots:
                    self._robots[origin] = await self._load_robots(url, public_only)
        parser = self._robots[origin]
        return parser is None or parser.can_fetch(self.user_agent, url.text)

    async def _load_robots(self, url: Target, public_only: bool) -> RobotFileParser | None:
        """The origin's robots.txt rules, or None (allow all) when it has none or is broken
        (or redirects where the fetch it is for may not go)."""
        robots_url = str(url.url.copy_with(path="/robots.txt", query=None, fragment=None))
        try:
            answer = await self._follow(
                robots_url,
                {},
                max_bytes=min(self.max_bytes, ROBOTS_MAX_BYTES),
                robots=False,
                public_only=public_only,
            )
        except (FetchError, Transient):
            return None
        if not 200 <= answer.status < 300:
            return None
        parser = RobotFileParser(robots_url)
        parser.parse(answer.body.decode("utf-8", errors="replace").splitlines())
        return parser


RESOLVED_SECONDS = 30.0  # how long Fetcher.is_private remembers what a host name resolved to


@functools.lru_cache(maxsize=4096)
def _literal_is_private(host: str) -> bool | None:
    """Whether a host written as an IP address is a private one; None for a host name. (Asked
    for every pass of every source: the answer is kept rather than parsed again.)"""
    try:
        return guard.is_private_address(ipaddress.ip_address(host))
    except ValueError:
        return None


def _resolve(url: str, base: httpx.URL, location: str) -> str:
    try:
        target = base.join(location.strip()).copy_with(fragment=None)
    except httpx.InvalidURL as e:
        raise FetchError(url, "redirect to an invalid URL") from e
    if target.scheme not in ("http", "https"):
        raise FetchError(url, f"redirect to unsupported URL scheme {target.scheme!r}")
    return str(target)


def _retry_after(headers: Headers, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        when = parse_http_date(value)
        if when is None:
            return None
        # Relative to the server's own clock when it says what time it is: no skew.
        seconds = when - (parse_http_date(headers.get("date")) or now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


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

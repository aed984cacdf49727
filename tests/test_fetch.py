"""Fetching: unit tests over httpx.MockTransport, then end to end against real loopback servers
(one started here, and the shared fixture site when ../shared is present)."""

from __future__ import annotations

import asyncio
import functools
import gzip
import http.client
import http.server
import os
import socket
import ssl
import threading
import time
import tracemalloc
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from httpx_aiohttp import AiohttpTransport
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.examples import examples
from support.sites import serving

from syndicator.errors import FetchError
from syndicator.fetch import (
    Fetched,
    Fetcher,
    Reach,
    Validators,
    fetch_once,
    file_etag,
    is_private_address,
    local_path,
    make_transport,
    read_local,
)
from syndicator.fetch.targets import PLAIN, Target
from syndicator.fetch.transports import tls_context
from syndicator.fetch.wire import AiohttpWire, HttpxWire, RawHeaders, open_wire

T = TypeVar("T")
Handler = (
    Callable[[httpx.Request], httpx.Response]
    | Callable[[httpx.Request], Coroutine[Any, Any, httpx.Response]]
)
LAST_MODIFIED = "Tue, 10 Feb 2026 17:00:00 GMT"
MiB = 1024 * 1024


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


class Sleeps:
    """A recording ``sleep``: the fetcher's backoff and Retry-After waits, without waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class _Body(httpx.AsyncByteStream):
    def __init__(self, content: bytes | AsyncIterator[bytes]) -> None:
        self.content = content

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if isinstance(self.content, bytes):
            if self.content:
                yield self.content
            return
        async for chunk in self.content:
            yield chunk


def reply(
    status: int,
    *,
    headers: dict[str, str] | None = None,
    content: bytes | AsyncIterator[bytes] = b"",
) -> httpx.Response:
    """A mock answer whose body streams, as a real one does (``httpx.Response(content=b"…")``
    would be read, and decoded, before the fetcher sees it)."""
    return httpx.Response(status, headers=headers, stream=_Body(content))


def mock(handler: Handler, **options: Any) -> Fetcher:
    options.setdefault("respect_robots", False)
    options.setdefault("sleep", Sleeps())
    return Fetcher(transport=httpx.MockTransport(handler), **options)


def get(handler: Handler, url: str = "http://news.test/feed.rss", **options: Any) -> Fetched:
    validators = options.pop("validators", None)
    reach = options.pop("reach", Reach())

    async def go() -> Fetched:
        async with mock(handler, **options) as fetcher:
            return await fetcher.get(url, validators, reach)

    return run(go())


def failure(handler: Handler, url: str = "http://news.test/feed.rss", **options: Any) -> FetchError:
    with pytest.raises(FetchError) as caught:
        get(handler, url, **options)
    return caught.value


def gzipped_zeros(size: int) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MiB)
    parts = [compressor.compress(block) for _ in range(size // MiB)]
    return b"".join([*parts, compressor.flush()])


# --------------------------------------------------------------------------------------------
# Conditional GET


def test_conditional_get_sends_validators_and_reads_304() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return reply(304)

    fetched = get(handler, validators=Validators('"v1"', LAST_MODIFIED))
    assert seen[0].headers["If-None-Match"] == '"v1"'
    assert seen[0].headers["If-Modified-Since"] == LAST_MODIFIED
    assert fetched.status == 304 and fetched.not_modified
    assert fetched.body == b""
    # A 304 that does not repeat its validators keeps the ones we sent.
    assert fetched.validators == Validators('"v1"', LAST_MODIFIED)


def test_304_with_new_validators_reports_them() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return reply(304, headers={"ETag": '"v2"'})

    fetched = get(handler, validators=Validators('"v1"', LAST_MODIFIED))
    assert fetched.etag == '"v2"'
    assert fetched.last_modified == LAST_MODIFIED


def test_without_validators_no_conditional_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        headers = {"ETag": '"v1"', "Last-Modified": LAST_MODIFIED, "Content-Type": "text/xml"}
        return reply(200, headers=headers, content=b"<rss/>")

    ticks = iter([100.0, 100.25])
    fetched = get(handler, clock=lambda: next(ticks))
    assert "If-None-Match" not in seen[0].headers
    assert "If-Modified-Since" not in seen[0].headers
    assert fetched == Fetched(
        url="http://news.test/feed.rss",
        final_url="http://news.test/feed.rss",
        status=200,
        body=b"<rss/>",
        content_type="text/xml",
        etag='"v1"',
        last_modified=LAST_MODIFIED,
        elapsed=0.25,
        attempts=1,
    )


def test_user_agent_and_accept_encoding() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return reply(200, content=b"ok")

    get(handler, user_agent="syndicator-test/1.0 (+https://example.org)")
    assert seen[0].headers["User-Agent"] == "syndicator-test/1.0 (+https://example.org)"
    assert seen[0].headers["Accept-Encoding"] == "gzip, deflate"


# --------------------------------------------------------------------------------------------
# Redirects


def test_relative_redirects_are_resolved() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path == "/section/europe":
            return reply(301, headers={"Location": "../feeds/europe.rss?x=1#top"})
        if request.url.path == "/feeds/europe.rss":
            return reply(302, headers={"Location": "//cdn.news.test/e.rss"})
        return reply(200, content=b"<rss/>")

    fetched = get(handler, "http://news.test/section/europe")
    assert seen == [
        "http://news.test/section/europe",
        "http://news.test/feeds/europe.rss?x=1",
        "http://cdn.news.test/e.rss",
    ]
    assert fetched.url == "http://news.test/section/europe"
    assert fetched.final_url == "http://cdn.news.test/e.rss"


def test_redirect_limit() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        hop = int(request.url.path.rsplit("/", 1)[1])
        return reply(302, headers={"Location": f"/r/{hop + 1}"})

    error = failure(handler, "http://news.test/r/0", max_redirects=3)
    assert error.reason == "too many redirects"
    assert seen == ["/r/0", "/r/1", "/r/2", "/r/3"]


def test_redirects_within_the_limit_are_followed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        hop = int(request.url.path.rsplit("/", 1)[1])
        if hop < 3:
            return reply(307, headers={"Location": f"/r/{hop + 1}"})
        return reply(200, content=b"done")

    fetched = get(handler, "http://news.test/r/0", max_redirects=3)
    assert fetched.body == b"done"
    assert fetched.final_url == "http://news.test/r/3"


def test_redirect_loop_is_named_and_bounded() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return reply(302, headers={"Location": "/loop"})

    error = failure(handler, "http://news.test/loop", max_redirects=5)
    assert error.reason == "redirect loop"
    assert len(seen) == 6  # the first request and five redirects, then it stops
    assert error.retry_after is None


def test_redirect_without_location_or_to_another_scheme() -> None:
    def no_location(request: httpx.Request) -> httpx.Response:
        return reply(302)

    def to_ftp(request: httpx.Request) -> httpx.Response:
        return reply(301, headers={"Location": "ftp://news.test/feed"})

    assert failure(no_location).reason == "HTTP 302 without Location"
    assert failure(to_ftp).reason == "redirect to unsupported URL scheme 'ftp'"


# --------------------------------------------------------------------------------------------
# Status codes, retries and Retry-After


def test_5xx_is_retried_with_backoff_then_succeeds() -> None:
    statuses = iter([500, 502, 200])
    sleeps = Sleeps()

    def handler(request: httpx.Request) -> httpx.Response:
        return reply(next(statuses), content=b"body")

    fetched = get(handler, retries=2, backoff=1.0, sleep=sleeps)
    assert fetched.status == 200 and fetched.attempts == 3
    assert len(sleeps.calls) == 2
    first, second = sleeps.calls
    assert 0.5 <= first <= 1.0  # backoff × 2⁰, with jitter in its upper half
    assert 1.0 <= second <= 2.0  # backoff × 2¹


def test_5xx_exhausting_retries_fails_with_the_status() -> None:
    seen: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(1)
        return reply(503, content=b"down")

    error = failure(handler, retries=2)
    assert (error.reason, error.status, len(seen)) == ("HTTP 503", 503, 3)
    assert str(error) == "http://news.test/feed.rss: HTTP 503"


@pytest.mark.parametrize(
    ("status", "reason"), [(404, "HTTP 404"), (501, "HTTP 501"), (410, "HTTP 410")]
)
def test_4xx_and_501_are_not_retried(status: int, reason: str) -> None:
    seen: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(1)
        return reply(status)

    error = failure(handler, retries=3)
    assert (error.reason, error.status, len(seen)) == (reason, status, 1)


def test_connection_errors_and_timeouts_are_retried_and_wrapped() -> None:
    outcomes: list[Exception | None] = [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ReadTimeout("timed out"),
        None,
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome
        return reply(200, content=b"ok")

    assert get(handler, retries=2).attempts == 3


@pytest.mark.parametrize(
    ("exception", "reason"),
    [
        (httpx.ReadTimeout("read timed out"), "timed out"),
        (httpx.ConnectTimeout("connect timed out"), "timed out connecting"),
        (
            httpx.ConnectError("All connection attempts failed"),
            "connection failed: connection refused",
        ),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            "connection failed: closed without an answer",
        ),
        (httpx.ReadError("boom"), "connection failed: ReadError"),
    ],
)
def test_transport_failures_become_fetch_errors(exception: Exception, reason: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exception

    error = failure(handler, retries=1)
    assert error.reason == reason
    assert error.__cause__ is exception


def test_connection_failure_reason_comes_from_the_os_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except ConnectionResetError as e:
            raise httpx.ReadError("reset") from e

    assert failure(handler, retries=0).reason == "connection failed: connection reset"


def test_short_retry_after_is_waited_for_in_the_pass() -> None:
    statuses = iter([429, 200])
    sleeps = Sleeps()

    def handler(request: httpx.Request) -> httpx.Response:
        return reply(next(statuses), headers={"Retry-After": "2"}, content=b"ok")

    fetched = get(handler, sleep=sleeps, retry_after_cap=5)
    assert fetched.status == 200 and fetched.attempts == 2
    assert sleeps.calls == [2.0]


def test_long_retry_after_fails_at_once_with_retry_after() -> None:
    sleeps = Sleeps()
    seen: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(1)
        return reply(429, headers={"Retry-After": "120"})

    error = failure(handler, sleep=sleeps, retry_after_cap=5)
    assert error.reason == "rate limited (retry after 120 s)"
    assert (error.status, error.retry_after) == (429, 120.0)
    assert sleeps.calls == [] and len(seen) == 1


def test_retry_after_as_http_date_against_the_server_clock() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {
            "Date": "Tue, 10 Feb 2026 17:00:00 GMT",
            "Retry-After": "Tue, 10 Feb 2026 18:00:00 GMT",
        }
        return reply(503, headers=headers)

    error = failure(handler)
    assert error.reason == "HTTP 503 (retry after 3600 s)"
    assert (error.status, error.retry_after) == (503, 3600.0)


def test_retry_after_as_http_date_against_our_clock() -> None:
    now = 1_770_742_800.0  # Tue, 10 Feb 2026 17:00:00 GMT

    def handler(request: httpx.Request) -> httpx.Response:
        return reply(429, headers={"Retry-After": formatdate(now + 90, usegmt=True)})

    error = failure(handler, clock=lambda: now)
    assert error.retry_after == 90.0


def test_short_retry_after_that_persists_fails_with_retry_after() -> None:
    sleeps = Sleeps()

    def handler(request: httpx.Request) -> httpx.Response:
        return reply(429, headers={"Retry-After": "1"})

    error = failure(handler, sleep=sleeps, retries=2)
    assert sleeps.calls == [1.0, 1.0]
    assert (error.reason, error.retry_after) == ("rate limited (retry after 1 s)", 1.0)


def test_429_without_retry_after_is_not_retried() -> None:
    error = failure(lambda request: reply(429))
    assert (error.reason, error.status, error.retry_after) == ("rate limited", 429, None)


def test_a_slow_attempt_is_cut_by_the_total_timeout() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(10)
        return reply(200)

    started = time.monotonic()
    error = failure(handler, total_timeout=0.2, retries=0)
    assert error.reason == "timed out"
    assert time.monotonic() - started < 5


def test_unsupported_and_invalid_urls() -> None:
    assert failure(lambda r: reply(200), "ftp://news.test/x").reason == (
        "unsupported URL scheme 'ftp'"
    )
    assert failure(lambda r: reply(200), "http://[nope/").reason == "invalid URL"


# --------------------------------------------------------------------------------------------
# Bodies: size limit and decompression


async def chunks(count: int, size: int, served: list[int]) -> AsyncIterator[bytes]:
    for _ in range(count):
        served.append(size)
        yield b"x" * size


def test_body_limit_is_enforced_while_streaming() -> None:
    served: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return reply(200, content=chunks(100, 1000, served))

    error = failure(handler, max_bytes=5000)
    assert error.reason == "body larger than 5000 bytes"
    assert len(served) <= 6  # it stopped reading as soon as the limit was passed


def test_body_limit_from_content_length_reads_nothing() -> None:
    served: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Length": str(10**9)}
        return reply(200, headers=headers, content=chunks(10, 1000, served))

    assert failure(handler, max_bytes=5000).reason == "body larger than 5000 bytes"
    assert served == []


def test_body_at_the_limit_is_accepted() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return reply(200, content=b"x" * 5000)

    assert len(get(handler, max_bytes=5000).body) == 5000


def test_gzip_body_is_decoded() -> None:
    page = "<p>مرحبا</p>".encode() * 100

    def handler(request: httpx.Request) -> httpx.Response:
        return reply(200, headers={"Content-Encoding": "gzip"}, content=gzip.compress(page))

    assert get(handler).body == page


def test_gzip_bomb_fails_fast_in_bounded_memory() -> None:
    bomb = gzipped_zeros(64 * MiB)  # ~64 KiB on the wire
    assert len(bomb) < 256 * 1024
    served: list[int] = []

    async def stream() -> AsyncIterator[bytes]:
        for i in range(0, len(bomb), 4096):
            served.append(i)
            yield bomb[i : i + 4096]

    def handler(request: httpx.Request) -> httpx.Response:
        return reply(200, headers={"Content-Encoding": "gzip"}, content=stream())

    tracemalloc.start()
    try:
        error = failure(handler, max_bytes=MiB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.reason == f"decompressed body larger than {MiB} bytes"
    assert peak < 4 * MiB  # never the 64 MiB it inflates to
    assert len(served) < 8  # ~1 KiB of it was enough to know


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_deflate_body_is_decoded(wbits: int) -> None:
    page = b"<rss><channel><title>deflate</title></channel></rss>" * 50
    compressor = zlib.compressobj(6, zlib.DEFLATED, wbits)
    body = compressor.compress(page) + compressor.flush()

    async def stream() -> AsyncIterator[bytes]:
        for i in range(len(body)):  # byte by byte: the header sniffing must cope
            yield body[i : i + 1]

    def handler(request: httpx.Request) -> httpx.Response:
        return reply(200, headers={"Content-Encoding": "deflate"}, content=stream())

    assert get(handler).body == page


def test_deflate_bomb_is_bounded_too() -> None:
    body = zlib.compress(bytes(16 * MiB), 6)

    def handler(request: httpx.Request) -> httpx.Response:
        return reply(200, headers={"Content-Encoding": "deflate"}, content=body)

    error = failure(handler, max_bytes=MiB)
    assert error.reason == f"decompressed body larger than {MiB} bytes"


def test_multi_member_gzip_and_identity() -> None:
    body = gzip.compress(b"first ") + gzip.compress(b"second")

    def handler(request: httpx.Request) -> httpx.Response:
        return reply(200, headers={"Content-Encoding": "gzip"}, content=body)

    def identity(request: httpx.Request) -> httpx.Response:
        return reply(200, headers={"Content-Encoding": "identity"}, content=b"plain")

    assert get(handler).body == b"first second"
    assert get(identity).body == b"plain"


@pytest.mark.parametrize(
    ("encoding", "body", "reason"),
    [
        ("br", b"\x1b\x00", "unsupported content encoding 'br'"),
        ("gzip, br", b"", "unsupported content encoding 'gzip, br'"),
        ("gzip", b"this is not gzip", "bad gzip body"),
        ("gzip", gzip.compress(b"x" * 1000, mtime=0)[:-12], "truncated gzip body"),
    ],
)
def test_undecodable_bodies(encoding: str, body: bytes, reason: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return reply(200, headers={"Content-Encoding": encoding}, content=body)

    assert failure(handler).reason == reason


def test_an_empty_gzip_body_is_empty() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return reply(200, headers={"Content-Encoding": "gzip"})

    assert get(handler).body == b""


# --------------------------------------------------------------------------------------------
# robots.txt


def robots_site(robots: tuple[int, bytes] | Exception, log: list[str]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        log.append(f"{request.url.host}{request.url.path}")
        if request.url.path == "/robots.txt":
            if isinstance(robots, Exception):
                raise robots
            return reply(robots[0], content=robots[1])
        if request.url.path == "/moved":
            return reply(301, headers={"Location": "/private/moved"})
        return reply(200, content=b"page")

    return handler


ROBOTS = b"""\
User-agent: *
Disallow: /private/

# a group of its own replaces the * group for that agent
User-agent: syndicator
Disallow: /private/
Disallow: /no-syndicator/
"""


def test_robots_disallow_and_allow_fetched_once_per_origin() -> None:
    log: list[str] = []
    handler = robots_site((200, ROBOTS), log)

    async def go() -> list[Fetched | BaseException]:
        async with mock(handler, respect_robots=True, user_agent="syndicator/0.1") as f:
            results = await asyncio.gather(
                f.get("http://news.test/public/a.html"),
                f.get("http://news.test/private/b.html"),
                f.get("http://news.test/no-syndicator/c.html"),
                f.get("http://news.test/moved"),
                f.get("http://news.test/public/d.html"),
                return_exceptions=True,
            )
            return list(results)

    public, private, ours, moved, public2 = run(go())
    assert isinstance(public, Fetched) and isinstance(public2, Fetched)
    for result in (private, ours, moved):
        assert isinstance(result, FetchError)
        assert result.reason == "disallowed by robots.txt"
    assert log.count("news.test/robots.txt") == 1
    assert "news.test/private/b.html" not in log
    assert "news.test/private/moved" not in log  # a redirect into a disallowed path stops


def test_robots_rules_for_other_agents_do_not_apply() -> None:
    log: list[str] = []
    handler = robots_site((200, ROBOTS), log)
    options: dict[str, Any] = {"respect_robots": True, "user_agent": "otherbot/2.0"}
    assert get(handler, "http://news.test/no-syndicator/c.html", **options).status == 200
    error = failure(handler, "http://news.test/private/c.html", **options)
    assert error.reason == "disallowed by robots.txt"


@pytest.mark.parametrize(
    "robots",
    [
        (404, b"User-agent: *\nDisallow: /\n"),
        (403, b""),
        (500, b""),
        httpx.ConnectError("All connection attempts failed"),
        (200, b"User-agent: *\nDisallow: /\n" + b"#" * (600 * 1024)),
    ],
    ids=["404", "403", "500", "unreachable", "oversized"],
)
def test_missing_or_broken_robots_allows_everything(robots: tuple[int, bytes] | Exception) -> None:
    log: list[str] = []
    fetched = get(robots_site(robots, log), "http://news.test/private/x", respect_robots=True)
    assert fetched.status == 200
    assert log == ["news.test/robots.txt", "news.test/private/x"]


# --------------------------------------------------------------------------------------------
# Concurrency limits


class InFlight:
    """A transport handler that holds each request a moment and records the peaks."""

    def __init__(self) -> None:
        self.now: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.total = 0
        self.peak_total = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        self.now[host] += 1
        self.total += 1
        self.peak[host] = max(self.peak[host], self.now[host])
        self.peak_total = max(self.peak_total, self.total)
        await asyncio.sleep(0.01)
        self.now[host] -= 1
        self.total -= 1
        return reply(200, content=b"ok")


def fetch_all(handler: InFlight, urls: list[str], **options: Any) -> None:
    async def go() -> None:
        async with mock(handler, **options) as fetcher:
            await asyncio.gather(*(fetcher.get(u) for u in urls))

    run(go())


def test_per_host_limit() -> None:
    handler = InFlight()
    urls = [f"http://{host}.test/{i}" for host in ("a", "b", "c") for i in range(8)]
    fetch_all(handler, urls, per_host=2, concurrency=50)
    assert handler.peak == {"a.test": 2, "b.test": 2, "c.test": 2}
    assert handler.peak_total == 6


def test_global_limit() -> None:
    handler = InFlight()
    urls = [f"http://h{i % 6}.test/{i}" for i in range(30)]
    fetch_all(handler, urls, per_host=4, concurrency=3)
    assert handler.peak_total == 3


# --------------------------------------------------------------------------------------------
# Local files


def test_local_files_emulate_conditional_get(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(b"<html>one</html>")
    os.utime(page, ns=(1_770_742_800_000_000_000, 1_770_742_800_000_000_000))
    stat = page.stat()

    async def go() -> list[Fetched]:
        here = Reach(local_root=tmp_path)
        async with Fetcher(respect_robots=False) as fetcher:
            first = await fetcher.get(page.as_uri(), None, here)
            by_etag = await fetcher.get(str(page), first.validators, here)
            by_date = await fetcher.get(str(page), Validators(None, first.last_modified), here)
            page.write_bytes(b"<html>two, longer</html>")
            changed = await fetcher.get(str(page), first.validators, here)
            return [first, by_etag, by_date, changed]

    first, by_etag, by_date, changed = run(go())
    assert first.status == 200 and first.body == b"<html>one</html>"
    assert first.etag == file_etag(stat.st_size, stat.st_mtime_ns) == f'"16-{stat.st_mtime_ns}"'
    assert first.last_modified == LAST_MODIFIED
    assert first.final_url == page.resolve().as_uri()
    assert (by_etag.status, by_etag.body) == (304, b"")
    assert by_date.status == 304
    assert changed.status == 200 and changed.body == b"<html>two, longer</html>"


def test_local_file_failures(tmp_path: Path) -> None:
    big = tmp_path / "big.xml"
    big.write_bytes(b"x" * 2000)

    async def reason(url: str, root: Path | None = tmp_path) -> str:
        async with Fetcher(max_bytes=1000) as fetcher:
            try:
                await fetcher.get(url, None, Reach(local_root=root))
            except FetchError as e:
                return e.reason
        return "fetched"

    assert run(reason(str(tmp_path / "missing.rss"))) == "no such file"
    assert run(reason(str(tmp_path))) == "is a folder, not a file"
    assert run(reason(str(big))) == "file larger than 1000 bytes"
    # Local files are read for a local source only, and only inside its folder.
    assert run(reason(big.as_uri(), None)) == "refused: a local file, and this source is not one"
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "link").symlink_to(big)
    for outside in (str(big), str(inner / ".." / "big.xml"), str(inner / "link"), "/etc/passwd"):
        assert run(reason(outside, inner)) == f"refused: a local file outside {inner}", outside


@pytest.mark.parametrize(
    ("address", "private"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),  # the metadata service of the clouds
        ("100.64.0.1", True),  # shared address space (carrier NAT)
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("::1", True),
        ("fe80::1", True),
        ("fc00::1", True),
        ("::ffff:10.0.0.1", True),
        ("::ffff:169.254.169.254", True),
        ("93.184.216.34", False),
        ("2606:2800:220:1:248:1893:25c8:1946", False),
        ("::ffff:93.184.216.34", False),
    ],
)
def test_address_classification(address: str, private: bool) -> None:
    import ipaddress

    assert is_private_address(ipaddress.ip_address(address)) is private


def test_public_only_is_checked_at_every_hop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before any request goes to a hop (robots.txt included), its address is judged; here
    through an injected classifier (10.9.9.9 private), with a mock transport: nothing is sent
    anywhere."""
    from syndicator.fetch import guard

    monkeypatch.setattr(guard, "is_private_address", lambda a: str(a) == "10.9.9.9")
    asked: list[str] = []

    def site(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        if request.url.path == "/robots.txt":
            return reply(404)
        if request.url.host == "10.9.9.9":
            return reply(200, content=b"private")
        if request.url.path == "/hop":
            return reply(302, headers={"Location": "/hop2"})
        return reply(302, headers={"Location": "http://10.9.9.9/secret"})

    guarded = Reach(public_only=True)
    error = failure(site, "http://192.0.2.1/hop", reach=guarded, respect_robots=True)
    assert error.reason == (
        "refused: redirected to 10.9.9.9 is not a public address ([security] allow_private_sources)"
    )
    assert not [u for u in asked if "10.9.9.9" in u]
    first = failure(site, "http://10.9.9.9/secret", reach=guarded)
    assert first.reason.startswith("refused: the address of 10.9.9.9 is not a public address")
    assert get(site, "http://192.0.2.1/hop", reach=Reach()).body == b"private"


def test_local_path_and_read_local(tmp_path: Path) -> None:
    sample = tmp_path / "a b.txt"
    sample.write_text("hello")
    assert local_path(sample.as_uri()) == sample
    assert local_path("samples/x.html") == Path("samples/x.html")
    assert local_path("https://news.test/") is None
    response = read_local(str(sample))
    assert (response.status, response.body, response.url) == (200, b"hello", sample.as_uri())
    assert fetch_once(str(sample)).body == b"hello"


# --------------------------------------------------------------------------------------------
# End to end against a loopback server started here (always available)


@functools.cache
def local_bomb() -> bytes:
    return gzipped_zeros(32 * MiB)


class _Site(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, as servers do
    stop = threading.Event()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:  # the client gave up (a timeout test): nothing to answer
            self.close_connection = True

    def do_GET(self) -> None:
        path = self.path
        validators = {"ETag": '"v1"', "Last-Modified": LAST_MODIFIED}
        if path == "/page.html":
            if self.headers.get("If-None-Match") == '"v1"':
                return self.answer(304, headers=validators)
            return self.answer(
                200, b"<html>page</html>", validators | {"Content-Type": "text/html"}
            )
        if path.startswith("/status/"):
            return self.answer(int(path.rsplit("/", 1)[1]), b"status")
        if path == "/loop":
            return self.answer(302, headers={"Location": "/loop"})
        if path == "/moved":
            return self.answer(301, headers={"Location": "page.html"})
        if path == "/bomb":
            return self.answer(200, local_bomb(), {"Content-Encoding": "gzip"})
        if path == "/gzip":
            return self.answer(200, gzip.compress(b"<p>gz</p>"), {"Content-Encoding": "gzip"})
        if path == "/endless":  # no Content-Length: the body ends when the connection does
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            try:
                for _ in range(64):
                    self.wfile.write(b"x" * 65536)
            except OSError:
                pass
            return None
        if path == "/slow":
            self.stop.wait(5)
            return self.answer(200, b"late")
        if path == "/reset":
            self.close_connection = True
            return None
        return self.answer(404, b"no")


@pytest.fixture(scope="module")
def local_site() -> Iterator[str]:
    _Site.stop.clear()
    with serving(_Site) as url:
        try:
            yield url
        finally:
            _Site.stop.set()  # a /slow answer still waiting gives up, so the server can stop


# Straight over aiohttp (the default), httpx's own transport, and httpx over aiohttp (the wire
# taken when the environment names a proxy).
TRANSPORTS = ["aiohttp", "httpx", "httpx-aiohttp"]


def fetch_real(url: str, validators: Validators | None = None, **options: Any) -> Fetched:
    options.setdefault("backoff", 0.01)

    async def go() -> Fetched:
        if options.get("transport") == "httpx-aiohttp":
            options["transport"] = make_transport("aiohttp", max_connections=4)
        async with Fetcher(**options) as fetcher:
            return await fetcher.get(url, validators)

    return run(go())


def real_failure(url: str, **options: Any) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetch_real(url, **options)
    return caught.value


@pytest.mark.network
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_loopback_conditional_get(local_site: str, transport: str) -> None:
    first = fetch_real(f"{local_site}/page.html", transport=transport)
    assert (first.status, first.body, first.etag) == (200, b"<html>page</html>", '"v1"')
    again = fetch_real(f"{local_site}/page.html", first.validators, transport=transport)
    assert (again.status, again.body, again.etag) == (304, b"", '"v1"')
    moved = fetch_real(f"{local_site}/moved", transport=transport)
    assert moved.final_url == f"{local_site}/page.html"
    assert fetch_real(f"{local_site}/gzip", transport=transport).body == b"<p>gz</p>"


@pytest.mark.network
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_loopback_failures(local_site: str, transport: str) -> None:
    def reason(path: str, **options: Any) -> tuple[str, int | None]:
        error = real_failure(local_site + path, transport=transport, **options)
        return error.reason, error.status

    assert reason("/status/500", retries=1) == ("HTTP 500", 500)
    assert reason("/status/404") == ("HTTP 404", 404)
    assert reason("/loop") == ("redirect loop", None)
    # A refused body still says what the server answered.
    assert reason("/bomb", max_bytes=MiB) == (f"decompressed body larger than {MiB} bytes", 200)
    assert reason("/endless", max_bytes=MiB) == (f"body larger than {MiB} bytes", 200)
    assert reason("/slow", timeout=0.3, retries=0) == ("timed out", None)
    assert reason("/reset", retries=0) == ("connection failed: closed without an answer", None)


def test_the_wire_is_aiohttp_unless_a_proxy_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """aiohttp does not read proxies from the environment as httpx does: with one named, the
    fetcher goes through httpx (over aiohttp's transport), which honours it."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)

    def wire(kind: Any) -> object:
        return open_wire(kind, headers={}, timeout=1.0, connect_timeout=1.0, max_connections=1)

    assert isinstance(wire("auto"), AiohttpWire)
    assert isinstance(wire("aiohttp"), AiohttpWire)
    assert isinstance(wire("httpx"), HttpxWire)
    assert isinstance(wire(httpx.MockTransport(lambda r: reply(200))), HttpxWire)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    behind = wire("auto")
    assert isinstance(behind, HttpxWire)
    assert isinstance(behind.client._transport, AiohttpTransport)


@pytest.mark.network
def test_https_over_the_aiohttp_wire_trusts_the_tls_context_roots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The aiohttp wire verifies an https server with the roots of our TLS context (made with
    the first https request; $SSL_CERT_FILE here), and refuses one they do not vouch for."""
    import trustme  # here: cryptography's x509 is a tenth of a second of every worker's start

    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    ca, stranger = trustme.CA(), trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    stranger.cert_pem.write_to_path(str(tmp_path / "stranger.pem"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    server.daemon_threads = True
    # A refused handshake fails in accept(), which the server lets go (an OSError).
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    url = f"https://127.0.0.1:{server.server_address[1]}/page.html"

    async def get() -> Fetched:
        async with Fetcher(respect_robots=False, retries=0) as fetcher:
            assert isinstance(fetcher._wire, AiohttpWire)
            return await fetcher.get(url)

    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
        tls_context.cache_clear()
        assert run(get()).body == b"<html>page</html>"
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "stranger.pem"))
        tls_context.cache_clear()
        with pytest.raises(FetchError) as refused:
            run(get())
        assert refused.value.reason == (
            "connection failed: TLS certificate not trusted "
            "(unable to get local issuer certificate)"
        )
    finally:
        tls_context.cache_clear()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.network
def test_plain_http_over_the_aiohttp_wire_makes_no_tls_context(local_site: str) -> None:
    """The TLS context (its roots loaded: tens of milliseconds) is made with the first https
    request, never for a pass of plain-http sources."""

    async def get() -> Fetched:
        async with Fetcher(respect_robots=False) as fetcher:
            assert isinstance(fetcher._wire, AiohttpWire)
            return await fetcher.get(f"{local_site}/page.html", Validators('"v1"', None))

    tls_context.cache_clear()
    assert run(get()).status == 304
    assert tls_context.cache_info().currsize == 0


@pytest.mark.network
def test_loopback_connection_refused() -> None:
    with socket.socket() as s:  # a loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    error = real_failure(f"http://127.0.0.1:{port}/", retries=0)
    assert error.reason == "connection failed: connection refused"


@pytest.mark.network
def test_fetch_once_over_http(local_site: str) -> None:
    response = fetch_once(f"{local_site}/moved")
    assert (response.url, response.status, response.body) == (
        f"{local_site}/page.html",
        200,
        b"<html>page</html>",
    )
    assert response.content_type == "text/html"
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch_once(f"{local_site}/nothing")


# --------------------------------------------------------------------------------------------
# End to end against the project's fixture site (tests/fixture_site.py)


BOMB_TEST = "test_site_gzip_bomb"


@pytest.fixture(scope="module", autouse=True)
def site_bomb(request: pytest.FixtureRequest) -> Iterator[threading.Thread | None]:
    """The fixture site builds its gzip bomb (1 GiB of zeros, gzipped) on first request: ~10 s of
    its own time. When the bomb test is to run, ask for the bomb in the background from the
    start of this module, so the other tests run meanwhile."""
    if not any(item.name == BOMB_TEST for item in request.session.items):
        yield None
        return
    base = request.getfixturevalue("fixture_site").base
    port = int(base.rsplit(":", 1)[1])

    def warm_up() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            connection.request("GET", "/__fault/gzip-bomb")
            connection.getresponse().read()
        except OSError:
            pass
        finally:
            connection.close()

    thread = threading.Thread(target=warm_up, daemon=True)
    thread.start()
    yield thread
    thread.join(timeout=60)


@pytest.fixture
def site(fixture_site: Any) -> Any:
    return fixture_site


@pytest.mark.network
def test_site_etag_and_304(site: Any) -> None:
    url = site.url("/article/tea-harvest.html")
    first = fetch_real(url, user_agent="syndicator-e2e/1")
    assert first.status == 200 and first.etag and first.last_modified
    assert b"<html" in first.body.lower()
    again = fetch_real(url, first.validators, user_agent="syndicator-e2e/1")
    assert (again.status, again.body, again.etag) == (304, b"", first.etag)
    logged = [r for r in site.requests() if r["path"] == "/article/tea-harvest.html"]
    assert logged[-1]["if_none_match"] == first.etag
    assert logged[-1]["status"] == 304
    assert logged[-1]["user_agent"] == "syndicator-e2e/1"


@pytest.mark.network
def test_site_faults(site: Any) -> None:
    def fails(path: str, **options: Any) -> FetchError:
        return real_failure(site.url(path), **options)

    error = fails("/__fault/status/500", retries=1)
    assert (error.reason, error.status) == ("HTTP 500", 500)
    assert fails("/__fault/redirect-loop").reason == "redirect loop"
    assert fails("/__fault/huge/50", max_bytes=MiB).reason == f"body larger than {MiB} bytes"
    assert fails("/__fault/slow/5", timeout=1, retries=0).reason == "timed out"
    assert (
        fails("/__fault/reset", retries=1).reason == "connection failed: closed without an answer"
    )


@pytest.mark.network
def test_site_retry_after(site: Any) -> None:
    started = time.monotonic()
    short = fails_with(site.url("/__fault/retry-after/1"), retries=1)
    assert time.monotonic() - started >= 1.0  # it waited the second it was asked to, once
    assert (short.reason, short.status, short.retry_after) == (
        "rate limited (retry after 1 s)",
        429,
        1.0,
    )
    long = fails_with(site.url("/__fault/retry-after/3600"))
    assert (long.reason, long.retry_after) == ("rate limited (retry after 3600 s)", 3600.0)


def fails_with(url: str, **options: Any) -> FetchError:
    return real_failure(url, **options)


@pytest.mark.network
def test_site_flaky_source_succeeds_after_retries(site: Any) -> None:
    path = "/__fault/flaky/2/feed.rss"
    earlier = sum(1 for r in site.requests() if r["path"] == path)
    fetched = fetch_real(site.url(path), retries=2)
    assert fetched.status == 200 and b"<rss" in fetched.body
    assert fetched.attempts == max(1, 3 - earlier)


@pytest.mark.network
@pytest.mark.slow
def test_site_gzip_bomb(site: Any, site_bomb: threading.Thread | None) -> None:
    if site_bomb is not None:
        site_bomb.join(timeout=60)  # the site has built its bomb: this fetch needs no patience
    error = real_failure(site.url("/__fault/gzip-bomb"), max_bytes=4 * MiB, timeout=60)
    assert error.reason == f"decompressed body larger than {4 * MiB} bytes"


def test_a_name_with_private_and_public_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hop is refused when any address of its host is private; a source is an intranet one
    (unguarded) only when all of them are: a public name that also resolves privately stays
    guarded. The lookups are answered here; nothing is resolved or sent."""
    import socket as socket_module

    answers = {
        "mixed.test": ["93.184.216.34", "10.0.0.1"],
        "intranet.test": ["10.0.0.2", "192.168.0.2"],
        "public.test": ["93.184.216.34"],
    }

    async def lookup(host: str, port: int, **kwargs: Any) -> list[Any]:
        return [(socket_module.AF_INET, 1, 6, "", (a, port)) for a in answers[host]]

    async def go() -> list[tuple[bool, bool]]:
        asyncio.get_running_loop().getaddrinfo = lookup  # type: ignore[method-assign]
        async with Fetcher(transport=httpx.MockTransport(lambda r: reply(200))) as fetcher:
            return [
                (await fetcher.is_private(h), await fetcher.is_private(h, every=True))
                for h in answers
            ]

    assert run(go()) == [(True, False), (True, True), (False, False)]


def test_a_robots_txt_is_not_followed_to_a_private_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """robots.txt is fetched for the hop's host, and its own redirects are judged like the
    hop's: a public site's robots.txt redirecting to a private address is not followed."""
    from syndicator.fetch import guard

    monkeypatch.setattr(guard, "is_private_address", lambda a: str(a) == "10.9.9.9")
    asked: list[str] = []

    def site(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        if request.url.path == "/robots.txt" and request.url.host != "10.9.9.9":
            return reply(302, headers={"Location": "http://10.9.9.9/robots.txt"})
        return reply(200, content=b"<rss/>")

    fetched = get(
        site, "http://192.0.2.1/feed.rss", reach=Reach(public_only=True), respect_robots=True
    )
    assert fetched.status == 200
    assert not [u for u in asked if "10.9.9.9" in u], asked


# --------------------------------------------------------------------------------------------
# The URLs the fetcher requests: the quick reading agrees with httpx's


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/s/17",
        "https://news.example/feeds/world/rss.xml?x=1&y=2",
        "http://a.example/%7euser/x%2Fy?q=%41&r",
        "http://a.example/.well-known/x",
        "http://a.example/x/...",
        "http://a.example:65535/x;p?a=1?b",
        "http://a:80/x",  # the default port goes
        "https://a:443/x",
        "http://A.example/x",  # httpx lower-cases the host
        "http://a.example/a/./b/../c",  # and resolves dot segments
        "http://a.example/a b?q=é",  # and encodes what needs it
        "http://a.example/x#fragment",
        "http://user@a.example/",
        "http://a.example",
        "http://a.example:080/",
        "http://xn--mnchen-3ya.example/",
        "http://münchen.example/",
        "http://1.1.1/",
        "http://[::1]:8080/x",
    ],
)
def test_targets_read_as_httpx_reads_them(url: str) -> None:
    assert read_as_httpx_reads_it(url).url == httpx.URL(url)


def read_as_httpx_reads_it(url: str) -> Target:
    """The URL as Target reads it, checked against httpx's reading: text, scheme, host, port."""
    target = Target.parse(url)
    expected = httpx.URL(url)
    assert (target.text, target.scheme, target.host, target.port) == (
        str(expected),
        expected.scheme,
        expected.host,
        expected.port,
    )
    return target


@pytest.mark.parametrize("url", ["http://999.1.1.1/", "http://01.1.1.1/", "http://[nope]/"])
def test_targets_refuse_what_httpx_refuses(url: str) -> None:
    with pytest.raises(httpx.InvalidURL):
        httpx.URL(url)
    with pytest.raises(httpx.InvalidURL):
        Target.parse(url)


@settings(max_examples=examples(400), deadline=None, suppress_health_check=list(HealthCheck))
@given(st.from_regex(PLAIN, fullmatch=True))
def test_every_url_read_quickly_is_read_as_httpx_reads_it(url: str) -> None:
    read_as_httpx_reads_it(url)


@pytest.mark.parametrize(
    "raw",
    [
        [(b"Content-Type", b"application/rss+xml"), (b"ETag", b'"v1"')],
        [(b"etag", b'"a"'), (b"ETAG", b'"b"'), (b"Date", b"Tue, 10 Feb 2026 17:00:00 GMT")],
        [(b"Location", "/أخبار/1".encode()), (b"X-Other", b"plain")],
        [(b"Location", "/caf\u00e9".encode("latin-1")), (b"Retry-After", b"5")],
        [],
    ],
)
def test_the_aiohttp_wire_reads_headers_as_httpx_does(raw: list[tuple[bytes, bytes]]) -> None:
    """The aiohttp wire's headers (RawHeaders, made without httpx) give what httpx.Headers
    gives: any case, repeated values joined, the same decoding."""
    ours, theirs = RawHeaders(raw), httpx.Headers(raw)
    for name in ("content-type", "ETag", "etag", "location", "Retry-After", "date", "missing"):
        assert ours.get(name) == theirs.get(name), name
        assert ours.get(name, "") == theirs.get(name, ""), name


def test_the_tls_context_is_httpx_default() -> None:
    """The TLS context made without httpx trusts what httpx's default context trusts."""
    ours, theirs = tls_context(), httpx.create_ssl_context()
    assert ours.verify_mode == theirs.verify_mode
    assert ours.check_hostname == theirs.check_hostname
    assert ours.minimum_version == theirs.minimum_version
    assert ours.cert_store_stats() == theirs.cert_store_stats()

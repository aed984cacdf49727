"""The HTTP face of the service: a raw ASGI application over a :class:`~syndicator.service.Service`.

``/feeds/…`` (and ``/``, the published index page) answer from the files held in memory: strong
ETag per content coding, Last-Modified, 304, gzip, HEAD, ``Link`` to hub and self. That path
renders nothing, touches neither the disk nor the database, and sends headers prepared once per
file. Everything else goes through a small router: the ops page (``/status``), ``/healthz``,
``/metrics``, the JSON API under ``/api/`` and its OpenAPI document. Every request is counted by
route template, never by raw path. The write endpoints (``POST /api/…`` and ``POST /hub``) are
rate-limited per client address (a token bucket, ``[service] rate_limit`` and ``rate_burst``);
nothing else is.

This module does not fetch, store or render feeds itself: it asks the service.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote, urlsplit

from syndicator import __version__, pages
from syndicator.config import Config
from syndicator.demo import SAMPLES_PATH
from syndicator.errors import ConfigError, ConfigErrors, SyndicatorError
from syndicator.health import HEALTH_STATES
from syndicator.ingest import parse_ndjson
from syndicator.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from syndicator.model import Entry, iso
from syndicator.pages import CHART_DAYS
from syndicator.pages import status_page as render_status_page
from syndicator.service import FeedFile, Service

log = logging.getLogger("syndicator.web")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

MAX_BODY = 5 * 1024 * 1024  # bytes: a larger request body is refused with 413
BODY_SECONDS = 60.0  # for a request body to arrive whole: later, 408
DEFAULT_LIMIT, MAX_LIMIT = 50, 500  # articles per API answer
HEALTH_TIMEOUT = 5.0  # seconds /healthz waits for the store before it says it is unreachable
FEED_CACHE_CONTROL = b"public, max-age=60"
ARCHIVE_CACHE_CONTROL = b"public, max-age=86400"  # archive pages are complete (RFC 5005)
BODY_TYPES = ("application/json", "application/x-ndjson", "application/ndjson")

MAX_CLIENTS = 10_000  # client addresses the rate limiter keeps a bucket for

# The pages load nothing but their inline style and the pictures of articles (the publishers'),
# run no script, post forms only to this site, and are never framed.
HTML_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: http: data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HTML_SECURITY: Headers = [
    (b"content-security-policy", HTML_CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
FEED_SECURITY: Headers = [
    (b"content-security-policy", b"default-src 'none'"),
    (b"x-content-type-options", b"nosniff"),
]
NO_STORE = (b"cache-control", b"no-store")
NOSNIFF = (b"x-content-type-options", b"nosniff")
JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"


def make_app(service: Service, *, manage: bool = False) -> ASGIApp:
    """The ASGI application of a service (``run`` and ``serve`` hand it to the web server).

    With ``manage``, the ASGI lifespan starts and stops the service (``serve``'s workers);
    otherwise whoever made the service does (``run``)."""
    return Web(service, manage=manage)


# --------------------------------------------------------------------------------------------
# Requests and responses


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = TEXT_TYPE
    headers: Headers = field(default_factory=list)


class HTTPError(Exception):
    """A request that cannot be answered as asked: a status, a reason, extra headers."""

    def __init__(
        self,
        status: int,
        reason: str,
        *,
        headers: Headers | None = None,
        errors: Sequence[str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason
        self.headers = headers or []
        self.errors = list(errors) if errors is not None else None


class ClientGone(Exception):
    """The client went away while its request body was being read."""


def text_response(status: int, text: str, headers: Headers | None = None) -> Response:
    return Response(status, (text + "\n").encode(), TEXT_TYPE, [NOSNIFF, *(headers or [])])


def json_response(status: int, value: Any, headers: Headers | None = None) -> Response:
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(status, body, JSON_TYPE, [NO_STORE, NOSNIFF, *(headers or [])])


def html_response(page: str) -> Response:
    return Response(200, page.encode(), HTML_TYPE, [NO_STORE, *HTML_SECURITY])


@dataclass(slots=True)
class Request:
    scope: Scope
    receive: Receive
    method: str
    path: str
    param: str = ""  # the ``{id}`` of a route with one

    def header(self, name: bytes) -> str | None:
        for key, value in self.scope["headers"]:
            if key == name:
                return bytes(value).decode("latin-1")
        return None

    def query(self) -> dict[str, str]:
        raw = bytes(self.scope.get("query_string", b"")).decode("latin-1")
        try:
            pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=False)
        except ValueError as e:
            raise HTTPError(400, f"bad query string: {e}") from e
        return dict(pairs)

    async def body(self, limit: int = MAX_BODY) -> bytes:
        """The request body, read as it arrives; 413 as soon as it passes ``limit`` bytes, 408
        when it has not all come within BODY_SECONDS (a client that trickles its body cannot
        hold a connection and a task for ever)."""
        length = self.header(b"content-length")
        if length is not None:
            if not length.strip().isdigit():
                raise HTTPError(400, "Content-Length is not a number")
            if len(length.strip()) > 18 or int(length) > limit:
                raise HTTPError(413, f"the request body is over {_size(limit)}")
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(BODY_SECONDS):
                while True:
                    message = await self.receive()
                    if message["type"] == "http.disconnect":
                        raise ClientGone
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:
                        raise HTTPError(413, f"the request body is over {_size(limit)}")
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        return b"".join(chunks)
        except TimeoutError:
            raise HTTPError(
                408,
                f"the request body did not come within {BODY_SECONDS:g} s",
                headers=[(b"connection", b"close")],
            ) from None


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit >> 10} KiB"


Handler = Callable[[Request], Awaitable[Response]]
MAX_HUB_BODY = 64 * 1024  # a WebSub request is a handful of short parameters


# --------------------------------------------------------------------------------------------
# Rate limits of the write endpoints


class RateLimiter:
    """A token bucket per client: ``burst`` requests at once, then ``rate`` per second.

    Memory is bounded: buckets are kept least recently used first; a bucket idle for long enough
    to be full again is forgotten (a new one would be the same), and past ``max_clients`` the
    least recently used is dropped. Each call does a constant amount of work on average."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1 or max_clients < 1:
            raise ValueError("rate, burst and max_clients must be positive")
        self.rate, self.burst, self.max_clients = rate, burst, max_clients
        self.clock = clock
        self._refill = burst / rate  # seconds in which an empty bucket fills up
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, when

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, client: str) -> float:
        """Spend one of the client's tokens: 0.0 when it had one, else the seconds until it
        will (and nothing is spent)."""
        now = self.clock()
        buckets = self._buckets
        while buckets:  # forget the idle: their buckets are full again
            oldest, (_, when) = next(iter(buckets.items()))
            if now - when < self._refill:
                break
            del buckets[oldest]
        bucket = buckets.pop(client, None)
        if bucket is None:
            tokens = float(self.burst)
        else:
            tokens = min(float(self.burst), bucket[0] + (now - bucket[1]) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        buckets[client] = (tokens, now)
        if len(buckets) > self.max_clients:
            buckets.popitem(last=False)
        return wait


# --------------------------------------------------------------------------------------------
# Feed files: headers prepared once per file and config


class _Variant(NamedTuple):
    etag: bytes
    body: bytes
    full: Headers  # a 200's headers
    not_modified: Headers  # a 304's headers


class _Prepared(NamedTuple):
    file: FeedFile
    config: Config
    identity: _Variant
    gzip: _Variant
    last_modified: bytes


def _prepare(file: FeedFile, config: Config, *, feed: bool = True) -> _Prepared:
    common: Headers = [
        (b"last-modified", file.last_modified.encode()),
        (
            b"cache-control",
            ARCHIVE_CACHE_CONTROL if file.path.startswith("archive/") else FEED_CACHE_CONTROL,
        ),
        (b"vary", b"accept-encoding"),
    ]
    if feed and file.path.endswith((".atom", ".rss", ".json")):
        base = config.service.base_url
        links = [f'<{hub}>; rel="hub"' for hub in config.publish.hubs]
        if config.publish.builtin_hub:
            links.append(f'<{base}/hub>; rel="hub"')
        links.append(f'<{base}/feeds/{file.path}>; rel="self"')
        common.append((b"link", ", ".join(links).encode()))
    common += HTML_SECURITY if file.media_type.startswith("text/html") else FEED_SECURITY
    media_type = file.media_type.encode()
    # A gzip body is another representation of the file: it gets its own strong ETag (RFC 9110
    # 8.8.3), so that a cache never mixes the two.
    plain_tag = file.etag.encode()
    gzip_tag = plain_tag[:-1] + b'-gzip"'

    def variant(tag: bytes, body: bytes, coding: Headers) -> _Variant:
        head = [(b"etag", tag), *common]
        full = [
            *head,
            (b"content-type", media_type),
            (b"content-length", str(len(body)).encode()),
            *coding,
        ]
        return _Variant(tag, body, full, head)

    return _Prepared(
        file,
        config,
        variant(plain_tag, file.body, []),
        variant(gzip_tag, file.gzipped, [(b"content-encoding", b"gzip")]),
        file.last_modified.encode(),
    )


def accepts_gzip(value: bytes) -> bool:
    """Whether an Accept-Encoding value allows gzip (``gzip;q=0`` and ``identity`` do not)."""
    value = value.lower()
    if b"gzip" not in value and b"*" not in value:
        return False
    if b"q=" not in value:
        return True
    weights: dict[bytes, float] = {}
    for part in value.split(b","):
        name, _, params = part.partition(b";")
        q = 1.0
        for param in params.split(b";"):
            key, _, number = param.strip().partition(b"=")
            if key == b"q":
                try:
                    q = float(number)
                except ValueError:
                    q = 0.0
        weights[name.strip()] = q
    for name in (b"gzip", b"x-gzip", b"*"):
        if name in weights:
            return weights[name] > 0
    return False


def etag_listed(header: bytes, etag: bytes) -> bool:
    """If-None-Match's weak comparison: is ``etag`` (or ``*``) in the list?"""
    for tag in header.split(b","):
        tag = tag.strip()
        if tag == b"*" or tag.removeprefix(b"W/") == etag:
            return True
    return False


def not_modified_since(header: bytes, prepared: _Prepared) -> bool:
    if header == prepared.last_modified:
        return True
    try:
        since = parsedate_to_datetime(header.decode("latin-1"))
    except (TypeError, ValueError, IndexError, OverflowError):
        return False  # not an HTTP date: ignored (RFC 9110 13.1.3)
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return int(prepared.file.modified) <= since.timestamp()


# --------------------------------------------------------------------------------------------
# The application


class Web:
    """The ASGI application. ``/feeds/`` is answered inline; the rest goes through the router."""

    def __init__(self, service: Service, *, manage: bool = False) -> None:
        self.service = service
        self.manage = manage
        self._prepared: dict[str, _Prepared] = {}
        self._counters: dict[tuple[str, int], Any] = {}
        self._timers: dict[str, Any] = {}
        self._openapi: tuple[Config, bytes] | None = None
        self._limiter: RateLimiter | None = None
        self.routes: dict[str, dict[str, Handler]] = {
            "/status": {"GET": self.status_page},
            "/status/outbox": {"GET": self.outbox_page, "POST": self.outbox_form},
            "/api/deliveries/retry": {"POST": self.api_retry},
            "/healthz": {"GET": self.healthz},
            "/metrics": {"GET": self.metrics},
            "/openapi.json": {"GET": self.openapi},
            "/api/sources": {"GET": self.api_sources},
            "/api/articles": {"GET": self.api_articles, "POST": self.api_push},
            "/api/reload": {"POST": self.api_reload},
            "/hub": {"POST": self.hub},
        }
        # Routes with a parameter: prefix → (template, methods); the rest of the path is ``param``.
        self.param_routes: dict[str, tuple[str, dict[str, Handler]]] = {
            "/api/articles/": ("/api/articles/{id}", {"GET": self.api_article}),
            "/api/sources/": ("/api/sources/{id}/{action}", {"POST": self.api_source_action}),
            "/status/sources/": (
                "/status/sources/{id}",
                {"GET": self.source_page, "POST": self.source_form},
            ),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            started = time.perf_counter()
            path: str = scope["path"]
            if path.startswith("/feeds/"):
                file = self.service.feeds.get(path[7:])
                status = await self._file(scope, send, file)
                self._count("/feeds/{file}", status, started)
            elif path == "/":
                status = await self._file(scope, send, self.service.feeds.get("index.html"))
                self._count("/", status, started)
            elif path.startswith(SAMPLES_PATH) and self.service.config.service.serve_samples:
                sample = self.service.sample(path[len(SAMPLES_PATH) :])
                status = await self._file(scope, send, sample, feed=False)
                self._count("/samples/{file}", status, started)
            else:
                await self._route(scope, receive, send, path, started)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """The server's startup and shutdown: start and stop the service when it is ours."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.manage:
                    try:
                        await self.service.start()
                    except Exception as e:
                        log.exception("the service could not start")
                        await send({"type": "lifespan.startup.failed", "message": str(e)})
                        return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.manage:
                    await self.service.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _count(self, route: str, status: int, started: float) -> None:
        counter = self._counters.get((route, status))
        if counter is None:
            counter = self._counters[route, status] = self.service.metrics.http.labels(
                route, str(status)
            )
        counter.inc()
        timer = self._timers.get(route)
        if timer is None:
            timer = self._timers[route] = self.service.metrics.http_seconds.labels(route)
        timer.observe(time.perf_counter() - started)

    # -- the hot path ----------------------------------------------------------------------

    async def _file(
        self, scope: Scope, send: Send, file: FeedFile | None, *, feed: bool = True
    ) -> int:
        """Answer with a published file (``feed``) or a file served as is (a sample)."""
        method = scope["method"]
        if method != "GET" and method != "HEAD":
            await _send(send, text_response(405, "method not allowed", [(b"allow", b"GET, HEAD")]))
            return 405
        if file is None:
            await _send(send, text_response(404, "not found"))
            return 404
        key = file.path if feed else "samples:" + file.path
        prepared = self._prepared.get(key)
        config = self.service.config
        if prepared is None or prepared.file is not file or prepared.config is not config:
            if len(self._prepared) > 2 * len(self.service.feeds.paths()) + 128:
                self._prepared.clear()  # files were removed: forget their headers
            prepared = self._prepared[key] = _prepare(file, config, feed=feed)
        if_none_match = if_modified_since = accept_encoding = None
        for key, value in scope["headers"]:
            if key == b"if-none-match":
                if_none_match = value
            elif key == b"if-modified-since":
                if_modified_since = value
            elif key == b"accept-encoding":
                accept_encoding = value
        variant = (
            prepared.gzip
            if accept_encoding is not None and accepts_gzip(accept_encoding)
            else prepared.identity
        )
        # If-None-Match wins over If-Modified-Since when both are sent (RFC 9110 13.2.2).
        if if_none_match is not None:
            fresh = if_none_match == variant.etag or etag_listed(if_none_match, variant.etag)
        else:
            fresh = if_modified_since is not None and not_modified_since(
                if_modified_since, prepared
            )
        if fresh:
            await send(
                {"type": "http.response.start", "status": 304, "headers": variant.not_modified}
            )
            await send({"type": "http.response.body", "body": b""})
            return 304
        await send({"type": "http.response.start", "status": 200, "headers": variant.full})
        await send(
            {"type": "http.response.body", "body": b"" if method == "HEAD" else variant.body}
        )
        return 200

    # -- the router ------------------------------------------------------------------------

    async def _route(
        self, scope: Scope, receive: Receive, send: Send, path: str, started: float
    ) -> None:
        method: str = scope["method"]
        api = path.startswith("/api/")
        template = path
        param = ""
        methods = self.routes.get(path)
        if methods is None:
            for prefix, (name, handlers) in self.param_routes.items():
                if path.startswith(prefix) and len(path) > len(prefix):
                    template, methods, param = name, handlers, path[len(prefix) :]
                    break
        if methods is None:
            response = (
                json_response(404, {"error": f"no such endpoint: {path}"})
                if api
                else text_response(404, "not found")
            )
            await _send(send, response)
            self._count("unmatched", 404, started)
            return
        handler = methods.get("GET" if method == "HEAD" else method)
        if handler is None:
            allowed = sorted({*methods, *(["HEAD"] if "GET" in methods else [])})
            response = _error(api, HTTPError(405, "method not allowed"))
            response.headers.append((b"allow", ", ".join(allowed).encode()))
        elif method == "POST" and (wait := self._rate_limited(scope)):
            response = _error(
                api,
                HTTPError(
                    429,
                    "too many requests from this address: retry after the time in Retry-After",
                    headers=[(b"retry-after", str(max(1, math.ceil(wait))).encode())],
                ),
            )
        else:
            try:
                response = await handler(Request(scope, receive, method, path, param))
            except HTTPError as e:
                response = _error(api, e)
            except ClientGone:
                self._count(template, 499, started)
                return
            except SyndicatorError as e:
                log.error("%s %s: %s", method, template, e)
                response = _error(api, HTTPError(503, f"unavailable: {e}"))
            except Exception:
                log.exception("%s %s failed", method, template)
                response = _error(api, HTTPError(500, "internal error (see the service log)"))
        await _send(send, response, head=method == "HEAD")
        self._count(template, response.status, started)

    def _rate_limited(self, scope: Scope) -> float:
        """0.0 when this write request may go ahead, else the seconds its client must wait."""
        settings = self.service.config.service
        if settings.rate_limit <= 0:
            return 0.0
        limiter = self._limiter
        if limiter is None or (limiter.rate, limiter.burst) != (
            settings.rate_limit,
            settings.rate_burst,
        ):
            limiter = self._limiter = RateLimiter(settings.rate_limit, settings.rate_burst)
        client = scope.get("client")
        return limiter.take(str(client[0]) if client else "")

    # -- pages -----------------------------------------------------------------------------

    async def status_page(self, request: Request) -> Response:
        now = datetime.now(UTC)
        first_day = datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(
            days=CHART_DAYS - 1
        )
        service = self.service

        def gather() -> tuple[list[dict[str, Any]], dict[str, list[int]]]:
            return service.sources(), service.store.daily_region_counts(first_day, CHART_DAYS)

        sources, activity = await asyncio.to_thread(gather)
        outbox = await asyncio.to_thread(service.store.delivery_summary)
        page = render_status_page(
            service.config,
            sources,
            activity,
            first_day=first_day,
            now=now,
            started=service.started_at,
            mode="run" if service.poll else "serve",
            problems=service.problems(),
            outbox=outbox,
        )
        return html_response(page)

    # -- a source's page, the outbox page, and their actions --------------------------------

    async def source_page(self, request: Request) -> Response:
        source_id = unquote(request.param)
        service = self.service
        rows = [r for r in await asyncio.to_thread(service.sources) if r["id"] == source_id]
        if not rows:
            raise HTTPError(404, f"no source {source_id!r} is configured (see /status)")
        store = service.store

        def gather() -> dict[str, Any]:
            articles = store.source_articles(source_id, SOURCE_PAGE_ROWS)
            return {
                "fetches": store.fetch_history(source_id, SOURCE_PAGE_ROWS),
                "events": store.source_events(source_id),
                "articles": articles,
                "revisions": store.revisions_of([a.id for a in articles]),
            }

        found = await asyncio.to_thread(gather)
        page = pages.source_page(
            service.config,
            rows[0],
            now=datetime.now(UTC),
            token_configured=bool(service.config.service.api_token),
            message=DONE_MESSAGES.get(request.query().get("done", "")),
            **found,
        )
        return html_response(page)

    async def source_form(self, request: Request) -> Response:
        source_id = unquote(request.param)
        form = await self._form(request, pages.source_url(source_id))
        action = form.get("action", "")
        done = await self._source_action(source_id, action)
        return _see_other(f"{pages.source_url(source_id)}?done={done}")

    async def api_source_action(self, request: Request) -> Response:
        self._authorize(request)
        source_id, _, action = unquote(request.param).partition("/")
        done = await self._source_action(source_id, action)
        return json_response(200, {"source": source_id, "done": done})

    async def _source_action(self, source_id: str, action: str) -> str:
        service = self.service
        try:
            if action == "fetch":
                if not service.poll:  # serve, or a web node of the scaled mode
                    raise HTTPError(
                        409,
                        "this process only serves: fetch now needs `syndicator run` "
                        f"(or run `syndicator once --source {source_id}`)",
                    )
                service.fetch_now(source_id)
                return "fetching"
            if action in ("pause", "resume"):
                await service.set_paused(source_id, action == "pause")
                return "paused" if action == "pause" else "resumed"
        except KeyError:
            raise HTTPError(404, f"no source {source_id!r} is configured") from None
        raise HTTPError(400, f"unknown action {action!r}: fetch, pause or resume")

    async def outbox_page(self, request: Request) -> Response:
        store = self.service.store
        targets = await asyncio.to_thread(store.delivery_summary)
        dead = await asyncio.to_thread(store.dead_letters)
        page = pages.outbox_page(
            self.service.config,
            targets,
            dead,
            now=datetime.now(UTC),
            token_configured=bool(self.service.config.service.api_token),
            message=DONE_MESSAGES.get(request.query().get("done", "")),
        )
        return html_response(page)

    async def outbox_form(self, request: Request) -> Response:
        form = await self._form(request, "/status/outbox")
        which = form.get("retry", "")
        await self._retry(None if which == "all" else _delivery_id(which))
        return _see_other("/status/outbox?done=retried")

    async def api_retry(self, request: Request) -> Response:
        self._authorize(request)
        body = await request.body(limit=MAX_HUB_BODY)
        delivery = None
        if body.strip():
            try:
                value = json.loads(body)
            except ValueError as e:
                raise HTTPError(400, f"not JSON: {e}") from e
            if not isinstance(value, dict):
                raise HTTPError(400, 'send {"id": N} for one dead letter, or nothing for all')
            delivery = _delivery_id(str(value.get("id", "")))
        retried = await self._retry(delivery)
        return json_response(200, {"retried": retried})

    async def _retry(self, delivery: int | None) -> int:
        now = datetime.now(UTC)
        retried: int = await asyncio.to_thread(self.service.store.retry_dead, now, delivery)
        if retried:
            self.service.dispatcher.wake.set()
        return retried

    async def _form(self, request: Request, page: str) -> dict[str, str]:
        """A page's form, once it is known to come from this site with the API token: a
        browser may send its token only in the body of a same-origin POST (never in a URL),
        and a page elsewhere cannot make it post here (CSRF). A wrong token sends the person
        back to ``page``, which says so."""
        if not _same_origin(request, self.service.config.service.base_url):
            raise HTTPError(403, "this form must be sent from this site's own pages")
        form = await _read_form(request, "expected a form (application/x-www-form-urlencoded)")
        try:
            self._check_token(form.get("token", ""))
        except HTTPError as e:
            if e.status != 401:
                raise
            raise HTTPError(
                303,
                "the API token is not valid",
                headers=[(b"location", f"{page}?done=refused".encode())],
            ) from None
        return form

    async def healthz(self, request: Request) -> Response:
        service = self.service
        now = datetime.now(UTC)
        body: dict[str, Any] = {
            "status": "ok",
            "version": __version__,
            "mode": "run" if service.poll else "serve",
            "started": iso(service.started_at),
            "uptime_seconds": round((now - service.started_at).total_seconds(), 3),
            "store": "ok",
            "sources": {},
            "feeds": len(service.feeds.paths()),
            "tasks": service.supervisor.report(),
        }
        try:
            states = await asyncio.wait_for(
                asyncio.to_thread(service.store.source_states), HEALTH_TIMEOUT
            )
        except Exception as e:  # whatever the driver raises: the store is not answering
            log.error("healthz: the store is unreachable: %s", e)
            body.update(status="unavailable", store=f"unreachable: {type(e).__name__}")
            return json_response(503, body)
        health = {s.id: s.health for s in states}
        counts = dict.fromkeys(HEALTH_STATES, 0)
        for source in service.config.sources:
            if source.enabled:
                state = health.get(source.id, "new")
                counts[state] = counts.get(state, 0) + 1
        body["sources"] = counts
        if counts.get("failing") or counts.get("degraded") or counts.get("stale"):
            body["status"] = "degraded"
        if service.reload_refused is not None:
            body["reload"] = f"last reload refused ({service.reload_refused})"
        problems = service.problems()
        if problems:
            body["status"] = "degraded"
            body["problems"] = problems
        return json_response(200, body)

    async def metrics(self, request: Request) -> Response:
        body = self.service.metrics.render()
        return Response(200, body, METRICS_CONTENT_TYPE, [NO_STORE, NOSNIFF])

    async def openapi(self, request: Request) -> Response:
        config = self.service.config
        if self._openapi is None or self._openapi[0] is not config:
            document = openapi_document(config.service.base_url)
            self._openapi = (config, json.dumps(document, ensure_ascii=False, indent=1).encode())
        return Response(
            200, self._openapi[1], JSON_TYPE, [(b"cache-control", b"no-cache"), NOSNIFF]
        )

    # -- the JSON API ----------------------------------------------------------------------

    async def api_sources(self, request: Request) -> Response:
        return json_response(200, await asyncio.to_thread(self.service.sources))

    async def api_articles(self, request: Request) -> Response:
        query = request.query()
        region = query.get("region") or "all"
        if region != "all" and region not in {r.id for r in self.service.config.regions}:
            raise HTTPError(400, f"unknown region {region!r}: see /api/sources or the index page")
        since = _parse_since(query.get("since"))
        limit = _parse_limit(query.get("limit"))
        entries = await asyncio.to_thread(self.service.store.updated_since, region, since, limit)
        return json_response(200, [article_item(e) for e in entries])

    async def api_article(self, request: Request) -> Response:
        record = await asyncio.to_thread(self.service.store.explain, request.param)
        if record is None:
            raise HTTPError(404, f"no stored article is known by {request.param!r}")
        return json_response(200, record)

    async def api_push(self, request: Request) -> Response:
        self._authorize(request)
        content_type = (request.header(b"content-type") or "").partition(";")[0].strip().lower()
        if content_type not in BODY_TYPES:
            raise HTTPError(
                415,
                "send ARTICLE objects as application/json (one object) or "
                "application/x-ndjson (one object per line)",
            )
        body = await request.body()
        if not body.strip():
            raise HTTPError(400, "the request body is empty: send one ARTICLE object or NDJSON")
        parsed = await asyncio.to_thread(parse_ndjson, body)  # 5 MiB of JSON: off the loop
        if parsed is None:
            raise HTTPError(400, "expected one ARTICLE object, or NDJSON of them (one per line)")
        objects, errors = parsed
        if errors:
            raise HTTPError(400, "not JSON: nothing was stored", errors=errors)
        if not objects:
            raise HTTPError(400, "no ARTICLE object in the request body")
        results, errors = await self.service.push(objects)
        if errors:
            raise HTTPError(400, "invalid articles: nothing was stored", errors=errors)
        return json_response(200, {"results": results})

    async def api_reload(self, request: Request) -> Response:
        self._authorize(request)
        try:
            result = await self.service.reload()
        except ConfigError as e:
            errors = [str(x) for x in e.errors] if isinstance(e, ConfigErrors) else [str(e)]
            raise HTTPError(
                422, "the new configuration is invalid; the running one is kept", errors=errors
            ) from e
        return json_response(
            200,
            {"added": result.added, "removed": result.removed, "rescheduled": result.rescheduled},
        )

    async def hub(self, request: Request) -> Response:
        """The built-in WebSub hub: form-encoded subscribe, unsubscribe and publish requests."""
        if not self.service.config.publish.builtin_hub:
            raise HTTPError(404, "this service runs no WebSub hub ([publish] builtin_hub)")
        form = await _read_form(request, "WebSub requests are application/x-www-form-urlencoded")
        answer = await self.service.hub.handle(form)
        headers: Headers = []
        if answer.retry_after is not None:
            headers.append((b"retry-after", str(answer.retry_after).encode()))
        return text_response(answer.status, answer.text, headers)

    def _authorize(self, request: Request) -> None:
        scheme, _, given = (request.header(b"authorization") or "").strip().partition(" ")
        if self.service.config.service.api_token and (
            scheme.lower() != "bearer" or not given.strip()
        ):
            raise HTTPError(
                401,
                "this endpoint needs Authorization: Bearer TOKEN",
                headers=[(b"www-authenticate", b'Bearer realm="syndicator"')],
            )
        self._check_token(given)

    def _check_token(self, given: str) -> None:
        settings = self.service.config.service
        token = settings.api_token
        if not token:
            raise HTTPError(503, f"no API token configured (set ${settings.api_token_env})")
        # Digests of equal length: the comparison takes the same time whatever the token sent,
        # its length included (compare_digest alone returns early on a length mismatch).
        sent = hashlib.sha256(given.strip().encode()).digest()
        if not given.strip() or not hmac.compare_digest(
            sent, hashlib.sha256(token.encode()).digest()
        ):
            raise HTTPError(
                401,
                "the bearer token is not valid",
                headers=[
                    (b"www-authenticate", b'Bearer realm="syndicator", error="invalid_token"')
                ],
            )


async def _send(send: Send, response: Response, *, head: bool = False) -> None:
    headers: Headers = [
        (b"content-type", response.content_type.encode()),
        (b"content-length", str(len(response.body)).encode()),
        *response.headers,
    ]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else response.body})


MAX_ERRORS = 100  # errors listed in one answer; ``error_count`` says how many there were

SOURCE_PAGE_ROWS = 50  # fetches and articles on a source's page
DONE_MESSAGES = {
    "fetching": "A pass of this source started: reload the page in a moment to see it.",
    "paused": "Paused: nothing fetches this source until it is resumed.",
    "resumed": "Resumed: the source is fetched on its schedule again.",
    "retried": "The dead letters will be delivered again, in order, from now.",
    "refused": "Nothing was done: the API token is not valid.",
}


async def _read_form(request: Request, wrong_type: str) -> dict[str, str]:
    """A small form-encoded body (at most 64 KiB): the first of repeated parameters counts;
    415 with ``wrong_type`` when it is not a form, 400 when it cannot be read."""
    kind = (request.header(b"content-type") or "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPError(415, wrong_type)
    body = await request.body(limit=MAX_HUB_BODY)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError) as e:
        raise HTTPError(400, f"not a form: {e}") from e
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    return form


def _see_other(location: str) -> Response:
    """After a form's action: back to the page (a reload does not repeat the action)."""
    return Response(303, b"", TEXT_TYPE, [(b"location", location.encode()), NO_STORE])


def _same_origin(request: Request, base_url: str) -> bool:
    """Whether a browser sent this request from this site's own pages: the Fetch Metadata
    header says so, or the Origin is this host (as the client reached it) or the base URL's."""
    site = request.header(b"sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    origin = request.header(b"origin")
    if not origin or origin == "null":
        return False
    netloc = urlsplit(origin).netloc
    return netloc in {request.header(b"host"), urlsplit(base_url).netloc}


def _delivery_id(value: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise HTTPError(400, f"a dead letter is named by its number, not {value[:40]!r}")
    return int(value)


def _error(api: bool, error: HTTPError) -> Response:
    if api:
        body: dict[str, Any] = {"error": error.reason}
        if error.errors is not None:
            body["errors"] = error.errors[:MAX_ERRORS]
            body["error_count"] = len(error.errors)
        return json_response(error.status, body, list(error.headers))
    return text_response(error.status, error.reason, list(error.headers))


def _parse_since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError:
        raise HTTPError(
            400, f"since must be an ISO 8601 date and time, e.g. 2026-03-10T11:20:00Z: {value!r}"
        ) from None
    try:
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00
        raise HTTPError(400, f"since falls outside the years 1 to 9999 in UTC: {value!r}") from None


def _parse_limit(value: str | None) -> int:
    if not value:
        return DEFAULT_LIMIT
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise HTTPError(400, f"limit must be a whole number from 1 to {MAX_LIMIT}: {value!r}")
    return int(value)


def article_item(entry: Entry) -> dict[str, Any]:
    """An entry as the API lists it: the ARTICLE object plus its id, regions and entry dates."""
    item = entry.article.to_json()
    item.pop("region_reasons", None)  # the reasons are in /api/articles/{id}
    item.update(
        id=entry.id,
        regions=list(entry.article.region_ids),
        published=iso(entry.published),
        updated=iso(entry.updated),
    )
    return item


# --------------------------------------------------------------------------------------------
# The OpenAPI document (hand-written: it describes the contract, it is not derived from code)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON_TYPE: {"schema": schema}}}


def _error_responses(*statuses: int) -> dict[str, Any]:
    reasons = {
        400: "Bad request: the reason, and per-item errors when there are any",
        401: "No valid bearer token (see WWW-Authenticate); nothing was done",
        404: "Not found",
        408: "The request body did not come whole within a minute; nothing was done",
        409: "Not possible in this process (fetch now needs `run`, not `serve`)",
        413: "The request body is over 5 MiB",
        415: "Unsupported content type",
        422: "The configuration is invalid (the errors name file and key); the running one is "
        "kept and the service is degraded until a reload succeeds",
        429: "Too many requests from this address (see Retry-After); nothing was done",
        503: "No API token is configured, or the store is unavailable",
    }
    return {str(s): _json(_ref("Error"), reasons[s]) for s in statuses}


def openapi_document(base_url: str) -> dict[str, Any]:
    """The API described as OpenAPI 3.1."""
    string, nullable = {"type": "string"}, {"type": ["string", "null"]}
    date_time = {"type": ["string", "null"], "format": "date-time"}
    strings = {"type": "array", "items": string}
    feed_headers = {
        "ETag": {"schema": string, "description": "Strong; the gzip body has its own"},
        "Last-Modified": {"schema": string},
        "Cache-Control": {"schema": string},
        "Link": {"schema": string, "description": '<hub>; rel="hub", <self>; rel="self"'},
    }
    feed_types = {
        t: {"schema": string}
        for t in (
            "application/atom+xml",
            "application/rss+xml",
            "application/feed+json",
            "text/x-opml",
            "text/html",
        )
    }
    conditional = [
        {"name": "If-None-Match", "in": "header", "schema": string},
        {"name": "If-Modified-Since", "in": "header", "schema": string},
        {"name": "Accept-Encoding", "in": "header", "schema": string},
    ]
    bearer: list[dict[str, list[str]]] = [{"bearer": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "syndicator",
            "version": __version__,
            "description": "Region feeds (Atom, RSS, JSON Feed) with conditional GET, the "
            "sources' health, the stored articles, pushing articles in and reloading the "
            "configuration. POST endpoints need the bearer token of $SYNDICATOR_API_TOKEN.",
        },
        "servers": [{"url": base_url}],
        "paths": {
            "/feeds/{file}": {
                "get": {
                    "summary": "A published file: {region}.atom|.rss|.json, index.opml, "
                    "archive/{region}/{n}.atom",
                    "parameters": [
                        {
                            "name": "file",
                            "in": "path",
                            "required": True,
                            "schema": string,
                            "example": "europe.atom",
                        },
                        *conditional,
                    ],
                    "responses": {
                        "200": {
                            "description": "The file (gzip when accepted)",
                            "headers": feed_headers,
                            "content": feed_types,
                        },
                        "304": {"description": "Not modified", "headers": feed_headers},
                        "404": {"description": "No such file"},
                    },
                },
                "head": {
                    "summary": "The headers a GET would send",
                    "parameters": [
                        {"name": "file", "in": "path", "required": True, "schema": string},
                        *conditional,
                    ],
                    "responses": {
                        "200": {"description": "Headers only"},
                        "304": {"description": "Not modified"},
                    },
                },
            },
            "/": {
                "get": {
                    "summary": "The index page: every region with its subscribe links",
                    "parameters": conditional,
                    "responses": {
                        "200": {
                            "description": "HTML",
                            "content": {"text/html": {"schema": string}},
                        },
                        "304": {"description": "Not modified"},
                    },
                }
            },
            "/status": {
                "get": {
                    "summary": "The ops page: every source's health, last fetch, error, next run "
                    "and counts; articles per region per day",
                    "responses": {
                        "200": {"description": "HTML", "content": {"text/html": {"schema": string}}}
                    },
                }
            },
            "/status/sources/{id}": {
                "get": {
                    "summary": "A source's page: health history, last fetches, the articles it "
                    "brought and their revisions with diffs",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": string}
                    ],
                    "responses": {
                        "200": {
                            "description": "HTML",
                            "content": {"text/html": {"schema": string}},
                        },
                        "404": {"description": "No such source"},
                    },
                },
                "post": {
                    "summary": "The page's buttons: a same-origin form with the API token in "
                    "its body (token, action = fetch | pause | resume); 303 back to the page",
                    "responses": {
                        "303": {"description": "Done (or refused: see the page)"},
                        "403": {"description": "Not sent from this site's own pages"},
                    },
                },
            },
            "/status/outbox": {
                "get": {
                    "summary": "Deliveries per target and the dead letters",
                    "responses": {
                        "200": {"description": "HTML", "content": {"text/html": {"schema": string}}}
                    },
                },
                "post": {
                    "summary": "The page's retry buttons: a same-origin form with the API token "
                    "(token, retry = a dead letter's number | all); 303 back to the page",
                    "responses": {
                        "303": {"description": "Done (or refused: see the page)"},
                        "403": {"description": "Not sent from this site's own pages"},
                    },
                },
            },
            "/api/sources/{id}/{action}": {
                "post": {
                    "summary": "fetch (a pass now, paused or not), pause or resume a source; a "
                    "pause is kept in the store until resumed",
                    "security": bearer,
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": string},
                        {
                            "name": "action",
                            "in": "path",
                            "required": True,
                            "schema": {"enum": ["fetch", "pause", "resume"]},
                        },
                    ],
                    "responses": {
                        "200": _json({"type": "object"}, "What was done"),
                        **_error_responses(400, 401, 404, 409, 429, 503),
                    },
                }
            },
            "/api/deliveries/retry": {
                "post": {
                    "summary": 'Deliver dead letters again: {"id": N} for one, no body for all',
                    "security": bearer,
                    "responses": {
                        "200": _json({"type": "object"}, "How many were retried"),
                        **_error_responses(400, 401, 429, 503),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness and readiness",
                    "responses": {
                        "200": _json(_ref("Health"), "ok, or degraded when a source is unwell"),
                        "503": _json(_ref("Health"), "The store is unreachable"),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (text exposition format)",
                    "responses": {
                        "200": {
                            "description": "Metrics",
                            "content": {"text/plain": {"schema": string}},
                        }
                    },
                }
            },
            "/api/sources": {
                "get": {
                    "summary": "Every configured source with its stored state",
                    "responses": {
                        "200": _json({"type": "array", "items": _ref("Source")}, "Sources")
                    },
                }
            },
            "/api/articles": {
                "get": {
                    "summary": "Stored articles, newest updated first",
                    "parameters": [
                        {
                            "name": "region",
                            "in": "query",
                            "schema": string,
                            "description": "A region id, or all (the default)",
                        },
                        {
                            "name": "since",
                            "in": "query",
                            "schema": {"type": "string", "format": "date-time"},
                            "description": "Only articles whose updated is at or after this",
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": MAX_LIMIT,
                                "default": DEFAULT_LIMIT,
                            },
                        },
                    ],
                    "responses": {
                        "200": _json({"type": "array", "items": _ref("ArticleItem")}, "Articles"),
                        **_error_responses(400),
                    },
                },
                "post": {
                    "summary": "Push articles in: one ARTICLE object, or NDJSON of them",
                    "description": "Only url and title are required; the body comes from "
                    "paragraphs, content_html or text; published defaults to now; regions may "
                    "be given. When any item is invalid nothing is stored.",
                    "security": bearer,
                    "requestBody": {
                        "required": True,
                        "content": {
                            JSON_TYPE: {"schema": _ref("Article")},
                            "application/x-ndjson": {
                                "schema": string,
                                "description": "One ARTICLE object per line",
                            },
                        },
                    },
                    "responses": {
                        "200": _json(_ref("PushResults"), "What each article did"),
                        **_error_responses(400, 401, 408, 413, 415, 429, 503),
                    },
                },
            },
            "/api/articles/{id}": {
                "get": {
                    "summary": "An article's record: key, entry id, hash, revisions, "
                    "duplicates, regions and why",
                    "parameters": [
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "schema": string,
                            "description": "The entry id (a tag URI, URL-encoded), the key, or "
                            "any URL the article was seen at",
                        }
                    ],
                    "responses": {
                        "200": _json(
                            {"type": "object"}, "The record (as syndicator explain --json)"
                        ),
                        **_error_responses(404),
                    },
                }
            },
            "/api/reload": {
                "post": {
                    "summary": "Re-read the configuration (as SIGHUP does)",
                    "security": bearer,
                    "responses": {
                        "200": _json(_ref("Reload"), "The sources added, removed, rescheduled"),
                        **_error_responses(401, 422, 429, 503),
                    },
                }
            },
            "/hub": {
                "post": {
                    "summary": "The WebSub hub (W3C WebSub): subscribe, unsubscribe, publish",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/x-www-form-urlencoded": {
                                "schema": {
                                    "type": "object",
                                    "required": ["hub.mode"],
                                    "properties": {
                                        "hub.mode": {
                                            "enum": ["subscribe", "unsubscribe", "publish"]
                                        },
                                        "hub.topic": {"type": "string", "format": "uri"},
                                        "hub.callback": {"type": "string", "format": "uri"},
                                        "hub.lease_seconds": {"type": "integer"},
                                        "hub.secret": string,
                                        "hub.url": {"type": "string", "format": "uri"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "202": {"description": "Accepted; the intent is verified asynchronously"},
                        "400": {"description": "Bad request"},
                        "408": {"description": "The request body did not come within a minute"},
                        "413": {"description": "The request body is over 64 KiB"},
                        "415": {"description": "Not application/x-www-form-urlencoded"},
                        "429": {
                            "description": "Too many requests from this address, or too many "
                            "verifications under way (see Retry-After)"
                        },
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": string,
                        "errors": {**strings, "description": f"the first {MAX_ERRORS}"},
                        "error_count": {"type": "integer", "description": "all of them"},
                    },
                },
                "Image": {
                    "type": "object",
                    "properties": {"url": string, "caption": nullable, "credit": nullable},
                },
                "Article": {
                    "type": "object",
                    "description": "The ARTICLE object of the contract",
                    "required": ["url", "title"],
                    "properties": {
                        "url": {"type": "string", "format": "uri"},
                        "key": string,
                        "title": string,
                        "subtitle": nullable,
                        "summary": nullable,
                        "section": nullable,
                        "categories": strings,
                        "authors": strings,
                        "dateline": nullable,
                        "language": nullable,
                        "published": date_time,
                        "updated": date_time,
                        "images": {"type": "array", "items": _ref("Image")},
                        "paragraphs": strings,
                        "text": string,
                        "content_html": string,
                        "content_hash": string,
                        "similarity": string,
                        "regions": strings,
                    },
                },
                "ArticleItem": {
                    "allOf": [
                        _ref("Article"),
                        {
                            "type": "object",
                            "required": ["id", "regions", "published", "updated"],
                            "properties": {"id": string},
                        },
                    ]
                },
                "PushResults": {
                    "type": "object",
                    "properties": {
                        "results": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "url": string,
                                    "id": nullable,
                                    "change": {
                                        "enum": ["created", "updated", "duplicate", "unchanged"]
                                    },
                                },
                            },
                        }
                    },
                },
                "Source": {
                    "type": "object",
                    "properties": {
                        "id": string,
                        "kind": string,
                        "url": string,
                        "schedule": string,
                        "enabled": {"type": "boolean"},
                        "regions": strings,
                        "health": {"enum": list(HEALTH_STATES)},
                        "health_reason": nullable,
                        "last_fetch_at": date_time,
                        "last_success_at": date_time,
                        "last_status": {"type": ["integer", "null"]},
                        "last_error": nullable,
                        "failures": {"type": "integer"},
                        "next_run": date_time,
                        "created": {"type": "integer"},
                        "updated": {"type": "integer"},
                        "duplicates": {"type": "integer"},
                    },
                },
                "Health": {
                    "type": "object",
                    "properties": {
                        "status": {"enum": ["ok", "degraded", "unavailable"]},
                        "uptime_seconds": {"type": "number"},
                        "store": string,
                        "sources": {"type": "object", "additionalProperties": {"type": "integer"}},
                        "tasks": {
                            "type": "object",
                            "description": "The background tasks (dispatcher; serve: the feeds "
                            "watcher): state running or restarting, restarts, last error",
                        },
                        "reload": {
                            "type": "string",
                            "description": "last reload refused (why), until a reload succeeds",
                        },
                        "problems": {
                            "type": "array",
                            "items": string,
                            "description": "What makes the service degraded besides its sources",
                        },
                    },
                },
                "Reload": {
                    "type": "object",
                    "properties": {"added": strings, "removed": strings, "rescheduled": strings},
                },
            },
        },
    }

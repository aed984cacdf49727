"""The routes of the web layer: the ASGI application over a service (a :class:`Backend`).

``/feeds/…`` (and ``/``, the published index page) answer from the files held in memory
(:mod:`syndicator.web.files`). Everything else goes through a small router: the ops pages
(``/status``, a source's page, the outbox), ``/healthz``, ``/metrics``, the JSON API under
``/api/`` and its OpenAPI document. Every request is counted by route template, never by raw
path. The write endpoints (``POST /api/…`` and ``POST /hub``) are rate-limited per client
address (:mod:`syndicator.web.ratelimit`); nothing else is.

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
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from syndicator import __version__
from syndicator.config import Config
from syndicator.demo import SAMPLES_PATH
from syndicator.errors import ConfigError, ConfigErrors, SyndicatorError
from syndicator.health import HEALTH_STATES
from syndicator.ingest import parse_ndjson
from syndicator.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from syndicator.model import Entry, as_utc, iso
from syndicator.web import status
from syndicator.web.asgi import (
    JSON_TYPE,
    MAX_HUB_BODY,
    NO_STORE,
    NOSNIFF,
    ASGIApp,
    ClientGone,
    Handler,
    Headers,
    HTTPError,
    Receive,
    Request,
    Response,
    Scope,
    Send,
    error_response,
    html_response,
    json_response,
    read_form,
    same_origin,
    see_other,
    send_response,
    text_response,
)
from syndicator.web.backend import Backend
from syndicator.web.files import FeedFile, FileAnswers
from syndicator.web.openapi import openapi_document
from syndicator.web.ratelimit import RateLimiter

log = logging.getLogger("syndicator.web")

DEFAULT_LIMIT, MAX_LIMIT = 50, 500  # articles per API answer
HEALTH_TIMEOUT = 5.0  # seconds /healthz waits for the store before it says it is unreachable
BODY_TYPES = ("application/json", "application/x-ndjson", "application/ndjson")
SOURCE_PAGE_ROWS = 50  # fetches and articles on a source's page
DONE_MESSAGES = {
    "fetching": "A pass of this source started: reload the page in a moment to see it.",
    "paused": "Paused: nothing fetches this source until it is resumed.",
    "resumed": "Resumed: the source is fetched on its schedule again.",
    "retried": "The dead letters will be delivered again, in order, from now.",
    "refused": "Nothing was done: the API token is not valid.",
}


def make_app(service: Backend, *, manage: bool = False) -> ASGIApp:
    """The ASGI application of a service (``run`` and ``serve`` hand it to the web server).

    With ``manage``, the ASGI lifespan starts and stops the service (``serve``'s workers);
    otherwise whoever made the service does (``run``)."""
    return Web(service, manage=manage)


class Web:
    """The ASGI application. ``/feeds/`` is answered inline; the rest goes through the router."""

    def __init__(self, service: Backend, *, manage: bool = False) -> None:
        self.service = service
        self.manage = manage
        self._files = FileAnswers()
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
        service = self.service
        return await self._files.answer(scope, send, file, service.config, service.feeds, feed=feed)

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
            await send_response(send, response)
            self._count("unmatched", 404, started)
            return
        handler = methods.get("GET" if method == "HEAD" else method)
        if handler is None:
            allowed = sorted({*methods, *(["HEAD"] if "GET" in methods else [])})
            response = error_response(api, HTTPError(405, "method not allowed"))
            response.headers.append((b"allow", ", ".join(allowed).encode()))
        elif method == "POST" and (wait := self._rate_limited(scope)):
            response = error_response(
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
                response = error_response(api, e)
            except ClientGone:
                self._count(template, 499, started)
                return
            except SyndicatorError as e:
                log.error("%s %s: %s", method, template, e)
                response = error_response(api, HTTPError(503, f"unavailable: {e}"))
            except Exception:
                log.exception("%s %s failed", method, template)
                response = error_response(
                    api, HTTPError(500, "internal error (see the service log)")
                )
        await send_response(send, response, head=method == "HEAD")
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
            days=status.CHART_DAYS - 1
        )
        service = self.service

        def gather() -> tuple[list[dict[str, Any]], dict[str, list[int]]]:
            return service.sources(), service.store.daily_region_counts(
                first_day, status.CHART_DAYS
            )

        sources, activity = await asyncio.to_thread(gather)
        outbox = await asyncio.to_thread(service.store.delivery_summary)
        page = status.status_page(
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
        page = status.source_page(
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
        form = await self._form(request, status.source_url(source_id))
        action = form.get("action", "")
        done = await self._source_action(source_id, action)
        return see_other(f"{status.source_url(source_id)}?done={done}")

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
        page = status.outbox_page(
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
        return see_other("/status/outbox?done=retried")

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
        if not same_origin(request, self.service.config.service.base_url):
            raise HTTPError(403, "this form must be sent from this site's own pages")
        form = await read_form(request, "expected a form (application/x-www-form-urlencoded)")
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
        form = await read_form(request, "WebSub requests are application/x-www-form-urlencoded")
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


def _delivery_id(value: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise HTTPError(400, f"a dead letter is named by its number, not {value[:40]!r}")
    return int(value)


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
        return as_utc(when)
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

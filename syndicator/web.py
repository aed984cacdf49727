"""The HTTP face of the service: an ASGI application over a :class:`~syndicator.service.Service`.

``/feeds/…`` answers from the files held in memory (strong ETag, Last-Modified, 304, gzip, HEAD,
``Link`` to hub and self); ``/`` is the index page. It renders nothing per request and never
touches the disk or the database to answer a feed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from email.utils import parsedate_to_datetime
from typing import Any

from syndicator.service import FeedFile, Service

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def make_app(service: Service) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method = scope["method"]
        path = scope["path"]
        if method not in ("GET", "HEAD"):
            await _plain(send, 405, b"method not allowed\n", [(b"allow", b"GET, HEAD")])
            return
        if path == "/":
            path = "/feeds/index.html"
        if path.startswith("/feeds/"):
            file = service.feeds.get(path[len("/feeds/") :])
            if file is not None:
                await _feed(service, scope, send, file, head=method == "HEAD")
                return
        if path == "/healthz":
            await _plain(send, 200, b"ok\n")
            return
        await _plain(send, 404, b"not found\n")

    return app


async def _plain(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _not_modified(scope: Scope, file: FeedFile) -> bool:
    inm = _header(scope, b"if-none-match")
    if inm is not None:
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return file.etag in tags or "*" in tags
    ims = _header(scope, b"if-modified-since")
    if ims:
        try:
            return int(file.modified) <= parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError):
            return False
    return False


async def _feed(service: Service, scope: Scope, send: Send, file: FeedFile, *, head: bool) -> None:
    base = service.config.service.base_url
    headers = [
        (b"etag", file.etag.encode()),
        (b"last-modified", file.last_modified.encode()),
        (b"cache-control", b"public, max-age=60"),
        (b"vary", b"accept-encoding"),
    ]
    if file.path.endswith((".atom", ".rss", ".json")):
        links = [f'<{base}/feeds/{file.path}>; rel="self"']
        if service.config.publish.builtin_hub:
            links.insert(0, f'<{base}/hub>; rel="hub"')
        links[:0] = [f'<{hub}>; rel="hub"' for hub in service.config.publish.hubs]
        headers.append((b"link", ", ".join(links).encode()))
    if _not_modified(scope, file):
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    gzip_ok = "gzip" in (_header(scope, b"accept-encoding") or "")
    body = file.gzipped if gzip_ok else file.body
    headers += [
        (b"content-type", file.media_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if gzip_ok:
        headers.append((b"content-encoding", b"gzip"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})

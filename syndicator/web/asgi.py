"""ASGI plumbing: the types of the interface, requests and their bodies, responses and errors.

A :class:`Request` reads its body as it arrives, bounded in size (413) and in time (408); a
handler raises :class:`HTTPError` for an answer that is not the one asked for, and
:func:`error_response` turns it into plain text or, under ``/api/``, JSON. The headers every
answer of a kind carries (security policy, no-store, nosniff) are here, once.

This module knows no route and no service: :mod:`syndicator.web.routes` does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

MAX_BODY = 5 * 1024 * 1024  # bytes: a larger request body is refused with 413
BODY_SECONDS = 60.0  # for a request body to arrive whole: later, 408

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


async def send_response(send: Send, response: Response, *, head: bool = False) -> None:
    headers: Headers = [
        (b"content-type", response.content_type.encode()),
        (b"content-length", str(len(response.body)).encode()),
        *response.headers,
    ]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else response.body})


MAX_ERRORS = 100  # errors listed in one answer; ``error_count`` says how many there were


async def read_form(request: Request, wrong_type: str) -> dict[str, str]:
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


def see_other(location: str) -> Response:
    """After a form's action: back to the page (a reload does not repeat the action)."""
    return Response(303, b"", TEXT_TYPE, [(b"location", location.encode()), NO_STORE])


def same_origin(request: Request, base_url: str) -> bool:
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


def error_response(api: bool, error: HTTPError) -> Response:
    if api:
        body: dict[str, Any] = {"error": error.reason}
        if error.errors is not None:
            body["errors"] = error.errors[:MAX_ERRORS]
            body["error_count"] = len(error.errors)
        return json_response(error.status, body, list(error.headers))
    return text_response(error.status, error.reason, list(error.headers))

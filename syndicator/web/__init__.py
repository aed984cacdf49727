"""The HTTP face of the service: a raw ASGI application over a running service.

The package, by concern:

- ``asgi``: the ASGI types, requests (bounded bodies), responses, errors, forms.
- ``files``: published files held in memory (:class:`FeedCache`) and answered conditionally
  (strong ETag per coding, Last-Modified, 304, gzip, HEAD, ``Link`` to hub and self).
- ``ratelimit``: the token buckets of the write endpoints.
- ``routes``: the application (:func:`make_app`): the router and every endpoint.
- ``status``: the ops pages' HTML and SVG (``/status``, a source's page, the outbox).
- ``openapi``: the API's OpenAPI document, kept as package data (``openapi.json``).
- ``backend``: what the web layer asks of the service (:class:`Backend`, a protocol).

Imports go one way: the service (``syndicator.service``, ``syndicator.jobs``) builds the
application and hands itself in; nothing here imports them. This package does not fetch,
store or render feeds itself: it asks the service.
"""

from __future__ import annotations

from syndicator.web.backend import Backend
from syndicator.web.files import FeedCache, FeedFile, accepts_gzip, etag_listed
from syndicator.web.openapi import openapi_document
from syndicator.web.ratelimit import MAX_CLIENTS, RateLimiter
from syndicator.web.routes import Web, make_app

__all__ = [
    "MAX_CLIENTS",
    "Backend",
    "FeedCache",
    "FeedFile",
    "RateLimiter",
    "Web",
    "accepts_gzip",
    "etag_listed",
    "make_app",
    "openapi_document",
]

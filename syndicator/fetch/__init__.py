"""Fetching documents: HTTP(S) with aiohttp (httpx behind a proxy, and for outgoing
notifications), and local files for bundled samples and drop folders.

This package is the only one that talks to the network. :class:`Fetcher` makes conditional GETs
(``If-None-Match`` / ``If-Modified-Since`` → 304), follows redirects itself (so a loop is named as
one), retries what is worth retrying (connection failures, timeouts, 5xx other than 501, a short
``Retry-After``), limits concurrency globally and per host, honours robots.txt, and bounds the
body it keeps — after decompression, which it does itself while streaming, so a gzip bomb costs
no more memory than ``max_bytes``. Local files (``file://`` URLs and plain paths) go through the
same :meth:`Fetcher.get`, with validators emulated from their size and modification time.

Every failure is a :class:`~syndicator.errors.FetchError` whose ``reason`` is short and stable
enough to show in a status table and to count by; no httpx (or transport) exception leaves here.
This package does not parse, decode charsets or store what it fetches, and keeps no state between
runs (the robots.txt cache lives as long as one :class:`Fetcher`).

By concern: ``records`` (what a fetch takes and returns), ``guard`` (where a request may go:
the private-address guard), ``local`` (local files), ``transports``, ``bodies`` (streamed,
decompressed, bounded), ``failures`` (transport errors → ``FetchError``), ``client`` (the
:class:`Fetcher` and :func:`fetch_once`), ``poster`` (outgoing notifications). Each name's module
is imported on its first use (a command that reads only local files loads no HTTP client).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from syndicator import lazy

if TYPE_CHECKING:
    from syndicator.fetch.client import Fetcher, fetch_once
    from syndicator.fetch.guard import (
        ANYWHERE,
        PRIVATE_REFUSED,
        Reach,
        check_target,
        inside,
        is_private_address,
    )
    from syndicator.fetch.local import file_etag, local_path, read_local
    from syndicator.fetch.poster import Answer, Poster
    from syndicator.fetch.records import (
        DEFAULT_USER_AGENT,
        MAX_BYTES,
        Fetched,
        Response,
        Validators,
    )
    from syndicator.fetch.transports import make_transport

# Where each public name lives: its module is imported when the name is first asked for.
# fmt: off
__getattr__, __dir__ = lazy.exports(__name__, {
    "client": ("Fetcher", "fetch_once"),
    "guard": (
        "ANYWHERE", "PRIVATE_REFUSED", "Reach", "check_target", "inside", "is_private_address",
    ),
    "local": ("file_etag", "local_path", "read_local"),
    "poster": ("Answer", "Poster"),
    "records": ("DEFAULT_USER_AGENT", "MAX_BYTES", "Fetched", "Response", "Validators"),
    "transports": ("make_transport",),
})
# fmt: on

__all__ = [
    "ANYWHERE",
    "DEFAULT_USER_AGENT",
    "MAX_BYTES",
    "PRIVATE_REFUSED",
    "Answer",
    "Fetched",
    "Fetcher",
    "Poster",
    "Reach",
    "Response",
    "Validators",
    "check_target",
    "fetch_once",
    "file_etag",
    "inside",
    "is_private_address",
    "local_path",
    "make_transport",
    "read_local",
]

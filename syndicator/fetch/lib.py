"""httpx, which this package owns (DESIGN.md: each edge owns one library), imported on first
use: a fetch over aiohttp needs it only for an unusual URL, a failure to name, the httpx wire
(a proxy, a test's transport) or a notification to post; a ``once`` of 304s never does.

The package's modules take ``httpx`` from here (``from syndicator.fetch.lib import httpx``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from syndicator import lazy

if TYPE_CHECKING:
    import httpx as httpx
else:
    httpx = lazy.module("httpx")

__all__ = ["httpx"]

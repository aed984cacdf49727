"""What fetching returns and takes: the answer (:class:`Fetched`, :class:`Response`), the
validators of a conditional GET, and the limits every fetch shares."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Literal

from syndicator import __version__

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


def parse_http_date(value: str | None) -> float | None:
    """An HTTP date as a POSIX timestamp, or None when it is missing or not a date."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value.strip()).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None

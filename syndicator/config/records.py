"""The validated configuration as frozen records: :class:`Config` and its tables.

``ServiceSettings`` is the ``[service]`` table (not the running service, which is
:class:`syndicator.service.Service`). Nothing here reads a file or the environment: the
records are built once, by :mod:`syndicator.config.load`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from syndicator.config.durations import format_duration
from syndicator.model import Selectors

DEFAULT_PATH = "config"
DATABASE_ENV = "SYNDICATOR_DATABASE"  # replaces [service] database when set
LISTEN_ENV = "SYNDICATOR_LISTEN"  # replaces [service] listen when set (run/serve --listen)
BASE_URL_PLACEHOLDER = "{base_url}"  # in a source's url: this service's own base URL
SOURCE_KINDS = ("html", "rss", "atom", "jsonfeed", "sitemap", "text")
FEED_FORMATS = ("atom", "rss", "json")
EVENT_TYPES = (
    "article.created",
    "article.updated",
    "article.removed",
    "feed.updated",
    "source.failing",
    "source.recovered",
    "source.stale",
)
NOTIFY_KINDS = ("webhook", "apprise")
FETCH_PAGES = ("auto", "always", "never")
FETCH_ATTEMPTS = 3  # tries per request: the first and two retries (connection failures, 5xx…)


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    base_url: str = "http://127.0.0.1:8080"
    listen: str = "127.0.0.1:8080"
    database: str = "sqlite:///var/syndicator.db"
    database_timeout: float = 30.0  # one store operation's wait for the database, at most
    feeds_dir: Path = Path("feeds")
    user_agent: str = "syndicator/0.1 (+https://github.com/syndicator)"
    api_token_env: str = "SYNDICATOR_API_TOKEN"
    api_token: str | None = None
    respect_robots: bool = True
    concurrency: int = 16
    per_host: int = 4
    timeout: float = 20.0  # one whole request: connect to last byte, redirects included
    pass_timeout: float | None = None  # one whole source pass; None: see pass_limit
    max_bytes: int = 20 * 1024 * 1024
    stale_after: float = 2 * 86400.0
    rate_limit: float = 20.0  # write requests (POST /api/*, /hub) per second per client; 0: off
    rate_burst: int = 40  # how many of them a client may send at once
    serve_samples: bool = False  # serve the bundled sample site at /samples/ (the demo)

    @property
    def pass_limit(self) -> float:
        """The longest one source's pass may take: ``pass_timeout``, else 2 × timeout ×
        attempts (room for a listing and its pages to each use their whole budget once)."""
        if self.pass_timeout is not None:
            return self.pass_timeout
        return 2 * self.timeout * FETCH_ATTEMPTS

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0] or "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


DEFAULT_RECHECK = 3600.0  # [[source]] recheck: pages of recent articles re-requested hourly …
DEFAULT_RECHECK_WINDOW = 2 * 86400.0  # … while their article is two days old or less
MAX_DELAY_FACTOR = 10  # [publish] max_delay by default: this many times the debounce


@dataclass(frozen=True, slots=True)
class Publish:
    entries_per_feed: int = 50
    formats: tuple[str, ...] = FEED_FORMATS
    hubs: tuple[str, ...] = ()
    builtin_hub: bool = True
    archive_page_size: int = 50
    title: str = "syndicator"
    debounce: float = 2.0
    max_delay: float | None = None  # None: MAX_DELAY_FACTOR × debounce

    @property
    def longest_wait(self) -> float:
        """The longest a change waits for a quiet spell before it is published anyway."""
        if self.max_delay is not None:
            return self.max_delay
        return self.debounce * MAX_DELAY_FACTOR


@dataclass(frozen=True, slots=True)
class Security:
    allow_private_targets: bool = False
    allow_private_sources: bool = False


@dataclass(frozen=True, slots=True)
class Region:
    id: str
    title: str
    language: str | None = None
    sections: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    description: str | None = None
    suppress_near_duplicates: bool = False
    file: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    id: str
    kind: str
    url: str
    every: float | None = 600.0
    cron: str | None = None
    timezone: str | None = None
    jitter: float | None = None
    regions: tuple[str, ...] = ()
    language: str | None = None
    select: Selectors | None = None
    fetch_pages: str = "auto"
    enabled: bool = True
    max_articles: int = 100
    title: str | None = None
    recheck: float | None = DEFAULT_RECHECK  # seconds between rechecks of a page; None: never
    recheck_window: float = DEFAULT_RECHECK_WINDOW  # pages of articles this recent
    local_root: str | None = None  # a local source: the folder its documents may link into
    file: str | None = None

    @property
    def rechecks(self) -> str:
        """How the pages of recent articles are rechecked, as ``check`` shows it."""
        if self.recheck is None:
            return "off"
        often = "every pass" if self.recheck == 0 else f"every {format_duration(self.recheck)}"
        return f"{often} for {format_duration(self.recheck_window)}"

    @property
    def schedule(self) -> str:
        if self.cron:
            return f"cron {self.cron}" + (f" ({self.timezone})" if self.timezone else "")
        return f"every {format_duration(self.every or 0)}"


@dataclass(frozen=True, slots=True)
class Notify:
    kind: str
    url: str | None = None
    secret: str | None = field(default=None, repr=False)
    secret_env: str | None = None
    urls_env: str | None = None
    apprise_urls: tuple[str, ...] = field(default=(), repr=False)
    events: tuple[str, ...] = ("article.created", "article.updated", "feed.updated")
    regions: tuple[str, ...] = ()
    id: str = ""
    max_attempts: int = 8
    file: str | None = None


@dataclass(frozen=True, slots=True)
class Jobs:
    """The scaled mode (``run --role scheduler|worker|web``, on PostgreSQL)."""

    concurrency: int = 8  # jobs one worker runs at once
    heartbeat: float = 5.0  # how often a worker tells the database it is alive
    stalled_after: float = 30.0  # a worker silent this long is dead: its jobs are run again


@dataclass(frozen=True, slots=True)
class Config:
    service: ServiceSettings = ServiceSettings()
    publish: Publish = Publish()
    security: Security = Security()
    jobs: Jobs = Jobs()
    regions: tuple[Region, ...] = ()
    sources: tuple[Source, ...] = ()
    notify: tuple[Notify, ...] = ()
    files: tuple[str, ...] = ()

    def source(self, source_id: str) -> Source:
        for s in self.sources:
            if s.id == source_id:
                return s
        raise KeyError(source_id)

    def region(self, region_id: str) -> Region:
        for r in self.regions:
            if r.id == region_id:
                return r
        raise KeyError(region_id)

    @property
    def known_sections(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for r in self.regions for s in r.sections))

"""Configuration: TOML files → one frozen, validated :class:`Config`.

``--config PATH`` is a file or a folder whose ``*.toml`` files are merged in name order: the
``[service]``, ``[publish]`` and ``[security]`` tables key by key (a later file wins), the
``[[region]]``, ``[[source]]`` and ``[[notify]]`` lists end to end. Everything is checked once,
here;
every problem is reported together, each naming the file, the key and the fix. Secrets are read
from the environment variables the config names, never from the files.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from syndicator import cron
from syndicator.errors import ConfigError, ConfigErrors
from syndicator.model import Selectors
from syndicator.normalize import external_url, zone

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
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_SOURCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_DURATION = re.compile(r"^(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?$")


@dataclass(frozen=True, slots=True)
class Service:
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
    service: Service = Service()
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


def format_duration(seconds: float) -> str:
    seconds = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


MAX_DURATION = 3650 * 86400.0  # ten years: longer durations are typing mistakes
MAX_INT = 2**31 - 1  # counts and sizes: more is a typing mistake (and overflows SQL integers)


def parse_duration(value: Any) -> float:
    """``"10m"``, ``"1h30m"``, ``"45s"``, ``"2d"`` or a number of seconds → seconds; at most
    ten years (a date that far ahead still fits every clock and scheduler)."""
    if isinstance(value, bool):
        raise ValueError("not a duration")
    if isinstance(value, int | float):
        if value != value:  # NaN
            raise ValueError("not a duration")
        if value <= 0:
            raise ValueError("must be positive")
        if value > MAX_DURATION:
            raise ValueError("longer than ten years (3650d)")
        return float(value)
    if not isinstance(value, str):
        raise ValueError("not a duration")
    m = _DURATION.match(value.strip())
    if not m or not any(m.groups()):
        raise ValueError(f"not a duration: {value!r}")
    d, h, mi, s = (int(g or 0) for g in m.groups())
    total = d * 86400 + h * 3600 + mi * 60 + s
    if total <= 0:
        raise ValueError("must be positive")
    if total > MAX_DURATION:
        raise ValueError("longer than ten years (3650d)")
    return float(total)


def _recheck(value: Any) -> float | None:
    """A recheck interval: a duration, ``"0s"`` (every pass) or ``"off"`` (never: None)."""
    if value == "off":
        return None
    return _jitter(value)


def _database_timeout(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds > 3600:
        raise ValueError("longer than an hour")
    return seconds


def _jitter(value: Any) -> float:
    """A duration that may be zero (no jitter)."""
    if value in (0, "0", "0s"):
        return 0.0
    return parse_duration(value)


def validate_cron(expr: str) -> None:
    """Raise ValueError unless ``expr`` is a crontab expression that can fire (see cron.py)."""
    cron.parse(expr)


# --------------------------------------------------------------------------------------------
# Loading


def config_path(path: str | os.PathLike[str] | None = None) -> Path:
    return Path(path or os.environ.get("SYNDICATOR_CONFIG") or DEFAULT_PATH)


def load(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Read, merge and validate the configuration; raises ConfigErrors listing every problem."""
    root = config_path(path)
    env = os.environ if environ is None else environ
    if root.is_dir():
        files = sorted(root.glob("*.toml"))
        if not files:
            raise ConfigError(
                "no *.toml files in this folder",
                file=str(root),
                fix="add a config file, e.g. copy config/syndicator.toml",
            )
    elif root.is_file():
        files = [root]
    else:
        raise ConfigError(
            "no such file or folder",
            file=str(root),
            fix="pass --config PATH or set SYNDICATOR_CONFIG",
        )
    documents = []
    for f in files:
        try:
            with f.open("rb") as fh:
                documents.append((str(f), tomllib.load(fh)))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(
                f"not valid TOML: {e}", file=str(f), fix="fix the syntax at the line shown"
            ) from e
        except UnicodeDecodeError as e:
            raise ConfigError(
                f"not UTF-8 text (byte {e.start + 1} cannot be read as UTF-8)",
                file=str(f),
                fix="TOML files are UTF-8: save it as UTF-8",
            ) from e
        except RecursionError as e:
            raise ConfigError(
                "nested too deeply to be read (arrays or tables inside one another)",
                file=str(f),
                fix="flatten the nested values",
            ) from e
        except OSError as e:
            raise ConfigError(f"cannot read: {e.strerror}", file=str(f)) from e
    return from_documents(documents, env)


def from_documents(
    documents: list[tuple[str, dict[str, Any]]], environ: Mapping[str, str] | None = None
) -> Config:
    """Validate already-parsed TOML documents (``(file name, data)`` in merge order)."""
    v = _Validator(os.environ if environ is None else environ)
    return v.run(documents)


class _Validator:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.env = environ
        self.errors: list[ConfigError] = []

    def error(self, file: str, key: str, message: str, fix: str | None = None) -> None:
        self.errors.append(ConfigError(message, file=file, key=key, fix=fix))

    def run(self, documents: list[tuple[str, dict[str, Any]]]) -> Config:
        tables: dict[str, dict[str, tuple[str, Any]]] = {
            "service": {},
            "publish": {},
            "security": {},
            "jobs": {},
        }
        lists: dict[str, list[tuple[str, int, Any]]] = {
            "region": [],
            "source": [],
            "notify": [],
        }
        for file, data in documents:
            for key, value in data.items():
                if key in tables:
                    if not isinstance(value, dict):
                        self.error(file, key, "must be a table", f"write [{key}]")
                        continue
                    for k, val in value.items():
                        tables[key][k] = (file, val)
                elif key in lists:
                    if not isinstance(value, list):
                        self.error(file, key, "must be an array of tables", f"write [[{key}]]")
                        continue
                    for i, item in enumerate(value):
                        lists[key].append((file, i, item))
                else:
                    self.error(
                        file,
                        key,
                        "unknown section" + _suggest(key, [*tables, *lists]),
                        "remove it or fix its name",
                    )
        service = self.service(tables["service"])
        publish = self.publish(tables["publish"])
        security = Security(
            allow_private_targets=self.boolean(
                tables["security"], "security", "allow_private_targets", False
            ),
            allow_private_sources=self.boolean(
                tables["security"], "security", "allow_private_sources", False
            ),
        )
        self.unknown(
            tables["security"], "security", {"allow_private_targets", "allow_private_sources"}
        )
        jobs = self.jobs(tables["jobs"])
        regions = self.regions(lists["region"])
        region_ids = {r.id for r in regions}
        sources = self.sources(lists["source"], region_ids, service.base_url)
        notify = self.notifies(lists["notify"], region_ids)
        if self.errors:
            raise ConfigErrors(self.errors)
        return Config(
            service=service,
            publish=publish,
            security=security,
            jobs=jobs,
            regions=regions,
            sources=sources,
            notify=notify,
            files=tuple(f for f, _ in documents),
        )

    # -- helpers ---------------------------------------------------------------------------

    def unknown(self, table: Mapping[str, tuple[str, Any]], name: str, known: set[str]) -> None:
        for key, (file, _) in table.items():
            if key not in known:
                self.error(
                    file,
                    f"{name}.{key}",
                    "unknown key" + _suggest(key, known),
                    "remove it or fix its name",
                )

    def get(
        self,
        table: Mapping[str, tuple[str, Any]],
        name: str,
        key: str,
        default: Any,
        check: Callable[[Any], Any],
        expect: str,
    ) -> Any:
        if key not in table:
            return default
        file, value = table[key]
        try:
            return check(value)
        except (TypeError, ValueError) as e:
            detail = f": {e}" if str(e) else ""
            self.error(file, f"{name}.{key}", f"expected {expect}, got {value!r}{detail}")
            return default

    def boolean(
        self, table: Mapping[str, tuple[str, Any]], name: str, key: str, default: bool
    ) -> bool:
        return bool(self.get(table, name, key, default, _bool, "true or false"))

    def database(self, t: Mapping[str, tuple[str, Any]], default: str) -> str:
        """``[service] database``, unless ``$SYNDICATOR_DATABASE`` replaces it (one config
        shared by machines that reach the database differently; tests on PostgreSQL)."""
        expect = "a database URL (sqlite:///PATH or postgresql+psycopg://…)"
        url: str = self.get(t, "service", "database", default, _database, expect)
        override = self.env.get(DATABASE_ENV)
        if not override:
            return url
        try:
            return _database(override)
        except ValueError as e:
            self.error(
                f"${DATABASE_ENV}",
                "service.database",
                f"expected {expect}, got {_safe_database(override)!r}: {e}",
                f"fix or unset {DATABASE_ENV}",
            )
            return url

    # -- sections --------------------------------------------------------------------------

    def service(self, t: Mapping[str, tuple[str, Any]]) -> Service:
        d = Service()
        known = {
            "base_url",
            "listen",
            "database",
            "database_timeout",
            "feeds_dir",
            "user_agent",
            "api_token_env",
            "respect_robots",
            "concurrency",
            "per_host",
            "timeout",
            "pass_timeout",
            "max_bytes",
            "stale_after",
            "rate_limit",
            "rate_burst",
            "serve_samples",
        }
        self.unknown(t, "service", known)
        listen = self.get(t, "service", "listen", d.listen, _listen, '"HOST:PORT"')
        if self.env.get(LISTEN_ENV):  # run/serve --listen: replaces the file's
            env = {"listen": (f"${LISTEN_ENV}", self.env[LISTEN_ENV])}
            listen = self.get(env, "service", "listen", listen, _listen, '"HOST:PORT"')
        # Unless it is set, the base URL is where the service listens (the demo, a first try).
        base_url = self.get(t, "service", "base_url", _url_of(listen), _http_url, "an http(s) URL")
        token_env = self.get(
            t,
            "service",
            "api_token_env",
            d.api_token_env,
            _env_name,
            "an environment variable name",
        )
        return Service(
            base_url=base_url.rstrip("/"),
            listen=listen,
            database=self.database(t, d.database),
            database_timeout=self.get(
                t,
                "service",
                "database_timeout",
                d.database_timeout,
                _database_timeout,
                'a duration from "1s" to "1h"',
            ),
            feeds_dir=Path(self.get(t, "service", "feeds_dir", str(d.feeds_dir), _text, "a path")),
            user_agent=self.get(t, "service", "user_agent", d.user_agent, _text, "a string"),
            api_token_env=token_env,
            api_token=self.env.get(token_env) or None,
            respect_robots=self.boolean(t, "service", "respect_robots", d.respect_robots),
            serve_samples=self.boolean(t, "service", "serve_samples", d.serve_samples),
            concurrency=self.get(
                t, "service", "concurrency", d.concurrency, _positive_int, "a positive integer"
            ),
            per_host=self.get(
                t, "service", "per_host", d.per_host, _positive_int, "a positive integer"
            ),
            timeout=self.get(t, "service", "timeout", d.timeout, parse_duration, "a duration"),
            pass_timeout=self.get(
                t, "service", "pass_timeout", d.pass_timeout, parse_duration, "a duration"
            ),
            max_bytes=self.get(
                t, "service", "max_bytes", d.max_bytes, _positive_int, "a number of bytes"
            ),
            stale_after=self.get(
                t,
                "service",
                "stale_after",
                d.stale_after,
                parse_duration,
                'a duration such as "2d"',
            ),
            rate_limit=self.get(
                t,
                "service",
                "rate_limit",
                d.rate_limit,
                _rate,
                "a number of requests per second (0 turns the limit off)",
            ),
            rate_burst=self.get(
                t, "service", "rate_burst", d.rate_burst, _positive_int, "a positive integer"
            ),
        )

    def jobs(self, t: Mapping[str, tuple[str, Any]]) -> Jobs:
        d = Jobs()
        self.unknown(t, "jobs", {"concurrency", "heartbeat", "stalled_after"})
        duration = 'a duration such as "5s"'
        jobs = Jobs(
            concurrency=self.get(
                t, "jobs", "concurrency", d.concurrency, _positive_int, "a positive integer"
            ),
            heartbeat=self.get(t, "jobs", "heartbeat", d.heartbeat, parse_duration, duration),
            stalled_after=self.get(
                t, "jobs", "stalled_after", d.stalled_after, parse_duration, duration
            ),
        )
        if jobs.stalled_after < 2 * jobs.heartbeat:
            file = (t.get("stalled_after") or t.get("heartbeat") or ("?", None))[0]
            self.error(
                file,
                "jobs.stalled_after",
                f"a worker is taken for dead after {format_duration(jobs.stalled_after)}, "
                f"less than two heartbeats ({format_duration(jobs.heartbeat)} each)",
                "make stalled_after at least twice the heartbeat",
            )
        return jobs

    def publish(self, t: Mapping[str, tuple[str, Any]]) -> Publish:
        d = Publish()
        self.unknown(
            t,
            "publish",
            {
                "entries_per_feed",
                "formats",
                "hubs",
                "builtin_hub",
                "archive_page_size",
                "title",
                "debounce",
                "max_delay",
            },
        )
        formats = self.get(
            t,
            "publish",
            "formats",
            d.formats,
            _choices(FEED_FORMATS),
            f"a list of {', '.join(FEED_FORMATS)}",
        )
        return Publish(
            entries_per_feed=self.get(
                t,
                "publish",
                "entries_per_feed",
                d.entries_per_feed,
                _positive_int,
                "a positive integer",
            ),
            formats=formats,
            hubs=self.get(t, "publish", "hubs", d.hubs, _url_list, "a list of http(s) URLs"),
            builtin_hub=self.boolean(t, "publish", "builtin_hub", d.builtin_hub),
            archive_page_size=self.get(
                t,
                "publish",
                "archive_page_size",
                d.archive_page_size,
                _positive_int,
                "a positive integer",
            ),
            title=self.get(t, "publish", "title", d.title, _text, "a string"),
            debounce=self.get(t, "publish", "debounce", d.debounce, _non_negative, "seconds"),
            max_delay=self.get(t, "publish", "max_delay", d.max_delay, _non_negative, "seconds"),
        )

    def regions(self, items: list[tuple[str, int, Any]]) -> tuple[Region, ...]:
        out: list[Region] = []
        seen: dict[str, str] = {}
        known = {
            "id",
            "title",
            "language",
            "sections",
            "places",
            "description",
            "suppress_near_duplicates",
        }
        for file, i, raw in items:
            name = f"region[{i}]"
            if not isinstance(raw, dict):
                self.error(file, name, "must be a table")
                continue
            t = {k: (file, v) for k, v in raw.items()}
            rid = raw.get("id")
            if isinstance(rid, str):
                name = f"region {rid!r}"
            self.unknown(t, name, known)
            if not isinstance(rid, str) or not _ID.match(rid) or rid == "all":
                self.error(
                    file,
                    f"{name}.id",
                    f"a region id must match [a-z0-9-]+ and not be "
                    f"'all' (it names files and URLs), got {rid!r}",
                    'use e.g. id = "europe"',
                )
                continue
            if rid in seen:
                self.error(
                    file,
                    f"{name}.id",
                    f"duplicate region id, also defined in {seen[rid]}",
                    "give each region its own id",
                )
                continue
            seen[rid] = file
            out.append(
                Region(
                    id=rid,
                    title=self.get(t, name, "title", rid, _text, "a string"),
                    language=self.get(t, name, "language", None, _language, "a language tag"),
                    sections=self.get(t, name, "sections", (), _text_list, "a list of strings"),
                    places=self.get(t, name, "places", (), _text_list, "a list of strings"),
                    description=self.get(t, name, "description", None, _text, "a string"),
                    suppress_near_duplicates=self.boolean(
                        t, name, "suppress_near_duplicates", False
                    ),
                    file=file,
                )
            )
        return tuple(out)

    def sources(
        self, items: list[tuple[str, int, Any]], region_ids: set[str], base_url: str
    ) -> tuple[Source, ...]:
        out: list[Source] = []
        seen: dict[str, str] = {}
        known = {
            "id",
            "kind",
            "url",
            "every",
            "cron",
            "timezone",
            "jitter",
            "regions",
            "language",
            "select",
            "fetch_pages",
            "enabled",
            "max_articles",
            "title",
            "recheck",
            "recheck_window",
            "local_root",
        }
        for file, i, raw in items:
            name = f"source[{i}]"
            if not isinstance(raw, dict):
                self.error(file, name, "must be a table")
                continue
            sid = raw.get("id")
            if isinstance(sid, str):
                name = f"source {sid!r}"
            t = {k: (file, v) for k, v in raw.items()}
            url_text = raw.get("url")
            if isinstance(url_text, str) and url_text.startswith(BASE_URL_PLACEHOLDER):
                # A page this service serves itself (the demo reads the bundled samples so)
                t["url"] = (file, base_url + url_text[len(BASE_URL_PLACEHOLDER) :])
            self.unknown(t, name, known)
            if not isinstance(sid, str) or not _SOURCE_ID.match(sid):
                self.error(
                    file,
                    f"{name}.id",
                    f"a source id must match [A-Za-z0-9_.-]+, got {sid!r}",
                    'use e.g. id = "example-europe"',
                )
                continue
            if sid in seen:
                self.error(
                    file,
                    f"{name}.id",
                    f"duplicate source id, also defined in {seen[sid]}",
                    "give each source its own id",
                )
                continue
            seen[sid] = file
            kind = raw.get("kind")
            if kind not in SOURCE_KINDS:
                self.error(
                    file,
                    f"{name}.kind",
                    f"unknown kind {kind!r}" + _suggest(str(kind), SOURCE_KINDS),
                    f"use one of {', '.join(SOURCE_KINDS)}",
                )
                continue
            url = self.get(t, name, "url", None, _source_url, "an http(s) URL, file:// URL or path")
            if url is None:
                if "url" not in raw:
                    self.error(file, f"{name}.url", "missing", "every source needs a url")
                continue
            if "every" in raw and "cron" in raw:
                self.error(file, name, "has both every and cron", "keep one of them")
            cron = self.get(t, name, "cron", None, _cron, "a crontab expression")
            every = (
                None
                if cron
                else self.get(t, name, "every", 600.0, parse_duration, 'a duration such as "10m"')
            )
            tzname = self.get(
                t, name, "timezone", None, _timezone, "an IANA timezone such as Asia/Riyadh"
            )
            regions = self.get(t, name, "regions", (), _text_list, "a list of region ids")
            for r in regions:
                if r not in region_ids:
                    self.error(
                        file,
                        f"{name}.regions",
                        f"unknown region {r!r}" + _suggest(r, region_ids),
                        "define it in a [[region]] table",
                    )
            select = None
            if "select" in raw:
                select = self.selectors(file, name, raw["select"])
            local_root = self.get(t, name, "local_root", None, _text, "a folder")
            if local_root is not None:
                self.local_root(file, name, url, local_root)
            out.append(
                Source(
                    id=sid,
                    kind=kind,
                    url=url,
                    every=every,
                    cron=cron,
                    timezone=tzname,
                    jitter=self.get(t, name, "jitter", None, _jitter, "a duration"),
                    regions=regions,
                    language=self.get(t, name, "language", None, _language, "a language tag"),
                    select=select,
                    fetch_pages=self.get(
                        t,
                        name,
                        "fetch_pages",
                        "auto",
                        _one_of(FETCH_PAGES),
                        " or ".join(FETCH_PAGES),
                    ),
                    enabled=self.boolean(t, name, "enabled", True),
                    max_articles=self.get(
                        t, name, "max_articles", 100, _positive_int, "a positive integer"
                    ),
                    title=self.get(t, name, "title", None, _text, "a string"),
                    recheck=self.get(
                        t,
                        name,
                        "recheck",
                        DEFAULT_RECHECK,
                        _recheck,
                        'a duration such as "1h", "0s" (every pass) or "off"',
                    ),
                    recheck_window=self.get(
                        t,
                        name,
                        "recheck_window",
                        DEFAULT_RECHECK_WINDOW,
                        parse_duration,
                        'a duration such as "2d"',
                    ),
                    local_root=local_root,
                    file=file,
                )
            )
        return tuple(out)

    def local_root(self, file: str, name: str, url: str, root: str) -> None:
        """``local_root`` is for local sources, and holds the source's own file."""
        scheme = urlsplit(url).scheme
        if scheme not in ("file", "") and len(scheme) != 1:
            self.error(
                file,
                f"{name}.local_root",
                "only a local source (a file path or file:// URL) reads local files",
                "remove local_root",
            )
            return
        path = Path(unquote(urlsplit(url).path)) if scheme == "file" else Path(url)
        folder = Path(root)
        if not path.resolve().is_relative_to(folder.resolve()):
            self.error(
                file,
                f"{name}.local_root",
                f"the source's own file {url!r} is not inside {root!r}",
                "name a folder that holds the source's file (and the files it links to)",
            )

    def selectors(self, file: str, name: str, raw: Any) -> Selectors | None:
        if not isinstance(raw, dict):
            self.error(file, f"{name}.select", "must be a table", "write [source.select]")
            return None
        fields = set(Selectors.__dataclass_fields__)
        values: dict[str, str] = {}
        for key, value in raw.items():
            if key not in fields:
                self.error(
                    file,
                    f"{name}.select.{key}",
                    "unknown selector" + _suggest(key, fields),
                    f"use one of {', '.join(sorted(fields))}",
                )
                continue
            if not isinstance(value, str) or not value.strip():
                self.error(file, f"{name}.select.{key}", f"expected a CSS selector, got {value!r}")
                continue
            from cssselect import GenericTranslator, SelectorError

            try:
                GenericTranslator().css_to_xpath(value)
            except SelectorError as e:
                self.error(file, f"{name}.select.{key}", f"invalid CSS selector {value!r}: {e}")
                continue
            values[key] = value
        return Selectors(**values)

    def notifies(
        self, items: list[tuple[str, int, Any]], region_ids: set[str]
    ) -> tuple[Notify, ...]:
        out: list[Notify] = []
        known = {"id", "kind", "url", "secret_env", "urls_env", "events", "regions", "max_attempts"}
        for file, i, raw in items:
            name = f"notify[{i}]"
            if not isinstance(raw, dict):
                self.error(file, name, "must be a table")
                continue
            t = {k: (file, v) for k, v in raw.items()}
            self.unknown(t, name, known)
            kind = raw.get("kind")
            if kind not in NOTIFY_KINDS:
                self.error(
                    file,
                    f"{name}.kind",
                    f"unknown kind {kind!r}",
                    f"use one of {', '.join(NOTIFY_KINDS)}",
                )
                continue
            url = self.get(t, name, "url", None, _target_url, "an http(s) URL")
            urls_env = self.get(
                t, name, "urls_env", None, _env_name, "an environment variable name"
            )
            if kind == "webhook" and not url:
                self.error(file, f"{name}.url", "a webhook needs a url")
            if kind == "apprise" and not (urls_env or url):
                self.error(
                    file,
                    f"{name}.urls_env",
                    "an apprise target needs urls_env",
                    "name the environment variable holding the apprise URLs",
                )
            if urls_env and not self.env.get(urls_env):
                self.error(
                    file,
                    f"{name}.urls_env",
                    f"environment variable {urls_env} is not set",
                    f"export {urls_env}=...",
                )
            secret_env = self.get(
                t, name, "secret_env", None, _env_name, "an environment variable name"
            )
            secret = None
            if secret_env:
                secret = self.env.get(secret_env) or None
                if secret is None:
                    self.error(
                        file,
                        f"{name}.secret_env",
                        f"environment variable {secret_env} is not set",
                        f"export {secret_env}=<the shared secret>",
                    )
            events = self.get(
                t,
                name,
                "events",
                Notify.__dataclass_fields__["events"].default,
                _choices(EVENT_TYPES),
                f"a list of {', '.join(EVENT_TYPES)}",
            )
            regions = self.get(t, name, "regions", (), _text_list, "a list of region ids")
            for r in regions:
                if r not in region_ids and r != "all":
                    self.error(
                        file,
                        f"{name}.regions",
                        f"unknown region {r!r}" + _suggest(r, region_ids),
                        "define it in a [[region]] table",
                    )
            nid = self.get(t, name, "id", f"{kind}-{len(out) + 1}", _text, "a string")
            out.append(
                Notify(
                    kind=kind,
                    url=url,
                    secret=secret,
                    secret_env=secret_env,
                    urls_env=urls_env,
                    apprise_urls=tuple(
                        u for u in re.split(r"[\s,]+", self.env.get(urls_env, "")) if u
                    )
                    if urls_env
                    else (),
                    events=events,
                    regions=regions,
                    id=nid,
                    max_attempts=self.get(
                        t, name, "max_attempts", 8, _positive_int, "a positive integer"
                    ),
                    file=file,
                )
            )
        return tuple(out)


# --------------------------------------------------------------------------------------------
# Value checks: each returns the clean value or raises ValueError/TypeError.


def _suggest(key: str, known: Any) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise TypeError
    return v


def _text(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise TypeError
    return v.strip()


def _text_list(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
        raise TypeError
    return tuple(x.strip() for x in v)


def _positive_int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise ValueError
    if v > MAX_INT:
        raise ValueError(f"must be at most {MAX_INT}")
    return v


def _non_negative(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < math.inf:
        raise ValueError("not a finite number of at least 0")
    if v > MAX_DURATION:
        raise ValueError("longer than ten years")
    return float(v)


def _rate(v: Any) -> float:
    rate = _non_negative(v)
    if not math.isfinite(rate):
        raise ValueError("not a finite number")
    return rate


def _http_url(v: Any) -> str:
    text = _text(v)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("not an http(s) URL")
    return text


def _target_url(v: Any) -> str:
    """A URL the service sends requests to (a webhook, a hub): checked and canonical, as every
    URL from outside is (normalize.external_url)."""
    if not isinstance(v, str):
        raise TypeError
    return external_url(v.strip())


def _url_list(v: Any) -> tuple[str, ...]:
    return tuple(_target_url(x) for x in _text_list(v)) if v else ()


def _source_url(v: Any) -> str:
    text = _text(v)
    scheme = urlsplit(text).scheme
    if scheme in ("http", "https"):
        return _http_url(text)
    if scheme in ("file", "") or len(scheme) == 1:  # a path (C: on Windows)
        return text
    raise ValueError(f"unsupported scheme {scheme!r}")


def _url_of(listen: str) -> str:
    """The base URL of a service listening on ``listen`` (an address that means "every
    interface" is reached through loopback)."""
    host, _, port = listen.rpartition(":")
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "[::]": "[::1]", "::": "[::1]"}.get(host, host)
    return f"http://{host}:{port}"


def _listen(v: Any) -> str:
    text = _text(v)
    _, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected HOST:PORT")
    return text


def _database(v: Any) -> str:
    text = _text(v)
    if not text.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://", "postgres://")):
        raise ValueError("unsupported database URL")
    return text


def _safe_database(url: str) -> str:
    """A database URL as it may be printed: without its password."""
    parts = urlsplit(url)
    return url.replace(f":{parts.password}@", ":***@") if parts.password else url


def _env_name(v: Any) -> str:
    text = _text(v)
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", v):
        raise ValueError("not an environment variable name")
    return text


def _language(v: Any) -> str:
    text = _text(v)
    if not re.match(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$", v):
        raise ValueError("not a language tag")
    return text


def _timezone(v: Any) -> str:
    text = _text(v)
    zone(text)
    return text


def _cron(v: Any) -> str:
    text = _text(v)
    validate_cron(text)
    return text


def _choices(allowed: tuple[str, ...]) -> Callable[[Any], tuple[str, ...]]:
    def check(v: Any) -> tuple[str, ...]:
        values = _text_list(v)
        bad = [x for x in values if x not in allowed]
        if bad:
            raise ValueError(f"unknown {', '.join(map(repr, bad))}")
        return values

    return check


def _one_of(allowed: tuple[str, ...]) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if v not in allowed:
            raise ValueError
        return str(v)

    return check

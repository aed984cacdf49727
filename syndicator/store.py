"""The store: every article, its revisions and locations, region membership, the outbox, source
state and the fetch log, in SQL through SQLAlchemy Core (SQLite in WAL mode by default, PostgreSQL
for several workers). Every query here is written to be correct on both.

:meth:`Store.apply` is the identity contract of DESIGN.md in one transaction per source pass:
created / updated (a revision) / duplicate (another location) / unchanged, near-duplicate clusters,
region membership, and the change events written to the outbox with the change that caused them.
The schema is versioned and upgrades itself. This module does not fetch, extract or render.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import json
import math
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from syndicator import fingerprint
from syndicator.errors import StoreError
from syndicator.model import Article, Entry, Image, RegionMatch

SCHEMA_VERSION = 5
PROBLEM_KEY = "problem:"  # meta rows holding a process's problem (Store.set_problem)
# PostgreSQL advisory locks, held to the end of a transaction: writers of the identity tables
# (passes, pushes, removals) one at a time; the schema upgraded by one process at a time.
WRITE_LOCK = 0x73796E6400000001
SCHEMA_LOCK = 0x73796E6400000002
ALL = "all"  # the feed of every region: every article joins it, with its own sequence
APPLY_BATCH = 500  # articles read for together, and written together, by Store.apply


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A point in time, held in UTC on every database: an aware time in any zone is converted
    on the way in (SQLite keeps no offset: it would keep the zone's wall-clock time and read it
    back as UTC), a naive one is taken as UTC, and every time read back is aware, in UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        value = _as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        return utc(value)


metadata = sa.MetaData()
# fmt: off
TS = UTCDateTime()
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

meta = sa.Table(
    "meta", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
sources = sa.Table(
    "sources", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("health", sa.String(16), nullable=False, default="new"),
    sa.Column("health_reason", sa.Text),
    sa.Column("first_fetch_at", TS),
    sa.Column("last_fetch_at", TS),
    sa.Column("last_success_at", TS),
    sa.Column("last_change_at", TS),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("next_due_at", TS),
    sa.Column("last_found", sa.Integer),
    sa.Column("last_found_some", sa.Integer),  # what the last pass that found any found (v4)
    sa.Column("created", sa.Integer, nullable=False, default=0),
    sa.Column("updated", sa.Integer, nullable=False, default=0),
    sa.Column("duplicates", sa.Integer, nullable=False, default=0),
    # Version 5: ops pause a source (it keeps its state; nothing fetches it until resumed)
    sa.Column("paused", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("paused_at", TS),
)
# HTTP validators belong to a (source, URL) pair (version 4): one source's 304 never stands for
# another's read of the same address.
http_cache = sa.Table(
    "http_cache", metadata,
    sa.Column("source_id", sa.String(64), primary_key=True),  # "" for pushed documents
    sa.Column("url", sa.Text, primary_key=True),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("checked_at", TS, nullable=False),
    sa.Column("status", sa.Integer),
    sa.Column("misses", sa.Integer, nullable=False, default=0),  # 404s in a row (v2)
)
articles = sa.Table(
    "articles", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("entry_id", sa.String(200), nullable=False, unique=True),
    sa.Column("key", sa.Text, nullable=False, unique=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("source_id", sa.String(64)),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("subtitle", sa.Text),
    sa.Column("summary", sa.Text),
    sa.Column("section", sa.Text),
    sa.Column("categories", sa.Text, nullable=False, default="[]"),
    sa.Column("authors", sa.Text, nullable=False, default="[]"),
    sa.Column("dateline", sa.Text),
    sa.Column("language", sa.String(16)),
    sa.Column("published_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("first_seen_at", TS, nullable=False),
    sa.Column("content_hash", sa.String(80), nullable=False, index=True),
    sa.Column("similarity", sa.String(24), nullable=False),
    sa.Column("band0", sa.Integer, nullable=False, index=True),
    sa.Column("band1", sa.Integer, nullable=False, index=True),
    sa.Column("band2", sa.Integer, nullable=False, index=True),
    sa.Column("band3", sa.Integer, nullable=False, index=True),
    sa.Column("cluster_id", ID),
    sa.Column("paragraphs", sa.Text, nullable=False),
    sa.Column("content_html", sa.Text, nullable=False),
    sa.Column("images", sa.Text, nullable=False, default="[]"),
    sa.Column("fetched_url", sa.Text),
    sa.Column("guid", sa.Text),
    sa.Column("method", sa.String(32)),
    sa.Column("revision", sa.Integer, nullable=False, default=0),
    sa.Column("complete", sa.Boolean, nullable=False, default=True),
    sa.Column("removed_at", TS),
    # Version 5: whether the document stated when it was published. An undated article's
    # published_at is when it was first seen (for ordering); feeds then show no published date.
    sa.Column("dated", sa.Boolean, nullable=False, default=True, server_default=sa.true()),
)
revisions = sa.Table(
    "revisions", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("article_id", ID, sa.ForeignKey("articles.id"), nullable=False, index=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("revised_at", TS, nullable=False),
    sa.Column("previous_hash", sa.String(80), nullable=False),
    sa.Column("new_hash", sa.String(80), nullable=False),
    sa.Column("previous_title", sa.Text, nullable=False),
    sa.Column("diff", sa.Text, nullable=False),
    sa.Column("source_id", sa.String(64)),
)
locations = sa.Table(
    "locations", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("article_id", ID, sa.ForeignKey("articles.id"), nullable=False, index=True),
    sa.Column("url", sa.Text, nullable=False, unique=True),
    sa.Column("source_id", sa.String(64)),
    sa.Column("relation", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("first_seen_at", TS, nullable=False),
)
region_entries = sa.Table(
    "region_entries", metadata,
    sa.Column("region", sa.String(64), primary_key=True),
    sa.Column("article_id", ID, sa.ForeignKey("articles.id"), primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("added_at", TS, nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("suppressed", sa.Boolean, nullable=False, default=False),
    sa.UniqueConstraint("region", "seq", name="uq_region_seq"),
    sa.Index("ix_region_entries_article", "article_id"),  # an article's regions (version 3)
)
region_changes = sa.Table(
    "region_changes", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("region", sa.String(64), nullable=False),
    sa.Column("article_id", ID, sa.ForeignKey("articles.id"), nullable=False),
    sa.Column("change", sa.String(16), nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("published", sa.Boolean, nullable=False, default=False),
    sa.Index("ix_region_changes_pending", "published", "region"),
)
outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(36), nullable=False, unique=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("occurred_at", TS, nullable=False),
    sa.Column("regions", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
)
fetch_log = sa.Table(
    "fetch_log", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("source_id", sa.String(64), nullable=False, index=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("duration_ms", sa.Integer),
    sa.Column("status", sa.Integer),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("bytes", sa.Integer),
)
# Schema version 2: notification deliveries and WebSub subscriptions.
deliveries = sa.Table(
    "deliveries", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("event_seq", ID, sa.ForeignKey("outbox.id"), nullable=False),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("target", sa.String(300), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | delivered | dead
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", TS, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("delivered_at", TS),
    sa.UniqueConstraint("event_id", "target", name="uq_delivery"),
    sa.Index("ix_deliveries_pending", "status", "target", "id"),
)
subscriptions = sa.Table(
    "subscriptions", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("callback", sa.Text, nullable=False),
    sa.Column("secret", sa.Text),
    sa.Column("lease_seconds", sa.Integer, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("verified_at", TS, nullable=False),
    sa.UniqueConstraint("topic", "callback", name="uq_subscription"),
)
# fmt: on

_INSERT_FETCH_LOG = sa.insert(fetch_log)


# --------------------------------------------------------------------------------------------
# Records the store hands out


@dataclass(frozen=True, slots=True)
class Change:
    """What one article did to the store."""

    change: str  # created | updated | duplicate | unchanged
    url: str
    entry_id: str | None
    key: str
    regions: tuple[str, ...] = ()
    reason: str = ""


@dataclass
class ChangeSet:
    """What a source pass did: one Change per article, and the regions whose feeds changed."""

    changes: list[Change] = field(default_factory=list)
    regions: set[str] = field(default_factory=set)

    def count(self, change: str) -> int:
        return sum(1 for c in self.changes if c.change == change)

    @property
    def changed(self) -> bool:
        return bool(self.regions) or any(c.change in ("created", "updated") for c in self.changes)

    @property
    def feeds(self) -> set[str]:
        """The regions to publish again: those that changed, and ``all`` whenever an article
        was created or updated (every article is in it, one matching no region too)."""
        articles = any(c.change in ("created", "updated") for c in self.changes)
        return self.regions | {ALL} if articles or self.regions else set()


@dataclass(frozen=True, slots=True)
class SourceState:
    id: str
    kind: str
    url: str
    health: str
    health_reason: str | None
    first_fetch_at: datetime | None
    last_fetch_at: datetime | None
    last_success_at: datetime | None
    last_change_at: datetime | None
    last_status: int | None
    last_error: str | None
    failures: int
    next_due_at: datetime | None
    last_found: int | None
    last_found_some: int | None
    created: int
    updated: int
    duplicates: int
    paused: bool = False  # by ops: nothing fetches it (no schedule, no once) until resumed
    paused_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            k: (v.isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else v)
            for k, v in ((f, getattr(self, f)) for f in self.__slots__)
        }


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    seq: int
    event_id: str
    type: str
    regions: tuple[str, ...]
    body: str


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    event_seq: int
    event_id: str
    type: str
    target: str
    attempts: int
    body: str


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    topic: str
    callback: str
    secret: str | None
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PendingChanges:
    region: str
    created: tuple[str, ...]
    updated: tuple[str, ...]
    upto: int
    removed: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------


def utc(value: datetime | None) -> datetime | None:
    """Datetimes read back from SQLite are naive: they were written in UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _bands(signature: str) -> tuple[int, int, int, int]:
    bits = fingerprint.signature_bits(signature)
    return tuple((bits >> (16 * i)) & 0xFFFF for i in range(4))  # type: ignore[return-value]


def entry_id_for(key: str, host: str, published: datetime | None, first_seen: datetime) -> str:
    """The entry id of a new article: a tag URI (RFC 4151) derived from its key and dated by the
    article's own publication date (UTC), or the day it was first stored when it states none:
    every store that meets the article gives it the same id, whatever the day it does."""
    day = _as_utc(published or first_seen)
    return f"tag:{host},{day:%Y-%m-%d}:article/{uuid.uuid5(uuid.NAMESPACE_URL, key)}"


def text_diff(before: Sequence[str], after: Sequence[str]) -> str:
    """A readable unified diff of two paragraph lists."""
    lines = difflib.unified_diff(list(before), list(after), "before", "after", lineterm="", n=1)
    return "\n".join(lines)


DEFAULT_TIMEOUT = 30.0  # seconds one operation waits for the database ([service] database_timeout)


class Store:
    """The database. Open it with a URL; it creates or upgrades its schema on open.

    Every error the database raises, wherever the engine is used (here, or in a caller holding
    one of its connections), leaves as a StoreError: one hook on the engine maps them, and
    every public method maps what SQLAlchemy raises on its own (a pool timeout)."""

    def __init__(
        self, url: str, *, host: str = "syndicator.invalid", timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.url = url
        self.host = host
        try:
            self.engine = self._engine(url, timeout)
        except SQLAlchemyError as e:
            raise StoreError(f"cannot open the store at {_safe_url(url)}: {e}") from e
        try:
            self.upgrade()
        except (SQLAlchemyError, StoreError) as e:
            self.engine.dispose()
            raise StoreError(f"cannot open the store at {_safe_url(url)}: {e}") from e
        except BaseException:
            self.engine.dispose()
            raise

    @staticmethod
    def _engine(url: str, timeout: float = DEFAULT_TIMEOUT) -> Engine:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[1] if "///" in url else ""
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(url, connect_args={"timeout": timeout})

            @sa_event.listens_for(engine, "connect")
            def _pragmas(dbapi_connection: Any, _: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
                cursor.close()

        else:
            if url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url[len("postgres://") :]
            elif url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            engine = sa.create_engine(
                url,
                pool_pre_ping=True,
                pool_timeout=timeout,
                connect_args={"connect_timeout": max(1, math.ceil(timeout))},
            )
        sa_event.listen(engine, "handle_error", _store_error)
        return engine

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as e:
            raise StoreError(f"store transaction failed: {e}") from e

    # -- schema ------------------------------------------------------------------------------

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return self.schema_version_in(conn)

    @staticmethod
    def schema_version_in(conn: Connection) -> int:
        if not sa.inspect(conn).has_table("meta"):
            return 0
        value = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
        return int(value) if value else 0

    def upgrade(self) -> int:
        """Bring the schema to SCHEMA_VERSION, one step at a time; returns the version."""
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"the store has schema version {current}, newer than this "
                f"syndicator ({SCHEMA_VERSION}): upgrade syndicator"
            )
        with self.engine.begin() as conn:
            _exclusive(conn, SCHEMA_LOCK)  # processes starting together upgrade once
            current = self.schema_version_in(conn)
            for version in range(current + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[version](conn)
                self._set_meta(conn, "schema_version", str(version))
        return SCHEMA_VERSION

    @staticmethod
    def _set_meta(conn: Connection, key: str, value: str) -> None:
        updated = conn.execute(sa.update(meta).where(meta.c.key == key).values(value=value))
        if not updated.rowcount:
            conn.execute(sa.insert(meta).values(key=key, value=value))

    def integrity_check(self) -> list[str]:
        """Problems found by the database's own check and by our invariants (empty when fine)."""
        problems: list[str] = []
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                result = conn.exec_driver_sql("PRAGMA integrity_check").scalar()
                if result != "ok":
                    problems.append(f"sqlite integrity_check: {result}")
            orphans = conn.execute(
                sa.select(sa.func.count())
                .select_from(region_entries)
                .where(~sa.exists().where(articles.c.id == region_entries.c.article_id))
            ).scalar()
            if orphans:
                problems.append(f"{orphans} region entries without an article")
            dup_hashes = conn.execute(
                sa.select(articles.c.content_hash)
                .group_by(articles.c.content_hash)
                .having(sa.func.count() > 1)
            ).all()
            if dup_hashes:
                problems.append(f"{len(dup_hashes)} content hashes stored twice")
        return problems

    # -- sources and HTTP validators ---------------------------------------------------------

    def sync_sources(self, configured: Iterable[tuple[str, str, str]]) -> None:
        """Make sure every configured source (id, kind, url) has a row; keeps history."""
        with self.transaction() as conn:
            existing = {r.id: r for r in conn.execute(sa.select(sources)).all()}
            for sid, kind, url in configured:
                row = existing.get(sid)
                if row is None:
                    conn.execute(
                        sa.insert(sources).values(
                            id=sid,
                            kind=kind,
                            url=url,
                            health="new",
                            failures=0,
                            created=0,
                            updated=0,
                            duplicates=0,
                        )
                    )
                elif row.kind != kind or row.url != url:
                    conn.execute(
                        sa.update(sources).where(sources.c.id == sid).values(kind=kind, url=url)
                    )

    def validators_of(
        self, pairs: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[str | None, str | None]]:
        """Stored validators for many (source, URL) pairs at once (the listings of a whole
        ``once`` run)."""
        wanted = set(pairs)
        found: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted({url for _, url in wanted}), 500):
                for row in conn.execute(
                    sa.select(
                        http_cache.c.source_id,
                        http_cache.c.url,
                        http_cache.c.etag,
                        http_cache.c.last_modified,
                    ).where(http_cache.c.url.in_(chunk))
                ):
                    if (row.source_id, row.url) in wanted:
                        found[(row.source_id, row.url)] = (row.etag, row.last_modified)
        return found

    def validators(self, source_id: str, url: str) -> tuple[str | None, str | None] | None:
        """The validators this source last saved for this URL (never another source's)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(http_cache.c.etag, http_cache.c.last_modified).where(
                    http_cache.c.source_id == source_id, http_cache.c.url == url
                )
            ).first()
        return (row.etag, row.last_modified) if row else None

    @staticmethod
    def _save_validators(
        conn: Connection,
        source_id: str,
        url: str,
        etag: str | None,
        last_modified: str | None,
        status: int | None,
        now: datetime,
    ) -> None:
        values = {
            "etag": etag,
            "last_modified": last_modified,
            "checked_at": now,
            "status": status,
            "misses": 0,
        }
        this = (http_cache.c.source_id == source_id) & (http_cache.c.url == url)
        updated = conn.execute(sa.update(http_cache).where(this).values(values))
        if not updated.rowcount:
            conn.execute(sa.insert(http_cache).values(source_id=source_id, url=url, **values))

    @staticmethod
    def _save_validators_many(
        conn: Connection,
        source_id: str,
        entries: Sequence[tuple[str, str | None, str | None, int | None]],
        now: datetime,
    ) -> None:
        """Save many URLs' validators for one source: one read, then one multi-row update
        and one multi-row insert (the last entry for a URL wins)."""
        latest = {url: (etag, modified, status) for url, etag, modified, status in entries}
        if not latest:
            return
        urls = sorted(latest)
        have: set[str] = set()
        for chunk in _chunks(urls, 500):
            have.update(
                conn.execute(
                    sa.select(http_cache.c.url).where(
                        http_cache.c.source_id == source_id, http_cache.c.url.in_(chunk)
                    )
                ).scalars()
            )
        rows = [
            {
                "source_id": source_id,
                "url": url,
                "etag": etag,
                "last_modified": modified,
                "checked_at": now,
                "status": status,
                "misses": 0,
            }
            for url, (etag, modified, status) in latest.items()
        ]
        old = [{f"v_{k}": v for k, v in r.items()} for r in rows if r["url"] in have]
        if old:
            conn.execute(
                sa.update(http_cache)
                .where(
                    http_cache.c.source_id == sa.bindparam("v_source_id"),
                    http_cache.c.url == sa.bindparam("v_url"),
                )
                .values(
                    etag=sa.bindparam("v_etag"),
                    last_modified=sa.bindparam("v_last_modified"),
                    checked_at=sa.bindparam("v_checked_at", type_=TS),
                    status=sa.bindparam("v_status"),
                    misses=sa.bindparam("v_misses"),
                ),
                old,
            )
        new = [r for r in rows if r["url"] not in have]
        if new:
            conn.execute(sa.insert(http_cache), new)

    def record_miss(self, conn: Connection, source_id: str, url: str, now: datetime) -> int:
        """A 404 for a known page of this source: how many in a row now (validators kept)."""
        _exclusive(conn, WRITE_LOCK)
        this = (http_cache.c.source_id == source_id) & (http_cache.c.url == url)
        updated = conn.execute(
            sa.update(http_cache)
            .where(this)
            .values(misses=http_cache.c.misses + 1, checked_at=now, status=404)
        )
        if not updated.rowcount:
            conn.execute(
                sa.insert(http_cache).values(
                    source_id=source_id, url=url, checked_at=now, status=404, misses=1
                )
            )
        return int(conn.execute(sa.select(http_cache.c.misses).where(this)).scalar() or 0)

    def recheck_candidates(
        self, source_id: str, now: datetime, *, window: timedelta, every: timedelta, limit: int
    ) -> list[str]:
        """Pages of this source's recent articles not checked for ``every``: cheap conditional
        GETs that find corrections and removals even when no listing changed."""
        query = (
            sa.select(http_cache.c.url)
            .join(articles, articles.c.key == http_cache.c.url)
            .where(
                http_cache.c.source_id == source_id,
                articles.c.source_id == source_id,
                articles.c.removed_at.is_(None),
                articles.c.first_seen_at > now - window,
                http_cache.c.checked_at < now - every,
                sa.or_(http_cache.c.etag.is_not(None), http_cache.c.last_modified.is_not(None)),
            )
            .order_by(http_cache.c.checked_at)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def sources_with_rechecks(
        self, now: datetime, *, window: timedelta, every: timedelta
    ) -> set[str]:
        """The sources that have pages due for a recheck (one query for a whole run)."""
        query = (
            sa.select(articles.c.source_id)
            .distinct()
            .join(
                http_cache,
                (articles.c.key == http_cache.c.url)
                & (http_cache.c.source_id == articles.c.source_id),
            )
            .where(
                articles.c.removed_at.is_(None),
                articles.c.first_seen_at > now - window,
                http_cache.c.checked_at < now - every,
            )
        )
        with self.engine.connect() as conn:
            return {s for s in conn.execute(query).scalars() if s}

    def remove(self, conn: Connection, url: str, now: datetime, reason: str) -> Change | None:
        """The article at this address is gone: it leaves the feeds (as a tombstone in Atom)
        and an ``article.removed`` event is written. None if no live article is there."""
        _exclusive(conn, WRITE_LOCK)
        row = conn.execute(
            sa.select(articles).where(articles.c.key == url, articles.c.removed_at.is_(None))
        ).first()
        if row is None:
            return None
        conn.execute(sa.update(articles).where(articles.c.id == row.id).values(removed_at=now))
        members = self._regions_of(conn, row.id)
        for region in members:
            self._region_change(conn, region, row.id, "removed", now)
        self._event(
            conn,
            "article.removed",
            now,
            members,
            article=self._article_payload(conn, row.id),
            changes={"reason": reason},
        )
        return Change("removed", row.url, row.entry_id, row.key, tuple(members), reason)

    def removed_entries(self, region: str, limit: int = 50) -> list[Entry]:
        """Entries removed from a region (newest removal first), marked ``deleted`` and dated
        by their removal: the publisher turns them into RFC 6721 tombstones."""
        query = sa.select(articles).where(articles.c.removed_at.is_not(None))
        if region != ALL:
            query = query.join(region_entries, region_entries.c.article_id == articles.c.id).where(
                region_entries.c.region == region
            )
        query = query.order_by(articles.c.removed_at.desc(), articles.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        out = []
        for row in rows:
            entry = self._entry(row, ())
            out.append(replace(entry, updated=utc(row.removed_at) or entry.updated))
        return out

    def save_validators(
        self,
        source_id: str,
        url: str,
        etag: str | None,
        last_modified: str | None,
        status: int | None,
        now: datetime,
    ) -> None:
        with self.transaction() as conn:
            self._save_validators(conn, source_id, url, etag, last_modified, status, now)

    def known(
        self,
        urls: Iterable[str],
        *,
        source_id: str | None = None,
        priority: Mapping[str, int] | None = None,
    ) -> set[str]:
        """Which of these URLs (canonical form) are already stored, as a key or a location.

        With ``priority``, an article (or a location of one) stored from a source ranking after
        ``source_id`` does not count: that source's own copy is worth reading (it takes the
        story over, see :meth:`apply`)."""
        wanted = list(dict.fromkeys(urls))
        found: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(wanted, 500):
                for key, owner in conn.execute(
                    sa.select(articles.c.key, articles.c.source_id).where(articles.c.key.in_(chunk))
                ):
                    if not _outranks(priority, source_id, owner):
                        found.add(key)
                rows = conn.execute(
                    sa.select(locations.c.url, articles.c.source_id)
                    .join(articles, articles.c.id == locations.c.article_id)
                    .where(locations.c.url.in_(chunk))
                ).all()
                for url, owner in rows:
                    if not _outranks(priority, source_id, owner):
                        found.add(url)
        return found

    def log_fetch(
        self,
        source_id: str,
        url: str,
        *,
        at: datetime,
        outcome: str,
        status: int | None = None,
        reason: str | None = None,
        duration_ms: int | None = None,
        size: int | None = None,
        conn: Connection | None = None,
    ) -> None:
        values = {
            "source_id": source_id,
            "url": url,
            "at": at,
            "outcome": outcome,
            "status": status,
            "reason": reason,
            "duration_ms": duration_ms,
            "bytes": size,
        }
        if conn is not None:
            conn.execute(_INSERT_FETCH_LOG, values)
            return
        with self.transaction() as c:
            c.execute(_INSERT_FETCH_LOG, values)

    def record_pass(
        self,
        source_id: str,
        *,
        at: datetime,
        ok: bool,
        status: int | None,
        error: str | None,
        found: int | None,
        changes: ChangeSet | None = None,
        next_due_at: datetime | None = None,
        health: str | None = None,
        health_reason: str | None = None,
        conn: Connection | None = None,
    ) -> None:
        """Remember how a pass of a source went (in the pass transaction when one is given)."""

        def write(c: Connection) -> None:
            # One UPDATE, counters computed by the database: a pass is cheap to record.
            values: dict[str, Any] = {
                "last_fetch_at": at,
                "last_status": status,
                "first_fetch_at": sa.func.coalesce(sources.c.first_fetch_at, at),
            }
            if next_due_at is not None:  # the scheduler's to say; a pass leaves it alone
                values["next_due_at"] = next_due_at
            if ok:
                values.update(last_success_at=at, last_error=None, failures=0)
                if found is not None:
                    values["last_found"] = found
                    if found > 0:
                        values["last_found_some"] = found
            else:
                values.update(last_error=error, failures=sources.c.failures + 1)
            if changes is not None:
                created, updated = changes.count("created"), changes.count("updated")
                duplicates = changes.count("duplicate")
                if created:
                    values["created"] = sources.c.created + created
                if updated:
                    values["updated"] = sources.c.updated + updated
                if duplicates:
                    values["duplicates"] = sources.c.duplicates + duplicates
                if created or updated:
                    values["last_change_at"] = at
            if health:
                values["health"] = health
                values["health_reason"] = health_reason
            c.execute(sa.update(sources).where(sources.c.id == source_id).values(values))

        if conn is not None:
            write(conn)
        else:
            with self.transaction() as c:
                write(c)

    def record_passes(self, conn: Connection, calls: Sequence[dict[str, Any]]) -> None:
        """Record many passes (each the keyword arguments of :meth:`record_pass`) in one
        multi-row update per shape: the quiet passes of a ``once`` (not modified, failed),
        recorded together. A pass that changed articles is recorded alone."""
        shapes: dict[tuple[bool, bool, bool], list[dict[str, Any]]] = {}
        for call in calls:
            changes, found = call.get("changes"), call.get("found")
            if (changes is not None and changes.changes) or not call.get("health"):
                self.record_pass(conn=conn, **call)
                continue
            ok = bool(call["ok"])
            shape = (ok, found is not None, bool(found))
            shapes.setdefault(shape, []).append(
                {
                    "b_id": call["source_id"],
                    "b_at": call["at"],
                    "b_status": call["status"],
                    "b_error": call.get("error"),
                    "b_found": found,
                    "b_health": call["health"],
                    "b_reason": call.get("health_reason"),
                }
            )
        for (ok, has_found, some), rows in shapes.items():
            at = sa.bindparam("b_at", type_=TS)
            values: dict[str, Any] = {
                "last_fetch_at": at,
                "last_status": sa.bindparam("b_status"),
                "first_fetch_at": sa.func.coalesce(sources.c.first_fetch_at, at),
                "health": sa.bindparam("b_health"),
                "health_reason": sa.bindparam("b_reason"),
            }
            if ok:
                values.update(last_success_at=at, last_error=None, failures=0)
                if has_found:
                    values["last_found"] = sa.bindparam("b_found")
                    if some:
                        values["last_found_some"] = sa.bindparam("b_found")
            else:
                values.update(last_error=sa.bindparam("b_error"), failures=sources.c.failures + 1)
            conn.execute(
                sa.update(sources).where(sources.c.id == sa.bindparam("b_id")).values(values),
                rows,
            )

    def log_fetches(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Many fetch log rows (``log_fetch``'s arguments, ``size`` as ``bytes``) at once."""
        if rows:
            conn.execute(_INSERT_FETCH_LOG, list(rows))

    def source_states_in(self, conn: Connection, ids: Sequence[str]) -> dict[str, SourceState]:
        """The states of these sources, in one query a chunk."""
        found: dict[str, SourceState] = {}
        for chunk in _chunks(sorted(set(ids)), 500):
            for row in conn.execute(sa.select(sources).where(sources.c.id.in_(chunk))):
                found[row.id] = _source_state(row)
        return found

    def source_states(self) -> list[SourceState]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(sources).order_by(sources.c.id)).all()
        return [_source_state(r) for r in rows]

    def source_state(self, source_id: str, conn: Connection | None = None) -> SourceState | None:
        if conn is None:
            with self.engine.connect() as c:
                return self.source_state(source_id, c)
        row = conn.execute(sa.select(sources).where(sources.c.id == source_id)).first()
        return _source_state(row) if row is not None else None

    def set_next_due(self, source_id: str, when: datetime | None) -> None:
        with self.transaction() as conn:
            conn.execute(
                sa.update(sources).where(sources.c.id == source_id).values(next_due_at=when)
            )

    # -- the ops pages: pausing a source, its history, dead letters ------------------------

    def set_paused(self, source_id: str, paused: bool, now: datetime) -> bool:
        """Pause or resume a source (kept across restarts); False when it has no row."""
        with self.transaction() as conn:
            done = conn.execute(
                sa.update(sources)
                .where(sources.c.id == source_id)
                .values(paused=paused, paused_at=now if paused else None)
            )
        return bool(done.rowcount)

    def paused_sources(self) -> set[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(sources.c.id).where(sources.c.paused.is_(True)))
            return {r.id for r in rows}

    def fetch_history(self, source_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """A source's last fetches, newest first: URL, time, status, outcome, reason, bytes."""
        query = (
            sa.select(fetch_log)
            .where(fetch_log.c.source_id == source_id)
            .order_by(fetch_log.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            {
                "url": r.url,
                "at": _iso(r.at),
                "status": r.status,
                "outcome": r.outcome,
                "reason": r.reason,
                "bytes": r.bytes,
                "duration_ms": r.duration_ms,
            }
            for r in rows
        ]

    def source_articles(self, source_id: str, limit: int = 50) -> list[Entry]:
        """The articles a source brought (it is their source), most recently updated first."""
        query = (
            sa.select(articles)
            .where(articles.c.source_id == source_id)
            .order_by(articles.c.updated_at.desc(), articles.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            regions = self._regions_by_article(conn, [r.id for r in rows])
        return [self._entry(r, regions.get(r.id, ())) for r in rows]

    def revisions_of(self, entry_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """The revisions of these entries (entry id → newest first), each with its diff."""
        out: dict[str, list[dict[str, Any]]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(entry_ids), 500):
                rows = conn.execute(
                    sa.select(revisions, articles.c.entry_id)
                    .join(articles, articles.c.id == revisions.c.article_id)
                    .where(articles.c.entry_id.in_(chunk))
                    .order_by(revisions.c.revision.desc())
                ).all()
                for r in rows:
                    out.setdefault(r.entry_id, []).append(
                        {
                            "revision": r.revision,
                            "at": _iso(r.revised_at),
                            "previous_title": r.previous_title,
                            "diff": r.diff,
                        }
                    )
        return out

    def source_events(self, source_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """A source's health history: its ``source.*`` events, newest first."""
        query = (
            sa.select(outbox.c.body)
            .where(outbox.c.type.like("source.%"))
            .order_by(outbox.c.id.desc())
            .limit(2000)  # the newest health events of every source: plenty for one's 20
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        events = []
        for row in rows:
            body = json.loads(row.body)
            if (body.get("source") or {}).get("id") == source_id:
                events.append(body)
                if len(events) >= limit:
                    break
        return events

    def dead_letters(self, limit: int = 200) -> list[dict[str, Any]]:
        """Deliveries given up on, newest first, with their event's type and the last error."""
        query = (
            sa.select(deliveries, outbox.c.type, outbox.c.occurred_at)
            .join(outbox, outbox.c.id == deliveries.c.event_seq)
            .where(deliveries.c.status == "dead")
            .order_by(deliveries.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            {
                "id": r.id,
                "target": r.target,
                "event_id": r.event_id,
                "type": r.type,
                "occurred_at": _iso(r.occurred_at),
                "attempts": r.attempts,
                "last_error": r.last_error,
            }
            for r in rows
        ]

    def retry_dead(self, now: datetime, delivery_id: int | None = None) -> int:
        """Give dead letters (one, or all) another round of attempts from now; how many."""
        condition = deliveries.c.status == "dead"
        if delivery_id is not None:
            condition = sa.and_(condition, deliveries.c.id == delivery_id)
        with self.transaction() as conn:
            done = conn.execute(
                sa.update(deliveries)
                .where(condition)
                .values(status="pending", attempts=0, next_attempt_at=now)
            )
        return int(done.rowcount or 0)

    def source_event(
        self, conn: Connection, kind: str, now: datetime, state: SourceState, reason: str
    ) -> str:
        """A ``source.*`` event, written in the caller's (the pass's) transaction."""
        return self._event(
            conn,
            kind,
            now,
            [],
            source={
                "id": state.id,
                "url": state.url,
                "health": state.health,
                "reason": reason,
                "last_error": state.last_error,
                "failures": state.failures,
                "last_success": _iso(state.last_success_at),
            },
        )

    # -- the identity contract ---------------------------------------------------------------

    def apply(
        self,
        source_id: str | None,
        items: Sequence[Article],
        *,
        now: datetime,
        suppress: frozenset[str] = frozenset(),
        validators: Sequence[tuple[str, str | None, str | None, int | None]] = (),
        priority: Mapping[str, int] | None = None,
        conn: Connection | None = None,
    ) -> ChangeSet:
        """Store what a pass found, in one transaction (or in ``conn``'s).

        Per article: same key and hash → unchanged; same key, new hash → updated (a revision,
        ``updated`` moves, the entry id stays); new key with a stored hash → duplicate (another
        location of the stored article); otherwise created, clustered with a near-duplicate if
        one is stored. Region memberships and change events are written alongside.
        ``validators`` (url, etag, last_modified, status) are saved in the same transaction.
        ``priority`` ranks sources (lower first): a copy of a stored story from a source that
        ranks before the one stored becomes the entry's address (same entry id), so the outcome
        does not depend on which source happened to run first.

        Passes store one after another (on PostgreSQL a transaction-level advisory lock, on
        SQLite its write lock, taken first): deciding that an article is new, a duplicate or a
        near-duplicate, and numbering region entries, reads what every pass before stored,
        whether the passes run in threads of one process or in workers on several machines.
        """
        if conn is None:
            with self.transaction() as c:
                return self.apply(
                    source_id,
                    items,
                    now=now,
                    suppress=suppress,
                    validators=validators,
                    priority=priority,
                    conn=c,
                )
        _exclusive(conn, WRITE_LOCK)
        result = ChangeSet()
        if not items and not validators:
            return result
        unit = _Unit(self, conn)
        n = 0
        for chunk in _chunks(items, APPLY_BATCH):
            unit.prefetch(chunk)
            for item in chunk:
                # Each article of a pass gets its own instant, a microsecond after the one
                # before: feed order is document order, no two entries of a pass share one.
                at = now + timedelta(microseconds=n)
                n += 1
                result.changes.append(
                    self._apply_batched(unit, source_id, item, at, suppress, result, priority)
                )
        unit.flush()
        self._save_validators_many(conn, source_id or "", validators, now)
        return result

    def _apply_batched(
        self,
        unit: _Unit,
        source_id: str | None,
        item: Article,
        now: datetime,
        suppress: frozenset[str],
        result: ChangeSet,
        priority: Mapping[str, int] | None,
    ) -> Change:
        """One article, decided as :meth:`_apply_one` decides, on what ``unit`` read for the
        batch: an article unchanged, a duplicate of a stored text and a new article are done
        there; the rest (a revision, a take-over, a promotion, a copy of a located article) by
        :meth:`_apply_one` itself, after the unit wrote what it holds."""
        row = unit.row_by_key(item.key)
        same = located = None
        if row is not None:
            if not _outranks(priority, source_id, row.source_id) and (
                row.content_hash == item.content_hash or (row.complete and not item.complete)
            ):
                unit.locate_fetched(row.id, item, source_id, now)
                regions = unit.join_regions(row.id, item.regions, now, suppress, row.cluster_id)
                result.regions.update(regions)
                if row.content_hash == item.content_hash:
                    return Change("unchanged", item.url, row.entry_id, item.key, tuple(regions))
                return Change(
                    "unchanged",
                    item.url,
                    row.entry_id,
                    item.key,
                    tuple(regions),
                    "a summary of the stored article",
                )
        else:
            located = unit.location(item.key)
            same = unit.first_with_hash(item.content_hash)
            if same is not None and not _outranks(priority, source_id, same.source_id):
                reason = f"same content hash as {same.key}"
                unit.locate(same.id, item.key, source_id, "duplicate", reason, now)
                unit.locate_fetched(same.id, item, source_id, now)
                regions = unit.join_regions(same.id, item.regions, now, suppress, same.cluster_id)
                result.regions.update(regions)
                return Change(
                    "duplicate", item.url, same.entry_id, item.key, tuple(regions), reason
                )
            if same is None and located is None:
                return unit.create(source_id, item, now, suppress, result)
        involved = {r.id for r in (row, same) if r is not None}
        if located is not None:
            involved.add(located[0])
        unit.flush()
        change = self._apply_one(unit.conn, source_id, item, now, suppress, result, priority)
        stored = unit.conn.execute(
            sa.select(articles.c.id).where(articles.c.key == item.key)
        ).scalar()
        if stored is not None:
            involved.add(int(stored))
        fetched = _fetched_location(item)
        unit.forget(
            involved,
            [item.key, *([fetched] if fetched else []), *(r.key for r in (row, same) if r)],
            [item.content_hash, *(r.content_hash for r in (row, same) if r)],
        )
        return change

    def _apply_one(
        self,
        conn: Connection,
        source_id: str | None,
        item: Article,
        now: datetime,
        suppress: frozenset[str],
        result: ChangeSet,
        priority: Mapping[str, int] | None = None,
    ) -> Change:
        row = conn.execute(sa.select(articles).where(articles.c.key == item.key)).first()
        if row is not None:
            if _outranks(priority, source_id, row.source_id):
                self._take_over(conn, source_id, row, item, now)
            return self._revisit(conn, source_id, row, item, now, suppress, result)
        located = conn.execute(
            sa.select(locations.c.article_id, locations.c.relation).where(
                locations.c.url == item.key
            )
        ).first()
        same = conn.execute(
            sa.select(articles)
            .where(articles.c.content_hash == item.content_hash)
            .order_by(articles.c.id)
            .limit(1)
        ).first()
        if same is None and located is not None:
            original = conn.execute(
                sa.select(articles).where(articles.c.id == located.article_id)
            ).first()
            if (
                original is not None
                and fingerprint.similarity(original.similarity, item.similarity)
                >= fingerprint.NEAR_DUPLICATE
            ):
                same = original
        if (
            same is not None
            and _outranks(priority, source_id, same.source_id)
            and (same.content_hash == item.content_hash)
        ):
            return self._promote(conn, source_id, same, item, now, suppress, result)
        if same is not None:
            reason = (
                f"same content hash as {same.key}"
                if same.content_hash == item.content_hash
                else f"a lightly edited copy of {same.key}"
            )
            self._locate(conn, same.id, item.key, source_id, "duplicate", reason, now)
            self._locate_fetched(conn, same.id, item, source_id, now)
            regions = self._join_regions(
                conn, same.id, item.regions, now, suppress, same.cluster_id
            )
            result.regions.update(regions)
            return Change("duplicate", item.url, same.entry_id, item.key, tuple(regions), reason)
        return self._create(conn, source_id, item, now, suppress, result)

    def _take_over(
        self, conn: Connection, source_id: str | None, row: Any, item: Article, now: datetime
    ) -> None:
        """The same address from a source that ranks before the one that stored it: the story
        is now that source's, and (when it is the same text, and not a summary of a stored full
        text) so is its metadata, as if this copy had been stored first: the outcome does not
        depend on which source a worker happened to run first. Its feeds are re-rendered; a
        different text is then a revision, as from any source."""
        values: dict[str, Any] = {"source_id": source_id}
        if item.content_hash == row.content_hash and (item.complete or not row.complete):
            values.update(self._article_values(item))
            if row.revision == 0:
                published = item.published or utc(row.published_at) or now
                values["updated_at"] = max(item.updated or published, published)
        conn.execute(sa.update(articles).where(articles.c.id == row.id).values(values))
        conn.execute(
            sa.update(locations)
            .where(locations.c.url == row.key, locations.c.article_id == row.id)
            .values(source_id=source_id)
        )
        for region in self._regions_of(conn, row.id):
            self._region_change(conn, region, row.id, "updated", now)

    def _promote(
        self,
        conn: Connection,
        source_id: str | None,
        row: Any,
        item: Article,
        now: datetime,
        suppress: frozenset[str],
        result: ChangeSet,
    ) -> Change:
        """The same story from a source that ranks first: its copy becomes the entry's address
        and metadata (the entry id, dates of the entry and revisions stay); the stored copy
        becomes a duplicate location."""
        values = self._article_values(item)
        values.update(key=item.key, source_id=source_id)
        if item.published is None:
            values.pop("published_at", None)
        conn.execute(sa.update(articles).where(articles.c.id == row.id).values(values))
        reason = f"same content hash as {item.key}, from a source that ranks first"
        conn.execute(
            sa.update(locations)
            .where(locations.c.url == row.key)
            .values(relation="duplicate", reason=reason)
        )
        own = "the article's own address (its source ranks first)"
        moved = conn.execute(
            sa.update(locations)
            .where(locations.c.url == item.key)
            .values(article_id=row.id, relation="self", reason=own, source_id=source_id)
        )
        if not moved.rowcount:
            self._locate(conn, row.id, item.key, source_id, "self", own, now)
        self._locate_fetched(conn, row.id, item, source_id, now)
        joined = self._join_regions(conn, row.id, item.regions, now, suppress, row.cluster_id)
        for region in self._regions_of(conn, row.id):
            if region not in joined:
                self._region_change(conn, region, row.id, "updated", now)
        members = self._regions_of(conn, row.id)
        result.regions.update(members)
        return Change(
            "duplicate",
            item.url,
            row.entry_id,
            item.key,
            tuple(members),
            f"the story stored from {row.key}; this copy's source ranks first, so its address "
            "is now the entry's",
        )

    def _create(
        self,
        conn: Connection,
        source_id: str | None,
        item: Article,
        now: datetime,
        suppress: frozenset[str],
        result: ChangeSet,
    ) -> Change:
        cluster_id, near = self._near_duplicate(conn, item)
        entry_id = entry_id_for(item.key, self.host, item.published, now)
        published = item.published or now
        values = self._article_values(item)
        values.update(
            entry_id=entry_id,
            key=item.key,
            source_id=source_id,
            published_at=published,
            dated=item.published is not None,
            updated_at=max(item.updated or published, published),
            first_seen_at=now,
            revision=0,
            cluster_id=cluster_id,
        )
        inserted = conn.execute(sa.insert(articles), values).inserted_primary_key
        assert inserted is not None
        article_id = int(inserted[0])
        if cluster_id is None:
            conn.execute(
                sa.update(articles).where(articles.c.id == article_id).values(cluster_id=article_id)
            )
            cluster_id = article_id
        self._locate(
            conn, article_id, item.key, source_id, "self", "the article's own address", now
        )
        self._locate_fetched(conn, article_id, item, source_id, now)
        self._join_all(conn, article_id, now)
        regions = self._join_regions(
            conn, article_id, item.regions, now, suppress, cluster_id, near=near is not None
        )
        result.regions.update(regions)
        self._event(
            conn,
            "article.created",
            now,
            regions,
            article=self._article_payload(conn, article_id),
            changes={"content_hash": item.content_hash, "near_duplicate_of": near},
        )
        reason = f"new; a near-duplicate of {near}" if near else "new"
        return Change("created", item.url, entry_id, item.key, tuple(regions), reason)

    def _revisit(
        self,
        conn: Connection,
        source_id: str | None,
        row: Any,
        item: Article,
        now: datetime,
        suppress: frozenset[str],
        result: ChangeSet,
    ) -> Change:
        self._locate_fetched(conn, row.id, item, source_id, now)
        regions = self._join_regions(conn, row.id, item.regions, now, suppress, row.cluster_id)
        result.regions.update(regions)
        if row.content_hash == item.content_hash:
            return Change("unchanged", item.url, row.entry_id, item.key, tuple(regions))
        if row.complete and not item.complete:
            # A feed summary never replaces the full text stored from the page.
            return Change(
                "unchanged",
                item.url,
                row.entry_id,
                item.key,
                tuple(regions),
                "a summary of the stored article",
            )
        previous = json.loads(row.paragraphs)
        revision = row.revision + 1
        updated_at = utc(row.updated_at) or now
        stated = item.updated
        updated_at = stated if stated and stated > updated_at else max(now, updated_at)
        conn.execute(
            sa.insert(revisions),
            {
                "article_id": row.id,
                "revision": revision,
                "revised_at": now,
                "previous_hash": row.content_hash,
                "new_hash": item.content_hash,
                "previous_title": row.title,
                "diff": text_diff([row.title, *previous], [item.title, *item.paragraphs]),
                "source_id": source_id,
            },
        )
        values = self._article_values(item)
        values.update(revision=revision, updated_at=updated_at, removed_at=None)
        if item.published is None:
            values.pop("published_at", None)
        conn.execute(sa.update(articles).where(articles.c.id == row.id).values(values))
        members = self._regions_of(conn, row.id)
        for region in members:
            self._region_change(conn, region, row.id, "updated", now)
        result.regions.update(members)
        self._event(
            conn,
            "article.updated",
            now,
            members,
            article=self._article_payload(conn, row.id),
            changes={
                "previous_hash": row.content_hash,
                "content_hash": item.content_hash,
                "revision": revision,
                "diff": text_diff([row.title, *previous], [item.title, *item.paragraphs]),
            },
        )
        return Change(
            "updated", item.url, row.entry_id, item.key, tuple(members), f"revision {revision}"
        )

    @staticmethod
    def _article_values(item: Article) -> dict[str, Any]:
        sig = item.similarity
        b0, b1, b2, b3 = _bands(sig)
        values: dict[str, Any] = {
            "url": item.url,
            "title": item.title,
            "subtitle": item.subtitle,
            "summary": item.summary,
            "section": item.section,
            "categories": _dumps(list(item.categories)),
            "authors": _dumps(list(item.authors)),
            "dateline": item.dateline,
            "language": item.language,
            "content_hash": item.content_hash,
            "similarity": sig,
            "band0": b0,
            "band1": b1,
            "band2": b2,
            "band3": b3,
            "paragraphs": _dumps(list(item.paragraphs)),
            "content_html": item.content_html,
            "images": _dumps([i.to_json() for i in item.images]),
            "fetched_url": item.fetched_url,
            "guid": item.guid,
            "method": item.method,
            "complete": item.complete,
        }
        if item.published is not None:
            values["published_at"] = item.published
            values["dated"] = True
        return values

    def _near_duplicate(self, conn: Connection, item: Article) -> tuple[int | None, str | None]:
        bands = _bands(item.similarity)
        condition = sa.or_(*(articles.c[f"band{i}"] == bands[i] for i in range(4)))
        best: tuple[float, Any] | None = None
        for row in conn.execute(
            sa.select(articles.c.id, articles.c.key, articles.c.similarity, articles.c.cluster_id)
            .where(condition)
            .limit(200)
        ):
            score = fingerprint.similarity(row.similarity, item.similarity)
            if score >= fingerprint.NEAR_DUPLICATE and (best is None or score > best[0]):
                best = (score, row)
        if best is None:
            return None, None
        return best[1].cluster_id or best[1].id, best[1].key

    def _locate(
        self,
        conn: Connection,
        article_id: int,
        url: str,
        source_id: str | None,
        relation: str,
        reason: str,
        now: datetime,
    ) -> None:
        exists = conn.execute(sa.select(locations.c.id).where(locations.c.url == url)).first()
        if exists is None:
            conn.execute(
                sa.insert(locations),
                {
                    "article_id": article_id,
                    "url": url,
                    "source_id": source_id,
                    "relation": relation,
                    "reason": reason,
                    "first_seen_at": now,
                },
            )

    def _locate_fetched(
        self, conn: Connection, article_id: int, item: Article, source_id: str | None, now: datetime
    ) -> None:
        from syndicator.normalize import canonical_url

        fetched = item.fetched_url
        if not fetched or urlsplit(fetched).scheme not in ("http", "https", "file"):
            return
        if urlsplit(item.key).scheme not in ("http", "https", "file"):
            return  # keyed by GUID or by text: several articles share the document they came in
        fetched = canonical_url(fetched)
        if fetched != item.key:
            self._locate(
                conn,
                article_id,
                fetched,
                source_id,
                "alternate",
                f"fetched there; names {item.key} as its canonical address",
                now,
            )

    def _regions_of(self, conn: Connection, article_id: int) -> list[str]:
        return list(
            conn.execute(
                sa.select(region_entries.c.region)
                .where(region_entries.c.article_id == article_id, region_entries.c.region != ALL)
                .order_by(region_entries.c.region)
            ).scalars()
        )

    def _join_all(self, conn: Connection, article_id: int, now: datetime) -> None:
        """Every article is in ``all`` too, with its own sequence number (for its archives)."""
        seq = (
            conn.execute(
                sa.select(sa.func.max(region_entries.c.seq)).where(region_entries.c.region == ALL)
            ).scalar()
            or 0
        ) + 1
        conn.execute(
            sa.insert(region_entries),
            {
                "region": ALL,
                "article_id": article_id,
                "seq": seq,
                "added_at": now,
                "reasons": "[]",
                "suppressed": False,
            },
        )

    def _join_regions(
        self,
        conn: Connection,
        article_id: int,
        matches: Sequence[RegionMatch],
        now: datetime,
        suppress: frozenset[str],
        cluster_id: int | None,
        near: bool = False,
    ) -> list[str]:
        """Add the article to the regions its rules name; returns the regions newly joined."""
        wanted: dict[str, list[str]] = {}
        for m in matches:
            wanted.setdefault(m.region, []).append(str(m))
        joined = []
        have = set(self._regions_of(conn, article_id))
        for region, reasons in wanted.items():
            if region in have:
                continue
            suppressed = False
            if near and region in suppress and cluster_id is not None:
                suppressed = self._cluster_shown(conn, region, cluster_id)
            seq = (
                conn.execute(
                    sa.select(sa.func.max(region_entries.c.seq)).where(
                        region_entries.c.region == region
                    )
                ).scalar()
                or 0
            ) + 1
            conn.execute(
                sa.insert(region_entries),
                {
                    "region": region,
                    "article_id": article_id,
                    "seq": seq,
                    "added_at": now,
                    "reasons": _dumps(reasons),
                    "suppressed": suppressed,
                },
            )
            if not suppressed:
                self._region_change(conn, region, article_id, "created", now)
                joined.append(region)
        return joined

    @staticmethod
    def _cluster_shown(conn: Connection, region: str, cluster_id: int) -> bool:
        """Whether a region already shows an article of this near-duplicate cluster."""
        shown = conn.execute(
            sa.select(sa.func.count())
            .select_from(
                region_entries.join(articles, articles.c.id == region_entries.c.article_id)
            )
            .where(
                region_entries.c.region == region,
                articles.c.cluster_id == cluster_id,
                region_entries.c.suppressed.is_(False),
            )
        ).scalar_one()
        return bool(shown > 0)

    @staticmethod
    def _region_change(
        conn: Connection, region: str, article_id: int, change: str, now: datetime
    ) -> None:
        conn.execute(
            sa.insert(region_changes),
            {
                "region": region,
                "article_id": article_id,
                "change": change,
                "at": now,
                "published": False,
            },
        )

    def _event(
        self, conn: Connection, kind: str, now: datetime, regions: Iterable[str], **payload: Any
    ) -> str:
        event_id = str(uuid.uuid4())
        region_list = sorted(set(regions))
        body = {
            "id": event_id,
            "type": kind,
            "occurred_at": now.isoformat().replace("+00:00", "Z"),
            "regions": region_list,
            **payload,
        }
        body.setdefault("changes", {})
        conn.execute(
            sa.insert(outbox),
            {
                "event_id": event_id,
                "type": kind,
                "occurred_at": now,
                "regions": _dumps(region_list),
                "body": _dumps(body),
            },
        )
        return event_id

    def add_event(self, kind: str, now: datetime, regions: Iterable[str], **payload: Any) -> str:
        with self.transaction() as conn:
            return self._event(conn, kind, now, regions, **payload)

    def _article_payload(self, conn: Connection, article_id: int) -> dict[str, Any]:
        return _payload(conn.execute(sa.select(articles).where(articles.c.id == article_id)).one())

    # -- reading, for the publisher, the API and explain ----------------------------------------

    def entries(self, region: str, limit: int | None = None) -> list[Entry]:
        """A region's entries (``all`` for every article), newest ``updated`` first."""
        query = sa.select(articles).where(articles.c.removed_at.is_(None))
        if region != "all":
            query = query.join(region_entries, region_entries.c.article_id == articles.c.id).where(
                region_entries.c.region == region, region_entries.c.suppressed.is_(False)
            )
        query = query.order_by(articles.c.updated_at.desc(), articles.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            regions = self._regions_by_article(conn, [r.id for r in rows])
        return [self._entry(r, regions.get(r.id, ())) for r in rows]

    def archive(self, region: str, page: int, size: int) -> list[Entry]:
        """Page ``page`` (1 = oldest) of a region's entries in the order they joined it."""
        lo, hi = (page - 1) * size + 1, page * size
        query = (
            sa.select(articles)
            .where(articles.c.removed_at.is_(None))
            .join(region_entries, region_entries.c.article_id == articles.c.id)
            .where(
                region_entries.c.region == region,
                region_entries.c.seq.between(lo, hi),
                region_entries.c.suppressed.is_(False),
            )
            .order_by(region_entries.c.seq)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            regions = self._regions_by_article(conn, [r.id for r in rows])
        return [self._entry(r, regions.get(r.id, ())) for r in rows]

    def region_count(self, region: str) -> int:
        """How many entries a region shows now (removed and suppressed ones left out)."""
        query = (
            sa.select(sa.func.count())
            .select_from(region_entries)
            .join(articles, articles.c.id == region_entries.c.article_id)
            .where(
                region_entries.c.region == region,
                region_entries.c.suppressed.is_(False),
                articles.c.removed_at.is_(None),
            )
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def region_size(self, region: str) -> int:
        """How many entries a region has ever had (the highest sequence number)."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.max(region_entries.c.seq)).where(
                        region_entries.c.region == region
                    )
                ).scalar()
                or 0
            )

    def region_created(self, region: str, now: datetime) -> datetime:
        """When a region was first published: recorded the first time it is asked (``now``),
        the same answer ever after (an empty feed's ``updated``: a fixed, plausible date)."""
        key = f"region_created:{region}"[:64]
        try:
            with self.transaction() as conn:
                stored = conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar()
                if stored is None:
                    conn.execute(sa.insert(meta).values(key=key, value=_as_utc(now).isoformat()))
                    return _as_utc(now)
        except sa.exc.IntegrityError:  # another process recorded it first: take theirs
            with self.engine.connect() as conn:
                stored = conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar()
        except SQLAlchemyError as e:
            raise StoreError(f"cannot record when region {region} was created: {e}") from e
        return _as_utc(datetime.fromisoformat(str(stored)))

    @staticmethod
    def _regions_by_article(conn: Connection, ids: list[int]) -> dict[int, tuple[str, ...]]:
        out: dict[int, list[str]] = {}
        for chunk in _chunks(ids, 500):
            for article_id, region in conn.execute(
                sa.select(region_entries.c.article_id, region_entries.c.region)
                .where(region_entries.c.article_id.in_(chunk), region_entries.c.region != ALL)
                .order_by(region_entries.c.region)
            ):
                out.setdefault(article_id, []).append(region)
        return {k: tuple(v) for k, v in out.items()}

    @staticmethod
    def _entry(row: Any, regions: Sequence[str]) -> Entry:
        article = Article(
            key=row.key,
            url=row.url,
            title=row.title,
            paragraphs=tuple(json.loads(row.paragraphs)),
            content_html=row.content_html,
            content_hash=row.content_hash,
            similarity=row.similarity,
            subtitle=row.subtitle,
            summary=row.summary,
            section=row.section,
            categories=tuple(json.loads(row.categories)),
            authors=tuple(json.loads(row.authors)),
            dateline=row.dateline,
            language=row.language,
            published=utc(row.published_at) if row.dated else None,
            updated=utc(row.updated_at),
            images=tuple(Image(**i) for i in json.loads(row.images)),
            fetched_url=row.fetched_url,
            guid=row.guid,
            method=row.method or "",
            regions=tuple(RegionMatch(r, "stored", "") for r in regions),
        )
        published = utc(row.published_at)
        updated = utc(row.updated_at)
        assert published is not None and updated is not None
        return Entry(
            id=row.entry_id,
            article=article,
            published=published,
            updated=updated,
            origin=None,
            seq=row.id,
            deleted=row.removed_at is not None,
            dated=bool(row.dated),
        )

    def source_of(self, entry_id: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(articles.c.source_id).where(articles.c.entry_id == entry_id)
            ).scalar()

    def sources_of(self, entry_ids: Sequence[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(entry_ids), 500):
                for entry_id, source_id in conn.execute(
                    sa.select(articles.c.entry_id, articles.c.source_id).where(
                        articles.c.entry_id.in_(chunk)
                    )
                ):
                    out[entry_id] = source_id
        return out

    def pending_changes(self) -> list[PendingChanges]:
        """Region changes not yet announced by a ``feed.updated`` event, per region."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    region_changes.c.id,
                    region_changes.c.region,
                    region_changes.c.change,
                    articles.c.entry_id,
                )
                .join(articles, articles.c.id == region_changes.c.article_id)
                .where(region_changes.c.published.is_(False))
                .order_by(region_changes.c.region, region_changes.c.id)
            ).all()
        grouped: dict[str, dict[str, list[str]]] = {}
        upto: dict[str, int] = {}
        for row in rows:
            changes = grouped.setdefault(row.region, {"created": [], "updated": [], "removed": []})
            target = changes.setdefault(row.change, [])
            if row.entry_id not in target:
                target.append(row.entry_id)
            upto[row.region] = max(upto.get(row.region, 0), row.id)
        return [
            PendingChanges(
                region,
                tuple(c["created"]),
                tuple(e for e in c["updated"] if e not in c["created"]),
                upto[region],
                tuple(c["removed"]),
            )
            for region, c in grouped.items()
        ]

    def has_unannounced_changes(self) -> bool:
        """Are there region changes not yet published and announced (a cheap look)?"""
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    sa.select(region_changes.c.id)
                    .where(region_changes.c.published.is_(False))
                    .limit(1)
                ).first()
                is not None
            )

    def announce(self, pending: PendingChanges, now: datetime, feed: dict[str, Any]) -> str:
        """Write the region's ``feed.updated`` event and mark its changes announced, atomically."""
        with self.transaction() as conn:
            event_id = self._event(
                conn,
                "feed.updated",
                now,
                [pending.region],
                feed=feed,
                changes={
                    "created": list(pending.created),
                    "updated": list(pending.updated),
                    "removed": list(pending.removed),
                },
            )
            conn.execute(
                sa.update(region_changes)
                .where(
                    region_changes.c.region == pending.region,
                    region_changes.c.id <= pending.upto,
                    region_changes.c.published.is_(False),
                )
                .values(published=True)
            )
        return event_id

    def events(self, since_id: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(outbox.c.id, outbox.c.body)
                .where(outbox.c.id > since_id)
                .order_by(outbox.c.id)
                .limit(limit)
            ).all()
        return [{"seq": r.id, **json.loads(r.body)} for r in rows]

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)
                for name, table in (
                    ("articles", articles),
                    ("revisions", revisions),
                    ("locations", locations),
                    ("outbox", outbox),
                    ("region_entries", region_entries),
                )
            }

    def updated_since(
        self, region: str, since: datetime | None = None, limit: int = 50
    ) -> list[Entry]:
        """A region's entries (``all`` for every article) whose ``updated`` is at or after
        ``since`` (every entry when None), newest ``updated`` first, at most ``limit`` (the API)."""
        query = sa.select(articles).where(articles.c.removed_at.is_(None))
        if region != ALL:
            query = query.join(region_entries, region_entries.c.article_id == articles.c.id).where(
                region_entries.c.region == region, region_entries.c.suppressed.is_(False)
            )
        if since is not None:
            query = query.where(articles.c.updated_at >= _as_utc(since))
        query = query.order_by(articles.c.updated_at.desc(), articles.c.id.desc()).limit(limit)
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
                regions = self._regions_by_article(conn, [r.id for r in rows])
        except SQLAlchemyError as e:
            raise StoreError(f"cannot read the entries of {region}: {e}") from e
        return [self._entry(r, regions.get(r.id, ())) for r in rows]

    def daily_region_counts(self, first_day: datetime, days: int) -> dict[str, list[int]]:
        """How many of each region's entries (``all``, removed entries and suppressed
        near-duplicates left out) were published on each of ``days`` days of 24 hours from
        ``first_day`` — by the article's publication date, not the day it was stored (a first
        pass over a week of stories puts each on its own day): region → counts, oldest day first.
        Regions with no entry in the window are absent (the status page's chart)."""
        if days < 1:
            raise ValueError("days must be at least 1")
        start = _as_utc(first_day)
        bounds = [start + timedelta(days=n) for n in range(1, days + 1)]
        added = articles.c.published_at
        # The day number as a CASE over the bounds: plain comparisons, the same on every database.
        day: Any = (
            sa.case(
                *(
                    (added < bound, sa.literal_column(str(n)))
                    for n, bound in enumerate(bounds[:-1])
                ),
                else_=sa.literal_column(str(days - 1)),
            )
            if days > 1
            else sa.literal_column("0")
        )
        joined = (
            sa.select(region_entries.c.region, day.label("day"))
            .join(articles, articles.c.id == region_entries.c.article_id)
            .where(
                articles.c.removed_at.is_(None),
                added >= start,
                added < bounds[-1],
                region_entries.c.region != ALL,
                region_entries.c.suppressed.is_(False),
            )
            .subquery()
        )
        query = sa.select(joined.c.region, joined.c.day, sa.func.count()).group_by(
            joined.c.region, joined.c.day
        )
        out: dict[str, list[int]] = {}
        try:
            with self.engine.connect() as conn:
                for region, n, count in conn.execute(query):
                    out.setdefault(region, [0] * days)[int(n)] = int(count)
        except SQLAlchemyError as e:
            raise StoreError(f"cannot count the entries per region and day: {e}") from e
        return out

    def explain(self, ref: str) -> dict[str, Any] | None:
        """Everything about one article, found by entry id, key or any URL it was seen at."""
        from syndicator.normalize import canonical_url

        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(articles).where(sa.or_(articles.c.entry_id == ref, articles.c.key == ref))
            ).first()
            via = None
            if row is None:
                try:
                    url = canonical_url(ref)
                except ValueError:
                    url = ref
                loc = conn.execute(
                    sa.select(locations).where(locations.c.url.in_([ref, url]))
                ).first()
                if loc is not None:
                    via = {
                        "url": loc.url,
                        "relation": loc.relation,
                        "reason": loc.reason,
                        "source": loc.source_id,
                    }
                    row = conn.execute(
                        sa.select(articles).where(articles.c.id == loc.article_id)
                    ).first()
            if row is None:
                return None
            locs = conn.execute(
                sa.select(locations)
                .where(locations.c.article_id == row.id)
                .order_by(locations.c.id)
            ).all()
            revs = conn.execute(
                sa.select(revisions)
                .where(revisions.c.article_id == row.id)
                .order_by(revisions.c.revision)
            ).all()
            members = conn.execute(
                sa.select(region_entries)
                .where(region_entries.c.article_id == row.id, region_entries.c.region != ALL)
                .order_by(region_entries.c.region)
            ).all()
            cluster = conn.execute(
                sa.select(articles.c.entry_id, articles.c.key).where(
                    articles.c.cluster_id == row.cluster_id, articles.c.id != row.id
                )
            ).all()
        return {
            "query": ref,
            "found_via": via,
            "id": row.entry_id,
            "key": row.key,
            "url": row.url,
            "title": row.title,
            "source": row.source_id,
            "content_hash": row.content_hash,
            "similarity": row.similarity,
            "published": _iso(row.published_at) if row.dated else None,
            "updated": _iso(row.updated_at),
            "first_seen": _iso(row.first_seen_at),
            "revision": row.revision,
            "removed": _iso(row.removed_at),
            "locations": [
                {
                    "url": loc.url,
                    "relation": loc.relation,
                    "reason": loc.reason,
                    "source": loc.source_id,
                    "first_seen": _iso(loc.first_seen_at),
                }
                for loc in locs
            ],
            "revisions": [
                {
                    "revision": r.revision,
                    "at": _iso(r.revised_at),
                    "previous_hash": r.previous_hash,
                    "new_hash": r.new_hash,
                    "diff": r.diff,
                }
                for r in revs
            ],
            "regions": [
                {
                    "region": m.region,
                    "reasons": json.loads(m.reasons),
                    "suppressed": m.suppressed,
                    "joined": _iso(m.added_at),
                }
                for m in members
            ],
            "near_duplicates": [{"id": c.entry_id, "key": c.key} for c in cluster],
        }

    # -- notifications: fan-out, deliveries, WebSub subscriptions -----------------------------

    def outbox_cursor(self) -> int:
        """The last outbox event already fanned out into deliveries."""
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(meta.c.value).where(meta.c.key == "outbox_fanned_out")
            ).scalar()
        return int(value) if value else 0

    def events_after(self, seq: int, limit: int = 500) -> list[OutboxEvent]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(outbox).where(outbox.c.id > seq).order_by(outbox.c.id).limit(limit)
            ).all()
        return [
            OutboxEvent(r.id, r.event_id, r.type, tuple(json.loads(r.regions)), r.body)
            for r in rows
        ]

    def enqueue(self, upto: int, items: Sequence[tuple[OutboxEvent, str]], now: datetime) -> None:
        """Create a delivery per (event, target) and move the fan-out cursor, atomically."""
        with self.transaction() as conn:
            for event, target in items:
                exists = conn.execute(
                    sa.select(deliveries.c.id).where(
                        deliveries.c.event_id == event.event_id, deliveries.c.target == target
                    )
                ).first()
                if exists is None:
                    conn.execute(
                        sa.insert(deliveries).values(
                            event_seq=event.seq,
                            event_id=event.event_id,
                            target=target,
                            status="pending",
                            attempts=0,
                            next_attempt_at=now,
                            created_at=now,
                        )
                    )
            self._set_meta(conn, "outbox_fanned_out", str(upto))

    def due_deliveries(self, now: datetime, limit: int = 100) -> list[Delivery]:
        """The oldest pending delivery of each target, if it is due: one target's events go
        out in order, and a target that is failing does not hold the others back."""
        heads = (
            sa.select(deliveries.c.target, sa.func.min(deliveries.c.id).label("head"))
            .where(deliveries.c.status == "pending")
            .group_by(deliveries.c.target)
            .subquery()
        )
        query = (
            sa.select(deliveries, outbox.c.body, outbox.c.type)
            .join(heads, heads.c.head == deliveries.c.id)
            .join(outbox, outbox.c.id == deliveries.c.event_seq)
            .where(deliveries.c.next_attempt_at <= now)
            .order_by(deliveries.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            Delivery(r.id, r.event_seq, r.event_id, r.type, r.target, r.attempts, r.body)
            for r in rows
        ]

    def notifications_due(self, now: datetime) -> bool:
        """Is there anything for the dispatcher to do now: events not yet fanned out, or a
        pending delivery whose attempt is due?"""
        with self.engine.connect() as conn:
            cursor = conn.execute(
                sa.select(meta.c.value).where(meta.c.key == "outbox_fanned_out")
            ).scalar()
            newest = conn.execute(sa.select(sa.func.max(outbox.c.id))).scalar()
            if newest is not None and int(newest) > int(cursor or 0):
                return True
            due = conn.execute(
                sa.select(deliveries.c.id)
                .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now)
                .limit(1)
            ).first()
        return due is not None

    def next_delivery_at(self) -> datetime | None:
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(sa.func.min(deliveries.c.next_attempt_at)).where(
                    deliveries.c.status == "pending"
                )
            ).scalar()
        return utc(value)

    def delivered(self, delivery_id: int, now: datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(
                    status="delivered",
                    attempts=deliveries.c.attempts + 1,
                    delivered_at=now,
                    last_error=None,
                )
            )

    def failed(self, delivery_id: int, error: str, retry_at: datetime | None) -> None:
        """A failed attempt: retried at ``retry_at``, or dead-lettered when that is None."""
        with self.transaction() as conn:
            conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(
                    status="pending" if retry_at is not None else "dead",
                    attempts=deliveries.c.attempts + 1,
                    last_error=error[:1000],
                    **({"next_attempt_at": retry_at} if retry_at is not None else {}),
                )
            )

    def delivery_summary(self) -> list[dict[str, Any]]:
        """Per target: deliveries by status, the last error, and the dead letters' event ids."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(deliveries.c.target, deliveries.c.status, sa.func.count()).group_by(
                    deliveries.c.target, deliveries.c.status
                )
            ).all()
            dead = conn.execute(
                sa.select(deliveries.c.target, deliveries.c.event_id, deliveries.c.last_error)
                .where(deliveries.c.status == "dead")
                .order_by(deliveries.c.id)
            ).all()
            errors = conn.execute(
                sa.select(deliveries.c.target, deliveries.c.last_error)
                .where(deliveries.c.last_error.is_not(None))
                .order_by(deliveries.c.id)
            ).all()
        out: dict[str, dict[str, Any]] = {}
        for target, status, count in rows:
            row = out.setdefault(
                target,
                {
                    "target": target,
                    "pending": 0,
                    "delivered": 0,
                    "dead": 0,
                    "dead_events": [],
                    "last_error": None,
                },
            )
            row[status] = count
        for target, event_id, _ in dead:
            out[target]["dead_events"].append(event_id)
        for target, error in errors:
            out[target]["last_error"] = error
        return [out[k] for k in sorted(out)]

    def pending_deliveries(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(deliveries)
                    .where(deliveries.c.status == "pending")
                ).scalar()
                or 0
            )

    def subscribe(
        self, topic: str, callback: str, secret: str | None, lease_seconds: int, now: datetime
    ) -> None:
        values = {
            "secret": secret,
            "lease_seconds": lease_seconds,
            "expires_at": now + timedelta(seconds=lease_seconds),
            "verified_at": now,
        }
        with self.transaction() as conn:
            updated = conn.execute(
                sa.update(subscriptions)
                .where(subscriptions.c.topic == topic, subscriptions.c.callback == callback)
                .values(values)
            )
            if not updated.rowcount:
                conn.execute(
                    sa.insert(subscriptions).values(
                        topic=topic, callback=callback, created_at=now, **values
                    )
                )

    def unsubscribe(self, topic: str, callback: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                sa.delete(subscriptions).where(
                    subscriptions.c.topic == topic, subscriptions.c.callback == callback
                )
            )

    def subscribers(self, topics: Sequence[str], now: datetime) -> list[Subscription]:
        """Live subscriptions to any of these topics (expired leases are left out)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(subscriptions)
                .where(subscriptions.c.topic.in_(list(topics)), subscriptions.c.expires_at > now)
                .order_by(subscriptions.c.id)
            ).all()
        return [
            Subscription(r.id, r.topic, r.callback, r.secret, utc(r.expires_at) or now)
            for r in rows
        ]

    def subscription(self, subscription_id: int) -> Subscription | None:
        with self.engine.connect() as conn:
            r = conn.execute(
                sa.select(subscriptions).where(subscriptions.c.id == subscription_id)
            ).first()
        if r is None:
            return None
        return Subscription(r.id, r.topic, r.callback, r.secret, utc(r.expires_at) or r.expires_at)

    def expire_subscriptions(self, now: datetime) -> int:
        with self.transaction() as conn:
            return int(
                conn.execute(
                    sa.delete(subscriptions).where(subscriptions.c.expires_at <= now)
                ).rowcount
                or 0
            )

    def count_subscriptions(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(subscriptions)).scalar() or 0
            )

    # -- problems the scaled mode's processes report, for the web nodes to show ------------

    def set_problem(self, key: str, problem: str | None) -> None:
        """Record (None: clear) a problem of one process of the scaled mode, such as a reload
        its scheduler refused: rows of ``meta`` keyed ``problem:KEY``, which every web node's
        ``/healthz`` and status page show until they are cleared."""
        name = (PROBLEM_KEY + key)[:64]
        with self.engine.begin() as conn:
            conn.execute(sa.delete(meta).where(meta.c.key == name))
            if problem is not None:
                conn.execute(sa.insert(meta).values(key=name, value=problem))

    def problems(self) -> list[str]:
        """The problems recorded by :meth:`set_problem`, in the order of their keys."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(meta.c.value)
                .where(meta.c.key.startswith(PROBLEM_KEY, autoescape=True))
                .order_by(meta.c.key)
            )
            return [row[0] for row in rows]


# --------------------------------------------------------------------------------------------
# A batch of articles applied together: read in a few set-based queries, written together


NEAR_CANDIDATES = 200  # rows compared for near-duplicates, per article (lowest ids first)
CANDIDATES_PER_BATCH = 20_000  # beyond this, a batch looks near-duplicates up one by one


class _Unit:
    """What one :meth:`Store.apply` reads and writes, for the whole batch at once.

    It reads what the batch's articles need in a few queries (the rows by key, by content hash
    and by near-duplicate band, the locations, the region memberships and sequence numbers)
    and defers the rows it adds (articles, locations, region entries and changes, outbox
    events) to :meth:`flush`, which writes each table with one multi-row insert. It decides
    nothing: the store's rules decide, reading it instead of the database. A case it does not
    carry (a revision, a take-over, a promotion) flushes, is done by the per-article code on
    the connection, and forgets what that code may have changed, which is read again when
    next needed. Article ids are allocated here (under the write lock every writer takes)."""

    def __init__(self, store: Store, conn: Connection) -> None:
        self.store = store
        self.conn = conn
        self.by_key: dict[str, Any] = {}  # key → row (None: no article has that key)
        self.by_hash: dict[str, Any] = {}  # content hash → the first row with it, or None
        self.located: dict[str, Any] = {}  # location URL → (article_id, relation) or None
        self.members: dict[int, set[str]] = {}  # article id → its regions (not ALL)
        self.seq: dict[str, int] = {}  # region → its highest entry number
        # Near-duplicate candidates: rows by id, and by each band's value (in id order);
        # None when the batch's bands match more rows than it holds.
        self.candidates: dict[int, Any] | None = {}
        self.by_band: list[dict[int, list[Any]]] = [{}, {}, {}, {}]
        self.next_id: int | None = None
        self.rows: dict[Any, list[dict[str, Any]]] = {
            articles: [],
            locations: [],
            region_entries: [],
            region_changes: [],
            outbox: [],
        }

    # -- reading -------------------------------------------------------------------------

    def prefetch(self, items: Sequence[Article]) -> None:
        """Read what these articles need; what was deferred is written first."""
        self.flush()
        conn = self.conn
        keys = sorted({i.key for i in items})
        hashes = sorted({i.content_hash for i in items})
        urls = sorted(set(keys) | {u for i in items if (u := _fetched_location(i))})
        self.by_key.update(dict.fromkeys(keys))
        for chunk in _chunks(keys, 500):
            for row in conn.execute(sa.select(articles).where(articles.c.key.in_(chunk))):
                self.by_key[row.key] = row
        self.by_hash.update(dict.fromkeys(hashes))
        for chunk in _chunks(hashes, 500):
            for row in conn.execute(
                sa.select(articles)
                .where(articles.c.content_hash.in_(chunk))
                .order_by(articles.c.id.desc())
            ):
                self.by_hash[row.content_hash] = row  # the lowest id last
        self.located.update(dict.fromkeys(urls))
        for chunk in _chunks(urls, 500):
            for row in conn.execute(
                sa.select(locations.c.url, locations.c.article_id, locations.c.relation).where(
                    locations.c.url.in_(chunk)
                )
            ):
                self.located[row.url] = (row.article_id, row.relation)
        ids = {r.id for r in (*self.by_key.values(), *self.by_hash.values()) if r is not None}
        ids |= {v[0] for v in self.located.values() if v is not None}
        ids -= set(self.members)
        for chunk in _chunks(sorted(ids), 500):
            for article_id in chunk:
                self.members[article_id] = set()
            for article_id, region in conn.execute(
                sa.select(region_entries.c.article_id, region_entries.c.region).where(
                    region_entries.c.article_id.in_(chunk), region_entries.c.region != ALL
                )
            ):
                self.members[article_id].add(region)
        regions = sorted({m.region for i in items for m in i.regions} | {ALL})
        for region, top in conn.execute(
            sa.select(region_entries.c.region, sa.func.max(region_entries.c.seq))
            .where(region_entries.c.region.in_(regions))
            .group_by(region_entries.c.region)
        ):
            self.seq[region] = top or 0
        for region in regions:
            self.seq.setdefault(region, 0)
        self._prefetch_candidates(items)

    def _prefetch_candidates(self, items: Sequence[Article]) -> None:
        bands = [sorted({_bands(i.similarity)[b] for i in items}) for b in range(4)]
        found = self.conn.execute(
            sa.select(*_CANDIDATE_COLUMNS)
            .where(sa.or_(*(articles.c[f"band{b}"].in_(bands[b]) for b in range(4))))
            .order_by(articles.c.id)
            .limit(CANDIDATES_PER_BATCH + 1)
        ).all()
        if len(found) > CANDIDATES_PER_BATCH:
            self.candidates = None
            return
        self.candidates, self.by_band = {}, [{}, {}, {}, {}]
        for row in found:
            self._candidate(row)

    def _candidate(self, row: Any) -> None:
        assert self.candidates is not None
        if row.id in self.candidates:
            return
        self.candidates[row.id] = row
        for b in range(4):
            self.by_band[b].setdefault(getattr(row, f"band{b}"), []).append(row)

    def row_by_key(self, key: str) -> Any:
        if key not in self.by_key:
            self.by_key[key] = self.conn.execute(
                sa.select(articles).where(articles.c.key == key)
            ).first()
        return self.by_key[key]

    def first_with_hash(self, content_hash: str) -> Any:
        if content_hash not in self.by_hash:
            self.by_hash[content_hash] = self.conn.execute(
                sa.select(articles)
                .where(articles.c.content_hash == content_hash)
                .order_by(articles.c.id)
                .limit(1)
            ).first()
        return self.by_hash[content_hash]

    def location(self, url: str) -> Any:
        if url not in self.located:
            row = self.conn.execute(
                sa.select(locations.c.article_id, locations.c.relation).where(
                    locations.c.url == url
                )
            ).first()
            self.located[url] = (row.article_id, row.relation) if row else None
        return self.located[url]

    def regions_of(self, article_id: int) -> set[str]:
        if article_id not in self.members:
            self.members[article_id] = set(self.store._regions_of(self.conn, article_id))
        return self.members[article_id]

    def next_seq(self, region: str) -> int:
        if region not in self.seq:
            self.seq[region] = (
                self.conn.execute(
                    sa.select(sa.func.max(region_entries.c.seq)).where(
                        region_entries.c.region == region
                    )
                ).scalar()
                or 0
            )
        self.seq[region] += 1
        return self.seq[region]

    def near_duplicate(self, item: Article) -> tuple[int | None, str | None]:
        if self.candidates is None:  # too many to hold: one query per article, as stored
            self.flush()
            return self.store._near_duplicate(self.conn, item)
        bands = _bands(item.similarity)
        found: dict[int, Any] = {}
        for b in range(4):
            for row in self.by_band[b].get(bands[b], ())[:NEAR_CANDIDATES]:
                found[row.id] = row
        best: tuple[float, Any] | None = None
        for article_id in sorted(found)[:NEAR_CANDIDATES]:
            row = found[article_id]
            score = fingerprint.similarity(row.similarity, item.similarity)
            if score >= fingerprint.NEAR_DUPLICATE and (best is None or score > best[0]):
                best = (score, row)
        if best is None:
            return None, None
        return best[1].cluster_id or best[1].id, best[1].key

    # -- writing -------------------------------------------------------------------------

    def new_id(self) -> int:
        if self.next_id is None:
            top = self.conn.execute(sa.select(sa.func.max(articles.c.id))).scalar()
            self.next_id = int(top or 0)
        self.next_id += 1
        return self.next_id

    def locate(
        self,
        article_id: int,
        url: str,
        source_id: str | None,
        relation: str,
        reason: str,
        now: datetime,
    ) -> None:
        if self.location(url) is None:
            self.located[url] = (article_id, relation)
            self.rows[locations].append(
                {
                    "article_id": article_id,
                    "url": url,
                    "source_id": source_id,
                    "relation": relation,
                    "reason": reason,
                    "first_seen_at": now,
                }
            )

    def locate_fetched(
        self, article_id: int, item: Article, source_id: str | None, now: datetime
    ) -> None:
        fetched = _fetched_location(item)
        if fetched is not None:
            self.locate(
                article_id,
                fetched,
                source_id,
                "alternate",
                f"fetched there; names {item.key} as its canonical address",
                now,
            )

    def region_change(self, region: str, article_id: int, change: str, now: datetime) -> None:
        self.rows[region_changes].append(
            {
                "region": region,
                "article_id": article_id,
                "change": change,
                "at": now,
                "published": False,
            }
        )

    def join(
        self,
        article_id: int,
        region: str,
        now: datetime,
        reasons: Sequence[str],
        suppressed: bool,
    ) -> None:
        self.rows[region_entries].append(
            {
                "region": region,
                "article_id": article_id,
                "seq": self.next_seq(region),
                "added_at": now,
                "reasons": _dumps(list(reasons)),
                "suppressed": suppressed,
            }
        )
        if region != ALL:
            self.regions_of(article_id).add(region)

    def join_regions(
        self,
        article_id: int,
        matches: Sequence[RegionMatch],
        now: datetime,
        suppress: frozenset[str],
        cluster_id: int | None,
        near: bool = False,
    ) -> list[str]:
        """As :meth:`Store._join_regions`: the regions newly joined (not suppressed)."""
        wanted: dict[str, list[str]] = {}
        for m in matches:
            wanted.setdefault(m.region, []).append(str(m))
        joined = []
        have = set(self.regions_of(article_id))
        for region, reasons in wanted.items():
            if region in have:
                continue
            suppressed = False
            if near and region in suppress and cluster_id is not None:
                self.flush()
                suppressed = self.store._cluster_shown(self.conn, region, cluster_id)
            self.join(article_id, region, now, reasons, suppressed)
            if not suppressed:
                self.region_change(region, article_id, "created", now)
                joined.append(region)
        return joined

    def event(self, kind: str, now: datetime, regions: Iterable[str], **payload: Any) -> None:
        self.rows[outbox].append(_event_row(kind, now, regions, **payload))

    def create(
        self,
        source_id: str | None,
        item: Article,
        now: datetime,
        suppress: frozenset[str],
        result: ChangeSet,
    ) -> Change:
        """As :meth:`Store._create`, deferred."""
        cluster_id, near = self.near_duplicate(item)
        article_id = self.new_id()
        entry_id = entry_id_for(item.key, self.store.host, item.published, now)
        published = item.published or now
        values = self.store._article_values(item)
        values.update(
            id=article_id,
            entry_id=entry_id,
            key=item.key,
            source_id=source_id,
            published_at=published,
            dated=item.published is not None,
            updated_at=max(item.updated or published, published),
            first_seen_at=now,
            revision=0,
            cluster_id=cluster_id if cluster_id is not None else article_id,
            removed_at=None,
        )
        self.rows[articles].append(values)
        row = _Row(values)
        self.by_key[item.key] = row
        if self.by_hash.get(item.content_hash) is None:
            self.by_hash[item.content_hash] = row
        self.members[article_id] = set()
        if self.candidates is not None:
            self._candidate(row)
        self.locate(article_id, item.key, source_id, "self", "the article's own address", now)
        self.locate_fetched(article_id, item, source_id, now)
        self.join(article_id, ALL, now, (), False)
        regions = self.join_regions(
            article_id, item.regions, now, suppress, row.cluster_id, near=near is not None
        )
        result.regions.update(regions)
        self.event(
            "article.created",
            now,
            regions,
            article=_payload(row),
            changes={"content_hash": item.content_hash, "near_duplicate_of": near},
        )
        reason = f"new; a near-duplicate of {near}" if near else "new"
        return Change("created", item.url, entry_id, item.key, tuple(regions), reason)

    def flush(self) -> None:
        """Write what was deferred: each table with one multi-row insert, articles first."""
        conn = self.conn
        new = self.rows[articles]
        for table, rows in self.rows.items():
            if rows:
                conn.execute(sa.insert(table), rows)
        if new and conn.dialect.name == "postgresql":
            # The ids were given here: the sequence moves past them for the next writer.
            conn.execute(
                sa.select(
                    sa.func.setval(
                        sa.func.pg_get_serial_sequence("articles", "id"),
                        sa.select(sa.func.max(articles.c.id)).scalar_subquery(),
                    )
                )
            )
        for rows in self.rows.values():
            rows.clear()

    def forget(self, ids: set[int], urls: Iterable[str], hashes: Iterable[str]) -> None:
        """After the per-article code changed the store: forget what it may have changed."""
        for key in [k for k, r in self.by_key.items() if r is not None and r.id in ids]:
            del self.by_key[key]
        for h in [h for h, r in self.by_hash.items() if r is not None and r.id in ids]:
            del self.by_hash[h]
        for h in hashes:
            self.by_hash.pop(h, None)
        for url in [u for u, v in self.located.items() if v is not None and v[0] in ids]:
            del self.located[url]
        for url in urls:
            self.located.pop(url, None)
            self.by_key.pop(url, None)
        for article_id in ids:
            self.members.pop(article_id, None)
        self.seq.clear()
        self.next_id = None
        if self.candidates is not None:
            kept = [r for r in self.candidates.values() if r.id not in ids]
            fresh = self.conn.execute(
                sa.select(*_CANDIDATE_COLUMNS).where(articles.c.id.in_(sorted(ids)))
            ).all()
            self.candidates, self.by_band = {}, [{}, {}, {}, {}]
            for row in sorted([*kept, *fresh], key=lambda r: r.id):
                self._candidate(row)


_CANDIDATE_COLUMNS = (
    articles.c.id,
    articles.c.key,
    articles.c.similarity,
    articles.c.cluster_id,
    articles.c.band0,
    articles.c.band1,
    articles.c.band2,
    articles.c.band3,
)


class _Row:
    """An article row added in this batch, read like a row from the database."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:  # pragma: no cover - every column is set
        raise AttributeError(name)


def _fetched_location(item: Article) -> str | None:
    """The address an article was fetched at, when it is another location of it (canonical
    form): as :meth:`Store._locate_fetched` decides."""
    from syndicator.normalize import canonical_url

    fetched = item.fetched_url
    if not fetched or urlsplit(fetched).scheme not in ("http", "https", "file"):
        return None
    if urlsplit(item.key).scheme not in ("http", "https", "file"):
        return None
    fetched = canonical_url(fetched)
    return fetched if fetched != item.key else None


def _payload(row: Any) -> dict[str, Any]:
    """An article as events carry it (as :meth:`Store._article_payload` reads it)."""
    return {
        "id": row.entry_id,
        "url": row.url,
        "key": row.key,
        "title": row.title,
        "summary": row.summary,
        "section": row.section,
        "authors": json.loads(row.authors),
        "dateline": row.dateline,
        "language": row.language,
        "published": _iso(row.published_at),
        "updated": _iso(row.updated_at),
        "content_hash": row.content_hash,
        "source": row.source_id,
    }


def _event_row(kind: str, now: datetime, regions: Iterable[str], **payload: Any) -> dict[str, Any]:
    """The outbox row of one event."""
    event_id = str(uuid.uuid4())
    region_list = sorted(set(regions))
    body = {
        "id": event_id,
        "type": kind,
        "occurred_at": now.isoformat().replace("+00:00", "Z"),
        "regions": region_list,
        **payload,
    }
    body.setdefault("changes", {})
    return {
        "event_id": event_id,
        "type": kind,
        "occurred_at": now,
        "regions": _dumps(region_list),
        "body": _dumps(body),
    }


def _store_error(context: sa.engine.ExceptionContext) -> StoreError | None:
    """The engine's errors as ours: what the database raised, once, at the store's edge. (A
    failed pre-ping is the pool's to handle: it reconnects.)"""
    if context.is_pre_ping:
        return None
    cause = str(context.original_exception).strip().splitlines()
    kind = type(context.original_exception).__name__
    return StoreError(f"the database failed ({kind}: {cause[0] if cause else 'no detail'})")


def _mapped(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except SQLAlchemyError as e:
            raise StoreError(f"the database failed ({type(e).__name__}: {e})") from e

    return call


for _name, _member in list(vars(Store).items()):
    if (
        not _name.startswith("_")
        and _name != "transaction"  # a context manager, which maps its own errors
        and inspect.isfunction(_member)
    ):
        setattr(Store, _name, _mapped(_member))


def _outranks(priority: Mapping[str, int] | None, source: str | None, other: str | None) -> bool:
    """Does ``source`` rank strictly before ``other`` (config order; unknown sources last)?"""
    if not priority or source is None or source not in priority:
        return False
    return priority[source] < priority.get(other or "", len(priority))


def _source_state(r: Any) -> SourceState:
    return SourceState(
        id=r.id,
        kind=r.kind,
        url=r.url,
        health=r.health,
        health_reason=r.health_reason,
        first_fetch_at=utc(r.first_fetch_at),
        last_fetch_at=utc(r.last_fetch_at),
        last_success_at=utc(r.last_success_at),
        last_change_at=utc(r.last_change_at),
        last_status=r.last_status,
        last_error=r.last_error,
        failures=r.failures,
        next_due_at=utc(r.next_due_at),
        last_found=r.last_found,
        last_found_some=r.last_found_some,
        created=r.created,
        updated=r.updated,
        duplicates=r.duplicates,
        paused=bool(r.paused),
        paused_at=utc(r.paused_at),
    )


def _as_utc(value: datetime) -> datetime:
    """A datetime to compare with stored ones: in UTC (SQLite stores them as UTC text)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    value = utc(value)
    return value.isoformat().replace("+00:00", "Z") if value else None


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def _exclusive(conn: Connection, lock: int) -> None:
    """Hold ``lock`` until the transaction ends: a PostgreSQL advisory lock. On SQLite, the
    write lock stands for the identity lock: taken first, with a write that changes nothing,
    so that what the transaction reads next is what the writer before it committed (pysqlite
    begins a transaction only at the first write, and reads before it see an older state)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(lock)))
    elif lock == WRITE_LOCK:
        conn.execute(
            sa.update(meta).where(meta.c.key == "schema_version").values(value=meta.c.value)
        )


def _v1(conn: Connection) -> None:
    metadata.create_all(  # the tables of version 1, in their current shape
        conn,
        tables=[
            meta,
            sources,
            http_cache,
            articles,
            revisions,
            locations,
            region_entries,
            region_changes,
            outbox,
            fetch_log,
        ],
    )


def _v2(conn: Connection) -> None:
    # Migrations are written against the current table definitions, so a fresh store (created
    # whole by _v1) finds each step already done: every step checks before it changes.
    metadata.create_all(conn, tables=[deliveries, subscriptions])
    columns = {c["name"] for c in sa.inspect(conn).get_columns("http_cache")}
    if "misses" not in columns:
        conn.execute(sa.text("ALTER TABLE http_cache ADD COLUMN misses INTEGER NOT NULL DEFAULT 0"))


def _v3(conn: Connection) -> None:
    # An article's regions were found by scanning every region entry: the store slowed down as
    # it grew (an unchanged article cost 0.45 ms at 10,000 articles, and more with each one).
    for index in region_entries.indexes:
        if index.name == "ix_region_entries_article":
            index.create(conn, checkfirst=True)


def _v4(conn: Connection) -> None:
    """Validators keyed by (source, URL), and the last count of a pass that found anything.

    A version 3 row (keyed by URL) is kept for every source that owns its URL: the source whose
    listing it is, and the source of the article stored at it. A row no source owns (a child
    sitemap, an address an article was fetched at) is dropped: it costs one full GET."""
    inspector = sa.inspect(conn)
    if "last_found_some" not in {c["name"] for c in inspector.get_columns("sources")}:
        conn.execute(sa.text("ALTER TABLE sources ADD COLUMN last_found_some INTEGER"))
        conn.execute(
            sa.text("UPDATE sources SET last_found_some = last_found WHERE last_found > 0")
        )
    if "source_id" in {c["name"] for c in inspector.get_columns("http_cache")}:
        return
    old = sa.Table(
        "http_cache",
        sa.MetaData(),
        *(sa.Column(c.name, c.type) for c in http_cache.columns if c.name != "source_id"),
    )
    rows = [r._asdict() for r in conn.execute(sa.select(old))]
    owners: dict[str, set[str]] = {}
    for sid, url in conn.execute(sa.select(sources.c.id, sources.c.url)):
        owners.setdefault(url, set()).add(sid)
    for key, sid in conn.execute(
        sa.select(articles.c.key, articles.c.source_id).where(articles.c.source_id.is_not(None))
    ):
        owners.setdefault(key, set()).add(sid)
    conn.execute(sa.text("DROP TABLE http_cache"))
    http_cache.create(conn)
    moved = [row | {"source_id": sid} for row in rows for sid in sorted(owners.get(row["url"], ()))]
    for chunk in _chunks(moved, 1000):
        conn.execute(sa.insert(http_cache), list(chunk))


def _v5(conn: Connection) -> None:
    # Paused sources, and articles whose document states no publication date.
    added = {
        "sources": {
            "paused": "BOOLEAN NOT NULL DEFAULT FALSE",
            "paused_at": "TIMESTAMP WITH TIME ZONE"
            if conn.dialect.name == "postgresql"
            else "DATETIME",
        },
        "articles": {"dated": "BOOLEAN NOT NULL DEFAULT TRUE"},
    }
    for table, columns in added.items():
        present = {c["name"] for c in sa.inspect(conn).get_columns(table)}
        for name, kind in columns.items():
            if name not in present:
                conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {name} {kind}"))


MIGRATIONS = {1: _v1, 2: _v2, 3: _v3, 4: _v4, 5: _v5}

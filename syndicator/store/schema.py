"""The schema: tables, their version, the migrations that bring an older store to it, and the
locks writers take. This module holds no queries beyond the migrations.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syndicator.model import as_utc
from syndicator.store.common import _chunks

SCHEMA_VERSION = 6
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
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        stored: datetime | None = value  # naive from SQLite: written in UTC
        return as_utc(stored)


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
    # Version 6: the newest articles (the feed of every region), a source's newest (its status
    # page) and the newest removals (tombstones) read in order from an index, a limit's worth
    # of rows, not sorted whole. Removed articles only: a query for live ones (removed_at IS
    # NULL, nearly every row) cannot mistake it for a selective one.
    sa.Index("ix_articles_updated", "updated_at", "id"),
    sa.Index("ix_articles_source_updated", "source_id", "updated_at", "id"),
    sa.Index(
        "ix_articles_removed",
        "removed_at",
        "id",
        sqlite_where=sa.text("removed_at IS NOT NULL"),
        postgresql_where=sa.text("removed_at IS NOT NULL"),
    ),
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
    # Version 6: the article's updated_at, copied here (every write that sets the article's sets
    # its entries'), so that a region's newest entries are read in order from one index.
    sa.Column("updated_at", TS),
    sa.UniqueConstraint("region", "seq", name="uq_region_seq"),
    sa.Index("ix_region_entries_article", "article_id"),  # an article's regions (version 3)
    sa.Index("ix_region_entries_updated", "region", "suppressed", "updated_at", "article_id"),
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


def _exclusive(conn: Connection, lock: int) -> None:
    """Hold ``lock`` until the transaction ends: a PostgreSQL advisory lock. On SQLite, the
    write lock stands for the identity lock: taken first, with a write that changes nothing,
    so that what the transaction reads next is what the writer before it committed (pysqlite
    begins a transaction only at the first write, and reads before it see an older state).
    The schema lock, on SQLite, is the write lock taken by ``BEGIN IMMEDIATE`` (the store may
    have no table yet to write to): the upgrade's reads, DDL and writes are one transaction,
    and a process opening the store meanwhile waits for it, then reads the upgraded version
    (pysqlite runs DDL outside a transaction it has not begun: two processes both read the old
    version, and the later ALTER TABLE failed on the column the other had added)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(lock)))
    elif lock == WRITE_LOCK:
        conn.execute(
            sa.update(meta).where(meta.c.key == "schema_version").values(value=meta.c.value)
        )
    elif lock == SCHEMA_LOCK:
        sqlite: Any = conn.connection.dbapi_connection  # a sqlite3.Connection
        if not sqlite.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


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


def _v6(conn: Connection) -> None:
    """Reading a region's newest entries sorted all of the region at every publish (1.35 s
    for a region of 100,000 articles, growing with it): each region entry now carries its
    article's ``updated_at``, backfilled here, and indexes give the newest entries, the newest
    removals and a region's count without a sort or a scan of the articles."""
    present = {c["name"] for c in sa.inspect(conn).get_columns("region_entries")}
    if "updated_at" not in present:
        kind = "TIMESTAMP WITH TIME ZONE" if conn.dialect.name == "postgresql" else "DATETIME"
        conn.execute(sa.text(f"ALTER TABLE region_entries ADD COLUMN updated_at {kind}"))
    conn.execute(
        sa.update(region_entries)
        .where(region_entries.c.updated_at.is_(None))
        .values(
            updated_at=sa.select(articles.c.updated_at)
            .where(articles.c.id == region_entries.c.article_id)
            .scalar_subquery()
        )
    )
    for table in (articles, region_entries):
        for index in table.indexes:
            if index.name in _V6_INDEXES:
                index.create(conn, checkfirst=True)


_V6_INDEXES = {
    "ix_articles_updated",
    "ix_articles_source_updated",
    "ix_articles_removed",
    "ix_region_entries_updated",
}

MIGRATIONS = {1: _v1, 2: _v2, 3: _v3, 4: _v4, 5: _v5, 6: _v6}

"""The store's edge with the database: the engine, transactions, the schema's upgrade, and the
one place where what SQLAlchemy, SQLite or PostgreSQL raise becomes a StoreError.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from syndicator.errors import StoreError
from syndicator.store.common import _safe_url
from syndicator.store.schema import (
    MIGRATIONS,
    SCHEMA_LOCK,
    SCHEMA_VERSION,
    _exclusive,
    articles,
    meta,
    region_entries,
)


def _store_error(context: sa.engine.ExceptionContext) -> StoreError | None:
    """The engine's errors as ours: what the database raised, once, at the store's edge. (A
    failed pre-ping is the pool's to handle: it reconnects.)"""
    if context.is_pre_ping or not isinstance(context.original_exception, Exception):
        return None  # Ctrl-C (KeyboardInterrupt) or an exit stays what it is
    cause = str(context.original_exception).strip().splitlines()
    kind = type(context.original_exception).__name__
    detail = cause[0] if cause else "no detail"
    if detail in _BUSY:
        return StoreError(
            f"the database failed ({kind}: {detail}): another process (the service, another"
            " command) held a write on the store for longer than [service] database_timeout;"
            " run the command again once it is done, or raise database_timeout"
        )
    return StoreError(f"the database failed ({kind}: {detail})")


# What SQLite says when another connection's write outlasts the wait (busy_timeout) for it.
_BUSY = frozenset({"database is locked", "database is busy"})


def _mapped(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except SQLAlchemyError as e:
            raise StoreError(f"the database failed ({type(e).__name__}: {e})") from e

    return call


DEFAULT_TIMEOUT = 30.0  # seconds one operation waits for the database ([service] database_timeout)


class StoreBase:
    """What every part of the store builds on: the engine (opened with a URL, the schema created
    or upgraded on open), transactions, the schema's version and the integrity check. The
    engine's error hook maps every database error; :func:`map_errors` maps what SQLAlchemy
    raises on its own in the public methods (a pool timeout)."""

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
                folder = Path(path).parent
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                except OSError as e:  # a file where the folder would be, no permission
                    raise StoreError(
                        f"cannot open the store at {_safe_url(url)}: cannot make its folder "
                        f"{folder}: {e.strerror or e}"
                    ) from e
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
        if current == SCHEMA_VERSION:  # nothing to do: no lock (on SQLite, the write lock)
            return SCHEMA_VERSION
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
            stale = conn.execute(
                sa.select(sa.func.count())
                .select_from(region_entries)
                .join(articles, articles.c.id == region_entries.c.article_id)
                .where(
                    sa.or_(
                        region_entries.c.updated_at.is_(None),
                        region_entries.c.updated_at != articles.c.updated_at,
                    )
                )
            ).scalar()
            if stale:  # a region's feed is read in the order of this copy (schema version 6)
                problems.append(f"{stale} region entries whose updated_at is not their article's")
            # A new address whose text is stored is a duplicate, never a second article: two
            # articles share a text only when one was revised to it (the contract: same key,
            # new hash, a revision), or once one of them was removed.
            dup_hashes = conn.execute(
                sa.select(articles.c.content_hash)
                .where(articles.c.revision == 0, articles.c.removed_at.is_(None))
                .group_by(articles.c.content_hash)
                .having(sa.func.count() > 1)
            ).all()
            if dup_hashes:
                problems.append(f"{len(dup_hashes)} content hashes stored twice")
        return problems


def map_errors(cls: type[Any]) -> None:
    """Wrap every public method ``cls`` has (its own and inherited) so that what SQLAlchemy
    raises on its own leaves as a StoreError."""
    for klass in reversed(cls.__mro__):
        for name, member in list(vars(klass).items()):
            if (
                not name.startswith("_")
                and name != "transaction"  # a context manager, which maps its own errors
                and inspect.isfunction(member)
            ):
                setattr(cls, name, _mapped(member))

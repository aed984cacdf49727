"""Rows written in bulk, as a batch's new rows are: on PostgreSQL with one ``COPY`` a table, on
SQLite with one prepared ``executemany``, each value bound as SQLAlchemy binds it. Used by the
batched writer (``batch``); it decides nothing and reads nothing.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syndicator.errors import StoreError
from syndicator.model import as_utc
from syndicator.store.schema import UTCDateTime


def _copied(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> bool:
    """On PostgreSQL, the rows written with one COPY (a few round trips, and none of the
    per-row statement work of an insert); False, writing nothing, when the rows do not all
    name the same columns (then they are inserted). The values go in as an insert would bind
    them: times in UTC, the rest as they are."""
    # Imported here: a SQLite store never loads the PostgreSQL driver (start-up time).
    import psycopg
    import psycopg.sql

    columns = list(rows[0])
    if any(len(r) != len(columns) or list(r) != columns for r in rows):
        return False
    times = [isinstance(table.c[name].type, UTCDateTime) for name in columns]
    command = psycopg.sql.SQL("COPY {} ({}) FROM STDIN").format(
        psycopg.sql.Identifier(table.name),
        psycopg.sql.SQL(", ").join(psycopg.sql.Identifier(name) for name in columns),
    )
    raw = cast("psycopg.Connection[Any]", conn.connection.dbapi_connection)
    try:
        with raw.cursor() as cursor, cursor.copy(command) as copy:
            for row in rows:
                copy.write_row(
                    [
                        as_utc(value) if time and value is not None else value
                        for value, time in zip(row.values(), times, strict=True)
                    ]
                )
    except psycopg.Error as e:
        raise StoreError(f"the database failed ({type(e).__name__}: {e})") from e
    return True


def _inserted(
    conn: Connection,
    table: sa.Table,
    rows: list[dict[str, Any]],
    times: dict[datetime, Any] | None = None,
) -> bool:
    """On SQLite, the rows written with one executemany of a plain insert, each value bound
    by the processor SQLAlchemy binds its column with (the same values stored), without its
    per-row work of building and processing each row's parameters; False, writing nothing,
    when the rows do not all name the same columns (in any order) or a column left out has a
    default computed per row (then they are inserted the usual way). ``times``: the times
    already bound (a time as SQLAlchemy binds it, ~8 µs; an article's rows in six tables share
    its instant), filled in."""
    if conn.dialect.name != "sqlite" or conn.dialect.paramstyle != "qmark":
        return False
    columns = tuple(rows[0])
    names = rows[0].keys()
    if len(columns) < 2 or any(r.keys() != names for r in rows):
        return False
    prepared = _prepared(conn.dialect, table, columns)
    if prepared is None:
        return False
    sql, processors, defaults = prepared
    values = operator.itemgetter(*columns)
    times = {} if times is None else times
    bound = [
        (i, process, times if isinstance(table.c[name].type, UTCDateTime) else None)
        for i, (name, process) in enumerate(zip(columns, processors, strict=True))
        if process is not None
    ]
    params = []
    for row in rows:
        row_values = list(values(row))
        for i, process, seen in bound:
            value = row_values[i]
            if seen is None:
                row_values[i] = process(value)
            elif value in seen:
                row_values[i] = seen[value]
            else:
                row_values[i] = seen[value] = process(value)
        params.append((*row_values, *defaults))
    conn.exec_driver_sql(sql, params)
    return True


_Prepared = tuple[str, tuple[Callable[[Any], Any] | None, ...], tuple[Any, ...]]
_PREPARED: dict[tuple[str, str, tuple[str, ...]], _Prepared | None] = {}


def _prepared(dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...]) -> _Prepared | None:
    """The insert of ``columns`` into ``table``, and of the columns left out that have a
    default (given it, as SQLAlchemy does), in ``qmark`` style; the bind processor of each
    column given; the defaults' values as bound. None when a default left out is not a
    constant."""
    cache = (dialect.name, table.name, columns)
    if cache not in _PREPARED:
        defaulted = [c for c in table.columns if c.name not in columns and c.default is not None]
        if any(not getattr(c.default, "is_scalar", False) for c in defaulted):
            _PREPARED[cache] = None
        else:
            names = [*columns, *(c.name for c in defaulted)]
            quote = dialect.identifier_preparer.quote
            sql = (
                f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, names))}) "
                f"VALUES ({', '.join('?' * len(names))})"
            )
            processors = [_binder(table.c[name].type, dialect) for name in columns]
            defaults = []
            for c in defaulted:
                value = c.default.arg  # type: ignore[union-attr]
                process = _binder(c.type, dialect)
                defaults.append(value if process is None else process(value))
            _PREPARED[cache] = (sql, tuple(processors), tuple(defaults))
    return _PREPARED[cache]


def _binder(kind: Any, dialect: sa.Dialect) -> Callable[[Any], Any] | None:
    """How SQLAlchemy binds a value of this type on this dialect (its implementation for the
    dialect: a time on SQLite becomes SQLAlchemy's own text form, not the driver's)."""
    binder: Callable[[Any], Any] | None = kind.dialect_impl(dialect).bind_processor(dialect)
    return binder

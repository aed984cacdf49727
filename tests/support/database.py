"""PostgreSQL for the tests that need it whatever the suite runs on (``postgres_database``).

The suite's own choice of store (``SYNDICATOR_TEST_STORE``) is conftest.py's ``test_database``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

POSTGRES = os.environ.get(
    "SYNDICATOR_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432"
)


@contextmanager
def postgres_database(prefix: str = "syndicator_test") -> Iterator[str]:
    """The URL of a fresh PostgreSQL database, dropped afterwards (its connections too)."""
    import sqlalchemy as sa

    admin = sa.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError:
        admin.dispose()
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES}: PostgreSQL tests skipped")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

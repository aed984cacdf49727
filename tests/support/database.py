"""PostgreSQL databases for the tests: fresh ones, each copied from a template made once per
test session (per xdist worker), so that a test starts on an empty, current store in a fraction
of the time its schema takes to create.

conftest.py's session fixture ``postgres_databases`` holds the one :class:`PostgresDatabases`
of a session; ``test_database`` (the suite's own choice of store, ``SYNDICATOR_TEST_STORE``)
and the tests that need PostgreSQL whatever the suite runs on take their databases from it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # SQLAlchemy is imported when a database is asked for (not by conftest.py)
    import sqlalchemy as sa

POSTGRES = os.environ.get(
    "SYNDICATOR_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432"
)


def _store_schema(url: str) -> None:
    from syndicator.store import Store

    Store(url).close()


def _jobs_schema(url: str) -> None:
    from syndicator import config
    from syndicator.jobs import engine

    cfg = config.Config(service=config.ServiceSettings(database=url))
    asyncio.run(engine.ensure_schema(cfg))


# What a fresh database holds, by name: each (but "empty") is a template built on first use.
SCHEMAS: dict[str, Callable[[str], None] | None] = {
    "empty": None,  # nothing: whoever opens it creates the schema
    "store": _store_schema,  # the store's tables, as Store creates them on open
    "jobs": _jobs_schema,  # the job engine's tables alone (the scaled mode's queue)
}


# Databases dropped at once. Each DROP DATABASE forces a checkpoint, which takes seconds while
# the server is busy: the ones to drop pile up meanwhile, and a thread each would take every
# connection of the admin pool (20), the one the next test's database is made with included.
DROPS_AT_ONCE = 8
# The databases the tests are done with are dropped when this many are waiting (else after the
# session): each drop's checkpoint writes out and syncs the pages of every database made since
# the last one, work the server did beside the tests while they ran (a quarter of its CPU time
# in the fast lane, which makes ~45). Each waiting database is ~7.5 MB of disk.
DROP_WHEN = 64


class PostgresDatabases:
    """Fresh databases for tests. A template is built by the project's own code (the store
    creating its schema on open; the job engine's ``ensure_schema``) the first time a session
    asks for that schema, under a name of this session's own, so that workers running at once
    never share one and each session's templates hold the schema of the code it runs; they are
    dropped with the session (:meth:`close`). The next database of a kind is made ahead, in the
    background, while the test that took the last one runs (one spare of each kind, dropped at
    the end if no test takes it). Dropping a database makes PostgreSQL checkpoint, so the
    ones to drop wait until :data:`DROP_WHEN` of them are waiting, or the session ends, and are
    dropped together, in the background."""

    def __init__(self, admin: sa.Engine) -> None:
        self.admin = admin
        self.session = uuid.uuid4().hex[:8]
        self._templates: dict[str, str] = {}
        self._spares: dict[tuple[str, str], Future[str]] = {}
        self._ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="database-ahead")
        self._doomed: list[str] = []
        self._dropping: list[str] = []  # the ones the dropper thread is dropping now
        self._lock = threading.Lock()
        self._dropper: threading.Thread | None = None

    @classmethod
    def connect(cls) -> PostgresDatabases | None:
        """The databases of the server at ``$SYNDICATOR_TEST_POSTGRES``, or None where no
        server answers."""
        import sqlalchemy as sa

        admin = sa.create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT", pool_size=20)
        try:
            with admin.connect() as conn:
                conn.execute(sa.text("select 1"))
        except sa.exc.OperationalError:
            admin.dispose()
            return None
        return cls(admin)

    def url(self, name: str) -> str:
        return f"{POSTGRES}/{name}"

    def create(self, schema: str = "store", prefix: str = "syndicator_test") -> str:
        """The name of a new database holding ``schema`` (see :data:`SCHEMAS`): the one made
        ahead for it if there is one, and the next one is made ahead."""
        kind = (schema, prefix)
        spare = self._spares.pop(kind, None)
        name = spare.result() if spare is not None else self._make(schema, prefix)
        self._spares[kind] = self._ahead.submit(self._make, schema, prefix)
        return name

    def _make(self, schema: str, prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        if SCHEMAS[schema] is None:
            self._execute(f'CREATE DATABASE "{name}"')
        else:
            self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template(schema)}"')
        return name

    @contextmanager
    def database(self, schema: str = "store", prefix: str = "syndicator_test") -> Iterator[str]:
        """The URL of a new database holding ``schema``, dropped afterwards (its connections
        too)."""
        name = self.create(schema, prefix)
        try:
            yield self.url(name)
        finally:
            self.drop(name)

    def _template(self, schema: str) -> str:
        name = self._templates.get(schema)
        if name is None:
            build = SCHEMAS[schema]
            assert build is not None
            name = f"syndicator_template_{schema}_{self.session}"
            self._templates[schema] = name  # dropped by close() even if the build fails
            self._execute(f'CREATE DATABASE "{name}"')
            build(self.url(name))  # leaves no connection open: a template must have none
        return name

    def drop(self, name: str, *, now: bool = False) -> None:
        """Drop a database later, in the background, with the others to drop (``now``: here,
        before returning, its connections cut: for a test whose service, still running, must
        find it gone rather than going)."""
        if now:
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        with self._lock:
            self._doomed.append(name)
            if len(self._doomed) < DROP_WHEN:
                return
            if self._dropper is None or not self._dropper.is_alive():
                self._dropper = threading.Thread(target=self._drop_doomed, daemon=True)
                self._dropper.start()

    def _drop_doomed(self) -> None:
        while True:
            with self._lock:
                batch, self._doomed = self._doomed, []
                self._dropping = batch
                if not batch:
                    self._dropper = None
                    return
            self._drop_together(batch)

    def _drop_together(self, names: list[str]) -> None:
        """Drop ``names``, several at once (PostgreSQL serves the checkpoints they ask for
        together), never more at once than the admin engine's pool holds beside the databases
        being made."""
        with ThreadPoolExecutor(max_workers=DROPS_AT_ONCE) as dropping:
            list(
                dropping.map(
                    lambda name: self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'),
                    names,
                )
            )

    def close(self) -> None:
        """Drop every database of this session: the ones made ahead and never taken, the ones
        still to drop or being dropped, and the templates, together, by a process of their own
        that outlives the session (:func:`drop_after_the_session`; ``IF EXISTS``, so a drop
        still under way here when the session ends is only asked for again)."""
        spares = []
        for spare in self._spares.values():
            with suppress(Exception):  # made ahead, never taken, and failed: nothing to drop
                spares.append(spare.result())
        self._spares.clear()
        self._ahead.shutdown()
        with self._lock:  # the dropper thread's drops under way too: not waited for here
            batch, self._doomed = [*self._dropping, *self._doomed], []
        self.admin.dispose()
        if names := [*batch, *spares, *self._templates.values()]:
            drop_after_the_session(names)

    def _execute(self, statement: str) -> None:
        import sqlalchemy as sa

        with self.admin.connect() as conn:
            conn.execute(sa.text(statement))


def drop_after_the_session(names: list[str]) -> None:
    """Drop ``names`` from a process of its own (this file run as a script), in a session of
    its own and holding none of this one's files, so that the test session ends without
    waiting: each DROP DATABASE waits for a checkpoint, 1-2.5 s at the end of each xdist
    worker, and nothing in the session needs them gone."""
    # Kept to the end: a Popen collected while its process runs says so (a ResourceWarning).
    _DROPPING.append(
        subprocess.Popen(
            [sys.executable, __file__, *names],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    )


_DROPPING: list[subprocess.Popen[bytes]] = []


if __name__ == "__main__":  # drop_after_the_session
    databases = PostgresDatabases.connect()
    if databases is not None:
        try:
            databases._drop_together(sys.argv[1:])
        finally:
            databases.admin.dispose()

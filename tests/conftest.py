"""Shared pytest fixtures and marks. What the fixtures start lives in ``tests/support/`` (the
harness); test modules import that, never one another.

``fixtures_dir`` is ``tests/fixtures`` (the project's own news site, its broken inputs, its
config and gold); ``fixture_site`` serves it with ``tests/fixture_site.py`` on loopback once per
test session (``private_site``: one of a test's own). ``receiver`` is ``tests/receiver.py``.
``shared_dir`` is ``../shared`` beside the repository: only the cross-checks against its gold
use it (``shared_site`` serves its fixtures with the same server), and they skip, saying so,
where it is absent.

``SYNDICATOR_TEST_STORE=postgresql`` runs the whole suite on PostgreSQL (the server at
``$SYNDICATOR_TEST_POSTGRES``, default postgres on 127.0.0.1:5432): every test that can hold a
store gets a fresh database of its own, named to it by ``$SYNDICATOR_DATABASE`` (which replaces
``[service] database`` wherever a config is loaded, in this process and in the commands a test
runs), dropped afterwards.
"""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import commands
from support.checks import NOT_RUN
from support.database import POSTGRES, PostgresDatabases
from support.service import Server
from support.sites import (
    FIXTURES,
    FixtureSite,
    HostileSite,
    Receiver,
    run_fixture_site,
    run_receiver,
)

SHARED = Path(__file__).resolve().parents[2] / "shared"

# The sessions' temporary folders (tmp_path) in memory where the machine has a RAM disk,
# pytest-of-USER/pytest-N there as in the system's temporary folder, the last three kept:
# each file the publisher writes is synced to disk (fsync, then its folder's), 5 ms on this
# VM's disk and more while it is busy, and the fast lane's publish tests write ~600 of them
# (~3 s of a worker). The files, renames and syncs are the same; only the waits go. A run
# that names its own place keeps it (PYTEST_DEBUG_TEMPROOT, or --basetemp).
# Only a RAM disk with room to spare: a container's is often 64 MB, which the suite's stores
# and feeds would fill.
RAM_DISK = Path("/dev/shm")
RAM_DISK_ROOM = 2 * 1024**3  # bytes free, at least


def _roomy_ram_disk() -> bool:
    try:
        if not (RAM_DISK.is_dir() and os.access(RAM_DISK, os.W_OK)):
            return False
        stats = os.statvfs(RAM_DISK)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize >= RAM_DISK_ROOM


if "PYTEST_DEBUG_TEMPROOT" not in os.environ and _roomy_ram_disk():
    os.environ["PYTEST_DEBUG_TEMPROOT"] = str(RAM_DISK)


TEST_STORE = os.environ.get("SYNDICATOR_TEST_STORE", "sqlite")
DATABASE_ENV = "SYNDICATOR_DATABASE"
# Fixtures through which a test can make a store of its own: a folder of the test's own for the
# config and feeds. A test without them is given the name of a database that does not exist, so
# that one which opens a store after all fails loudly instead of quietly using SQLite. (A server
# shared by a module's tests, made in a module-scoped fixture, starts before any test's database
# is made: it keeps the SQLite file its config names.)
NEEDS_A_DATABASE = {"tmp_path", "private_site"}
# Fixtures that start processes (the service, the fixture site, the receiver): a test using one
# is end to end. Modules whose tests run commands as processes say so themselves
# (``pytestmark = pytest.mark.e2e``).
STARTS_PROCESSES = {
    "server_factory",
    "svc",
    "fixture_site",
    "private_site",
    "shared_site",
    "receiver",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "store: can hold a store (given automatically to tests that make a folder); "
        "`SYNDICATOR_TEST_STORE=postgresql pytest -m store` runs only what PostgreSQL changes",
    )
    config.addinivalue_line(
        "markers",
        "e2e: end to end, through processes (the service, a command, the fixture site); "
        '`pytest -m "not e2e"` (make test-fast) is the fast lane',
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A test that passed every check it could run, but could not run one (an outside tool
    such as jing is missing: ``support.checks.not_run``), is reported as skipped with the reason:
    its later checks ran, and the summary still says what was not checked and how to fix it."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    reasons = NOT_RUN.pop(item.nodeid, None) if report.when == "call" else None
    if reasons and report.passed:
        path, line, _ = item.location
        report.outcome = "skipped"
        report.longrepr = (
            str(path),
            (line or 0) + 1,
            "Skipped: " + "; ".join(dict.fromkeys(reasons)),
        )


# What a module marks all its tests with (``pytestmark = pytest.mark.e2e``), read from its text.
MODULE_MARKS = re.compile(r"^pytestmark = (.+)$", re.MULTILINE)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """A lane that leaves out every test of a module is not made to import it: with ``-m "not
    e2e and not slow"`` (make test-fast), a module whose ``pytestmark`` is e2e. Its imports
    and the rewriting of its asserts were most of a second of each worker's start, for tests
    that would all be deselected. Only for ``not`` terms joined by ``and``, where a mark of the
    module's own is enough to leave a test out whatever other marks it has."""
    if collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    excluded = _excluded_marks(config.option.markexpr)
    if not excluded:
        return None
    found = MODULE_MARKS.search(collection_path.read_text(encoding="utf-8"))
    if found and excluded & set(re.findall(r"pytest\.mark\.(\w+)", found.group(1))):
        return True
    return None


def _excluded_marks(markexpr: str) -> set[str]:
    """The marks ``markexpr`` leaves out when it is ``not A and not B…``; else none."""
    names = set()
    for term in markexpr.split(" and ") if markexpr.strip() else []:
        negated = re.fullmatch(r"\s*not\s+(\w+)\s*", term)
        if negated is None:
            return set()
        names.add(negated.group(1))
    return names


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection made is frozen (gc.freeze): the modules, all they imported and the
    test items, most of a worker's objects and alive to its end. The collector's full passes
    during the tests then walk only what the tests make: they were ~1 s of each xdist worker's
    time in the fast lane. (Objects are still freed when nothing refers to them; only a cycle
    among the frozen ones would stay.)"""
    gc.freeze()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """What is alive when the session ends is frozen, after pytest's own last collection (the
    one that reports what a finalizer raised): the collections that follow, and the
    interpreter's at exit, then skip it. The run waits for each xdist worker to exit, and a
    worker's last collections walked the objects of hundreds of tests again."""
    gc.freeze()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if NEEDS_A_DATABASE & fixtures:
            item.add_marker(pytest.mark.store)
        if STARTS_PROCESSES & fixtures:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tell the harness whether this test is end to end, before any fixture of it starts: one
    that is not fails if it starts the service or a command as a process
    (``support.commands.starting_a_process``)."""
    commands.E2E_TEST = item.get_closest_marker("e2e") is not None


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases | None]:
    """This session's PostgreSQL databases (None when the server does not answer: the tests
    that need one then skip, saying why). Every one is dropped at the end, templates too."""
    databases = PostgresDatabases.connect()
    if databases is None:
        yield None
        return
    try:
        yield databases
    finally:
        databases.close()


@pytest.fixture
def postgres(postgres_databases: PostgresDatabases | None) -> PostgresDatabases:
    """The session's PostgreSQL databases, for a test that needs PostgreSQL whatever the suite
    runs on; a skip, saying why, where no server answers."""
    if postgres_databases is None:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES}: PostgreSQL tests skipped")
    return postgres_databases


@pytest.fixture(autouse=True)
def test_database(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str | None]:
    """With ``SYNDICATOR_TEST_STORE=postgresql``: a fresh PostgreSQL database for this test,
    named by ``$SYNDICATOR_DATABASE`` (its URL, also yielded), dropped afterwards. Otherwise
    nothing: each test's config names its own SQLite file."""
    if TEST_STORE == "sqlite":
        yield None
        return
    if TEST_STORE != "postgresql":
        pytest.fail(f"SYNDICATOR_TEST_STORE must be sqlite or postgresql, not {TEST_STORE!r}")
    if not NEEDS_A_DATABASE & set(request.fixturenames):
        monkeypatch.setenv(DATABASE_ENV, f"{POSTGRES}/syndicator_test_no_database")
        yield None
        return
    databases: PostgresDatabases | None = request.getfixturevalue("postgres_databases")
    if databases is None:
        pytest.skip(
            f"SYNDICATOR_TEST_STORE=postgresql, but PostgreSQL is not reachable at {POSTGRES}"
        )
    name = databases.create()
    url = databases.url(name)
    monkeypatch.setenv(DATABASE_ENV, url)
    try:
        yield url
    finally:
        databases.drop(name)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the repo, or a skip when it is not there (cross-checks only)."""
    if not (SHARED / "fixtures" / "expected.json").is_file():
        pytest.skip(
            "../shared is not beside this checkout: a cross-check against its gold is skipped "
            "(the project's own fixtures are checked by the other tests)"
        )
    return SHARED


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The project's own fixture site, broken inputs, config and gold (``tests/fixtures``)."""
    return FIXTURES


@pytest.fixture(scope="session")
def fixture_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixtureSite]:
    """The project's fixture site on a free loopback port, for the whole session."""
    with run_fixture_site(tmp_path_factory.mktemp("fixture-site")) as site:
        yield site


@pytest.fixture
def private_site(tmp_path: Path) -> Iterator[FixtureSite]:
    """A fixture site of this test's own: its phase and request log are not shared."""
    with run_fixture_site(tmp_path / "fixture-site") as site:
        yield site


@pytest.fixture(scope="session")
def shared_site(
    shared_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FixtureSite]:
    """``../shared/fixtures`` served by the same server, for the cross-checks of its gold."""
    folder = tmp_path_factory.mktemp("shared-site")
    with run_fixture_site(folder, root=shared_dir / "fixtures") as site:
        yield site


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    """``receiver.py`` for this test: webhook target and WebSub subscriber."""
    with run_receiver(tmp_path / "receiver") as r:
        yield r


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Servers of this test; each is stopped with SIGTERM at the end and must exit 0."""
    started: list[Server] = []

    def make(name: str = "service", command: str = "run", **kwargs: Any) -> Server:
        server = Server(tmp_path / name, command, **kwargs)
        started.append(server)
        return server

    try:
        yield make
    finally:
        codes = {}
        for server in started:
            if server.process is not None:
                codes[server.folder.name] = server.stop()
                server.kill()
    assert all(code == 0 for code in codes.values()), (codes, [s.output() for s in started])


@pytest.fixture
def hostile_site() -> Iterator[Any]:
    """A :class:`support.sites.HostileSite` on 127.0.0.1 for this test."""
    site = HostileSite()
    try:
        yield site
    finally:
        site.close()

"""Running the real command line as a user does: ``python -m syndicator --config CONFIG …`` in
the config's folder, captured or on a terminal, and the ``[service]`` table of a deployment in
a temporary folder (its SQLite store and feeds folder)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path


def service_table(folder: Path, extra: str = "") -> str:
    """The ``[service]`` table of a deployment kept in ``folder``: a SQLite store and a feeds
    folder there, the default base URL; ``extra`` lines added to the table."""
    return (
        f'[service]\nbase_url = "http://127.0.0.1:8080"\n'
        f'database = "sqlite:///{folder}/s.db"\nfeeds_dir = "{folder}/feeds"\n{extra}'
    )


# Whether the test running now is marked e2e (set by conftest.py before each test's setup;
# None outside a test session). A command or the service started as a process by a test that
# is not marked e2e fails that test: such a test belongs to the end-to-end lane, not the fast one.
E2E_TEST: bool | None = None


def starting_a_process(what: str) -> None:
    """Fail the current test if it is not marked e2e: it is about to start ``what`` as a
    process (a mark lost or put on the wrong test would otherwise slow the fast lane
    unseen)."""
    if E2E_TEST is False:
        import pytest

        pytest.fail(
            f"this test starts {what} as a process: mark it e2e (pytest.mark.e2e), "
            "or the module (pytestmark = pytest.mark.e2e)",
            pytrace=False,
        )


def command_env() -> dict[str, str]:
    """The environment of a command: this one's, but the config is the one the test names."""
    return {k: v for k, v in os.environ.items() if k != "SYNDICATOR_CONFIG"}


def run_command(
    config: Path, *args: str, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``syndicator --config CONFIG ARGS…`` run to its end, its output captured; in the
    config's folder unless ``cwd``."""
    starting_a_process(f"the command {' '.join(args[:1])!r}")
    return subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd or config.parent,
        env=command_env(),
    )


def run_on_a_terminal(config: Path, *args: str, timeout: float = 120) -> str:
    """What a user sees when both stdout and stderr are the same terminal (the command must
    succeed)."""
    starting_a_process(f"the command {' '.join(args[:1])!r}")
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "syndicator", "--config", str(config), *args],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        cwd=config.parent,
        env=command_env(),
    )
    os.close(follower)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the terminal closed: the command ended
                    break
                if not chunk:
                    break
                out += chunk
            elif process.poll() is not None:
                break
        assert process.wait(timeout=30) == 0, out.decode("utf-8", "replace")
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)
    return out.decode("utf-8", "replace")

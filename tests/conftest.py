"""Shared pytest fixtures: the shared folder beside the repo, and the fixture site served from it.

``shared_dir`` is ``../shared`` (DESIGN.md, fixtures, tools); tests that need it skip cleanly when
it is absent. ``fixture_site`` runs ``shared/tools/fixture_server.py`` on loopback once per test
session and stops it at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURE_SERVER = Path("tools") / "fixture_server.py"
# A backstop only: the server is stopped at the end of the session. Long enough for a full run.
FIXTURE_SERVER_MAX_SECONDS = 900
STARTUP_SECONDS = 15.0


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the repo, or a skip when it is not there."""
    if not (SHARED / FIXTURE_SERVER).is_file():
        pytest.skip("../shared is not present: the shared fixture site is only available in CI")
    return SHARED


@dataclass(frozen=True)
class FixtureSite:
    """The running fixture site: ``base`` is ``http://127.0.0.1:PORT`` (no trailing slash)."""

    base: str

    def url(self, path: str) -> str:
        return self.base + "/" + path.lstrip("/")

    def set_phase(self, phase: str) -> None:
        """Serve the site as it was (``"base"``) or after its update (``"update"``).

        The site is shared by the whole session: a test that changes the phase sets it back.
        """
        if phase not in ("base", "update"):
            raise ValueError(f"unknown phase {phase!r}")
        self._get(f"/__control/phase/{phase}")

    def requests(self) -> list[dict[str, Any]]:
        """The server's request log so far (method, path, status, validators, user agent…)."""
        log: list[dict[str, Any]] = json.loads(self._get("/__requests"))
        return log

    def _get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url(path), timeout=10) as response:
            body: bytes = response.read()
            return body


@pytest.fixture(scope="session")
def fixture_site(
    shared_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FixtureSite]:
    """The shared fixture site on a free loopback port, for the whole session."""
    with run_fixture_site(shared_dir, tmp_path_factory.mktemp("fixture-site")) as site:
        yield site


@pytest.fixture
def private_site(shared_dir: Path, tmp_path: Path) -> Iterator[FixtureSite]:
    """A fixture site of this test's own: its phase and request log are not shared."""
    with run_fixture_site(shared_dir, tmp_path / "fixture-site") as site:
        yield site


@contextmanager
def run_fixture_site(shared_dir: Path, folder: Path) -> Iterator[FixtureSite]:
    folder.mkdir(parents=True, exist_ok=True)
    portfile = folder / "port"
    process = subprocess.Popen(
        [
            sys.executable,
            str(shared_dir / FIXTURE_SERVER),
            "--port",
            "0",
            "--portfile",
            str(portfile),
            "--max-seconds",
            str(FIXTURE_SERVER_MAX_SECONDS),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port = _wait_for_port(portfile, process)
        yield FixtureSite(f"http://127.0.0.1:{port}")
    finally:
        process.kill()
        process.wait(timeout=10)


def _wait_for_port(portfile: Path, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the fixture server exited with code {process.returncode}")
        text = portfile.read_text().strip() if portfile.exists() else ""
        if text.isdigit():
            return int(text)
        time.sleep(0.02)
    pytest.fail(f"the fixture server did not start within {STARTUP_SECONDS:.0f} s")


@dataclass(frozen=True)
class Receiver:
    """``shared/tools/receiver.py``: records webhook POSTs and answers WebSub verifications."""

    base: str

    def received(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self.base + "/__received", timeout=10) as response:
            data: list[dict[str, Any]] = json.loads(response.read())
            return data

    def posts(self) -> list[dict[str, Any]]:
        return [r for r in self.received() if r["kind"] == "post"]


@contextmanager
def run_receiver(shared_dir: Path, folder: Path, fail_first: int = 0) -> Iterator[Receiver]:
    folder.mkdir(parents=True, exist_ok=True)
    portfile = folder / "port"
    process = subprocess.Popen(
        [
            sys.executable,
            str(shared_dir / "tools" / "receiver.py"),
            "--port",
            "0",
            "--portfile",
            str(portfile),
            "--fail-first",
            str(fail_first),
            "--max-seconds",
            "600",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port = _wait_for_port(portfile, process)
        yield Receiver(f"http://127.0.0.1:{port}")
    finally:
        process.kill()
        process.wait(timeout=10)

"""Checks that need an outside tool, and how a check that could not run is reported.

``jing_validate`` checks Atom documents against RFC 4287's RELAX NG schema (the project's own
copy, ``tests/data/atom.rnc``) with jing (``apt-get install jing``). Without jing the check is
not run, and the test goes on: the checks after it still run, and a test that passes them all
is reported as skipped, saying that jing is missing and how to install it (conftest.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ATOM_SCHEMA = Path(__file__).resolve().parents[1] / "data" / "atom.rnc"
NO_JING = "jing is not installed (apt-get install jing): the Atom schema check was not run"
# The JVM's options for jing: its quick compiler alone. A run checks a few documents and is
# over in well under a second, most of it the JVM's start; the optimizing compiler's work
# never pays back in that time (0.43 s a run against 0.65 s with it).
JING_JVM = "-XX:TieredStopAtLevel=1"
# Checks a test could not run (an outside tool is missing), by test id: conftest.py reports a
# test that passed everything else as skipped, with these reasons.
NOT_RUN: dict[str, list[str]] = {}


def not_run(reason: str) -> None:
    """Note that a check of the current test could not run; the test goes on."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    NOT_RUN.setdefault(test, []).append(reason)


def jing_validate(*paths: Path | str, schema: Path = ATOM_SCHEMA) -> None:
    """Validate each file against ``schema`` (RELAX NG compact syntax) in one jing run.

    Fails the test with jing's messages when a file is invalid. Without jing, notes the check
    as not run and returns: the rest of the test still runs."""
    if not paths:
        raise ValueError("jing_validate needs at least one file")
    jing = shutil.which("jing")
    if jing is None:
        not_run(NO_JING)
        return
    run = subprocess.run(
        [jing, "-c", str(schema), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=os.environ | {"JDK_JAVA_OPTIONS": JING_JVM},
    )
    # jing prints its findings on stdout; stderr only carries the launcher's notes (missing
    # jars, the JVM options it picked up).
    if run.returncode != 0 or run.stdout.strip():
        pytest.fail(f"jing rejected the document(s):\n{run.stdout}{run.stderr}", pytrace=False)

"""Helpers that several test modules share (import as ``from helpers import …``).

``jing_validate`` checks Atom documents against RFC 4287's RELAX NG schema in
``../shared/schemas/atom.rnc`` with jing (``apt-get install jing``); a test that calls it is
skipped, with the reason, when jing or the shared folder is missing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
ATOM_SCHEMA = SHARED / "schemas" / "atom.rnc"


def jing_validate(*paths: Path | str, schema: Path = ATOM_SCHEMA) -> None:
    """Validate each file against ``schema`` (RELAX NG compact syntax) in one jing run.

    Fails the test with jing's messages when a file is invalid; skips it when jing is not
    installed or the schema is not there."""
    if not paths:
        raise ValueError("jing_validate needs at least one file")
    jing = shutil.which("jing")
    if jing is None:
        pytest.skip("jing is not installed (apt-get install jing): Atom schema checks skipped")
    if not schema.is_file():
        pytest.skip(f"{schema} is missing (../shared is absent): Atom schema checks skipped")
    run = subprocess.run(
        [jing, "-c", str(schema), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # jing prints its findings on stdout; stderr only carries launcher warnings about jars.
    if run.returncode != 0 or run.stdout.strip():
        pytest.fail(f"jing rejected the document(s):\n{run.stdout}{run.stderr}", pytrace=False)

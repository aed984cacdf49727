"""The suite itself: what pytest-xdist needs from it to run the tests at all.

xdist's workers each collect the suite and must find the same test ids, or the run stops before
any test with "Different tests were collected between gw0 and gw1". An id that embeds something
of the moment (``gzip.compress`` writes the current time into its header) differs between
workers that collect in different seconds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# pytest's collection with the wall clock moved by OFFSET seconds (time.time only).
COLLECT = """
import sys, time
real = time.time
time.time = lambda: real() + float(sys.argv[1])
import pytest
sys.exit(pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", *sys.argv[2:]]))
"""


def collected(offsets: list[float], *paths: str) -> list[list[str]]:
    """The test ids pytest collects from ``paths`` with the clock moved by each offset (the
    collections run side by side)."""
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", COLLECT, str(offset), *paths],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for offset in offsets
    ]
    out = []
    for run in runs:
        text, _ = run.communicate(timeout=300)
        assert run.returncode == 0, text
        out.append([line for line in text.splitlines() if "::" in line])
    return out


@pytest.mark.e2e
def test_test_ids_do_not_depend_on_the_clock() -> None:
    """The modules whose parameters are made when they are imported, collected as if a day
    apart (and a second apart): the same ids."""
    paths = ("tests/test_fetch.py",)
    now, later = collected([0, 86_401], *paths)
    assert now and now == later, sorted(set(now) ^ set(later))

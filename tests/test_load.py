"""The service under steady load for 30 s: no errors, no memory growth, latencies recorded.

Runs ``bench/load.py`` (the real ``syndicator run`` on the samples; wrk as feed readers with
full, gzip and conditional GETs at about 400 requests/s; 3 pushed articles per second; the
service's RSS sampled every 2 s) for 30 s with a 10 s warm-up, and checks what it reports. The
long run (minutes) and its figures are in docs/RELIABILITY.md. Skipped without ``wrk``.

Memory bound: 8 MiB over the 20 s after the warm-up. What may legitimately grow there is the
SQLite page cache of each pooled connection (up to 2 MiB each, filling as every pushed revision
enlarges the database) and the allocator's free lists; a leak of 2 KiB per feed request (about
7,000 requests in that window) or of 150 KiB per push (about 60) would break the bound.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "load.py"
SECONDS, WARMUP, MAX_GROWTH_MIB = 30, 10, 8
TIMEOUT = 90  # the whole test: start, 30 s of load, stop


@pytest.mark.e2e
def test_steady_load_has_no_errors_and_no_memory_growth() -> None:
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (apt-get install -y wrk)")
    run = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            *("--seconds", str(SECONDS), "--warmup", str(WARMUP)),
            *("--max-growth-mib", str(MAX_GROWTH_MIB), "--json"),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert run.stdout.strip(), run.stderr
    result = json.loads(run.stdout)
    feeds, pushes, memory = result["feeds"], result["pushes"], result["memory_kib"]
    summary = {
        "feeds": {k: feeds[k] for k in ("requests", "statuses", "latency_ms")},
        "pushes": {k: pushes[k] for k in ("requests", "statuses", "latency_ms")},
        "memory": {k: v for k, v in memory.items() if k != "samples"},
    }
    print(json.dumps(summary))  # shown with -s, and on failure
    assert result["failures"] == [], result["failures"]
    assert run.returncode == 0
    # Every feed answer was a 200 or a 304, both kinds were seen, none failed on the socket.
    assert set(feeds["statuses"]) == {"200", "304"}
    assert not any(feeds["socket_errors"].values())
    assert feeds["requests"] >= 100 * SECONDS
    # Every push stored: the pool created first, then updated.
    assert set(pushes["statuses"]) == {"200"}
    assert set(pushes["changes"]) == {"created", "updated"}
    assert pushes["requests"] >= 2 * SECONDS
    assert memory["growth"] < MAX_GROWTH_MIB * 1024
    assert result["log"]["bad_lines"] == [] and result["exit_code"] == 0

"""``syndicator ingest`` as an operator misuses it or a hostile document meets it: every
failure is said (no traceback), the exit code tells it, what was stored stays stored. Through
the real command."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.commands import command_env, run_command, service_table, starting_a_process

pytestmark = pytest.mark.e2e


def deployment(folder: Path) -> Path:
    config = folder / "syndicator.toml"
    config.write_text(
        service_table(folder) + '\n[[region]]\nid = "europe"\ntitle = "Europe"\nlanguage = "en"\n'
        'sections = ["Europe"]\n',
        encoding="utf-8",
    )
    return config


def articles(folder: Path, count: int) -> Path:
    path = folder / "articles.ndjson"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "url": f"https://news.example/{n}.html",
                    "title": f"Story {n}",
                    "section": "Europe",
                    "published": "2026-02-03T10:00:00Z",
                    "paragraphs": [f"What happened in story {n}."],
                }
            )
            + "\n"
            for n in range(count)
        ),
        encoding="utf-8",
    )
    return path


def test_feeds_that_cannot_be_written_are_said_after_what_was_stored(tmp_path: Path) -> None:
    """The feeds folder is not a folder: the articles are stored and counted, publishing's
    failure is one line saying so, the summary still ends the output, the exit code is 1."""
    config = deployment(tmp_path)
    (tmp_path / "feeds").write_text("not a folder", encoding="utf-8")
    path = articles(tmp_path, 3)

    done = run_command(config, "ingest", str(path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stdout.count("created ") == 3, done.stdout
    assert "publishing failed: " in done.stderr and "feeds" in done.stderr, done.stderr
    assert "is not a folder" in done.stderr, done.stderr  # not the system's "File exists"
    summary = done.stderr.strip().splitlines()[-1]
    assert summary.startswith("ingest: 3 article(s) from 1 document(s)"), summary
    assert "3 created" in summary and "1 error(s)" in summary, summary

    as_json = run_command(config, "ingest", "--json", str(path))
    assert as_json.returncode == 1, as_json.stdout + as_json.stderr
    out = json.loads(as_json.stdout)
    assert [r["change"] for r in out["results"]] == ["unchanged"] * 3
    assert len(out["errors"]) == 1 and "publishing failed: " in out["errors"][0], out

    # Once the folder can be written, the next run publishes what was stored.
    (tmp_path / "feeds").unlink()
    again = run_command(config, "ingest", str(path))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "story 2" in (tmp_path / "feeds" / "europe.atom").read_text(encoding="utf-8").lower()


@pytest.mark.parametrize("source", ["nosuch", "", "a\x1b[31mb"])
def test_a_source_that_is_not_configured_is_refused_before_anything_is_stored(
    tmp_path: Path, source: str
) -> None:
    """``--source`` names a configured source (or ``push``, the default), as ``once`` and
    ``extract`` require: a typo would file the articles under a source no page shows."""
    config = deployment(tmp_path)
    path = articles(tmp_path, 2)

    done = run_command(config, "ingest", "--source", source, str(path))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert f"no source {source!r} in the configuration" in done.stderr, done.stderr
    assert done.stdout == "", done.stdout  # nothing stored, nothing published

    pushed = run_command(config, "ingest", "--source", "push", str(path))
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    assert pushed.stdout.count("created ") == 2, pushed.stdout


def test_ctrl_c_while_readers_read_says_what_was_stored_and_leaves_no_process(
    tmp_path: Path,
) -> None:
    """SIGINT in the middle of a streamed document read by reader processes: exit 130, one
    line saying it was interrupted and how much was stored (the stored batches stay, the next
    run publishes them), no traceback, and no process of the command left behind."""
    config = deployment(tmp_path)
    path = articles(tmp_path, 20_000)
    starting_a_process("the command 'ingest'")
    command = [sys.executable, "-m", "syndicator", "--config", str(config), "ingest"]
    process = subprocess.Popen(
        [*command, "--workers", "2", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=command_env(),
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # a batch is stored: the readers are reading
        assert first.startswith(b"created "), first
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = err.decode("utf-8", "replace")
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    last = (stderr.strip().splitlines() or [""])[-1]
    assert last.startswith("ingest: interrupted: ") and "stored" in last, stderr
    deadline = time.monotonic() + 10
    while True:
        left = []
        for entry in Path("/proc").iterdir():
            try:
                cmdline = (entry / "cmdline").read_bytes() if entry.name.isdigit() else b""
            except OSError:
                continue
            if str(config).encode() in cmdline:
                left.append(entry.name)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert left == [], left

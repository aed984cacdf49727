"""What a command loads: only what it uses. ``--help`` loads no part of the pipeline, and a
``once`` whose sources all answer 304 reads no document, so it never loads a parser (bs4,
feedparser, cssselect, lxml, pycld2…) nor the extractors and normalizer behind them, renders no
region (feedgen, nh3), and its fetches over aiohttp load no httpx (``syndicator.lazy``,
docs/architecture.md).

Each command runs as a process of its own, which then says which modules it holds: a
deterministic check of what start-up costs, where a timing would not be.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.commands import command_env, service_table
from support.sites import Site

pytestmark = pytest.mark.e2e  # the commands, as processes

# Parsers, and the modules of ours that hold them: a command that reads no document never
# needs one.
PARSERS = (
    "bs4",
    "soupsieve",
    "feedparser",
    "charset_normalizer",
    "cssselect",
    "pycld2",
    "trafilatura",
    "readability",
    "syndicator.extract.dom",
    "syndicator.extract.feed",
    "syndicator.extract.html",
    "syndicator.normalize.article",
    "syndicator.normalize.body",
    "syndicator.normalize.language",
)
# What runs a pass, publishes or serves: --help needs none of it.
PIPELINE = (
    "sqlalchemy",
    "aiohttp",
    "httpx",
    "feedgen",
    "croniter",
    "apscheduler",
    "granian",
    "uvicorn",
    "syndicator.syndication",
    "syndicator.store",
    "syndicator.fetch.client",
    "syndicator.ingest.once",
)

# httpx and what it brings: a fetch over aiohttp of URLs in plain form needs none of them
# (syndicator.fetch.lib).
HTTPX = ("httpx", "httpcore", "rich", "click")

# What renders a region, reads a document or routes an article, and the renderer and reader
# processes: a `once` whose sources all answer 304 publishes nothing and reads nothing.
UNCHANGED = (
    "lxml",
    "feedgen",
    "dateutil",
    "nh3",
    "concurrent.futures.process",
    "syndicator.publish.render",
    "syndicator.pages",
    "syndicator.processes",
    "syndicator.ingest.document",
    "syndicator.ingest.stream",
    "syndicator.regions",
)

# The command as `python -m syndicator` runs it, then the names of the modules it holds (in
# the file named by its first argument).
COMMAND = """\
import json, runpy, sys
out, sys.argv = sys.argv[1], ["syndicator", *sys.argv[2:]]
try:
    runpy.run_module("syndicator", run_name="__main__", alter_sys=True)
finally:
    with open(out, "w") as f:
        json.dump(sorted(sys.modules), f)
"""

FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>News</title><link>http://example.org/</link>
<item><title>A story of the day, told at some length</title>
<link>http://example.org/a/1.html</link><guid>http://example.org/a/1.html</guid>
<pubDate>Tue, 10 Feb 2026 09:00:00 GMT</pubDate>
<description>What happened, and why it matters to those who read about it.</description></item>
</channel></rss>"""


def loaded(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``syndicator ARGS…``; what it printed and the modules it held at its end."""
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", COMMAND, str(out), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        env=command_env(),
    )
    return done, set(json.loads(out.read_text()))


def held(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if n in modules or any(m.startswith(n + ".") for m in modules))


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


def test_help_loads_no_part_of_the_pipeline(tmp_path: Path) -> None:
    done, modules = loaded(tmp_path, "--help")
    assert done.returncode == 0, done.stderr
    assert "once" in done.stdout
    assert held(modules, PARSERS + PIPELINE + UNCHANGED) == []


def test_a_once_of_304s_loads_no_parser(tmp_path: Path, site: Site) -> None:
    site.pages["/feed.rss"] = FEED
    config = tmp_path / "syndicator.toml"
    config.write_text(
        service_table(tmp_path, "respect_robots = false\n")
        + '\n[[region]]\nid = "news"\ntitle = "News"\n'
        + f'\n[[source]]\nid = "s"\nkind = "rss"\nurl = "{site.base}/feed.rss"\nevery = "5m"\n'
        + 'fetch_pages = "never"\n',
        encoding="utf-8",
    )
    first, modules = loaded(tmp_path, "--config", str(config), "once")
    assert first.returncode == 0, first.stderr
    assert "s: 1 created" in first.stdout, first.stdout
    assert "syndicator.extract.feed" in modules  # the first pass read the feed

    again, modules = loaded(tmp_path, "--config", str(config), "once")
    assert again.returncode == 0, again.stderr
    assert "s: not modified" in again.stdout, again.stdout
    assert "nothing to publish" in again.stdout, again.stdout
    assert held(modules, PARSERS + HTTPX + UNCHANGED) == []


def test_once_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path) -> None:
    """``once`` collects garbage its own way while it runs (cli.common.few_collections), and
    puts Python's settings back when it is done: here it runs in the tests' own process, with
    nothing frozen (what the test harness froze is put back for the while)."""
    import gc

    from syndicator import cli

    config = tmp_path / "syndicator.toml"
    config.write_text(
        service_table(tmp_path) + '\n[[region]]\nid = "news"\ntitle = "News"\n', encoding="utf-8"
    )
    gc.unfreeze()
    try:
        thresholds = gc.get_threshold()
        assert cli.main(["--config", str(config), "once"]) == 0
        assert gc.isenabled()
        assert (gc.get_threshold(), gc.get_freeze_count()) == (thresholds, 0)
    finally:
        gc.freeze()


def test_once_keeps_what_its_caller_froze_frozen(tmp_path: Path) -> None:
    """A process that froze objects of its own before running ``once`` in it keeps them frozen,
    and ``once`` freezes nothing more there (``gc.unfreeze`` cannot tell whose objects are
    whose): the frozen count can only fall, as frozen objects die, never to none."""
    import gc

    from syndicator import cli

    config = tmp_path / "syndicator.toml"
    config.write_text(
        service_table(tmp_path) + '\n[[region]]\nid = "news"\ntitle = "News"\n', encoding="utf-8"
    )
    gc.freeze()
    thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
    assert cli.main(["--config", str(config), "once"]) == 0
    assert gc.isenabled()
    assert gc.get_threshold() == thresholds
    assert 0 < gc.get_freeze_count() <= frozen

"""`syndicator once` end to end: the real CLI, the fixture site over HTTP, a real SQLite file.

Phase base gives exactly the gold's entries per region; a second pass changes nothing at all;
phase update gives exactly one updated and one created story, ids unchanged, asia untouched.
Every feed is read back by feedparser and every Atom file is checked against RFC 4287's schema.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import feedparser
import pytest
from support.checks import jing_validate
from support.gold import expected_regions, gold_of

from syndicator.config import Config, Source
from syndicator.ingest.source_pass import source_ranks
from syndicator.store import Store

pytestmark = pytest.mark.e2e  # end to end: the service or its commands, as processes

REGIONS = ("europe", "asia", "all")


class Deployment:
    """A config folder, database and feeds folder in a temporary directory."""

    def __init__(self, fixtures_dir: Path, base: str, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        text = (fixtures_dir / "config" / "syndicator.toml").read_text(encoding="utf-8")
        text = (
            text.replace("{{BASE}}", base)
            .replace("{{SELF}}", "http://127.0.0.1:8080")
            .replace("{{DIR}}", str(folder))
        )
        self.config = folder / "syndicator.toml"
        self.config.write_text(text, encoding="utf-8")
        self.feeds = folder / "feeds"
        # The config names a SQLite file; $SYNDICATOR_DATABASE (a PostgreSQL run) replaces it.
        self.database = os.environ.get("SYNDICATOR_DATABASE") or f"sqlite:///{folder}/syndicator.db"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "SYNDICATOR_CONFIG"}
        return subprocess.run(
            [sys.executable, "-m", "syndicator", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=self.folder,
            env=env,
        )

    def once(self) -> str:
        run = self.run("once")
        assert run.returncode == 0, run.stdout + run.stderr
        assert "Traceback" not in run.stderr
        return run.stdout

    def files(self) -> dict[str, str]:
        return {
            str(p.relative_to(self.feeds)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(self.feeds.rglob("*"))
            if p.is_file()
        }

    def feed(self, region: str, fmt: str = "atom") -> Any:
        parsed = feedparser.parse((self.feeds / f"{region}.{fmt}").read_bytes())
        assert not parsed.bozo, parsed.get("bozo_exception")
        return parsed

    def links(self, region: str) -> list[str]:
        return [e.link for e in self.feed(region).entries]

    def ids(self, region: str) -> dict[str, str]:
        return {e.link: e.id for e in self.feed(region).entries}

    def store(self) -> Store:
        return Store(self.database)


def check_feeds(deployment: Deployment) -> None:
    """Every feed valid: feedparser without bozo, Atom against the schema, RSS and JSON shape."""
    for region in REGIONS:
        deployment.feed(region, "atom")
        rss = deployment.feed(region, "rss")
        raw_rss = (deployment.feeds / f"{region}.rss").read_text(encoding="utf-8")
        assert raw_rss.count('<guid isPermaLink="false">') == len(rss.entries)
        data = json.loads((deployment.feeds / f"{region}.json").read_text(encoding="utf-8"))
        assert data["version"] == "https://jsonfeed.org/version/1.1"
        assert data["title"] and isinstance(data["items"], list)
        for item in data["items"]:
            assert item["id"] and item["url"] and item["date_published"]
    jing_validate(*sorted(deployment.feeds.rglob("*.atom")))


@pytest.fixture
def deployment(fixtures_dir: Path, private_site: Any, tmp_path: Path) -> Deployment:
    return Deployment(fixtures_dir, private_site.base, tmp_path / "deploy")


def test_once_through_both_phases(
    deployment: Deployment, private_site: Any, fixtures_dir: Path
) -> None:
    gold = gold_of(fixtures_dir, private_site.base)
    expected = expected_regions(gold)

    # Phase base: exactly the gold's entries; each story once.
    deployment.once()
    for region in REGIONS:
        links = deployment.links(region)
        assert sorted(links) == sorted(expected[region]), region
        assert len(links) == len(set(links))
    (same_story,) = gold["same_story"]
    for copy in same_story[1:]:
        assert copy not in deployment.links("all")
    check_feeds(deployment)

    store = deployment.store()
    counts, events = store.counts(), store.events()
    created = [e for e in events if e["type"] == "article.created"]
    assert sorted(e["article"]["url"] for e in created) == sorted(expected["all"])
    store.close()

    # A second pass: no new rows, no events, every published file byte-identical.
    files = deployment.files()
    deployment.once()
    store = deployment.store()
    assert store.counts() == counts
    assert store.events() == events
    store.close()
    assert deployment.files() == files

    # Phase update: exactly the gold's updated and created stories.
    ids_before = deployment.ids("all")
    asia_files = {k: v for k, v in files.items() if k.startswith("asia.")}
    private_site.set_phase("update")
    deployment.once()
    store = deployment.store()
    new_events = store.events(since_id=max(e["seq"] for e in events))
    store.close()
    update = gold["update_phase"]
    by_type: dict[str, list[str]] = {}
    for e in new_events:
        if e["type"].startswith("article."):
            by_type.setdefault(e["type"], []).append(e["article"]["url"])
    assert by_type == {"article.updated": update["updated"], "article.created": update["created"]}
    ids_after = deployment.ids("all")
    assert {u: ids_after[u] for u in ids_before} == ids_before  # entry ids never change
    for url in update["created"]:
        assert url in deployment.links("europe")
    changed = {k for k, v in deployment.files().items() if files.get(k) != v}
    for region in update["regions_changed"]:
        assert f"{region}.atom" in changed
    for region in update["regions_unchanged"]:
        assert not any(k.startswith(f"{region}.") for k in changed)
    assert {k: v for k, v in deployment.files().items() if k.startswith("asia.")} == asia_files
    updated_entry = next(
        e for e in deployment.feed("europe").entries if e.link == update["updated"][0]
    )
    assert updated_entry.updated > updated_entry.published
    check_feeds(deployment)


def test_explain_names_the_story_a_reprint_duplicates(
    deployment: Deployment, private_site: Any, fixtures_dir: Path
) -> None:
    gold = gold_of(fixtures_dir, private_site.base)
    original, _, reprint = gold["same_story"][0]
    deployment.once()
    run = deployment.run("explain", reprint)
    assert run.returncode == 0, run.stderr
    assert original in run.stdout
    assert "same content hash" in run.stdout
    assert "duplicate" in run.stdout
    record = json.loads(deployment.run("explain", "--json", reprint).stdout)
    assert record["key"] == original
    assert record["found_via"]["relation"] == "duplicate"
    assert record["found_via"]["source"] == "partner"
    assert {loc["url"] for loc in record["locations"]} >= {original, reprint}


def test_status_after_a_pass(deployment: Deployment) -> None:
    deployment.once()
    run = deployment.run("status", "--json")
    assert run.returncode == 0, run.stderr
    rows = {row["id"]: row for row in json.loads(run.stdout)}
    assert set(rows) == {"example-europe", "example-asia", "example-rss", "partner"}
    assert all(row["health"] == "ok" and row["last_status"] == 200 for row in rows.values())
    assert rows["example-europe"]["created"] == 3
    table = deployment.run("status")
    assert table.returncode == 0 and "example-europe" in table.stdout


def test_a_failing_source_does_not_stop_the_others(
    deployment: Deployment, private_site: Any
) -> None:
    with deployment.config.open("a", encoding="utf-8") as f:
        f.write(
            f'\n[[source]]\nid = "broken"\nkind = "rss"\n'
            f'url = "{private_site.base}/__fault/status/500"\nevery = "5m"\n'
        )
    run = deployment.run("once")
    assert run.returncode == 1
    assert "broken: failed: HTTP 500" in run.stdout
    assert len(deployment.links("europe")) == 4
    rows = {r["id"]: r for r in json.loads(deployment.run("status", "--json").stdout)}
    assert rows["broken"]["health"] == "failing"
    assert rows["broken"]["last_error"] == "HTTP 500"
    assert rows["example-europe"]["health"] == "ok"


def test_the_passes_of_one_configuration_share_its_source_ranks() -> None:
    """Config order ranks sources (the first to carry a story gives its entry's address); the
    map is made once per configuration, not once per pass of each of its sources."""
    sources = tuple(
        Source(id=f"s{n}", kind="rss", url=f"https://news.example/{n}.xml") for n in range(5)
    )
    config = Config(sources=sources)
    ranks = source_ranks(config)
    assert dict(ranks) == {f"s{n}": n for n in range(5)}
    assert source_ranks(config) is ranks
    assert source_ranks(replace(config, sources=sources)) is ranks  # the same sources
    reloaded = replace(config, sources=sources[::-1])
    assert dict(source_ranks(reloaded)) == {f"s{n}": 4 - n for n in range(5)}
    assert source_ranks(config) is ranks

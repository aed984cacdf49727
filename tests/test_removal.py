"""A stored article whose page disappears (410 at once, or 404 on two passes) is removed: an
``article.removed`` event, and an RFC 6721 tombstone instead of its entry in the region's Atom.

A small site on loopback whose pages the test can take down; passes run with ``now`` moved
forward so that the hourly recheck of recent pages is due.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from support.checks import jing_validate
from support.feed_order import check_feed_order
from support.sites import Site

from syndicator import config
from syndicator.ingest import run_once
from syndicator.syndication import Syndication

T0 = datetime(2026, 2, 10, 12, tzinfo=UTC)


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


def make_app(tmp_path: Path, site: Site) -> Syndication:
    path = tmp_path / "syndicator.toml"
    path.write_text(
        f"""
[service]
database = "sqlite:///{tmp_path}/s.db"
feeds_dir = "{tmp_path}/feeds"
respect_robots = false

[[region]]
id = "europe"
title = "أوروبا"
sections = ["أوروبا"]

[[source]]
id = "site"
kind = "html"
url = "{site.base}/europe.html"
""",
        encoding="utf-8",
    )
    return Syndication(config.load(path, environ={}))


def once(app: Syndication, when: datetime) -> None:
    result = asyncio.run(run_once(app.config, app.store, now=when))
    assert not result.failed, result.failed[0].error
    app.publish_changes(result.regions)


def test_gone_pages_become_tombstones(tmp_path: Path, site: Site) -> None:
    site.article("one", "الخبر الأول")
    site.article("two", "الخبر الثاني")
    site.listing(["one", "two"])
    app = make_app(tmp_path, site)
    once(app, T0)
    atom = Path(app.config.service.feeds_dir) / "europe.atom"
    assert len(feedparser.parse(atom.read_bytes()).entries) == 2

    site.pages["/a/one.html"] = 410  # gone: removed at the first recheck
    site.pages["/a/two.html"] = 404  # not found: removed only if it stays so
    once(app, T0 + timedelta(hours=2))
    types = [e["type"] for e in app.store.events()]
    assert types.count("article.removed") == 1
    once(app, T0 + timedelta(hours=4))
    removed = [e for e in app.store.events() if e["type"] == "article.removed"]
    assert [e["article"]["url"] for e in removed] == [
        f"{site.base}/a/one.html",
        f"{site.base}/a/two.html",
    ]
    assert removed[1]["changes"]["reason"] == "not found (HTTP 404) 2 times"

    text = atom.read_text(encoding="utf-8")
    parsed = feedparser.parse(atom.read_bytes())
    assert parsed.entries == []
    assert text.count("<at:deleted-entry") == 2
    assert 'xmlns:at="http://purl.org/atompub/tombstones/1.0"' in text
    jing_validate(atom)
    app.announce()
    feed_updates = [e for e in app.store.events() if e["type"] == "feed.updated"]
    assert sum(len(e["changes"]["removed"]) for e in feed_updates) == 2
    check_feed_order(app.store)  # tombstones and counts read as before the indexes
    app.close()


def test_a_page_that_comes_back_is_not_removed(tmp_path: Path, site: Site) -> None:
    site.article("one", "الخبر الأول")
    site.listing(["one"])
    app = make_app(tmp_path, site)
    once(app, T0)
    page = site.pages["/a/one.html"]
    site.pages["/a/one.html"] = 404
    once(app, T0 + timedelta(hours=2))  # one miss
    site.pages["/a/one.html"] = page
    once(app, T0 + timedelta(hours=4))  # back (and the miss count reset)
    site.pages["/a/one.html"] = 404
    once(app, T0 + timedelta(hours=6))  # one miss again
    assert not [e for e in app.store.events() if e["type"] == "article.removed"]
    assert check_feed_order(app.store) == 2  # europe and all
    app.close()

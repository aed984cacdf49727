"""The store's identity contract, on a real SQLite file and on PostgreSQL.

PostgreSQL is the one at ``$SYNDICATOR_TEST_POSTGRES`` (default: postgres on 127.0.0.1:5432);
each test gets a fresh database, dropped afterwards, copied from a template the store created
once in the session (``support.database``). Those cases skip, saying why, only where no server
answers.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support.database import PostgresDatabases
from support.feed_order import check_feed_order

from syndicator import fingerprint
from syndicator.errors import StoreError
from syndicator.model import Article, RegionMatch
from syndicator.store import SCHEMA_VERSION, Store, articles, meta, schema

NOW = datetime(2026, 2, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new store's URL: a SQLite file, or a new PostgreSQL database holding the current
    schema (copied from the session's template, as the store creates it on open)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/store.db"
        return
    postgres: PostgresDatabases = request.getfixturevalue("postgres")
    with postgres.database() as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A store; whatever a test left in it, its feeds then read as the queries of schema
    version 5 read them (``support.feed_order``: every region, several limits)."""
    s = Store(store_url, host="test.example")
    yield s
    check_feed_order(s)
    s.close()


def make(key: str, title: str, paragraphs: list[str], **extra: object) -> Article:
    fields: dict[str, object] = {
        "key": key,
        "url": key,
        "title": title,
        "paragraphs": tuple(paragraphs),
        "content_html": "".join(f"<p>{p}</p>" for p in paragraphs),
        "content_hash": fingerprint.content_hash(title, paragraphs),
        "similarity": fingerprint.signature(title, paragraphs),
        "published": NOW - timedelta(hours=1),
        "regions": (RegionMatch("europe", "section", "أوروبا"),),
    }
    return Article(**(fields | extra))  # type: ignore[arg-type]


def story(seed: int, n: int = 12) -> list[str]:
    return [" ".join(f"w{seed}x{i}x{j}" for j in range(20)) + "." for i in range(n)]


def test_created_then_unchanged(store: Store) -> None:
    a = make("https://n.example/a", "خبر أول", story(1))
    first = store.apply("src", [a], now=NOW)
    assert [c.change for c in first.changes] == ["created"]
    assert first.regions == {"europe"}
    counts, events = store.counts(), store.events()
    second = store.apply("src", [a], now=NOW + timedelta(minutes=5))
    assert [c.change for c in second.changes] == ["unchanged"]
    assert not second.changed
    assert store.counts() == counts and store.events() == events
    assert [e["type"] for e in events] == ["article.created"]
    assert events[0]["article"]["url"] == a.url


def test_retypeset_is_unchanged(store: Store) -> None:
    store.apply("src", [make("https://n.example/a", "عزَّز الرئيس", ["قالَ، «نعم»."])], now=NOW)
    again = make("https://n.example/a", "عزز الرئيس", ['قال "نعم"'])
    assert store.apply("src", [again], now=NOW).changes[0].change == "unchanged"


def test_updated_keeps_the_id_and_records_a_revision(store: Store) -> None:
    a = make("https://n.example/a", "خبر", story(1))
    entry_id = store.apply("src", [a], now=NOW).changes[0].entry_id
    corrected = make("https://n.example/a", "خبر", [*story(1), "تحديث: فقرة جديدة."])
    later = NOW + timedelta(hours=2)
    change = store.apply("src", [corrected], now=later).changes[0]
    assert change.change == "updated" and change.entry_id == entry_id
    record = store.explain(entry_id or "")
    assert record is not None
    assert record["revision"] == 1
    (revision,) = record["revisions"]
    assert revision["previous_hash"] == a.content_hash
    assert revision["new_hash"] == corrected.content_hash
    assert "+تحديث: فقرة جديدة." in revision["diff"]
    (entry,) = store.entries("europe")
    assert entry.id == entry_id and entry.updated == later and entry.published < later
    events = store.events()
    assert [e["type"] for e in events] == ["article.created", "article.updated"]
    assert events[1]["changes"]["previous_hash"] == a.content_hash


def test_a_summary_never_replaces_the_full_text(store: Store) -> None:
    store.apply("src", [make("https://n.example/a", "خبر", story(1))], now=NOW)
    summary = make("https://n.example/a", "خبر", story(1)[:1], complete=False)
    assert store.apply("feed", [summary], now=NOW).changes[0].change == "unchanged"


def test_duplicate_is_a_location_of_the_stored_article(store: Store) -> None:
    original = make("https://n.example/a", "خبر", story(1))
    reprint = make("https://partner.example/copy", "خبر", story(1), regions=())
    store.apply("site", [original], now=NOW)
    change = store.apply("partner", [reprint], now=NOW).changes[0]
    assert change.change == "duplicate"
    assert "same content hash as https://n.example/a" in change.reason
    assert [e.article.url for e in store.entries("all")] == [original.url]
    record = store.explain("https://partner.example/copy")
    assert record is not None and record["key"] == original.key
    assert record["found_via"]["relation"] == "duplicate"
    # Seen again: still a duplicate, nothing new written.
    counts = store.counts()
    assert store.apply("partner", [reprint], now=NOW).changes[0].change == "duplicate"
    assert store.counts() == counts


def test_near_duplicates_are_clustered_and_can_be_suppressed(store: Store) -> None:
    base = story(1, 20)
    a = make("https://n.example/a", "خبر", base)
    edited = [*base[:10], base[10].replace("w1x10x3", "changed"), *base[11:]]
    b = make("https://other.example/b", "خبر", edited)
    store.apply("s1", [a], now=NOW, suppress=frozenset({"europe"}))
    change = store.apply("s2", [b], now=NOW, suppress=frozenset({"europe"})).changes[0]
    assert change.change == "created"
    assert "near-duplicate of https://n.example/a" in change.reason
    assert [e.article.key for e in store.entries("europe")] == [a.key]  # suppressed there
    assert len(store.entries("all")) == 2
    record = store.explain(b.key)
    assert record is not None
    assert record["near_duplicates"] == [{"id": record["near_duplicates"][0]["id"], "key": a.key}]
    assert record["regions"][0]["suppressed"] is True


def test_near_duplicates_are_kept_where_not_suppressed(store: Store) -> None:
    base = story(2, 20)
    a = make("https://n.example/a", "خبر", base)
    b = make("https://n.example/b", "خبر", [*base[:19], base[19] + " extra"])
    store.apply("s", [a, b], now=NOW)
    assert len(store.entries("europe")) == 2


def test_regions_join_once_with_reasons_and_sequence(store: Store) -> None:
    a = make("https://n.example/a", "أ", story(1))
    b = make(
        "https://n.example/b", "ب", story(2), regions=(RegionMatch("asia", "dateline", "هانوي"),)
    )
    store.apply("s", [a, b], now=NOW)
    later = replace(a, regions=(*a.regions, RegionMatch("asia", "source", "default")))
    result = store.apply("s", [later], now=NOW)
    assert result.regions == {"asia"}
    assert [e.article.key for e in store.archive("asia", 1, 10)] == [b.key, a.key]
    assert store.region_size("asia") == 2
    record = store.explain(a.key)
    assert record is not None
    assert {r["region"]: r["reasons"] for r in record["regions"]} == {
        "asia": ["asia: source 'default'"],
        "europe": ["europe: section 'أوروبا'"],
    }


def test_feed_updated_is_announced_once_per_region(store: Store) -> None:
    a = make("https://n.example/a", "أ", story(1))
    store.apply("s", [a], now=NOW)
    (pending,) = store.pending_changes()
    assert pending.region == "europe" and len(pending.created) == 1
    store.announce(pending, NOW, {"region": "europe"})
    assert store.pending_changes() == []
    event = store.events()[-1]
    assert event["type"] == "feed.updated" and event["changes"]["created"] == list(pending.created)


def test_validators_are_saved_with_the_pass(store: Store) -> None:
    store.apply("s", [], now=NOW, validators=[("https://n.example/feed", '"e1"', "Tue", 200)])
    assert store.validators("s", "https://n.example/feed") == ('"e1"', "Tue")
    store.apply("s", [], now=NOW, validators=[("https://n.example/feed", '"e2"', None, 200)])
    assert store.validators("s", "https://n.example/feed") == ('"e2"', None)


def test_validators_belong_to_a_source_and_a_url(store: Store) -> None:
    """Two sources reading one address each keep their own validators: one's 304 never
    stands for the other's read."""
    url = "https://n.example/page"
    store.apply("html-source", [], now=NOW, validators=[(url, '"h"', None, 200)])
    assert store.validators("rss-source", url) is None
    assert store.validators_of([("rss-source", url), ("html-source", url)]) == {
        ("html-source", url): ('"h"', None)
    }
    store.apply("rss-source", [], now=NOW, validators=[(url, '"r"', "Mon", 200)])
    assert store.validators("html-source", url) == ('"h"', None)
    assert store.validators("rss-source", url) == ('"r"', "Mon")
    with store.transaction() as conn:
        assert store.record_miss(conn, "rss-source", url, NOW) == 1
        assert store.record_miss(conn, "rss-source", url, NOW) == 2
        assert store.record_miss(conn, "html-source", url, NOW) == 1


def test_a_version_3_store_keeps_its_validators_per_owning_source(store_url: str) -> None:
    store = Store(store_url)
    store.sync_sources([("feed", "rss", "https://n.example/feed"), ("other", "rss", "https://o/")])
    store.apply("feed", [make("https://n.example/a", "أ", story(1))], now=NOW)
    store.record_pass("feed", at=NOW, ok=True, status=200, error=None, found=3)
    # Back to version 3: validators keyed by URL alone, no last_found_some.
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE http_cache"))
        conn.execute(
            sa.text(
                "CREATE TABLE http_cache (url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT, "
                "checked_at TIMESTAMP NOT NULL, status INTEGER, misses INTEGER NOT NULL DEFAULT 0)"
            )
        )
        for url, etag in (
            ("https://n.example/feed", '"f"'),  # the listing of source "feed"
            ("https://n.example/a", '"a"'),  # the page of its article
            ("https://n.example/sitemap-child.xml", '"c"'),  # nobody's: dropped
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO http_cache (url, etag, checked_at, status, misses) "
                    "VALUES (:url, :etag, '2026-02-10 12:00:00', 200, 0)"
                ),
                {"url": url, "etag": etag},
            )
        conn.execute(sa.text("ALTER TABLE sources DROP COLUMN last_found_some"))
        conn.execute(sa.update(meta).values(value="3"))
    store.close()
    upgraded = Store(store_url)
    try:
        assert upgraded.schema_version() == SCHEMA_VERSION == 6
        assert upgraded.validators("feed", "https://n.example/feed") == ('"f"', None)
        assert upgraded.validators("feed", "https://n.example/a") == ('"a"', None)
        assert upgraded.validators("other", "https://n.example/feed") is None
        assert upgraded.validators("feed", "https://n.example/sitemap-child.xml") is None
        state = upgraded.source_state("feed")
        assert state is not None and state.last_found_some == 3
        assert upgraded.integrity_check() == []
    finally:
        upgraded.close()


def test_entry_ids_are_tag_uris_derived_from_the_key(store: Store, tmp_path: Path) -> None:
    a = make("https://n.example/a", "أ", story(1))
    entry_id = store.apply("s", [a], now=NOW).changes[0].entry_id
    assert entry_id is not None and entry_id.startswith("tag:test.example,2026-02-10:article/")
    other = Store(f"sqlite:///{tmp_path}/other.db", host="test.example")
    assert other.apply("s", [a], now=NOW).changes[0].entry_id == entry_id
    other.close()


def test_source_state(store: Store) -> None:
    store.sync_sources([("s", "rss", "https://n.example/feed")])
    store.record_pass(
        "s", at=NOW, ok=False, status=500, error="HTTP 500", found=None, health="failing"
    )
    store.record_pass(
        "s", at=NOW, ok=False, status=500, error="HTTP 500", found=None, health="failing"
    )
    (state,) = store.source_states()
    assert (state.health, state.failures, state.last_error) == ("failing", 2, "HTTP 500")
    store.record_pass("s", at=NOW, ok=True, status=200, error=None, found=4, health="ok")
    (state,) = store.source_states()
    assert (state.health, state.failures, state.last_error, state.last_found) == ("ok", 0, None, 4)
    assert json.dumps(state.to_json())


def test_schema_version_and_integrity(store: Store, store_url: str) -> None:
    assert store.schema_version() == SCHEMA_VERSION
    assert store.integrity_check() == []
    with store.engine.begin() as conn:
        conn.execute(sa.update(meta).values(value=str(SCHEMA_VERSION + 1)))
    with pytest.raises(Exception, match="newer than this syndicator"):
        Store(store_url)


def test_a_version_1_store_upgrades_itself(store_url: str) -> None:
    url = store_url
    store = Store(url)
    store.apply("s", [make("https://n.example/a", "أ", story(1))], now=NOW)
    # Take the database back to schema version 1 as an older syndicator left it.
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE deliveries"))
        conn.execute(sa.text("DROP TABLE subscriptions"))
        conn.execute(sa.text("ALTER TABLE http_cache DROP COLUMN misses"))
        conn.execute(sa.text("DROP INDEX ix_region_entries_article"))
        conn.execute(sa.text("ALTER TABLE sources DROP COLUMN paused"))
        conn.execute(sa.text("ALTER TABLE sources DROP COLUMN paused_at"))
        conn.execute(sa.text("ALTER TABLE articles DROP COLUMN dated"))
        back_to_version_5(conn)
        conn.execute(sa.update(meta).values(value="1"))
    store.close()
    upgraded = Store(url)
    assert upgraded.schema_version() == SCHEMA_VERSION == 6
    inspect = sa.inspect(upgraded.engine)
    assert {"deliveries", "subscriptions"} <= set(inspect.get_table_names())
    assert "misses" in {c["name"] for c in inspect.get_columns("http_cache")}
    assert {"paused", "paused_at"} <= {c["name"] for c in inspect.get_columns("sources")}
    assert "dated" in {c["name"] for c in inspect.get_columns("articles")}
    (entry,) = upgraded.entries("europe")
    assert entry.dated and entry.article.published == entry.published  # stored dates kept
    assert "ix_region_entries_article" in {i["name"] for i in inspect.get_indexes("region_entries")}
    assert [e.article.key for e in upgraded.entries("europe")] == ["https://n.example/a"]
    assert upgraded.integrity_check() == []
    upgraded.close()


V6_INDEXES = {
    "articles": {"ix_articles_updated", "ix_articles_source_updated", "ix_articles_removed"},
    "region_entries": {"ix_region_entries_updated"},
}


def back_to_version_5(conn: sa.Connection) -> None:
    """Take a store's schema back to version 5: no copy of updated_at in region entries, none
    of the indexes of version 6."""
    for indexes in V6_INDEXES.values():
        for index in sorted(indexes):
            conn.execute(sa.text(f"DROP INDEX {index}"))
    conn.execute(sa.text("ALTER TABLE region_entries DROP COLUMN updated_at"))
    conn.execute(sa.update(meta).values(value="5"))


def feed_answers(store: Store) -> dict[str, object]:
    """What the publisher and the API read of each region (entries, archive, counts,
    tombstones, changes since a time), as entry ids."""
    out: dict[str, object] = {}
    for region in ("europe", "asia", "all"):
        out[region] = {
            "entries": [(e.id, e.updated) for e in store.entries(region)],
            "entries 2": [e.id for e in store.entries(region, 2)],
            "archive": [[e.id for e in store.archive(region, page, 2)] for page in (1, 2, 3)],
            "count": store.region_count(region),
            "removed": [(e.id, e.updated) for e in store.removed_entries(region)],
            "since": [e.id for e in store.updated_since(region, NOW + timedelta(minutes=30))],
        }
    return out


def test_a_version_5_store_upgrades_to_indexed_feeds(store_url: str) -> None:
    """Version 6 copies each article's updated_at into its region entries and reads feeds
    from indexes: a version 5 store with revisions, a take-over, near-duplicates (suppressed
    in one region), a removal and articles in two regions gives the same answers after the
    upgrade as before it, and every copy is its article's."""
    store = Store(store_url, host="test.example")
    priority = {"site": 0, "feed": 1}
    asia = (RegionMatch("asia", "dateline", "هانوي"),)
    base = story(3, 20)
    items = [
        make(
            f"https://n.example/{n}", f"خبر {n}", story(10 + n), published=NOW - timedelta(hours=n)
        )
        for n in range(6)
    ]
    items[1] = replace(items[1], regions=(*items[1].regions, *asia))
    items.append(make("https://n.example/near", "خبر", base, regions=asia))
    store.apply("feed", items, now=NOW, suppress=frozenset({"asia"}), priority=priority)
    near = [*base[:10], base[10].replace("w3x10x3", "changed"), *base[11:]]
    store.apply(
        "feed",
        [make("https://o.example/near", "خبر", near, regions=asia)],
        now=NOW,
        suppress=frozenset({"asia"}),
    )
    revised = make("https://n.example/2", "خبر 2", [*story(12), "تحديث."])
    store.apply("feed", [revised], now=NOW + timedelta(hours=1), priority=priority)
    # The page of a feed's item, from the source ranked first, states a later date: taken over
    taken = replace(items[4], published=NOW + timedelta(minutes=45), authors=("مراسل",))
    store.apply("site", [taken], now=NOW + timedelta(hours=2), priority=priority)
    with store.transaction() as conn:
        store.remove(conn, items[3].key, NOW + timedelta(hours=3), "gone (HTTP 410)")
    before = feed_answers(store)
    with store.engine.begin() as conn:
        back_to_version_5(conn)
    store.close()
    old = Store(store_url, host="test.example")  # opened by version 6: upgraded
    try:
        assert old.schema_version() == SCHEMA_VERSION == 6
        inspect = sa.inspect(old.engine)
        assert "updated_at" in {c["name"] for c in inspect.get_columns("region_entries")}
        for table, indexes in V6_INDEXES.items():
            assert indexes <= {i["name"] for i in inspect.get_indexes(table)}, table
        assert feed_answers(old) == before
        assert old.integrity_check() == []
        assert check_feed_order(old) > 0
    finally:
        old.close()
    europe = before["europe"]
    assert isinstance(europe, dict) and europe["removed"] and europe["since"]
    assert before["asia"]["count"] == 2  # type: ignore[index]  # one of two near-copies shown


def test_a_store_opened_by_two_processes_during_its_upgrade_upgrades_once(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes open a version 5 store at once: the one that comes second waits for the
    first one's upgrade and finds the store upgraded. (On SQLite, the schema lock used to be
    no lock: the second read version 5 too and migrated beside the first, whose ALTER TABLE
    then failed on the column the other had added, and that process could not start.)"""
    store = Store(store_url, host="test.example")
    store.apply("s", [make(f"https://n.example/{n}", "خبر", story(n)) for n in range(3)], now=NOW)
    with store.engine.begin() as conn:
        back_to_version_5(conn)
    store.close()
    v6 = schema.MIGRATIONS[6]
    inside, go = threading.Event(), threading.Event()
    migrations: list[str] = []

    def paused(conn: sa.Connection) -> None:
        """The first process's migration holds on until the second has tried to open."""
        migrations.append(threading.current_thread().name)
        if len(migrations) == 1:
            inside.set()
            go.wait(10)
        v6(conn)

    monkeypatch.setitem(schema.MIGRATIONS, 6, paused)
    failures: list[BaseException] = []

    def open_store() -> None:
        try:
            opened = Store(store_url, host="test.example")
            opened.close()
        except BaseException as e:  # reported by the assertion below
            failures.append(e)

    first = threading.Thread(target=open_store, name="first")
    second = threading.Thread(target=open_store, name="second")
    first.start()
    assert inside.wait(10)
    second.start()
    second.join(1)  # the second waits for the first (or, unlocked, migrates beside it)
    go.set()
    first.join(30)
    second.join(30)
    assert failures == []
    assert migrations == ["first"]
    upgraded = Store(store_url, host="test.example")
    try:
        assert upgraded.schema_version() == SCHEMA_VERSION
        assert upgraded.integrity_check() == []
        assert check_feed_order(upgraded) > 0
    finally:
        upgraded.close()


def test_opening_a_current_store_does_not_wait_for_its_writer(tmp_path: Path) -> None:
    """A store at the current version opens while another process holds its write lock (a
    pass storing a large batch): only an upgrade takes the schema lock, which on SQLite is the
    write lock."""
    url = f"sqlite:///{tmp_path}/store.db"
    Store(url).close()
    writer = sa.create_engine(url)
    try:
        with writer.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            opened = Store(url, timeout=0.5)  # would fail: database is locked
            assert opened.schema_version() == SCHEMA_VERSION
            opened.close()
            conn.exec_driver_sql("ROLLBACK")
    finally:
        writer.dispose()


@pytest.mark.parametrize("together", [False, True], ids=["across passes", "in one batch"])
def test_one_story_revised_promoted_taken_over_removed_and_back_keeps_feed_order(
    store: Store, together: bool
) -> None:
    """One story revised, promoted to a higher-ranked source's address, another taken over
    by it, both removed, then revised back, one joining a region after its ``updated`` moved,
    among entries that share one ``updated`` (ties: the later article first): after every
    step each region entry carries its article's ``updated_at`` and the feeds read as the
    queries of version 5 read them. ``together``: the site's steps in one batch."""
    priority = {"site": 0, "feed": 1}
    asia = (RegionMatch("asia", "dateline", "هانوي"),)
    when = NOW - timedelta(hours=3)
    stories = {n: story(40 + n) for n in range(6)}

    def item(key: str, n: int, *extra: str, **fields: Any) -> Article:
        fields.setdefault("published", when)
        fields.setdefault("updated", when)
        return make(f"https://n.example/{key}", f"خبر {n}", [*stories[n], *extra], **fields)

    def step(source: str, items: list[Article], minutes: int) -> list[str]:
        result = store.apply(source, items, now=NOW + timedelta(minutes=minutes), priority=priority)
        assert check_feed_order(store) > 0
        return [c.change for c in result.changes]

    assert step("feed", [item(str(n), n) for n in range(6)], 0) == ["created"] * 6
    assert step("feed", [item("0", 0, "تحديث.")], 1) == ["updated"]
    site = [
        item("site-0", 0, "تحديث."),  # the revised text at the site's address: promoted
        item("1", 1, published=when + timedelta(minutes=30)),  # the same address: taken over
        item("site-0", 0, "تحديث.", "ثان."),  # the promoted address revised
        item("1", 1, "تحديث."),  # the taken-over story revised
    ]
    if together:
        assert step("site", site, 2) == ["duplicate", "unchanged", "updated", "updated"]
    else:
        changes = [change for n, one in enumerate(site) for change in step("site", [one], 2 + n)]
        assert changes == ["duplicate", "unchanged", "updated", "updated"]
    with store.transaction() as conn:
        for key in ("site-0", "1"):
            assert store.remove(conn, f"https://n.example/{key}", NOW, "gone (HTTP 410)")
    assert check_feed_order(store) > 0
    back = [
        item("site-0", 0, "عاد.", regions=asia, updated=NOW + timedelta(hours=1)),
        item("1", 1, "عاد."),
        item("2", 2, regions=(*item("2", 2).regions, *asia)),  # unchanged: joins asia
        # the story just revised, unchanged since, joins asia with the updated it now has
        item("1", 1, "عاد.", regions=(*item("1", 1).regions, *asia)),
    ]
    assert step("site", back, 10) == ["updated", "updated", "unchanged", "unchanged"]
    assert [e.article.key for e in store.entries("asia")] == [
        "https://n.example/site-0",
        "https://n.example/1",
        "https://n.example/2",
    ]


def test_feeds_are_read_from_indexes_not_sorted(tmp_path: Path) -> None:
    """On SQLite every query that reads a feed's newest entries, a region's count, its
    tombstones, the API's changes since a time and a source's articles walks an index in
    order (or counts in one) and stops at its limit: no sort of the region, no scan of the
    articles (EXPLAIN QUERY PLAN of the statements the store runs)."""
    store = Store(f"sqlite:///{tmp_path}/store.db", host="test.example")
    store.apply("s", [make(f"https://n.example/{n}", "خبر", story(n)) for n in range(3)], now=NOW)
    statements: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        statements.append((statement, params))

    sa.event.listen(store.engine, "before_cursor_execute", seen)
    reads = {
        "entries europe": (lambda: store.entries("europe", 50), "ix_region_entries_updated"),
        "entries all": (lambda: store.entries("all", 5), "ix_articles_updated"),
        "count": (lambda: store.region_count("europe"), "ix_articles_removed"),
        "removed europe": (lambda: store.removed_entries("europe"), "ix_articles_removed"),
        "removed all": (lambda: store.removed_entries("all"), "ix_articles_removed"),
        "since europe": (
            lambda: store.updated_since("europe", NOW, 20),
            "ix_region_entries_updated",
        ),
        "since all": (lambda: store.updated_since("all", NOW, 20), "ix_articles_updated"),
        "source": (lambda: store.source_articles("s"), "ix_articles_source_updated"),
    }
    try:
        for name, (read, index) in reads.items():
            statements.clear()
            read()
            statement, params = statements[0]
            with store.engine.connect() as conn:
                plan = [
                    r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
                ]
            assert any(index in step for step in plan), (name, plan)
            assert not any("TEMP B-TREE" in step for step in plan), (name, plan)
            assert not any(
                step.startswith("SCAN articles") and "USING" not in step for step in plan
            ), (name, plan)
            assert not any(step.startswith("SCAN region_entries") for step in plan), (name, plan)
    finally:
        store.close()


def test_feeds_are_read_from_indexes_not_sorted_on_postgresql(postgres: PostgresDatabases) -> None:
    """On PostgreSQL, with 24,000 articles in two regions (some suppressed, some removed) and
    statistics gathered, the newest entries of a region (``suppressed IS false``), of ``all``
    and the API's changes since a time are read from their index in order, a limit's worth of
    rows: no Sort node, in the plan of the statement the store runs with its values (a custom
    plan) and in the generic plan a prepared statement settles on (psycopg prepares a
    statement run five times: the publisher's reads)."""
    import psycopg.sql

    with postgres.database() as url:
        store = Store(url, host="test.example")
        try:
            with store.engine.begin() as conn:
                conn.exec_driver_sql(
                    "INSERT INTO articles (id, entry_id, key, url, title, published_at,"
                    " updated_at, first_seen_at, content_hash, similarity, band0, band1, band2,"
                    " band3, paragraphs, content_html, categories, authors, images, revision,"
                    " complete, removed_at, dated)"
                    " SELECT n, 'e' || n, 'k' || n, 'k' || n, 't', at, at, at, 'h' || n, 's',"
                    " n, n, n, n, '[]', '', '[]', '[]', '[]', 0, true,"
                    " CASE WHEN mod(n, 50) = 0 THEN at END, true"
                    " FROM (SELECT n, TIMESTAMPTZ '2026-01-01 00:00+00'"
                    " + n / 3 * INTERVAL '1 minute' AS at"
                    " FROM generate_series(1, 24000) AS n) AS s"
                )
                conn.exec_driver_sql(
                    "INSERT INTO region_entries (region, article_id, seq, added_at, reasons,"
                    " suppressed, updated_at)"
                    " SELECT r, id, id, updated_at, '[]', mod(id, 7) = 0, updated_at FROM articles,"
                    " LATERAL (VALUES ('all'), (CASE WHEN mod(id, 2) = 0 THEN 'europe' ELSE 'asia'"
                    " END)) AS v(r)"
                )
                conn.exec_driver_sql("ANALYZE")
            statements: list[tuple[str, Any]] = []

            def seen(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
                statements.append((statement, params))

            sa.event.listen(store.engine, "before_cursor_execute", seen)
            since = datetime(2026, 1, 5, tzinfo=UTC)
            reads = {
                "entries europe": (
                    lambda: store.entries("europe", 50),
                    "ix_region_entries_updated",
                ),
                "entries all": (lambda: store.entries("all", 50), "ix_articles_updated"),
                "since europe": (
                    lambda: store.updated_since("europe", since, 20),
                    "ix_region_entries_updated",
                ),
            }
            for name, (read, index) in reads.items():
                statements.clear()
                assert len(read()) > 1, name
                statement, params = statements[0]
                names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", statement)))
                positional = statement
                for n, param in enumerate(names, 1):
                    positional = positional.replace(f"%({param})s", f"${n}")
                with store.engine.connect() as conn:
                    custom = conn.exec_driver_sql("EXPLAIN " + statement, params).scalars().all()
                    conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
                    conn.exec_driver_sql("PREPARE newest AS " + positional)
                    raw = conn.connection.dbapi_connection
                    values = ", ".join(
                        psycopg.sql.Literal(params[param]).as_string(raw) for param in names
                    )
                    generic = conn.exec_driver_sql(f"EXPLAIN EXECUTE newest({values})")
                    generic = generic.scalars().all()
                    conn.exec_driver_sql("DEALLOCATE newest")
                    conn.exec_driver_sql("RESET plan_cache_mode")
                for plan in (custom, generic):
                    text = "\n".join(plan)
                    assert f"Index Only Scan Backward using {index}" in text or (
                        f"Index Scan Backward using {index}" in text
                    ), (name, text)
                    assert "Sort" not in text, (name, text)
        finally:
            store.close()


def test_removal_leaves_a_tombstone_and_an_event(store: Store) -> None:
    a = make("https://n.example/a", "أ", story(1))
    store.apply("s", [a], now=NOW)
    with store.transaction() as conn:
        change = store.remove(conn, a.key, NOW + timedelta(hours=1), "gone (HTTP 410)")
    assert change is not None and change.change == "removed"
    assert store.entries("europe") == []
    (tombstone,) = store.removed_entries("europe")
    assert tombstone.deleted and tombstone.updated == NOW + timedelta(hours=1)
    event = store.events()[-1]
    assert event["type"] == "article.removed" and event["changes"]["reason"] == "gone (HTTP 410)"
    (pending,) = store.pending_changes()
    assert pending.removed == (tombstone.id,)
    with store.transaction() as conn:
        assert store.remove(conn, a.key, NOW, "again") is None


def test_the_source_ranked_first_gives_the_entry_its_address(store: Store) -> None:
    """Order independence: a reprint stored first yields to the original when it arrives."""
    priority = {"site": 0, "partner": 1}
    reprint = make("https://partner.example/copy", "خبر", story(1), regions=())
    original = make("https://n.example/a", "خبر", story(1))
    first = store.apply("partner", [reprint], now=NOW, priority=priority).changes[0]
    assert first.change == "created"
    assert store.known([original.key], source_id="site", priority=priority) == set()
    second = store.apply("site", [original], now=NOW, priority=priority).changes[0]
    assert second.change == "duplicate" and "ranks first" in second.reason
    assert second.entry_id == first.entry_id  # the entry id never changes
    (entry,) = store.entries("europe")
    assert (entry.id, entry.article.url) == (first.entry_id, original.url)
    record = store.explain(reprint.key)
    assert record is not None and record["key"] == original.key
    assert record["found_via"]["relation"] == "duplicate"
    # The reverse order gives the same final state.
    again = store.apply("partner", [reprint], now=NOW, priority=priority).changes[0]
    assert again.change == "duplicate"
    assert store.entries("europe")[0].article.url == original.url


def test_a_promoted_address_that_comes_back_with_another_story_is_a_new_article(
    store: Store,
) -> None:
    """The reprint's address yielded its story to the original (promoted); when it later
    carries a different story, that story is a new article with a fresh entry id (the id the
    address gives is the first story's, kept for ever), and the rest of the pass is stored."""
    priority = {"site": 0, "partner": 1}
    reprint = make("https://partner.example/copy", "خبر", story(1))
    original = make("https://n.example/a", "خبر", story(1))
    first = store.apply("partner", [reprint], now=NOW, priority=priority).changes[0]
    promoted = store.apply("site", [original], now=NOW, priority=priority).changes[0]
    assert promoted.change == "duplicate" and promoted.entry_id == first.entry_id
    other = make("https://partner.example/copy", "خبر آخر", story(7))
    later = make("https://partner.example/later", "خبر ثالث", story(8))
    at = NOW + timedelta(minutes=5)
    result = store.apply("partner", [other, later], now=at, priority=priority)
    assert [c.change for c in result.changes] == ["created", "created"]
    fresh = result.changes[0].entry_id
    assert fresh is not None and fresh.startswith("tag:test.example,")
    assert fresh not in (first.entry_id, result.changes[1].entry_id)
    assert {e.id for e in store.entries("europe")} == {
        first.entry_id,
        fresh,
        result.changes[1].entry_id,
    }
    record = store.explain(other.key)
    assert record is not None and (record["id"], record["key"]) == (fresh, other.key)
    assert store.explain(original.key)["id"] == first.entry_id  # type: ignore[index]
    # The same story again is unchanged; the original keeps its address.
    again = store.apply("partner", [other], now=at, priority=priority).changes[0]
    assert (again.change, again.entry_id) == ("unchanged", fresh)
    assert store.entries("europe")[-1].article.url == original.url


def test_the_source_ranked_first_takes_over_the_same_address(store: Store) -> None:
    """Whichever source ran first, the one ranked first owns a story it carries: its copy's
    metadata, its feeds' attribution. Workers running sources in any order agree."""
    priority = {"site": 0, "feed": 1}
    page = make("https://n.example/a", "خبر", story(1), authors=("مراسل",))
    item = make("https://n.example/a", "خبر", story(1), fetched_url="https://n.example/feed")
    assert store.apply("feed", [item], now=NOW, priority=priority).changes[0].change == "created"
    assert store.known([page.key], source_id="site", priority=priority) == set()
    assert store.known([page.key], source_id="feed", priority=priority) == {page.key}
    store.announce(store.pending_changes()[0], NOW, {})
    change = store.apply("site", [page], now=NOW, priority=priority).changes[0]
    record = store.explain(page.key)
    assert change.change == "unchanged" and record is not None and record["revisions"] == []
    (entry,) = store.entries("europe")
    assert store.source_of(entry.id) == "site" and entry.article.authors == ("مراسل",)
    assert [p.region for p in store.pending_changes()] == ["europe"]  # re-rendered
    # The other order ends the same; a source ranked after never takes it back.
    assert store.apply("feed", [item], now=NOW, priority=priority).changes[0].change == "unchanged"
    assert store.source_of(entry.id) == "site"
    assert store.entries("europe")[0].article.authors == ("مراسل",)


def test_passes_of_several_workers_store_one_after_another(store_url: str) -> None:
    """Workers storing the same new stories at once (each its own connection): every story is
    stored once, region entries get distinct sequence numbers, nothing fails."""
    stores = [Store(store_url, host="test.example") for _ in range(4)]
    stories = [make(f"https://n.example/{n}", f"خبر {n}", story(n)) for n in range(20)]
    barrier = threading.Barrier(len(stores))
    outcomes: list[list[str]] = []

    def work(store: Store) -> None:
        barrier.wait()
        changes = store.apply("src", stories, now=NOW).changes
        outcomes.append([c.change for c in changes])

    threads = [threading.Thread(target=work, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert len(outcomes) == len(stores)
        created = sum(o.count("created") for o in outcomes)
        assert created == len(stories)
        assert all(set(o) <= {"created", "unchanged"} for o in outcomes)
        assert stores[0].region_size("europe") == len(stories) == stores[0].region_size("all")
        assert stores[0].integrity_check() == []
    finally:
        for s in stores:
            s.close()


# --------------------------------------------------------------------------------------------
# Times: the store holds UTC, whatever zone a time was computed in


def test_times_in_any_zone_are_stored_and_read_as_the_same_instant(store: Store) -> None:
    from zoneinfo import ZoneInfo

    from syndicator.store import sources

    beirut = datetime(2026, 12, 7, 17, 0, tzinfo=ZoneInfo("Asia/Beirut"))  # 15:00 UTC
    tokyo = datetime(2026, 12, 7, 9, 30, tzinfo=ZoneInfo("Asia/Tokyo"))  # 00:30 UTC
    store.sync_sources([("s", "rss", "http://x/")])
    store.set_next_due("s", beirut)
    store.record_pass("s", at=tokyo, ok=True, status=200, error=None, found=1)
    state = store.source_state("s")
    assert state is not None
    assert state.next_due_at == beirut and state.next_due_at.utcoffset() == timedelta(0)
    assert state.last_fetch_at == tokyo and state.last_fetch_at.utcoffset() == timedelta(0)
    assert state.to_json()["next_due_at"] == "2026-12-07T15:00:00Z"
    # What the database itself holds: 15:00 in UTC (SQLite keeps no offset; PostgreSQL's
    # timestamptz, read in UTC).
    with store.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET TIME ZONE 'UTC'")
        raw = conn.execute(
            sa.select(sa.cast(sources.c.next_due_at, sa.String)).where(sources.c.id == "s")
        ).scalar()
    assert str(raw).startswith("2026-12-07 15:00:00"), raw
    # Queries compare instants: an hour after the Beirut time, it is due; an hour before, not.
    with store.engine.connect() as conn:
        due = conn.execute(
            sa.select(sources.c.id).where(sources.c.next_due_at <= beirut + timedelta(hours=1))
        ).all()
        early = conn.execute(
            sa.select(sources.c.id).where(
                sources.c.next_due_at
                <= datetime(2026, 12, 7, 16, 30, tzinfo=ZoneInfo("Asia/Beirut"))
            )
        ).all()
    assert [r.id for r in due] == ["s"] and early == []


# --------------------------------------------------------------------------------------------
# Entry ids: the same in every store that meets the article, whatever the day


def test_entry_ids_are_dated_by_the_article_not_the_day_it_was_stored(store_url: str) -> None:
    dated = make("https://n.example/dated", "خبر مؤرخ", story(1), published=NOW - timedelta(days=3))
    undated = make("https://n.example/undated", "خبر بلا تاريخ", story(2), published=None)
    first = Store(store_url, host="test.example")
    try:
        ids = {c.key: c.entry_id for c in first.apply("src", [dated, undated], now=NOW).changes}
    finally:
        first.close()
    assert ids[dated.key] is not None and ids[dated.key].startswith("tag:test.example,2026-02-07:")
    assert ids[undated.key] is not None and ids[undated.key].startswith(
        "tag:test.example,2026-02-10:"
    )
    # The store rebuilt (emptied) a week later, the same article stored again: the same id.
    from syndicator.store import meta, metadata

    rebuilt = Store(store_url, host="test.example")
    try:
        with rebuilt.engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                if table is not meta:
                    conn.execute(table.delete())
        later = rebuilt.apply("src", [dated], now=NOW + timedelta(days=7)).changes[0]
    finally:
        rebuilt.close()
    assert later.change == "created" and later.entry_id == ids[dated.key]


def test_an_id_already_published_is_kept(store: Store) -> None:
    """A store written by an earlier release dated its ids by the day they were stored: those
    ids stay, through revisions and passes."""
    a = make("https://n.example/a", "خبر", story(1), published=NOW - timedelta(days=3))
    store.apply("src", [a], now=NOW)
    old = "tag:test.example,2026-02-10:article/kept"
    from syndicator.store import articles

    with store.engine.begin() as conn:
        conn.execute(sa.update(articles).values(entry_id=old))
    corrected = make("https://n.example/a", "خبر", [*story(1), "تصحيح."], published=a.published)
    assert store.apply("src", [corrected], now=NOW + timedelta(days=8)).changes[0].entry_id == old
    assert store.apply("src", [corrected], now=NOW + timedelta(days=9)).changes[0].entry_id == old


def test_problems_of_the_scaled_roles_are_recorded_replaced_and_cleared(store: Store) -> None:
    """The rows a scaled role records for the web nodes (a refused reload): one per key, the
    latest wins, None clears it, and the schema version row is never among them."""
    assert store.problems() == []
    store.set_problem("reload:worker", "last reload refused (a): the worker w1 runs on …")
    store.set_problem("reload:scheduler", "last reload refused (b): the scheduler s1 runs on …")
    store.set_problem("reload:worker", "last reload refused (c): the worker w2 runs on …")
    assert store.problems() == [
        "last reload refused (b): the scheduler s1 runs on …",
        "last reload refused (c): the worker w2 runs on …",
    ]
    store.set_problem("reload:scheduler", None)
    store.set_problem("reload:scheduler", None)  # clearing what is clear changes nothing
    assert store.problems() == ["last reload refused (c): the worker w2 runs on …"]
    assert store.schema_version() >= 1


def test_a_store_whose_folder_cannot_be_made_is_refused_by_name(tmp_path: Path) -> None:
    """A SQLite store under a path that is a file (or not writable) is a StoreError that says
    which folder could not be made, not an OSError from deep inside the store."""
    from syndicator.errors import StoreError

    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    with pytest.raises(StoreError, match=r"cannot make its folder .*a-file"):
        Store(f"sqlite:///{tmp_path}/a-file/s.db")


def test_a_store_another_writer_holds_says_what_to_do(tmp_path: Path) -> None:
    """SQLite locked by another process's write for longer than database_timeout: the error
    says the store is busy and what to do, not only the driver's "database is locked"."""
    import sqlite3

    url = f"sqlite:///{tmp_path}/store.db"
    Store(url, host="test.example").close()
    other = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    store = Store(url, host="test.example", timeout=0.2)
    try:
        other.execute("BEGIN IMMEDIATE")  # another writer's transaction, held
        with pytest.raises(StoreError) as raised:
            store.apply("push", [make("https://x.example/a", "A", story(1))], now=NOW)
    finally:
        other.rollback()
        other.close()
        store.close()
    message = str(raised.value)
    assert "database is locked" in message
    assert "another process" in message and "database_timeout" in message, message


def test_ctrl_c_in_a_database_call_stays_ctrl_c() -> None:
    """SQLAlchemy shows the error hook a KeyboardInterrupt raised in a statement too: it must
    stay one (exit 130, the command's own message), not become "the database failed"."""
    from syndicator.store.database import _store_error

    class Interrupted:
        is_pre_ping = False
        original_exception = KeyboardInterrupt()

    class Failed:
        is_pre_ping = False
        original_exception = sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    assert _store_error(Interrupted()) is None  # type: ignore[arg-type]
    assert isinstance(_store_error(Failed()), StoreError)  # type: ignore[arg-type]


def test_the_integrity_check_tells_a_second_article_of_one_text_from_a_revision(
    store: Store,
) -> None:
    """Two live, never-revised articles of one content hash break the identity rules (a new
    address with a stored text is a duplicate); one revised to the other's text, or removed,
    does not (same key, new hash: a revision, whatever else holds that text)."""
    store.apply("src", [make("https://n.example/a", "Title A", ["Text A."])], now=NOW)
    store.apply("src", [make("https://n.example/b", "Title B", ["Text B."])], now=NOW)
    assert store.integrity_check() == []
    with store.engine.begin() as conn:
        (first,) = conn.execute(
            sa.select(articles.c.content_hash).where(articles.c.key == "https://n.example/a")
        ).one()
        conn.execute(
            sa.update(articles)
            .where(articles.c.key == "https://n.example/b")
            .values(content_hash=first)
        )
    assert store.integrity_check() == ["1 content hashes stored twice"]
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(articles).where(articles.c.key == "https://n.example/b").values(revision=1)
        )
    assert store.integrity_check() == []
    # Through the store itself: D revised to C's text is a revision, and no problem
    store.apply("src", [make("https://n.example/c", "Title C", ["Text C."])], now=NOW)
    store.apply("src", [make("https://n.example/d", "Title D", ["Text D."])], now=NOW)
    later = NOW + timedelta(hours=1)
    changes = store.apply("src", [make("https://n.example/d", "Title C", ["Text C."])], now=later)
    assert [c.change for c in changes.changes] == ["updated"]
    assert store.integrity_check() == []

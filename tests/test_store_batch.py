"""Store.apply works in batches (a few set-based reads, multi-row writes) and decides exactly as
the per-article code does: random passes of new, repeated, revised, duplicated, near-duplicate,
summarized and re-ranked copies of a few stories, from sources of different rank, give the
same changes and the same stored rows (articles, locations, region entries and changes,
revisions, outbox events) either way. On the store the test harness names."""

from __future__ import annotations

import functools
import json
import os
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from support.examples import seeds
from support.feed_order import check_feed_order

from syndicator import fingerprint
from syndicator.model import Article, RegionMatch
from syndicator.store import (
    WRITE_LOCK,
    ChangeSet,
    Store,
    _exclusive,
    articles,
    locations,
    outbox,
    region_changes,
    region_entries,
    revisions,
)

NOW = datetime(2026, 2, 10, 12, 0, tzinfo=UTC)
PRIORITY = {"a": 0, "b": 1, "c": 2}
REGIONS = ("europe", "asia", "africa")


def story(seed: int, edit: int = 0) -> list[str]:
    paragraphs = [" ".join(f"w{seed}x{i}x{j}" for j in range(20)) + "." for i in range(12)]
    if edit:  # a light edit: near-duplicate of the story, another content hash
        paragraphs[edit % 12] = paragraphs[edit % 12].replace(f"w{seed}x", f"e{edit}x", 1)
    return paragraphs


@functools.cache
def fingerprinted(seed: int, edit: int) -> tuple[tuple[str, ...], str, str]:
    """Story ``seed`` (edited by ``edit``), its content hash and its signature: made once for
    all the articles that carry it (fifteen texts, hundreds of articles over the seeds)."""
    paragraphs = story(seed, edit)
    title = f"story {seed}"
    return (
        tuple(paragraphs),
        fingerprint.content_hash(title, paragraphs),
        fingerprint.signature(title, paragraphs),
    )


def make(rng: random.Random) -> Article:
    number = rng.randrange(8)
    key = f"https://n.example/{number}"
    # An address carries one story (lightly edited at times); two addresses share each story.
    seed, edit = number % 5, rng.choice((0, 0, 0, 1, 2))
    title = f"story {seed}"
    paragraphs, content_hash, similarity = fingerprinted(seed, edit)
    fetched = rng.choice((None, None, key + "?amp=1", f"https://m.example/{rng.randrange(8)}"))
    regions = tuple(RegionMatch(r, "section", r) for r in REGIONS if rng.random() < 0.4) or (
        RegionMatch("europe", "section", "europe"),
    )
    return Article(
        key=key,
        url=key,
        title=title,
        paragraphs=paragraphs,
        content_html="".join(f"<p>{p}</p>" for p in paragraphs),
        content_hash=content_hash,
        similarity=similarity,
        published=rng.choice((None, NOW - timedelta(hours=rng.randrange(1, 48)))),
        fetched_url=fetched,
        complete=rng.random() < 0.8,
        regions=regions,
    )


def passes(seed: int) -> list[tuple[str, list[Article], bool]]:
    rng = random.Random(seed)
    out = []
    for _ in range(6):
        items = [make(rng) for _ in range(rng.randrange(1, 40))]
        out.append((rng.choice(("a", "b", "c")), items, rng.random() < 0.7))
    return out


def one_by_one(
    store: Store, source: str, items: list[Article], now: datetime, ranked: bool
) -> ChangeSet:
    """The per-article code, as Store.apply ran it before it worked in batches."""
    result = ChangeSet()
    with store.transaction() as conn:
        _exclusive(conn, WRITE_LOCK)
        for n, item in enumerate(items):
            at = now + timedelta(microseconds=n)
            result.changes.append(
                store._apply_one(
                    conn,
                    source,
                    item,
                    at,
                    frozenset({"asia"}),
                    result,
                    PRIORITY if ranked else None,
                )
            )
    return result


def dump(store: Store) -> dict[str, Any]:
    """Every row the identity rules write, with ids replaced by entry ids."""
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(articles).order_by(articles.c.entry_id)).all()
        entry = {r.id: r.entry_id for r in rows}
        skip = {"id", "cluster_id"}
        out: dict[str, Any] = {
            "articles": [
                {k: v for k, v in r._mapping.items() if k not in skip}
                | {"cluster": entry.get(r.cluster_id)}
                for r in rows
            ],
            "locations": sorted(
                (r.url, entry[r.article_id], r.relation, r.reason, r.source_id)
                for r in conn.execute(sa.select(locations))
            ),
            "region_entries": sorted(
                (r.region, r.seq, entry[r.article_id], r.reasons, r.suppressed)
                for r in conn.execute(sa.select(region_entries))
            ),
            "region_changes": sorted(
                (r.region, entry[r.article_id], r.change)
                for r in conn.execute(sa.select(region_changes))
            ),
            "revisions": sorted(
                (entry[r.article_id], r.revision, r.previous_hash, r.new_hash, r.diff)
                for r in conn.execute(sa.select(revisions))
            ),
            "outbox": sorted(
                json.dumps({k: v for k, v in json.loads(r.body).items() if k != "id"})
                for r in conn.execute(sa.select(outbox))
            ),
        }
    return out


def clear(store: Store) -> None:
    with store.transaction() as conn:
        for table in (region_changes, region_entries, revisions, locations, outbox, articles):
            conn.execute(sa.delete(table))


def changes(result: ChangeSet) -> tuple[list[tuple[Any, ...]], set[str]]:
    return [
        (c.change, c.url, c.entry_id, c.key, c.regions, c.reason) for c in result.changes
    ], result.regions


@pytest.mark.parametrize("seed", range(8))
def test_batches_decide_as_the_per_article_code(tmp_path: Path, seed: int) -> None:
    url = os.environ.get("SYNDICATOR_DATABASE") or f"sqlite:///{tmp_path}/store.db"
    store = Store(url, host="test.example")
    try:
        scenario = passes(seed)
        expected = []
        for n, (source, items, ranked) in enumerate(scenario):
            now = NOW + timedelta(minutes=n)
            expected.append(changes(one_by_one(store, source, items, now, ranked)))
        before = dump(store)
        assert check_feed_order(store) > 0  # the per-article code keeps the feeds' order too
        clear(store)
        got = []
        for n, (source, items, ranked) in enumerate(scenario):
            now = NOW + timedelta(minutes=n)
            result = store.apply(
                source,
                items,
                now=now,
                suppress=frozenset({"asia"}),
                priority=PRIORITY if ranked else None,
            )
            got.append(changes(result))
        after = dump(store)
        assert check_feed_order(store) > 0
    finally:
        store.close()
    assert got == expected
    kinds = {c[0] for pass_ in got for c in pass_[0]}
    assert "created" in kinds and len(kinds) >= 3, kinds  # the scenario is not trivial
    for table in before:
        assert after[table] == before[table], table


def test_a_batch_of_copies_of_one_new_story(tmp_path: Path) -> None:
    """Within one batch: the first copy is created, a second address of the same text is a
    duplicate of it, the same address again unchanged, a light edit a near-duplicate."""
    url = os.environ.get("SYNDICATOR_DATABASE") or f"sqlite:///{tmp_path}/store.db"
    store = Store(url, host="test.example")
    rng = random.Random(1)
    first = make(rng)
    first = replace(first, key="https://n.example/x", url="https://n.example/x", fetched_url=None)
    copy = replace(first, key="https://o.example/x", url="https://o.example/x")
    paragraphs = story(0, 3)
    edited = replace(
        first,
        key="https://p.example/x",
        url="https://p.example/x",
        title="story 0",
        paragraphs=tuple(paragraphs),
        content_hash=fingerprint.content_hash("story 0", paragraphs),
        similarity=fingerprint.signature("story 0", paragraphs),
    )
    try:
        result = store.apply("a", [first, copy, first, edited], now=NOW)
    finally:
        store.close()
    assert [c.change for c in result.changes] == ["created", "duplicate", "unchanged", "created"]
    assert result.changes[1].entry_id == result.changes[0].entry_id


def raw_rows(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a batch writes, as the database holds it (times as stored
    text, booleans as numbers), event ids left out (they are random)."""
    out = {}
    with store.engine.connect() as conn:
        for table in (articles, locations, region_entries, region_changes, revisions, outbox):
            rows = conn.exec_driver_sql(f"SELECT * FROM {table.name}").all()
            if table is outbox:
                rows = [
                    (r.id, r.type, r.occurred_at, r.regions, json.loads(r.body) | {"id": None})
                    for r in rows
                ]
            out[table.name] = sorted(map(tuple, rows), key=repr)
    return out


def test_rows_inserted_by_the_prepared_statement_are_those_sqlalchemy_inserts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite a batch's new rows go in with one prepared executemany, each value bound by
    its column's SQLAlchemy processor: the database holds the same values, byte for byte,
    as when SQLAlchemy inserts them (dated and undated articles mixed in one batch)."""
    from syndicator.store import batch as module

    stored = []
    for prepared in (False, True):
        if not prepared:
            monkeypatch.setattr(module, "_inserted", lambda *args: False)
        store = Store(f"sqlite:///{tmp_path}/{prepared}.db", host="test.example")
        try:
            for n, (source, items, ranked) in enumerate(passes(3)):
                store.apply(
                    source,
                    items,
                    now=NOW + timedelta(minutes=n),
                    suppress=frozenset({"asia"}),
                    priority=PRIORITY if ranked else None,
                )
            stored.append(raw_rows(store))
        finally:
            store.close()
        monkeypatch.undo()
    assert stored[0]["articles"] and any(r[-1] == 0 for r in stored[0]["articles"])  # undated
    assert stored[1] == stored[0]


def test_times_bound_once_are_the_times_sqlalchemy_binds(tmp_path: Path) -> None:
    """A batch binds each instant once for every table it writes (``times``): the same
    instant in another zone, a naive time (UTC), None and distinct times each land as
    SQLAlchemy's own insert stores them, whichever table bound them first."""
    from datetime import timezone

    from syndicator.store.bulk import _inserted
    from syndicator.store.schema import UTCDateTime

    metadata = sa.MetaData()

    def stamps(name: str) -> sa.Table:
        return sa.Table(
            name,
            metadata,
            sa.Column("n", sa.Integer, primary_key=True),
            sa.Column("at", UTCDateTime()),
            sa.Column("flag", sa.Boolean),
        )

    table, other = stamps("stamps"), stamps("stamps2")
    east = timezone(timedelta(hours=5, minutes=30))
    moments = [
        NOW,
        NOW.astimezone(east),  # the same instant elsewhere
        NOW.replace(tzinfo=None),  # naive: UTC
        NOW.replace(tzinfo=None) + timedelta(microseconds=1),
        None,
        NOW + timedelta(days=400, microseconds=7),
        datetime(1, 1, 1, tzinfo=UTC),
    ]
    rows = [{"n": n, "at": at, "flag": n % 2 == 0} for n, at in enumerate(moments)]
    engine = sa.create_engine(f"sqlite:///{tmp_path}/stamps.db")
    metadata.create_all(engine)
    times: dict[datetime, Any] = {}
    with engine.begin() as conn:
        assert _inserted(conn, other, list(reversed(rows)), times)  # fills ``times`` first
        assert _inserted(conn, table, rows, times)
        conn.execute(sa.insert(other).prefix_with("OR REPLACE"), rows)
    with engine.connect() as conn:
        ours = conn.exec_driver_sql("SELECT n, at, flag FROM stamps ORDER BY n").all()
        theirs = conn.exec_driver_sql("SELECT n, at, flag FROM stamps2 ORDER BY n").all()
    engine.dispose()
    assert ours == theirs
    assert ours[0][1] == ours[1][1] == ours[2][1] != ours[3][1]


def volatile(rng: random.Random) -> Article:
    """An article of :func:`make` whose dates are drawn from a few instants (many entries of
    a feed share an ``updated``), some stated in another zone, some stating an ``updated``
    before or after the publication date."""
    from datetime import timezone

    article = make(rng)
    instants = [NOW - timedelta(hours=h) for h in (1, 2, 2, 5)]
    east = timezone(timedelta(hours=3))
    published = rng.choice((None, *instants))
    updated = rng.choice((None, None, *instants, NOW + timedelta(hours=1)))
    if updated is not None and rng.random() < 0.3:
        updated = updated.astimezone(east)
    return replace(article, published=published, updated=updated)


@pytest.mark.parametrize("seed", seeds(6))
def test_feeds_keep_their_order_through_passes_removals_and_returns(
    tmp_path: Path, seed: int
) -> None:
    """Random passes (the same address several times in a batch, revisions, take-overs and
    promotions by sources of other ranks, near-duplicates suppressed in a region, articles
    joining regions later, dates shared by many entries and stated in other zones, passes at
    the same instant), each followed by removals of some addresses (which a later revision
    brings back): after every pass and every removal each region entry's copy of
    ``updated_at`` is its article's, and every feed reads as the queries of version 5 read
    it (``check_feed_order``), ties ordered by article id."""
    url = os.environ.get("SYNDICATOR_DATABASE") or f"sqlite:///{tmp_path}/store.db"
    store = Store(url, host="test.example")
    rng = random.Random(seed)
    removed = held = 0
    try:
        for n in range(14):
            now = NOW + timedelta(minutes=rng.choice((0, 0, n)))  # passes at one instant too
            items = [volatile(rng) for _ in range(rng.randrange(1, 30))]
            store.apply(
                rng.choice(("a", "b", "c")),
                items,
                now=now,
                suppress=frozenset({"asia"}),
                priority=PRIORITY if rng.random() < 0.7 else None,
            )
            check_feed_order(store)
            keys = sorted({i.key for i in items})
            gone = rng.sample(keys, min(len(keys), rng.randrange(0, 3)))
            with store.transaction() as conn:
                for key in gone:
                    if store.remove(conn, key, now + timedelta(seconds=1), "gone (HTTP 410)"):
                        removed += 1
            assert store.integrity_check() == []
            held = max(held, check_feed_order(store))
        with store.engine.connect() as conn:
            revised = conn.execute(sa.select(sa.func.count()).select_from(revisions)).scalar_one()
            ties = conn.execute(
                sa.select(sa.func.count()).select_from(
                    sa.select(articles.c.updated_at)
                    .group_by(articles.c.updated_at)
                    .having(sa.func.count() > 1)
                    .subquery()
                )
            ).scalar_one()
    finally:
        store.close()
    assert held > 0 and removed > 0 and revised > 0 and ties > 0  # the scenario is not trivial

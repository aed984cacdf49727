"""What the store's indexed feed queries must answer, checked against the queries they replaced.

Schema version 6 reads a region's newest entries from an index over ``region_entries``, which
carry a copy of their article's ``updated_at``. :func:`check_feed_order` holds a store to that:
every region entry's copy equals its article's, and ``entries``, ``region_count``,
``removed_entries`` and ``updated_since`` answer, on every region and at several limits, what
the queries of version 5 (kept here, written as they were: the whole region joined, filtered
and sorted) answer on the same store. Called at the end of the store scenarios (revisions,
promotions, take-overs, removals, near-duplicates) of ``test_store``, ``test_store_batch`` and
``test_removal``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from syndicator.store import Store, articles, region_entries

ALL = "all"
LIMITS = (1, 5, 50, None)


def old_entries(store: Store, region: str, limit: int | None) -> list[str]:
    """``Feeds.entries`` of version 5: entry ids, newest ``updated`` first."""
    query = sa.select(articles.c.entry_id).where(articles.c.removed_at.is_(None))
    if region != ALL:
        query = query.join(region_entries, region_entries.c.article_id == articles.c.id).where(
            region_entries.c.region == region, region_entries.c.suppressed.is_(False)
        )
    query = query.order_by(articles.c.updated_at.desc(), articles.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with store.engine.connect() as conn:
        return list(conn.execute(query).scalars())


def old_since(store: Store, region: str, since: datetime, limit: int) -> list[str]:
    """``Feeds.updated_since`` of version 5."""
    query = sa.select(articles.c.entry_id).where(articles.c.removed_at.is_(None))
    if region != ALL:
        query = query.join(region_entries, region_entries.c.article_id == articles.c.id).where(
            region_entries.c.region == region, region_entries.c.suppressed.is_(False)
        )
    query = query.where(articles.c.updated_at >= since)
    query = query.order_by(articles.c.updated_at.desc(), articles.c.id.desc()).limit(limit)
    with store.engine.connect() as conn:
        return list(conn.execute(query).scalars())


def old_removed(store: Store, region: str, limit: int) -> list[str]:
    """``Feeds.removed_entries`` of version 5."""
    query = sa.select(articles.c.entry_id).where(articles.c.removed_at.is_not(None))
    if region != ALL:
        query = query.join(region_entries, region_entries.c.article_id == articles.c.id).where(
            region_entries.c.region == region
        )
    query = query.order_by(articles.c.removed_at.desc(), articles.c.id.desc()).limit(limit)
    with store.engine.connect() as conn:
        return list(conn.execute(query).scalars())


def old_count(store: Store, region: str) -> int:
    """``Feeds.region_count`` of version 5."""
    query = (
        sa.select(sa.func.count())
        .select_from(region_entries)
        .join(articles, articles.c.id == region_entries.c.article_id)
        .where(
            region_entries.c.region == region,
            region_entries.c.suppressed.is_(False),
            articles.c.removed_at.is_(None),
        )
    )
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def stale_copies(store: Store) -> list[tuple[Any, ...]]:
    """Region entries whose ``updated_at`` is not their article's: (region, entry id, the
    entry's, the article's)."""
    query = (
        sa.select(
            region_entries.c.region,
            articles.c.entry_id,
            region_entries.c.updated_at,
            articles.c.updated_at,
        )
        .join(articles, articles.c.id == region_entries.c.article_id)
        .where(
            sa.or_(
                region_entries.c.updated_at.is_(None),
                region_entries.c.updated_at != articles.c.updated_at,
            )
        )
    )
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query)]


def check_feed_order(store: Store) -> int:
    """Assert the invariant and the answers above on every region of the store; returns how
    many entries the store's regions hold (a caller can make sure its scenario is not empty)."""
    assert stale_copies(store) == []
    with store.engine.connect() as conn:
        regions = sorted(set(conn.execute(sa.select(region_entries.c.region)).scalars()) | {ALL})
        times = sorted(set(conn.execute(sa.select(articles.c.updated_at)).scalars()))
    held = 0
    for region in regions:
        for limit in LIMITS:
            got = [e.id for e in store.entries(region, limit)]
            assert got == old_entries(store, region, limit), (region, limit)
        for since in times[:: max(1, len(times) // 4)]:
            got = [e.id for e in store.updated_since(region, since, 20)]
            assert got == old_since(store, region, since, 20), (region, since)
        for limit in (1, 50):
            got = [e.id for e in store.removed_entries(region, limit)]
            assert got == old_removed(store, region, limit), (region, limit)
        count = store.region_count(region)
        assert count == old_count(store, region), region
        held += count
    return held

"""The read side for feeds: entries of a region, archives, counts, what changed since the last
announcement, and the announcement itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from syndicator.errors import StoreError
from syndicator.model import Article, Entry, Image, RegionMatch, as_utc
from syndicator.store.common import _chunks
from syndicator.store.membership import Membership
from syndicator.store.records import PendingChanges
from syndicator.store.schema import (
    ALL,
    articles,
    locations,
    meta,
    outbox,
    region_changes,
    region_entries,
    revisions,
)


class Feeds(Membership):
    """Reading, for the publisher, the API and explain."""

    def entries(self, region: str, limit: int | None = None) -> list[Entry]:
        """A region's entries (``all`` for every article), newest ``updated`` first."""
        query = _newest(region)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            regions = self._regions_by_article(conn, [r.id for r in rows])
        return [self._entry(r, regions.get(r.id, ())) for r in rows]

    def archive(self, region: str, page: int, size: int) -> list[Entry]:
        """Page ``page`` (1 = oldest) of a region's entries in the order they joined it."""
        return self.archive_pages(region, page, page, size)[page]

    def archive_pages(
        self, region: str, first: int, last: int, size: int
    ) -> dict[int, list[Entry]]:
        """Pages ``first`` … ``last`` of a region's archive (see :meth:`archive`), read in one
        query: page → its entries (a page whose entries were all removed or suppressed is an
        empty list)."""
        lo, hi = (first - 1) * size + 1, last * size
        query = (
            sa.select(articles, region_entries.c.seq.label("region_seq"))
            .where(articles.c.removed_at.is_(None))
            .join(region_entries, region_entries.c.article_id == articles.c.id)
            .where(
                region_entries.c.region == region,
                region_entries.c.seq.between(lo, hi),
                region_entries.c.suppressed.is_(False),
            )
            .order_by(region_entries.c.seq)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            regions = self._regions_by_article(conn, [r.id for r in rows])
        pages: dict[int, list[Entry]] = {page: [] for page in range(first, last + 1)}
        for r in rows:
            pages[(r.region_seq - 1) // size + 1].append(self._entry(r, regions.get(r.id, ())))
        return pages

    def archive_entry_ids(
        self, region: str, first: int, last: int, size: int
    ) -> dict[int, list[str]]:
        """The entry ids of pages ``first`` … ``last`` of a region's archive (the entries
        :meth:`archive_pages` reads), in one query: page → ids, in the order they joined."""
        lo, hi = (first - 1) * size + 1, last * size
        query = (
            sa.select(articles.c.entry_id, region_entries.c.seq)
            .join(region_entries, region_entries.c.article_id == articles.c.id)
            .where(
                articles.c.removed_at.is_(None),
                region_entries.c.region == region,
                region_entries.c.seq.between(lo, hi),
                region_entries.c.suppressed.is_(False),
            )
            .order_by(region_entries.c.seq)
        )
        pages: dict[int, list[str]] = {page: [] for page in range(first, last + 1)}
        with self.engine.connect() as conn:
            for entry_id, seq in conn.execute(query):
                pages[(seq - 1) // size + 1].append(entry_id)
        return pages

    def removed_entries(self, region: str, limit: int = 50) -> list[Entry]:
        """Entries removed from a region (newest removal first), marked ``deleted`` and dated
        by their removal: the publisher turns them into RFC 6721 tombstones."""
        query = sa.select(articles).where(articles.c.removed_at.is_not(None))
        if region != ALL:
            # Removed articles in the order of their index (ix_articles_removed), each looked
            # up in the region (its primary key): the region's entries are not all read.
            query = query.where(_in_region(region))
        query = query.order_by(articles.c.removed_at.desc(), articles.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        out = []
        for row in rows:
            entry = self._entry(row, ())
            out.append(replace(entry, updated=as_utc(row.removed_at) or entry.updated))
        return out

    def region_count(self, region: str) -> int:
        """How many entries a region shows now (removed and suppressed ones left out)."""
        shown = (region_entries.c.region == region, region_entries.c.suppressed.is_(False))
        # Its entries counted in an index (ix_region_entries_updated) without reading an
        # article, less those of its articles that were removed (few: ix_articles_removed).
        entries = sa.select(sa.func.count()).select_from(region_entries).where(*shown)
        removed = (
            sa.select(sa.func.count())
            .select_from(articles)
            .where(articles.c.removed_at.is_not(None), _in_region(region, *shown[1:]))
        )
        query = sa.select(entries.scalar_subquery() - removed.scalar_subquery())
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def region_size(self, region: str) -> int:
        """How many entries a region has ever had (the highest sequence number)."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.max(region_entries.c.seq)).where(
                        region_entries.c.region == region
                    )
                ).scalar()
                or 0
            )

    def region_created(self, region: str, now: datetime) -> datetime:
        """When a region was first published: recorded the first time it is asked (``now``),
        the same answer ever after (an empty feed's ``updated``: a fixed, plausible date)."""
        key = f"region_created:{region}"[:64]
        try:
            with self.transaction() as conn:
                stored = conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar()
                if stored is None:
                    conn.execute(sa.insert(meta).values(key=key, value=as_utc(now).isoformat()))
                    return as_utc(now)
        except sa.exc.IntegrityError:  # another process recorded it first: take theirs
            with self.engine.connect() as conn:
                stored = conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar()
        except SQLAlchemyError as e:
            raise StoreError(f"cannot record when region {region} was created: {e}") from e
        return as_utc(datetime.fromisoformat(str(stored)))

    @staticmethod
    def _regions_by_article(conn: Connection, ids: list[int]) -> dict[int, tuple[str, ...]]:
        out: dict[int, list[str]] = {}
        for chunk in _chunks(ids, 500):
            for article_id, region in conn.execute(
                sa.select(region_entries.c.article_id, region_entries.c.region)
                .where(region_entries.c.article_id.in_(chunk), region_entries.c.region != ALL)
                .order_by(region_entries.c.region)
            ):
                out.setdefault(article_id, []).append(region)
        return {k: tuple(v) for k, v in out.items()}

    @staticmethod
    def _entry(row: Any, regions: Sequence[str]) -> Entry:
        # Times come back aware, in UTC (schema.UTCDateTime)
        published = row.published_at
        updated = row.updated_at
        assert published is not None and updated is not None
        article = Article(
            key=row.key,
            url=row.url,
            title=row.title,
            paragraphs=_listed(row.paragraphs),
            content_html=row.content_html,
            content_hash=row.content_hash,
            similarity=row.similarity,
            subtitle=row.subtitle,
            summary=row.summary,
            section=row.section,
            categories=_listed(row.categories),
            authors=_listed(row.authors),
            dateline=row.dateline,
            language=row.language,
            published=published if row.dated else None,
            updated=updated,
            images=tuple(Image(**i) for i in _listed(row.images)),
            fetched_url=row.fetched_url,
            guid=row.guid,
            method=row.method or "",
            regions=tuple(RegionMatch(r, "stored", "") for r in regions),
        )
        return Entry(
            id=row.entry_id,
            article=article,
            published=published,
            updated=updated,
            origin=None,
            seq=row.id,
            deleted=row.removed_at is not None,
            dated=bool(row.dated),
            source_id=row.source_id,
        )

    def source_of(self, entry_id: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(articles.c.source_id).where(articles.c.entry_id == entry_id)
            ).scalar()

    def sources_of(self, entry_ids: Sequence[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(entry_ids), 500):
                for entry_id, source_id in conn.execute(
                    sa.select(articles.c.entry_id, articles.c.source_id).where(
                        articles.c.entry_id.in_(chunk)
                    )
                ):
                    out[entry_id] = source_id
        return out

    def pending_changes(self) -> list[PendingChanges]:
        """Region changes not yet announced by a ``feed.updated`` event, per region."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    region_changes.c.id,
                    region_changes.c.region,
                    region_changes.c.change,
                    articles.c.entry_id,
                )
                .join(articles, articles.c.id == region_changes.c.article_id)
                .where(region_changes.c.published.is_(False))
                .order_by(region_changes.c.region, region_changes.c.id)
            ).all()
        # Entry ids per region and change, each once, in the order first met (dicts used as
        # ordered sets: a bulk load announces thousands, and a list searched per row is
        # quadratic).
        grouped: dict[str, dict[str, dict[str, None]]] = {}
        upto: dict[str, int] = {}
        for row in rows:
            changes = grouped.setdefault(row.region, {"created": {}, "updated": {}, "removed": {}})
            changes.setdefault(row.change, {})[row.entry_id] = None
            upto[row.region] = max(upto.get(row.region, 0), row.id)
        return [
            PendingChanges(
                region,
                tuple(c["created"]),
                tuple(e for e in c["updated"] if e not in c["created"]),
                upto[region],
                tuple(c["removed"]),
            )
            for region, c in grouped.items()
        ]

    def has_unannounced_changes(self) -> bool:
        """Are there region changes not yet published and announced (a cheap look)?"""
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    sa.select(region_changes.c.id)
                    .where(region_changes.c.published.is_(False))
                    .limit(1)
                ).first()
                is not None
            )

    def announce(self, pending: PendingChanges, now: datetime, feed: dict[str, Any]) -> str:
        """Write the region's ``feed.updated`` event and mark its changes announced, atomically."""
        with self.transaction() as conn:
            event_id = self._event(
                conn,
                "feed.updated",
                now,
                [pending.region],
                feed=feed,
                changes={
                    "created": list(pending.created),
                    "updated": list(pending.updated),
                    "removed": list(pending.removed),
                },
            )
            conn.execute(
                sa.update(region_changes)
                .where(
                    region_changes.c.region == pending.region,
                    region_changes.c.id <= pending.upto,
                    region_changes.c.published.is_(False),
                )
                .values(published=True)
            )
        return event_id

    def events(self, since_id: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(outbox.c.id, outbox.c.body)
                .where(outbox.c.id > since_id)
                .order_by(outbox.c.id)
                .limit(limit)
            ).all()
        return [{"seq": r.id, **json.loads(r.body)} for r in rows]

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)
                for name, table in (
                    ("articles", articles),
                    ("revisions", revisions),
                    ("locations", locations),
                    ("outbox", outbox),
                    ("region_entries", region_entries),
                )
            }

    def updated_since(
        self, region: str, since: datetime | None = None, limit: int = 50
    ) -> list[Entry]:
        """A region's entries (``all`` for every article) whose ``updated`` is at or after
        ``since`` (every entry when None), newest ``updated`` first, at most ``limit`` (the API)."""
        query = _newest(region)
        if since is not None:
            # A region's entries carry their article's updated_at (the index's order)
            updated = articles.c.updated_at if region == ALL else region_entries.c.updated_at
            query = query.where(updated >= as_utc(since))
        query = query.limit(limit)
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
                regions = self._regions_by_article(conn, [r.id for r in rows])
        except SQLAlchemyError as e:
            raise StoreError(f"cannot read the entries of {region}: {e}") from e
        return [self._entry(r, regions.get(r.id, ())) for r in rows]

    def daily_region_counts(self, first_day: datetime, days: int) -> dict[str, list[int]]:
        """How many of each region's entries (``all``, removed entries and suppressed
        near-duplicates left out) were published on each of ``days`` days of 24 hours from
        ``first_day`` — by the article's publication date, not the day it was stored (a first
        pass over a week of stories puts each on its own day): region → counts, oldest day first.
        Regions with no entry in the window are absent (the status page's chart)."""
        if days < 1:
            raise ValueError("days must be at least 1")
        start = as_utc(first_day)
        bounds = [start + timedelta(days=n) for n in range(1, days + 1)]
        added = articles.c.published_at
        # The day number as a CASE over the bounds: plain comparisons, the same on every database.
        day: Any = (
            sa.case(
                *(
                    (added < bound, sa.literal_column(str(n)))
                    for n, bound in enumerate(bounds[:-1])
                ),
                else_=sa.literal_column(str(days - 1)),
            )
            if days > 1
            else sa.literal_column("0")
        )
        joined = (
            sa.select(region_entries.c.region, day.label("day"))
            .join(articles, articles.c.id == region_entries.c.article_id)
            .where(
                articles.c.removed_at.is_(None),
                added >= start,
                added < bounds[-1],
                region_entries.c.region != ALL,
                region_entries.c.suppressed.is_(False),
            )
            .subquery()
        )
        query = sa.select(joined.c.region, joined.c.day, sa.func.count()).group_by(
            joined.c.region, joined.c.day
        )
        out: dict[str, list[int]] = {}
        try:
            with self.engine.connect() as conn:
                for region, n, count in conn.execute(query):
                    out.setdefault(region, [0] * days)[int(n)] = int(count)
        except SQLAlchemyError as e:
            raise StoreError(f"cannot count the entries per region and day: {e}") from e
        return out


def _newest(region: str) -> sa.Select[Any]:
    """A region's entries (``all`` for every article), removed ones left out, newest
    ``updated`` first (ties: the later article first), read in the order of an index so that
    a limit reads that many rows: ``all`` from ``ix_articles_updated``, a region from
    ``ix_region_entries_updated`` (its entries carry their article's ``updated_at``), each
    joined to its article."""
    if region == ALL:
        return (
            sa.select(articles)
            .where(articles.c.removed_at.is_(None))
            .order_by(articles.c.updated_at.desc(), articles.c.id.desc())
        )
    return (
        sa.select(articles)
        .select_from(region_entries)
        .join(articles, articles.c.id == region_entries.c.article_id)
        .where(
            region_entries.c.region == region,
            region_entries.c.suppressed.is_(False),
            articles.c.removed_at.is_(None),
        )
        .order_by(region_entries.c.updated_at.desc(), region_entries.c.article_id.desc())
    )


def _in_region(region: str, *also: Any) -> Any:
    """The article (of an outer query on ``articles``) has an entry in ``region`` (meeting
    ``also``): a look-up by primary key per article, for queries that read few articles."""
    return (
        sa.exists()
        .where(
            region_entries.c.region == region,
            region_entries.c.article_id == articles.c.id,
            *also,
        )
        .correlate(articles)
    )


def _listed(stored: str) -> tuple[Any, ...]:
    """A JSON list column as a tuple (most are empty: read without the decoder)."""
    return () if stored == "[]" else tuple(json.loads(stored))

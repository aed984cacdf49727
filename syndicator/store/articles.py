"""The write side of articles: the identity contract of DESIGN.md applied to what a pass read,
per article or in batches, and removals. Reading for feeds lives in ``feeds``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syndicator import fingerprint
from syndicator.model import Article
from syndicator.store.batch import _Unit
from syndicator.store.common import (
    _chunks,
    _fetched_location,
    _outranks,
    entry_id_for,
    text_diff,
    utc,
)
from syndicator.store.records import Change, ChangeSet
from syndicator.store.schema import (
    APPLY_BATCH,
    WRITE_LOCK,
    _exclusive,
    articles,
    locations,
    revisions,
)
from syndicator.store.sources import Sources


class Articles(Sources):
    """:meth:`apply` is the identity contract of DESIGN.md in one transaction per source pass:
    created / updated (a revision) / duplicate (another location) / unchanged, near-duplicate
    clusters, region membership, and the change events written to the outbox with the change
    that caused them."""

    def apply(
        self,
        source_id: str | None,
        items: Sequence[Article],
        *,
        now: datetime,
        suppress: frozenset[str] = frozenset(),
        validators: Sequence[tuple[str, str | None, str | None, int | None]] = (),
        priority: Mapping[str, int] | None = None,
        conn: Connection | None = None,
    ) -> ChangeSet:
        """Store what a pass found, in one transaction (or in ``conn``'s).

        Per article: same key and hash → unchanged; same key, new hash → updated (a revision,
        ``updated`` moves, the entry id stays); new key with a stored hash → duplicate (another
        location of the stored article); otherwise created, clustered with a near-duplicate if
        one is stored. Region memberships and change events are written alongside.
        ``validators`` (url, etag, last_modified, status) are saved in the same transaction.
        ``priority`` ranks sources (lower first): a copy of a stored story from a source that
        ranks before the one stored becomes the entry's address (same entry id), so the outcome
        does not depend on which source happened to run first.

        Passes store one after another (on PostgreSQL a transaction-level advisory lock, on
        SQLite its write lock, taken first): deciding that an article is new, a duplicate or a
        near-duplicate, and numbering region entries, reads what every pass before stored,
        whether the passes run in threads of one process or in workers on several machines.
        """
        if conn is None:
            with self.transaction() as c:
                return self.apply(
                    source_id,
                    items,
                    now=now,
                    suppress=suppress,
                    validators=validators,
                    priority=priority,
                    conn=c,
                )
        _exclusive(conn, WRITE_LOCK)
        result = ChangeSet()
        if not items and not validators:
            return result
        unit = _Unit(self, conn)
        n = 0
        for chunk in _chunks(items, APPLY_BATCH):
            unit.prefetch(chunk)
            for item in chunk:
                # Each article of a pass gets its own instant, a microsecond after the one
                # before: feed order is document order, no two entries of a pass share one.
                at = now + timedelta(microseconds=n)
                n += 1
                result.changes.append(
                    self._apply_batched(unit, source_id, item, at, suppress, result, priority)
                )
        unit.flush()
        self._save_validators_many(conn, source_id or "", validators, now)
        return result

    def _apply_batched(
        self,
        unit: _Unit,
        source_id: str | None,
        item: Article,
        now: datetime,
        suppress: frozenset[str],
        result: ChangeSet,
        priority: Mapping[str, int] | None,
    ) -> Change:
        """One article, decided as :meth:`_apply_one` decides, on what ``unit`` read for the
        batch: an article unchanged, a duplicate of a stored text and a new article are done
        there; the rest (a revision, a take-over, a promotion, a copy of a located article) by
        :meth:`_apply_one` itself, after the unit wrote what it holds."""
        row = unit.row_by_key(item.key)
        same = located = None
        if row is not None:
            if not _outranks(priority, source_id, row.source_id) and (
                row.content_hash == item.content_hash or (row.complete and not item.complete)
            ):
                unit.locate_fetched(row.id, item, source_id, now)
                regions = unit.join_regions(row.id, item.regions, now, suppress, row.cluster_id)
                result.regions.update(regions)
                if row.content_hash == item.content_hash:
                    return Change("unchanged", item.url, row.entry_id, item.key, tuple(regions))
                return Change(
                    "unchanged",
                    item.url,
                    row.entry_id,
                    item.key,
                    tuple(regions),
                    "a summary of the stored article",
                )
        else:
            located = unit.location(item.key)
            same = unit.first_with_hash(item.content_hash)
            if same is not None and not _outranks(priority, source_id, same.source_id):
                reason = f"same content hash as {same.key}"
                unit.locate(same.id, item.key, source_id, "duplicate", reason, now)
                unit.locate_fetched(same.id, item, source_id, now)
                regions = unit.join_regions(same.id, item.regions, now, suppress, same.cluster_id)
                result.regions.update(regions)
                return Change(
                    "duplicate", item.url, same.entry_id, item.key, tuple(regions), reason
                )
            if same is None and located is None:
                return unit.create(source_id, item, now, suppress, result)
        involved = {r.id for r in (row, same) if r is not None}
        if located is not None:
            involved.add(located[0])
        unit.flush()
        change = self._apply_one(unit.conn, source_id, item, now, suppress, result, priority)
        stored = unit.conn.execute(
            sa.select(articles.c.id).where(articles.c.key == item.key)
        ).scalar()
        if stored is not None:
            involved.add(int(stored))
        fetched = _fetched_location(item)
        unit.forget(
            involved,
            [item.key, *([fetched] if fetched else []), *(r.key for r in (row, same) if r)],
            [item.content_hash, *(r.content_hash for r in (row, same) if r)],
        )
        return change

    def _apply_one(
        self,
        conn: Connection,
        source_id: str | None,
        item: Article,
        now: datetime,
        suppress: frozenset[str],
        result: ChangeSet,
        priority: Mapping[str, int] | None = None,
    ) -> Change:
        row = conn.execute(sa.select(articles).where(articles.c.key == item.key)).first()
        if row is not None:
            if _outranks(priority, source_id, row.source_id):
                self._take_over(conn, source_id, row, item, now)
            return self._revisit(conn, source_id, row, item, now, suppress, result)
        located = conn.execute(
            sa.select(locations.c.article_id, locations.c.relation).where(
                locations.c.url == item.key
            )
        ).first()
        same = conn.execute(
            sa.select(articles)
            .where(articles.c.content_hash == item.content_hash)
            .order_by(articles.c.id)
            .limit(1)
        ).first()
        if same is None and located is not None:
            original = conn.execute(
                sa.select(articles).where(articles.c.id == located.article_id)
            ).first()
            if (
                original is not None
                and fingerprint.similarity(original.similarity, item.similarity)
                >= fingerprint.NEAR_DUPLICATE
            ):
                same = original
        if (
            same is not None
            and _outranks(priority, source_id, same.source_id)
            and (same.content_hash == item.content_hash)
        ):
            return self._promote(conn, source_id, same, item, now, suppress, result)
        if same is not None:
            reason = (
                f"same content hash as {same.key}"
                if same.content_hash == item.content_hash
                else f"a lightly edited copy of {same.key}"
            )
            self._locate(conn, same.id, item.key, source_id, "duplicate", reason, now)
            self._locate_fetched(conn, same.id, item, source_id, now)
            regions = self._join_regions(
                conn, same.id, item.regions, now, suppress, same.cluster_id
            )
            result.regions.update(regions)
            return Change("duplicate", item.url, same.entry_id, item.key, tuple(regions), reason)
        return self._create(conn, source_id, item, now, suppress, result)

    def _take_over(
        self, conn: Connection, source_id: str | None, row: Any, item: Article, now: datetime
    ) -> None:
        """The same address from a source that ranks before the one that stored it: the story
        is now that source's, and (when it is the same text, and not a summary of a stored full
        text) so is its metadata, as if this copy had been stored first: the outcome does not
        depend on which source a worker happened to run first. Its feeds are re-rendered; a
        different text is then a revision, as from any source."""
        values: dict[str, Any] = {"source_id": source_id}
        if item.content_hash == row.content_hash and (item.complete or not row.complete):
            values.update(self._article_values(item))
            if row.revision == 0:
                published = item.published or utc(row.published_at) or now
                values["updated_at"] = max(item.updated or published, published)
        conn.execute(sa.update(articles).where(articles.c.id == row.id).values(values))
        conn.execute(
            sa.update(locations)
            .where(locations.c.url == row.key, locations.c.article_id == row.id)
            .values(source_id=source_id)
        )
        for region in self._regions_of(conn, row.id):
            self._region_change(conn, region, row.id, "updated", now)

    def _promote(
        self,
        conn: Connection,
        source_id: str | None,
        row: Any,
        item: Article,
        now: datetime,
        suppress: frozenset[str],
        result: ChangeSet,
    ) -> Change:
        """The same story from a source that ranks first: its copy becomes the entry's address
        and metadata (the entry id, dates of the entry and revisions stay); the stored copy
        becomes a duplicate location."""
        values = self._article_values(item)
        values.update(key=item.key, source_id=source_id)
        if item.published is None:
            values.pop("published_at", None)
        conn.execute(sa.update(articles).where(articles.c.id == row.id).values(values))
        reason = f"same content hash as {item.key}, from a source that ranks first"
        conn.execute(
            sa.update(locations)
            .where(locations.c.url == row.key)
            .values(relation="duplicate", reason=reason)
        )
        own = "the article's own address (its source ranks first)"
        moved = conn.execute(
            sa.update(locations)
            .where(locations.c.url == item.key)
            .values(article_id=row.id, relation="self", reason=own, source_id=source_id)
        )
        if not moved.rowcount:
            self._locate(conn, row.id, item.key, source_id, "self", own, now)
        self._locate_fetched(conn, row.id, item, source_id, now)
        joined = self._join_regions(conn, row.id, item.regions, now, suppress, row.cluster_id)
        for region in self._regions_of(conn, row.id):
            if region not in joined:
                self._region_change(conn, region, row.id, "updated", now)
        members = self._regions_of(conn, row.id)
        result.regions.update(members)
        return Change(
            "duplicate",
            item.url,
            row.entry_id,
            item.key,
            tuple(members),
            f"the story stored from {row.key}; this copy's source ranks first, so its address "
            "is now the entry's",
        )

    def _create(
        self,
        conn: Connection,
        source_id: str | None,
        item: Article,
        now: datetime,
        suppress: frozenset[str],
        result: ChangeSet,
    ) -> Change:
        cluster_id, near = self._near_duplicate(conn, item)
        entry_id = entry_id_for(item.key, self.host, item.published, now)
        published = item.published or now
        values = self._article_values(item)
        values.update(
            entry_id=entry_id,
            key=item.key,
            source_id=source_id,
            published_at=published,
            dated=item.published is not None,
            updated_at=max(item.updated or published, published),
            first_seen_at=now,
            revision=0,
            cluster_id=cluster_id,
        )
        inserted = conn.execute(sa.insert(articles), values).inserted_primary_key
        assert inserted is not None
        article_id = int(inserted[0])
        if cluster_id is None:
            conn.execute(
                sa.update(articles).where(articles.c.id == article_id).values(cluster_id=article_id)
            )
            cluster_id = article_id
        self._locate(
            conn, article_id, item.key, source_id, "self", "the article's own address", now
        )
        self._locate_fetched(conn, article_id, item, source_id, now)
        self._join_all(conn, article_id, now)
        regions = self._join_regions(
            conn, article_id, item.regions, now, suppress, cluster_id, near=near is not None
        )
        result.regions.update(regions)
        self._event(
            conn,
            "article.created",
            now,
            regions,
            article=self._article_payload(conn, article_id),
            changes={"content_hash": item.content_hash, "near_duplicate_of": near},
        )
        reason = f"new; a near-duplicate of {near}" if near else "new"
        return Change("created", item.url, entry_id, item.key, tuple(regions), reason)

    def _revisit(
        self,
        conn: Connection,
        source_id: str | None,
        row: Any,
        item: Article,
        now: datetime,
        suppress: frozenset[str],
        result: ChangeSet,
    ) -> Change:
        self._locate_fetched(conn, row.id, item, source_id, now)
        regions = self._join_regions(conn, row.id, item.regions, now, suppress, row.cluster_id)
        result.regions.update(regions)
        if row.content_hash == item.content_hash:
            return Change("unchanged", item.url, row.entry_id, item.key, tuple(regions))
        if row.complete and not item.complete:
            # A feed summary never replaces the full text stored from the page.
            return Change(
                "unchanged",
                item.url,
                row.entry_id,
                item.key,
                tuple(regions),
                "a summary of the stored article",
            )
        previous = json.loads(row.paragraphs)
        revision = row.revision + 1
        updated_at = utc(row.updated_at) or now
        stated = item.updated
        updated_at = stated if stated and stated > updated_at else max(now, updated_at)
        conn.execute(
            sa.insert(revisions),
            {
                "article_id": row.id,
                "revision": revision,
                "revised_at": now,
                "previous_hash": row.content_hash,
                "new_hash": item.content_hash,
                "previous_title": row.title,
                "diff": text_diff([row.title, *previous], [item.title, *item.paragraphs]),
                "source_id": source_id,
            },
        )
        values = self._article_values(item)
        values.update(revision=revision, updated_at=updated_at, removed_at=None)
        if item.published is None:
            values.pop("published_at", None)
        conn.execute(sa.update(articles).where(articles.c.id == row.id).values(values))
        members = self._regions_of(conn, row.id)
        for region in members:
            self._region_change(conn, region, row.id, "updated", now)
        result.regions.update(members)
        self._event(
            conn,
            "article.updated",
            now,
            members,
            article=self._article_payload(conn, row.id),
            changes={
                "previous_hash": row.content_hash,
                "content_hash": item.content_hash,
                "revision": revision,
                "diff": text_diff([row.title, *previous], [item.title, *item.paragraphs]),
            },
        )
        return Change(
            "updated", item.url, row.entry_id, item.key, tuple(members), f"revision {revision}"
        )

    def remove(self, conn: Connection, url: str, now: datetime, reason: str) -> Change | None:
        """The article at this address is gone: it leaves the feeds (as a tombstone in Atom)
        and an ``article.removed`` event is written. None if no live article is there."""
        _exclusive(conn, WRITE_LOCK)
        row = conn.execute(
            sa.select(articles).where(articles.c.key == url, articles.c.removed_at.is_(None))
        ).first()
        if row is None:
            return None
        conn.execute(sa.update(articles).where(articles.c.id == row.id).values(removed_at=now))
        members = self._regions_of(conn, row.id)
        for region in members:
            self._region_change(conn, region, row.id, "removed", now)
        self._event(
            conn,
            "article.removed",
            now,
            members,
            article=self._article_payload(conn, row.id),
            changes={"reason": reason},
        )
        return Change("removed", row.url, row.entry_id, row.key, tuple(members), reason)

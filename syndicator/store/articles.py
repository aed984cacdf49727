"""The write side of articles: the identity contract of DESIGN.md applied to what a pass read,
per article or in batches, and removals. Reading for feeds lives in ``feeds``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syndicator.model import Article, as_utc
from syndicator.store.batch import _Unit
from syndicator.store.common import (
    _chunks,
    _fetched_location,
    text_diff,
)
from syndicator.store.identity import Arrival, Stored, decide
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
        batch = _Pass(unit, source_id, suppress, result, priority)
        n = 0
        for chunk in _chunks(items, APPLY_BATCH):
            unit.prefetch(chunk)
            for item in chunk:
                # Each article of a pass gets its own instant, a microsecond after the one
                # before: feed order is document order, no two entries of a pass share one.
                at = now + timedelta(microseconds=n)
                n += 1
                result.changes.append(self._apply_in(batch, item, at))
        unit.flush()
        self._save_validators_many(conn, source_id or "", validators, now)
        return result

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
        """One article on its own, read as it goes (no batch prefetched): what :meth:`apply`
        does for each article of a batch."""
        unit = _Unit(self, conn, batched=False)
        change = self._apply_in(_Pass(unit, source_id, suppress, result, priority), item, now)
        unit.flush()
        return change

    def _apply_in(self, batch: _Pass, item: Article, now: datetime) -> Change:
        """Read what is stored for the article's key, hash and address, ask
        :func:`identity.decide`, and carry its decision out on the pass's unit."""
        unit, source_id = batch.unit, batch.source_id
        row = unit.row_by_key(item.key)
        same = original = None
        located = None
        if row is None:
            same = unit.first_with_hash(item.content_hash)
            located = unit.location(item.key)
            if same is None and located is not None:
                original = unit.row_by_id(located[0])
        decision = decide(
            Arrival(item.key, item.content_hash, item.similarity, item.complete, source_id),
            by_key=_stored(row),
            by_hash=_stored(same),
            at_address=_stored(original),
            priority=batch.priority,
        )
        if decision.action == "created":
            return unit.create(
                source_id,
                item,
                now,
                batch.suppress,
                batch.result,
                reused_address=located is not None,
            )
        target = row if row is not None else same if same is not None else original
        assert target is not None and decision.article is not None
        if decision.action == "duplicate":
            unit.locate(target.id, item.key, source_id, "duplicate", decision.reason, now)
            unit.locate_fetched(target.id, item, source_id, now)
            regions = unit.join_regions(
                target.id, item.regions, now, batch.suppress, target.cluster_id
            )
            batch.result.regions.update(regions)
            return Change(
                "duplicate", item.url, target.entry_id, item.key, tuple(regions), decision.reason
            )
        if decision.action in ("unchanged", "summary") and not decision.take_over:
            return self._revisit(batch, target, item, now, decision.reason)
        # What follows updates stored rows: written on the connection, then forgotten by the
        # unit (read again when next needed).
        unit.flush()
        if decision.action == "promoted":
            change = self._promote(batch, target, item, now)
        else:
            if decision.take_over:
                self._take_over(batch, target, item, now)
            if decision.action == "updated":
                change = self._revise(batch, target, item, now)
            else:
                change = self._revisit(batch, target, item, now, decision.reason)
        unit.flush()
        fetched = _fetched_location(item)
        unit.forget(
            {target.id},
            [item.key, target.key, *([fetched] if fetched else [])],
            [item.content_hash, target.content_hash],
        )
        return change

    @staticmethod
    def _revisit(batch: _Pass, row: Any, item: Article, now: datetime, reason: str) -> Change:
        """The stored text stays (unchanged, or a summary of it): the article may join more
        regions and gain the address it was fetched at."""
        unit = batch.unit
        unit.locate_fetched(row.id, item, batch.source_id, now)
        regions = unit.join_regions(row.id, item.regions, now, batch.suppress, row.cluster_id)
        batch.result.regions.update(regions)
        return Change("unchanged", item.url, row.entry_id, item.key, tuple(regions), reason)

    def _take_over(self, batch: _Pass, row: Any, item: Article, now: datetime) -> None:
        """The same address from a source that ranks before the one that stored it: the story
        is now that source's, and (when it is the same text, and not a summary of a stored full
        text) so is its metadata, as if this copy had been stored first: the outcome does not
        depend on which source a worker happened to run first. Its feeds are re-rendered; a
        different text is then a revision, as from any source."""
        unit, conn, source_id = batch.unit, batch.unit.conn, batch.source_id
        values: dict[str, Any] = {"source_id": source_id}
        if item.content_hash == row.content_hash and (item.complete or not row.complete):
            values.update(self._article_values(item))
            if row.revision == 0:
                published = item.published or as_utc(row.published_at) or now
                values["updated_at"] = max(item.updated or published, published)
        conn.execute(sa.update(articles).where(articles.c.id == row.id).values(values))
        if "updated_at" in values:
            unit.set_updated(row.id, values["updated_at"])
        conn.execute(
            sa.update(locations)
            .where(locations.c.url == row.key, locations.c.article_id == row.id)
            .values(source_id=source_id)
        )
        for region in sorted(unit.regions_of(row.id)):
            unit.region_change(region, row.id, "updated", now)

    def _promote(self, batch: _Pass, row: Any, item: Article, now: datetime) -> Change:
        """The same story from a source that ranks first: its copy becomes the entry's address
        and metadata (the entry id, dates of the entry and revisions stay); the stored copy
        becomes a duplicate location."""
        unit, conn, source_id = batch.unit, batch.unit.conn, batch.source_id
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
        unit.located.pop(row.key, None)
        if moved.rowcount:
            unit.located[item.key] = (row.id, "self")
        else:
            unit.locate(row.id, item.key, source_id, "self", own, now)
        unit.locate_fetched(row.id, item, source_id, now)
        joined = unit.join_regions(row.id, item.regions, now, batch.suppress, row.cluster_id)
        members = sorted(unit.regions_of(row.id))
        for region in members:
            if region not in joined:
                unit.region_change(region, row.id, "updated", now)
        batch.result.regions.update(members)
        return Change(
            "duplicate",
            item.url,
            row.entry_id,
            item.key,
            tuple(members),
            f"the story stored from {row.key}; this copy's source ranks first, so its address "
            "is now the entry's",
        )

    def _revise(self, batch: _Pass, row: Any, item: Article, now: datetime) -> Change:
        """A new text at a stored key: a revision (the entry id stays, ``updated`` moves)."""
        unit, conn, source_id = batch.unit, batch.unit.conn, batch.source_id
        unit.locate_fetched(row.id, item, source_id, now)
        regions = unit.join_regions(row.id, item.regions, now, batch.suppress, row.cluster_id)
        batch.result.regions.update(regions)
        previous = json.loads(row.paragraphs)
        revision = row.revision + 1
        updated_at = as_utc(row.updated_at) or now
        stated = item.updated
        updated_at = stated if stated and stated > updated_at else max(now, updated_at)
        diff = text_diff([row.title, *previous], [item.title, *item.paragraphs])
        unit.flush()
        conn.execute(
            sa.insert(revisions),
            {
                "article_id": row.id,
                "revision": revision,
                "revised_at": now,
                "previous_hash": row.content_hash,
                "new_hash": item.content_hash,
                "previous_title": row.title,
                "diff": diff,
                "source_id": source_id,
            },
        )
        values = self._article_values(item)
        values.update(revision=revision, updated_at=updated_at, removed_at=None)
        if item.published is None:
            values.pop("published_at", None)
        conn.execute(sa.update(articles).where(articles.c.id == row.id).values(values))
        unit.set_updated(row.id, updated_at)
        members = sorted(unit.regions_of(row.id))
        for region in members:
            unit.region_change(region, row.id, "updated", now)
        batch.result.regions.update(members)
        unit.event(
            "article.updated",
            now,
            members,
            article=self._article_payload(conn, row.id),
            changes={
                "previous_hash": row.content_hash,
                "content_hash": item.content_hash,
                "revision": revision,
                "diff": diff,
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


def _stored(row: Any) -> Stored | None:
    """A stored article row (or one added in this batch) as the decider reads it."""
    if row is None:
        return None
    return Stored(
        id=row.id,
        key=row.key,
        source_id=row.source_id,
        content_hash=row.content_hash,
        similarity=row.similarity,
        complete=bool(row.complete),
        cluster_id=row.cluster_id,
    )


@dataclass(frozen=True, slots=True)
class _Pass:
    """What every article of one pass is stored with: the unit that reads and writes, the
    source, the regions that suppress near-duplicates, the pass's change set (the regions it
    changed grow as articles are stored) and the sources' ranks."""

    unit: _Unit
    source_id: str | None
    suppress: frozenset[str]
    result: ChangeSet
    priority: Mapping[str, int] | None

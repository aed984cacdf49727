"""Reports for operators: ``explain`` (why an article is where it is) and the source page's
history (fetches, articles, revisions, events). Read only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from syndicator.model import Entry, iso
from syndicator.store.common import _chunks
from syndicator.store.feeds import Feeds
from syndicator.store.schema import (
    ALL,
    articles,
    fetch_log,
    locations,
    outbox,
    region_entries,
    revisions,
)


class Reports(Feeds):
    """What the ops pages and ``explain`` read."""

    def explain(self, ref: str) -> dict[str, Any] | None:
        """Everything about one article, found by entry id, key or any URL it was seen at."""
        from syndicator.normalize import canonical_url

        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(articles).where(sa.or_(articles.c.entry_id == ref, articles.c.key == ref))
            ).first()
            via = None
            if row is None:
                try:
                    url = canonical_url(ref)
                except ValueError:
                    url = ref
                loc = conn.execute(
                    sa.select(locations).where(locations.c.url.in_([ref, url]))
                ).first()
                if loc is not None:
                    via = {
                        "url": loc.url,
                        "relation": loc.relation,
                        "reason": loc.reason,
                        "source": loc.source_id,
                    }
                    row = conn.execute(
                        sa.select(articles).where(articles.c.id == loc.article_id)
                    ).first()
            if row is None:
                return None
            locs = conn.execute(
                sa.select(locations)
                .where(locations.c.article_id == row.id)
                .order_by(locations.c.id)
            ).all()
            revs = conn.execute(
                sa.select(revisions)
                .where(revisions.c.article_id == row.id)
                .order_by(revisions.c.revision)
            ).all()
            members = conn.execute(
                sa.select(region_entries)
                .where(region_entries.c.article_id == row.id, region_entries.c.region != ALL)
                .order_by(region_entries.c.region)
            ).all()
            cluster = conn.execute(
                sa.select(articles.c.entry_id, articles.c.key).where(
                    articles.c.cluster_id == row.cluster_id, articles.c.id != row.id
                )
            ).all()
        return {
            "query": ref,
            "found_via": via,
            "id": row.entry_id,
            "key": row.key,
            "url": row.url,
            "title": row.title,
            "source": row.source_id,
            "content_hash": row.content_hash,
            "similarity": row.similarity,
            "published": iso(row.published_at) if row.dated else None,
            "updated": iso(row.updated_at),
            "first_seen": iso(row.first_seen_at),
            "revision": row.revision,
            "removed": iso(row.removed_at),
            "locations": [
                {
                    "url": loc.url,
                    "relation": loc.relation,
                    "reason": loc.reason,
                    "source": loc.source_id,
                    "first_seen": iso(loc.first_seen_at),
                }
                for loc in locs
            ],
            "revisions": [
                {
                    "revision": r.revision,
                    "at": iso(r.revised_at),
                    "previous_hash": r.previous_hash,
                    "new_hash": r.new_hash,
                    "diff": r.diff,
                }
                for r in revs
            ],
            "regions": [
                {
                    "region": m.region,
                    "reasons": json.loads(m.reasons),
                    "suppressed": m.suppressed,
                    "joined": iso(m.added_at),
                }
                for m in members
            ],
            "near_duplicates": [{"id": c.entry_id, "key": c.key} for c in cluster],
        }

    def fetch_history(self, source_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """A source's last fetches, newest first: URL, time, status, outcome, reason, bytes."""
        query = (
            sa.select(fetch_log)
            .where(fetch_log.c.source_id == source_id)
            .order_by(fetch_log.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            {
                "url": r.url,
                "at": iso(r.at),
                "status": r.status,
                "outcome": r.outcome,
                "reason": r.reason,
                "bytes": r.bytes,
                "duration_ms": r.duration_ms,
            }
            for r in rows
        ]

    def source_articles(self, source_id: str, limit: int = 50) -> list[Entry]:
        """The articles a source brought (it is their source), most recently updated first."""
        query = (
            sa.select(articles)
            .where(articles.c.source_id == source_id)
            .order_by(articles.c.updated_at.desc(), articles.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            regions = self._regions_by_article(conn, [r.id for r in rows])
        return [self._entry(r, regions.get(r.id, ())) for r in rows]

    def revisions_of(self, entry_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """The revisions of these entries (entry id → newest first), each with its diff."""
        out: dict[str, list[dict[str, Any]]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(entry_ids), 500):
                rows = conn.execute(
                    sa.select(revisions, articles.c.entry_id)
                    .join(articles, articles.c.id == revisions.c.article_id)
                    .where(articles.c.entry_id.in_(chunk))
                    .order_by(revisions.c.revision.desc())
                ).all()
                for r in rows:
                    out.setdefault(r.entry_id, []).append(
                        {
                            "revision": r.revision,
                            "at": iso(r.revised_at),
                            "previous_title": r.previous_title,
                            "diff": r.diff,
                        }
                    )
        return out

    def source_events(self, source_id: str, limit: int = 20) -> list[dict[str, Any]]:
        """A source's health history: its ``source.*`` events, newest first."""
        query = (
            sa.select(outbox.c.body)
            .where(outbox.c.type.like("source.%"))
            .order_by(outbox.c.id.desc())
            .limit(2000)  # the newest health events of every source: plenty for one's 20
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        events = []
        for row in rows:
            body = json.loads(row.body)
            if (body.get("source") or {}).get("id") == source_id:
                events.append(body)
                if len(events) >= limit:
                    break
        return events

"""What the write side reads and writes inside a caller's transaction, one row at a time: an
article's regions, region changes, outbox events, an article's values and payload, the
near-duplicate look-up of one article. The batched writer (``batch``) and removals build on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syndicator.model import Article
from syndicator.store.common import _bands, _dumps, _event_row, _payload
from syndicator.store.database import StoreBase
from syndicator.store.identity import nearest
from syndicator.store.schema import ALL, articles, outbox, region_changes, region_entries


class Membership(StoreBase):
    """Writing region membership, locations and events inside a caller's transaction."""

    @staticmethod
    def _article_values(item: Article) -> dict[str, Any]:
        sig = item.similarity
        b0, b1, b2, b3 = _bands(sig)
        values: dict[str, Any] = {
            "url": item.url,
            "title": item.title,
            "subtitle": item.subtitle,
            "summary": item.summary,
            "section": item.section,
            "categories": _dumps(list(item.categories)),
            "authors": _dumps(list(item.authors)),
            "dateline": item.dateline,
            "language": item.language,
            "content_hash": item.content_hash,
            "similarity": sig,
            "band0": b0,
            "band1": b1,
            "band2": b2,
            "band3": b3,
            "paragraphs": _dumps(list(item.paragraphs)),
            "content_html": item.content_html,
            "images": _dumps([i.to_json() for i in item.images]),
            "fetched_url": item.fetched_url,
            "guid": item.guid,
            "method": item.method,
            "complete": item.complete,
        }
        if item.published is not None:
            values["published_at"] = item.published
            values["dated"] = True
        return values

    def _near_duplicate(self, conn: Connection, item: Article) -> tuple[int | None, str | None]:
        """The cluster a new article joins, and the key it is a near-duplicate of: among the
        rows sharing one of its signature's bands (one query per article)."""
        bands = _bands(item.similarity)
        condition = sa.or_(*(articles.c[f"band{i}"] == bands[i] for i in range(4)))
        return nearest(
            item.similarity,
            conn.execute(
                sa.select(
                    articles.c.id, articles.c.key, articles.c.similarity, articles.c.cluster_id
                )
                .where(condition)
                .limit(200)
            ),
        )

    def _regions_of(self, conn: Connection, article_id: int) -> list[str]:
        return list(
            conn.execute(
                sa.select(region_entries.c.region)
                .where(region_entries.c.article_id == article_id, region_entries.c.region != ALL)
                .order_by(region_entries.c.region)
            ).scalars()
        )

    @staticmethod
    def _cluster_shown(conn: Connection, region: str, cluster_id: int) -> bool:
        """Whether a region already shows an article of this near-duplicate cluster."""
        shown = conn.execute(
            sa.select(sa.func.count())
            .select_from(
                region_entries.join(articles, articles.c.id == region_entries.c.article_id)
            )
            .where(
                region_entries.c.region == region,
                articles.c.cluster_id == cluster_id,
                region_entries.c.suppressed.is_(False),
            )
        ).scalar_one()
        return bool(shown > 0)

    @staticmethod
    def _region_change(
        conn: Connection, region: str, article_id: int, change: str, now: datetime
    ) -> None:
        conn.execute(
            sa.insert(region_changes),
            {
                "region": region,
                "article_id": article_id,
                "change": change,
                "at": now,
                "published": False,
            },
        )

    def _event(
        self, conn: Connection, kind: str, now: datetime, regions: Iterable[str], **payload: Any
    ) -> str:
        row = _event_row(kind, now, regions, **payload)
        conn.execute(sa.insert(outbox), row)
        return str(row["event_id"])

    def add_event(self, kind: str, now: datetime, regions: Iterable[str], **payload: Any) -> str:
        with self.transaction() as conn:
            return self._event(conn, kind, now, regions, **payload)

    def _article_payload(self, conn: Connection, article_id: int) -> dict[str, Any]:
        return _payload(conn.execute(sa.select(articles).where(articles.c.id == article_id)).one())

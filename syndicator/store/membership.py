"""Region membership and the outbox's writes: which regions an article is in, the change
events written with the change that caused them, an article's locations. Used by the write
side (articles, removals) and by nothing that only reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syndicator import fingerprint
from syndicator.model import Article, RegionMatch
from syndicator.store.common import _bands, _dumps, _payload
from syndicator.store.database import StoreBase
from syndicator.store.schema import ALL, articles, locations, outbox, region_changes, region_entries


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
        bands = _bands(item.similarity)
        condition = sa.or_(*(articles.c[f"band{i}"] == bands[i] for i in range(4)))
        best: tuple[float, Any] | None = None
        for row in conn.execute(
            sa.select(articles.c.id, articles.c.key, articles.c.similarity, articles.c.cluster_id)
            .where(condition)
            .limit(200)
        ):
            score = fingerprint.similarity(row.similarity, item.similarity)
            if score >= fingerprint.NEAR_DUPLICATE and (best is None or score > best[0]):
                best = (score, row)
        if best is None:
            return None, None
        return best[1].cluster_id or best[1].id, best[1].key

    def _locate(
        self,
        conn: Connection,
        article_id: int,
        url: str,
        source_id: str | None,
        relation: str,
        reason: str,
        now: datetime,
    ) -> None:
        exists = conn.execute(sa.select(locations.c.id).where(locations.c.url == url)).first()
        if exists is None:
            conn.execute(
                sa.insert(locations),
                {
                    "article_id": article_id,
                    "url": url,
                    "source_id": source_id,
                    "relation": relation,
                    "reason": reason,
                    "first_seen_at": now,
                },
            )

    def _locate_fetched(
        self, conn: Connection, article_id: int, item: Article, source_id: str | None, now: datetime
    ) -> None:
        from syndicator.normalize import canonical_url

        fetched = item.fetched_url
        if not fetched or urlsplit(fetched).scheme not in ("http", "https", "file"):
            return
        if urlsplit(item.key).scheme not in ("http", "https", "file"):
            return  # keyed by GUID or by text: several articles share the document they came in
        fetched = canonical_url(fetched)
        if fetched != item.key:
            self._locate(
                conn,
                article_id,
                fetched,
                source_id,
                "alternate",
                f"fetched there; names {item.key} as its canonical address",
                now,
            )

    def _regions_of(self, conn: Connection, article_id: int) -> list[str]:
        return list(
            conn.execute(
                sa.select(region_entries.c.region)
                .where(region_entries.c.article_id == article_id, region_entries.c.region != ALL)
                .order_by(region_entries.c.region)
            ).scalars()
        )

    def _join_all(self, conn: Connection, article_id: int, now: datetime) -> None:
        """Every article is in ``all`` too, with its own sequence number (for its archives)."""
        seq = (
            conn.execute(
                sa.select(sa.func.max(region_entries.c.seq)).where(region_entries.c.region == ALL)
            ).scalar()
            or 0
        ) + 1
        conn.execute(
            sa.insert(region_entries),
            {
                "region": ALL,
                "article_id": article_id,
                "seq": seq,
                "added_at": now,
                "reasons": "[]",
                "suppressed": False,
            },
        )

    def _join_regions(
        self,
        conn: Connection,
        article_id: int,
        matches: Sequence[RegionMatch],
        now: datetime,
        suppress: frozenset[str],
        cluster_id: int | None,
        near: bool = False,
    ) -> list[str]:
        """Add the article to the regions its rules name; returns the regions newly joined."""
        wanted: dict[str, list[str]] = {}
        for m in matches:
            wanted.setdefault(m.region, []).append(str(m))
        joined = []
        have = set(self._regions_of(conn, article_id))
        for region, reasons in wanted.items():
            if region in have:
                continue
            suppressed = False
            if near and region in suppress and cluster_id is not None:
                suppressed = self._cluster_shown(conn, region, cluster_id)
            seq = (
                conn.execute(
                    sa.select(sa.func.max(region_entries.c.seq)).where(
                        region_entries.c.region == region
                    )
                ).scalar()
                or 0
            ) + 1
            conn.execute(
                sa.insert(region_entries),
                {
                    "region": region,
                    "article_id": article_id,
                    "seq": seq,
                    "added_at": now,
                    "reasons": _dumps(reasons),
                    "suppressed": suppressed,
                },
            )
            if not suppressed:
                self._region_change(conn, region, article_id, "created", now)
                joined.append(region)
        return joined

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
        event_id = str(uuid.uuid4())
        region_list = sorted(set(regions))
        body = {
            "id": event_id,
            "type": kind,
            "occurred_at": now.isoformat().replace("+00:00", "Z"),
            "regions": region_list,
            **payload,
        }
        body.setdefault("changes", {})
        conn.execute(
            sa.insert(outbox),
            {
                "event_id": event_id,
                "type": kind,
                "occurred_at": now,
                "regions": _dumps(region_list),
                "body": _dumps(body),
            },
        )
        return event_id

    def add_event(self, kind: str, now: datetime, regions: Iterable[str], **payload: Any) -> str:
        with self.transaction() as conn:
            return self._event(conn, kind, now, regions, **payload)

    def _article_payload(self, conn: Connection, article_id: int) -> dict[str, Any]:
        return _payload(conn.execute(sa.select(articles).where(articles.c.id == article_id)).one())

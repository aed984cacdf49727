"""A batch of articles applied together: read in a few set-based queries, written together.
Used by :meth:`Articles.apply`; it does not decide, it reads and writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syndicator.model import Article, RegionMatch
from syndicator.store.bulk import _copied, _inserted
from syndicator.store.common import (
    _bands,
    _chunks,
    _dumps,
    _event_row,
    _fetched_location,
    _payload,
    entry_id_for,
)
from syndicator.store.identity import nearest
from syndicator.store.membership import Membership
from syndicator.store.records import Change, ChangeSet
from syndicator.store.schema import (
    ALL,
    articles,
    locations,
    outbox,
    region_changes,
    region_entries,
)

# --------------------------------------------------------------------------------------------
# A batch of articles applied together: read in a few set-based queries, written together


NEAR_CANDIDATES = 200  # rows compared for near-duplicates, per article (lowest ids first)
CANDIDATES_PER_BATCH = 20_000  # beyond this, a batch looks near-duplicates up one by one


class _Unit:
    """What one :meth:`Store.apply` reads and writes, for the whole batch at once (or for one
    article, unbatched: then it reads as it goes).

    It reads what the batch's articles need in a few queries (the rows by key, by content hash
    and by near-duplicate band, the locations, the region memberships and sequence numbers)
    and defers the rows it adds (articles, locations, region entries and changes, outbox
    events) to :meth:`flush`, which writes each table with one multi-row insert. It decides
    nothing: ``identity.decide`` decides on what it read. A decision that updates stored rows
    (a revision, a take-over, a promotion) flushes, updates them on the connection, and forgets
    what it may have changed, which is read again when next needed. Article ids are allocated
    here (under the write lock every writer takes)."""

    def __init__(self, store: Membership, conn: Connection, *, batched: bool = True) -> None:
        self.store = store
        self.conn = conn
        self.by_key: dict[str, Any] = {}  # key → row (None: no article has that key)
        self.by_hash: dict[str, Any] = {}  # content hash → the first row with it, or None
        self.located: dict[str, Any] = {}  # location URL → (article_id, relation) or None
        self.members: dict[int, set[str]] = {}  # article id → its regions (not ALL)
        self.seq: dict[str, int] = {}  # region → its highest entry number
        # article id → its updated_at as stored (or about to be): what its region entries carry
        self.updated: dict[int, datetime] = {}
        # Near-duplicate candidates: rows by id, and by each band's value (in id order);
        # None when the batch's bands match more rows than it holds.
        # One article at a time (``batched`` false): nothing is prefetched and near-duplicates
        # are looked up one by one.
        self.candidates: dict[int, Any] | None = {} if batched else None
        self.by_band: list[dict[int, list[Any]]] = [{}, {}, {}, {}]
        self.next_id: int | None = None
        self.rows: dict[Any, list[dict[str, Any]]] = {
            articles: [],
            locations: [],
            region_entries: [],
            region_changes: [],
            outbox: [],
        }

    # -- reading -------------------------------------------------------------------------

    def prefetch(self, items: Sequence[Article]) -> None:
        """Read what these articles need; what was deferred is written first."""
        self.flush()
        conn = self.conn
        keys = sorted({i.key for i in items})
        hashes = sorted({i.content_hash for i in items})
        urls = sorted(set(keys) | {u for i in items if (u := _fetched_location(i))})
        self.by_key.update(dict.fromkeys(keys))
        for chunk in _chunks(keys, 500):
            query = sa.select(articles).where(_one_of(conn, articles.c.key, chunk))
            for row in conn.execute(query):
                self.by_key[row.key] = row
                self.updated[row.id] = row.updated_at
        self.by_hash.update(dict.fromkeys(hashes))
        for chunk in _chunks(hashes, 500):
            for row in conn.execute(
                sa.select(articles)
                .where(_one_of(conn, articles.c.content_hash, chunk))
                .order_by(articles.c.id.desc())
            ):
                self.by_hash[row.content_hash] = row  # the lowest id last
        self.located.update(dict.fromkeys(urls))
        for chunk in _chunks(urls, 500):
            for row in conn.execute(
                sa.select(locations.c.url, locations.c.article_id, locations.c.relation).where(
                    _one_of(conn, locations.c.url, chunk)
                )
            ):
                self.located[row.url] = (row.article_id, row.relation)
        ids = {r.id for r in (*self.by_key.values(), *self.by_hash.values()) if r is not None}
        ids |= {v[0] for v in self.located.values() if v is not None}
        ids -= set(self.members)
        for chunk in _chunks(sorted(ids), 500):
            for article_id in chunk:
                self.members[article_id] = set()
            for article_id, region in conn.execute(
                sa.select(region_entries.c.article_id, region_entries.c.region).where(
                    _one_of(conn, region_entries.c.article_id, chunk),
                    region_entries.c.region != ALL,
                )
            ):
                self.members[article_id].add(region)
        regions = sorted({m.region for i in items for m in i.regions} | {ALL})
        for region, top in conn.execute(
            sa.select(region_entries.c.region, sa.func.max(region_entries.c.seq))
            .where(region_entries.c.region.in_(regions))
            .group_by(region_entries.c.region)
        ):
            self.seq[region] = top or 0
        for region in regions:
            self.seq.setdefault(region, 0)
        self._prefetch_candidates(items)

    def _prefetch_candidates(self, items: Sequence[Article]) -> None:
        of_items = [_bands(i.similarity) for i in items]
        bands = [sorted({values[b] for values in of_items}) for b in range(4)]
        conn = self.conn
        found = conn.execute(
            sa.select(*_CANDIDATE_COLUMNS)
            .where(sa.or_(*(_one_of(conn, articles.c[f"band{b}"], bands[b]) for b in range(4))))
            .order_by(articles.c.id)
            .limit(CANDIDATES_PER_BATCH + 1)
        ).all()
        if len(found) > CANDIDATES_PER_BATCH:
            self.candidates = None
            return
        self.candidates, self.by_band = {}, [{}, {}, {}, {}]
        for row in found:
            self._candidate(row)

    def _candidate(self, row: Any) -> None:
        assert self.candidates is not None
        if row.id in self.candidates:
            return
        self.candidates[row.id] = row
        for b in range(4):
            self.by_band[b].setdefault(getattr(row, f"band{b}"), []).append(row)

    def row_by_key(self, key: str) -> Any:
        if key not in self.by_key:
            self.by_key[key] = self.conn.execute(
                sa.select(articles).where(articles.c.key == key)
            ).first()
        return self.by_key[key]

    def first_with_hash(self, content_hash: str) -> Any:
        if content_hash not in self.by_hash:
            self.by_hash[content_hash] = self.conn.execute(
                sa.select(articles)
                .where(articles.c.content_hash == content_hash)
                .order_by(articles.c.id)
                .limit(1)
            ).first()
        return self.by_hash[content_hash]

    def location(self, url: str) -> Any:
        if url not in self.located:
            row = self.conn.execute(
                sa.select(locations.c.article_id, locations.c.relation).where(
                    locations.c.url == url
                )
            ).first()
            self.located[url] = (row.article_id, row.relation) if row else None
        return self.located[url]

    def regions_of(self, article_id: int) -> set[str]:
        if article_id not in self.members:
            self.members[article_id] = set(self.store._regions_of(self.conn, article_id))
        return self.members[article_id]

    def next_seq(self, region: str) -> int:
        if region not in self.seq:
            self.seq[region] = (
                self.conn.execute(
                    sa.select(sa.func.max(region_entries.c.seq)).where(
                        region_entries.c.region == region
                    )
                ).scalar()
                or 0
            )
        self.seq[region] += 1
        return self.seq[region]

    def updated_of(self, article_id: int) -> datetime:
        """The article's ``updated_at``, which each of its region entries carries: as this
        unit set it (an article added in this batch, or moved by :meth:`set_updated`), else
        as stored (every other write of it is on the connection)."""
        if article_id not in self.updated:
            self.updated[article_id] = self.conn.execute(
                sa.select(articles.c.updated_at).where(articles.c.id == article_id)
            ).scalar_one()
        return self.updated[article_id]

    def set_updated(self, article_id: int, updated_at: datetime) -> None:
        """The article's ``updated_at`` was just set to this (on the connection): its region
        entries, written and deferred, carry it too."""
        self.flush()
        self.conn.execute(
            sa.update(region_entries)
            .where(region_entries.c.article_id == article_id)
            .values(updated_at=updated_at)
        )
        self.updated[article_id] = updated_at

    def near_duplicate(self, item: Article) -> tuple[int | None, str | None]:
        if self.candidates is None:  # too many to hold: one query per article, as stored
            self.flush()
            return self.store._near_duplicate(self.conn, item)
        bands = _bands(item.similarity)
        found: dict[int, Any] = {}
        for b in range(4):
            for row in self.by_band[b].get(bands[b], ())[:NEAR_CANDIDATES]:
                found[row.id] = row
        return nearest(item.similarity, (found[i] for i in sorted(found)[:NEAR_CANDIDATES]))

    def row_by_id(self, article_id: int) -> Any:
        """The article with this id (what was deferred is written first)."""
        self.flush()
        return self.conn.execute(sa.select(articles).where(articles.c.id == article_id)).first()

    def entry_id_taken(self, entry_id: str) -> bool:
        if any(r["entry_id"] == entry_id for r in self.rows[articles]):
            return True
        return (
            self.conn.execute(
                sa.select(articles.c.id).where(articles.c.entry_id == entry_id)
            ).first()
            is not None
        )

    # -- writing -------------------------------------------------------------------------

    def new_id(self) -> int:
        if self.next_id is None:
            top = self.conn.execute(sa.select(sa.func.max(articles.c.id))).scalar()
            self.next_id = int(top or 0)
        self.next_id += 1
        return self.next_id

    def locate(
        self,
        article_id: int,
        url: str,
        source_id: str | None,
        relation: str,
        reason: str,
        now: datetime,
    ) -> None:
        if self.location(url) is None:
            self.located[url] = (article_id, relation)
            self.rows[locations].append(
                {
                    "article_id": article_id,
                    "url": url,
                    "source_id": source_id,
                    "relation": relation,
                    "reason": reason,
                    "first_seen_at": now,
                }
            )

    def locate_fetched(
        self, article_id: int, item: Article, source_id: str | None, now: datetime
    ) -> None:
        fetched = _fetched_location(item)
        if fetched is not None:
            self.locate(
                article_id,
                fetched,
                source_id,
                "alternate",
                f"fetched there; names {item.key} as its canonical address",
                now,
            )

    def region_change(self, region: str, article_id: int, change: str, now: datetime) -> None:
        self.rows[region_changes].append(
            {
                "region": region,
                "article_id": article_id,
                "change": change,
                "at": now,
                "published": False,
            }
        )

    def join(
        self,
        article_id: int,
        region: str,
        now: datetime,
        reasons: Sequence[str],
        suppressed: bool,
    ) -> None:
        self.rows[region_entries].append(
            {
                "region": region,
                "article_id": article_id,
                "seq": self.next_seq(region),
                "added_at": now,
                "reasons": _dumps(list(reasons)),
                "suppressed": suppressed,
                "updated_at": self.updated_of(article_id),
            }
        )
        if region != ALL:
            self.regions_of(article_id).add(region)

    def join_regions(
        self,
        article_id: int,
        matches: Sequence[RegionMatch],
        now: datetime,
        suppress: frozenset[str],
        cluster_id: int | None,
        near: bool = False,
    ) -> list[str]:
        """Add the article to the regions its rules name; returns the regions newly joined (a
        region that suppresses near-duplicates and already shows one of its cluster is joined
        suppressed, and not returned)."""
        wanted: dict[str, list[str]] = {}
        for m in matches:
            wanted.setdefault(m.region, []).append(str(m))
        joined = []
        have = set(self.regions_of(article_id))
        for region, reasons in wanted.items():
            if region in have:
                continue
            suppressed = False
            if near and region in suppress and cluster_id is not None:
                self.flush()
                suppressed = self.store._cluster_shown(self.conn, region, cluster_id)
            self.join(article_id, region, now, reasons, suppressed)
            if not suppressed:
                self.region_change(region, article_id, "created", now)
                joined.append(region)
        return joined

    def event(self, kind: str, now: datetime, regions: Iterable[str], **payload: Any) -> None:
        self.rows[outbox].append(_event_row(kind, now, regions, **payload))

    def create(
        self,
        source_id: str | None,
        item: Article,
        now: datetime,
        suppress: frozenset[str],
        result: ChangeSet,
        *,
        reused_address: bool = False,
    ) -> Change:
        """A new article (``created``), clustered with its nearest near-duplicate, deferred.
        ``reused_address``: its key is recorded as another article's location; when that
        article holds the id the key gives, the new story gets a fresh one."""
        cluster_id, near = self.near_duplicate(item)
        entry_id = entry_id_for(item.key, self.store.host, item.published, now)
        if reused_address and self.entry_id_taken(entry_id):
            entry_id = entry_id_for(
                item.key, self.store.host, item.published, now, item.content_hash
            )
        article_id = self.new_id()
        published = item.published or now
        values = self.store._article_values(item)
        values.update(
            id=article_id,
            entry_id=entry_id,
            key=item.key,
            source_id=source_id,
            published_at=published,
            dated=item.published is not None,
            updated_at=max(item.updated or published, published),
            first_seen_at=now,
            revision=0,
            cluster_id=cluster_id if cluster_id is not None else article_id,
            removed_at=None,
        )
        self.rows[articles].append(values)
        self.updated[article_id] = values["updated_at"]
        row = _Row(values)
        self.by_key[item.key] = row
        if self.by_hash.get(item.content_hash) is None:
            self.by_hash[item.content_hash] = row
        self.members[article_id] = set()
        if self.candidates is not None:
            self._candidate(row)
        self.locate(article_id, item.key, source_id, "self", "the article's own address", now)
        self.locate_fetched(article_id, item, source_id, now)
        self.join(article_id, ALL, now, (), False)
        regions = self.join_regions(
            article_id, item.regions, now, suppress, row.cluster_id, near=near is not None
        )
        result.regions.update(regions)
        self.event(
            "article.created",
            now,
            regions,
            article=_payload(row),
            changes={"content_hash": item.content_hash, "near_duplicate_of": near},
        )
        reason = f"new; a near-duplicate of {near}" if near else "new"
        return Change("created", item.url, entry_id, item.key, tuple(regions), reason)

    def flush(self) -> None:
        """Write what was deferred: each table with one multi-row insert, articles first."""
        conn = self.conn
        new = self.rows[articles]
        copy = conn.dialect.name == "postgresql"
        times: dict[datetime, Any] = {}  # each article's instant is bound once, for six rows
        for table, rows in self.rows.items():
            if rows and not (
                _copied(conn, table, rows) if copy else _inserted(conn, table, rows, times)
            ):
                conn.execute(sa.insert(table), rows)
        if new and conn.dialect.name == "postgresql":
            # The ids were given here: the sequence moves past them for the next writer.
            conn.execute(
                sa.select(
                    sa.func.setval(
                        sa.func.pg_get_serial_sequence("articles", "id"),
                        sa.select(sa.func.max(articles.c.id)).scalar_subquery(),
                    )
                )
            )
        for rows in self.rows.values():
            rows.clear()

    def forget(self, ids: set[int], urls: Iterable[str], hashes: Iterable[str]) -> None:
        """After the per-article code changed the store: forget what it may have changed."""
        for key in [k for k, r in self.by_key.items() if r is not None and r.id in ids]:
            del self.by_key[key]
        for h in [h for h, r in self.by_hash.items() if r is not None and r.id in ids]:
            del self.by_hash[h]
        for h in hashes:
            self.by_hash.pop(h, None)
        for url in [u for u, v in self.located.items() if v is not None and v[0] in ids]:
            del self.located[url]
        for url in urls:
            self.located.pop(url, None)
            self.by_key.pop(url, None)
        for article_id in ids:
            self.members.pop(article_id, None)
            self.updated.pop(article_id, None)
        self.seq.clear()
        self.next_id = None
        if self.candidates is not None:
            kept = [r for r in self.candidates.values() if r.id not in ids]
            fresh = self.conn.execute(
                sa.select(*_CANDIDATE_COLUMNS).where(articles.c.id.in_(sorted(ids)))
            ).all()
            self.candidates, self.by_band = {}, [{}, {}, {}, {}]
            for row in sorted([*kept, *fresh], key=lambda r: r.id):
                self._candidate(row)


def _one_of(conn: Connection, column: Any, values: Sequence[Any]) -> Any:
    """``column IN values``; on PostgreSQL ``column = ANY(array)``: one parameter however
    many values, so the driver parses a short statement, not one with hundreds of
    placeholders (the same rows either way)."""
    if conn.dialect.name != "postgresql":
        return column.in_(values)
    from sqlalchemy.dialects.postgresql import ARRAY

    return column == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(column.type)))


_CANDIDATE_COLUMNS = (
    articles.c.id,
    articles.c.key,
    articles.c.similarity,
    articles.c.cluster_id,
    articles.c.band0,
    articles.c.band1,
    articles.c.band2,
    articles.c.band3,
)


class _Row:
    """An article row added in this batch, read like a row from the database."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:  # pragma: no cover - every column is set
        raise AttributeError(name)

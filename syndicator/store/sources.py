"""Source state and HTTP validators: the rows of configured sources, what a pass recorded
(health, counts, the fetch log), validators per (source, URL) and the rechecks they drive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from syndicator.model import iso
from syndicator.store.common import _chunks
from syndicator.store.identity import outranks as _outranks
from syndicator.store.membership import Membership
from syndicator.store.records import ChangeSet, SourceState, _source_state
from syndicator.store.schema import (
    _INSERT_FETCH_LOG,
    TS,
    WRITE_LOCK,
    _exclusive,
    articles,
    http_cache,
    locations,
    sources,
)


class Sources(Membership):
    """Source rows, passes, the fetch log and HTTP validators."""

    def sync_sources(self, configured: Iterable[tuple[str, str, str]]) -> None:
        """Make sure every configured source (id, kind, url) has a row; keeps history."""
        with self.transaction() as conn:
            # Only what is compared: the other columns (six timestamps) cost a thousand
            # sources' `once` thousands of conversions for nothing.
            existing = {
                r.id: r
                for r in conn.execute(sa.select(sources.c.id, sources.c.kind, sources.c.url))
            }
            for sid, kind, url in configured:
                row = existing.get(sid)
                if row is None:
                    conn.execute(
                        sa.insert(sources).values(
                            id=sid,
                            kind=kind,
                            url=url,
                            health="new",
                            failures=0,
                            created=0,
                            updated=0,
                            duplicates=0,
                        )
                    )
                elif row.kind != kind or row.url != url:
                    conn.execute(
                        sa.update(sources).where(sources.c.id == sid).values(kind=kind, url=url)
                    )

    def validators_of(
        self, pairs: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[str | None, str | None]]:
        """Stored validators for many (source, URL) pairs at once (the listings of a whole
        ``once`` run)."""
        wanted = set(pairs)
        found: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted({url for _, url in wanted}), 500):
                for row in conn.execute(
                    sa.select(
                        http_cache.c.source_id,
                        http_cache.c.url,
                        http_cache.c.etag,
                        http_cache.c.last_modified,
                    ).where(http_cache.c.url.in_(chunk))
                ):
                    if (row.source_id, row.url) in wanted:
                        found[(row.source_id, row.url)] = (row.etag, row.last_modified)
        return found

    def validators(self, source_id: str, url: str) -> tuple[str | None, str | None] | None:
        """The validators this source last saved for this URL (never another source's)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(http_cache.c.etag, http_cache.c.last_modified).where(
                    http_cache.c.source_id == source_id, http_cache.c.url == url
                )
            ).first()
        return (row.etag, row.last_modified) if row else None

    @staticmethod
    def _save_validators(
        conn: Connection,
        source_id: str,
        url: str,
        etag: str | None,
        last_modified: str | None,
        status: int | None,
        now: datetime,
    ) -> None:
        values = {
            "etag": etag,
            "last_modified": last_modified,
            "checked_at": now,
            "status": status,
            "misses": 0,
        }
        this = (http_cache.c.source_id == source_id) & (http_cache.c.url == url)
        updated = conn.execute(sa.update(http_cache).where(this).values(values))
        if not updated.rowcount:
            conn.execute(sa.insert(http_cache).values(source_id=source_id, url=url, **values))

    @staticmethod
    def _save_validators_many(
        conn: Connection,
        source_id: str,
        entries: Sequence[tuple[str, str | None, str | None, int | None]],
        now: datetime,
    ) -> None:
        """Save many URLs' validators for one source: one read, then one multi-row update
        and one multi-row insert (the last entry for a URL wins)."""
        latest = {url: (etag, modified, status) for url, etag, modified, status in entries}
        if not latest:
            return
        urls = sorted(latest)
        have: set[str] = set()
        for chunk in _chunks(urls, 500):
            have.update(
                conn.execute(
                    sa.select(http_cache.c.url).where(
                        http_cache.c.source_id == source_id, http_cache.c.url.in_(chunk)
                    )
                ).scalars()
            )
        rows = [
            {
                "source_id": source_id,
                "url": url,
                "etag": etag,
                "last_modified": modified,
                "checked_at": now,
                "status": status,
                "misses": 0,
            }
            for url, (etag, modified, status) in latest.items()
        ]
        old = [{f"v_{k}": v for k, v in r.items()} for r in rows if r["url"] in have]
        if old:
            conn.execute(
                sa.update(http_cache)
                .where(
                    http_cache.c.source_id == sa.bindparam("v_source_id"),
                    http_cache.c.url == sa.bindparam("v_url"),
                )
                .values(
                    etag=sa.bindparam("v_etag"),
                    last_modified=sa.bindparam("v_last_modified"),
                    checked_at=sa.bindparam("v_checked_at", type_=TS),
                    status=sa.bindparam("v_status"),
                    misses=sa.bindparam("v_misses"),
                ),
                old,
            )
        new = [r for r in rows if r["url"] not in have]
        if new:
            conn.execute(sa.insert(http_cache), new)

    def record_miss(self, conn: Connection, source_id: str, url: str, now: datetime) -> int:
        """A 404 for a known page of this source: how many in a row now (validators kept)."""
        _exclusive(conn, WRITE_LOCK)
        this = (http_cache.c.source_id == source_id) & (http_cache.c.url == url)
        updated = conn.execute(
            sa.update(http_cache)
            .where(this)
            .values(misses=http_cache.c.misses + 1, checked_at=now, status=404)
        )
        if not updated.rowcount:
            conn.execute(
                sa.insert(http_cache).values(
                    source_id=source_id, url=url, checked_at=now, status=404, misses=1
                )
            )
        return int(conn.execute(sa.select(http_cache.c.misses).where(this)).scalar() or 0)

    def recheck_candidates(
        self, source_id: str, now: datetime, *, window: timedelta, every: timedelta, limit: int
    ) -> list[str]:
        """Pages of this source's recent articles not checked for ``every``: cheap conditional
        GETs that find corrections and removals even when no listing changed."""
        query = (
            sa.select(http_cache.c.url)
            .join(articles, articles.c.key == http_cache.c.url)
            .where(
                http_cache.c.source_id == source_id,
                articles.c.source_id == source_id,
                articles.c.removed_at.is_(None),
                articles.c.first_seen_at > now - window,
                http_cache.c.checked_at < now - every,
                sa.or_(http_cache.c.etag.is_not(None), http_cache.c.last_modified.is_not(None)),
            )
            .order_by(http_cache.c.checked_at)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def sources_with_rechecks(
        self, now: datetime, *, window: timedelta, every: timedelta
    ) -> set[str]:
        """The sources that have pages due for a recheck (one query for a whole run)."""
        query = (
            sa.select(articles.c.source_id)
            .distinct()
            .join(
                http_cache,
                (articles.c.key == http_cache.c.url)
                & (http_cache.c.source_id == articles.c.source_id),
            )
            .where(
                articles.c.removed_at.is_(None),
                articles.c.first_seen_at > now - window,
                http_cache.c.checked_at < now - every,
            )
        )
        with self.engine.connect() as conn:
            return {s for s in conn.execute(query).scalars() if s}

    def save_validators(
        self,
        source_id: str,
        url: str,
        etag: str | None,
        last_modified: str | None,
        status: int | None,
        now: datetime,
    ) -> None:
        with self.transaction() as conn:
            self._save_validators(conn, source_id, url, etag, last_modified, status, now)

    def known(
        self,
        urls: Iterable[str],
        *,
        source_id: str | None = None,
        priority: Mapping[str, int] | None = None,
    ) -> set[str]:
        """Which of these URLs (canonical form) are already stored, as a key or a location.

        With ``priority``, an article (or a location of one) stored from a source ranking after
        ``source_id`` does not count: that source's own copy is worth reading (it takes the
        story over, see :meth:`apply`)."""
        wanted = list(dict.fromkeys(urls))
        found: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(wanted, 500):
                for key, owner in conn.execute(
                    sa.select(articles.c.key, articles.c.source_id).where(articles.c.key.in_(chunk))
                ):
                    if not _outranks(priority, source_id, owner):
                        found.add(key)
                rows = conn.execute(
                    sa.select(locations.c.url, articles.c.source_id)
                    .join(articles, articles.c.id == locations.c.article_id)
                    .where(locations.c.url.in_(chunk))
                ).all()
                for url, owner in rows:
                    if not _outranks(priority, source_id, owner):
                        found.add(url)
        return found

    def log_fetch(
        self,
        source_id: str,
        url: str,
        *,
        at: datetime,
        outcome: str,
        status: int | None = None,
        reason: str | None = None,
        duration_ms: int | None = None,
        size: int | None = None,
        conn: Connection | None = None,
    ) -> None:
        values = {
            "source_id": source_id,
            "url": url,
            "at": at,
            "outcome": outcome,
            "status": status,
            "reason": reason,
            "duration_ms": duration_ms,
            "bytes": size,
        }
        if conn is not None:
            conn.execute(_INSERT_FETCH_LOG, values)
            return
        with self.transaction() as c:
            c.execute(_INSERT_FETCH_LOG, values)

    def record_pass(
        self,
        source_id: str,
        *,
        at: datetime,
        ok: bool,
        status: int | None,
        error: str | None,
        found: int | None,
        changes: ChangeSet | None = None,
        next_due_at: datetime | None = None,
        health: str | None = None,
        health_reason: str | None = None,
        conn: Connection | None = None,
    ) -> None:
        """Remember how a pass of a source went (in the pass transaction when one is given)."""

        def write(c: Connection) -> None:
            # One UPDATE, counters computed by the database: a pass is cheap to record.
            values: dict[str, Any] = {
                "last_fetch_at": at,
                "last_status": status,
                "first_fetch_at": sa.func.coalesce(sources.c.first_fetch_at, at),
            }
            if next_due_at is not None:  # the scheduler's to say; a pass leaves it alone
                values["next_due_at"] = next_due_at
            if ok:
                values.update(last_success_at=at, last_error=None, failures=0)
                if found is not None:
                    values["last_found"] = found
                    if found > 0:
                        values["last_found_some"] = found
            else:
                values.update(last_error=error, failures=sources.c.failures + 1)
            if changes is not None:
                created, updated = changes.count("created"), changes.count("updated")
                duplicates = changes.count("duplicate")
                if created:
                    values["created"] = sources.c.created + created
                if updated:
                    values["updated"] = sources.c.updated + updated
                if duplicates:
                    values["duplicates"] = sources.c.duplicates + duplicates
                if created or updated:
                    values["last_change_at"] = at
            if health:
                values["health"] = health
                values["health_reason"] = health_reason
            c.execute(sa.update(sources).where(sources.c.id == source_id).values(values))

        if conn is not None:
            write(conn)
        else:
            with self.transaction() as c:
                write(c)

    def record_passes(self, conn: Connection, calls: Sequence[dict[str, Any]]) -> None:
        """Record many passes (each the keyword arguments of :meth:`record_pass`) in one
        multi-row update per shape: the quiet passes of a ``once`` (not modified, failed),
        recorded together. A pass that changed articles is recorded alone."""
        shapes: dict[tuple[bool, bool, bool], list[dict[str, Any]]] = {}
        for call in calls:
            changes, found = call.get("changes"), call.get("found")
            if (changes is not None and changes.changes) or not call.get("health"):
                self.record_pass(conn=conn, **call)
                continue
            ok = bool(call["ok"])
            shape = (ok, found is not None, bool(found))
            shapes.setdefault(shape, []).append(
                {
                    "b_id": call["source_id"],
                    "b_at": call["at"],
                    "b_status": call["status"],
                    "b_error": call.get("error"),
                    "b_found": found,
                    "b_health": call["health"],
                    "b_reason": call.get("health_reason"),
                }
            )
        for (ok, has_found, some), rows in shapes.items():
            at = sa.bindparam("b_at", type_=TS)
            values: dict[str, Any] = {
                "last_fetch_at": at,
                "last_status": sa.bindparam("b_status"),
                "first_fetch_at": sa.func.coalesce(sources.c.first_fetch_at, at),
                "health": sa.bindparam("b_health"),
                "health_reason": sa.bindparam("b_reason"),
            }
            if ok:
                values.update(last_success_at=at, last_error=None, failures=0)
                if has_found:
                    values["last_found"] = sa.bindparam("b_found")
                    if some:
                        values["last_found_some"] = sa.bindparam("b_found")
            else:
                values.update(last_error=sa.bindparam("b_error"), failures=sources.c.failures + 1)
            conn.execute(
                sa.update(sources).where(sources.c.id == sa.bindparam("b_id")).values(values),
                rows,
            )

    def log_fetches(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Many fetch log rows (``log_fetch``'s arguments, ``size`` as ``bytes``) at once."""
        if rows:
            conn.execute(_INSERT_FETCH_LOG, list(rows))

    def source_states_in(self, conn: Connection, ids: Sequence[str]) -> dict[str, SourceState]:
        """The states of these sources, in one query a chunk."""
        found: dict[str, SourceState] = {}
        for chunk in _chunks(sorted(set(ids)), 500):
            for row in conn.execute(sa.select(sources).where(sources.c.id.in_(chunk))):
                found[row.id] = _source_state(row)
        return found

    def source_states(self) -> list[SourceState]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(sources).order_by(sources.c.id)).all()
        return [_source_state(r) for r in rows]

    def source_state(self, source_id: str, conn: Connection | None = None) -> SourceState | None:
        if conn is None:
            with self.engine.connect() as c:
                return self.source_state(source_id, c)
        row = conn.execute(sa.select(sources).where(sources.c.id == source_id)).first()
        return _source_state(row) if row is not None else None

    def set_next_due(self, source_id: str, when: datetime | None) -> None:
        with self.transaction() as conn:
            conn.execute(
                sa.update(sources).where(sources.c.id == source_id).values(next_due_at=when)
            )

    def set_next_dues(self, runs: Mapping[str, datetime | None]) -> None:
        """Many sources' next due times in one transaction, one statement (the scaled mode's
        scheduler records those of every source it deferred in a second)."""
        if not runs:
            return
        with self.transaction() as conn:
            conn.execute(
                sa.update(sources)
                .where(sources.c.id == sa.bindparam("source_id"))
                .values(next_due_at=sa.bindparam("when")),
                [{"source_id": k, "when": v} for k, v in runs.items()],
            )

    def set_paused(self, source_id: str, paused: bool, now: datetime) -> bool:
        """Pause or resume a source (kept across restarts); False when it has no row."""
        with self.transaction() as conn:
            done = conn.execute(
                sa.update(sources)
                .where(sources.c.id == source_id)
                .values(paused=paused, paused_at=now if paused else None)
            )
        return bool(done.rowcount)

    def paused_sources(self) -> set[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(sources.c.id).where(sources.c.paused.is_(True)))
            return {r.id for r in rows}

    def source_event(
        self, conn: Connection, kind: str, now: datetime, state: SourceState, reason: str
    ) -> str:
        """A ``source.*`` event, written in the caller's (the pass's) transaction."""
        return self._event(
            conn,
            kind,
            now,
            [],
            source={
                "id": state.id,
                "url": state.url,
                "health": state.health,
                "reason": reason,
                "last_error": state.last_error,
                "failures": state.failures,
                "last_success": iso(state.last_success_at),
            },
        )

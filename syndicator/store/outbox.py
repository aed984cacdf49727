"""The outbox's read side and notifications: fan-out of events to targets, deliveries, retries
and dead letters.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from syndicator.model import as_utc, iso
from syndicator.store.database import StoreBase
from syndicator.store.records import Delivery, OutboxEvent
from syndicator.store.schema import deliveries, meta, outbox


class Outbox(StoreBase):
    """Notifications: fan-out, deliveries, dead letters."""

    def outbox_cursor(self) -> int:
        """The last outbox event already fanned out into deliveries."""
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(meta.c.value).where(meta.c.key == "outbox_fanned_out")
            ).scalar()
        return int(value) if value else 0

    def events_after(
        self,
        seq: int,
        limit: int = 500,
        *,
        types: Sequence[str] | None = None,
        upto: int | None = None,
    ) -> list[OutboxEvent]:
        """The events after ``seq`` in order, at most ``limit``: of ``types`` only (None: all),
        up to event ``upto`` (None: the newest)."""
        query = sa.select(outbox).where(outbox.c.id > seq)
        if types is not None:
            query = query.where(outbox.c.type.in_(types))
        if upto is not None:
            query = query.where(outbox.c.id <= upto)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(outbox.c.id).limit(limit)).all()
        return [
            OutboxEvent(r.id, r.event_id, r.type, tuple(json.loads(r.regions)), r.body)
            for r in rows
        ]

    def newest_event(self) -> int:
        """The sequence number of the newest outbox event (0: none yet)."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(outbox.c.id))).scalar() or 0)

    def pass_over_events(self, upto: int) -> None:
        """Move the fan-out cursor on to event ``upto`` (never back): the events before it
        that were not fanned out have no target."""
        with self.transaction() as conn:
            cursor = conn.execute(
                sa.select(meta.c.value).where(meta.c.key == "outbox_fanned_out")
            ).scalar()
            if int(cursor or 0) < upto:
                self._set_meta(conn, "outbox_fanned_out", str(upto))

    def enqueue(self, upto: int, items: Sequence[tuple[OutboxEvent, str]], now: datetime) -> None:
        """Create a delivery per (event, target) and move the fan-out cursor, atomically."""
        with self.transaction() as conn:
            for event, target in items:
                exists = conn.execute(
                    sa.select(deliveries.c.id).where(
                        deliveries.c.event_id == event.event_id, deliveries.c.target == target
                    )
                ).first()
                if exists is None:
                    conn.execute(
                        sa.insert(deliveries).values(
                            event_seq=event.seq,
                            event_id=event.event_id,
                            target=target,
                            status="pending",
                            attempts=0,
                            next_attempt_at=now,
                            created_at=now,
                        )
                    )
            self._set_meta(conn, "outbox_fanned_out", str(upto))

    def due_deliveries(self, now: datetime, limit: int = 100) -> list[Delivery]:
        """The oldest pending delivery of each target, if it is due: one target's events go
        out in order, and a target that is failing does not hold the others back."""
        heads = (
            sa.select(deliveries.c.target, sa.func.min(deliveries.c.id).label("head"))
            .where(deliveries.c.status == "pending")
            .group_by(deliveries.c.target)
            .subquery()
        )
        query = (
            sa.select(deliveries, outbox.c.body, outbox.c.type)
            .join(heads, heads.c.head == deliveries.c.id)
            .join(outbox, outbox.c.id == deliveries.c.event_seq)
            .where(deliveries.c.next_attempt_at <= now)
            .order_by(deliveries.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            Delivery(r.id, r.event_seq, r.event_id, r.type, r.target, r.attempts, r.body)
            for r in rows
        ]

    def notifications_due(self, now: datetime) -> bool:
        """Is there anything for the dispatcher to do now: events not yet fanned out, or a
        pending delivery whose attempt is due?"""
        with self.engine.connect() as conn:
            cursor = conn.execute(
                sa.select(meta.c.value).where(meta.c.key == "outbox_fanned_out")
            ).scalar()
            newest = conn.execute(sa.select(sa.func.max(outbox.c.id))).scalar()
            if newest is not None and int(newest) > int(cursor or 0):
                return True
            due = conn.execute(
                sa.select(deliveries.c.id)
                .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now)
                .limit(1)
            ).first()
        return due is not None

    def next_delivery_at(self) -> datetime | None:
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(sa.func.min(deliveries.c.next_attempt_at)).where(
                    deliveries.c.status == "pending"
                )
            ).scalar()
        return as_utc(value)

    def delivered(self, delivery_id: int, now: datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(
                    status="delivered",
                    attempts=deliveries.c.attempts + 1,
                    delivered_at=now,
                    last_error=None,
                )
            )

    def failed(self, delivery_id: int, error: str, retry_at: datetime | None) -> None:
        """A failed attempt: retried at ``retry_at``, or dead-lettered when that is None."""
        with self.transaction() as conn:
            conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(
                    status="pending" if retry_at is not None else "dead",
                    attempts=deliveries.c.attempts + 1,
                    last_error=error[:1000],
                    **({"next_attempt_at": retry_at} if retry_at is not None else {}),
                )
            )

    def delivery_summary(self) -> list[dict[str, Any]]:
        """Per target: deliveries by status, the last error, and the dead letters' event ids."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(deliveries.c.target, deliveries.c.status, sa.func.count()).group_by(
                    deliveries.c.target, deliveries.c.status
                )
            ).all()
            dead = conn.execute(
                sa.select(deliveries.c.target, deliveries.c.event_id, deliveries.c.last_error)
                .where(deliveries.c.status == "dead")
                .order_by(deliveries.c.id)
            ).all()
            errors = conn.execute(
                sa.select(deliveries.c.target, deliveries.c.last_error)
                .where(deliveries.c.last_error.is_not(None))
                .order_by(deliveries.c.id)
            ).all()
        out: dict[str, dict[str, Any]] = {}
        for target, status, count in rows:
            row = out.setdefault(
                target,
                {
                    "target": target,
                    "pending": 0,
                    "delivered": 0,
                    "dead": 0,
                    "dead_events": [],
                    "last_error": None,
                },
            )
            row[status] = count
        for target, event_id, _ in dead:
            out[target]["dead_events"].append(event_id)
        for target, error in errors:
            out[target]["last_error"] = error
        return [out[k] for k in sorted(out)]

    def pending_deliveries(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(deliveries)
                    .where(deliveries.c.status == "pending")
                ).scalar()
                or 0
            )

    def dead_letters(self, limit: int = 200) -> list[dict[str, Any]]:
        """Deliveries given up on, newest first, with their event's type and the last error."""
        query = (
            sa.select(deliveries, outbox.c.type, outbox.c.occurred_at)
            .join(outbox, outbox.c.id == deliveries.c.event_seq)
            .where(deliveries.c.status == "dead")
            .order_by(deliveries.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            {
                "id": r.id,
                "target": r.target,
                "event_id": r.event_id,
                "type": r.type,
                "occurred_at": iso(r.occurred_at),
                "attempts": r.attempts,
                "last_error": r.last_error,
            }
            for r in rows
        ]

    def retry_dead(self, now: datetime, delivery_id: int | None = None) -> int:
        """Give dead letters (one, or all) another round of attempts from now; how many."""
        condition = deliveries.c.status == "dead"
        if delivery_id is not None:
            condition = sa.and_(condition, deliveries.c.id == delivery_id)
        with self.transaction() as conn:
            done = conn.execute(
                sa.update(deliveries)
                .where(condition)
                .values(status="pending", attempts=0, next_attempt_at=now)
            )
        return int(done.rowcount or 0)

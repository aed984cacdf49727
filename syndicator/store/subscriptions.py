"""WebSub subscriptions: subscribe, unsubscribe, who is subscribed to a topic, expiry."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa

from syndicator.model import as_utc
from syndicator.store.database import StoreBase
from syndicator.store.records import Subscription
from syndicator.store.schema import subscriptions


class Subscriptions(StoreBase):
    """WebSub subscriptions."""

    def subscribe(
        self, topic: str, callback: str, secret: str | None, lease_seconds: int, now: datetime
    ) -> None:
        values = {
            "secret": secret,
            "lease_seconds": lease_seconds,
            "expires_at": now + timedelta(seconds=lease_seconds),
            "verified_at": now,
        }
        with self.transaction() as conn:
            updated = conn.execute(
                sa.update(subscriptions)
                .where(subscriptions.c.topic == topic, subscriptions.c.callback == callback)
                .values(values)
            )
            if not updated.rowcount:
                conn.execute(
                    sa.insert(subscriptions).values(
                        topic=topic, callback=callback, created_at=now, **values
                    )
                )

    def unsubscribe(self, topic: str, callback: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                sa.delete(subscriptions).where(
                    subscriptions.c.topic == topic, subscriptions.c.callback == callback
                )
            )

    def subscribers(self, topics: Sequence[str], now: datetime) -> list[Subscription]:
        """Live subscriptions to any of these topics (expired leases are left out)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(subscriptions)
                .where(subscriptions.c.topic.in_(list(topics)), subscriptions.c.expires_at > now)
                .order_by(subscriptions.c.id)
            ).all()
        return [
            Subscription(r.id, r.topic, r.callback, r.secret, as_utc(r.expires_at) or now)
            for r in rows
        ]

    def subscription(self, subscription_id: int) -> Subscription | None:
        with self.engine.connect() as conn:
            r = conn.execute(
                sa.select(subscriptions).where(subscriptions.c.id == subscription_id)
            ).first()
        if r is None:
            return None
        return Subscription(
            r.id, r.topic, r.callback, r.secret, as_utc(r.expires_at) or r.expires_at
        )

    def expire_subscriptions(self, now: datetime) -> int:
        with self.transaction() as conn:
            return int(
                conn.execute(
                    sa.delete(subscriptions).where(subscriptions.c.expires_at <= now)
                ).rowcount
                or 0
            )

    def count_subscriptions(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(subscriptions)).scalar() or 0
            )

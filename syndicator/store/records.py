"""The records the store hands out (frozen dataclasses), and the change set of a pass. No
database access.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from syndicator.model import as_utc, iso
from syndicator.store.schema import ALL

# --------------------------------------------------------------------------------------------
# Records the store hands out


@dataclass(frozen=True, slots=True)
class Change:
    """What one article did to the store."""

    change: str  # created | updated | duplicate | unchanged
    url: str
    entry_id: str | None
    key: str
    regions: tuple[str, ...] = ()
    reason: str = ""


@dataclass
class ChangeSet:
    """What a source pass did: one Change per article, and the regions whose feeds changed."""

    changes: list[Change] = field(default_factory=list)
    regions: set[str] = field(default_factory=set)

    def count(self, change: str) -> int:
        return sum(1 for c in self.changes if c.change == change)

    @property
    def changed(self) -> bool:
        return bool(self.regions) or any(c.change in ("created", "updated") for c in self.changes)

    @property
    def feeds(self) -> set[str]:
        """The regions to publish again: those that changed, and ``all`` whenever an article
        was created or updated (every article is in it, one matching no region too)."""
        articles = any(c.change in ("created", "updated") for c in self.changes)
        return self.regions | {ALL} if articles or self.regions else set()


@dataclass(frozen=True, slots=True)
class SourceState:
    id: str
    kind: str
    url: str
    health: str
    health_reason: str | None
    first_fetch_at: datetime | None
    last_fetch_at: datetime | None
    last_success_at: datetime | None
    last_change_at: datetime | None
    last_status: int | None
    last_error: str | None
    failures: int
    next_due_at: datetime | None
    last_found: int | None
    last_found_some: int | None
    created: int
    updated: int
    duplicates: int
    paused: bool = False  # by ops: nothing fetches it (no schedule, no once) until resumed
    paused_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            k: (iso(v) if isinstance(v, datetime) else v)
            for k, v in ((f, getattr(self, f)) for f in self.__slots__)
        }


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    seq: int
    event_id: str
    type: str
    regions: tuple[str, ...]
    body: str


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    event_seq: int
    event_id: str
    type: str
    target: str
    attempts: int
    body: str


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    topic: str
    callback: str
    secret: str | None
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PendingChanges:
    region: str
    created: tuple[str, ...]
    updated: tuple[str, ...]
    upto: int
    removed: tuple[str, ...] = ()


def _source_state(r: Any) -> SourceState:
    return SourceState(
        id=r.id,
        kind=r.kind,
        url=r.url,
        health=r.health,
        health_reason=r.health_reason,
        first_fetch_at=as_utc(r.first_fetch_at),
        last_fetch_at=as_utc(r.last_fetch_at),
        last_success_at=as_utc(r.last_success_at),
        last_change_at=as_utc(r.last_change_at),
        last_status=r.last_status,
        last_error=r.last_error,
        failures=r.failures,
        next_due_at=as_utc(r.next_due_at),
        last_found=r.last_found,
        last_found_some=r.last_found_some,
        created=r.created,
        updated=r.updated,
        duplicates=r.duplicates,
        paused=bool(r.paused),
        paused_at=as_utc(r.paused_at),
    )

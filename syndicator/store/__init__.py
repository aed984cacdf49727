"""The store: every article, its revisions and locations, region membership, the outbox, source
state and the fetch log, in SQL through SQLAlchemy Core (SQLite in WAL mode by default, PostgreSQL
for several workers). Every query here is written to be correct on both.

:class:`Store` is the one facade callers use; each of its parts is a module of this package:

- ``schema``: tables, schema version, migrations, the writers' locks;
- ``database``: the engine, transactions, the upgrade, and the one place database errors are
  mapped to :class:`~syndicator.errors.StoreError`;
- ``sources``: source state, passes, the fetch log and HTTP validators;
- ``articles`` (with ``membership`` and ``batch``): the write side, the identity contract of
  DESIGN.md in one transaction per source pass, per article or in batches;
- ``feeds``: the read side for feeds and announcements; ``reports``: ``explain`` and the ops
  pages' history;
- ``outbox``: notifications and deliveries; ``subscriptions``: WebSub; ``problems``: problems
  processes report.

The package does not fetch, extract or render.
"""

from __future__ import annotations

from syndicator.store.articles import Articles
from syndicator.store.batch import CANDIDATES_PER_BATCH, NEAR_CANDIDATES
from syndicator.store.common import (
    _bands,
    _chunks,
    _dumps,
    _safe_url,
    entry_id_for,
    text_diff,
)
from syndicator.store.database import DEFAULT_TIMEOUT, StoreBase, map_errors
from syndicator.store.identity import outranks as _outranks
from syndicator.store.outbox import Outbox
from syndicator.store.problems import Problems
from syndicator.store.records import (
    Change,
    ChangeSet,
    Delivery,
    OutboxEvent,
    PendingChanges,
    SourceState,
    Subscription,
)
from syndicator.store.reports import Reports
from syndicator.store.schema import (
    ALL,
    APPLY_BATCH,
    ID,
    MIGRATIONS,
    PROBLEM_KEY,
    SCHEMA_LOCK,
    SCHEMA_VERSION,
    TS,
    WRITE_LOCK,
    UTCDateTime,
    _exclusive,
    articles,
    deliveries,
    fetch_log,
    http_cache,
    locations,
    meta,
    metadata,
    outbox,
    region_changes,
    region_entries,
    revisions,
    sources,
    subscriptions,
)
from syndicator.store.subscriptions import Subscriptions


class Store(Articles, Reports, Outbox, Subscriptions, Problems):
    """The database. Open it with a URL; it creates or upgrades its schema on open.

    Every error the database raises, wherever the engine is used (here, or in a caller holding
    one of its connections), leaves as a StoreError: one hook on the engine maps them, and
    every public method maps what SQLAlchemy raises on its own (a pool timeout)."""


map_errors(Store)

__all__ = [
    "ALL",
    "APPLY_BATCH",
    "CANDIDATES_PER_BATCH",
    "DEFAULT_TIMEOUT",
    "ID",
    "MIGRATIONS",
    "NEAR_CANDIDATES",
    "PROBLEM_KEY",
    "SCHEMA_LOCK",
    "SCHEMA_VERSION",
    "TS",
    "WRITE_LOCK",
    "Change",
    "ChangeSet",
    "Delivery",
    "OutboxEvent",
    "PendingChanges",
    "SourceState",
    "Store",
    "StoreBase",
    "Subscription",
    "UTCDateTime",
    "_bands",
    "_chunks",
    "_dumps",
    "_exclusive",
    "_outranks",
    "_safe_url",
    "articles",
    "deliveries",
    "entry_id_for",
    "fetch_log",
    "http_cache",
    "locations",
    "meta",
    "metadata",
    "outbox",
    "region_changes",
    "region_entries",
    "revisions",
    "sources",
    "subscriptions",
    "text_diff",
]

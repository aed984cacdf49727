"""What one pass of one source found, and how it is stored: :class:`Plan` (the articles, the
validators, the fetch log, the pages gone or missing), :class:`PassResult` (how the pass went),
and :func:`commit`, the one transaction that writes a plan — the articles through the store's
identity decisions, the fetch log, the removals, the source's health verdict and its event.

It fetches nothing (:mod:`.source_pass` does, and makes the plan) and it does not publish or
notify.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from syndicator import health
from syndicator.config import Config, Source
from syndicator.model import Article
from syndicator.store import ChangeSet, SourceState, Store

MISSES_BEFORE_REMOVAL = 2  # a known page answering 404 this many passes in a row is removed


@dataclass
class PassResult:
    """How one pass of one source went."""

    source_id: str
    ok: bool = True
    status: int | None = None
    error: str | None = None
    not_modified: bool = False
    found: int = 0
    pages: int = 0
    page_errors: list[str] = field(default_factory=list)
    changes: ChangeSet = field(default_factory=ChangeSet)
    retry_after: float | None = None
    duration: float = 0.0
    health: str = "new"
    health_reason: str = ""
    event: str | None = None
    missing: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        if not self.ok:
            return f"failed: {self.error}"
        c = self.changes
        parts = [
            f"{c.count(k)} {k}"
            for k in ("created", "updated", "removed", "duplicate", "unchanged")
            if c.count(k)
        ]
        if self.not_modified:  # what rechecks of its pages found, if anything
            return f"{', '.join(parts)} (the listing was not modified)" if parts else "not modified"
        text = ", ".join(parts) or "nothing new"
        if self.page_errors:
            text += f"; {len(self.page_errors)} page(s) failed"
        return text


@dataclass
class Plan:
    """What a pass found, before it is stored (stored in config order by :func:`run_once`)."""

    source: Source
    result: PassResult
    articles: list[Article] = field(default_factory=list)
    validators: list[tuple[str, str | None, str | None, int | None]] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    gone: list[tuple[str, str]] = field(default_factory=list)  # (url, why): HTTP 410
    missing: list[str] = field(default_factory=list)  # known pages answering 404


@dataclass
class Together:
    """Quiet passes recorded together: their sources' states read in one query, their fetch
    log rows and pass records written with one multi-row statement each."""

    states: dict[str, SourceState]
    fetches: list[dict[str, Any]] = field(default_factory=list)
    passes: list[dict[str, Any]] = field(default_factory=list)

    def flush(self, store: Store, conn: Connection) -> None:
        store.log_fetches(conn, self.fetches)
        store.record_passes(conn, self.passes)
        self.fetches.clear()
        self.passes.clear()


def commit(
    plan: Plan,
    *,
    config: Config,
    store: Store,
    now: datetime,
    priority: Mapping[str, int],
    conn: Connection | None = None,
    together: Together | None = None,
) -> PassResult:
    """Store what the pass found: in one transaction of its own, or in ``conn``'s. With
    ``together`` (quiet passes of a ``once``), the previous state was read for all of them
    and the fetch log and the pass record are written with theirs. ``priority``: the
    sources' ranks in the configuration (the first to carry a story gives its address)."""
    if conn is None:
        with store.transaction() as own:
            return commit(plan, config=config, store=store, now=now, priority=priority, conn=own)
    source, result = plan.source, plan.result
    suppress = frozenset(r.id for r in config.regions if r.suppress_near_duplicates)
    if together is not None:
        previous = together.states.get(source.id)
    else:
        previous = store.source_state(source.id, conn)
    if result.ok and not (plan.articles or plan.validators) and together is not None:
        result.changes = ChangeSet()  # nothing to store: the identity lock is not needed
    elif result.ok:
        result.changes = store.apply(
            source.id,
            plan.articles,
            now=now,
            suppress=suppress,
            validators=plan.validators,
            priority=priority,
            conn=conn,
        )
    if together is not None:
        together.fetches.extend(_log_row(source.id, entry) for entry in plan.log)
    else:
        for entry in plan.log:
            store.log_fetch(source.id, conn=conn, **entry)
    removals = list(plan.gone)
    for url in plan.missing:
        if store.record_miss(conn, source.id, url, now) >= MISSES_BEFORE_REMOVAL:
            removals.append((url, f"not found (HTTP 404) {MISSES_BEFORE_REMOVAL} times"))
    for url, why in removals:
        removed = store.remove(conn, url, now, why)
        if removed is not None:
            result.changes.changes.append(removed)
            result.changes.regions.update(removed.regions)
    verdict = _assess(previous, plan, now, stale_after=config.service.stale_after)
    result.health, result.health_reason, result.event = (
        verdict.health,
        verdict.reason,
        verdict.event,
    )
    record: dict[str, Any] = {
        "source_id": source.id,
        "at": now,
        "ok": result.ok,
        "status": result.status,
        "error": result.error,
        "found": None if result.not_modified else result.found,
        "changes": result.changes if result.ok else None,
        "health": verdict.health,
        "health_reason": verdict.reason if verdict.health != "ok" else None,
    }
    if together is not None and verdict.event is None:
        together.passes.append(record)
        return result
    if together is not None:
        together.flush(store, conn)
    store.record_pass(conn=conn, **record)
    if verdict.event is not None:
        state = store.source_state(source.id, conn)
        assert state is not None
        store.source_event(conn, verdict.event, now, state, verdict.reason)
    return result


def _assess(
    previous: SourceState | None, plan: Plan, now: datetime, *, stale_after: float
) -> health.Verdict:
    """The source's health after this pass, from what it was before and what the pass found."""
    result = plan.result
    facts = health.PassFacts(
        ok=result.ok,
        not_modified=result.not_modified,
        found=result.found,
        read=len(plan.articles),
        missing_title=result.missing.get("title", 0),
        missing_body=result.missing.get("body", 0),
        # Plain-text dumps carry no dates at all: their absence is no sign of trouble.
        missing_date=0 if plan.source.kind == "text" else result.missing.get("date", 0),
        changed=result.changes.changed,
    )
    return health.assess(
        previous.health if previous else None,
        previous.last_found if previous else None,
        previous.last_change_at if previous else None,
        previous.first_fetch_at if previous else None,
        facts,
        now,
        timedelta(seconds=stale_after),
        found_some=previous.last_found_some if previous else None,
    )


def _log_row(source_id: str, entry: dict[str, Any]) -> dict[str, Any]:
    row = {"source_id": source_id, "status": None, "reason": None, "duration_ms": None}
    row.update(entry)
    row["bytes"] = row.pop("size", None)
    return row

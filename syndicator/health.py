"""Source health: ok, degraded, failing or stale, decided from a pass and what came before.

- **failing**: the source's own document (feed, sitemap, listing) could not be fetched or used.
- **degraded**: it was read, but found nothing — where a pass before found articles, or ever —
  and stays so on every pass (a 304 included: the document is the same) until it finds some;
  or extraction has started missing titles, bodies or dates in most of what it read.
- **stale**: it works, but nothing new has arrived for longer than ``stale_after``.
- **ok**: none of the above.

Also the retry policy after failures (exponential, capped, Retry-After honoured). Pure: the
previous state, the pass and ``now`` in; a verdict out. Nothing here stores or schedules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

HEALTH_STATES = ("new", "ok", "degraded", "failing", "stale")
BACKOFF_CAP = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class PassFacts:
    """What health needs to know about one pass."""

    ok: bool
    not_modified: bool
    found: int
    read: int  # articles read from pages or items this pass
    missing_title: int = 0
    missing_body: int = 0
    missing_date: int = 0
    changed: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    health: str
    reason: str
    event: str | None  # source.failing | source.recovered | source.stale | None


def assess(
    previous: str | None,
    last_found: int | None,
    last_change: datetime | None,
    first_seen: datetime | None,
    facts: PassFacts,
    now: datetime,
    stale_after: timedelta,
    found_some: int | None = None,
) -> Verdict:
    """The source's health after this pass, and the event its change of health calls for.

    ``last_found`` is what the last pass that read the document found; ``found_some`` what the
    last pass that found anything found."""
    health, reason = _health(
        last_found, found_some, last_change, first_seen, facts, now, stale_after
    )
    event = None
    if health == "failing" and previous != "failing":
        event = "source.failing"
    elif previous == "failing" and health != "failing":
        event = "source.recovered"
    elif health == "stale" and previous != "stale":
        event = "source.stale"
    return Verdict(health, reason, event)


def _health(
    last_found: int | None,
    found_some: int | None,
    last_change: datetime | None,
    first_seen: datetime | None,
    facts: PassFacts,
    now: datetime,
    stale_after: timedelta,
) -> tuple[str, str]:
    if not facts.ok:
        return "failing", "its own document could not be fetched or read"
    found = last_found if facts.not_modified else facts.found  # a 304: the same document
    if found == 0:
        if found_some or (last_found or 0) > 0:
            some = found_some or last_found
            return "degraded", f"found nothing, where an earlier pass found {some}"
        return "degraded", "found nothing to read (is the URL a listing, feed or sitemap?)"
    if not facts.not_modified and facts.read >= 2:
        for what, count in (
            ("titles", facts.missing_title),
            ("bodies", facts.missing_body),
            ("dates", facts.missing_date),
        ):
            if count * 2 > facts.read:
                return "degraded", f"extraction is missing {what} ({count} of {facts.read})"
    since = last_change or first_seen
    if not facts.changed and since is not None and now - since > stale_after:
        return "stale", f"nothing new since {since:%Y-%m-%d %H:%M} UTC"
    return "ok", "read fine"


def pass_backoff(every: float, failures: int, retry_after: float | None = None) -> float:
    """Seconds until the next attempt after ``failures`` failures in a row: the usual interval
    doubled per failure, capped at six hours (never below the interval), at least Retry-After."""
    if failures <= 0:
        delay = every
    else:
        cap = max(every, BACKOFF_CAP.total_seconds())
        delay = min(every * 2 ** (failures - 1), cap)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay

"""Scheduling source passes with APScheduler 3 (asyncio): one job per enabled source.

``every`` sources get an interval trigger with jitter, ``cron`` sources a cron trigger in their
timezone. A source never runs twice at once (``max_instances=1``) and missed runs are coalesced
into one. After a failure the next run is pushed back (see ``health.pass_backoff``); after a
restart the first run of each source is due one interval after its stored last fetch, spread over
a short window so that sources do not all fire at once. :meth:`Scheduler.apply` reconciles the
jobs with a new config (added, removed, rescheduled) without touching the others.
This module owns APScheduler; it does not know what a pass does.
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from apscheduler.job import Job
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from syndicator import cron
from syndicator.config import Config, Source
from syndicator.errors import ConfigError
from syndicator.model import as_utc
from syndicator.normalize import zone

STARTUP_SPREAD = 30.0  # seconds over which overdue sources are spread after a restart
MAX_JITTER = 60.0


@dataclass
class ReloadResult:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rescheduled: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [
            f"{k} {_some(v)}"
            for k, v in (
                ("added", self.added),
                ("removed", self.removed),
                ("rescheduled", self.rescheduled),
            )
            if v
        ]
        return "; ".join(parts) or "no source changed"


def _some(ids: list[str], first: int = 5) -> str:
    """Source ids in a log line: all of a few, or how many and the first few (a reload that
    adds ten thousand sources is one short line)."""
    if len(ids) <= first:
        return ", ".join(ids)
    return f"{len(ids):,} ({', '.join(ids[:first])}, …)"


def jitter_of(source: Source) -> float:
    if source.jitter is not None:
        return source.jitter
    return min((source.every or 0) / 10, MAX_JITTER)


def trigger_of(source: Source) -> BaseTrigger:
    if source.cron:
        return cron_trigger(cron.parse(source.cron), zone(source.timezone) or UTC)
    return IntervalTrigger(
        seconds=source.every or 600, jitter=jitter_of(source) or None, timezone=UTC
    )


def cron_trigger(crontab: cron.Crontab, timezone: tzinfo) -> BaseTrigger:
    """APScheduler's trigger for a checked crontab. Its fields are given as the explicit values
    crontab means, never as crontab text: APScheduler counts weekdays from Monday = 0, and
    requires the day of month *and* the weekday to match. Crontab's "either day" is the earlier
    of two triggers, one per day field."""

    def one(days: tuple[int, ...] | None, weekdays: tuple[int, ...] | None) -> CronTrigger:
        return CronTrigger(
            minute=_values(crontab.minutes),
            hour=_values(crontab.hours),
            day="*" if days is None else _values(days),
            month=_values(crontab.months),
            day_of_week="*" if weekdays is None else ",".join(WEEKDAY_NAMES[d] for d in weekdays),
            timezone=timezone,
        )

    if crontab.either_day:
        return OrTrigger([one(crontab.days, None), one(None, crontab.weekdays)])
    return one(crontab.days, crontab.weekdays)


WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab's 0–6, by name


def _values(values: tuple[int, ...]) -> str:
    return ",".join(str(v) for v in values)


def spread(source_id: str, window: float) -> float:
    """A stable offset in [0, window) for a source, so restarts do not fire everything at once."""
    return (zlib.crc32(source_id.encode()) / 2**32) * window


def first_run(source: Source, last_fetch: datetime | None, now: datetime) -> datetime:
    """When a source should first run after (re)start, from its stored last fetch."""
    if source.cron:
        nxt = trigger_of(source).get_next_fire_time(None, now)
        return nxt if nxt is not None else now
    every = source.every or 600
    window = min(every, STARTUP_SPREAD)
    if last_fetch is None:
        return now + timedelta(seconds=spread(source.id, window))
    due = last_fetch + timedelta(seconds=every)
    if due <= now:
        return now + timedelta(seconds=spread(source.id, window))
    return due


def triggers_of(config: Config) -> dict[str, BaseTrigger]:
    """Every enabled source's trigger, built before anything is scheduled with them: a reload
    is refused whole (ConfigError naming the file and key) when one cannot be built."""
    triggers: dict[str, BaseTrigger] = {}
    for source in config.sources:
        if not source.enabled:
            continue
        try:
            triggers[source.id] = trigger_of(source)
        except ValueError as e:
            key = "cron" if source.cron else "every"
            raise ConfigError(
                f"cannot be scheduled: {e}", file=source.file, key=f"source {source.id!r}.{key}"
            ) from e
    return triggers


def _signature(source: Source) -> tuple[Any, ...]:
    return (source.every, source.cron, source.timezone, source.jitter, source.enabled)


class Scheduler:
    """The source jobs. ``run`` is called with a source id when a source is due."""

    def __init__(self, run: Callable[[str], Awaitable[Any]]) -> None:
        self._run = run
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._sources: dict[str, Source] = {}

    def start(
        self, config: Config, last_fetch: Mapping[str, datetime | None], now: datetime | None = None
    ) -> None:
        """Start with one job per enabled source, first runs from the stored last fetches."""
        now = now or datetime.now(UTC)
        for source in config.sources:
            if source.enabled:
                self._add(source, first_run(source, last_fetch.get(source.id), now))
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def apply(
        self,
        config: Config,
        last_fetch: Mapping[str, datetime | None],
        now: datetime | None = None,
        triggers: Mapping[str, BaseTrigger] | None = None,
    ) -> ReloadResult:
        """Reconcile jobs with a new config; untouched sources keep their next run.

        ``triggers`` are the new config's, from :func:`triggers_of` (built here when not given,
        before any job changes): nothing below can fail on a source's schedule."""
        now = now or datetime.now(UTC)
        triggers = triggers_of(config) if triggers is None else triggers
        result = ReloadResult()
        wanted = {s.id: s for s in config.sources if s.enabled}
        for source_id in list(self._sources):
            if source_id not in wanted:
                self._remove(source_id)
                result.removed.append(source_id)
        for source_id, source in wanted.items():
            old = self._sources.get(source_id)
            if old is None:
                self._add(
                    source, first_run(source, last_fetch.get(source_id), now), triggers[source_id]
                )
                result.added.append(source_id)
            elif _signature(old) != _signature(source):
                job = self._job(source_id)
                keep = job.next_run_time if job is not None else None
                self._remove(source_id)
                self._add(
                    source,
                    first_run(source, last_fetch.get(source_id), now)
                    if source.cron or keep is None
                    else keep,
                    triggers[source_id],
                )
                result.rescheduled.append(source_id)
            else:
                self._sources[source_id] = source  # other settings (url, selectors) changed
        return result

    def defer(self, source_id: str, until: datetime) -> None:
        """Run the source next at ``until`` (after a failure), then on its schedule again."""
        job = self._job(source_id)
        if job is not None:
            job.modify(next_run_time=until)

    def run_now(self, source_id: str) -> None:
        self.defer(source_id, datetime.now(UTC))

    def next_runs(self) -> dict[str, datetime | None]:
        """Each source's next run, in UTC (a cron job's own times are in its timezone)."""
        return {source_id: self.next_run(source_id) for source_id in self._sources}

    def next_run(self, source_id: str) -> datetime | None:
        """One source's next run, in UTC (None: not scheduled)."""
        job = self._job(source_id)
        nxt = job.next_run_time if job is not None else None
        return as_utc(nxt) if nxt is not None else None

    # -- jobs ------------------------------------------------------------------------------

    def _add(self, source: Source, next_run: datetime, trigger: BaseTrigger | None = None) -> None:
        self._sources[source.id] = source
        self._scheduler.add_job(
            self._run,
            trigger or trigger_of(source),
            args=[source.id],
            id=_job_id(source.id),
            name=f"source {source.id}",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=next_run,
            replace_existing=True,
        )

    def _remove(self, source_id: str) -> None:
        self._sources.pop(source_id, None)
        if self._job(source_id) is not None:
            self._scheduler.remove_job(_job_id(source_id))

    def _job(self, source_id: str) -> Job | None:
        job: Job | None = self._scheduler.get_job(_job_id(source_id))
        return job


def _job_id(source_id: str) -> str:
    return f"source:{source_id}"

"""Ingest: one pass over a source, and what a document means once read.

:func:`read_document` is the pure heart (no I/O): bytes and a URL in, clean articles with their
regions and the teasers around them out. :class:`SourcePass` is the whole pass for one source,
top to bottom: the listing (conditional GET) → the article pages not yet known (or cheaply
rechecked) → extract → normalize → fingerprint → route → one store transaction.
:func:`run_once` runs every source once. Publishing and notifying are not done here.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from sqlalchemy.engine import Connection

from syndicator import demo, health
from syndicator import regions as region_rules
from syndicator.config import Config, Source
from syndicator.errors import ExtractError, FetchError
from syndicator.extract import extract, sniff
from syndicator.extract.complete import complete
from syndicator.extract.xmlsafe import inflated_head
from syndicator.fetch import (
    MAX_BYTES,
    Fetched,
    Fetcher,
    Reach,
    Validators,
    fetch_once,
    inside,
    local_path,
)
from syndicator.model import Article, Draft, Image, RegionMatch, Teaser
from syndicator.normalize import (
    DateError,
    canonical_url,
    external_url,
    normalize_article,
    parse_date,
    zone,
)
from syndicator.store import ChangeSet, SourceState, Store

log = logging.getLogger("syndicator.ingest")


@dataclass(frozen=True, slots=True)
class Document:
    """A document read: its kind, its articles (normalized and routed), its teasers."""

    url: str
    kind: str
    articles: tuple[Article, ...]
    teasers: tuple[Teaser, ...]
    sitemaps: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


def rules_of(config: Config | None) -> tuple[region_rules.RegionRule, ...]:
    if config is None:
        return ()
    return tuple(region_rules.RegionRule(r.id, r.sections, r.places) for r in config.regions)


def read_document(
    body: bytes,
    url: str,
    *,
    now: datetime,
    config: Config | None = None,
    source: Source | None = None,
    content_type: str | None = None,
    kind: str | None = None,
    teaser: Teaser | None = None,
) -> Document:
    """Extract, normalize, fingerprint and route everything in one document.

    ``kind`` overrides the source's kind (``article`` for a page reached from a listing);
    ``teaser``: the listing's card that led to this page, whose section, byline and dateline
    fill what the page's article leaves empty.
    An article that cannot be normalized is reported in ``errors``; the others are kept.
    """
    wanted = kind or (source.kind if source else "auto")
    extraction = extract(
        body,
        url,
        content_type=content_type,
        kind=wanted,
        selectors=source.select if source else None,
        sections=config.known_sections if config else (),
        max_inflated=config.service.max_bytes if config else MAX_BYTES,
    )
    if teaser is not None and extraction.articles:
        drafts = tuple(complete(draft, [teaser]) for draft in extraction.articles)
        extraction = replace(extraction, articles=drafts)
    rules = rules_of(config)
    tz = zone(source.timezone) if source and source.timezone else None
    articles: list[Article] = []
    errors: list[str] = []
    for n, draft in enumerate(extraction.articles, 1):
        try:
            article = normalize_article(
                draft,
                source_id=source.id if source else None,
                # Defaults, for an article whose document declares no language and whose text
                # is too short to tell: the feed's (its channel's), else the source's.
                language=extraction.language or (source.language if source else None),
                tz=tz,
                now=now,
            )
        except ExtractError as e:
            errors.append(str(e))
            continue
        except Exception as e:  # one item that cannot be read is dropped alone, never the rest
            errors.append(f"{url}: item {n} dropped, unreadable: {type(e).__name__}: {e}")
            continue
        if rules or (source and source.regions):
            matches = region_rules.route(article, rules, source.regions if source else ())
            article = replace(article, regions=matches)
        articles.append(article)
    return Document(
        url=url,
        kind=extraction.kind,
        articles=tuple(articles),
        teasers=extraction.teasers,
        sitemaps=extraction.sitemaps,
        errors=tuple(errors),
    )


# What a source's own document may be, by the source's kind (as extract.sniff names documents).
# Feeds and sitemaps are both lists of items, and the extractor reads either under either kind.
DOCUMENTS_OF_KIND = {
    "rss": ("feed", "sitemap"),
    "atom": ("feed", "sitemap"),
    "jsonfeed": ("feed", "sitemap"),
    "sitemap": ("sitemap", "feed"),
    "html": ("html", "text"),
    "text": ("text", "html"),
}
DOCUMENT_NAMES = {
    "feed": "a feed",
    "sitemap": "a sitemap",
    "html": "an HTML page",
    "text": "plain text",
    "binary": "binary data",
}


def check_kind(body: bytes, content_type: str | None, kind: str, url: str) -> None:
    """Raise ExtractError when a source's document is not of the source's kind (an HTML page
    where a feed was configured): the pass fails with that reason, every pass, until it is."""
    head = inflated_head(body)  # a gzipped sitemap: its first bytes, inflated
    found = sniff(head, content_type)
    allowed = DOCUMENTS_OF_KIND.get(kind)
    if allowed is None or found in allowed or found == "binary" or not head.strip():
        return
    wanted = "a feed" if allowed[0] == "feed" else DOCUMENT_NAMES[allowed[0]]
    raise ExtractError(
        f"not {wanted}: the document is {DOCUMENT_NAMES[found]} (the source's kind is {kind!r};"
        " fix the source's url or kind)",
        url=url,
    )


def source_for(config: Config | None, url: str, source_id: str | None = None) -> Source | None:
    """The configured source a document belongs to: by id, else by URL."""
    if config is None:
        return None
    if source_id:
        return config.source(source_id)
    for s in config.sources:
        if s.url == url:
            return s
    return None


# --------------------------------------------------------------------------------------------
# One pass over one source: fetch → extract → normalize → fingerprint → route → store


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
class _Plan:
    """What a pass found, before it is stored (stored in config order by :func:`run_once`)."""

    source: Source
    result: PassResult
    articles: list[Article] = field(default_factory=list)
    validators: list[tuple[str, str | None, str | None, int | None]] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    gone: list[tuple[str, str]] = field(default_factory=list)  # (url, why): HTTP 410
    missing: list[str] = field(default_factory=list)  # known pages answering 404


class SourcePass:
    """One pass of one source. :meth:`plan` does the network work and reads the store;
    :meth:`commit` writes everything it found in one transaction."""

    def __init__(
        self, source: Source, *, config: Config, store: Store, fetcher: Fetcher, now: datetime
    ) -> None:
        self.source, self.config, self.store, self.fetcher = source, config, store, fetcher
        self.now = now
        self.rules = rules_of(config)
        # Config order ranks sources: the first to carry a story gives its entry's address.
        self.priority = {s.id: n for n, s in enumerate(config.sources)}
        self.known_validators: dict[str, tuple[str | None, str | None]] = {}
        self.recheck = True  # look for stored pages due for a recheck (run_once knows better)
        self.reach = Reach(public_only=True)  # made exact by _plan (see where_to)
        self.deadline = 0.0  # event loop time by which the pass ends (set by plan)

    async def run(self) -> PassResult:
        return self.commit(await self.plan())

    async def plan(self) -> _Plan:
        started = time.monotonic()
        plan = _Plan(self.source, PassResult(self.source.id))
        limit = self.config.service.pass_limit
        self.deadline = asyncio.get_running_loop().time() + limit
        try:
            await self._plan(plan)
        except TimeoutError:  # the source's own documents took the whole pass
            plan.result.ok = False
            plan.result.error = f"timed out: the pass took over {limit:g} s (pass_timeout)"
            plan.articles.clear()
            plan.validators.clear()
        except FetchError as e:
            plan.result.ok, plan.result.error = False, e.reason
            plan.result.status, plan.result.retry_after = e.status, e.retry_after
            plan.articles.clear()
            plan.validators.clear()
        except ExtractError as e:
            plan.result.ok, plan.result.error = False, f"unusable document: {e.reason}"
            plan.articles.clear()
            plan.validators.clear()
        except Exception as e:  # a bug met by this source's input: it fails alone, logged
            log.debug("source %s: pass failed", self.source.id, exc_info=True)
            plan.result.ok = False
            plan.result.error = f"internal error ({type(e).__name__}: {e})"
            plan.articles.clear()
            plan.validators.clear()
        plan.result.duration = time.monotonic() - started
        return plan

    def commit(
        self,
        plan: _Plan,
        conn: Connection | None = None,
        *,
        together: _Together | None = None,
    ) -> PassResult:
        """Store what the pass found: in one transaction of its own, or in ``conn``'s. With
        ``together`` (quiet passes of a ``once``), the previous state was read for all of them
        and the fetch log and the pass record are written with theirs."""
        if conn is None:
            with self.store.transaction() as own:
                return self.commit(plan, own)
        result = plan.result
        suppress = frozenset(r.id for r in self.config.regions if r.suppress_near_duplicates)
        if together is not None:
            previous = together.states.get(self.source.id)
        else:
            previous = self.store.source_state(self.source.id, conn)
        if result.ok and not (plan.articles or plan.validators) and together is not None:
            result.changes = ChangeSet()  # nothing to store: the identity lock is not needed
        elif result.ok:
            result.changes = self.store.apply(
                self.source.id,
                plan.articles,
                now=self.now,
                suppress=suppress,
                validators=plan.validators,
                priority=self.priority,
                conn=conn,
            )
        if together is not None:
            together.fetches.extend(_log_row(self.source.id, entry) for entry in plan.log)
        else:
            for entry in plan.log:
                self.store.log_fetch(self.source.id, conn=conn, **entry)
        removals = list(plan.gone)
        for url in plan.missing:
            if self.store.record_miss(conn, self.source.id, url, self.now) >= MISSES_BEFORE_REMOVAL:
                removals.append((url, f"not found (HTTP 404) {MISSES_BEFORE_REMOVAL} times"))
        for url, why in removals:
            removed = self.store.remove(conn, url, self.now, why)
            if removed is not None:
                result.changes.changes.append(removed)
                result.changes.regions.update(removed.regions)
        verdict = self._assess(previous, plan)
        result.health, result.health_reason, result.event = (
            verdict.health,
            verdict.reason,
            verdict.event,
        )
        record: dict[str, Any] = {
            "source_id": self.source.id,
            "at": self.now,
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
            together.flush(self.store, conn)
        self.store.record_pass(conn=conn, **record)
        if verdict.event is not None:
            state = self.store.source_state(self.source.id, conn)
            assert state is not None
            self.store.source_event(conn, verdict.event, self.now, state, verdict.reason)
        return result

    def _assess(self, previous: SourceState | None, plan: _Plan) -> health.Verdict:
        result = plan.result
        facts = health.PassFacts(
            ok=result.ok,
            not_modified=result.not_modified,
            found=result.found,
            read=len(plan.articles),
            missing_title=result.missing.get("title", 0),
            missing_body=result.missing.get("body", 0),
            # Plain-text dumps carry no dates at all: their absence is no sign of trouble.
            missing_date=0 if self.source.kind == "text" else result.missing.get("date", 0),
            changed=result.changes.changed,
        )
        return health.assess(
            previous.health if previous else None,
            previous.last_found if previous else None,
            previous.last_change_at if previous else None,
            previous.first_fetch_at if previous else None,
            facts,
            self.now,
            timedelta(seconds=self.config.service.stale_after),
            found_some=previous.last_found_some if previous else None,
        )

    # -- the work --------------------------------------------------------------------------

    async def _fetch(self, plan: _Plan, url: str, *, conditional: bool = True) -> Fetched:
        stored = None
        if conditional:
            stored = self.known_validators.get(url) or self.store.validators(self.source.id, url)
        validators = Validators(*stored) if stored else None
        started = time.monotonic()
        try:
            fetched = await self.fetcher.get(url, validators, self.reach)
        except FetchError as e:
            plan.log.append(
                {
                    "url": url,
                    "at": self.now,
                    "outcome": "error",
                    "status": e.status,
                    "reason": e.reason,
                    "duration_ms": int((time.monotonic() - started) * 1000),
                }
            )
            raise
        plan.log.append(
            {
                "url": url,
                "at": self.now,
                "outcome": "not-modified" if fetched.not_modified else "ok",
                "status": fetched.status,
                "size": len(fetched.body),
                "duration_ms": int(fetched.elapsed * 1000),
            }
        )
        return fetched

    async def where_to(self) -> Reach:
        """Where this source's fetches may go. A local source reads local files inside its
        folder (``local_root``, else the folder of its own file); nothing else reads any. A
        source configured on a public address (and a local one) reaches public addresses only,
        redirects and the pages its listings name included, unless ``[security]
        allow_private_sources``; one configured on a private address keeps working."""
        source = self.source
        allow = self.config.security.allow_private_sources
        path = local_path(source.url)
        if path is not None:
            root = Path(source.local_root) if source.local_root else path.parent
            return Reach(local_root=root.resolve(), public_only=not allow)
        if allow:
            return Reach()
        parts = urlsplit(source.url)
        private = await self.fetcher.is_private(parts.hostname or "", parts.port, every=True)
        return Reach(public_only=not private)

    def _may_follow(self, url: str) -> bool:
        """Whether a link found in this source's documents may be fetched at all."""
        if _is_web(url):
            return True
        path = local_path(url)
        root = self.reach.local_root
        return path is not None and root is not None and inside(path, root)

    async def _plan(self, plan: _Plan) -> None:
        source = self.source
        async with asyncio.timeout_at(self.deadline):
            self.reach = await self.where_to()
            listing = await self._fetch(plan, source.url)
        plan.result.status = listing.status
        if not listing.not_modified:
            check_kind(listing.body, listing.content_type, source.kind, listing.final_url)
        if listing.not_modified:
            plan.result.not_modified = True
            if self.recheck:
                rechecks = [
                    self._page(plan, url, None, conditional=True) for url in self._rechecks()
                ]
                for found in await self._until_deadline(plan, rechecks):
                    plan.articles.extend(self._route(a) for a in found)
            return
        document = read_document(
            listing.body,
            listing.final_url,
            now=self.now,
            config=self.config,
            source=source,
            content_type=listing.content_type,
        )
        teasers = list(document.teasers)
        unchanged = 0  # child sitemaps that answered 304: they hold what they held
        if document.sitemaps:
            async with asyncio.timeout_at(self.deadline):
                children, unchanged = await self._child_sitemaps(plan, document.sitemaps)
            teasers += children
        plan.result.found = len(document.articles) + len(teasers) + unchanged
        self._unreadable(plan, listing.final_url, document.errors)

        ready: list[Article] = []
        wanted: dict[str, Article | None] = {}  # page URL → the feed item it completes
        cards: dict[str, Teaser] = {}  # page URL → the listing's card for it
        for item in document.articles[: source.max_articles]:
            if source.fetch_pages == "never" or (item.complete and source.fetch_pages == "auto"):
                ready.append(item)
            elif item.fetched_url and _is_web(item.fetched_url):
                wanted[canonical_url(item.fetched_url)] = item
            elif item.complete:
                ready.append(item)
        for teaser in teasers:
            if teaser.url and not teaser.related and self._may_follow(teaser.url):
                page_url = canonical_url(teaser.url)
                wanted.setdefault(page_url, None)
                cards.setdefault(page_url, teaser)
            if len(wanted) >= source.max_articles:
                break

        for url in self._rechecks():
            wanted.setdefault(url, None)
        known = (
            self.store.known(wanted, source_id=source.id, priority=self.priority)
            if wanted
            else set()
        )
        jobs = []
        for url, wanted_item in wanted.items():
            if url in known:
                # Known already: look again only if it is cheap (a conditional GET).
                if self.store.validators(source.id, url):
                    jobs.append(
                        self._page(plan, url, wanted_item, conditional=True, card=cards.get(url))
                    )
            else:
                jobs.append(
                    self._page(plan, url, wanted_item, conditional=False, card=cards.get(url))
                )
        del document, teasers, cards  # a sitemap's 50,000 teasers need not live while pages load
        pages = await self._until_deadline(plan, jobs)
        plan.result.pages = len(jobs)
        for found in pages:
            ready.extend(found)
        plan.articles = [self._route(a) for a in _unique_by_key(ready)]
        plan.result.missing = {
            "title": sum(1 for a in plan.articles if not a.title),
            "body": sum(1 for a in plan.articles if not a.paragraphs),
            "date": sum(1 for a in plan.articles if a.published is None),
        }
        if not plan.result.page_errors:
            plan.validators.append(
                (source.url, listing.etag, listing.last_modified, listing.status)
            )

    async def _until_deadline(
        self, plan: _Plan, jobs: Sequence[Coroutine[Any, Any, list[Article]]]
    ) -> list[list[Article]]:
        """The article pages, fetched together until the pass's deadline: what is not done
        by then is given up (counted against the pass) and left for the next one."""
        if not jobs:
            return []
        tasks = [asyncio.ensure_future(job) for job in jobs]
        left = self.deadline - asyncio.get_running_loop().time()
        done, pending = await asyncio.wait(tasks, timeout=max(0.0, left))
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
            plan.result.page_errors.append(
                f"{len(pending)} page(s) not read within the pass's "
                f"{self.config.service.pass_limit:g} s (pass_timeout): left for the next pass"
            )
        return [task.result() for task in tasks if task in done]

    def _unreadable(self, plan: _Plan, url: str, errors: Sequence[str]) -> None:
        """Documents and items that were fetched but could not be read: counted against the
        pass and recorded in the source's fetch log (the rest of the pass goes on)."""
        for error in errors:
            error = error.replace("\x00", "\\x00")  # from a document: PostgreSQL takes no NUL
            plan.result.page_errors.append(error)
            plan.log.append(
                {"url": url, "at": self.now, "outcome": "unreadable", "reason": error[:2000]}
            )

    def _rechecks(self) -> list[str]:
        """Pages of this source's recent articles due for a recheck (``recheck`` and
        ``recheck_window`` of the source), at most RECHECK_LIMIT a pass, oldest check first."""
        source = self.source
        if not self.recheck or source.recheck is None:
            return []
        return self.store.recheck_candidates(
            source.id,
            self.now,
            window=timedelta(seconds=source.recheck_window),
            every=timedelta(seconds=source.recheck),
            limit=RECHECK_LIMIT,
        )

    async def _child_sitemaps(self, plan: _Plan, urls: Sequence[str]) -> tuple[list[Teaser], int]:
        """The teasers of a sitemap index's children, and how many children answered 304."""
        teasers: list[Teaser] = []
        unchanged = 0
        for url in [u for u in urls if self._may_follow(u)][:MAX_CHILD_SITEMAPS]:
            try:
                child = await self._fetch(plan, url)
            except FetchError as e:
                plan.result.page_errors.append(f"{url}: {e.reason}")
                continue
            if child.not_modified:
                unchanged += 1
                continue
            try:
                doc = read_document(child.body, child.final_url, now=self.now, kind="sitemap")
            except ExtractError as e:
                self._unreadable(plan, url, [f"{url}: {e.reason}"])
                continue
            teasers.extend(doc.teasers)
            plan.validators.append((url, child.etag, child.last_modified, child.status))
        return teasers, unchanged

    async def _page(
        self,
        plan: _Plan,
        url: str,
        item: Article | None,
        *,
        conditional: bool,
        card: Teaser | None = None,
    ) -> list[Article]:
        """An article page: fetched, read (completed by the listing's ``card`` for it), its
        canonical link checked, merged with its item."""
        try:
            fetched = await self._fetch(plan, url, conditional=conditional)
        except FetchError as e:
            if conditional and e.status == 410:
                plan.gone.append((url, "gone (HTTP 410)"))
            elif conditional and e.status == 404:
                plan.missing.append(url)
            else:
                plan.result.page_errors.append(f"{url}: {e.reason}")
            return []
        if fetched.not_modified:
            # Still there and unchanged: remember that it was checked (and is not missing).
            stored = self.store.validators(self.source.id, url) or (None, None)
            plan.validators.append(
                (url, fetched.etag or stored[0], fetched.last_modified or stored[1], 304)
            )
            return []
        try:
            document = read_document(
                fetched.body,
                fetched.final_url,
                now=self.now,
                config=self.config,
                source=self.source,
                content_type=fetched.content_type,
                kind="html",
                teaser=card,
            )
        except ExtractError as e:
            self._unreadable(plan, url, [f"{url}: {e.reason}"])
            return []
        self._unreadable(plan, url, document.errors)
        plan.validators.append((url, fetched.etag, fetched.last_modified, fetched.status))
        if document.kind != "article":
            return []  # a sitemap also lists section pages: not articles, not errors
        out = []
        for article in document.articles:
            article = await self._check_canonical(plan, article, fetched)
            out.append(_fill_from(article, item) if item is not None else article)
        return out

    async def _check_canonical(self, plan: _Plan, article: Article, fetched: Fetched) -> Article:
        """Trust a page's canonical link only if it leads somewhere: a canonical address that
        answers 404 or 410 is a broken link, and the page keeps its own address."""
        own = canonical_url(fetched.final_url) if _is_web(fetched.final_url) else None
        if own is None or article.key == own or not _is_web(article.key):
            return article
        if self.store.known([article.key]):
            return article
        try:
            await self._fetch(plan, article.key)
        except FetchError as e:
            if e.status in (404, 410):
                return replace(article, key=own, url=own)
        return article

    def _route(self, article: Article) -> Article:
        matches = region_rules.route(article, self.rules, self.source.regions)
        return replace(article, regions=matches)


MAX_CHILD_SITEMAPS = 20
MISSES_BEFORE_REMOVAL = 2  # a known page answering 404 this many passes in a row is removed
RECHECK_LIMIT = 20  # pages rechecked in one pass at most (the source's recheck says how often)
QUIET_BATCH = 200
ORDER_GRACE = 2.0  # seconds a finished pass waits for the passes ranked before it to finish


@dataclass
class _Together:
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


def _log_row(source_id: str, entry: dict[str, Any]) -> dict[str, Any]:
    row = {"source_id": source_id, "status": None, "reason": None, "duration_ms": None}
    row.update(entry)
    row["bytes"] = row.pop("size", None)
    return row


def _commit_quiet(store: Store, quiet: list[tuple[SourcePass, _Plan]]) -> list[PassResult]:
    """Passes that found nothing to store (not modified, failed) record how they went in one
    transaction, together: a few statements for the lot."""
    with store.transaction() as conn:
        together = _Together(store.source_states_in(conn, [p.source.id for p, _ in quiet]))
        results = [p.commit(plan, conn, together=together) for p, plan in quiet]
        together.flush(store, conn)
        return results


def _is_web(url: str) -> bool:
    try:
        return urlsplit(url).scheme in ("http", "https")
    except ValueError:  # "http://]x/": not a URL
        return False


def _unique_by_key(items: Iterable[Article]) -> list[Article]:
    seen: dict[str, Article] = {}
    for item in items:
        seen.setdefault(item.key, item)
    return list(seen.values())


def _fill_from(page: Article, item: Article) -> Article:
    """A page completed by what its feed item knew and the page did not say."""
    return replace(
        page,
        published=page.published or item.published,
        updated=page.updated or item.updated,
        section=page.section or item.section,
        categories=page.categories or item.categories,
        authors=page.authors or item.authors,
        dateline=page.dateline or item.dateline,
        summary=page.summary or item.summary,
        language=page.language or item.language,
        images=page.images or item.images,
        guid=page.guid or item.guid,
    )


# --------------------------------------------------------------------------------------------
# `syndicator once`


@dataclass
class OnceResult:
    passes: list[PassResult]
    paused: list[str] = field(default_factory=list)  # sources left alone: paused by ops

    @property
    def regions(self) -> set[str]:
        return {r for p in self.passes for r in p.changes.feeds}

    @property
    def failed(self) -> list[PassResult]:
        return [p for p in self.passes if not p.ok]


def sources_due_for_rechecks(store: Store, sources: Sequence[Source], now: datetime) -> set[str]:
    """Which of these sources have pages due for a recheck: one query per distinct (recheck,
    recheck_window) setting, not one per source (``once`` over a thousand sources)."""
    groups: dict[tuple[float, float], set[str]] = {}
    for source in sources:
        if source.recheck is not None:
            groups.setdefault((source.recheck, source.recheck_window), set()).add(source.id)
    due: set[str] = set()
    for (every, window), ids in groups.items():
        found = store.sources_with_rechecks(
            now, window=timedelta(seconds=window), every=timedelta(seconds=every)
        )
        due |= found & ids
    return due


def make_fetcher(config: Config) -> Fetcher:
    service = config.service
    return Fetcher(
        user_agent=service.user_agent,
        timeout=service.timeout,
        max_bytes=service.max_bytes,
        concurrency=service.concurrency,
        per_host=service.per_host,
        respect_robots=service.respect_robots,
        mounts=demo.mounts(config),
    )


async def run_once(
    config: Config,
    store: Store,
    *,
    source_ids: Sequence[str] = (),
    now: datetime | None = None,
    fetcher: Fetcher | None = None,
    progress: Callable[[PassResult], Awaitable[None] | None] | None = None,
) -> OnceResult:
    """One pass over every enabled (or every named) source. Sources are fetched concurrently
    and each is stored as soon as its pass is done, so a slow source holds up no other:
    ``progress`` hears of each stored pass at once (to publish it). Which copy of a story a
    feed links to never depends on who answered first: the store ranks sources in config order
    (a copy from a source that ranks first takes the entry over, same entry id). Passes that
    found nothing to store (not modified, failed) and finish together share one transaction.
    Sources paused by ops are left alone, named or not (``OnceResult.paused``)."""
    chosen = [s for s in config.sources if (s.id in source_ids if source_ids else s.enabled)]
    store.sync_sources((s.id, s.kind, s.url) for s in config.sources)
    paused = store.paused_sources()
    skipped = [s.id for s in chosen if s.id in paused]
    chosen = [s for s in chosen if s.id not in paused]
    own_fetcher = fetcher is None
    fetcher = fetcher or make_fetcher(config)
    try:
        when = now or datetime.now(UTC)
        passes = [
            SourcePass(s, config=config, store=store, fetcher=fetcher, now=when) for s in chosen
        ]
        listings = store.validators_of((s.id, s.url) for s in chosen)
        due = sources_due_for_rechecks(store, chosen, when)
        for source_pass in passes:
            source = source_pass.source
            if (source.id, source.url) in listings:
                source_pass.known_validators = {source.url: listings[(source.id, source.url)]}
            source_pass.recheck = source_pass.source.id in due
        tasks = {asyncio.ensure_future(p.plan()): n for n, p in enumerate(passes)}
        results: list[PassResult] = []
        loop = asyncio.get_running_loop()
        ready: dict[int, tuple[float, _Plan]] = {}  # finished, not stored: when, plan

        async def store_ready(running: set[asyncio.Task[_Plan]]) -> None:
            """Store, in config order, each finished pass that no pass ranked before it is
            still running for, or that has waited ORDER_GRACE for them; the quiet ones
            (nothing to store) together."""
            first_running = min((tasks[t] for t in running), default=len(passes))
            now_ = loop.time()
            due = [
                n for n in sorted(ready) if n < first_running or now_ - ready[n][0] >= ORDER_GRACE
            ]
            quiet = [n for n in due if not ready[n][1].articles]
            for start in range(0, len(quiet), QUIET_BATCH):
                batch = quiet[start : start + QUIET_BATCH]
                plans = [(passes[n], ready.pop(n)[1]) for n in batch]
                for result in await asyncio.to_thread(_commit_quiet, store, plans):
                    await report(result)
            for n in due:
                if n in ready:
                    await report(await asyncio.to_thread(passes[n].commit, ready.pop(n)[1]))

        async def report(result: PassResult) -> None:
            results.append(result)
            if progress is not None:
                reply = progress(result)
                if reply is not None:
                    await reply

        pending = set(tasks)
        try:
            while pending or ready:
                waits = [when + ORDER_GRACE - loop.time() for when, _ in ready.values()]
                if pending:
                    finished, pending = await asyncio.wait(
                        pending,
                        timeout=max(0.0, min(waits)) if waits else None,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    for task in finished:
                        ready[tasks[task]] = (loop.time(), task.result())
                await store_ready(pending)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        if own_fetcher:
            await fetcher.aclose()
    rank = {s.id: n for n, s in enumerate(chosen)}
    results.sort(key=lambda r: rank[r.source_id])
    return OnceResult(results, skipped)


# --------------------------------------------------------------------------------------------
# Pushed articles (`syndicator ingest`, POST /api/articles)

PUSH_SOURCE = "push"


def article_from_object(
    obj: Any, *, config: Config | None, now: datetime, source_id: str = PUSH_SOURCE
) -> Article:
    """An ARTICLE object (DESIGN.md) as pushed by a client: ``url`` and ``title`` required; the
    body from ``paragraphs``, ``content_html`` or ``text``; ``published`` defaults to now;
    ``regions`` may name regions outright (the config's rules apply too).

    Anything wrong is an ExtractError naming the field: a value of the wrong type, text that is
    not valid Unicode (a lone surrogate), a URL that is not a plain http(s) one, a date that
    cannot be read or is implausible."""
    if not isinstance(obj, dict):
        raise ExtractError("an article must be a JSON object")
    _check_text(obj, "")
    url, title = obj.get("url"), obj.get("title")
    if not isinstance(url, str) or not isinstance(title, str):
        raise ExtractError("an article needs a 'url' (http or https) and a 'title'")
    try:
        url = external_url(url)
    except ValueError as e:
        raise ExtractError(f"url: {e}") from None
    paragraphs = _strings(obj, "paragraphs")
    body_text = "\n\n".join(paragraphs) if paragraphs else _string(obj, "text")
    body_html = _string(obj, "content_html")
    if body_text is None and body_html is None:
        raise ExtractError(
            "an article needs a body: 'paragraphs', 'content_html' or 'text'", url=url
        )
    images = []
    raw_images = obj.get("images") or []
    if not isinstance(raw_images, list):
        raise ExtractError("images: must be a list of {url, caption, credit}")
    for n, image in enumerate(raw_images):
        if not isinstance(image, dict) or not isinstance(image.get("url"), str):
            raise ExtractError(f"images[{n}]: must be an object with a 'url'")
        try:
            src = external_url(image["url"])
        except ValueError as e:
            raise ExtractError(f"images[{n}].url: {e}") from None
        images.append(
            Image(url=src, caption=_string(image, "caption"), credit=_string(image, "credit"))
        )
    published = _string(obj, "published")
    updated = _string(obj, "updated")
    for name, value in (("published", published), ("updated", updated)):
        try:
            parse_date(value, now=now)
        except DateError as e:
            raise ExtractError(f"{name}: {e}") from None
    draft = Draft(
        url=url,
        title=title,
        canonical=url,
        subtitle=_string(obj, "subtitle"),
        summary=_string(obj, "summary"),
        section=_string(obj, "section"),
        categories=_strings(obj, "categories"),
        bylines=_strings(obj, "authors"),
        dateline=_string(obj, "dateline"),
        language=_string(obj, "language"),
        published=published or now.isoformat(),
        updated=updated,
        body_html=None if body_text is not None else body_html,
        body_text=body_text,
        images=tuple(images),
        method="pushed",
    )
    article = normalize_article(draft, source_id=source_id, now=now)
    if not article.paragraphs:
        raise ExtractError("the article's body is empty", url=url)
    known = {r.id for r in config.regions} if config else set()
    given = []
    for region in _strings(obj, "regions"):
        if region not in known:
            raise ExtractError(f"regions: unknown region {region!r}", url=url)
        given.append(RegionMatch(region, "pushed", "named by the client"))
    routed = region_rules.route(article, rules_of(config))
    return replace(article, regions=(*given, *routed))


def _check_text(value: Any, where: str) -> None:
    """Every string in a pushed object is valid Unicode: a JSON ``"\\ud800"`` is refused by
    name, not stored (nothing downstream could encode it). Walked without recursion: JSON
    nests as deep as its parser allows."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, str):
            bad = _LONE_SURROGATE.search(item)
            if bad:
                raise ExtractError(
                    f"{at or 'the article'}: not valid Unicode "
                    f"(a lone surrogate, U+{ord(bad.group(0)):04X})"
                )
        elif isinstance(item, dict):
            for key, inner in reversed(item.items()):
                stack.append((inner, f"{at}.{key}" if at else str(key)))
                stack.append((key, at))
        elif isinstance(item, list):
            stack.extend((inner, f"{at}[{n}]") for n, inner in reversed(list(enumerate(item))))


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _string(obj: dict[str, Any], name: str) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ExtractError(f"{name}: must be a string, not {type(value).__name__}")
    return value if value.strip() else None


def _strings(obj: dict[str, Any], name: str) -> tuple[str, ...]:
    value = obj.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ExtractError(f"{name}: must be a list of strings")
    return tuple(value)


def parse_ndjson(body: bytes) -> tuple[list[tuple[int, Any]], list[str]] | None:
    """The objects of an NDJSON (or single JSON object) body of ARTICLE objects, each with its
    line number, and the lines that are not JSON; None if the body is not that (a JSON Feed is
    not: it is read as a feed). Nesting too deep for the parser is "not JSON" too."""
    text = body.decode("utf-8", errors="replace")
    stripped = text.lstrip()
    first = text.count("\n", 0, len(text) - len(stripped)) + 1
    stripped = stripped.rstrip()
    if not stripped.startswith("{"):
        return None
    try:
        whole = json.loads(stripped)
    except (ValueError, RecursionError):
        whole = None
    if isinstance(whole, dict):
        if str(whole.get("version", "")).startswith(
            ("https://jsonfeed.org", "http://jsonfeed.org")
        ):
            return None
        return [(first, whole)], []
    objects: list[tuple[int, Any]] = []
    errors: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            objects.append((n, json.loads(line)))
        except json.JSONDecodeError as e:
            errors.append(f"line {n}: not JSON ({e.msg} at column {e.colno})")
        except RecursionError:
            errors.append(f"line {n}: not JSON (nested too deeply)")
        except ValueError:  # a number past the digits int() takes
            limit = sys.get_int_max_str_digits()
            errors.append(f"line {n}: not JSON (a number of more than {limit} digits)")
    return objects, errors


# --------------------------------------------------------------------------------------------
# Documents an operator names (`syndicator ingest FILE…`): read as a stream, in batches

STREAM_BATCH = 500  # articles read, then stored, per step of a streamed ingest
_HEAD = 64 * 1024  # bytes read first, to tell what a named document is


@dataclass
class Batch:
    """Articles read from a pushed document, to be stored together, with the problems met
    while reading them (each naming its document, and its line in NDJSON) and how many bytes
    of the document were read by then."""

    articles: list[Article]
    errors: list[str]
    position: int


class _Rejoined(io.RawIOBase):
    """A stream whose first bytes were already read (to tell what it is), made whole again;
    counts the bytes read through it."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = memoryview(head)
        self._rest = rest
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(target), len(self._head))
            target[:n] = self._head[:n]
            self._head = self._head[n:]
        else:
            data = self._rest.read(len(target))
            n = len(data)
            target[:n] = data
        self.position += n
        return n


def read_stream(
    stream: BinaryIO,
    url: str,
    *,
    config: Config | None,
    now: datetime,
    source_id: str = PUSH_SOURCE,
    content_type: str | None = None,
    batch: int = STREAM_BATCH,
) -> Iterator[Batch]:
    """The articles of a document an operator pushes in (``syndicator ingest``), ``batch`` at
    a time, in bounded memory whatever the document's size.

    NDJSON of ARTICLE objects is read a line at a time: a bad line fails alone, named by its
    number; a line longer than ``max_bytes`` (the bound of one pushed article) is skipped as an
    error. What is not NDJSON (an HTML page, a feed, a text dump, a JSON Feed, one JSON object
    spread over lines) is read whole, then as :func:`read_document` reads it."""
    limit = config.service.max_bytes if config else MAX_BYTES
    head = stream.read(_HEAD)
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") and not _first_line_is_json(head):
        # Not one JSON object a line, or one line longer than the head: a single document
        # when it is no larger than one pushed body may be, else NDJSON with a bad first line.
        head += stream.read(limit + 1 - len(head))
        if len(head) <= limit:
            yield from _whole(head, url, config, now, source_id, content_type, batch)
            return
    elif not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        yield from _whole(head + stream.read(), url, config, now, source_id, content_type, batch)
        return
    raw = _Rejoined(head, stream)
    reader = io.BufferedReader(raw, buffer_size=_HEAD)
    if _is_json_feed_head(head):
        yield from _whole(reader.read(), url, config, now, source_id, content_type, batch)
        return
    articles: list[Article] = []
    errors: list[str] = []
    for n, obj in _ndjson_lines(reader, limit):
        if isinstance(obj, _NotJSON):
            errors.append(f"{url} line {n}: {obj}")
            continue
        try:
            articles.append(article_from_object(obj, config=config, now=now, source_id=source_id))
        except ExtractError as e:
            errors.append(f"{url} line {n}: {e}")
        if len(articles) >= batch:
            yield Batch(articles, errors, raw.position)
            articles, errors = [], []
    yield Batch(articles, errors, raw.position)


class _NotJSON(str):
    """Why a line is not JSON."""


def _ndjson_lines(reader: BinaryIO, limit: int) -> Iterator[tuple[int, Any]]:
    """(line number, object) for each line that is not blank, or (line number, why) for a line
    that is not JSON (a :class:`_NotJSON`)."""
    n = 0
    while True:
        line = reader.readline(limit + 1)
        if not line:
            return
        n += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # the rest of the line, unread
                line = reader.readline(_HEAD)
            yield n, _NotJSON(f"longer than {limit} bytes (max_bytes): skipped")
            continue
        if not line.strip():
            continue
        try:
            yield n, json.loads(line.decode("utf-8", errors="replace"))
        except json.JSONDecodeError as e:
            yield n, _NotJSON(f"not JSON ({e.msg} at column {e.colno})")
        except RecursionError:
            yield n, _NotJSON("not JSON (nested too deeply)")
        except ValueError:  # a number past the digits int() takes
            digits = sys.get_int_max_str_digits()
            yield n, _NotJSON(f"not JSON (a number of more than {digits} digits)")


def _first_line(head: bytes) -> bytes | None:
    """The first line of ``head`` that is not blank, if it ends within ``head``."""
    for line in head.split(b"\n")[:-1]:
        if line.strip():
            return line
    return None


def _first_line_is_json(head: bytes) -> bool:
    line = _first_line(head)
    if line is None:
        return False
    try:
        json.loads(line.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return False
    return True


def _is_json_feed_head(head: bytes) -> bool:
    """Whether the first line is a whole JSON Feed (read as a feed, not as an article)."""
    line = _first_line(head)
    try:
        obj = json.loads(line.decode("utf-8", errors="replace")) if line else None
    except (ValueError, RecursionError):
        return False
    return isinstance(obj, dict) and str(obj.get("version", "")).startswith(
        ("https://jsonfeed.org", "http://jsonfeed.org")
    )


def _whole(
    body: bytes,
    url: str,
    config: Config | None,
    now: datetime,
    source_id: str,
    content_type: str | None,
    batch: int,
) -> Iterator[Batch]:
    """A document read whole: one JSON object (or NDJSON small enough), else any document
    :func:`read_document` reads; its articles ``batch`` at a time."""
    articles: list[Article] = []
    errors: list[str] = []
    try:
        parsed = parse_ndjson(body)
        if parsed is not None:
            objects, not_json = parsed
            errors.extend(f"{url} {e}" for e in not_json)
            for n, obj in objects:
                try:
                    articles.append(
                        article_from_object(obj, config=config, now=now, source_id=source_id)
                    )
                except ExtractError as e:
                    errors.append(f"{url} line {n}: {e}")
        else:
            document = read_document(body, url, now=now, config=config, content_type=content_type)
            articles.extend(document.articles)
            errors.extend(document.errors)
            if not document.articles:
                errors.append(f"{url}: no article in this document")
    except ExtractError as e:
        errors.append(f"{url}: {e.reason}")
    size = len(body)
    del body
    if not articles:
        yield Batch([], errors, size)
    for start in range(0, len(articles), batch):
        yield Batch(articles[start : start + batch], errors if start == 0 else [], size)


def open_document(
    doc: str, *, user_agent: str | None = None, max_bytes: int = MAX_BYTES
) -> tuple[BinaryIO, str, str | None]:
    """A document named on the command line, open for reading: ``-`` (standard input) and
    local files as streams of any size; a URL fetched whole (``max_bytes`` bounds what comes
    over the network). Returns (stream, URL, content type); raises FetchError."""
    if doc == "-":
        return sys.stdin.buffer, "stdin:", None
    path = local_path(doc)
    if path is not None:
        try:
            if path.is_dir():
                raise FetchError(doc, "is a folder, not a file")
            return path.open("rb"), path.resolve().as_uri(), None
        except FileNotFoundError as e:
            raise FetchError(doc, "no such file") from e
        except OSError as e:
            raise FetchError(doc, f"cannot read: {e.strerror or e}") from e
    response = (
        fetch_once(doc, user_agent=user_agent, max_bytes=max_bytes)
        if user_agent
        else (fetch_once(doc, max_bytes=max_bytes))
    )
    return io.BytesIO(response.body), response.url, response.content_type

"""One pass over one source: the listing (conditional GET) → the article pages not yet known
(or cheaply rechecked) → read → route, then one store transaction.

:class:`SourcePass` plans — the network work and the reads of the store, made into a
:class:`.commit.Plan` — and commits it (:mod:`.commit` writes it in one transaction). It does
not publish or notify, and it does not decide when a source runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import Connection

from syndicator.config import Config, Source
from syndicator.errors import ExtractError, FetchError
from syndicator.fetch import (
    Fetched,
    Fetcher,
    Reach,
    Validators,
    inside,
    local_path,
)
from syndicator.ingest.commit import PassResult, Plan, Together, commit
from syndicator.model import Article, Teaser
from syndicator.normalize import (
    canonical_url,
)
from syndicator.store import Store

log = logging.getLogger("syndicator.ingest")


_RANKS: dict[int, tuple[tuple[Source, ...], Mapping[str, int]]] = {}


def source_ranks(config: Config) -> Mapping[str, int]:
    """Source id → its place in the configuration: config order ranks sources (the first to
    carry a story gives its entry's address). Made once per configuration and shared by its
    passes: built by each pass, 10,000 sources' passes held 10,000 such maps (5 GB)."""
    sources = config.sources
    known = _RANKS.get(id(sources))
    if known is None or known[0] is not sources:
        if len(_RANKS) >= 4:  # configurations reloaded since: let them go
            _RANKS.clear()
        known = (sources, MappingProxyType({s.id: n for n, s in enumerate(sources)}))
        _RANKS[id(sources)] = known
    return known[1]


class SourcePass:
    """One pass of one source. :meth:`plan` does the network work and reads the store;
    :meth:`commit` writes everything it found in one transaction."""

    def __init__(
        self, source: Source, *, config: Config, store: Store, fetcher: Fetcher, now: datetime
    ) -> None:
        self.source, self.config, self.store, self.fetcher = source, config, store, fetcher
        self.now = now
        self.priority = source_ranks(config)
        self.known_validators: dict[str, tuple[str | None, str | None]] = {}
        self.recheck = True  # look for stored pages due for a recheck (run_once knows better)
        self.reach = Reach(public_only=True)  # made exact by _plan (see where_to)
        self.deadline = 0.0  # event loop time by which the pass ends (set by plan)

    async def run(self) -> PassResult:
        return self.commit(await self.plan())

    async def plan(self) -> Plan:
        started = time.monotonic()
        plan = Plan(self.source, PassResult(self.source.id))
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
        plan: Plan,
        conn: Connection | None = None,
        *,
        together: Together | None = None,
    ) -> PassResult:
        """Store what the pass found (:func:`.commit.commit`): in one transaction of its own,
        or in ``conn``'s; ``together`` with other quiet passes of a ``once``."""
        return commit(
            plan,
            config=self.config,
            store=self.store,
            now=self.now,
            priority=self.priority,
            conn=conn,
            together=together,
        )

    # -- the work --------------------------------------------------------------------------

    async def _fetch(self, plan: Plan, url: str, *, conditional: bool = True) -> Fetched:
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

    async def _plan(self, plan: Plan) -> None:
        source = self.source
        async with asyncio.timeout_at(self.deadline):
            self.reach = await self.where_to()
            listing = await self._fetch(plan, source.url)
        plan.result.status = listing.status
        if listing.not_modified:
            plan.result.not_modified = True
            if self.recheck:
                rechecks = [
                    self._page(plan, url, None, conditional=True) for url in self._rechecks()
                ]
                for found in await self._until_deadline(plan, rechecks):
                    plan.articles.extend(found)
            return
        # The readers (extract, normalize, regions…) load with the first document read: a
        # pass of 304s reads none.
        from syndicator.ingest.document import check_kind, read_document

        check_kind(listing.body, listing.content_type, source.kind, listing.final_url)
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
        plan.articles = _unique_by_key(ready)
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
        self, plan: Plan, jobs: Sequence[Coroutine[Any, Any, list[Article]]]
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

    def _unreadable(self, plan: Plan, url: str, errors: Sequence[str]) -> None:
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

    async def _child_sitemaps(self, plan: Plan, urls: Sequence[str]) -> tuple[list[Teaser], int]:
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
            from syndicator.ingest.document import read_document  # as in _plan

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
        plan: Plan,
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
        from syndicator.ingest.document import read_document  # as in _plan

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
                item=item,
            )
        except ExtractError as e:
            self._unreadable(plan, url, [f"{url}: {e.reason}"])
            return []
        self._unreadable(plan, url, document.errors)
        plan.validators.append((url, fetched.etag, fetched.last_modified, fetched.status))
        if document.kind != "article":
            return []  # a sitemap also lists section pages: not articles, not errors
        return [await self._check_canonical(plan, a, fetched) for a in document.articles]

    async def _check_canonical(self, plan: Plan, article: Article, fetched: Fetched) -> Article:
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


MAX_CHILD_SITEMAPS = 20
RECHECK_LIMIT = 20  # pages rechecked in one pass at most (the source's recheck says how often)


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

"""The publishing edge: :class:`Publisher` reads the store, renders each region (its feeds,
archive pages and page) and the indexes, and replaces only the files whose bytes changed."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

from syndicator import pages, processes
from syndicator.config import Config, Source
from syndicator.direction import is_rtl, well_formed_tag
from syndicator.errors import PublishError
from syndicator.model import Entry, FeedInfo, Origin
from syndicator.publish.common import (
    ALL,
    FORMATS,
    archive_url,
    check_id,
    ordered,
)
from syndicator.publish.files import sweep_temporary, sync_folder, write_atomic
from syndicator.publish.render import ArchiveLinks, render_archive_page, render_opml, render_region
from syndicator.store import Store

log = logging.getLogger(__name__)

ARCHIVE_WRITERS = 8  # archive pages written at once (each write waits on its own fsync)
ARCHIVE_READ = 20  # archive pages read from the store in one query


def _runs(pages: Sequence[int], most: int) -> Iterator[tuple[int, int]]:
    """Consecutive pages of ``pages`` (ascending) as (first, last) runs of at most ``most``."""
    start = 0
    for n in range(1, len(pages) + 1):
        if n == len(pages) or pages[n] != pages[n - 1] + 1 or n - start == most:
            yield pages[start], pages[n - 1]
            start = n


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What :meth:`Publisher.publish` did. Paths are relative to ``feeds_dir``, POSIX style."""

    changed: tuple[str, ...]
    unchanged: tuple[str, ...]
    regions: tuple[str, ...]
    skipped: tuple[str, ...]
    seconds: float


class Publisher:
    """Renders regions from the store into ``config.service.feeds_dir``."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        self.base_url = config.service.base_url.rstrip("/")
        self.folder = Path(config.service.feeds_dir)
        self._regions = {r.id: r for r in config.regions}
        self._sources = {s.id: s for s in config.sources}
        self.titles = {r.id: r.title for r in config.regions}
        hubs = list(config.publish.hubs)
        if config.publish.builtin_hub:
            hubs.append(f"{self.base_url}/hub")
        self.hubs = tuple(dict.fromkeys(hubs))
        self.own_hub = self.hubs[0] if self.hubs else None  # the one the pages name

    # -- what each region is called -----------------------------------------------------------

    def feed_info(self, region: str) -> FeedInfo:
        """Title, language and hubs of a region's feed (``all``: the service's title, and a
        language only when every region shares it)."""
        if region == ALL:
            languages = {well_formed_tag(r.language) for r in self.config.regions}
            language = languages.pop() if len(languages) == 1 else None
            title, description = self.config.publish.title, None
        else:
            r = self._regions[region]
            language, title, description = well_formed_tag(r.language), r.title, r.description
        return FeedInfo(
            region=region,
            title=title,
            base_url=self.base_url,
            language=language,
            description=description,
            hubs=self.hubs,
            rtl=is_rtl(language),
        )

    def origin(self, source_id: str) -> Origin:
        """Where a story came from, for ``atom:source``."""
        source: Source | None = self._sources.get(source_id)
        oid = f"{self.base_url}/sources/{quote(source_id, safe='')}"
        if source is None:
            return Origin(id=oid, title=source_id)
        url = source.url if urlsplit(source.url).scheme in ("http", "https") else None
        return Origin(id=oid, title=source.title or source.id, url=url)

    def with_origins(self, entries: Sequence[Entry]) -> list[Entry]:
        sources = self.store.sources_of([e.id for e in entries])
        out = []
        for e in entries:
            sid = sources.get(e.id)
            out.append(replace(e, origin=self.origin(sid)) if sid and e.origin is None else e)
        return out

    # -- publishing ---------------------------------------------------------------------------

    def sweep(self) -> list[Path]:
        """Remove what writers killed mid-write left in the feeds folder (see sweep_temporary)."""
        return sweep_temporary(self.folder)

    def publish(self, regions: Iterable[str] | None = None, *, renderers: int = 0) -> PublishResult:
        """Render ``regions`` (None: every configured region) and ``all`` in the configured
        formats, their complete archive pages, ``index.opml`` and ``index.html``; replace the
        files whose bytes changed. ``all`` comes with any region, since it holds every entry.
        Ids that are not configured are skipped (logged); ids that could escape the folder are
        refused. Raises PublishError when a file cannot be written (the old one stays).
        ``renderers``: processes that render a bulk load's new archive pages (none: here)."""
        started = time.perf_counter()
        asked = [*self._regions, ALL] if regions is None else regions
        wanted = list(dict.fromkeys(check_id(r) for r in asked))
        skipped = tuple(r for r in wanted if r != ALL and r not in self._regions)
        for r in skipped:
            log.warning("not publishing region %r: it is not in the configuration", r)
        chosen = [r for r in wanted if r == ALL or r in self._regions]
        if chosen and ALL not in chosen:
            chosen.append(ALL)
        changed: list[str] = []
        unchanged: list[str] = []
        if chosen:
            self._mkdir(self.folder)
            touched: set[Path] = set()
            try:
                for region in chosen:
                    self._publish_region(region, changed, unchanged, renderers)
                self._publish_indexes(changed, unchanged)
            finally:
                for name in changed:
                    touched.add((self.folder / name).parent)
                for folder in sorted(touched):
                    sync_folder(folder)
        return PublishResult(
            changed=tuple(changed),
            unchanged=tuple(unchanged),
            regions=tuple(chosen),
            skipped=skipped,
            seconds=time.perf_counter() - started,
        )

    def _publish_region(
        self, region: str, changed: list[str], unchanged: list[str], renderers: int = 0
    ) -> None:
        info = self.feed_info(region)
        size = self.config.publish.archive_page_size
        archived = "atom" in self.config.publish.formats  # RFC 5005 archives are Atom
        complete = self.store.region_size(region) // size if archived else 0
        # Archive pages first, so that no feed links to a page not yet written.
        self._publish_archive(region, info, complete, changed, unchanged, renderers)
        # The subscription feed: the newest entries, and at least every entry not archived yet
        # (RFC 5005: a reader catching up must find each entry in the feed or in an archive).
        entries = self.store.entries(region, self.config.publish.entries_per_feed)
        if archived:
            seen = {e.id for e in entries}
            tail = self.store.archive(region, complete + 1, size)
            entries += [e for e in tail if e.id not in seen]
        entries = self.with_origins(entries)
        entries += self.store.removed_entries(region, self.config.publish.entries_per_feed)
        prev = archive_url(self.base_url, region, complete) if complete else None
        # An empty feed is as old as its region (never 1970, never the clock of each render)
        created = None if entries else self.store.region_created(region, datetime.now(UTC))
        page_url = pages.region_page_url(self.base_url, region)
        feeds = render_region(
            info,
            entries,
            formats=self.config.publish.formats,
            archive=ArchiveLinks(prev_archive=prev),
            region_titles=self.titles,
            updated=created,
            html_url=page_url,
        )
        for fmt, data in feeds.items():
            self._write(self.folder / f"{region}.{FORMATS[fmt]}", data, changed, unchanged)
        # The region's page, beside its feeds: where a person who clicks "subscribe" lands
        human = pages.region_page(
            info,
            ordered(entries),
            formats=self.config.publish.formats,
            hub=self.own_hub,
            site_title=self.config.publish.title,
        )
        self._write(self.folder / f"{region}.html", human, changed, unchanged)

    def _publish_archive(
        self,
        region: str,
        info: FeedInfo,
        complete: int,
        changed: list[str],
        unchanged: list[str],
        renderers: int = 0,
    ) -> None:
        """The complete archive pages of ``region`` not written yet (complete pages are
        immutable), each rendered here (or, with ``renderers``, twenty at a time by that many
        forked processes, in order) and written by a pool of writers: a write waits on its own
        fsync, so a bulk load's hundreds of new pages wait on them side by side. All are
        written, or the error raised, before this returns."""
        folder = self.folder / "archive" / region
        missing = [p for p in range(1, complete + 1) if not (folder / f"{p}.atom").exists()]
        if not missing:
            return
        self._mkdir(folder)
        runs = list(_runs(missing, ARCHIVE_READ))
        rendered: Generator[list[tuple[int, bytes]], None, None]
        if renderers > 0 and len(runs) > 1 and processes.can_fork() and _shared(self.store.url):
            # Forked before any writer thread starts (the writers start with the first page).
            rendered = processes.in_order(
                renderers,
                ((_render_run, (region, info, complete, first, last)) for first, last in runs),
                started=_renderer_started,
                startargs=(self,),
            )
        else:
            rendered = (self._render_run(region, info, complete, f, last) for f, last in runs)
        writers = min(ARCHIVE_WRITERS, len(missing))
        pool = ThreadPoolExecutor(max_workers=writers, thread_name_prefix="publish")
        writing: deque[tuple[Path, Future[bool]]] = deque()
        try:
            for pages in rendered:
                for page, data in pages:
                    path = folder / f"{page}.atom"
                    writing.append((path, pool.submit(write_atomic, path, data)))
                    while len(writing) > 2 * writers:  # a bounded number of pages in memory
                        path, future = writing.popleft()
                        self._record(path, future.result, changed, unchanged)
            while writing:
                path, future = writing.popleft()
                self._record(path, future.result, changed, unchanged)
        finally:
            rendered.close()
            pool.shutdown(wait=True, cancel_futures=True)

    def _render_run(
        self, region: str, info: FeedInfo, complete: int, first: int, last: int
    ) -> list[tuple[int, bytes]]:
        """Archive pages ``first`` … ``last`` of ``region``, read and rendered: (page, bytes)."""
        size = self.config.publish.archive_page_size
        pages = self.store.archive_pages(region, first, last, size)
        read = self.with_origins([e for page in pages.values() for e in page])
        out = []
        for page, entries in pages.items():
            page_entries, read = read[: len(entries)], read[len(entries) :]
            data = render_archive_page(
                info, page_entries, page=page, complete_pages=complete, region_titles=self.titles
            )
            out.append((page, data))
        return out

    def _publish_indexes(self, changed: list[str], unchanged: list[str]) -> None:
        regions = [*self._regions, ALL]
        feeds = [self.feed_info(r) for r in regions]
        formats = self.config.publish.formats
        title = self.config.publish.title
        opml = render_opml(title, feeds, formats=formats)
        self._write(self.folder / "index.opml", opml, changed, unchanged)
        latest = {r: self.with_origins(self.store.entries(r, pages.HEADLINES)) for r in regions}
        sizes = {r: self.store.region_count(r) for r in regions}
        shared = self.feed_info(ALL).language  # the regions' language, when they share one
        page = pages.home_page(
            title,
            feeds,
            formats=formats,
            latest=latest,
            sizes=sizes,
            language=shared,
            hub=self.own_hub,
        )
        self._write(self.folder / "index.html", page, changed, unchanged)

    def _write(self, path: Path, data: bytes, changed: list[str], unchanged: list[str]) -> None:
        self._record(path, lambda: write_atomic(path, data), changed, unchanged)

    def _record(
        self, path: Path, write: Callable[[], bool], changed: list[str], unchanged: list[str]
    ) -> None:
        """Run (or wait for) the write of ``path`` and record whether the file changed."""
        name = path.relative_to(self.folder).as_posix()
        try:
            wrote = write()
        except OSError as e:
            raise PublishError(
                f"cannot write {path}: {e.strerror or e}; the previous file is left in place "
                f"(check that {path.parent} is writable and the disk is not full)"
            ) from e
        if wrote:
            changed.append(name)
        else:
            unchanged.append(name)

    @staticmethod
    def _mkdir(folder: Path) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise PublishError(f"cannot create {folder}: {e.strerror or e}") from e


def _shared(url: str) -> bool:
    """Whether another process opening ``url`` finds this store (not an in-memory SQLite)."""
    if not url.startswith("sqlite"):
        return True
    path = url.split("///", 1)[1] if "///" in url else ""
    return bool(path) and ":memory:" not in path and "mode=memory" not in path


# In a forked renderer: the publisher whose archive pages it renders.
_RENDERING: Publisher | None = None


def _renderer_started(publisher: Publisher) -> None:
    global _RENDERING
    # The parent's pooled connections stay the parent's: this process opens its own.
    publisher.store.engine.dispose(close=False)
    _RENDERING = publisher


def _render_run(
    region: str, info: FeedInfo, complete: int, first: int, last: int
) -> list[tuple[int, bytes]]:
    assert _RENDERING is not None
    return _RENDERING._render_run(region, info, complete, first, last)

"""The publishing edge: :class:`Publisher` reads the store, renders each region (its feeds,
archive pages and page) and the indexes, and replaces only the files whose bytes changed."""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from syndicator import lazy
from syndicator.config import Config, Source
from syndicator.direction import is_rtl, well_formed_tag
from syndicator.errors import PublishError
from syndicator.model import Entry, FeedInfo, Origin
from syndicator.publish.atom import ArchiveLinks
from syndicator.publish.common import (
    ALL,
    FORMATS,
    archive_url,
    check_id,
    ordered,
)
from syndicator.publish.files import sweep_temporary, sync_folder, write_atomic
from syndicator.store import Store

if TYPE_CHECKING:
    from syndicator import pages, processes
    from syndicator.publish import render
    from syndicator.publish.render import RenderedEntry

    _RenderedRun = list[tuple[int, bytes, list[RenderedEntry]]]
else:
    # The renderers (feedgen, lxml, nh3) and the renderer processes load with the first region
    # rendered: a `once` whose sources changed nothing only sweeps the feeds folder.
    pages = lazy.module("syndicator.pages")
    processes = lazy.module("syndicator.processes")
    render = lazy.module("syndicator.publish.render")

log = logging.getLogger(__name__)

ARCHIVE_WRITERS = 8  # archive pages written at once (each write waits on its own fsync)
ARCHIVE_READ = 20  # archive pages read from the store in one query
ARCHIVE_KEPT = 20_000  # rendered entries held at most, waiting for the pages that hold them
ARCHIVE_SHARED = 200_000  # entries of all's new pages shared with other regions' pages, at most


def renderer_processes() -> int:
    """Processes that render the archive pages a bulk load completes: one per core, at most
    four (none on one core, or where processes are not forked: then they render here)."""
    cores = processes.cores()
    return min(cores, 4) if cores > 1 and processes.can_fork() else 0


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
        """The entries with where each came from (``atom:source``): the source the store read
        with it, else the one it names for the entry's id."""
        unknown = [e.id for e in entries if e.source_id is None and e.origin is None]
        sources = self.store.sources_of(unknown) if unknown else {}
        origins: dict[str, Origin] = {}
        out = []
        for e in entries:
            sid = e.source_id or sources.get(e.id)
            if sid and e.origin is None:
                origin = origins.get(sid) or origins.setdefault(sid, self.origin(sid))
                out.append(replace(e, origin=origin))
            else:
                out.append(e)
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
                if renderers > 0 and ALL in chosen:
                    self._publish_archives_together(chosen, changed, unchanged, renderers)
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
        feeds = render.render_region(
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
        missing = self._missing_pages(region, complete)
        if not missing:
            return
        self._mkdir(folder)
        runs = list(_runs(missing, ARCHIVE_READ))
        rendered: Generator[list[tuple[int, bytes]], None, None] = self._rendered_runs(
            "_render_run", [(region, info, complete, f, last) for f, last in runs], renderers
        )
        self._write_pages(
            ((folder / f"{page}.atom", data) for pages in rendered for page, data in pages),
            len(missing),
            changed,
            unchanged,
            rendered,
        )

    def _missing_pages(self, region: str, complete: int) -> list[int]:
        """The complete archive pages of ``region`` not written yet."""
        folder = self.folder / "archive" / region
        return [p for p in range(1, complete + 1) if not (folder / f"{p}.atom").exists()]

    def _rendered_runs(self, method: str, runs: list[tuple[Any, ...]], renderers: int) -> Any:
        """``self.method(*run)`` for each run of archive pages, in order (a generator): here,
        or with ``renderers`` by that many forked processes (for more than one run of a
        shared store)."""
        if renderers > 0 and len(runs) > 1 and processes.can_fork() and _shared(self.store.url):
            # Forked before any writer thread starts (the writers start with the first page).
            return processes.in_order(
                renderers,
                ((_render_task, (method, *run)) for run in runs),
                started=_renderer_started,
                startargs=(self,),
            )
        return (getattr(self, method)(*run) for run in runs)

    def _write_pages(
        self,
        pages: Iterable[tuple[Path, bytes]],
        count: int,
        changed: list[str],
        unchanged: list[str],
        rendered: Generator[Any, None, None],
    ) -> None:
        """Write archive pages side by side (each write waits on its own fsync), a bounded
        number in memory; all are written, or the first error raised, before this returns,
        and ``rendered`` (what makes them) is closed however it ends."""
        writers = max(1, min(ARCHIVE_WRITERS, count))
        pool = ThreadPoolExecutor(max_workers=writers, thread_name_prefix="publish")
        writing: deque[tuple[Path, Future[bool]]] = deque()
        try:
            for path, data in pages:
                writing.append((path, pool.submit(write_atomic, path, data)))
                while len(writing) > 2 * writers:  # a bounded number of pages in memory
                    path, future = writing.popleft()
                    self._record(path, future.result, changed, unchanged)
            while writing:
                path, future = writing.popleft()
                self._record(path, future.result, changed, unchanged)
        except processes.WorkerLost as e:  # a renderer killed: the pages left are still missing
            raise PublishError(
                f"archive pages not rendered: {e}; those not written are rendered at the next "
                "publish (syndicator publish)"
            ) from e
        finally:
            rendered.close()
            pool.shutdown(wait=True, cancel_futures=True)

    def _publish_archives_together(
        self, chosen: Sequence[str], changed: list[str], unchanged: list[str], renderers: int
    ) -> None:
        """The new archive pages of ``all`` and of the other ``chosen`` regions, each entry
        rendered once (a bulk load's pages: ``renderers`` render them).

        ``all``'s pages hold every entry: they are rendered whole, as :meth:`_publish_archive`
        renders them, and each entry that a new page of another region holds is kept, as
        rendered, until that page is put together from the entries kept
        (``join_archive_page``: the same bytes), then let go. A page with an entry on no new
        page of ``all`` (an article that joined the region after it was archived in
        ``all``), every page when ``all`` has more than ``ARCHIVE_SHARED`` new entries, and
        any page left when more than ``ARCHIVE_KEPT`` entries wait, are left to
        :meth:`_publish_archive`. Pages are written as there, side by side; one that cannot
        be written fails the publish, naming it, before any feed is written."""
        if "atom" not in self.config.publish.formats:
            return
        size = self.config.publish.archive_page_size
        info = self.feed_info(ALL)
        complete = self.store.region_size(ALL) // size
        runs = list(_runs(self._missing_pages(ALL, complete), ARCHIVE_READ))
        on_all: set[str] = set()
        for first, last in runs:
            for ids in self.store.archive_entry_ids(ALL, first, last, size).values():
                on_all.update(ids)
        if not on_all or len(on_all) > ARCHIVE_SHARED:
            return  # nothing to share, or more ids than are worth holding: page by page
        # The other regions' new pages that the entries of all's new pages make up, in order.
        waiting: list[_Joined] = []
        wanted: Counter[str] = Counter()
        for region in chosen:
            if region == ALL:
                continue
            region_info = self.feed_info(region)
            region_complete = self.store.region_size(region) // size
            missing = self._missing_pages(region, region_complete)
            for first, last in _runs(missing, ARCHIVE_READ):
                for page, ids in self.store.archive_entry_ids(region, first, last, size).items():
                    if on_all.issuperset(ids):
                        waiting.append(_Joined(region, region_info, region_complete, page, ids))
                        wanted.update(ids)
        del on_all
        for region in {ALL, *(j.region for j in waiting)}:
            self._mkdir(self.folder / "archive" / region)
        rendered: Generator[_RenderedRun, None, None] = self._rendered_runs(
            "_render_run_entries", [(ALL, info, complete, f, last) for f, last in runs], renderers
        )
        needs: dict[str, list[int]] = {}  # entry id → the waiting pages that hold it
        for n, joined in enumerate(waiting):
            for i in joined.ids:
                needs.setdefault(i, []).append(n)
        short = [len(joined.ids) for joined in waiting]  # entries each page still waits for
        kept: dict[str, RenderedEntry] = {}

        def pages() -> Iterator[tuple[Path, bytes]]:
            for joined in waiting:
                if not joined.ids:  # every entry removed: an empty page
                    yield self._joined(joined, kept)
            for run in rendered:
                ready = []
                for page, data, entries in run:
                    yield self.folder / "archive" / ALL / f"{page}.atom", data
                    for entry in entries:
                        if entry.id in needs and entry.id not in kept:
                            kept[entry.id] = entry
                            for n in needs[entry.id]:
                                short[n] -= 1
                                if not short[n]:
                                    ready.append(n)
                for n in sorted(ready):
                    yield self._joined(waiting[n], kept)
                    for i in waiting[n].ids:
                        wanted[i] -= 1
                        if not wanted[i]:
                            del kept[i]
                if len(kept) > ARCHIVE_KEPT:  # too many wait: the rest page by page
                    return

        self._write_pages(pages(), len(runs) * ARCHIVE_READ, changed, unchanged, rendered)

    def _joined(self, joined: _Joined, kept: dict[str, RenderedEntry]) -> tuple[Path, bytes]:
        data = render.join_archive_page(
            joined.info,
            [kept[i] for i in joined.ids],
            page=joined.page,
            complete_pages=joined.complete,
            region_titles=self.titles,
        )
        return self.folder / "archive" / joined.region / f"{joined.page}.atom", data

    def _render_run(
        self, region: str, info: FeedInfo, complete: int, first: int, last: int
    ) -> list[tuple[int, bytes]]:
        """Archive pages ``first`` … ``last`` of ``region``, read and rendered: (page, bytes)."""
        return [
            (page, data)
            for page, data, _ in self._render_run_entries(region, info, complete, first, last)
        ]

    def _render_run_entries(
        self, region: str, info: FeedInfo, complete: int, first: int, last: int
    ) -> _RenderedRun:
        """:meth:`_render_run`, with each page's entries as rendered in it."""
        size = self.config.publish.archive_page_size
        pages = self.store.archive_pages(region, first, last, size)
        read = self.with_origins([e for page in pages.values() for e in page])
        out = []
        for page, entries in pages.items():
            page_entries, read = read[: len(entries)], read[len(entries) :]
            data, rendered = render.render_archive_entries(
                info, page_entries, page=page, complete_pages=complete, region_titles=self.titles
            )
            out.append((page, data, rendered))
        return out

    def _publish_indexes(self, changed: list[str], unchanged: list[str]) -> None:
        regions = [*self._regions, ALL]
        feeds = [self.feed_info(r) for r in regions]
        formats = self.config.publish.formats
        title = self.config.publish.title
        opml = render.render_opml(title, feeds, formats=formats)
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
        except FileExistsError as e:  # a file where the folder should be
            raise PublishError(f"cannot create {folder}: {e.filename} is not a folder") from e
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


def _render_task(method: str, *args: Any) -> Any:
    """In a forked renderer: one run of archive pages (``Publisher.method(*args)``)."""
    assert _RENDERING is not None
    return getattr(_RENDERING, method)(*args)


@dataclass(frozen=True, slots=True)
class _Joined:
    """An archive page to put together from entries rendered on pages of ``all``."""

    region: str
    info: FeedInfo
    complete: int
    page: int
    ids: list[str]

"""Commands over documents: ``extract`` (what the extractor makes of them, nothing stored) and
``ingest`` (documents pushed in, stored as one source's pass, read as streams)."""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import json
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from syndicator import config
from syndicator.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    few_collections,
    open_syndication,
    read_config,
    start_up,
)
from syndicator.cli.passes import print_published
from syndicator.errors import ConfigError, StoreError, SyndicatorError
from syndicator.fetch import fetch_once, local_path
from syndicator.ingest import (
    PUSH_SOURCE,
    Batch,
    Document,
    open_document,
    read_document,
    read_documents,
    reader_processes,
    source_for,
)

if TYPE_CHECKING:
    from syndicator.store import ChangeSet
    from syndicator.syndication import Syndication


def cmd_extract(args: argparse.Namespace) -> int:
    cfg = read_config(args, required=False)
    if args.source and cfg is None:
        raise ConfigError("--source needs a configuration", fix="pass --config PATH")
    if args.source:
        try:
            cfg and cfg.source(args.source)
        except KeyError:
            raise ConfigError(
                f"no source {args.source!r} in the configuration",
                fix="see `syndicator check` for the source ids",
            ) from None
    now = datetime.now(UTC)
    failed = False
    user_agent = cfg.service.user_agent if cfg else None
    for doc in args.docs:
        result: dict[str, Any] = {
            "source": doc,
            "kind": None,
            "title": None,
            "articles": [],
            "teasers": [],
            "error": None,
        }
        try:
            body, url, content_type = _read(doc, user_agent)
            source = source_for(cfg, doc, args.source) or source_for(cfg, url)
            document = read_document(
                body,
                url,
                now=now,
                config=cfg,
                source=source,
                content_type=content_type,
                kind=None if args.kind == "auto" and source else args.kind,
            )
            result.update(document_json(document))
            if not document.articles and not document.teasers and not document.sitemaps:
                result["error"] = "nothing found: no article, link or sitemap in this document"
        except SyndicatorError as e:
            result["error"] = str(e)
        if result["error"]:
            failed = True
        if args.json:
            print(json.dumps(result, ensure_ascii=False), flush=True)
        else:
            _print_extraction(result, sys.stdout)
    return EXIT_FAILED if failed else EXIT_OK


def _read(doc: str, user_agent: str | None) -> tuple[bytes, str, str | None]:
    if doc == "-":
        return sys.stdin.buffer.read(), "stdin:", None
    if local_path(doc) is not None:
        response = fetch_once(doc)
        return response.body, response.url, None
    response = fetch_once(doc, user_agent=user_agent) if user_agent else fetch_once(doc)
    return response.body, response.url, response.content_type


def document_json(document: Document) -> dict[str, Any]:
    return {
        "kind": document.kind,
        "title": document.title,
        "articles": [a.to_json() for a in document.articles],
        "teasers": [t.to_json() for t in document.teasers],
        "sitemaps": list(document.sitemaps),
        "error": "; ".join(document.errors) or None,
    }


def _print_extraction(result: dict[str, Any], out: TextIO) -> None:
    print(f"== {result['source']} ({result['kind'] or 'unreadable'})", file=out)
    if result["error"]:
        print(f"   error: {result['error']}", file=out)
    for a in result["articles"]:
        print(f"   article  {a['title']}", file=out)
        print(f"            {a['url']}", file=out)
        details = [f"{len(a['paragraphs'])} paragraphs", f"{len(a['images'])} images"]
        for key in ("section", "dateline", "language", "published"):
            if a.get(key):
                details.append(f"{key} {a[key]}")
        if a["authors"]:
            details.append("by " + ", ".join(a["authors"]))
        if a["regions"]:
            details.append("regions " + ", ".join(a["regions"]))
        print(f"            {'; '.join(details)}", file=out)
        print(f"            {a['content_hash']}", file=out)
        for w in a["warnings"]:
            print(f"            warning: {w}", file=out)
    for t in result["teasers"]:
        mark = "related" if t["related"] else "teaser "
        print(f"   {mark}  {t['title']}" + (f"  <{t['url']}>" if t["url"] else ""), file=out)
    for s in result.get("sitemaps", []):
        print(f"   sitemap  {s}", file=out)


def cmd_ingest(args: argparse.Namespace) -> int:
    """Each document is read as a stream and stored a batch at a time; results are printed as
    they are stored, progress shown on a terminal, and a summary line always ends (stderr)."""
    with start_up():
        cfg = config.load(args.config)
    if args.source != PUSH_SOURCE and args.source not in {s.id for s in cfg.sources}:
        raise ConfigError(
            f"no source {args.source!r} in the configuration",
            fix=f"see `syndicator check` for the source ids, or leave --source out ({PUSH_SOURCE})",
        )
    service = cfg.service
    errors: list[str] = []
    counts: dict[str, int] = {}
    started = time.monotonic()
    progress = Progress(sys.stderr) if sys.stderr.isatty() else None
    first = True
    read_errors = [0]

    def documents() -> Iterator[tuple[BinaryIO, str, str | None]]:
        for n, doc in enumerate(args.docs, 1):
            if doc == "-" and "-" in args.docs[: n - 1]:
                errors.append("-: standard input can be read once: the second - is skipped")
                continue
            try:
                stream, url, ctype = open_document(
                    doc, user_agent=service.user_agent, max_bytes=service.max_bytes
                )
            except SyndicatorError as e:
                errors.append(str(e))
                continue
            if progress is not None:
                progress.document(doc, n, len(args.docs), _size(stream))
            try:
                yield stream, url, ctype
            finally:
                if stream is not sys.stdin.buffer:
                    stream.close()

    def stored(url: str, batch: Batch, changes: ChangeSet) -> None:
        nonlocal first
        for c in changes.changes:
            counts[c.change] = counts.get(c.change, 0) + 1
            if args.json:
                result = {"url": c.url, "id": c.entry_id, "change": c.change}
                sys.stdout.write(("" if first else ", ") + json.dumps(result, ensure_ascii=False))
                first = False
            else:
                print(f"{c.change:<9} {c.url}  {c.entry_id}")
        if not args.json:
            for problem in batch.errors:
                if progress is not None:
                    progress.clear()
                print(f"error: {problem}", file=sys.stderr)
        read_errors[0] += len(batch.errors)
        if progress is not None:
            progress.update(sum(counts.values()), len(errors) + read_errors[0], batch)

    workers = reader_processes() if args.workers is None else args.workers
    now = datetime.now(UTC)
    batches = read_documents(
        documents(), config=cfg, now=now, source_id=args.source, workers=workers
    )
    syndication: Syndication | None = None
    stop_error: str | None = None  # the store failed while the documents were stored
    try:
        # Collected seldom (reader and renderer processes, forked, too): at Python's defaults
        # the collections walked the articles of a batch again and again.
        with few_collections():
            # The first batch is read before the store is opened: the readers are forked
            # before SQLAlchemy is imported, and read on while it is and the store opens.
            read = next(batches, None)
            with start_up():
                syndication = open_syndication(args, cfg)
            if args.json:
                sys.stdout.write('{"results": [')
            from syndicator.publish import renderer_processes
            from syndicator.syndication import Outcome

            try:
                outcome = syndication.ingest(
                    itertools.chain([read] if read else [], batches),
                    source_id=args.source,
                    now=now,
                    stored=stored,
                    renderers=renderer_processes() if workers else 0,
                )
            except StoreError as e:  # the results so far are printed, the summary too
                stop_error = f"storing stopped: {e} (the batches stored before it stand)"
                outcome = Outcome(errors=[stop_error])
        if stop_error is None:
            outcome.notified = asyncio.run(syndication.deliver())
    except KeyboardInterrupt:
        # Each batch stored is its own transaction: those stay, and the next run publishes
        # what this one did not. Said, so the operator knows where it stopped.
        if progress is not None:
            progress.clear()
        if args.json:
            sys.stdout.write("\n")
        stored_count = sum(counts.values())
        print(
            f"ingest: interrupted: {stored_count:,} article(s) stored"
            f" ({', '.join(f'{n:,} {k}' for k, n in counts.items()) or 'none'}); what was"
            " stored is published by the next ingest, once or publish",
            file=sys.stderr,
        )
        raise
    finally:
        batches.close()  # the readers stop, however the command ends
        if syndication is not None:
            syndication.close()
        if progress is not None:
            progress.clear()
    outcome.errors[:0] = errors
    if outcome.publish_error:
        outcome.errors.append(
            f"publishing failed: {outcome.publish_error} (the articles are stored: the next"
            " ingest, once or publish publishes them)"
        )
    if args.json:
        sys.stdout.write('], "errors": ' + json.dumps(outcome.errors, ensure_ascii=False) + "}\n")
    else:
        for problem in [*errors, *([stop_error] if stop_error else [])]:
            print(f"error: {problem}", file=sys.stderr)
        if outcome.publish_error:
            print(f"error: {outcome.errors[-1]}", file=sys.stderr)
        print_published(outcome)
    seconds = time.monotonic() - started
    stored_count = sum(counts.values())
    parts = [
        f"{counts[k]:,} {k}"
        for k in ("created", "updated", "duplicate", "unchanged")
        if k in counts
    ]
    print(
        f"ingest: {stored_count:,} article(s) from {len(args.docs)} document(s) in {seconds:.1f} s"
        f" ({stored_count / seconds if seconds else 0:,.0f}/s): {', '.join(parts) or 'none stored'}"
        f"; {len(outcome.errors):,} error(s)",
        file=sys.stderr,
    )
    return EXIT_FAILED if outcome.errors else EXIT_OK


def _size(stream: BinaryIO) -> int | None:
    try:
        return os.fstat(stream.fileno()).st_size or None
    except (OSError, ValueError, io.UnsupportedOperation):
        return None


class Progress:
    """One line on a terminal (stderr), rewritten as an ingest goes: the document, the
    articles stored, the errors, how much of the document is read."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.name = ""
        self.size: int | None = None
        self.shown = False

    def document(self, name: str, n: int, total: int, size: int | None) -> None:
        self.name = name if total == 1 else f"[{n}/{total}] {name}"
        self.size = size

    def update(self, stored: int, errors: int, batch: Batch) -> None:
        read = f"{batch.position / 1e6:,.1f} MB"
        if self.size:
            read += f" of {self.size / 1e6:,.1f} MB ({100 * batch.position / self.size:.0f} %)"
        line = f"{self.name}: {stored:,} stored, {errors:,} error(s), {read} read"
        self.out.write("\r\x1b[K" + line)
        self.out.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.out.write("\r\x1b[K")
            self.out.flush()
            self.shown = False

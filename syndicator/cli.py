"""The command line: ``syndicator [--config PATH] COMMAND``. Parses arguments, calls the parts,
prints results and chooses the exit code; it holds no business logic of its own.

Exit codes: 0 ok; 1 something failed (a document, a source); 2 bad usage or bad configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from syndicator import __version__, config
from syndicator.app import App, Outcome
from syndicator.errors import ConfigError, SyndicatorError
from syndicator.extract import KINDS
from syndicator.fetch import fetch_once, local_path
from syndicator.ingest import (
    Batch,
    Document,
    PassResult,
    open_document,
    read_document,
    source_for,
)
from syndicator.store import ChangeSet

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="syndicator",
        description="Feed syndication and monitoring: polls news sources, normalizes and "
        "deduplicates articles, publishes per-region RSS, Atom and JSON feeds.",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config file or folder of *.toml (default: $SYNDICATOR_CONFIG or ./config)",
    )
    parser.add_argument("--version", action="version", version=f"syndicator {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "extract",
        help="show what the extractor makes of documents (stores nothing)",
        description="Extract, normalize and fingerprint each document (a URL, a "
        "file, or - for standard input) and print the result.",
    )
    p.add_argument("docs", nargs="+", metavar="DOC", help="URL, file path, or - for stdin")
    p.add_argument(
        "--kind",
        choices=KINDS,
        default="auto",
        help="what the documents are (default: sniffed from the content)",
    )
    p.add_argument(
        "--source",
        metavar="ID",
        help="read as this configured source would be "
        "(its language, timezone, selectors and regions)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per document per line")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser(
        "check", help="validate the config and list the sources with their schedules"
    )
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "once",
        help="one pass over every (or the named) source, then publish",
        description="Fetch every enabled source (or the ones named) once, store what changed, "
        "publish the changed regions and deliver pending notifications. Exit 0 if every source "
        "was read, 1 if some failed (the rest are published), 2 on a bad config.",
    )
    p.add_argument(
        "--source", action="append", default=[], metavar="ID", help="only this source (repeatable)"
    )
    p.set_defaults(func=cmd_once)

    p = sub.add_parser(
        "ingest", help="push documents in (HTML, feed, text dump, NDJSON), then publish"
    )
    p.add_argument("docs", nargs="+", metavar="DOC", help="URL, file path, or - for stdin")
    p.add_argument(
        "--source",
        default="push",
        metavar="ID",
        help="record the articles as coming from this source (default: push)",
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("publish", help="re-render every feed from the store")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser(
        "explain",
        help="an article's record: key, id, hash, revisions, duplicates, regions and why",
    )
    p.add_argument("ref", metavar="URL|ID", help="an article URL (any it was seen at) or entry id")
    p.add_argument("--json", action="store_true", help="print the record as JSON")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser(
        "run",
        help="the service: scheduler, publisher and web server in one process",
        description="Poll every source on its schedule, publish changed regions, and serve the "
        "feeds, the API and the status page. SIGHUP (or POST /api/reload) reloads the config; "
        "SIGTERM or Ctrl-C stops cleanly. With a PostgreSQL store, the work can be shared by "
        "several processes on several machines: one --role scheduler (others stand by), any "
        "number of --role worker and --role web (docs/DEPLOY.md).",
    )
    p.add_argument(
        "--role",
        choices=("all", "scheduler", "worker", "web"),
        default="all",
        help="all: everything in this process (default); scheduler: defers the source passes, "
        "publishing and deliveries as jobs (one active at a time); worker: runs those jobs; "
        "web: serves the feeds and the API (the last three need PostgreSQL)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="with --role web: web server processes (default 1)",
    )
    _listen_option(p)
    p.add_argument("--log-json", action="store_true", help="log one JSON object per line")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages too")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "serve",
        help="the web server alone, over what is stored and published (no polling)",
        description="Serve the feeds, the API and the status page without polling anything: "
        "another process (`once` from cron, or `run` elsewhere) fetches and publishes, and "
        "changed feed files are picked up within a second. Runs under granian; SIGHUP (or "
        "POST /api/reload) reloads the config, SIGTERM or Ctrl-C stops cleanly.",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="worker processes (default 1; each keeps its own metrics)",
    )
    _listen_option(p)
    p.add_argument("--log-json", action="store_true", help="log one JSON object per line")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "init",
        help="write a commented starting config (on the bundled sample site) into DIR/config",
        description="Write DIR/config/syndicator.toml: a commented configuration that runs "
        "offline on the sample news site bundled with syndicator (served by the service at "
        "/samples/). Then, in DIR: syndicator check, syndicator run.",
    )
    p.add_argument("dir", nargs="?", default=".", metavar="DIR", help="where (default: here)")
    p.add_argument("--force", action="store_true", help="overwrite a config that is there")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("sources", help="manage the configured sources")
    sources_sub = p.add_subparsers(dest="sources_command", metavar="ACTION", required=True)
    p = sources_sub.add_parser(
        "import",
        help="add the feeds of an OPML subscription list as sources",
        description="Add every feed of an OPML file as a [[source]] in "
        "CONFIG/imported-sources.toml (created or appended to). Feeds already configured "
        "(same address) and outlines that are not http(s) feeds are left out, with the reason. "
        "The whole config is validated with the new sources before anything is written.",
    )
    p.add_argument("file", metavar="FILE.opml", help="the OPML file, or - for standard input")
    p.add_argument("--region", metavar="R", help="route every imported source to region R")
    p.add_argument("--dry-run", action="store_true", help="show what would be added; write nothing")
    p.set_defaults(func=cmd_sources_import)

    p = sub.add_parser("status", help="one row per source: health, last fetch, errors, counts")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_status)
    return parser


def _listen_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="the address to serve on, instead of [service] listen (the base URL follows it "
        "unless [service] base_url is set)",
    )


def _apply_listen(args: argparse.Namespace) -> None:
    """``--listen``: replaces ``[service] listen`` wherever the config is read, in this process
    and the ones it starts (web workers), and on every reload."""
    if getattr(args, "listen", None):
        os.environ[config.LISTEN_ENV] = args.listen


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        result: int = args.func(args)
        return result
    except ConfigError as e:
        print(f"syndicator: configuration error:\n{e}", file=sys.stderr)
        return EXIT_USAGE
    except SyndicatorError as e:  # the store or the feeds folder failed: say which and why
        print(f"syndicator: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


def _config(args: argparse.Namespace, *, required: bool) -> config.Config | None:
    """The config, if one was named or the default folder exists (always, if ``required``)."""
    named = args.config or os.environ.get("SYNDICATOR_CONFIG")
    if not required and not named and not Path(config.DEFAULT_PATH).exists():
        return None
    return config.load(named)


# --------------------------------------------------------------------------------------------


def cmd_extract(args: argparse.Namespace) -> int:
    cfg = _config(args, required=False)
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
            result.update(_document_json(document))
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


def _document_json(document: Document) -> dict[str, Any]:
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


def _app(args: argparse.Namespace) -> App:
    cfg = config.load(args.config)
    return App(cfg)


def _progress(total: int) -> Callable[[PassResult], None] | None:
    """A line per finished source on a terminal (long runs show where they are), with its
    page errors: the summary at the end then leaves out what the terminal already shows."""
    if not sys.stderr.isatty():
        return None
    done = 0

    def report(result: PassResult) -> None:
        nonlocal done
        done += 1
        print(f"[{done}/{total}] {result.source_id}: {result.summary()}", file=sys.stderr)
        _print_page_errors(result, sys.stderr)

    return report


def _print_page_errors(result: PassResult, out: TextIO) -> None:
    for error in result.page_errors[:5]:
        print(f"  page error: {error}", file=out)


def cmd_once(args: argparse.Namespace) -> int:
    app = _app(args)
    try:
        unknown = [s for s in args.source if s not in {x.id for x in app.config.sources}]
        if unknown:
            raise ConfigError(
                f"no source {unknown[0]!r} in the configuration",
                fix="see `syndicator check` for the source ids",
            )
        total = len(args.source) or sum(1 for s in app.config.sources if s.enabled)
        progress = _progress(total)
        outcome = asyncio.run(app.once(args.source, progress=progress))
    finally:
        app.close()
    assert outcome.once is not None
    for source_id in outcome.once.paused:
        print(f"{source_id}: paused (not fetched; resume it on its page or with the API)")
    # On a terminal the progress lines were the per-source summary: each source is shown once.
    if progress is None or not sys.stdout.isatty():
        for result in outcome.once.passes:
            print(f"{result.source_id}: {result.summary()}")
            _print_page_errors(result, sys.stdout)
    _print_published(outcome)
    if outcome.publish_error:
        print(f"syndicator: publishing failed: {outcome.publish_error}", file=sys.stderr)
    return EXIT_FAILED if outcome.once.failed or outcome.publish_error else EXIT_OK


def _print_published(outcome: Outcome) -> None:
    published = outcome.published
    if published is not None:
        changed = len(published.changed)
        print(f"published {changed} changed file(s) in {published.seconds * 1000:.0f} ms")
    elif not outcome.publish_error:
        print("nothing to publish")
    if outcome.announced:
        print(f"{len(outcome.announced)} feed.updated event(s) written")
    n = outcome.notified
    if n is not None and n.attempted:
        print(f"notifications: {n.delivered} delivered, {n.failed} to retry, {n.dead} dead")


def cmd_ingest(args: argparse.Namespace) -> int:
    """Each document is read as a stream and stored a batch at a time; results are printed as
    they are stored, progress shown on a terminal, and a summary line always ends (stderr)."""
    app = _app(args)
    service = app.config.service
    errors: list[str] = []
    counts: dict[str, int] = {}
    started = time.monotonic()
    progress = Progress(sys.stderr) if sys.stderr.isatty() else None
    first = True
    read_errors = [0]
    if args.json:
        sys.stdout.write('{"results": [')

    def documents() -> Iterator[tuple[BinaryIO, str, str | None]]:
        for n, doc in enumerate(args.docs, 1):
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

    try:
        outcome = app.ingest(documents(), source_id=args.source, stored=stored)
        outcome.notified = asyncio.run(app.deliver())
    finally:
        app.close()
        if progress is not None:
            progress.clear()
    outcome.errors[:0] = errors
    if args.json:
        sys.stdout.write('], "errors": ' + json.dumps(outcome.errors, ensure_ascii=False) + "}\n")
    else:
        for problem in errors:
            print(f"error: {problem}", file=sys.stderr)
        if outcome.publish_error:
            print(f"error: {outcome.publish_error}", file=sys.stderr)
        _print_published(outcome)
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


def cmd_publish(args: argparse.Namespace) -> int:
    app = _app(args)
    try:
        regions = [r.id for r in app.config.regions] + ["all"]
        result = app.publisher.publish(regions)
        announced = app.announce()
    finally:
        app.close()
    print(
        f"published {len(result.changed)} changed file(s) in {result.seconds * 1000:.0f} ms "
        f"into {app.config.service.feeds_dir}"
    )
    if announced:
        print(f"{len(announced)} feed.updated event(s) written")
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    app = _app(args)
    try:
        record = app.store.explain(args.ref)
        path = local_path(args.ref)
        if record is None and path is not None:
            # The path form the config uses (samples/site/x.html): stored as its file: URL
            record = app.store.explain(path.resolve().as_uri())
    finally:
        app.close()
    if record is None:
        print(f"no stored article is known by {args.ref!r}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(record, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(f"{record['title']}")
    print(f"  id        {record['id']}")
    print(f"  key       {record['key']}")
    print(f"  hash      {record['content_hash']}  (revision {record['revision']})")
    print(f"  source    {record['source']}")
    print(f"  published {record['published']}   updated {record['updated']}")
    if record["found_via"]:
        via = record["found_via"]
        print(
            f"  {args.ref} is a {via['relation']} location of this article: {via['reason']}"
            + (f" (seen by {via['source']})" if via["source"] else "")
        )
    print("  locations:")
    for loc in record["locations"]:
        print(f"    {loc['relation']:<9} {loc['url']}  — {loc['reason']}")
    print("  regions:")
    for m in record["regions"]:
        state = " (suppressed near-duplicate)" if m["suppressed"] else ""
        print(f"    {m['region']}{state}: " + "; ".join(m["reasons"]))
    if record["near_duplicates"]:
        print("  near-duplicates: " + ", ".join(n["key"] for n in record["near_duplicates"]))
    for rev in record["revisions"]:
        print(
            f"  revision {rev['revision']} at {rev['at']}: {rev['previous_hash']} → "
            f"{rev['new_hash']}"
        )
        for line in rev["diff"].splitlines()[2:12]:
            print(f"    {line[:160]}")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    app = _app(args)
    try:
        app.store.sync_sources((s.id, s.kind, s.url) for s in app.config.sources)
        states = app.store.source_states()
    finally:
        app.close()
    configured = {s.id for s in app.config.sources}
    states = [s for s in states if s.id in configured]
    if args.json:
        print(json.dumps([s.to_json() for s in states], ensure_ascii=False, indent=2))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    table = Table(title="sources")
    for column in (
        "source",
        "health",
        "last fetch",
        "HTTP",
        "error",
        "next due",
        "created",
        "updated",
        "dupes",
    ):
        table.add_column(column, no_wrap=column != "error", overflow="fold")
    colours = {"ok": "green", "failing": "red", "degraded": "yellow", "stale": "yellow"}
    for s in states:
        paused = " [bold magenta]paused[/]" if s.paused else ""
        table.add_row(
            s.id,
            f"[{colours.get(s.health, 'white')}]{s.health}[/]{paused}",
            _when(s.last_fetch_at),
            str(s.last_status or ""),
            (s.last_error or "")[:60],
            _when(s.next_due_at),
            str(s.created),
            str(s.updated),
            str(s.duplicates),
        )
    Console(width=None if sys.stdout.isatty() else 160).print(table)
    return EXIT_OK


def _when(value: datetime | None) -> str:
    """A time as the tables show it: in UTC, whatever zone it was computed in."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def cmd_run(args: argparse.Namespace) -> int:
    from syndicator.logs import setup_logging
    from syndicator.server import run_forever

    setup_logging(json_lines=args.log_json, verbose=args.verbose)
    _apply_listen(args)
    config.load(args.config)  # a bad config stops here with exit 2, before anything starts
    if args.workers < 1:
        print("syndicator: --workers must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.role == "all":
            run_forever(args.config, json_logs=args.log_json)
        else:
            from syndicator import jobs

            if args.role == "web":
                jobs.serve_web(args.config, workers=args.workers, json_logs=args.log_json)
            else:
                jobs.run_role(args.role, args.config, verbose=args.verbose)
    except OSError as e:
        print(f"syndicator: cannot serve: {e.strerror or e}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from syndicator.logs import setup_logging
    from syndicator.server import serve

    if args.workers < 1:
        print("syndicator: --workers must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    setup_logging(json_lines=args.log_json)
    _apply_listen(args)
    config.load(args.config)  # a bad config stops here with exit 2, before anything starts
    try:
        serve(args.config, workers=args.workers, json_logs=args.log_json)
    except OSError as e:
        print(f"syndicator: cannot serve: {e.strerror or e}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from syndicator import demo

    folder = Path(args.dir)
    try:
        written = demo.init(folder, force=args.force)
    except FileExistsError as e:
        print(
            f"syndicator: {e.args[0]} is already there: nothing was written "
            "(--force overwrites it)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except OSError as e:
        print(f"syndicator: cannot write into {folder}: {e.strerror or e}", file=sys.stderr)
        return EXIT_FAILED
    for path in written:
        print(f"wrote {path}")
    where = "" if folder.resolve() == Path.cwd().resolve() else f"cd {folder} && "
    print(f"next: {where}syndicator check && syndicator run   (then open http://127.0.0.1:8080/)")
    return EXIT_OK


def cmd_sources_import(args: argparse.Namespace) -> int:
    from syndicator import opml

    folder = config.config_path(args.config)
    if args.file == "-":
        body, origin = sys.stdin.buffer.read(opml.MAX_OPML_BYTES + 1), "standard input"
    else:
        try:
            with open(args.file, "rb") as f:
                body = f.read(opml.MAX_OPML_BYTES + 1)
        except OSError as e:
            print(f"syndicator: cannot read {args.file}: {e.strerror or e}", file=sys.stderr)
            return EXIT_USAGE
        origin = Path(args.file).name
    result = opml.import_sources(
        folder, body, origin=origin, region=args.region, dry_run=args.dry_run
    )
    verb = "would add" if args.dry_run else "added"
    for table in result.added:
        print(f"{verb} {table['id']:<24} {table['url']}")
    for what, why in result.skipped:
        print(f"skipped {what}: {why}")
    target = folder / opml.IMPORT_FILE
    if args.dry_run:
        print(f"dry run: {len(result.added)} source(s) would go into {target}; nothing written")
    elif result.added:
        print(f"{len(result.added)} source(s) added to {target} (syndicator check shows them)")
    else:
        print("nothing to add")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from syndicator.scheduler import first_run

    cfg = config.load(args.config)
    print(f"configuration OK: {', '.join(cfg.files)}")
    regions, sources, targets = len(cfg.regions), len(cfg.sources), len(cfg.notify)
    print(f"{regions} regions, {sources} sources, {targets} notification targets")
    last = _last_fetches(cfg)
    now = datetime.now(UTC)
    rows = []
    for s in cfg.sources:
        nxt = _when(first_run(s, last.get(s.id), now)) if s.enabled else "disabled"
        rows.append((s.id, s.kind, s.schedule, nxt, f"recheck {s.rechecks}", s.url))
    headers = ("source", "kind", "schedule", "next run (UTC)", "pages of recent articles")
    widths = [max((len(r[i]) for r in [headers, *rows]), default=0) for i in range(5)]
    if rows:
        print("  " + "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + "  url")
    for row in rows:
        print(
            "  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)) + "  " + row[5]
        )
    return EXIT_OK


def _last_fetches(cfg: config.Config) -> dict[str, datetime | None]:
    """Last fetches from an existing store (never creates one): next runs depend on them."""
    url = cfg.service.database
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return {}
    try:
        from syndicator.store import Store

        store = Store(url)
    except SyndicatorError:
        return {}
    try:
        return {s.id: s.last_fetch_at for s in store.source_states()}
    finally:
        store.close()

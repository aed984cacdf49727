"""Commands for ops: ``explain``, ``status``, ``check``, ``init`` and ``sources import``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from syndicator import config
from syndicator.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, open_syndication, shown_time
from syndicator.errors import SyndicatorError
from syndicator.fetch import local_path


def cmd_explain(args: argparse.Namespace) -> int:
    syndication = open_syndication(args)
    try:
        record = syndication.store.explain(args.ref)
        path = local_path(args.ref)
        if record is None and path is not None:
            # The path form the config uses (samples/site/x.html): stored as its file: URL
            record = syndication.store.explain(path.resolve().as_uri())
    finally:
        syndication.close()
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
    syndication = open_syndication(args)
    try:
        syndication.store.sync_sources((s.id, s.kind, s.url) for s in syndication.config.sources)
        states = syndication.store.source_states()
    finally:
        syndication.close()
    configured = {s.id for s in syndication.config.sources}
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
            shown_time(s.last_fetch_at),
            str(s.last_status or ""),
            (s.last_error or "")[:60],
            shown_time(s.next_due_at),
            str(s.created),
            str(s.updated),
            str(s.duplicates),
        )
    Console(width=None if sys.stdout.isatty() else 160).print(table)
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
        nxt = shown_time(first_run(s, last.get(s.id), now)) if s.enabled else "disabled"
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

"""The command line's arguments: one subcommand per command (contract: DESIGN.md)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

from syndicator import __version__
from syndicator.cli.common import listen_option
from syndicator.extract import KINDS

Command = Callable[[argparse.Namespace], int]
MAX_READERS = 32  # ingest --workers: more forked readers than this is a typo, not a plan


def reader_count(value: str) -> int:
    """``ingest --workers N``: 0 (read in the command's process) to MAX_READERS."""
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if not 0 <= n <= MAX_READERS:
        raise argparse.ArgumentTypeError(
            f"{n} is out of range: 0 (read in this process) to {MAX_READERS}"
        )
    return n


def command(name: str) -> Command:
    """The command ``MODULE.FUNCTION`` of this package, imported when it runs: each command
    loads only what it uses (``--help`` none of them, ``once`` neither the extractors nor the
    web server)."""
    module, _, function = name.rpartition(".")

    def run(args: argparse.Namespace) -> int:
        handler: Command = getattr(importlib.import_module(f"syndicator.cli.{module}"), function)
        return handler(args)

    return run


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
    p.set_defaults(func=command("documents.cmd_extract"))

    p = sub.add_parser(
        "check", help="validate the config and list the sources with their schedules"
    )
    p.set_defaults(func=command("ops.cmd_check"))

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
    p.set_defaults(func=command("passes.cmd_once"))

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
    p.add_argument(
        "--workers",
        type=reader_count,
        default=None,
        metavar="N",
        help="processes that read a large NDJSON document while it is stored (default: one per"
        " core, at most four, none on one core; 0: read it in this process)",
    )
    p.set_defaults(func=command("documents.cmd_ingest"))

    p = sub.add_parser("publish", help="re-render every feed from the store")
    p.set_defaults(func=command("passes.cmd_publish"))

    p = sub.add_parser(
        "explain",
        help="an article's record: key, id, hash, revisions, duplicates, regions and why",
    )
    p.add_argument("ref", metavar="URL|ID", help="an article URL (any it was seen at) or entry id")
    p.add_argument("--json", action="store_true", help="print the record as JSON")
    p.set_defaults(func=command("ops.cmd_explain"))

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
    listen_option(p)
    p.add_argument("--log-json", action="store_true", help="log one JSON object per line")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages too")
    p.set_defaults(func=command("passes.cmd_run"))

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
    listen_option(p)
    p.add_argument("--log-json", action="store_true", help="log one JSON object per line")
    p.set_defaults(func=command("passes.cmd_serve"))

    p = sub.add_parser(
        "init",
        help="write a commented starting config (on the bundled sample site) into DIR/config",
        description="Write DIR/config/syndicator.toml: a commented configuration that runs "
        "offline on the sample news site bundled with syndicator (served by the service at "
        "/samples/). Then, in DIR: syndicator check, syndicator run.",
    )
    p.add_argument("dir", nargs="?", default=".", metavar="DIR", help="where (default: here)")
    p.add_argument("--force", action="store_true", help="overwrite a config that is there")
    p.set_defaults(func=command("ops.cmd_init"))

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
    p.set_defaults(func=command("ops.cmd_sources_import"))

    p = sub.add_parser("status", help="one row per source: health, last fetch, errors, counts")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=command("ops.cmd_status"))
    return parser

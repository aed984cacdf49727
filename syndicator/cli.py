"""The command line: ``syndicator [--config PATH] COMMAND``. Parses arguments, calls the parts,
prints results and chooses the exit code; it holds no business logic of its own.

Exit codes: 0 ok; 1 something failed (a document, a source); 2 bad usage or bad configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from syndicator import __version__, config
from syndicator.errors import ConfigError, SyndicatorError
from syndicator.extract import KINDS
from syndicator.fetch import fetch_once, local_path
from syndicator.ingest import Document, read_document, source_for

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
    return parser


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


def cmd_check(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    print(f"configuration OK: {', '.join(cfg.files)}")
    regions, sources, targets = len(cfg.regions), len(cfg.sources), len(cfg.notify)
    print(f"{regions} regions, {sources} sources, {targets} notification targets")
    width = max((len(s.id) for s in cfg.sources), default=0)
    for s in cfg.sources:
        state = "" if s.enabled else "  (disabled)"
        print(f"  {s.id:<{width}}  {s.kind:<8} {s.schedule:<14} {s.url}{state}")
    return EXIT_OK

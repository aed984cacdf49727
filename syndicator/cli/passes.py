"""Commands that run the pipeline: ``once``, ``publish``, and the long-running ``run`` and
``serve``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from syndicator import config
from syndicator.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    apply_listen,
    few_collections,
    freeze_alive,
    open_syndication,
    start_up,
)
from syndicator.errors import ConfigError

if TYPE_CHECKING:
    from syndicator.ingest import PassResult
    from syndicator.syndication import Outcome


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
    with few_collections():
        return _once(args)


def _once(args: argparse.Namespace) -> int:
    with start_up():
        syndication = open_syndication(args)
        # What start-up made lives as long as the command: frozen before the collector is back
        # on, or its first collection walks all of it (~25 ms); few_collections lets it go.
        freeze_alive()
    try:
        unknown = [s for s in args.source if s not in {x.id for x in syndication.config.sources}]
        if unknown:
            raise ConfigError(
                f"no source {unknown[0]!r} in the configuration",
                fix="see `syndicator check` for the source ids",
            )
        total = len(args.source) or sum(1 for s in syndication.config.sources if s.enabled)
        progress = _progress(total)
        outcomes: list[Outcome] = []

        async def once() -> None:
            # Kept here, not returned: asyncio.run formats the repr of its task's result (every
            # pass, in full) twice as it puts back the SIGINT handler, ~10 ms a thousand sources.
            outcomes.append(await syndication.once(args.source, progress=progress))

        asyncio.run(once())
    finally:
        syndication.close()
    (outcome,) = outcomes
    assert outcome.once is not None
    for source_id in outcome.once.paused:
        print(f"{source_id}: paused (not fetched; resume it on its page or with the API)")
    # On a terminal the progress lines were the per-source summary: each source is shown once.
    if progress is None or not sys.stdout.isatty():
        for result in outcome.once.passes:
            print(f"{result.source_id}: {result.summary()}")
            _print_page_errors(result, sys.stdout)
    print_published(outcome)
    if outcome.publish_error:
        print(f"syndicator: publishing failed: {outcome.publish_error}", file=sys.stderr)
    return EXIT_FAILED if outcome.once.failed or outcome.publish_error else EXIT_OK


def print_published(outcome: Outcome) -> None:
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


def cmd_publish(args: argparse.Namespace) -> int:
    syndication = open_syndication(args)
    try:
        regions = [r.id for r in syndication.config.regions] + ["all"]
        result = syndication.publisher.publish(regions)
        announced = syndication.announce()
    finally:
        syndication.close()
    print(
        f"published {len(result.changed)} changed file(s) in {result.seconds * 1000:.0f} ms "
        f"into {syndication.config.service.feeds_dir}"
    )
    if announced:
        print(f"{len(announced)} feed.updated event(s) written")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from syndicator.logs import setup_logging
    from syndicator.server import run_forever

    setup_logging(json_lines=args.log_json, verbose=args.verbose)
    apply_listen(args)
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
    apply_listen(args)
    config.load(args.config)  # a bad config stops here with exit 2, before anything starts
    try:
        serve(args.config, workers=args.workers, json_logs=args.log_json)
    except OSError as e:
        print(f"syndicator: cannot serve: {e.strerror or e}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK

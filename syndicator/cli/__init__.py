"""The command line: ``syndicator [--config PATH] COMMAND``. Parses arguments, calls the parts,
prints results and chooses the exit code; it holds no business logic of its own.

Exit codes: 0 ok; 1 something failed (a document, a source); 2 bad usage or bad configuration.
The commands are grouped by what they work on: documents (extract, ingest), passes (once,
publish, run, serve), ops (explain, status, check, init, sources import); parser holds the
arguments of all of them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from syndicator.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from syndicator.cli.parser import build_parser
from syndicator.errors import ConfigError, SyndicatorError

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]


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

"""What the commands share: exit codes, reading the config, ``--listen``, times as the
tables show them."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from syndicator import config
from syndicator.config.values import as_listen
from syndicator.errors import ConfigError
from syndicator.model import stamp

if TYPE_CHECKING:
    from syndicator.syndication import Syndication

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def listen_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="the address to serve on, instead of [service] listen (the base URL follows it "
        "unless [service] base_url is set)",
    )


def apply_listen(args: argparse.Namespace) -> None:
    """``--listen``: replaces ``[service] listen`` wherever the config is read, in this process
    and the ones it starts (web workers), and on every reload."""
    if getattr(args, "listen", None):
        try:
            as_listen(args.listen)
        except ValueError as e:
            raise ConfigError(f"--listen: {e} (e.g. 127.0.0.1:8080), got {args.listen!r}") from None
        os.environ[config.LISTEN_ENV] = args.listen


def read_config(args: argparse.Namespace, *, required: bool) -> config.Config | None:
    """The config, if one was named or the default folder exists (always, if ``required``)."""
    named = args.config or os.environ.get("SYNDICATOR_CONFIG")
    if not required and not named and not Path(config.DEFAULT_PATH).exists():
        return None
    return config.load(named)


def open_syndication(args: argparse.Namespace, cfg: config.Config | None = None) -> Syndication:
    """The pipeline (store, publisher, fetching) of ``cfg`` (else of the config ``args``
    name), imported with the first command that opens it: ``check``, ``init`` and ``--help``
    never load SQLAlchemy or an HTTP client."""
    from syndicator.syndication import Syndication

    return Syndication(cfg or config.load(args.config))


@contextlib.contextmanager
def start_up() -> Iterator[None]:
    """No garbage collection while a command loads the pipeline (modules, the config, the
    store): nothing it makes then is garbage, and collections would only walk it over and
    over."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextlib.contextmanager
def few_collections() -> Iterator[None]:
    """Garbage collection for one pass of a command that then exits (``once``): what is alive
    when it begins (or is frozen inside it) is never walked again, young garbage is collected
    every 10,000 allocations rather than 700, and the older generations seldom. With Python's
    defaults, collections took 2 of the 6 CPU seconds of a ``once`` over 10,000 sources, most
    of them full collections walking every live object again and again (the peak RSS is the
    same either way). The defaults come back afterwards (the tests run commands in their own
    process), and at the process's exit what is alive is frozen again: the interpreter's last
    collections would only walk every object of the command once more before it is all let go
    (0.06-0.08 CPU s of a 1,000-source ``once``). A process that froze objects of its own
    before (a test harness running commands in its process) keeps them frozen, and nothing more:
    ``gc.unfreeze`` cannot tell its objects from ours, so ours are not frozen there."""
    global _FREEZING
    thresholds = gc.get_threshold()
    ours = gc.get_freeze_count() == 0
    if ours:
        gc.freeze()
    gc.set_threshold(10_000, 50, 100)
    _FREEZING, was = ours, _FREEZING
    try:
        yield
    finally:
        _FREEZING = was
        gc.set_threshold(*thresholds)
        if ours:
            gc.unfreeze()
        atexit.unregister(gc.freeze)  # once per process, however many commands ran in it
        atexit.register(gc.freeze)


_FREEZING = False  # within few_collections, which froze what was alive (and will let it go)


def freeze_alive() -> None:
    """Within :func:`few_collections`: freeze what is alive now too (what start-up made, which
    lives as long as the command), when few_collections froze what it found (else nothing)."""
    if _FREEZING:
        gc.freeze()


def shown_time(value: datetime | None) -> str:
    """A time as the tables show it: in UTC, whatever zone it was computed in."""
    return stamp(value) if value else "—"

"""Logging: one line per event, human by default, one JSON object per line with ``--log-json``;
values from outside escaped so that none can forge a line."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

from syndicator.model import iso

_QUIET = (
    "uvicorn.access",
    "apscheduler.executors.default",
    "apscheduler.scheduler",
    "httpx",
    "httpcore",
    "aiohttp",
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": iso(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def _escaped(match: re.Match[str]) -> str:
    return repr(match.group(0))[1:-1]  # "\r", "\x1b", "\u2028"


def unforgeable(text: str) -> str:
    """A logged value that cannot pass for a log line of its own: control characters escaped
    (``\r``, ``\x1b``…) and every line after the first indented."""
    if text.isprintable():
        return text
    return _CONTROL.sub(_escaped, text).replace("\n", "\n    ")


class NoForgery(logging.Filter):
    """Values logged (a callback URL, a source's error, a config file name) come from outside:
    escape them (:func:`unforgeable`) so that none can forge a line of the log. The message
    template is ours and kept; one logged without values is treated as a value."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(_safe(a) for a in record.args)
        elif not record.args and isinstance(record.msg, str):
            record.msg = unforgeable(record.msg)
        return True


def _safe(value: object) -> object:
    if isinstance(value, int | float | bool) or value is None:
        return value
    text = str(value)
    return value if text.isprintable() else unforgeable(text)


def setup_logging(*, json_lines: bool = False, verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(NoForgery())
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%Y-%m-%d %H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)

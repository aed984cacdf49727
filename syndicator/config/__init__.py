"""Configuration: TOML files → one frozen, validated :class:`Config`.

``--config PATH`` is a file or a folder whose ``*.toml`` files are merged in name order: the
``[service]``, ``[publish]`` and ``[security]`` tables key by key (a later file wins), the
``[[region]]``, ``[[source]]`` and ``[[notify]]`` lists end to end. Everything is checked once,
at load; every problem is reported together, each naming the file, the key and the fix.
Secrets are read from the environment variables the config names, never from the files.

The package, by concern:

- ``records``: the frozen records (:class:`Config`, :class:`ServiceSettings` for
  ``[service]``, :class:`Publish`, :class:`Security`, :class:`Jobs`, :class:`Region`,
  :class:`Source`, :class:`Notify`) and the constants of the contract.
- ``load``: reading the files (:func:`load`, :func:`from_documents`) and the validator that
  merges the documents.
- ``checks``, ``sections``, ``sources``: the validator's base, its single tables, and its
  ``[[source]]`` and ``[[notify]]`` lists.
- ``values`` and ``durations``: checks of single values, durations read and written.
"""

from __future__ import annotations

from syndicator.config.durations import MAX_DURATION, format_duration, parse_duration
from syndicator.config.load import config_path, from_documents, load
from syndicator.config.records import (
    BASE_URL_PLACEHOLDER,
    DATABASE_ENV,
    DEFAULT_PATH,
    DEFAULT_RECHECK,
    DEFAULT_RECHECK_WINDOW,
    EVENT_TYPES,
    FEED_FORMATS,
    FETCH_ATTEMPTS,
    FETCH_PAGES,
    LISTEN_ENV,
    MAX_DELAY_FACTOR,
    NOTIFY_KINDS,
    SOURCE_KINDS,
    Config,
    Jobs,
    Notify,
    Publish,
    Region,
    Security,
    ServiceSettings,
    Source,
)
from syndicator.config.values import MAX_INT, validate_cron

__all__ = [
    "BASE_URL_PLACEHOLDER",
    "DATABASE_ENV",
    "DEFAULT_PATH",
    "DEFAULT_RECHECK",
    "DEFAULT_RECHECK_WINDOW",
    "EVENT_TYPES",
    "FEED_FORMATS",
    "FETCH_ATTEMPTS",
    "FETCH_PAGES",
    "LISTEN_ENV",
    "MAX_DELAY_FACTOR",
    "MAX_DURATION",
    "MAX_INT",
    "NOTIFY_KINDS",
    "SOURCE_KINDS",
    "Config",
    "Jobs",
    "Notify",
    "Publish",
    "Region",
    "Security",
    "ServiceSettings",
    "Source",
    "config_path",
    "format_duration",
    "from_documents",
    "load",
    "parse_duration",
    "validate_cron",
]

"""The validator's base: errors collected with their file and key, and typed reads of a table.

A table arrives as ``{key: (file, value)}`` (the file it came from, for the error). Every
problem is recorded, never raised on its own: :mod:`syndicator.config.load` raises them all
together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from syndicator.config.records import DATABASE_ENV
from syndicator.config.values import as_bool, as_database, safe_database, suggest
from syndicator.errors import ConfigError

Table = Mapping[str, tuple[str, Any]]  # key → (file, value), the tables merged in file order


class Checker:
    """Errors found so far, and the reads every section shares."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.env = environ
        self.errors: list[ConfigError] = []

    def error(self, file: str, key: str, message: str, fix: str | None = None) -> None:
        self.errors.append(ConfigError(message, file=file, key=key, fix=fix))

    def unknown(self, table: Mapping[str, tuple[str, Any]], name: str, known: set[str]) -> None:
        for key, (file, _) in table.items():
            if key not in known:
                self.error(
                    file,
                    f"{name}.{key}",
                    "unknown key" + suggest(key, known),
                    "remove it or fix its name",
                )

    def get(
        self,
        table: Mapping[str, tuple[str, Any]],
        name: str,
        key: str,
        default: Any,
        check: Callable[[Any], Any],
        expect: str,
    ) -> Any:
        if key not in table:
            return default
        file, value = table[key]
        try:
            return check(value)
        except (TypeError, ValueError) as e:
            detail = f": {e}" if str(e) else ""
            self.error(file, f"{name}.{key}", f"expected {expect}, got {value!r}{detail}")
            return default

    def boolean(
        self, table: Mapping[str, tuple[str, Any]], name: str, key: str, default: bool
    ) -> bool:
        return bool(self.get(table, name, key, default, as_bool, "true or false"))

    def database(self, t: Mapping[str, tuple[str, Any]], default: str) -> str:
        """``[service] database``, unless ``$SYNDICATOR_DATABASE`` replaces it (one config
        shared by machines that reach the database differently; tests on PostgreSQL)."""
        expect = "a database URL (sqlite:///PATH or postgresql+psycopg://…)"
        url: str = self.get(t, "service", "database", default, as_database, expect)
        override = self.env.get(DATABASE_ENV)
        if not override:
            return url
        try:
            return as_database(override)
        except ValueError as e:
            self.error(
                f"${DATABASE_ENV}",
                "service.database",
                f"expected {expect}, got {safe_database(override)!r}: {e}",
                f"fix or unset {DATABASE_ENV}",
            )
            return url

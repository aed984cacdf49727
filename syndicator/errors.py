"""The exception hierarchy: one root, each error carrying what it concerns and what to do.

Library exceptions never leave an edge module; they are wrapped in one of these with
``raise ... from e``. This module does not log or decide anything.
"""

from __future__ import annotations


class SyndicatorError(Exception):
    """Root of every error syndicator raises on purpose."""


class ConfigError(SyndicatorError):
    """The configuration is invalid: names the file, the key and how to fix it."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.message, self.file, self.key, self.fix = message, file, key, fix
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ": ".join(p for p in (self.file, self.key) if p)
        text = f"{where}: {self.message}" if where else self.message
        return f"{text} ({self.fix})" if self.fix else text


class ConfigErrors(ConfigError):
    """Several configuration errors found in one validation pass."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class ExtractError(SyndicatorError):
    """A document could not be turned into articles (not the format we were told, no content…)."""

    def __init__(self, reason: str, *, url: str | None = None) -> None:
        self.reason, self.url = reason, url
        super().__init__(f"{url}: {reason}" if url else reason)


class FetchError(SyndicatorError):
    """A document could not be fetched; ``reason`` is short and stable enough to count by."""

    def __init__(
        self, url: str, reason: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        self.url, self.reason, self.status, self.retry_after = url, reason, status, retry_after
        super().__init__(f"{url}: {reason}")


class StoreError(SyndicatorError):
    """The store could not be opened, upgraded or written."""


class PublishError(SyndicatorError):
    """A feed could not be rendered or written; the previous files are left in place."""


class NotifyError(SyndicatorError):
    """A notification could not be delivered (it will be retried)."""

"""Ingest: one pass over a source, and what a document means once read.

- :mod:`.document`: :func:`read_document`, the pure heart (no I/O): bytes and a URL in, clean
  articles with their regions and the teasers around them out;
- :mod:`.source_pass`: :class:`SourcePass`, the whole pass for one source, top to bottom: the
  listing (conditional GET) → the article pages not yet known (or cheaply rechecked) → extract
  → normalize → fingerprint → route → one store transaction;
- :mod:`.commit`: what a pass found (its plan), how it went (:class:`PassResult`), and the one
  transaction that stores it: articles, fetch log, removals, the source's health;
- :mod:`.refresh`: :func:`refresh_source`, a source's whole refresh as every process runs it:
  the pass, then back-off, report, publish request and wake, each step said by the caller's
  :class:`FollowUp`;
- :mod:`.once`: :func:`run_once` refreshes every source at once, stored in config order;
- :mod:`.pushed` and :mod:`.stream`: articles pushed by clients and documents an operator names.

Publishing and notifying are not done here. The package imports a name's module on first use:
a pass that reads no document (every source answering 304) never loads the extractors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from syndicator import lazy

if TYPE_CHECKING:
    from syndicator.ingest.commit import MISSES_BEFORE_REMOVAL, PassResult
    from syndicator.ingest.document import (
        DOCUMENT_NAMES,
        DOCUMENTS_OF_KIND,
        Document,
        check_kind,
        read_document,
        rules_of,
        source_for,
    )
    from syndicator.ingest.once import OnceResult, make_fetcher, run_once, sources_due_for_rechecks
    from syndicator.ingest.pushed import PUSH_SOURCE, article_from_object, parse_ndjson
    from syndicator.ingest.refresh import FollowUp, after_pass, refresh_source
    from syndicator.ingest.source_pass import MAX_CHILD_SITEMAPS, RECHECK_LIMIT, SourcePass
    from syndicator.ingest.stream import (
        STREAM_BATCH,
        Batch,
        open_document,
        read_documents,
        read_stream,
        reader_processes,
    )

# Where each public name lives: its module is imported when the name is first asked for.
# fmt: off
__getattr__, __dir__ = lazy.exports(__name__, {
    "commit": ("MISSES_BEFORE_REMOVAL", "PassResult"),
    "document": (
        "DOCUMENT_NAMES", "DOCUMENTS_OF_KIND", "Document", "check_kind", "read_document",
        "rules_of", "source_for",
    ),
    "once": ("OnceResult", "make_fetcher", "run_once", "sources_due_for_rechecks"),
    "pushed": ("PUSH_SOURCE", "article_from_object", "parse_ndjson"),
    "refresh": ("FollowUp", "after_pass", "refresh_source"),
    "source_pass": ("MAX_CHILD_SITEMAPS", "RECHECK_LIMIT", "SourcePass"),
    "stream": (
        "STREAM_BATCH", "Batch", "open_document", "read_documents", "read_stream",
        "reader_processes",
    ),
})
# fmt: on

__all__ = [
    "DOCUMENTS_OF_KIND",
    "DOCUMENT_NAMES",
    "MAX_CHILD_SITEMAPS",
    "MISSES_BEFORE_REMOVAL",
    "PUSH_SOURCE",
    "RECHECK_LIMIT",
    "STREAM_BATCH",
    "Batch",
    "Document",
    "FollowUp",
    "OnceResult",
    "PassResult",
    "SourcePass",
    "after_pass",
    "article_from_object",
    "check_kind",
    "make_fetcher",
    "open_document",
    "parse_ndjson",
    "read_document",
    "read_documents",
    "read_stream",
    "reader_processes",
    "refresh_source",
    "rules_of",
    "run_once",
    "source_for",
    "sources_due_for_rechecks",
]

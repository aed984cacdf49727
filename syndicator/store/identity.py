"""The identity rules of DESIGN.md as a pure decider: what is stored for an article's key, its
content hash and its address, and what arrived, in; what to do, out.

``decide`` returns one :class:`Decision` per arriving article (unchanged, a summary of a stored
full text, updated, duplicate, promoted, created); ``nearest`` picks the near-duplicate a new
article is clustered with. Both only read the records they are given: no database, no clock.
The store reads the records, asks, and carries the decision out (``articles``), the same way
for one article at a time and for a batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from syndicator import fingerprint

Action = Literal["unchanged", "summary", "updated", "duplicate", "promoted", "created"]


@dataclass(frozen=True, slots=True)
class Stored:
    """What the decider needs of a stored article."""

    id: int
    key: str
    source_id: str | None
    content_hash: str
    similarity: str
    complete: bool
    cluster_id: int | None = None


@dataclass(frozen=True, slots=True)
class Arrival:
    """What the decider needs of an arriving article, and the source it came from."""

    key: str
    content_hash: str
    similarity: str
    complete: bool
    source_id: str | None


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one arriving article.

    - ``unchanged``: the stored article at its key has the same text;
    - ``summary``: it is a summary of the full text stored at its key (kept, reported unchanged);
    - ``updated``: its key has a new text: a revision of ``article``;
    - ``duplicate``: a new address of ``article`` (the same text, or a lightly edited copy at an
      address already recorded as one of its locations);
    - ``promoted``: the same text as ``article`` from a source that ranks first: this address
      becomes the entry's;
    - ``created``: a new article (``nearest`` says whether it joins a near-duplicate cluster).

    ``take_over``: the key's article moves to the arriving source, which ranks first."""

    action: Action
    article: Stored | None = None
    take_over: bool = False
    reason: str = ""


SUMMARY = "a summary of the stored article"


def outranks(priority: Mapping[str, int] | None, source: str | None, other: str | None) -> bool:
    """Does ``source`` rank strictly before ``other`` (config order; unknown sources last)?"""
    if not priority or source is None or source not in priority:
        return False
    return priority[source] < priority.get(other or "", len(priority))


def decide(
    item: Arrival,
    *,
    by_key: Stored | None,
    by_hash: Stored | None,
    at_address: Stored | None = None,
    priority: Mapping[str, int] | None = None,
) -> Decision:
    """The identity contract for one arriving article.

    ``by_key``: the article stored at the arrival's key; ``by_hash``: the first (lowest id)
    article stored with its content hash; ``at_address``: the article the arrival's key is
    recorded as a location of (only read when neither of the others is there)."""
    if by_key is not None:
        take_over = outranks(priority, item.source_id, by_key.source_id)
        if by_key.content_hash == item.content_hash:
            return Decision("unchanged", by_key, take_over)
        if by_key.complete and not item.complete:
            # A feed summary never replaces the full text stored from the page.
            return Decision("summary", by_key, take_over, SUMMARY)
        return Decision("updated", by_key, take_over)
    same, reason = by_hash, f"same content hash as {by_hash.key}" if by_hash else ""
    if (
        same is None
        and at_address is not None
        and fingerprint.similarity(at_address.similarity, item.similarity)
        >= fingerprint.NEAR_DUPLICATE
    ):
        same, reason = at_address, f"a lightly edited copy of {at_address.key}"
    if same is None:
        return Decision("created")
    if same.content_hash == item.content_hash and outranks(
        priority, item.source_id, same.source_id
    ):
        return Decision(
            "promoted",
            same,
            reason=f"same content hash as {item.key}, from a source that ranks first",
        )
    return Decision("duplicate", same, reason=reason)


class Similar(Protocol):
    """A stored article as a near-duplicate candidate."""

    @property
    def id(self) -> int: ...
    @property
    def key(self) -> str: ...
    @property
    def similarity(self) -> str: ...
    @property
    def cluster_id(self) -> int | None: ...


def nearest(similarity: str, candidates: Iterable[Similar]) -> tuple[int | None, str | None]:
    """The cluster a new article joins and the key of the article it is a near-duplicate of:
    the most similar candidate at or above the threshold (the first of equals), or (None,
    None) when none is alike."""
    best: tuple[float, Similar] | None = None
    for row in candidates:
        score = fingerprint.similarity(row.similarity, similarity)
        if score >= fingerprint.NEAR_DUPLICATE and (best is None or score > best[0]):
            best = (score, row)
    if best is None:
        return None, None
    return best[1].cluster_id or best[1].id, best[1].key

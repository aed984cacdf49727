"""The identity decider (``syndicator.store.identity``), table-driven, without a database: what
is stored for an arriving article's key, hash and address, what arrived, and the decision."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from syndicator import fingerprint
from syndicator.store.identity import Arrival, Decision, Stored, decide, nearest, outranks

PRIORITY = {"site": 0, "partner": 1}


def story(seed: int, edit: int = 0) -> tuple[str, list[str]]:
    paragraphs = [" ".join(f"w{seed}x{i}x{j}" for j in range(20)) + "." for i in range(12)]
    if edit:  # a light edit: another content hash, a near-duplicate signature
        paragraphs[edit] = paragraphs[edit].replace(f"w{seed}x", f"e{edit}x", 1)
    return f"story {seed}", paragraphs


def hash_of(seed: int, edit: int = 0) -> str:
    return fingerprint.content_hash(*story(seed, edit))


def signature_of(seed: int, edit: int = 0) -> str:
    return fingerprint.signature(*story(seed, edit))


def stored(
    key: str, seed: int, edit: int = 0, *, source: str | None = "partner", complete: bool = True
) -> Stored:
    return Stored(
        id=7,
        key=key,
        source_id=source,
        content_hash=hash_of(seed, edit),
        similarity=signature_of(seed, edit),
        complete=complete,
        cluster_id=7,
    )


def arrival(
    key: str, seed: int, edit: int = 0, *, source: str | None = "partner", complete: bool = True
) -> Arrival:
    return Arrival(key, hash_of(seed, edit), signature_of(seed, edit), complete, source)


A, B = "https://n.example/a", "https://partner.example/copy"


@dataclass(frozen=True)
class Case:
    name: str
    item: Arrival
    by_key: Stored | None
    by_hash: Stored | None
    at_address: Stored | None
    expected: Decision


CASES = [
    Case("nothing stored: created", arrival(A, 1), None, None, None, Decision("created")),
    Case(
        "same key, same text: unchanged",
        arrival(A, 1),
        stored(A, 1),
        stored(A, 1),
        None,
        Decision("unchanged", stored(A, 1)),
    ),
    Case(
        "same key, same text, from a source ranking first: unchanged, taken over",
        arrival(A, 1, source="site"),
        stored(A, 1),
        stored(A, 1),
        None,
        Decision("unchanged", stored(A, 1), take_over=True),
    ),
    Case(
        "same key, a summary of the stored full text: kept",
        arrival(A, 1, 2, complete=False),
        stored(A, 1),
        None,
        None,
        Decision("summary", stored(A, 1), reason="a summary of the stored article"),
    ),
    Case(
        "a summary from a source ranking first: kept, taken over",
        arrival(A, 1, 2, complete=False, source="site"),
        stored(A, 1),
        None,
        None,
        Decision("summary", stored(A, 1), True, "a summary of the stored article"),
    ),
    Case(
        "same key, new text: updated",
        arrival(A, 1, 2),
        stored(A, 1),
        None,
        None,
        Decision("updated", stored(A, 1)),
    ),
    Case(
        "the full text where a summary was stored: updated",
        arrival(A, 1, 2),
        stored(A, 1, complete=False),
        None,
        None,
        Decision("updated", stored(A, 1, complete=False)),
    ),
    Case(
        "same key, new text, from a source ranking first: updated, taken over",
        arrival(A, 1, 2, source="site"),
        stored(A, 1),
        None,
        None,
        Decision("updated", stored(A, 1), take_over=True),
    ),
    Case(
        "new key, stored text: duplicate",
        arrival(B, 1),
        None,
        stored(A, 1, source="site"),
        None,
        Decision("duplicate", stored(A, 1, source="site"), reason=f"same content hash as {A}"),
    ),
    Case(
        "new key, stored text, from a source ranking first: promoted",
        arrival(A, 1, source="site"),
        None,
        stored(B, 1),
        None,
        Decision(
            "promoted",
            stored(B, 1),
            reason=f"same content hash as {A}, from a source that ranks first",
        ),
    ),
    Case(
        "new key, stored text, unranked sources: duplicate",
        arrival(A, 1, source="elsewhere"),
        None,
        stored(B, 1),
        None,
        Decision("duplicate", stored(B, 1), reason=f"same content hash as {B}"),
    ),
    Case(
        "a lightly edited copy at an address recorded for a stored article: duplicate",
        arrival(B, 1, 3),
        None,
        None,
        stored(A, 1, source="site"),
        Decision("duplicate", stored(A, 1, source="site"), reason=f"a lightly edited copy of {A}"),
    ),
    Case(
        "a lightly edited copy from a source ranking first is not promoted: duplicate",
        arrival(B, 1, 3, source="site"),
        None,
        None,
        stored(A, 1),
        Decision("duplicate", stored(A, 1), reason=f"a lightly edited copy of {A}"),
    ),
    Case(
        "another story at an address once another article's: created",
        arrival(B, 2),
        None,
        None,
        stored(A, 1, source="site"),
        Decision("created"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_decide(case: Case) -> None:
    got = decide(
        case.item,
        by_key=case.by_key,
        by_hash=case.by_hash,
        at_address=case.at_address,
        priority=PRIORITY,
    )
    assert got == case.expected


def test_every_decision_is_covered() -> None:
    assert {c.expected.action for c in CASES} == {
        "unchanged",
        "summary",
        "updated",
        "duplicate",
        "promoted",
        "created",
    }


def test_without_priorities_nothing_is_taken_over_or_promoted() -> None:
    for case in CASES:
        got = decide(
            case.item, by_key=case.by_key, by_hash=case.by_hash, at_address=case.at_address
        )
        assert not got.take_over and got.action != "promoted"


@pytest.mark.parametrize(
    ("source", "other", "expected"),
    [
        ("site", "partner", True),
        ("partner", "site", False),
        ("site", "site", False),
        ("site", None, True),  # unknown: ranked last
        ("site", "unknown", True),
        ("unknown", "site", False),
        (None, "site", False),
    ],
)
def test_outranks(source: str | None, other: str | None, expected: bool) -> None:
    assert outranks(PRIORITY, source, other) is expected
    assert outranks(None, source, other) is False


@dataclass(frozen=True)
class Candidate:
    id: int
    key: str
    similarity: str
    cluster_id: int | None


NEAR = [
    ("no candidates: not clustered", signature_of(1), [], (None, None)),
    (
        "none alike: not clustered",
        signature_of(1),
        [Candidate(3, "c", signature_of(2), 3)],
        (None, None),
    ),
    (
        "a light edit: clustered with it",
        signature_of(1, 2),
        [Candidate(3, "c", signature_of(2), 3), Candidate(4, "d", signature_of(1), 9)],
        (9, "d"),
    ),
    (
        "a candidate without a cluster: its own id",
        signature_of(1, 2),
        [Candidate(4, "d", signature_of(1), None)],
        (4, "d"),
    ),
    (
        "the most alike wins",
        signature_of(1, 2),
        [Candidate(4, "d", signature_of(1, 5), 4), Candidate(5, "e", signature_of(1, 2), 5)],
        (5, "e"),
    ),
    (
        "equals: the first",
        signature_of(1, 2),
        [Candidate(4, "d", signature_of(1), 4), Candidate(5, "e", signature_of(1), 5)],
        (4, "d"),
    ),
]


@pytest.mark.parametrize(
    ("similarity", "candidates", "expected"), [n[1:] for n in NEAR], ids=[n[0] for n in NEAR]
)
def test_nearest(
    similarity: str, candidates: list[Candidate], expected: tuple[int | None, str | None]
) -> None:
    assert nearest(similarity, candidates) == expected

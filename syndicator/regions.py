"""Region routing: which regions an article belongs to, and why.

Three rules, from the config: the source's default regions; a region's section names matched
against the article's section and categories; a region's places matched against the dateline.
Names are compared folded (diacritics, alef forms, case and punctuation ignored). Pure.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from syndicator.fingerprint import fold
from syndicator.model import Article, RegionMatch


@dataclass(frozen=True, slots=True)
class RegionRule:
    """What routes to one region: section names and dateline places."""

    id: str
    sections: tuple[str, ...] = ()
    places: tuple[str, ...] = ()


def route(
    article: Article, rules: Sequence[RegionRule], source_regions: Iterable[str] = ()
) -> tuple[RegionMatch, ...]:
    """Every region the article belongs to, each with the rule that matched (in rule order)."""
    matches: list[RegionMatch] = [
        RegionMatch(r, "source", "default region of the source") for r in source_regions
    ]
    sections = [s for s in (article.section, *article.categories) if s]
    folded_sections = {_folded(s): s for s in sections}
    place = _folded(article.dateline) if article.dateline else ""
    for rule in rules:
        for name in rule.sections:
            hit = folded_sections.get(_folded(name))
            if hit is not None:
                matches.append(RegionMatch(rule.id, "section", hit))
                break
        if place:
            for name in rule.places:
                if _folded(name) == place:
                    matches.append(RegionMatch(rule.id, "dateline", article.dateline or name))
                    break
    return tuple(matches)


@functools.lru_cache(maxsize=512)
def _folded(name: str) -> str:
    """A name folded: the rules' names are the config's, and an article's section is most
    often one its source gave many articles before (folding is ~15 µs a name)."""
    return fold(name)

"""The fixture site's gold (``tests/fixtures/expected.json``, or ``../shared``'s): what a
correct pass over it stores and publishes, region by region."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def gold_of(fixtures_dir: Path, base: str) -> dict[str, Any]:
    text = (fixtures_dir / "expected.json").read_text(encoding="utf-8")
    return dict(json.loads(text.replace("{{BASE}}", base)))


def expected_regions(gold: dict[str, Any]) -> dict[str, set[str]]:
    regions: dict[str, set[str]] = {"europe": set(), "asia": set(), "all": set()}
    for article in gold["articles"].values():
        for region in article["regions"]:
            regions[region].add(article["url"])
        regions["all"].add(article["url"])
    for brief in gold["partner_only"]:
        for region in brief["regions"]:
            regions[region].add(brief["url"])
        regions["all"].add(brief["url"])
    return regions

"""Region routing: source defaults, section names and dateline places, each with its reason."""

from __future__ import annotations

from syndicator.model import Article, RegionMatch
from syndicator.regions import RegionRule, route

RULES = (
    RegionRule("europe", sections=("أوروبا", "Europe"), places=("موسكو", "وارسو", "بروكسل")),
    RegionRule("asia", sections=("آسيا", "Asia"), places=("هانوي", "طوكيو")),
)


def article(**fields: object) -> Article:
    base: dict[str, object] = {
        "key": "k",
        "url": "u",
        "title": "t",
        "paragraphs": ("p",),
        "content_html": "",
        "content_hash": "v1:x",
        "similarity": "s1:0000000000000000",
    }
    return Article(**(base | fields))  # type: ignore[arg-type]


def test_section_routes() -> None:
    assert route(article(section="آسيا"), RULES) == (RegionMatch("asia", "section", "آسيا"),)


def test_section_match_ignores_spelling_variants() -> None:
    assert route(article(section="اوروبا"), RULES)[0].region == "europe"
    assert route(article(section="EUROPE"), RULES)[0].region == "europe"


def test_dateline_routes_and_both_reasons_are_kept() -> None:
    matches = route(article(section="أوروبا", dateline="موسكو"), RULES)
    assert matches == (
        RegionMatch("europe", "section", "أوروبا"),
        RegionMatch("europe", "dateline", "موسكو"),
    )
    assert str(matches[1]) == "europe: dateline 'موسكو'"


def test_categories_count_as_sections() -> None:
    assert route(article(categories=("سياسة", "Asia")), RULES)[0].region == "asia"


def test_source_default_regions_come_first() -> None:
    matches = route(article(dateline="هانوي"), RULES, source_regions=("europe",))
    assert [m.region for m in matches] == ["europe", "asia"]
    assert matches[0].rule == "source"


def test_no_rule_no_region() -> None:
    assert route(article(section="رياضة", dateline="القاهرة"), RULES) == ()


def test_names_folded_once_route_as_folded_each_time() -> None:
    """Folded names are kept between articles: many articles of the same sections, and
    sections spelled differently in turn, route as each alone does."""
    spellings = ["أوروبا", "اوروبا", "EUROPE", "Asia", "آسيا", "Africa", "europe"]
    alone = [route(article(section=s), RULES) for s in spellings]
    for _ in range(3):
        assert [route(article(section=s), RULES) for s in spellings] == alone
    assert [m[0].region if m else None for m in alone] == [
        "europe",
        "europe",
        "europe",
        "asia",
        "asia",
        None,
        "europe",
    ]

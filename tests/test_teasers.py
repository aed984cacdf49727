"""Teasers complete the articles they point at: the section, byline and dateline a related box
or a listing gives for an article fill what its own text leaves empty, never what it says."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from support.commands import run_command, service_table
from support.sites import PARAGRAPHS, Site

from syndicator.demo import SAMPLES_DIR
from syndicator.extract import extract
from syndicator.extract.complete import complete
from syndicator.model import Draft, Teaser

DUMP = SAMPLES_DIR / "dumps" / "front-page.txt"
SECOND = "طلاب مدرسة في واحة نائية يبنون حافلة شمسية من هياكل سيارات قديمة"


def test_the_dump_s_related_box_completes_its_second_article() -> None:
    extraction = extract(DUMP.read_bytes(), "file:///front-page.txt", kind="text")
    second = next(d for d in extraction.articles if d.title.startswith(SECOND[:30]))
    teaser = next(t for t in extraction.teasers if t.story == second.key)
    assert (second.section, second.dateline) == (teaser.section, teaser.dateline)
    assert second.section == "علوم" and second.dateline == "دوز"
    assert second.bylines == teaser.authors == ("وكالة المثال",)
    # The first article has no teaser: nothing is made up for it.
    first = extraction.articles[0]
    assert (first.section, first.bylines, first.dateline) == (None, (), None)


def test_what_the_article_says_wins() -> None:
    teaser = Teaser(url=None, title="T", section="أوروبا", authors=("X",), dateline="موسكو")
    own = Draft(url="u", title="T", section="العالم", bylines=("Y",), dateline="باريس")
    assert complete(own, [teaser]) == own
    # A byline with its place in it is the article's own dateline.
    placed = Draft(url="u", title="T", bylines=("«الشرق الأوسط» (لندن)",))
    done = complete(placed, [teaser])
    assert done.dateline is None and done.bylines == placed.bylines and done.section == "أوروبا"
    empty = Draft(url="u", title="T")
    assert complete(empty, [teaser]) == Draft(
        url="u", title="T", section="أوروبا", bylines=("X",), dateline="موسكو"
    )


def titles(feeds: Path, region: str) -> list[str]:
    path = feeds / f"{region}.atom"
    if not path.exists():
        return []
    return [e.title for e in feedparser.parse(path.read_bytes()).entries]


REGIONS = """
[[region]]
id = "science"
title = "علوم"
sections = ["علوم"]

[[region]]
id = "south"
title = "الجنوب"
places = ["دوز"]

[[region]]
id = "europe"
title = "أوروبا"
sections = ["أوروبا"]
places = ["موسكو"]
"""


@pytest.mark.e2e
def test_once_routes_the_dump_s_second_article_by_its_teaser(tmp_path: Path) -> None:
    """End to end: ``once`` on the sample dump puts its second article in the regions its
    related-box teaser names (section علوم, dateline دوز)."""
    (tmp_path / "in").mkdir()
    shutil.copy(DUMP, tmp_path / "in" / "front-page.txt")
    config = tmp_path / "syndicator.toml"
    config.write_text(
        service_table(tmp_path)
        + f"""{REGIONS}
[[source]]
id = "dump"
kind = "text"
url = "in/front-page.txt"
language = "ar"
""",
        encoding="utf-8",
    )
    done = run_command(config, "once", timeout=180)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    feeds = tmp_path / "feeds"
    assert any(t.startswith(SECOND[:30]) for t in titles(feeds, "science"))
    assert any(t.startswith(SECOND[:30]) for t in titles(feeds, "south"))
    assert not any(t.startswith(SECOND[:30]) for t in titles(feeds, "europe"))


@pytest.mark.e2e
def test_once_routes_the_seed_s_second_article_to_europe(tmp_path: Path, shared_dir: Path) -> None:
    """End to end on the seed's dump: its related box gives the second article the section
    أوروبا and the dateline موسكو, and ``once`` puts it in the Europe region."""
    (tmp_path / "in").mkdir()
    shutil.copy(shared_dir / "seed" / "000_657e1a1fb9bacbed.txt", tmp_path / "in" / "seed.txt")
    config = tmp_path / "syndicator.toml"
    config.write_text(
        service_table(tmp_path)
        + f"""{REGIONS}
[[source]]
id = "seed"
kind = "text"
url = "in/seed.txt"
language = "ar"
""",
        encoding="utf-8",
    )
    done = run_command(config, "once", timeout=180)
    assert done.returncode == 0, done.stderr
    europe = titles(tmp_path / "feeds", "europe")
    assert "روسيا تريد «ضمانات أمنية» في أي تسوية لحرب أوكرانيا" in europe
    # The first article has no teaser and names no section or place of the region.
    assert not any(t.startswith("بوتين في فيتنام") for t in europe)


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


@pytest.mark.e2e
def test_once_routes_a_listed_article_by_its_card(tmp_path: Path, site: Site) -> None:
    """End to end: a section page's cards say section, byline and dateline; the article pages
    say none of it (but one, whose own section wins). ``once`` routes each where it belongs."""
    for slug, section in (("talks", None), ("summit", "علوم")):
        meta = f'<meta property="article:section" content="{section}">' if section else ""
        site.pages[f"/a/{slug}.html"] = (
            f'<html lang="ar"><head><meta property="og:type" content="article">{meta}'
            f"<title>خبر {slug} عن المحادثات</title></head><body><article>"
            f"<h1>خبر {slug} عن المحادثات</h1><div class='article-body'>{PARAGRAPHS}</div>"
            "</article></body></html>"
        ).encode()
    cards = "".join(
        f'<article class="card"><span class="section">أوروبا</span>'
        f'<h2><a href="/a/{slug}.html">خبر {slug} عن المحادثات</a></h2>'
        f'<p class="byline">«الشرق الأوسط» (موسكو)</p></article>'
        for slug in ("talks", "summit")
    )
    site.pages["/world.html"] = f"<html><body><main>{cards}</main></body></html>".encode()
    config = tmp_path / "syndicator.toml"
    config.write_text(
        service_table(tmp_path, "respect_robots = false\n")
        + f"""{REGIONS}
[[source]]
id = "site"
kind = "html"
url = "{site.base}/world.html"
""",
        encoding="utf-8",
    )
    done = run_command(config, "once", timeout=180)
    assert done.returncode == 0, done.stderr
    feeds = tmp_path / "feeds"
    europe = titles(feeds, "europe")
    assert "خبر talks عن المحادثات" in europe  # by the card's section and dateline
    # The page's own section (علوم) wins over the card's; the card's dateline still counts.
    assert "خبر summit عن المحادثات" in titles(feeds, "science")
    assert "خبر summit عن المحادثات" in europe  # dateline موسكو, from the card

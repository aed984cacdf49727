"""What a hostile source can send, and what syndicator does with it: each rule of
docs/RELIABILITY.md ("Hostile sources") pinned, in the pure core and end to end through the
real ``syndicator once`` (and ``run``) against a loopback site that answers what the test
chooses (``helpers.HostileSite``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers import Deployment, HostileSite

from syndicator import fingerprint
from syndicator.ingest import read_document
from syndicator.model import Draft
from syndicator.normalize import DateError, clean_text, normalize_article, parse_date

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


def json_feed(*items: dict[str, Any]) -> str:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": items})


def item(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"i{n}",
        "url": f"https://news.example/{n}",
        "title": f"Story {n}",
        "content_text": f"The whole of story {n}, told in one paragraph of plain text.",
        "date_published": "2026-03-14T10:00:00Z",
        **fields,
    }


# --------------------------------------------------------------------------------------------
# One bad item fails alone: lone surrogates, dates outside years 1-9999


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:00:00-05:00",
        "0001-01-01T00:00:00.5+00:01",
        "99999999999999",
    ],
)
def test_dates_outside_years_1_to_9999_are_no_dates(value: str) -> None:
    with pytest.raises(DateError):
        parse_date(value, now=NOW)


def test_lone_surrogates_are_replaced_before_anything_hashes_them() -> None:
    article = normalize_article(
        Draft(
            url="https://news.example/\ud800",
            title="lone \ud800 surrogate",
            summary="s\udfff",
            bylines=("Ann \ud83d",),
            body_text="first \udc00 paragraph",
            published="2026-03-14T10:00:00Z",
        ),
        now=NOW,
    )
    assert article.title == "lone \ufffd surrogate"
    assert article.paragraphs == ("first \ufffd paragraph",)
    assert article.content_hash == fingerprint.content_hash(
        "lone \ufffd surrogate", ["first \ufffd paragraph"]
    )
    for text in (article.url, article.key, article.summary or "", *article.authors):
        text.encode("utf-8")  # valid Unicode: no UnicodeEncodeError


def test_one_unreadable_item_is_dropped_and_the_others_kept() -> None:
    body = json_feed(
        item(1, title="lone \ud800 surrogate"),
        item(2, date_published="0001-01-01T00:00:00+14:00"),
        item(3),
    ).encode()
    document = read_document(body, "https://news.example/feed.json", now=NOW, kind="jsonfeed")
    titles = [a.title for a in document.articles]
    assert titles == ["lone \ufffd surrogate", "Story 2", "Story 3"]
    assert document.articles[1].published is None
    assert any("outside the years 1 to 9999" in w for w in document.articles[1].warnings)


def test_an_item_that_breaks_the_normalizer_is_dropped_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever goes wrong with one item (here a fault injected into normalization), the
    document keeps its other items and says which one was dropped."""
    from syndicator import ingest

    real = ingest.normalize_article

    def fragile(draft: Draft, **kwargs: Any) -> Any:
        if draft.title == "Story 2":
            raise OverflowError("date value out of range")
        return real(draft, **kwargs)

    monkeypatch.setattr(ingest, "normalize_article", fragile)
    body = json_feed(item(1), item(2), item(3)).encode()
    document = read_document(body, "https://news.example/feed.json", now=NOW, kind="jsonfeed")
    assert [a.title for a in document.articles] == ["Story 1", "Story 3"]
    assert document.errors == (
        "https://news.example/feed.json: item 2 dropped, unreadable: "
        "OverflowError: date value out of range",
    )


ATOM_YEAR_ONE = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>a</title><id>urn:a</id>
<updated>0001-01-01T00:00:00+14:00</updated>
<entry><id>urn:a:1</id><title>Atom story</title><link href="https://atom.example/1"/>
<updated>0001-01-01T00:00:00+14:00</updated>
<content type="html">&lt;p&gt;The whole atom story in a paragraph of its own.&lt;/p&gt;</content>
</entry></feed>"""

GOOD_RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>r</title><link>x</link>
<item><title>Good story</title><link>https://good.example/1</link>
<description>&lt;p&gt;A good story, told whole in one paragraph.&lt;/p&gt;</description>
<pubDate>Sat, 14 Mar 2026 10:00:00 GMT</pubDate></item></channel></rss>"""


def bad_items_site(site: HostileSite) -> str:
    site.route(
        "/feed.json",
        json_feed(
            item(1, title="lone \ud800 surrogate"),
            item(2, date_published="0001-01-01T00:00:00+14:00"),
        ),
        content_type="application/feed+json",
    )
    site.route("/atom.xml", ATOM_YEAR_ONE, content_type="application/atom+xml")
    site.route("/rss.xml", GOOD_RSS, content_type="application/rss+xml")
    return (
        Deployment.source("a-json", "jsonfeed", site.url("/feed.json"), fetch_pages="never")
        + Deployment.source("b-atom", "atom", site.url("/atom.xml"), fetch_pages="never")
        + Deployment.source("c-rss", "rss", site.url("/rss.xml"), fetch_pages="never")
    )


def test_bad_items_fail_alone_under_once(hostile_site: HostileSite, tmp_path: Path) -> None:
    deployment = Deployment(tmp_path, bad_items_site(hostile_site))
    run = deployment.run("once")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    titles = {i["title"] for i in deployment.feed("world.json")["items"]}
    assert titles == {"lone \ufffd surrogate", "Story 2", "Atom story", "Good story"}


# --------------------------------------------------------------------------------------------
# Bidi controls: overrides, embeddings and isolates stripped, the marks a language needs kept

OVERRIDES = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
MARKS = "\u200e\u200f\u061c"


def test_bidi_overrides_are_stripped_and_marks_kept() -> None:
    assert clean_text(f"a\u202eb{OVERRIDES}c") == "abc"
    assert clean_text(f"نص{MARKS}text") == f"نص{MARKS}text"


def test_stripping_bidi_controls_keeps_every_content_hash() -> None:
    """The fold already drops every bidi control: a title with an override hashes as it did."""
    article = normalize_article(
        Draft(
            url="https://n.example/1",
            title="\u202eevil\u202c title",
            body_html="<p>x \u2067y\u2069 z with RLM\u200f here</p>",
        ),
        now=NOW,
    )
    assert article.title == "evil title"
    assert "\u2067" not in article.content_html and "\u200f" in article.content_html
    assert article.content_hash == fingerprint.content_hash(
        "\u202eevil\u202c title", ["x \u2067y\u2069 z with RLM\u200f here"]
    )


def test_bidi_overrides_never_reach_a_feed(hostile_site: HostileSite, tmp_path: Path) -> None:
    feed = json_feed(item(1, title="\u202eesrever\u202c title", summary="a\u2066b\u2069c\u200f"))
    url = hostile_site.route("/feed.json", feed, content_type="application/feed+json")
    deployment = Deployment(
        tmp_path, Deployment.source("bidi", "jsonfeed", url, fetch_pages="never")
    )
    run = deployment.run("once")
    assert run.returncode == 0, run.stdout + run.stderr
    for name in ("world.atom", "world.rss", "world.json"):
        text = (deployment.feeds / name).read_text(encoding="utf-8")
        assert not set(OVERRIDES) & set(text), name
        assert "\u200f" in text, name

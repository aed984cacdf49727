"""Pictures and credits in the markup sites use, each class on a small page written for it:
``<figure>``/``<figcaption>``, caption and credit classes on div/span/p, ``<small>``/``<cite>``
credits, credits in parentheses or after a separator, alt text, and lead pictures outside the
body (``itemprop="image"``, beside the headline). A credit is never a paragraph of the story."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndicator.extract import extract
from syndicator.model import Article
from syndicator.normalize import normalize_article

PAGES = Path(__file__).parent / "data" / "pictures"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
BASE = "https://news.example"

# Each page: its pictures (address, caption, credit) in order, and its paragraph count.
EXPECTED: dict[str, tuple[list[tuple[str, str | None, str | None]], int]] = {
    # The lead picture in a div with caption and credit spans, above the body; the same markup
    # inside the body (its credit «رويترز» is not a paragraph).
    "lead-photo-div.html": (
        [
            ("/img/putin-hanoi.jpg", "الرئيس الروسي لدى وصوله إلى مطار هانوي", "AP"),
            ("/img/hanoi-street.jpg", "أعلام روسية وفيتنامية في أحد شوارع هانوي", "Reuters"),
        ],
        3,
    ),
    # <figure>/<figcaption>: a credit in parentheses, a credit after a dash.
    "figure-figcaption.html": (
        [
            ("/img/coast-road.jpg", "The coast road under water near the harbour", "AFP"),
            ("/img/sandbags.jpg", "Volunteers fill sandbags outside the school", "EPA"),
        ],
        3,
    ),
    # <img> then <p class="caption"> and <p class="credit">; WordPress's wp-caption block.
    "caption-classes.html": (
        [
            ("/img/tapestry.jpg", "The tapestry back on its wall in the great hall", "Reuters"),
            (
                "/img/border.jpg",
                "The repaired border, where the stamp was cut away",
                "Jane Doe/Museum",
            ),
        ],
        3,
    ),
    # <cite> and <small> credits inside the caption.
    "small-cite.html": (
        [
            ("/img/train.jpg", "القطار السريع في محطته الأولى", "EPA"),
            ("/img/station.jpg", "ركاب ينتظرون القطار في المحطة المركزية", "AFP"),
        ],
        3,
    ),
    # No caption: the alt text, with its credit.
    "alt-text.html": ([("/img/storks.jpg", "The storks on the brewery chimney", "AP")], 3),
    # The article's picture outside <article>, named by itemprop="image".
    "itemprop-outside.html": ([("/img/ferry.jpg", "The ferry in dry dock", None)], 3),
    # No <article>: the picture in the headline's block, above the body.
    "next-to-headline.html": (
        [("/img/mill.jpg", "The mill after its restoration", "Jane Doe")],
        3,
    ),
}


def read(name: str, html: bytes | None = None) -> Article:
    body = html if html is not None else (PAGES / name).read_bytes()
    extraction = extract(body, f"{BASE}/2026/09/{name}")
    assert extraction.kind == "article"
    return normalize_article(extraction.articles[0], now=NOW)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_pictures_and_credits(name: str) -> None:
    pictures, paragraphs = EXPECTED[name]
    article = read(name)
    assert [(i.url, i.caption, i.credit) for i in article.images] == [
        (BASE + url, caption, credit) for url, caption, credit in pictures
    ]
    assert len(article.paragraphs) == paragraphs, article.paragraphs
    for _, caption, credit in pictures:
        for paragraph in article.paragraphs:
            assert credit is None or paragraph != credit
            assert caption is None or caption not in paragraph


def test_every_page_has_an_expectation() -> None:
    assert sorted(p.name for p in PAGES.glob("*.html")) == sorted(EXPECTED)


@pytest.mark.parametrize(
    ("name", "credit"),
    [
        ("lead-photo-div.html", '<span class="photo-credit">رويترز</span>'),
        ("caption-classes.html", '<p class="credit">Photo: Reuters</p>'),
        ("small-cite.html", "<small>أ.ف.ب</small>"),
    ],
)
def test_a_credit_does_not_change_the_content_hash(name: str, credit: str) -> None:
    """The paragraphs, and so the content hash, are the same with the credit and without it."""
    html = (PAGES / name).read_bytes()
    assert credit.encode() in html
    with_credit = read(name)
    without = read(name, html.replace(credit.encode(), b""))
    assert with_credit.paragraphs == without.paragraphs
    assert with_credit.content_hash == without.content_hash


@pytest.mark.e2e
def test_the_extract_command_shows_the_pictures_and_credits() -> None:
    """End to end: ``syndicator extract --json`` on a page whose lead picture is above the body."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "syndicator",
            "extract",
            "--json",
            str(PAGES / "lead-photo-div.html"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout.splitlines()[0])
    text = json.dumps(record, ensure_ascii=False)
    assert "putin-hanoi.jpg" in text and "hanoi-street.jpg" in text
    assert '"AP"' in text and '"Reuters"' in text

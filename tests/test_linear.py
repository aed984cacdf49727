"""Extraction stays linear in the size of a page, whatever its shape.

Pathological pages — thousands of nested elements, tens of thousands of siblings, ten thousand
figures, a table of several megabytes — go through ``extract`` and ``normalize`` (and the
``extract`` command) without a crash or a traceback. Time is checked two ways, both generous: a
bound in seconds that only an exponential walk comes near, and the growth from a quarter of the
page to the whole of it (a linear pass grows about 4×, a quadratic one about 16×). CPU time is
measured, which a busy machine disturbs less than wall-clock time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndicator.extract import extract
from syndicator.extract.dom import parse
from syndicator.extract.index import TreeIndex
from syndicator.model import Article
from syndicator.normalize import normalize_article, parse_body

URL = "https://news.example/world/2024/06/20/story.html"
NOW = datetime(2024, 6, 21, tzinfo=UTC)
PARAGRAPH = (
    "<p>The delegations met for a third day in the capital, officials said, and agreed on the "
    "outline of a text. Talks resume next week, after consultations at home.</p>"
)
INTRO = "".join(
    f"<p>{word} paragraph of the story: the ministers spoke for an hour, aides said. Nothing was "
    "signed, and the next round is set for the spring.</p>"
    for word in ("First", "Second", "Third")
)
BOUND = 120.0  # seconds of CPU for the whole page: an exponential walk blows through it
GROWTH = 10.0  # whole page / quarter page: linear ≈ 4, quadratic ≈ 16


def article_page(body: str, *, before: str = "") -> bytes:
    return (
        "<!doctype html><html lang='en'><head><title>Talks resume next week | News</title>"
        "<meta property='og:type' content='article'></head><body>"
        f"<article><h1>Talks resume next week</h1>{before}"
        f"<div class='article-body'>{INTRO}{body}</div></article>"
        "</body></html>"
    ).encode()


def nested(n: int) -> bytes:
    return article_page("<div>" * n + PARAGRAPH + "</div>" * n)


def siblings(n: int) -> bytes:
    return article_page("".join(f"<span>word {i}</span> " for i in range(n)) + PARAGRAPH)


def figures(n: int) -> bytes:
    lead = (
        "<figure><img src='/img/lead.jpg' alt=''><figcaption>The delegations (Reuters)"
        "</figcaption></figure>"
    )
    body = "".join(
        f"<figure><img src='/img/{i}.jpg'><figcaption>Picture {i} of the talks (AP)"
        "</figcaption></figure>"
        for i in range(n)
    )
    return article_page(body, before=lead)


def deep_body(depth: int) -> bytes:
    """The body far down a chain of wrappers, figures before and after it at every level (a
    recursive "does this figure follow the body" walk is exponential in that depth)."""
    fig = "<figure><img src='/img/x.jpg'><figcaption>A picture (AFP)</figcaption></figure>"
    return (
        "<!doctype html><html><head><title>Talks resume next week</title>"
        "<meta property='og:type' content='article'></head><body><article>"
        "<h1>Talks resume next week</h1>"
        + f"<div>{fig}" * depth
        + f"<div class='article-body'>{INTRO}</div>"
        + f"{fig}</div>" * depth
        + "</article></body></html>"
    ).encode()


def table(megabytes: float) -> bytes:
    row = "<tr>" + "".join(f"<td>value {c} of this row, in words</td>" for c in range(8)) + "</tr>"
    rows = int(megabytes * 1_000_000 / len(row))
    return article_page(f"<table>{row * rows}</table>")


def read(body: bytes) -> Article:
    extraction = extract(body, URL)
    assert extraction.kind == "article"
    draft = extraction.articles[0]
    article = normalize_article(draft, source_id="example", now=NOW)
    parse_body(draft.body_html, URL)  # normalize's own parse of a body (a feed item's content)
    return article


def cpu(run: Callable[[], object]) -> float:
    start = time.process_time()
    run()
    return time.process_time() - start


def assert_linear(run: Callable[[bytes], object], small: bytes, whole: bytes, what: str) -> None:
    """``run`` on ``whole`` (four times ``small``) stays under BOUND seconds of CPU and grows
    less than GROWTH times over ``small``."""
    run(small)  # imports and caches warm
    quarter = cpu(lambda: run(small))
    seconds = cpu(lambda: run(whole))
    assert seconds < BOUND, f"{what}: {seconds:.1f} s"
    # Tiny pages measure mostly noise: growth counts only once the quarter takes a moment.
    if quarter > 0.05:
        assert seconds / quarter < GROWTH, f"{what}: {quarter:.2f} s → {seconds:.2f} s"


PAGES: dict[str, tuple[Callable[[int], bytes], int]] = {
    "3,000 nested divs": (nested, 3000),
    "50,000 siblings": (siblings, 50_000),
    "10,000 figures": (figures, 10_000),
    "a body 240 levels down among figures": (deep_body, 240),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PAGES))
def test_pathological_pages_extract_in_linear_time(name: str) -> None:
    make, n = PAGES[name]
    assert_linear(read, make(n // 4), make(n), name)
    article = read(make(n))
    assert article.title == "Talks resume next week"
    assert article.paragraphs[0].startswith("First paragraph of the story")


@pytest.mark.slow
def test_a_body_selector_matching_every_paragraph_stays_linear() -> None:
    """A source's body selector that matches each of 20,000 paragraphs: every match is a part
    of the body, joined in page order (not one walk of the page per part)."""
    from syndicator.model import Selectors

    def parts(n: int) -> bytes:
        return article_page(PARAGRAPH * n, before="<img src='/img/lead.jpg' alt=''>")

    def run(page: bytes) -> int:
        draft = extract(page, URL, selectors=Selectors(body="p")).articles[0]
        assert draft.body is not None
        return len(draft.body.paragraphs)

    assert_linear(run, parts(5_000), parts(20_000), "20,000 parts")
    assert run(parts(20_000)) == 20_000 + 3  # the page's three opening paragraphs, then the rest


def test_figures_keep_their_captions_and_credits() -> None:
    article = read(figures(50))
    images = article.images
    assert images[0].url == "https://news.example/img/lead.jpg"
    assert images[0].credit == "Reuters"
    assert [i.url for i in images[1:]] == [f"https://news.example/img/{i}.jpg" for i in range(50)]
    assert all(i.credit == "AP" for i in images[1:])
    # Captions are pictures, never paragraphs.
    assert not any("Picture" in p for p in article.paragraphs)


@pytest.mark.slow
def test_a_five_megabyte_table_extracts_in_linear_time() -> None:
    whole = table(5)
    assert len(whole) > 5_000_000
    assert_linear(read, table(1.25), whole, "a 5 MB table")


def test_deep_nesting_is_cut_where_the_parser_stops_without_a_crash() -> None:
    """libxml2 stops building a tree 256 levels down (what lies deeper is not read): the page
    still gives its article, the text before the deep part, and no recursion error anywhere."""
    article = read(nested(3000))
    assert [p.split()[0] for p in article.paragraphs[:3]] == ["First", "Second", "Third"]
    assert article.content_hash.startswith("v1:")
    root = parse(nested(3000).decode())
    index = TreeIndex(root)
    deepest = max(index.depth(el) for el in index.elements())
    assert 200 < deepest < 3000


@pytest.mark.e2e
def test_the_extract_command_reads_a_pathological_page(tmp_path: Path) -> None:
    """End to end: the ``extract`` command on a deep, wide page answers, without a traceback."""
    page = tmp_path / "deep.html"
    wide = "".join(f"<span>word {i}</span> " for i in range(20_000))
    page.write_bytes(article_page(wide + "<div>" * 3000 + PARAGRAPH + "</div>" * 3000))
    done = subprocess.run(
        [sys.executable, "-m", "syndicator", "extract", "--json", str(page)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert "Traceback" not in done.stderr
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout.splitlines()[0])
    assert "Talks resume next week" in json.dumps(record, ensure_ascii=False)


def test_the_index_answers_as_walking_the_tree_would() -> None:
    root = parse(
        "<html><body><div id=a><p id=b>x<span id=c>y</span></p><p id=d>z</p></div>"
        "<div id=e><figure id=f></figure></div></body></html>"
    )
    index = TreeIndex(root)
    els = {el.get("id"): el for el in root.iter() if el.get("id")}
    for x in index.elements():
        ancestors = list(x.iterancestors())
        assert list(index.ancestors(x)) == ancestors
        assert index.depth(x) == len(ancestors)
        for y in index.elements():
            assert index.inside(x, y) == (y in ancestors)
            assert index.within(x, y) == (x is y or y in ancestors)
    order = index.elements()
    assert order == list(root.iter())
    assert index.before(els["a"], els["e"]) and not index.before(els["b"], els["a"])
    assert index.after(els["f"], els["a"]) and not index.after(els["c"], els["b"])
    boxes = index.marked(root, lambda el: el.tag == "p")
    assert [b.get("id") for b in boxes.tops] == ["b", "d"]
    assert els["c"] in boxes and boxes.below(els["c"]) and not boxes.below(els["b"])
    assert els["a"] not in boxes
    nearest = index.nearest(root, lambda el: el.tag in ("div", "p"))
    assert nearest[els["c"]] is els["b"] and nearest[els["f"]] is els["e"]

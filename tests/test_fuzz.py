"""Properties of the contract, and a bounded fuzz run over every extractor.

Properties: the content hash ignores typesetting noise (diacritics, tatweel, zero-width and bidi
controls, punctuation, spacing, Arabic-Indic digits) and is idempotent under folding; canonical
URLs are idempotent and never keep tracking parameters or fragments; region routing ignores
spelling variants and depends only on the article. Fuzz: random and mutated documents through
``extract`` and ``read_document`` of every kind raise nothing but ExtractError.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.examples import examples

from syndicator.demo import SAMPLES_DIR
from syndicator.errors import ExtractError
from syndicator.extract import KINDS, extract
from syndicator.fingerprint import content_hash, fold
from syndicator.ingest import read_document
from syndicator.model import Article, Selectors
from syndicator.normalize import canonical_url, clean_text, is_tracking_param
from syndicator.regions import RegionRule, route

NOW = datetime(2026, 2, 10, tzinfo=UTC)
ARABIC_WORDS = [
    "قال",
    "وزير",
    "الخارجية",
    "روسيا",
    "أوكرانيا",
    "السلام",
    "مدينة",
    "العالم",
    "Moscow",
    "peace",
    "2026",
    "٢٠٢٦",
]
NOISE = [
    "\u064e",
    "\u064f",
    "\u0650",
    "\u0651",
    "\u0652",
    "\u064b",
    "\u0640",
    "\u200b",
    "\u200f",
    "\u202b",
    "\u2066",
    "\ufeff",
    "،",
    "«",
    "»",
    '"',
    ".",
    "!",
    "؟",
]
SPACES = [" ", "  ", "\u00a0", "\t", "\n"]

words = st.lists(st.sampled_from(ARABIC_WORDS), min_size=1, max_size=30)


def sprinkle(text: str, rng: random.Random) -> str:
    """Typesetting noise: marks, tatweel, invisible controls and punctuation after letters."""
    out = []
    for ch in text:
        if ch == " ":
            out.append(rng.choice(SPACES))  # spacing varies only where there is a space
            continue
        out.append(ch)
        if ch.isalpha() and rng.random() < 0.3:
            out.append(rng.choice(NOISE))
    return "".join(out)


def to_indic(text: str) -> str:
    return text.translate({ord(str(d)): chr(0x0660 + d) for d in range(10)})


@settings(max_examples=examples(200), deadline=None)
@given(words, st.lists(words, min_size=1, max_size=6), st.integers(0, 2**32))
def test_hash_ignores_typesetting_noise(title: list[str], body: list[list[str]], seed: int) -> None:
    rng = random.Random(seed)
    clean_title = " ".join(title)
    paragraphs = [" ".join(p) for p in body]
    noisy_title = sprinkle(to_indic(clean_title), rng)
    noisy = [sprinkle(p, rng) for p in paragraphs]
    assert content_hash(noisy_title, noisy) == content_hash(clean_title, paragraphs)


@settings(max_examples=examples(200), deadline=None)
@given(st.text(max_size=200), st.lists(st.text(max_size=200), max_size=5))
def test_hash_is_idempotent_under_folding(title: str, paragraphs: list[str]) -> None:
    assert fold(fold(title)) == fold(title)
    assert content_hash(fold(title), [fold(p) for p in paragraphs]) == content_hash(
        title, paragraphs
    )


@settings(max_examples=examples(200), deadline=None)
@given(words, st.lists(words, min_size=1, max_size=4), st.sampled_from(ARABIC_WORDS))
def test_a_new_word_changes_the_hash(title: list[str], body: list[list[str]], extra: str) -> None:
    paragraphs = [" ".join(p) for p in body]
    changed = [*paragraphs[:-1], paragraphs[-1] + " " + extra]
    assert content_hash(" ".join(title), changed) != content_hash(" ".join(title), paragraphs)


@settings(max_examples=examples(300), deadline=None)
@given(st.text(max_size=300))
def test_clean_text_is_idempotent(text: str) -> None:
    once = clean_text(text)
    assert clean_text(once) == once
    assert once == once.strip()


segment = st.text(alphabet="abcxyzأخبار-_.~%20", min_size=1, max_size=8)
params = st.lists(
    st.tuples(
        st.sampled_from(
            ["id", "page", "utm_source", "utm_medium", "fbclid", "gclid", "q", "lang", "mc_cid"]
        ),
        st.text(alphabet="abc123", max_size=5),
    ),
    max_size=5,
)


@settings(max_examples=examples(300), deadline=None)
@given(
    st.sampled_from(["http", "HTTPS", "https"]),
    st.sampled_from(["News.Example", "news.example:443", "news.example:80", "n.example:8080"]),
    st.lists(segment, max_size=4),
    params,
    st.text(alphabet="abc#", max_size=5),
)
def test_canonical_urls_are_idempotent_and_clean(
    scheme: str, host: str, path: list[str], query: list[tuple[str, str]], fragment: str
) -> None:
    url = f"{scheme}://{host}/{'/'.join(path)}"
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query)
    url += f"#{fragment}"
    once = canonical_url(url)
    assert canonical_url(once) == once
    assert "#" not in once
    names = [p.partition("=")[0] for p in once.partition("?")[2].split("&") if p]
    assert not any(is_tracking_param(name) for name in names)
    assert once.split("://", 1)[0] in ("http", "https")


RULES = (
    RegionRule("europe", sections=("أوروبا", "Europe"), places=("موسكو",)),
    RegionRule("asia", sections=("آسيا",), places=("هانوي", "طوكيو")),
)


def article(section: str | None, dateline: str | None) -> Article:
    return Article(
        key="k",
        url="u",
        title="t",
        paragraphs=("p",),
        content_html="",
        content_hash="v1:x",
        similarity="s2:0000000000000000",
        section=section,
        dateline=dateline,
    )


@settings(max_examples=examples(200), deadline=None)
@given(
    st.sampled_from(
        ["أوروبا", "اوروبا", "أوروبا!", "EUROPE", "europe", "آسيا", "اسيا", "رياضة", None]
    ),
    st.sampled_from(["موسكو", "مُوسكو", "هانوي", "طوكيو", "القاهرة", None]),
    st.integers(0, 2**32),
)
def test_routing_ignores_spelling_and_is_deterministic(
    section: str | None, dateline: str | None, seed: int
) -> None:
    rng = random.Random(seed)
    first = route(article(section, dateline), RULES)
    noisy = route(
        article(
            sprinkle(section, rng) if section else None,
            sprinkle(dateline, rng) if dateline else None,
        ),
        RULES,
    )
    assert {m.region for m in noisy} == {m.region for m in first}
    assert route(article(section, dateline), RULES) == first


# --------------------------------------------------------------------------------------------
# Fuzz

SEEDS = [
    b"<html><head><title>t</title></head><body><article><h1>t</h1><p>"
    + b"x " * 50
    + b"</p></article></body></html>",
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>a</title>'
    b"<link>http://x.example/a</link><description>d</description></item></channel></rss>",
    b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry>'
    b"<title>a</title><link href='http://x.example/a'/><id>i</id></entry></feed>",
    b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url>'
    b"<loc>http://x.example/a</loc></url></urlset>",
    b'{"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [{"id": "1", '
    b'"url": "http://x.example/a", "content_text": "x"}]}',
    "عنوان\n\nصورة (أ.ب)\nTT\n\nعنوان\n\nفقرة أولى.\n\nمقالات ذات صلة\n\n«س» (موسكو)\n".encode(),
]


def corpus() -> list[bytes]:
    shared = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
    found = list(SEEDS)
    if shared.is_dir():
        found += [p.read_bytes()[:20000] for p in sorted(shared.rglob("*")) if p.is_file()]
    samples = SAMPLES_DIR
    found += [
        p.read_bytes()[:20000]
        for p in sorted(samples.rglob("*"))
        if p.is_file() and p.suffix != ".md"
    ]
    return found


CORPUS = corpus()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A real document cut, spliced, overwritten or flipped at random places."""
    doc = bytearray(draw(st.sampled_from(CORPUS)))
    for _ in range(draw(st.integers(1, 6))):
        if not doc:
            break
        at = draw(st.integers(0, len(doc) - 1))
        op = draw(st.sampled_from(["cut", "insert", "flip", "dup"]))
        if op == "cut":
            del doc[at : at + draw(st.integers(1, 200))]
        elif op == "insert":
            doc[at:at] = draw(
                st.sampled_from(
                    [
                        b"<",
                        b">",
                        b"&",
                        b"]]>",
                        b"<!--",
                        b"\x00",
                        b"\xff\xfe",
                        b"<p>",
                        b"</div>",
                        b'"',
                        b"&#x0;",
                        b"<!DOCTYPE x>",
                        b"\xd8\xa3",
                    ]
                )
            )
        elif op == "flip":
            doc[at] = draw(st.integers(0, 255))
        else:
            doc[at:at] = doc[at : at + draw(st.integers(1, 100))]
    return bytes(doc)


@settings(max_examples=examples(600), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mutated(), st.binary(max_size=2000)), st.sampled_from(KINDS))
def test_no_extractor_raises_anything_but_extract_error(body: bytes, kind: str) -> None:
    with contextlib.suppress(ExtractError):
        extract(body, "http://fuzz.example/doc", kind=kind)
    with contextlib.suppress(ExtractError):
        read_document(body, "http://fuzz.example/doc", now=NOW, kind=kind)


# A source's [source.select]: any valid selector, matching nothing, one element, many, nested
# ones, the whole page or its head.
SELECTORS = (
    "p",
    "div",
    "*",
    "html",
    "head",
    "body *",
    "script",
    "img",
    "figure, figcaption",
    "a",
    "div > div",
    "p:first-child",
    "title",
    "article p, div p, p",
    ".nothing-has-this",
)
SELECTOR_FIELDS = [f.name for f in dataclasses.fields(Selectors)]


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mutated(),
    st.fixed_dictionaries(
        {}, optional={name: st.sampled_from(SELECTORS) for name in SELECTOR_FIELDS}
    ),
    st.sampled_from(["auto", "html", "article", "listing"]),
)
def test_no_source_selectors_make_extraction_raise(
    body: bytes, chosen: dict[str, str], kind: str
) -> None:
    selectors = Selectors(**chosen)
    with contextlib.suppress(ExtractError):
        extract(body, "http://fuzz.example/doc", kind=kind, selectors=selectors)


# Regressions the fuzz run found, pinned on small documents.


def test_control_characters_in_a_page_are_dropped() -> None:
    """An HTML parser keeps control characters in text, where lxml's API refuses them: a byte
    \x01 between two paragraphs made the body walk raise ValueError."""
    body = (
        "<html><head><title>عنوان الخبر</title></head><body><article><h1>عنوان الخبر</h1>"
        "<p>فقرة أولى طويلة بما يكفي لتكون من نص الخبر نفسه وليست من حواشيه.</p>\x01"
        "<p>فقرة\x0cثانية\x02 طويلة بما يكفي لتكون من نص الخبر نفسه وليست من حواشيه.</p>"
        "</article></body></html>"
    ).encode()
    extract(body, "https://n.example/a", kind="auto")  # raised ValueError
    article = read_document(body, "https://n.example/a", now=NOW, kind="article").articles[0]
    assert article.paragraphs[1].startswith("فقرة ثانية طويلة")
    assert not any(c in "".join(article.paragraphs) for c in "\x01\x02\x0c")


def test_a_url_that_cannot_be_parsed_is_dropped() -> None:
    """``urljoin`` raises ValueError on an unclosed IPv6 bracket: a sitemap <loc> like that
    made the sitemap extractor raise it."""
    body = (
        b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc>http://]>x.example/a</loc></url>"
        b"<url><loc>http://x.example/b</loc></url></urlset>"
    )
    found = extract(body, "http://fuzz.example/doc", kind="auto")
    assert [t.url for t in found.teasers] == ["http://x.example/b"]

"""The bundled samples (``samples/``) against their gold (``tests/data/expected.json``).

One case per sample document: the file's bytes go through ``read_document`` with the file's
``file://`` URI as the URL and the document kind its source would be configured with, and every
field the gold states must hold. Fields the gold leaves out are not checked; ``null`` means the
value must be absent. All the mismatches of a document are reported together, one per line.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from syndicator.demo import SAMPLES_DIR
from syndicator.errors import SyndicatorError
from syndicator.ingest import Document, read_document
from syndicator.model import Article, Image, Teaser, iso

SAMPLES = SAMPLES_DIR
GOLD: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parent / "data" / "expected.json").read_text(encoding="utf-8")
)
NOW = datetime.fromisoformat(GOLD["now"])
DOCUMENTS: dict[str, dict[str, Any]] = GOLD["documents"]


def uri(relative: str | None) -> str | None:
    """The file:// URI of a path relative to samples/ (None stays None)."""
    return None if relative is None else (SAMPLES / relative).as_uri()


class Report:
    """Mismatches between the gold and what was read, collected for one document."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def check(self, where: str, field: str, expected: Any, got: Any) -> None:
        if expected != got:
            self.lines.append(f"{where}: {field}: expected {expected!r}, got {got!r}")

    def add(self, line: str) -> None:
        self.lines.append(line)


def image_fields(image: Image, *, with_url: bool) -> dict[str, Any]:
    got = {"caption": image.caption, "credit": image.credit}
    if with_url:
        got["url"] = image.url
    return got


def expected_image(wanted: dict[str, Any]) -> dict[str, Any]:
    out = dict(wanted)
    if "url" in out:
        out["url"] = uri(out["url"])
    return out


def check_article(report: Report, where: str, gold: dict[str, Any], article: Article) -> None:
    simple = ("title", "subtitle", "summary", "section", "dateline", "language", "complete")
    for field in simple:
        if field in gold:
            report.check(where, field, gold[field], getattr(article, field))
    if "url" in gold:
        report.check(where, "url", uri(gold["url"]), article.url)
    if "authors" in gold:
        report.check(where, "authors", gold["authors"], list(article.authors))
    for field in ("published", "updated"):
        if field in gold:
            report.check(where, field, gold[field], iso(getattr(article, field)))
    paragraphs = article.paragraphs
    if "paragraphs" in gold:
        report.check(where, "number of paragraphs", gold["paragraphs"], len(paragraphs))
    if "first_paragraph" in gold:
        report.check(
            where, "first paragraph", gold["first_paragraph"], paragraphs[0] if paragraphs else None
        )
    if "last_paragraph" in gold:
        report.check(
            where, "last paragraph", gold["last_paragraph"], paragraphs[-1] if paragraphs else None
        )
    if "images" in gold:
        wanted = [expected_image(w) for w in gold["images"]]
        with_url = any("url" in w for w in wanted)
        got = [image_fields(image, with_url=with_url) for image in article.images]
        report.check(where, "images", wanted, got)
    text = article.text
    for chrome in gold.get("body_must_not_contain", ()):
        if chrome in text:
            report.add(f"{where}: body contains page chrome {chrome!r}")


def check_teaser(
    report: Report, where: str, gold: dict[str, Any], teaser: Teaser, keys: dict[str, str]
) -> None:
    if "url" in gold:
        report.check(where, "url", uri(gold["url"]), teaser.url)
    for field in ("title", "summary", "section", "dateline", "language", "related"):
        if field in gold:
            report.check(where, field, gold[field], getattr(teaser, field))
    if "authors" in gold:
        report.check(where, "authors", gold["authors"], list(teaser.authors))
    if "published" in gold:
        report.check(where, "published", gold["published"], iso(teaser.published))
    if "same_story_as" in gold:
        story = gold["same_story_as"]
        expected = keys.get(story, f"<the key of the article titled {story!r}>") if story else None
        report.check(where, "story", expected, teaser.story)


def find(items: list[Any], gold: dict[str, Any]) -> Any | None:
    """The item the gold describes: by URL, else by title (a wrong URL is then reported)."""
    if gold.get("url") is not None:
        url = uri(gold["url"])
        found = next((i for i in items if i.url == url), None)
        if found is not None:
            return found
    if "title" in gold:
        return next((i for i in items if i.title == gold["title"]), None)
    return None


def check_document(name: str, gold: dict[str, Any], doc: Document) -> list[str]:
    report = Report()
    report.check(name, "document kind", gold["document_kind"], doc.kind)
    report.check(name, "errors", [], list(doc.errors))

    articles = list(doc.articles)
    report.check(name, "number of articles", len(gold["articles"]), len(articles))
    for n, wanted in enumerate(gold["articles"]):
        where = f"{name} article {n + 1} ({wanted.get('url') or wanted['title'][:40]})"
        article = find(articles, wanted)
        if article is None:
            report.add(f"{where}: not found among {[a.url for a in articles]}")
            continue
        check_article(report, where, wanted, article)

    if "teasers" in gold:
        teasers = list(doc.teasers)
        keys = {a.title: a.key for a in articles}
        report.check(name, "number of teasers", len(gold["teasers"]), len(teasers))
        for n, wanted in enumerate(gold["teasers"]):
            label = wanted.get("url") or wanted.get("title", "")[:40]
            where = f"{name} teaser {n + 1} ({label})"
            teaser = find(teasers, wanted)
            if teaser is None:
                report.add(f"{where}: not found among {[(t.url, t.title) for t in teasers]}")
                continue
            check_teaser(report, where, wanted, teaser, keys)

    if "sitemaps" in gold:
        report.check(name, "sitemaps", [uri(s) for s in gold["sitemaps"]], list(doc.sitemaps))
    return report.lines


def test_every_sample_has_gold() -> None:
    on_disk = {
        p.relative_to(SAMPLES).as_posix()
        for p in SAMPLES.rglob("*")
        if p.is_file() and p.name != "README.md" and p.parent.name != "img"  # pictures: no gold
    }
    assert on_disk == set(DOCUMENTS)


def read(name: str) -> Document:
    """A sample read as its configured source would read it; a failure fails the test."""
    path = SAMPLES / name
    try:
        return read_document(
            path.read_bytes(), path.as_uri(), now=NOW, kind=DOCUMENTS[name]["kind"]
        )
    except SyndicatorError as e:
        pytest.fail(f"{name}: read_document raised {type(e).__name__}: {e}")


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_sample(name: str) -> None:
    mismatches = check_document(name, DOCUMENTS[name], read(name))
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize(
    "story", GOLD["same_story"], ids=[s["documents"][0] for s in GOLD["same_story"]]
)
def test_same_story_same_hash(story: dict[str, Any]) -> None:
    """A story carried in full by a page and by feeds is one text: one content hash."""
    hashes = {}
    for name in story["documents"]:
        found = [a for a in read(name).articles if a.title == story["title"]]
        assert len(found) == 1, f"{name}: {len(found)} articles titled {story['title']!r}"
        hashes[name] = found[0].content_hash
    assert len(set(hashes.values())) == 1, hashes

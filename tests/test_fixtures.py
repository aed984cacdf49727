"""The shared fixture site against its gold (../shared/fixtures/expected.json).

Every article page is read twice: over HTTP from the fixture server (so the charset comes from the
wire, as in life) and from the file. Both must hold every gold field. Skipped, with the reason,
where ../shared is absent (a user's clone); it is present in CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from syndicator import config
from syndicator.fetch import fetch_once
from syndicator.ingest import Document, read_document
from syndicator.model import Article

NOW = datetime(2026, 11, 1, tzinfo=UTC)
ARTICLE_FILES = {
    "putin-vietnam": "site/article/putin-vietnam.html",
    "russia-security-guarantees": "site/article/russia-security-guarantees.html",
    "italy-rail-sabotage": "site/article/italy-rail-sabotage.html",
    "kosovo-thaci": "site/article/kosovo-thaci.html",
}
SAME_STORY_FILES = {
    "/article/putin-vietnam.html": "site/article/putin-vietnam.html",
    "/amp/putin-vietnam.html": "site/amp/putin-vietnam.html",
    "/partner/putin-vietnam.html": "partner/putin-vietnam.html",
}


def substitute(data: Any, base: str) -> Any:
    if isinstance(data, str):
        return data.replace("{{BASE}}", base)
    if isinstance(data, list):
        return [substitute(x, base) for x in data]
    if isinstance(data, dict):
        return {k: substitute(v, base) for k, v in data.items()}
    return data


@pytest.fixture(scope="module")
def gold(shared_dir: Path, shared_site: Any) -> dict[str, Any]:
    raw = json.loads((shared_dir / "fixtures" / "expected.json").read_text(encoding="utf-8"))
    return dict(substitute(raw, shared_site.base))


@pytest.fixture(scope="module")
def fixture_config(
    shared_dir: Path, shared_site: Any, tmp_path_factory: pytest.TempPathFactory
) -> config.Config:
    folder = tmp_path_factory.mktemp("fixture-config")
    text = (shared_dir / "fixtures" / "config" / "syndicator.toml").read_text(encoding="utf-8")
    text = (
        text.replace("{{BASE}}", shared_site.base)
        .replace("{{SELF}}", "http://127.0.0.1:8080")
        .replace("{{DIR}}", str(folder))
    )
    path = folder / "syndicator.toml"
    path.write_text(text, encoding="utf-8")
    return config.load(path, environ={})


def over_http(url: str, cfg: config.Config) -> Document:
    response = fetch_once(url)
    return read_document(
        response.body,
        response.url,
        now=NOW,
        config=cfg,
        content_type=response.content_type,
        kind="article",
    )


def from_file(
    shared_dir: Path, relative: str, url: str, base: str, cfg: config.Config, kind: str = "article"
) -> Document:
    body = (shared_dir / "fixtures" / relative).read_bytes().replace(b"{{BASE}}", base.encode())
    return read_document(body, url, now=NOW, config=cfg, kind=kind)


def only_article(document: Document) -> Article:
    assert len(document.articles) == 1, document.errors
    return document.articles[0]


def assert_gold(article: Article, expected: dict[str, Any]) -> None:
    assert article.url == expected["url"]
    assert article.key == expected["url"]
    assert article.title == expected["title"]
    assert article.subtitle == expected["subtitle"]
    assert article.section == expected["section"]
    assert article.published is not None
    assert article.published.isoformat().replace("+00:00", "Z") == expected["published"]
    assert (article.authors[0] if article.authors else None) == expected["author"]
    assert article.dateline == expected["dateline"]
    assert article.language == expected["language"]
    assert list(article.region_ids) == expected["regions"]
    assert len(article.paragraphs) == expected["paragraphs"]
    assert article.paragraphs[0] == expected["first_paragraph"]
    assert article.paragraphs[-1] == expected["last_paragraph"]
    assert [{"caption": i.caption, "credit": i.credit} for i in article.images] == expected[
        "images"
    ]
    assert all(i.url and i.url.startswith("http") for i in article.images)
    for junk in expected["body_must_not_contain"]:
        assert junk not in article.text, junk
        assert junk not in article.content_html, junk


@pytest.mark.parametrize("name", sorted(ARTICLE_FILES))
def test_article_over_http(name: str, gold: dict[str, Any], fixture_config: config.Config) -> None:
    expected = gold["articles"][name]
    assert_gold(only_article(over_http(expected["url"], fixture_config)), expected)


@pytest.mark.parametrize("name", sorted(ARTICLE_FILES))
def test_article_from_file(
    name: str,
    gold: dict[str, Any],
    fixture_config: config.Config,
    shared_dir: Path,
    shared_site: Any,
) -> None:
    expected = gold["articles"][name]
    document = from_file(
        shared_dir, ARTICLE_FILES[name], expected["url"], shared_site.base, fixture_config
    )
    assert_gold(only_article(document), expected)


def test_same_story_has_one_content_hash(
    gold: dict[str, Any], fixture_config: config.Config, shared_site: Any
) -> None:
    (urls,) = gold["same_story"]
    articles = [only_article(over_http(url, fixture_config)) for url in urls]
    assert len({a.content_hash for a in articles}) == 1
    # The AMP copy names the article as canonical: the same key, so never a second entry.
    assert articles[1].key == articles[0].key == urls[0]
    # The partner's reprint has its own address: a duplicate by content, recorded elsewhere.
    assert articles[2].key == urls[2]


def test_teasers_on_the_putin_page(gold: dict[str, Any], fixture_config: config.Config) -> None:
    document = over_http(gold["articles"]["putin-vietnam"]["url"], fixture_config)
    got = [
        {
            "title": t.title,
            "summary": t.summary,
            "section": t.section,
            "author": t.authors[0] if t.authors else None,
            "dateline": t.dateline,
        }
        for t in document.teasers
    ]
    assert got == gold["teasers_on_putin_page"]
    assert all(t.related and t.url for t in document.teasers)


def test_partner_only_story_from_the_partner_feed(
    gold: dict[str, Any], fixture_config: config.Config, shared_site: Any
) -> None:
    response = fetch_once(f"{shared_site.base}/partner/feed.xml")
    document = read_document(
        response.body,
        response.url,
        now=NOW,
        config=fixture_config,
        source=fixture_config.source("partner"),
    )
    by_url = {a.url: a for a in document.articles}
    for expected in gold["partner_only"]:
        article = by_url[expected["url"]]
        assert article.title == expected["title"]
        assert list(article.region_ids) == expected["regions"]


def test_listing_pages_give_their_cards(shared_site: Any, fixture_config: config.Config) -> None:
    response = fetch_once(f"{shared_site.base}/section/europe.html")
    document = read_document(
        response.body,
        response.url,
        now=NOW,
        config=fixture_config,
        source=fixture_config.source("example-europe"),
    )
    assert document.kind == "listing"
    own = [t.url for t in document.teasers if not t.related]
    assert own == [
        f"{shared_site.base}/article/{slug}.html"
        for slug in ("russia-security-guarantees", "kosovo-thaci", "italy-rail-sabotage")
    ]
    assert all(t.section == "أوروبا" and t.published for t in document.teasers if not t.related)


def test_seed_dump(
    gold: dict[str, Any], shared_dir: Path, fixture_config: config.Config, shared_site: Any
) -> None:
    expected = gold["seed_dump"]
    path = shared_dir / expected["file"]
    document = read_document(path.read_bytes(), path.as_uri(), now=NOW, config=fixture_config)
    assert [(a.title, len(a.paragraphs), len(a.images)) for a in document.articles] == [
        (f["title"], f["paragraphs"], f["images"]) for f in expected["full_articles"]
    ]
    for article in document.articles:
        assert "TT" not in article.paragraphs
        assert article.title not in article.paragraphs
        captions = {i.caption for i in article.images}
        assert not captions & set(article.paragraphs)
        assert all(i.credit for i in article.images)
    assert [t.title for t in document.teasers] == expected["teasers"]
    keys = {a.title: a.key for a in document.articles}
    stories = {t.title: t.story for t in document.teasers}
    assert stories == {title: keys.get(title) for title in expected["teasers"]}
    assert sum(1 for s in stories.values() if s) == 1
    # The dump's articles are the same stories as the site's pages: the same content hashes.
    by_title = {a.title: a.content_hash for a in document.articles}
    for name, relative in ARTICLE_FILES.items():
        page = only_article(
            from_file(
                shared_dir,
                relative,
                gold["articles"][name]["url"],
                shared_site.base,
                fixture_config,
            )
        )
        assert by_title[page.title] == page.content_hash, name


# Each broken input: a clear error (exit 1, a reason) or a best-effort result; never a traceback.
BROKEN = {
    "billion-laughs.xml": "refused",
    "feed-empty.rss": "nothing found",
    "feed-illformed.rss": None,
    "no-body.html": "nothing found",
    "not-html.html": "not a text document",
    "truncated.html": None,
    "xss.html": None,
}


@pytest.mark.e2e
@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_inputs(name: str, shared_site: Any, shared_dir: Path, tmp_path: Path) -> None:
    assert (shared_dir / "fixtures" / "broken" / name).exists()
    url = f"{shared_site.base}/broken/{name}"
    env = {k: v for k, v in os.environ.items() if k != "SYNDICATOR_CONFIG"}
    run = subprocess.run(
        [sys.executable, "-m", "syndicator", "extract", "--json", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert "Traceback" not in run.stderr
    (line,) = run.stdout.splitlines()
    result = json.loads(line)
    reason = BROKEN[name]
    if reason is None:
        assert run.returncode == 0 and result["error"] is None
        assert result["articles"] and all(
            a["title"] and a["paragraphs"] for a in result["articles"]
        )
    else:
        assert run.returncode == 1
        assert reason in result["error"]


def test_xss_is_neutralised(shared_site: Any) -> None:
    response = fetch_once(f"{shared_site.base}/broken/xss.html")
    article = only_article(read_document(response.body, response.url, now=NOW))
    html = article.content_html.lower()
    for bad in ("<script", "onerror", "javascript:", "<iframe", "style=", "alert("):
        assert bad not in html
    assert "فقرة أولى عادية." in article.paragraphs

"""Hostile input: the XSS page neutralised in every output, XML entities refused in every XML
parse, ids that cannot escape the feeds folder, bad URLs dropped from content.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.sites import Receiver

from syndicator import config
from syndicator.errors import ConfigError, ExtractError
from syndicator.extract import extract
from syndicator.normalize import sanitize_html

ACTIVE = re.compile(
    r"<script|onerror|onload|onclick|javascript:|vbscript:|<iframe|style=|alert\(", re.I
)

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>&xxe;</title>
<item><title>&xxe;</title><link>http://x.example/</link></item></channel></rss>"""

XXE_SITEMAP = b"""<?xml version="1.0"?>
<!DOCTYPE urlset [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&xxe;</loc></url></urlset>"""


@pytest.mark.parametrize(("body", "kind"), [(XXE, "rss"), (XXE_SITEMAP, "sitemap")])
def test_external_entities_are_refused(body: bytes, kind: str) -> None:
    with pytest.raises(ExtractError, match="declares XML entities"):
        extract(body, "http://x.example/feed", kind=kind)


def test_billion_laughs_is_refused_as_feed_and_as_sitemap(fixtures_dir: Path) -> None:
    body = (fixtures_dir / "broken" / "billion-laughs.xml").read_bytes()
    for kind in ("rss", "sitemap", "auto"):
        with pytest.raises(ExtractError, match="refused"):
            extract(body, "http://x.example/feed", kind=kind)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "jav&#x09;ascript:alert(1)",
    ],
)
def test_bad_urls_in_content_are_dropped(url: str) -> None:
    html = sanitize_html(f'<p><a href="{url}">x</a><img src="{url}"></p>', "https://n.example/")
    assert "javascript" not in html.lower() and "vbscript" not in html.lower()
    assert "data:" not in html


@pytest.mark.parametrize("bad", ["../escape", "a/b", "Europe", "x y", "all", ".hidden"])
def test_region_ids_cannot_name_paths(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'[[region]]\nid = "{bad}"\n', encoding="utf-8")
    with pytest.raises(ConfigError):
        config.load(path, environ={})


@pytest.mark.parametrize("bad", ["../escape", "a/b", "x y", ""])
def test_source_ids_cannot_name_paths(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        f'[[source]]\nid = "{bad}"\nkind = "rss"\nurl = "http://x/"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError):
        config.load(path, environ={})


# --------------------------------------------------------------------------------------------
# The XSS fixture through once: feeds and webhooks


@pytest.mark.e2e
def test_xss_page_is_neutralised_in_every_output(
    fixtures_dir: Path, fixture_site: Any, receiver: Receiver, tmp_path: Path
) -> None:
    cfg = tmp_path / "syndicator.toml"
    cfg.write_text(
        f"""
[service]
base_url = "http://127.0.0.1:8080"
database = "sqlite:///{tmp_path}/s.db"
feeds_dir = "{tmp_path}/feeds"

[security]
allow_private_targets = true

[[region]]
id = "europe"
title = "أوروبا"
sections = ["أوروبا"]

[[source]]
id = "hostile"
kind = "html"
url = "{fixture_site.base}/broken/xss.html"

[[notify]]
kind = "webhook"
url = "{receiver.base}/hook"
events = ["article.created", "feed.updated"]
""",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k != "SYNDICATOR_CONFIG"}
    run = subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(cfg), "once"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    feeds = tmp_path / "feeds"
    outputs = {p.name: p.read_text(encoding="utf-8") for p in feeds.iterdir() if p.is_file()}
    assert {"europe.atom", "europe.rss", "europe.json", "index.html"} <= set(outputs)
    assert "فقرة أولى عادية." in outputs["europe.json"]
    for name, text in outputs.items():
        # Feeds carry HTML escaped inside XML or JSON: unescape once, as a reader does.
        readable = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        readable = readable.replace("&quot;", '"').replace('\\"', '"')
        assert not ACTIVE.search(readable), (name, ACTIVE.search(readable))
    item = json.loads(outputs["europe.json"])["items"][0]
    assert not ACTIVE.search(item["content_html"])
    posts = receiver.posts()
    assert posts, "the webhook target got nothing"
    for post in posts:
        body = json.loads(post["body"])
        assert not ACTIVE.search(json.dumps(body, ensure_ascii=False))


def test_oversized_fields_are_cut_with_a_warning() -> None:
    from syndicator.model import Draft
    from syndicator.normalize import MAX_PARAGRAPHS, MAX_TITLE, normalize_article

    huge_title = "كلمة " * 5_000
    body = "".join(f"<p>فقرة {i}.</p>" for i in range(MAX_PARAGRAPHS + 500))
    body += "<p>" + "x" * 100_000 + "</p>"
    article = normalize_article(
        Draft(
            url="https://n.example/a",
            title=huge_title,
            summary="s " * 10_000,
            section="ق" * 5_000,
            categories=tuple(f"c{i}" for i in range(500)),
            bylines=tuple(f"Author {i}" for i in range(100)),
            body_html=body,
        )
    )
    assert len(article.title) <= MAX_TITLE and article.title.endswith("…")
    assert len(article.paragraphs) == MAX_PARAGRAPHS
    assert article.summary is not None and len(article.summary) <= 2_000
    assert article.section is not None and len(article.section) <= 200
    assert len(article.categories) <= 30 and len(article.authors) <= 20
    assert len(article.content_html) <= 2_000_000
    assert any("title cut" in w for w in article.warnings)
    assert any("paragraphs: kept the first" in w for w in article.warnings)

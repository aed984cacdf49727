"""The pages people open, rendered and then driven in headless Chromium (tests/support/browser.py).

The renderers first, as data: hostile values are escaped everywhere, right-to-left text is
marked. Then one real service (``run --listen`` on the shipped config, with an API token and a
webhook target that always fails) and a browser: the home page, a region's page reached by
"Subscribe" (never raw XML), the status page, a source's page with its actions (fetch now,
pause, resume) and the outbox with its dead letters and retry button. Each page: a screenshot
in tests/artifacts/, its DOM asserted (no markup shown as text, right to left where it should
be, no console error or blocked request). The actions are refused without the token, and from
another site (CSRF), and the token never appears in a URL.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from support.browser import Browser
from support.service import ServiceProcess, free_port, wait_for
from support.sites import Receiver, run_receiver

from syndicator import config as config_module
from syndicator import pages
from syndicator.model import Article, Entry, FeedInfo, Origin
from syndicator.web import status

REPO = Path(__file__).resolve().parent.parent
TOKEN = "page-token-" + "x" * 20
HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
BASE = "http://127.0.0.1:8080"


# --------------------------------------------------------------------------------------------
# The renderers, as data


def entry(n: int, title: str, language: str | None, url: str = "") -> Entry:
    article = Article(
        key=url or f"https://news.example/{n}",
        url=url or f"https://news.example/{n}",
        title=title,
        paragraphs=(f"{title}.",),
        content_html=f"<p>{title}.</p>",
        content_hash=f"v1:{n}",
        similarity="s2:0",
        language=language,
        summary=HOSTILE,
        authors=(HOSTILE,),
    )
    when = NOW - timedelta(hours=n)
    return Entry(f"tag:x,2026:{n}", article, when, when, Origin("o", HOSTILE))


def test_published_pages_escape_everything_and_mark_direction() -> None:
    info = FeedInfo("world", HOSTILE, BASE, language="ar", description=HOSTILE, rtl=True)
    entries = [entry(1, "عنوان عربي", "ar"), entry(2, HOSTILE, "en", url="javascript:alert(3)")]
    home = pages.home_page(
        HOSTILE,
        [info],
        formats=("atom", "rss", "json"),
        latest={"world": entries},
        sizes={"world": 2},
        language="ar",
        hub=f"{BASE}/hub",
    ).decode()
    region = pages.region_page(info, entries, formats=("atom", "rss"), hub=f"{BASE}/hub").decode()
    for page in (home, region):
        assert "<script" not in page and "onerror=" not in page.replace("onerror=alert", "")
        assert "javascript:" not in page  # a link that is not http(s) is not a link
        tree = lxml.html.fromstring(page)
        assert not tree.xpath("//script | //iframe | //*[@onerror] | //*[@onclick]")
        assert tree.get("lang") == "ar" and tree.get("dir") == "rtl"
    tree = lxml.html.fromstring(region)
    (arabic,) = tree.xpath('//article[@id="entry-tag%3Ax%2C2026%3A1"]')
    assert arabic.get("dir") == "rtl" and arabic.get("lang") == "ar"
    (english,) = tree.xpath('//article[@id="entry-tag%3Ax%2C2026%3A2"]')
    assert english.get("dir") == "ltr" and english.get("lang") == "en"
    feeds = [x.get("href") for x in tree.xpath('//link[@rel="alternate"]')]
    assert feeds == [f"{BASE}/feeds/world.atom", f"{BASE}/feeds/world.rss"]
    values = [x.get("value") for x in tree.xpath("//input")]
    assert values == [f"{BASE}/feeds/world.atom", f"{BASE}/feeds/world.rss", f"{BASE}/hub"]
    home_tree = lxml.html.fromstring(home)
    assert home_tree.xpath('//a[@class="button"]/@href') == [f"{BASE}/feeds/world.html"]
    # Every format leads to its address on the region's page, never to the feed itself
    assert home_tree.xpath('//p[@class="subscribe"]//a/@href') == [
        f"{BASE}/feeds/world.html",
        *(f"{BASE}/feeds/world.html#feed-{x}" for x in ("atom", "rss", "json", "hub")),
    ]
    # a time in words and in UTC, with the machine-readable instant beside it
    (first,) = home_tree.xpath("//ol/li[1]//time")
    assert first.text == "14 March 2026, 11:00 UTC" and first.get("datetime") == (
        "2026-03-14T11:00:00Z"
    )


def test_ops_pages_escape_everything() -> None:
    cfg = config_module.from_documents(
        [("t.toml", {"region": [{"id": "world", "title": "العالم", "language": "ar"}]})], {}
    )
    row = {
        "id": "s",
        "kind": "rss",
        "url": HOSTILE,
        "schedule": HOSTILE,
        "health": HOSTILE,
        "health_reason": HOSTILE,
        "last_error": HOSTILE,
        "paused": True,
        "paused_at": "2026-03-14T10:00:00Z",
    }
    fetch = {
        "url": HOSTILE,
        "at": "2026-03-14T11:00:00Z",
        "status": 500,
        "outcome": "error",
        "reason": HOSTILE,
        "bytes": 2048,
        "duration_ms": 12,
    }
    source = status.source_page(
        cfg,
        row,
        now=NOW,
        fetches=[fetch],
        events=[{"type": "source.failing", "occurred_at": "x", "source": {"reason": HOSTILE}}],
        articles=[entry(1, HOSTILE, None)],
        revisions={"tag:x,2026:1": [{"revision": 1, "at": "t", "diff": f"+{HOSTILE}\n-old"}]},
        token_configured=True,
        message=HOSTILE,
    )
    dead = {
        "id": 7,
        "target": HOSTILE,
        "event_id": HOSTILE,
        "type": HOSTILE,
        "occurred_at": "x",
        "attempts": 3,
        "last_error": HOSTILE,
    }
    target = {"target": HOSTILE, "pending": 0, "delivered": 1, "dead": 1, "last_error": HOSTILE}
    outbox = status.outbox_page(cfg, [target], [dead], now=NOW, token_configured=True)
    for page in (source, outbox):
        tree = lxml.html.fromstring(page)
        assert not tree.xpath("//script | //img | //*[@onerror]"), page
        assert tree.get("lang") == "en" and tree.get("dir") == "ltr"
        # every form posts to the page itself, the token in a password field: never in a URL
        for form in tree.xpath("//form"):
            assert form.get("method") == "post" and form.get("action") is None
            assert form.xpath('.//input[@type="password"][@name="token"]')
    assert "Resume" in source and "Fetch now" in source  # paused: the button resumes
    no_token = status.outbox_page(cfg, [target], [dead], now=NOW, token_configured=False)
    assert "<form" not in no_token and "SYNDICATOR_API_TOKEN" in no_token


# --------------------------------------------------------------------------------------------
# One service and one browser


@dataclass
class Site:
    base: str
    folder: Path
    receiver: Receiver

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.base + path, timeout=10) as answer:
            return json.loads(answer.read())

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        request = urllib.request.Request(self.base + path, body, headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as e:
            return int(e.code)

    def wait(self, check: Any, what: str, seconds: float = 30) -> Any:
        return wait_for(check, what, seconds, interval=0.2)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("pages")
    shutil.copytree(REPO / "config", folder / "config")
    port = free_port()
    with run_receiver(folder / "receiver", fail_first=10**6) as receiver:
        (folder / "config" / "zz-notify.toml").write_text(
            '[security]\nallow_private_targets = true\n\n[[notify]]\nkind = "webhook"\n'
            f'url = "{receiver.base}/hook"\nmax_attempts = 1\n'
            'events = ["feed.updated"]\n',
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if k != "SYNDICATOR_CONFIG"}
        env["SYNDICATOR_API_TOKEN"] = TOKEN
        service = ServiceProcess(
            folder / "config",
            "run",
            "--listen",
            f"127.0.0.1:{port}",
            cwd=folder,
            log=folder / "run.log",
            env=env,
            backstop=1800,  # it serves the whole module's browser tests
        ).start()
        found = Site(f"http://127.0.0.1:{port}", folder, receiver)
        try:

            def ready() -> bool:
                try:
                    sources = found.get("/api/sources")
                except OSError:
                    return False
                fetched = all(s.get("last_fetch_at") for s in sources)
                feeds = [found.get(f"/feeds/{r}.json") for r in ("world", "culture", "all")]
                return fetched and all(f["items"] for f in feeds)

            service.wait_for(ready, "the first passes and the pages", seconds=60)
            yield found
        finally:
            service.stop(seconds=60)
            assert "Traceback" not in service.output(), service.output()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    with Browser(tmp_path / "profile") as b:
        yield b


def shown_as_text(b: Browser) -> list[str]:
    """Markup a person would read as text: tags or entities that were escaped once too often."""
    text: str = b.js("document.body.innerText")
    return [bit for bit in ("<p>", "</p>", "<div", "&lt;", "&amp;", "&quot;", "<a ") if bit in text]


@pytest.mark.e2e
def test_home_page_in_chromium(site: Site, browser: Browser) -> None:
    browser.open(site.base + "/")
    browser.screenshot("home")
    assert browser.js("document.documentElement.lang") == "ar"
    assert browser.js("getComputedStyle(document.body).direction") == "rtl"
    assert shown_as_text(browser) == []
    cards = browser.js(
        "[...document.querySelectorAll('section.card')].map(c => [c.id, "
        "c.querySelectorAll('ol li').length, getComputedStyle(c.querySelector('h2')).direction])"
    )
    assert [c[0] for c in cards] == [
        f"region-{r}" for r in ("middle-east", "world", "culture", "all")
    ]
    assert all(c[1] >= 1 and c[2] == "rtl" for c in cards), cards
    # Each headline: its title, its source and when, in words and in UTC
    first = browser.js("document.querySelector('ol li .sub').innerText")
    assert "UTC" in first and "sample-" in first
    links = browser.js("[...document.querySelectorAll('nav a')].map(a => a.getAttribute('href'))")
    assert f"{site.base}/feeds/index.opml" in links and f"{site.base}/status" in links
    # An English headline keeps its own direction inside the right-to-left page
    english = browser.js(
        "[...document.querySelectorAll('ol li a span[lang=en]')].map(s => "
        "getComputedStyle(s).direction)"
    )
    assert english and set(english) == {"ltr"}
    assert browser.problems == []


@pytest.mark.e2e
def test_subscribe_leads_to_the_region_page_not_to_xml(site: Site, browser: Browser) -> None:
    # The format links beside the button lead to the same page, at that feed's address
    browser.open(site.base + "/")
    browser.submit("document.querySelector('#region-world .subscribe .muted a').click()")
    assert browser.js("location.pathname + location.hash") == "/feeds/world.html#feed-atom"
    assert browser.js("document.contentType") == "text/html"
    browser.open(site.base + "/")
    browser.submit("document.querySelector('#region-world a.button').click()")
    browser.screenshot("region-world")
    assert browser.js("location.pathname") == "/feeds/world.html"
    assert browser.js("document.contentType") == "text/html"
    assert shown_as_text(browser) == []
    values = browser.js("[...document.querySelectorAll('#subscribe input')].map(i => i.value)")
    assert values[:3] == [f"{site.base}/feeds/world.{x}" for x in ("atom", "rss", "json")]
    discovery = browser.js("[...document.querySelectorAll('link[rel=alternate]')].map(l => l.type)")
    assert discovery == ["application/atom+xml", "application/rss+xml", "application/feed+json"]
    directions = browser.js(
        "[...document.querySelectorAll('article.entry')].map(a => [a.lang, "
        "getComputedStyle(a).direction])"
    )
    assert ["ar", "rtl"] in directions and ["en", "ltr"] in directions
    # The full text opens in place, pictures and all (served by the service)
    browser.js("document.querySelectorAll('details').forEach(d => d.open = true)")
    images = browser.js(
        "Promise.all([...document.querySelectorAll('article img')].map(i => i.decode()"
        ".then(() => i.naturalWidth, () => 0)))"
    )
    assert images and all(width > 0 for width in images), images
    browser.screenshot("region-world-open")
    assert browser.problems == []
    # Every feed points at this page
    with urllib.request.urlopen(site.base + "/feeds/world.atom", timeout=10) as answer:
        atom = answer.read().decode()
    assert f'<link href="{site.base}/feeds/world.html" rel="alternate" type="text/html"/>' in atom


@pytest.mark.e2e
def test_status_page_in_chromium(site: Site, browser: Browser) -> None:
    browser.open(site.base + "/status")
    browser.screenshot("status")
    assert browser.js("document.documentElement.lang") == "en"
    assert shown_as_text(browser) == []
    refresh = browser.js("document.querySelector('meta[http-equiv=refresh]').content")
    assert refresh == str(status.STATUS_REFRESH_SECONDS)
    title = browser.js("getComputedStyle(document.querySelector('h1 span[lang=ar]')).direction")
    assert title == "rtl"
    rows = browser.js("[...document.querySelectorAll('tbody tr')].map(r => r.id)")
    assert "source-sample-world" in rows
    assert browser.problems == []


@pytest.mark.e2e
def test_a_source_page_pauses_resumes_and_fetches_with_the_token(
    site: Site, browser: Browser
) -> None:
    page = site.base + "/status/sources/sample-rss"
    browser.open(page)
    browser.screenshot("source")
    sections = browser.js("[...document.querySelectorAll('h3')].map(h => h.innerText)")
    assert sections == ["Health history", "Last fetches", "Articles it brought"]
    assert browser.js("document.querySelectorAll('.strip span').length") >= 1
    assert shown_as_text(browser) == []
    # A wrong token: refused, nothing changes
    browser.js("document.querySelector('input[name=token]').value = 'wrong'")
    browser.submit("document.querySelector('button[value=pause]').click()")
    assert browser.js("location.search") == "?done=refused"
    assert "not valid" in browser.js("document.querySelector('.notice').innerText")
    assert not any(s["paused"] for s in site.get("/api/sources"))
    # The right one: paused, and shown so on the page, the status page and in the API
    browser.open(page)
    browser.js(f"document.querySelector('input[name=token]').value = '{TOKEN}'")
    browser.submit("document.querySelector('button[value=pause]').click()")
    assert browser.js("location.href") == page + "?done=paused"
    assert TOKEN not in browser.js("location.href")
    browser.screenshot("source-paused")
    assert browser.js("document.querySelector('.notice').innerText").startswith("Paused")
    assert browser.js("!!document.querySelector('h2 .h-paused')")
    assert {s["id"]: s["paused"] for s in site.get("/api/sources")}["sample-rss"] is True
    browser.open(site.base + "/status")
    assert browser.js("!!document.querySelector('#source-sample-rss .h-paused')")
    # The service was started before this test's own database (if any) was named: the command
    # reads the store the service's config names, as the service does.
    env = {k: v for k, v in os.environ.items() if k != "SYNDICATOR_DATABASE"}
    cli = subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", "config", "status", "--json"],
        cwd=site.folder, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert {s["id"]: s["paused"] for s in json.loads(cli.stdout)}["sample-rss"] is True
    # Fetch now works on a paused source; resume brings back its schedule
    fetched_before = len(site.get("/api/sources"))
    browser.open(page)
    browser.js(f"document.querySelector('input[name=token]').value = '{TOKEN}'")
    browser.submit("document.querySelector('button[value=fetch]').click()")
    assert browser.js("location.search") == "?done=fetching"
    browser.js(f"document.querySelector('input[name=token]').value = '{TOKEN}'")
    browser.submit("document.querySelector('button[value=resume]').click()")
    assert browser.js("location.search") == "?done=resumed"
    assert not any(s["paused"] for s in site.get("/api/sources"))
    assert fetched_before == len(site.get("/api/sources"))
    assert browser.problems == []


@pytest.mark.e2e
def test_the_outbox_shows_dead_letters_and_retries_them(site: Site, browser: Browser) -> None:
    site.wait(lambda: site.receiver.posts(), "a webhook attempt")
    browser.open(site.base + "/status/outbox")
    site.wait(
        lambda: (browser.open(site.base + "/status/outbox"), browser.js(
            "document.querySelectorAll('tr[id^=dead-]').length"))[1],
        "a dead letter on the outbox page",
    )  # fmt: skip
    browser.screenshot("outbox")
    assert shown_as_text(browser) == []
    attempts = len(site.receiver.posts())
    browser.js(f"document.querySelector('input[name=token]').value = '{TOKEN}'")
    browser.submit("document.querySelector('tr[id^=dead-] button[name=retry]').click()")
    assert browser.js("location.search") == "?done=retried"
    site.wait(lambda: len(site.receiver.posts()) > attempts, "the retried delivery")
    assert browser.problems == []


@pytest.mark.e2e
def test_actions_need_the_token_and_this_site(site: Site) -> None:
    form = f"token={TOKEN}&action=pause".encode()
    kind = {"Content-Type": "application/x-www-form-urlencoded"}
    path = "/status/sources/sample-world"
    # From another site (a CSRF attempt): refused, whatever the token
    assert site.post(path, form, {**kind, "Origin": "http://evil.example"}) == 403
    assert site.post(path, form, {**kind, "Sec-Fetch-Site": "cross-site"}) == 403
    assert site.post(path, form, kind) == 403  # no Origin at all: not a page of ours
    assert not any(s["paused"] for s in site.get("/api/sources"))
    # The API takes the bearer token instead
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert site.post("/api/sources/sample-world/pause", b"", {"Authorization": "Bearer no"}) == 401
    assert site.post("/api/sources/sample-world/pause", b"", bearer) == 200
    assert {s["id"]: s["paused"] for s in site.get("/api/sources")}["sample-world"] is True
    assert site.post("/api/sources/sample-world/resume", b"", bearer) == 200
    assert site.post("/api/sources/nowhere/pause", b"", bearer) == 404
    assert site.post("/api/sources/sample-world/explode", b"", bearer) == 400
    assert site.post("/api/deliveries/retry", b'{"id": "x"}', bearer) == 400


def test_fetch_now_needs_run_while_pause_works_everywhere(tmp_path: Path) -> None:
    """`serve` (and a scaled web node) only serves: "fetch now" says where it works instead of
    fetching in the web process; a pause, kept in the store, works from any process."""
    import asyncio

    from syndicator.service import Service
    from syndicator.web import make_app

    (tmp_path / "c.toml").write_text(
        f'[service]\ndatabase = "sqlite:///{tmp_path}/s.db"\nfeeds_dir = "{tmp_path}/feeds"\n'
        '[[region]]\nid = "world"\ntitle = "World"\n'
        '[[source]]\nid = "one"\nkind = "rss"\nurl = "https://news.example/feed.rss"\n',
        encoding="utf-8",
    )
    cfg = config_module.load(tmp_path / "c.toml", environ={"SYNDICATOR_API_TOKEN": TOKEN})
    service = Service(cfg, poll=False)
    app = make_app(service)

    async def post(path: str) -> int:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        headers = [(b"authorization", f"Bearer {TOKEN}".encode())]
        scope = {"type": "http", "method": "POST", "path": path, "query_string": b"",
                 "headers": headers, "client": ("127.0.0.1", 1)}  # fmt: skip
        await app(scope, receive, send)
        return int(sent[0]["status"])

    try:
        assert asyncio.run(post("/api/sources/one/fetch")) == 409
        assert asyncio.run(post("/api/sources/one/pause")) == 200
        (state,) = service.store.source_states()
        assert state.paused
    finally:
        service.syndication.close()

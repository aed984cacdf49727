"""The web layer end to end: the real ``syndicator run`` (and ``serve``) as a subprocess on a free
loopback port, driven over HTTP, on the bundled samples or the shared fixture site.

Each server is started with a backstop (``timeout``) so it stops by itself even if the test
process dies; each test stops its servers with SIGTERM and checks they exit 0. Feed readers
are real clients too: feedparser and the ``reader`` library revalidate with the validators we
gave them and get 304s. A few checks call the ASGI application in process (no server) where a
fault has to be injected: the store failing, no API token configured.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import feedparser
import pytest
from support.database import PostgresDatabases
from support.records import article_object
from support.service import REPO, TOKEN, Answer, Server, asgi_call, samples_toml

from syndicator import config as config_module
from syndicator.demo import SAMPLES_DIR
from syndicator.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from syndicator.model import Article
from syndicator.service import Service
from syndicator.store import Store
from syndicator.web import Web, accepts_gzip, etag_listed, make_app, openapi_document
from syndicator.web.status import status_page as render_status_page

ARTIFACTS = REPO / "tests" / "artifacts"
HOSTILE = "<script>alert(1)</script>"


def source_ids() -> list[str]:
    return re.findall(r'^id = "(sample-[^"]+)"', samples_toml(), flags=re.M)


# --------------------------------------------------------------------------------------------
# One service on the samples, shared by the module's read-mostly tests


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("web")
    server = Server(folder / "service")
    (server.config / "10-samples.toml").write_text(samples_toml(), encoding="utf-8")
    (server.config / "20-service.toml").write_text(
        server.service_toml(title="نشرة المثال") + f'\n[[source]]\nid = "hostile"\nkind = "rss"\n'
        f'url = "{folder}/missing/{HOSTILE}.xml"\nevery = "2s"\n',
        encoding="utf-8",
    )
    try:
        server.start()
        server.wait_until_settled()
        yield server
        code = server.stop()
        assert code == 0, server.output()
        assert "Traceback" not in server.output()
    finally:
        server.kill()


# --------------------------------------------------------------------------------------------
# /feeds: validators, 304, gzip, HEAD, Link, types, traversal


@pytest.mark.parametrize(
    ("file", "media_type"),
    [
        ("world.atom", "application/atom+xml"),
        ("world.rss", "application/rss+xml"),
        ("world.json", "application/feed+json"),
        ("all.atom", "application/atom+xml"),
    ],
)
def test_feed_headers(svc: Server, file: str, media_type: str) -> None:
    answer = svc.get(f"/feeds/{file}")
    assert answer.status == 200
    headers = answer.headers
    assert headers["content-type"].split(";")[0] == media_type
    assert re.fullmatch(r'"[0-9a-f]{32}"', headers["etag"])  # strong
    assert headers["last-modified"].endswith(" GMT")
    assert "max-age=" in headers["cache-control"]
    assert headers["vary"].lower() == "accept-encoding"
    assert headers["link"] == (
        f'<{svc.base}/hub>; rel="hub", <{svc.base}/feeds/{file}>; rel="self"'
    )
    assert headers["x-content-type-options"] == "nosniff"
    assert int(headers["content-length"]) == len(answer.body)
    assert "access-control-allow-origin" not in headers


def test_conditional_get(svc: Server) -> None:
    full = svc.get("/feeds/world.atom")
    etag, modified = full.headers["etag"], full.headers["last-modified"]
    # If-None-Match: the same tag, weakly compared, in a list, or *.
    for value in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        answer = svc.get("/feeds/world.atom", if_none_match=value)
        assert answer.status == 304, value
        assert answer.body == b""
        assert answer.headers["etag"] == etag
        assert answer.headers["last-modified"] == modified
        assert "link" in answer.headers and "cache-control" in answer.headers
    assert svc.get("/feeds/world.atom", if_none_match='"other"').status == 200
    # If-Modified-Since: the same date, or later, is not modified; earlier is.
    assert svc.get("/feeds/world.atom", if_modified_since=modified).status == 304
    later = "Fri, 01 Jan 2100 00:00:00 GMT"
    assert svc.get("/feeds/world.atom", if_modified_since=later).status == 304
    earlier = "Sat, 01 Jan 2000 00:00:00 GMT"
    assert svc.get("/feeds/world.atom", if_modified_since=earlier).status == 200
    assert svc.get("/feeds/world.atom", if_modified_since="not a date").status == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2), both ways round.
    assert svc.get("/feeds/world.atom", if_none_match='"x"', if_modified_since=later).status == 200
    assert svc.get("/feeds/world.atom", if_none_match=etag, if_modified_since=earlier).status == 304
    # HEAD revalidates too.
    assert svc.request("HEAD", "/feeds/world.atom", {"If-None-Match": etag}).status == 304


def test_gzip_is_its_own_representation(svc: Server) -> None:
    plain = svc.get("/feeds/world.atom")
    packed = svc.get("/feeds/world.atom", accept_encoding="gzip, deflate")
    assert packed.status == 200
    assert packed.headers["content-encoding"] == "gzip"
    assert int(packed.headers["content-length"]) == len(packed.body) < len(plain.body)
    assert gzip.decompress(packed.body) == plain.body
    assert packed.headers["etag"] != plain.headers["etag"]  # RFC 9110 8.8.3
    assert packed.headers["vary"].lower() == "accept-encoding"
    again = svc.get(
        "/feeds/world.atom", accept_encoding="gzip", if_none_match=packed.headers["etag"]
    )
    assert again.status == 304 and again.headers["etag"] == packed.headers["etag"]
    refused = svc.get("/feeds/world.atom", accept_encoding="gzip;q=0, identity")
    assert "content-encoding" not in refused.headers and refused.body == plain.body


def test_head(svc: Server) -> None:
    get = svc.get("/feeds/world.rss")
    head = svc.request("HEAD", "/feeds/world.rss")
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == str(len(get.body))
    assert head.headers["etag"] == get.headers["etag"]
    assert svc.request("HEAD", "/feeds/nope.rss").status == 404


@pytest.mark.parametrize(
    "path",
    [
        "/feeds/../config/20-service.toml",
        "/feeds/%2e%2e/config/20-service.toml",
        "/feeds/%2E%2E%2Fconfig%2F20-service.toml",
        "/feeds/..%2f..%2f..%2fetc%2fpasswd",
        "/feeds//etc/passwd",
        "/feeds/%2fetc%2fpasswd",
        "/feeds/archive/../../syndicator.db",
        "/feeds/.world.atom.tmp",
        "/feeds/world.atom%00.html",
        "/feeds/",
    ],
)
def test_paths_outside_the_published_files_find_nothing(svc: Server, path: str) -> None:
    answer = svc.get(path)
    assert answer.status == 404
    assert b"service" not in answer.body and b"root:" not in answer.body


def test_unknown_routes_and_methods(svc: Server) -> None:
    missing = svc.get("/nope")
    assert missing.status == 404 and missing.headers["content-type"].startswith("text/plain")
    api_missing = svc.get("/api/nope")
    assert api_missing.status == 404 and api_missing.json()["error"]
    assert api_missing.headers["x-content-type-options"] == "nosniff"
    wrong = svc.request("DELETE", "/feeds/world.atom")
    assert wrong.status == 405 and wrong.headers["allow"] == "GET, HEAD"
    post_status = svc.request("POST", "/status")
    assert post_status.status == 405 and post_status.headers["allow"] == "GET, HEAD"
    put = svc.request("PUT", "/api/articles")
    assert put.status == 405 and put.headers["allow"] == "GET, HEAD, POST"
    assert put.json()["error"]


# --------------------------------------------------------------------------------------------
# Pages


HTML_HEADERS = {
    # no script, nothing loaded but the style and pictures, forms to this site only, no frame
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: http: data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def test_index_page(svc: Server) -> None:
    answer = svc.get("/")
    assert answer.status == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    for name, value in HTML_HEADERS.items():
        assert answer.headers[name] == value
    assert "/feeds/world.atom" in answer.text
    assert svc.get("/", if_none_match=answer.headers["etag"]).status == 304


def test_status_page(svc: Server) -> None:
    world_articles = svc.get("/api/articles?region=world&limit=500").json()
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    first_day = (datetime.now(UTC) - timedelta(days=13)).strftime("%Y-%m-%d")
    # Counted by the day each was published (undated ones: the day they were first seen)
    published = [a["published"][:10] for a in world_articles]
    in_world = sum(1 for day in published if day >= first_day)
    on_the_day = sum(1 for day in published if day == today)
    answer = svc.get("/status")
    assert answer.status == 200
    for name, value in HTML_HEADERS.items():
        assert answer.headers[name] == value
    assert answer.headers["cache-control"] == "no-store"
    page = answer.text
    for source_id in [*source_ids(), "hostile"]:
        assert f'id="source-{source_id}"' in page
    # The hostile source's URL is shown: escaped.
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page.lower() and "http://" not in page.split("</head>")[0]
    # Health is coloured; the sources read without trouble are ok, the hostile one failing.
    assert re.search(r'id="source-sample-world" class="ok"', page)
    assert re.search(r'id="source-hostile" class="failing"', page)
    assert 'class="badge h-failing" style="color:#cf222e' in page
    # One inline SVG chart per region, titles in Arabic marked right to left.
    assert page.count("<svg ") == 3
    assert '<span class=title lang="ar" dir="rtl">العالم</span>' in page
    # Each source links to its own page; the page refreshes itself
    assert '<a href="/status/sources/sample-world"><code>sample-world</code></a>' in page
    assert '<meta http-equiv="refresh" content="30">' in page
    world = re.search(r'<figure class="chart" id="chart-world">.*?</figure>', page, flags=re.S)
    assert world is not None
    assert f"<title>{today}: {on_the_day} article" in world.group(0)
    assert f"world</code> · {in_world} in 14 days" in world.group(0)
    assert world.group(0).count("<rect ") == 14


# --------------------------------------------------------------------------------------------
# /healthz and /metrics


def test_healthz(svc: Server) -> None:
    answer = svc.get("/healthz")
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    health = answer.json()
    assert health["store"] == "ok"
    assert health["mode"] == "run"
    assert health["uptime_seconds"] > 0
    assert sum(health["sources"].values()) == len(source_ids()) + 1
    svc.wait_until(
        lambda: svc.get("/healthz").json()["sources"]["failing"] == 1, "hostile is failing"
    )
    assert svc.get("/healthz").json()["status"] == "degraded"


def test_metrics(svc: Server) -> None:
    etag = svc.get("/feeds/world.atom").headers["etag"]
    before = svc.metric("syndicator_http_requests_total", route="/feeds/{file}", status="304")
    svc.get("/feeds/world.atom", if_none_match=etag)
    svc.get("/feeds/world.atom", if_none_match=etag)
    svc.get("/nope/a/b")
    answer = svc.get("/metrics")
    assert answer.status == 200
    assert answer.headers["content-type"] == METRICS_CONTENT_TYPE
    text = answer.text
    assert "syndicator_http_requests_total" in text
    assert 'syndicator_source_health{source="sample-world",state="ok"} 1.0' in text
    assert 'syndicator_source_health{source="hostile",state="failing"} 1.0' in text
    assert "syndicator_http_request_seconds_bucket" in text
    # No *_created series (a creation timestamp per counter and label set nobody reads)
    assert "_created" not in text
    after = svc.metric("syndicator_http_requests_total", route="/feeds/{file}", status="304")
    assert after == before + 2
    routes = set(re.findall(r'syndicator_http_requests_total\{route="([^"]*)"', text))
    assert routes <= {
        "/feeds/{file}",
        "/",
        "/status",
        "/healthz",
        "/metrics",
        "/openapi.json",
        "/api/sources",
        "/api/articles",
        "/api/articles/{id}",
        "/api/reload",
        "unmatched",
    }
    assert "world.atom" not in "".join(routes)


# --------------------------------------------------------------------------------------------
# The JSON API


def test_api_sources(svc: Server) -> None:
    rows = svc.get("/api/sources").json()
    assert [r["id"] for r in rows] == [*source_ids(), "hostile"]
    world = next(r for r in rows if r["id"] == "sample-world")
    # Read fine: 200 the first time, 304 on later passes of the unchanged sample file.
    assert world["health"] == "ok" and world["last_status"] in (200, 304)
    assert world["created"] >= 1 and world["last_success_at"]
    assert world["next_run"] and world["schedule"] == "every 2s"
    hostile = next(r for r in rows if r["id"] == "hostile")
    assert HOSTILE in hostile["url"] and hostile["last_error"]  # JSON: the text as it is


def test_api_articles(svc: Server) -> None:
    items = svc.get("/api/articles?limit=500").json()
    assert items, "the samples gave articles"
    updated = [i["updated"] for i in items]
    assert updated == sorted(updated, reverse=True)
    for item in items:
        assert {"id", "url", "title", "regions", "published", "updated", "content_hash"} <= set(
            item
        )
        assert item["id"].startswith("tag:")
    world = svc.get("/api/articles?region=world").json()
    assert world and all("world" in i["regions"] for i in world)
    feed = feedparser.parse(svc.get("/feeds/world.atom").body)
    assert [i["id"] for i in world] == [e.id for e in feed.entries]
    assert len(svc.get("/api/articles?limit=2").json()) == 2
    middle = updated[len(updated) // 2]
    since = svc.get(f"/api/articles?since={quote(middle)}&limit=500").json()
    assert since and all(i["updated"] >= middle for i in since)
    assert len(since) == sum(1 for u in updated if u >= middle)
    assert svc.get("/api/articles?since=2100-01-01T00:00:00Z").json() == []
    for bad in ("since=yesterday", "limit=0", "limit=501", "limit=x", "region=mars"):
        answer = svc.get(f"/api/articles?{bad}")
        assert answer.status == 400, bad
        assert answer.json()["error"]


def test_api_article_by_id(svc: Server) -> None:
    item = svc.get("/api/articles?region=world&limit=1").json()[0]
    entry_id = item["id"]
    assert ":" in entry_id and "/" in entry_id
    for path in (quote(entry_id, safe=""), quote(entry_id, safe=":/")):
        answer = svc.get(f"/api/articles/{path}")
        assert answer.status == 200, path
        record = answer.json()
        assert record["id"] == entry_id and record["key"] == item["key"]
        assert [r["region"] for r in record["regions"]] == item["regions"]
    missing = svc.get("/api/articles/" + quote("tag:nowhere,2026:article/none", safe=""))
    assert missing.status == 404 and missing.json()["error"]


def test_openapi(svc: Server) -> None:
    answer = svc.get("/openapi.json")
    assert answer.status == 200 and answer.headers["content-type"] == "application/json"
    document = answer.json()
    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": svc.base}]
    assert set(document["paths"]) == {
        "/feeds/{file}",
        "/",
        "/status",
        "/healthz",
        "/metrics",
        "/api/sources",
        "/api/articles",
        "/api/articles/{id}",
        "/api/reload",
        "/hub",
        "/openapi.json",
        "/status/sources/{id}",
        "/status/outbox",
        "/api/sources/{id}/{action}",
        "/api/deliveries/retry",
    }
    assert set(document["paths"]["/api/articles"]) == {"get", "post"}
    assert document["paths"]["/api/articles"]["post"]["security"] == [{"bearer": []}]
    assert "application/x-www-form-urlencoded" in json.dumps(document["paths"]["/hub"])
    for ref in re.findall(r'"\$ref": "#/components/schemas/(\w+)"', answer.text):
        assert ref in document["components"]["schemas"]


def test_openapi_describes_every_route_and_method() -> None:
    """The document is written by hand (package data): every route the router answers, with
    each of its methods, is in it, and it names no route the router does not have."""
    document = openapi_document("http://127.0.0.1:1")
    web = Web(cast(Any, None))  # the routes are built from its methods; none is called
    routes = {path: set(methods) for path, methods in web.routes.items()}
    routes.update({template: set(methods) for template, methods in web.param_routes.values()})
    files = {"/feeds/{file}", "/"}  # answered before the router, from the files in memory
    assert set(document["paths"]) == set(routes) | files
    for path, methods in routes.items():
        described = {m.upper() for m in document["paths"][path]} & {"GET", "POST", "PUT"}
        assert described == methods, path


# --------------------------------------------------------------------------------------------
# Pushing articles in


def test_push_needs_a_valid_token(svc: Server) -> None:
    count = len(svc.get("/api/articles?limit=500").json())
    body = json.dumps(article_object("no-token"))
    for token in (None, "wrong", TOKEN + "x", ""):
        answer = svc.post("/api/articles", body, token=token)
        assert answer.status == 401, token
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert answer.json()["error"]
    basic = svc.request("POST", "/api/articles", {"authorization": "Basic eDp5"}, body.encode())
    assert basic.status == 401
    assert svc.post("/api/reload", token="wrong").status == 401
    assert len(svc.get("/api/articles?limit=500").json()) == count
    assert (
        svc.get("/api/articles/" + quote(article_object("no-token")["url"], safe="")).status == 404
    )


def test_pushed_article_is_published(svc: Server) -> None:
    etag = svc.get("/feeds/world.atom").headers["etag"]
    answer = svc.post("/api/articles", json.dumps(article_object("one")))
    assert answer.status == 200, answer.body
    (result,) = answer.json()["results"]
    assert result["change"] == "created" and result["url"] == article_object("one")["url"]
    again = svc.post("/api/articles", json.dumps(article_object("one")))
    assert again.json()["results"][0] == {**result, "change": "unchanged"}
    svc.wait_until(
        lambda: svc.get("/feeds/world.atom", if_none_match=etag).status == 200,
        "the world feed is republished after the debounce",
    )
    feed = feedparser.parse(svc.get("/feeds/world.atom").body)
    assert [e.id for e in feed.entries].count(result["id"]) == 1
    record = svc.get("/api/articles/" + quote(result["id"], safe="")).json()
    assert record["url"] == article_object("one")["url"]


def test_a_steady_stream_of_pushes_is_published_within_max_delay(
    server_factory: Callable[..., Server],
) -> None:
    """A push every 0.3 s never leaves 1 s without a change, so the debounce alone would wait
    for the stream to end; ``max_delay`` publishes the first pushes while it goes on."""
    server = server_factory("stream")
    world = '[[region]]\nid = "world"\ntitle = "World"\nsections = ["World"]\n'
    (server.config / "syndicator.toml").write_text(
        server.service_toml(debounce=1.0, max_delay=1.5) + world, encoding="utf-8"
    )
    server.start()
    first = article_object("stream-0")
    published_at = None
    started = time.monotonic()
    for n in range(20):  # 6 s of pushes
        assert server.post("/api/articles", json.dumps(article_object(f"stream-{n}"))).status == 200
        feed = server.get("/feeds/world.json")
        if published_at is None and feed.status == 200 and first["url"] in feed.text:
            published_at = time.monotonic() - started
        time.sleep(0.3)
    assert published_at is not None, "nothing was published while the pushes went on"
    # Unchanged default: ten debounces, so the same stream is published only after it ends.
    assert config_module.Publish(debounce=0.5).longest_wait == 5.0
    assert config_module.Publish(debounce=0.5, max_delay=0.2).longest_wait == 0.2


def test_push_ndjson_all_or_nothing(svc: Server) -> None:
    good = "\n".join(json.dumps(article_object(n)) for n in ("nd-1", "nd-2"))
    answer = svc.post("/api/articles", good + "\n", content_type="application/x-ndjson")
    assert answer.status == 200
    assert [r["change"] for r in answer.json()["results"]] == ["created", "created"]
    bad = json.dumps(article_object("nd-3")) + "\n" + json.dumps({"title": "no url"}) + "\n"
    refused = svc.post("/api/articles", bad, content_type="application/x-ndjson; charset=utf-8")
    assert refused.status == 400
    assert refused.json()["errors"] and "line 2" in refused.json()["errors"][0]
    assert svc.get("/api/articles/" + quote(article_object("nd-3")["url"], safe="")).status == 404


def test_push_ndjson_lines_end_at_newlines_only(svc: Server) -> None:
    """U+2028, U+2029 and U+0085 inside a JSON string are characters of the article, not line
    ends: each line of NDJSON is one article however many of them its strings hold."""
    breaks = {"ls": "\u2028", "ps": "\u2029", "nel": "\u0085"}
    objects = [
        article_object(
            f"nd-break-{name}",
            title=f"Before{char}after {name}",
            paragraphs=[f"A pushed paragraph{char}that goes on after the {name} character."],
        )
        for name, char in breaks.items()
    ]
    lines = [json.dumps(o, ensure_ascii=False) for o in objects]
    assert all(char in line for line, char in zip(lines, breaks.values(), strict=True))
    body = lines[0] + "\n" + lines[1] + "\r\n" + lines[2] + "\n"  # \r\n ends a line too
    answer = svc.post("/api/articles", body, content_type="application/x-ndjson")
    assert answer.status == 200, answer.text
    results = answer.json()["results"]
    assert [r["url"] for r in results] == [o["url"] for o in objects]
    assert [r["change"] for r in results] == ["created"] * 3
    for name in breaks:
        record = svc.get("/api/articles/" + quote(f"https://push.example/world/nd-break-{name}"))
        assert record.status == 200
        title = record.json()["title"]
        assert title.startswith("Before") and title.endswith(f"after {name}"), title


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ('[{"url": "https://push.example/a", "title": "a"}]', "application/json", 400),
        ("", "application/json", 400),
        ('{"url": "http://]x/a", "title": "a", "paragraphs": ["p"]}', "application/json", 400),
        ('{"url": "https://push.example/a", "title": "a"}', "text/plain", 415),
        (
            '{"url": "https://push.example/a", "title": "a"}',
            "application/x-www-form-urlencoded",
            415,
        ),
    ],
)
def test_push_bad_bodies(svc: Server, body: str, content_type: str, status: int) -> None:
    answer = svc.post("/api/articles", body, content_type=content_type)
    assert answer.status == status
    assert answer.json()["error"]


def test_push_over_five_mib(svc: Server) -> None:
    big = b'{"url": "https://push.example/big", "title": "big", "text": "' + b"x" * (6 << 20)
    declared = svc.post("/api/articles", big)
    assert declared.status == 413
    # Without Content-Length (chunked): read as it comes, refused once past the limit.
    chunks = (big[i : i + 65536] for i in range(0, len(big), 65536))
    streamed = svc.request(
        "POST",
        "/api/articles",
        {"content-type": "application/json", "authorization": f"Bearer {TOKEN}"},
        chunks,
        chunked=True,
    )
    assert streamed.status == 413
    assert svc.get("/api/articles/" + quote("https://push.example/big", safe="")).status == 404


# --------------------------------------------------------------------------------------------
# Real clients revalidating: feedparser and reader


def test_feedparser_gets_304(svc: Server) -> None:
    """feedparser revalidates with the ETag and with Last-Modified, and an unchanged feed
    answers 304 to both. The service is shared with tests whose pushes are published after a
    debounce: when one lands between the requests, the feed has changed, the answer is 200
    with a new ETag (never with the old one), and the check begins again on the new state."""
    url = f"{svc.base}/feeds/world.atom"
    for _ in range(10):
        first = feedparser.parse(url)
        assert first.status == 200 and first.entries and first.etag
        by_etag = feedparser.parse(url, etag=first.etag)
        by_date = feedparser.parse(url, modified=first.modified)
        if by_etag.status == by_date.status == 304:
            return
        for answer in (by_etag, by_date):
            assert answer.status == 304 or answer.get("etag") != first.etag, answer.status
        time.sleep(0.5)
    pytest.fail("world.atom changed under every one of ten revalidations")


def test_reader_polls_with_validators(svc: Server, tmp_path: Path) -> None:
    reader_module = pytest.importorskip("reader")
    url = f"{svc.base}/feeds/middle-east.atom"
    reader = reader_module.make_reader(str(tmp_path / "reader.sqlite"))
    try:
        reader.add_feed(url)
        reader.update_feed(url)
        before = {e.id for e in reader.get_entries()}
        assert before
        not_modified = svc.metric(
            "syndicator_http_requests_total", route="/feeds/{file}", status="304"
        )
        assert reader.update_feed(url) is None  # nothing new
        assert (
            svc.metric("syndicator_http_requests_total", route="/feeds/{file}", status="304")
            == not_modified + 1
        )
        etag = svc.get("/feeds/middle-east.atom").headers["etag"]
        pushed = article_object(
            "reader", url="https://push.example/me/reader", section="Middle East"
        )
        result = svc.post("/api/articles", json.dumps(pushed)).json()["results"][0]
        svc.wait_until(
            lambda: svc.get("/feeds/middle-east.atom", if_none_match=etag).status == 200,
            "middle-east is republished",
        )
        reader.update_feed(url)
        reader.update_feed(url)
        entries = list(reader.get_entries())
        assert [e.id for e in entries].count(result["id"]) == 1
        assert {e.id for e in entries} == before | {result["id"]}
    finally:
        reader.close()


# --------------------------------------------------------------------------------------------
# Reload: SIGHUP with a new source, POST /api/reload with a broken config


def test_reload(server_factory: Callable[..., Server]) -> None:
    server = server_factory()
    samples = samples_toml(every="1h")
    (server.config / "10-samples.toml").write_text(samples, encoding="utf-8")
    (server.config / "20-service.toml").write_text(server.service_toml(), encoding="utf-8")
    server.start()
    assert "late" not in [r["id"] for r in server.get("/api/sources").json()]

    # SIGHUP with a source added: listed, scheduled, polled within seconds.
    (server.config / "30-late.toml").write_text(
        f'[[source]]\nid = "late"\nkind = "rss"\nurl = "{SAMPLES_DIR}/feeds/rss2.xml"\n'
        'every = "1s"\n',
        encoding="utf-8",
    )
    server.signal(signal.SIGHUP)
    rows = server.wait_until(
        lambda: {r["id"]: r for r in server.get("/api/sources").json() if r["id"] == "late"},
        "the new source is listed",
    )
    assert rows["late"]["schedule"] == "every 1s"
    server.wait_until(
        lambda: next(r for r in server.get("/api/sources").json() if r["id"] == "late")[
            "last_fetch_at"
        ],
        "the new source is polled",
        seconds=10,
    )

    # POST /api/reload with a broken config: 422 with the errors, the old config kept.
    (server.config / "30-late.toml").write_text(
        '[[source]]\nid = "late"\nkind = "podcast"\nurl = "x"\n', encoding="utf-8"
    )
    answer = server.post("/api/reload")
    assert answer.status == 422
    errors = answer.json()["errors"]
    assert any("podcast" in e and "30-late.toml" in e for e in errors)
    assert "late" in [r["id"] for r in server.get("/api/sources").json()]
    assert server.get("/feeds/world.atom").status == 200

    # A good config again: removed, reported.
    (server.config / "30-late.toml").unlink()
    answer = server.post("/api/reload")
    assert answer.status == 200
    assert answer.json() == {"added": [], "removed": ["late"], "rescheduled": []}
    assert "late" not in [r["id"] for r in server.get("/api/sources").json()]


# --------------------------------------------------------------------------------------------
# `serve`: no polling; picks up files another process publishes


@pytest.mark.e2e
def test_serve_picks_up_what_another_process_publishes(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory("deploy", "serve")
    (server.config / "10-samples.toml").write_text(samples_toml(), encoding="utf-8")
    (server.config / "20-service.toml").write_text(server.service_toml(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    once = subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(server.config), "once"],
        cwd=server.folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert once.returncode == 0, once.stdout + once.stderr
    server.start()
    health = server.get("/healthz").json()
    assert health["mode"] == "serve" and health["sources"]["ok"] == len(source_ids())
    first = server.get("/feeds/world.atom")
    assert first.status == 200 and first.headers["content-type"].startswith("application/atom")
    # Nothing is polled: the stored fetch times stay as `once` left them.
    fetched = {r["id"]: r["last_fetch_at"] for r in server.get("/api/sources").json()}
    # Another process stores and publishes a story; `serve` serves the new file within ~1 s.
    pushed = tmp = server.folder / "story.ndjson"
    tmp.write_text(json.dumps(article_object("from-cron")) + "\n", encoding="utf-8")
    ingest = subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(server.config), "ingest", str(pushed)],
        cwd=server.folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr
    server.wait_until(
        lambda: server.get("/feeds/world.atom", if_none_match=first.headers["etag"]).status == 200,
        "serve picks up the republished world feed",
        seconds=10,
    )
    assert b"push.example/world/from-cron" in server.get("/feeds/world.atom").body
    assert {r["id"]: r["last_fetch_at"] for r in server.get("/api/sources").json()} == fetched
    # The same API, with its token.
    answer = server.post("/api/articles", json.dumps(article_object("to-serve")))
    assert answer.status == 200 and answer.json()["results"][0]["change"] == "created"
    assert server.post("/api/articles", json.dumps(article_object("x")), token=None).status == 401

    # Reload: a good config restarts the worker on it; a bad one changes nothing.
    started = server.get("/healthz").json()["started"]
    late = server.config / "30-late.toml"
    late.write_text(
        f'[[source]]\nid = "late"\nkind = "rss"\nurl = "{SAMPLES_DIR}/feeds/rss2.xml"\n',
        encoding="utf-8",
    )
    answer = server.post("/api/reload")
    assert answer.status == 200 and answer.json()["added"] == ["late"]
    server.wait_until(
        lambda: (h := server.get("/healthz")).status == 200 and h.json()["started"] != started,
        "the worker restarts on the new config",
    )
    assert "late" in [r["id"] for r in server.get("/api/sources").json()]
    server.wait_until(lambda: "Stopped old worker" in server.output(), "the old worker stops")
    started = server.get("/healthz").json()["started"]
    late.write_text('[[source]]\nid = "late"\nkind = "podcast"\n', encoding="utf-8")
    refused = server.post("/api/reload")
    assert refused.status == 422 and any("podcast" in e for e in refused.json()["errors"])
    server.signal(signal.SIGHUP)
    server.wait_until(lambda: "reload refused" in server.output(), "SIGHUP refuses it")
    assert server.get("/healthz").json()["started"] == started  # not restarted
    rows = {r["id"]: r for r in server.get("/api/sources").json()}
    assert rows["late"]["kind"] == "rss"


# --------------------------------------------------------------------------------------------
# The scheduling test of the issue: the fixture site changes, the service follows


def fixture_config(fixtures_dir: Path, base: str, server: Server) -> str:
    text = (fixtures_dir / "config" / "syndicator.toml").read_text(encoding="utf-8")
    text = (
        text.replace("{{BASE}}", base)
        .replace("{{SELF}}", server.base)
        .replace("{{DIR}}", str(server.folder))
    )
    text = re.sub(r'^every = "[^"]*"', 'every = "2s"', text, flags=re.M)
    return text.replace("[service]\n", f'[service]\nlisten = "127.0.0.1:{server.port}"\n', 1)


def test_run_follows_the_fixture_site_without_restart(
    fixtures_dir: Path, private_site: Any, server_factory: Callable[..., Server]
) -> None:
    server = server_factory("fixture")
    (server.config / "10-fixture.toml").write_text(
        fixture_config(fixtures_dir, private_site.base, server), encoding="utf-8"
    )
    (server.config / "20-debounce.toml").write_text("[publish]\ndebounce = 0.2\n", encoding="utf-8")
    server.start()

    def served(region: str) -> Answer | None:
        answer = server.get(f"/feeds/{region}.atom")
        entries = feedparser.parse(answer.body).entries if answer.status == 200 else []
        return answer if entries else None

    europe = server.wait_until(lambda: served("europe"), "europe is served")
    asia = server.wait_until(lambda: served("asia"), "asia is served")
    # Let the base phase settle (every source read once), then take the validators.
    server.wait_until(
        lambda: all(r["last_fetch_at"] for r in server.get("/api/sources").json()),
        "every source was read",
    )
    europe, asia = served("europe"), served("asia")
    assert europe is not None and asia is not None
    europe_etag, asia_etag = europe.headers["etag"], asia.headers["etag"]
    assert b"bike-lanes" not in europe.body

    private_site.set_phase("update")
    changed = server.wait_until(
        lambda: (a := server.get("/feeds/europe.atom")).headers.get("etag") != europe_etag and a,
        "europe changes after the site's update",
        seconds=20,
    )
    assert b"bike-lanes" in changed.body
    time.sleep(2.5)  # another round of passes: asia stays as it was
    assert server.get("/feeds/asia.atom").headers["etag"] == asia_etag
    assert server.get("/feeds/asia.atom", if_none_match=asia_etag).status == 304


# --------------------------------------------------------------------------------------------
# The status page in a real browser


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.e2e
def test_status_page_in_chromium(svc: Server, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(
            "chromium is not installed (apt-get install -y chromium): browser check skipped"
        )
    url = f"{svc.base}/status"
    dump = chromium(tmp_path / "profile", "--dump-dom", url)
    assert dump.returncode == 0, dump.stderr[-2000:]
    dom = dump.stdout
    for source_id in [*source_ids(), "hostile"]:
        assert f'id="source-{source_id}"' in dom
    assert "<svg" in dom and "&lt;script&gt;" in dom
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "status.png"
    shot.unlink(missing_ok=True)
    run = chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,1600", url)
    assert run.returncode == 0, run.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------------------------
# In process: faults that a running server cannot be made to show


@pytest.fixture
def in_process(tmp_path: Path) -> Iterator[Service]:
    (tmp_path / "c.toml").write_text(
        f'[service]\ndatabase = "sqlite:///{tmp_path}/s.db"\nfeeds_dir = "{tmp_path}/feeds"\n'
        '[[region]]\nid = "world"\ntitle = "World"\n'
        f'[[source]]\nid = "one"\nkind = "rss"\nurl = "{SAMPLES_DIR}/feeds/rss2.xml"\n',
        encoding="utf-8",
    )
    service = Service(config_module.load(tmp_path / "c.toml", environ={}), poll=False)
    try:
        yield service
    finally:
        service.syndication.close()


def test_post_without_a_configured_token_is_refused(in_process: Service) -> None:
    app = make_app(in_process)
    for path in ("/api/articles", "/api/reload"):
        answer = asgi_call(
            app,
            "POST",
            path,
            {"content-type": "application/json", "authorization": "Bearer x"},
            json.dumps(article_object("x")).encode(),
        )
        assert answer.status == 503
        assert json.loads(answer.body)["error"] == (
            "no API token configured (set $SYNDICATOR_API_TOKEN)"
        )
    assert in_process.store.counts()["articles"] == 0


def test_healthz_503_when_the_store_fails(
    in_process: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(in_process)
    assert asgi_call(app, "GET", "/healthz").status == 200

    def broken() -> None:
        raise OSError("database is gone")

    monkeypatch.setattr(in_process.store, "source_states", broken)
    answer = asgi_call(app, "GET", "/healthz")
    assert answer.status == 503
    health = json.loads(answer.body)
    assert health["status"] == "unavailable" and health["store"].startswith("unreachable")


def test_status_page_escapes_every_field(in_process: Service) -> None:
    row = {
        "id": "one",
        "kind": "rss",
        "url": f"https://x.example/{HOSTILE}",
        "schedule": f"every {HOSTILE}",
        "enabled": True,
        "health": 'failing"><img src=x onerror=alert(1)>',
        "health_reason": HOSTILE,
        "last_fetch_at": "2026-03-01T10:00:00Z",
        "last_status": f"500{HOSTILE}",
        "last_error": f"HTTP 500: {HOSTILE} " + "x" * 300,
        "next_run": f"soon{HOSTILE}",
        "created": HOSTILE,
        "updated": 0,
        "duplicates": 0,
    }
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    page = render_status_page(
        in_process.config,
        [row],
        {"world": [1] * 14},
        first_day=now - timedelta(days=13),
        now=now,
        started=now - timedelta(hours=1),
    )
    assert "<script" not in page and "<img" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6
    assert "x" * 300 in page  # the whole error, in the title attribute


def test_accept_encoding_and_if_none_match_parsing() -> None:
    assert accepts_gzip(b"gzip, deflate, br")
    assert accepts_gzip(b"GZIP")
    assert accepts_gzip(b"*")
    assert accepts_gzip(b"gzip;q=0.5, identity")
    assert not accepts_gzip(b"gzip;q=0")
    assert not accepts_gzip(b"identity")
    assert not accepts_gzip(b"br, *;q=0")
    assert not accepts_gzip(b"deflate")
    assert etag_listed(b'"a", W/"b"', b'"b"')
    assert etag_listed(b"*", b'"b"')
    assert not etag_listed(b'"ab"', b'"b"')


# --------------------------------------------------------------------------------------------
# The store's queries behind the API and the chart, on SQLite and PostgreSQL


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path}/store.db", host="test.example")
        yield s
        s.close()
        return
    postgres: PostgresDatabases = request.getfixturevalue("postgres")
    with postgres.database() as url:
        s = Store(url, host="test.example")
        try:
            yield s
        finally:
            s.close()


def stored_article(n: int, region: str, when: datetime) -> Article:
    from syndicator.ingest import article_from_object

    cfg = config_module.from_documents(
        [("t.toml", {"region": [{"id": "world", "title": "W"}, {"id": "asia", "title": "A"}]})],
        {},
    )
    return article_from_object(
        {
            "url": f"https://store.example/{n}",
            "title": f"Story {n}",
            "paragraphs": [f"Body of story number {n}."],
            "regions": [region],
            "published": when.isoformat(),
        },
        config=cfg,
        now=when,
    )


def test_updated_since_and_daily_region_counts(store: Store) -> None:
    day0 = datetime(2026, 3, 1, tzinfo=UTC)
    plan = [
        (1, "world", 0, 1),
        (2, "world", 0, 23),
        (3, "world", 2, 12),
        (4, "asia", 2, 0),
        (5, "asia", 13, 23),
        (6, "world", 14, 1),
    ]  # the last is after the window
    for n, region, day, hour in plan:
        when = day0 + timedelta(days=day, hours=hour)
        store.apply("src", [stored_article(n, region, when)], now=when)
    counts = store.daily_region_counts(day0, 14)
    assert counts == {
        "world": [2, 0, 1] + [0] * 11,
        "asia": [0, 0, 1] + [0] * 10 + [1],
    }
    assert store.daily_region_counts(day0 + timedelta(days=2), 1) == {"world": [1], "asia": [1]}
    everything = store.updated_since("all", None, 50)
    assert [e.article.url.rsplit("/", 1)[1] for e in everything] == ["6", "5", "3", "4", "2", "1"]
    since = store.updated_since("world", day0 + timedelta(days=2, hours=12), 50)
    assert [e.article.url.rsplit("/", 1)[1] for e in since] == ["6", "3"]
    assert [e.article.region_ids for e in since] == [("world",), ("world",)]
    assert len(store.updated_since("all", None, 2)) == 2
    naive = store.updated_since("asia", datetime(2026, 3, 3), 50)  # naive means UTC
    assert [e.article.url.rsplit("/", 1)[1] for e in naive] == ["5", "4"]


def test_daily_region_counts_are_by_publishing_day(store: Store) -> None:
    """A story stored today but published three days ago counts three days ago: a first pass
    over a week of stories spreads them over the week, not all on the day of the pass."""
    day0 = datetime(2026, 3, 1, tzinfo=UTC)
    stored = day0 + timedelta(days=5, hours=9)
    for n, published_day in ((1, 2), (2, 2), (3, 5)):
        published = day0 + timedelta(days=published_day, hours=8)
        article = replace(stored_article(n, "world", published), published=published)
        store.apply("src", [article], now=stored)
    assert store.daily_region_counts(day0, 7) == {"world": [0, 0, 2, 0, 0, 1, 0]}

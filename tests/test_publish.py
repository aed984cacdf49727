"""Publishing: the Atom, RSS and JSON Feed renderers against the contract (DESIGN.md, "Published
files and HTTP"), RFC 5005 archives, the index files, atomic writes, and the Publisher over a real
SQLite store."""

from __future__ import annotations

import calendar
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import feedparser
import lxml.html
import pytest
from lxml import etree
from support.checks import jing_validate
from support.records import PUBLISH_BASE, make_config

from syndicator import fingerprint
from syndicator.errors import PublishError
from syndicator.model import Article, Entry, FeedInfo, Image, Origin, RegionMatch
from syndicator.publish import (
    EPOCH,
    ArchiveLinks,
    Publisher,
    check_id,
    image_type,
    is_rtl,
    render_archive_page,
    render_atom,
    render_json,
    render_opml,
    render_region,
    render_rss,
    well_formed_tag,
    write_atomic,
)
from syndicator.store import Store

BASE = PUBLISH_BASE
A = "{http://www.w3.org/2005/Atom}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
FH = "{http://purl.org/syndication/history/1.0}"
MEDIA = "{http://search.yahoo.com/mrss/}"
DC = "{http://purl.org/dc/elements/1.1/}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
TITLES = {"europe": "أوروبا", "world": "World"}
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def article(
    n: int,
    *,
    language: str = "ar",
    authors: Sequence[str] = (),
    images: Sequence[Image] = (),
    regions: Sequence[str] = ("europe",),
    section: str | None = None,
    summary: str | None = None,
    paragraphs: Sequence[str] | None = None,
    published: datetime | None = None,
) -> Article:
    if paragraphs is None:
        if language == "ar":
            paragraphs = (f"الفقرة الأولى من الخبر رقم {n} عن المحادثات.", f"تفاصيل الخبر {n}.")
        else:
            paragraphs = (f"First paragraph of story {n} about the talks.", f"Details of {n}.")
    title = f"الخبر رقم {n}" if language == "ar" else f"Story {n}"
    return Article(
        key=f"https://news.example/{language}/{n}",
        url=f"https://news.example/{language}/{n}",
        title=title,
        paragraphs=tuple(paragraphs),
        content_html="".join(f"<p>{p}</p>" for p in paragraphs),
        content_hash=fingerprint.content_hash(title, paragraphs),
        similarity=fingerprint.signature(title, paragraphs),
        summary=summary,
        section=section,
        authors=tuple(authors),
        language=language,
        published=published,
        images=tuple(images),
        regions=tuple(RegionMatch(r, "test", "") for r in regions),
    )


def entry(n: int, art: Article, *, updated: datetime, origin: Origin | None = None) -> Entry:
    return Entry(
        id=f"tag:feeds.test,2026-03-01:article/{n:04d}",
        article=art,
        published=updated - timedelta(hours=1),
        updated=updated,
        origin=origin,
    )


ARABIC = entry(
    1,
    article(
        1,
        authors=("سامي الأحمد", "Jane Roe"),
        images=(
            Image("https://img.example/1/protest.JPG?w=800", "متظاهرون أمام البرلمان", "AP"),
            Image("https://img.example/1/map.png", "خريطة المنطقة", None),
            Image("https://img.example/1/noext", None, "Reuters"),
        ),
        regions=("europe", "world"),
        section="أوروبا",
        summary="ملخص الخبر الأول",
    ),
    updated=T0 + timedelta(hours=3),
    origin=Origin(f"{BASE}/sources/example", "Example News", "https://news.example/feed"),
)
# What every format carries as the Arabic entry's HTML content: set right to left
RTL_ARABIC_CONTENT = f'<div dir="rtl" lang="ar">{ARABIC.article.content_html}</div>'
ENGLISH = entry(
    2,
    article(2, language="en", regions=("europe",), section="World News & Politics"),
    updated=T0 + timedelta(hours=5),
)
ENGLISH_TIE = entry(
    3,
    article(3, language="en", authors=("A. Writer",), regions=("europe",)),
    updated=T0 + timedelta(hours=5),
)
ENTRIES = [ARABIC, ENGLISH, ENGLISH_TIE]
HUBS = ("https://hub.example/", f"{BASE}/hub")
INFO = FeedInfo("europe", "أوروبا", BASE, language="ar", hubs=HUBS, rtl=True)


def atom_tree(data: bytes) -> etree._Element:
    return etree.fromstring(data)


def links(element: etree._Element, rel: str) -> list[str]:
    return [
        str(link.get("href"))
        for link in element.findall(f"{A}link")
        if (link.get("rel") or "alternate") == rel
    ]


# --------------------------------------------------------------------------------------------
# Atom


def test_atom_feed_level_fields() -> None:
    feed = atom_tree(render_atom(INFO, ENTRIES, region_titles=TITLES))
    assert feed.tag == f"{A}feed"
    assert feed.get(XML_LANG) == "ar"
    assert feed.findtext(f"{A}id") == f"{BASE}/feeds/europe.atom"
    assert feed.findtext(f"{A}title") == "أوروبا"
    assert links(feed, "self") == [f"{BASE}/feeds/europe.atom"]
    assert links(feed, "hub") == list(HUBS)
    assert links(feed, "alternate") == [f"{BASE}/"]
    assert links(feed, "prev-archive") == []
    assert feed.find(f"{FH}archive") is None
    # the feed's updated is the newest entry's, never the wall clock
    assert feed.findtext(f"{A}updated") == "2026-03-01T13:00:00+00:00"
    # one entry has no author: the feed carries one for it (RFC 4287 4.1.1)
    assert [a.findtext(f"{A}name") for a in feed.findall(f"{A}author")] == ["أوروبا"]


def test_atom_entries_are_newest_first_then_by_id() -> None:
    shuffled = [ENGLISH_TIE, ARABIC, ENGLISH]
    feed = atom_tree(render_atom(INFO, shuffled))
    ids = [e.findtext(f"{A}id") for e in feed.findall(f"{A}entry")]
    assert ids == [ENGLISH.id, ENGLISH_TIE.id, ARABIC.id]


def test_atom_entry_fields() -> None:
    feed = atom_tree(render_atom(INFO, ENTRIES, region_titles=TITLES))
    entries = {e.findtext(f"{A}id"): e for e in feed.findall(f"{A}entry")}
    ar = entries[ARABIC.id]
    assert ar.get(XML_LANG) == "ar"
    assert ar.findtext(f"{A}title") == "الخبر رقم 1"
    assert links(ar, "alternate") == ["https://news.example/ar/1"]
    assert ar.findtext(f"{A}published") == "2026-03-01T10:00:00+00:00"
    assert ar.findtext(f"{A}updated") == "2026-03-01T11:00:00+00:00"
    assert [a.findtext(f"{A}name") for a in ar.findall(f"{A}author")] == ["سامي الأحمد", "Jane Roe"]
    assert ar.findtext(f"{A}summary") == "ملخص الخبر الأول"
    content = ar.find(f"{A}content")
    assert content is not None and content.get("type") == "html"
    # Right to left, whatever page a reader drops it into
    assert content.text == RTL_ARABIC_CONTENT
    categories = [
        (c.get("term"), c.get("scheme"), c.get("label")) for c in ar.findall(f"{A}category")
    ]
    assert categories == [
        ("europe", f"{BASE}/regions", "أوروبا"),
        ("world", f"{BASE}/regions", "World"),
        ("أوروبا", f"{BASE}/sections", "أوروبا"),
    ]
    enclosures = [
        (link.get("href"), link.get("type"), link.get("title"))
        for link in ar.findall(f"{A}link")
        if link.get("rel") == "enclosure"
    ]
    assert enclosures == [
        ("https://img.example/1/protest.JPG?w=800", "image/jpeg", "متظاهرون أمام البرلمان (AP)"),
        ("https://img.example/1/map.png", "image/png", "خريطة المنطقة"),
        ("https://img.example/1/noext", "image/jpeg", "Reuters"),
    ]
    source = ar.find(f"{A}source")
    assert source is not None
    assert source.findtext(f"{A}id") == f"{BASE}/sources/example"
    assert source.findtext(f"{A}title") == "Example News"
    assert links(source, "alternate") == ["https://news.example/feed"]

    en = entries[ENGLISH.id]
    assert en.get(XML_LANG) == "en"
    assert en.find(f"{A}author") is None  # the feed's author stands for it
    assert en.find(f"{A}summary") is None  # no summary in the article: none invented
    assert en.find(f"{A}source") is None
    assert [(c.get("term"), c.get("scheme")) for c in en.findall(f"{A}category")] == [
        ("europe", f"{BASE}/regions"),
        ("World News & Politics", f"{BASE}/sections"),
    ]
    for e in entries.values():
        for name in ("published", "updated"):
            assert RFC3339.match(e.findtext(f"{A}{name}") or ""), name
        assert (e.findtext(f"{A}id") or "").startswith("tag:")


def test_atom_without_hubs_and_with_every_author_has_no_feed_author() -> None:
    info = replace(INFO, hubs=())
    feed = atom_tree(render_atom(info, [ARABIC, ENGLISH_TIE]))
    assert links(feed, "hub") == []
    assert feed.find(f"{A}author") is None


def test_atom_subscription_feed_links_its_newest_archive() -> None:
    prev = f"{BASE}/feeds/archive/europe/4.atom"
    feed = atom_tree(render_atom(INFO, ENTRIES, archive=ArchiveLinks(prev_archive=prev)))
    assert links(feed, "prev-archive") == [prev]
    assert feed.find(f"{FH}archive") is None


def test_archive_page_links_and_marker() -> None:
    page = atom_tree(render_archive_page(INFO, ENTRIES, page=2, complete_pages=3))
    assert page.find(f"{FH}archive") is not None
    assert links(page, "self") == [f"{BASE}/feeds/archive/europe/2.atom"]
    assert links(page, "current") == [f"{BASE}/feeds/europe.atom"]
    assert links(page, "prev-archive") == [f"{BASE}/feeds/archive/europe/1.atom"]
    assert links(page, "next-archive") == [f"{BASE}/feeds/archive/europe/3.atom"]
    assert links(page, "hub") == []  # an archive never changes: nothing to subscribe to
    assert page.findtext(f"{A}id") == f"{BASE}/feeds/europe.atom"  # the same logical feed
    first = atom_tree(render_archive_page(INFO, ENTRIES, page=1, complete_pages=1))
    assert links(first, "prev-archive") == [] and links(first, "next-archive") == []


def test_empty_feed_has_a_fixed_date() -> None:
    feed = atom_tree(render_atom(INFO, []))
    assert feed.findtext(f"{A}updated") == EPOCH.isoformat()
    known = datetime(2026, 2, 1, tzinfo=UTC)
    feed = atom_tree(render_atom(INFO, [], updated=known))
    assert feed.findtext(f"{A}updated") == known.isoformat()
    rss = etree.fromstring(render_rss(INFO, [], updated=known))
    assert parsedate_to_datetime(rss.findtext("channel/lastBuildDate") or "") == known


def test_deleted_entries_become_tombstones_in_atom_only() -> None:
    removed_at = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    gone = replace(ENGLISH, deleted=True, updated=removed_at)
    feed = atom_tree(render_atom(INFO, [ARABIC, gone]))
    assert [e.findtext(f"{A}id") for e in feed.findall(f"{A}entry")] == [ARABIC.id]
    (tombstone,) = feed.findall("{http://purl.org/atompub/tombstones/1.0}deleted-entry")
    assert tombstone.get("ref") == ENGLISH.id
    assert tombstone.get("when") == "2026-03-02T08:00:00+00:00"
    assert feed.findtext(f"{A}updated") == "2026-03-02T08:00:00+00:00"  # a removal is a change
    rss = feedparser.parse(render_rss(INFO, [ARABIC, gone]))
    assert [e.id for e in rss.entries] == [ARABIC.id]
    data = json.loads(render_json(INFO, [ARABIC, gone]))
    assert [i["id"] for i in data["items"]] == [ARABIC.id]


def test_entry_without_content_still_links_its_article() -> None:
    bare = replace(ENGLISH, article=replace(ENGLISH.article, content_html=""))
    feed = atom_tree(render_atom(INFO, [bare]))
    e = feed.find(f"{A}entry")
    assert e is not None and e.find(f"{A}content") is None
    assert links(e, "alternate") == [bare.article.url]
    assert e.find(f"{A}link").get("type") == "text/html"  # type: ignore[union-attr]


def test_characters_xml_cannot_carry_are_dropped() -> None:
    dirty = replace(
        ENGLISH,
        article=replace(
            ENGLISH.article,
            title="Bell\x07 and null\x00 in a title",
            content_html="<p>form\x0cfeed \ud800</p>",
            authors=("Ann\x1b",),
        ),
    )
    feeds = render_region(INFO, [dirty, ARABIC])
    atom = atom_tree(feeds["atom"])
    assert atom.findtext(f"{A}entry/{A}title") == "Bell and null in a title"
    rss = etree.fromstring(feeds["rss"])
    assert rss.findtext("channel/item/title") == "Bell and null in a title"
    items = json.loads(feeds["json"])["items"]
    assert items[0]["content_html"] == "<p>formfeed </p>"
    assert not feedparser.parse(feeds["atom"]).bozo


def test_well_formed_language_tags() -> None:
    assert well_formed_tag("pt_BR") == "pt-BR"
    assert well_formed_tag(" ar ") == "ar"
    assert well_formed_tag("not a language") is None
    assert well_formed_tag(None) is None
    info = replace(INFO, language="zz_not valid")
    feed = atom_tree(
        render_atom(info, [replace(ARABIC, article=replace(ARABIC.article, language="x y"))])
    )
    assert feed.get(XML_LANG) is None
    assert feed.find(f"{A}entry").get(XML_LANG) is None  # type: ignore[union-attr]


def test_right_to_left_languages() -> None:
    for tag in ("ar", "fa", "ur", "he", "ar-EG", "ku-Arab", "pa-Arab", "yi"):
        assert is_rtl(tag), tag
    for other in ("en", "fr", "ku", "tr", "ru", None, ""):
        assert not is_rtl(other), other


def test_image_types_come_from_a_fixed_table() -> None:
    assert image_type("https://x.example/a.PNG") == "image/png"
    assert image_type("https://x.example/a.webp?x=1.jpg") == "image/webp"
    assert image_type("https://x.example/a.gif#frag") == "image/gif"
    assert image_type("https://x.example/v1.2/photo") == "image/jpeg"
    assert image_type("https://x.example/") == "image/jpeg"


# --------------------------------------------------------------------------------------------
# RSS


def test_rss_channel() -> None:
    rss = etree.fromstring(render_rss(INFO, ENTRIES, region_titles=TITLES))
    assert rss.get("version") == "2.0"
    channel = rss.find("channel")
    assert channel is not None
    # the channel <link> is the human page, never the hub or the self link
    assert channel.findtext("link") == f"{BASE}/"
    assert channel.findtext("title") == "أوروبا"
    assert channel.findtext("language") == "ar"
    assert parsedate_to_datetime(channel.findtext("lastBuildDate") or "") == ENGLISH.updated
    assert links(channel, "self") == [f"{BASE}/feeds/europe.rss"]
    assert links(channel, "hub") == list(HUBS)


def test_rss_items() -> None:
    rss = etree.fromstring(render_rss(INFO, ENTRIES, region_titles=TITLES))
    items = rss.findall("channel/item")
    assert [i.findtext("guid") for i in items] == [ENGLISH.id, ENGLISH_TIE.id, ARABIC.id]
    for item in items:
        guid = item.find("guid")
        assert guid is not None and guid.get("isPermaLink") == "false"
        assert item.findtext(f"{CONTENT}encoded")
    ar = items[2]
    assert ar.findtext("link") == "https://news.example/ar/1"
    assert ar.findtext("description") == "ملخص الخبر الأول"
    assert ar.findtext(f"{CONTENT}encoded") == RTL_ARABIC_CONTENT
    assert parsedate_to_datetime(ar.findtext("pubDate") or "") == ARABIC.published
    assert re.fullmatch(
        r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000", ar.findtext("pubDate") or ""
    )
    assert [c.text for c in ar.findall("category")] == ["أوروبا", "World", "أوروبا"]
    assert [c.get("domain") for c in ar.findall("category")][-1] == f"{BASE}/sections"
    assert [c.text for c in ar.findall(f"{DC}creator")] == ["سامي الأحمد", "Jane Roe"]
    assert ar.findtext(f"{DC}language") == "ar"
    media = ar.findall(f"{MEDIA}content")
    assert [(m.get("url"), m.get("type"), m.get("medium")) for m in media] == [
        ("https://img.example/1/protest.JPG?w=800", "image/jpeg", "image"),
        ("https://img.example/1/map.png", "image/png", "image"),
        ("https://img.example/1/noext", "image/jpeg", "image"),
    ]
    assert [m.findtext(f"{MEDIA}description") for m in media] == [
        "متظاهرون أمام البرلمان",
        "خريطة المنطقة",
        None,
    ]
    assert [m.findtext(f"{MEDIA}credit") for m in media] == ["AP", None, "Reuters"]
    enclosure = ar.find("enclosure")
    assert enclosure is not None
    assert enclosure.get("url") == "https://img.example/1/protest.JPG?w=800"
    assert enclosure.get("type") == "image/jpeg" and enclosure.get("length") == "0"
    # no summary: the lead paragraph describes the item, the full text stays in content:encoded
    en = items[0]
    assert en.findtext("description") == ENGLISH.article.paragraphs[0]
    assert en.find(f"{DC}creator") is None


# --------------------------------------------------------------------------------------------
# JSON Feed


def test_json_feed() -> None:
    data = render_json(INFO, ENTRIES, region_titles=TITLES)
    feed = json.loads(data)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] == "أوروبا"
    assert feed["home_page_url"] == f"{BASE}/"
    assert feed["feed_url"] == f"{BASE}/feeds/europe.json"
    assert feed["language"] == "ar"
    assert feed["hubs"] == [{"type": "WebSub", "url": hub} for hub in HUBS]
    assert feed["authors"] == [{"name": "أوروبا"}]
    assert [i["id"] for i in feed["items"]] == [ENGLISH.id, ENGLISH_TIE.id, ARABIC.id]
    for item in feed["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert "content_html" in item
        assert RFC3339.match(item["date_published"]) and RFC3339.match(item["date_modified"])
    ar = feed["items"][2]
    assert ar == {
        "id": ARABIC.id,
        "url": "https://news.example/ar/1",
        "title": "الخبر رقم 1",
        "content_html": RTL_ARABIC_CONTENT,
        "summary": "ملخص الخبر الأول",
        "image": "https://img.example/1/protest.JPG?w=800",
        "date_published": "2026-03-01T10:00:00Z",
        "date_modified": "2026-03-01T11:00:00Z",
        "authors": [{"name": "سامي الأحمد"}, {"name": "Jane Roe"}],
        "tags": ["europe", "world", "أوروبا"],
        "language": "ar",
    }
    # deterministic text: sorted keys, compact separators, UTF-8 rather than \u escapes
    assert (
        data
        == (
            json.dumps(feed, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
        ).encode()
    )
    assert "أوروبا".encode() in data


def test_json_feed_without_hubs_omits_them() -> None:
    feed = json.loads(render_json(replace(INFO, hubs=()), [ENGLISH_TIE]))
    assert "hubs" not in feed and "authors" not in feed


# --------------------------------------------------------------------------------------------
# Every format: determinism and what a feed reader sees


def test_rendering_is_deterministic() -> None:
    first = render_region(INFO, ENTRIES, region_titles=TITLES)
    again = render_region(INFO, list(reversed(ENTRIES)), region_titles=TITLES)
    assert first == again
    assert first["atom"] == render_atom(INFO, ENTRIES, region_titles=TITLES)
    assert first["rss"] == render_rss(INFO, ENTRIES, region_titles=TITLES)
    assert first["json"] == render_json(INFO, ENTRIES, region_titles=TITLES)


def parsed_time(value: time.struct_time) -> datetime:
    return datetime.fromtimestamp(calendar.timegm(value), UTC)


def test_feedparser_reads_atom_and_rss() -> None:
    """feedparser 6.0 has no JSON Feed reader: test_json_feed checks that format's fields."""
    feeds = render_region(INFO, ENTRIES, region_titles=TITLES)
    for fmt in ("atom", "rss"):
        parsed = feedparser.parse(feeds[fmt])
        assert not parsed.bozo, (fmt, parsed.get("bozo_exception"))
        assert parsed.version == {"atom": "atom10", "rss": "rss20"}[fmt]
        assert parsed.feed.title == "أوروبا"
        assert [e.id for e in parsed.entries] == [ENGLISH.id, ENGLISH_TIE.id, ARABIC.id], fmt
        ar = parsed.entries[2]
        assert ar.link == "https://news.example/ar/1", fmt
        assert parsed_time(ar.published_parsed) == ARABIC.published, fmt
        assert RTL_ARABIC_CONTENT in [c.value for c in ar.content], fmt
        assert [a.name for a in ar.authors if a.get("name")] == ["سامي الأحمد", "Jane Roe"], fmt
        if fmt != "rss":  # RSS has no updated of its own
            assert parsed_time(ar.updated_parsed) == ARABIC.updated, fmt
    atom = feedparser.parse(feeds["atom"])
    assert atom.feed.language == "ar"
    assert [link.href for link in atom.feed.links if link.rel == "hub"] == list(HUBS)
    enclosures = [link.href for link in atom.entries[2].links if link.rel == "enclosure"]
    assert enclosures[:1] == ["https://img.example/1/protest.JPG?w=800"]
    rss = feedparser.parse(feeds["rss"])
    assert rss.feed.link == f"{BASE}/"
    assert rss.entries[2].media_credit[0]["content"] == "AP"


def test_atom_documents_are_valid_against_the_schema(tmp_path: Path) -> None:
    files = {
        "feed.atom": render_atom(INFO, ENTRIES, region_titles=TITLES),
        "empty.atom": render_atom(INFO, []),
        "archive.atom": render_archive_page(INFO, ENTRIES, page=2, complete_pages=3),
        "bare.atom": render_atom(
            replace(INFO, hubs=(), language=None),
            [replace(ENGLISH, article=replace(ENGLISH.article, content_html="", images=()))],
        ),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    jing_validate(*(tmp_path / name for name in files))


# --------------------------------------------------------------------------------------------
# OPML and the index page


FEEDS = [
    INFO,
    FeedInfo("world", "World <& more>", BASE, language="en", description="Everything else"),
    FeedInfo("all", "syndicator", BASE),
]


def test_opml_lists_every_region() -> None:
    opml = etree.fromstring(render_opml("syndicator", FEEDS, formats=("rss", "atom")))
    assert opml.get("version") == "2.0"
    assert opml.findtext("head/title") == "syndicator"
    outlines = opml.findall("body/outline")
    assert [o.get("xmlUrl") for o in outlines] == [
        f"{BASE}/feeds/europe.atom",
        f"{BASE}/feeds/world.atom",
        f"{BASE}/feeds/all.atom",
    ]
    assert outlines[1].get("text") == "World <& more>"
    assert outlines[0].get("language") == "ar"
    assert all(o.get("type") == "rss" for o in outlines)
    # each outline's page is its region's page, published beside its feeds
    assert [o.get("htmlUrl") for o in outlines] == [f"{BASE}/feeds/{f.region}.html" for f in FEEDS]
    only_json = etree.fromstring(render_opml("s", FEEDS, formats=("json",)))
    assert only_json.find("body/outline").get("xmlUrl").endswith(".json")  # type: ignore[union-attr]


def test_ids_that_could_escape_the_folder_are_refused() -> None:
    assert check_id("europe-2") == "europe-2"
    for bad in ("../etc", "a/b", "Europe", "", "europe.atom", "a b", "..", "é"):
        with pytest.raises(PublishError):
            check_id(bad)


# --------------------------------------------------------------------------------------------
# Writing files


def test_write_atomic_replaces_and_skips_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "f.atom"
    assert write_atomic(path, b"one")
    assert path.read_bytes() == b"one"
    assert (path.stat().st_mode & 0o777) == 0o644
    before = path.stat()
    assert not write_atomic(path, b"one")
    assert path.stat().st_mtime_ns == before.st_mtime_ns and path.stat().st_ino == before.st_ino
    assert write_atomic(path, b"two")
    assert path.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.atom"]


def test_a_failed_write_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f.atom"
    write_atomic(path, b"old")

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        write_atomic(path, b"new")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.atom"]


# --------------------------------------------------------------------------------------------
# The Publisher over a real store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path}/s.db", host="feeds.test")
    yield s
    s.close()


def feed_store(
    store: Store, count: int, *, start: int = 1, regions: Sequence[str] = ("europe",)
) -> None:
    for n in range(start, start + count):
        when = T0 + timedelta(hours=n)
        art = article(
            n,
            language="ar" if n % 2 else "en",
            authors=("مراسل",) if n % 3 else (),
            images=(Image(f"https://img.example/{n}.jpg", f"صورة {n}", "AFP"),),
            regions=regions,
            section="أوروبا",
            published=when,
            paragraphs=(f"Paragraph {n}: " + " ".join(f"w{n}x{i}" for i in range(40)), f"End {n}."),
        )
        store.apply("example" if n % 2 else "local", [art], now=when)


def read_atom(path: Path) -> etree._Element:
    return etree.fromstring(path.read_bytes())


def test_publish_writes_every_file(tmp_path: Path, store: Store) -> None:
    feed_store(store, 3, regions=("europe", "world"))
    result = Publisher(make_config(tmp_path), store).publish()
    out = tmp_path / "feeds"
    expected = {
        f"{r}.{ext}"
        for r in ("europe", "world", "all")
        for ext in ("atom", "rss", "json", "html")  # the region's page beside its feeds
    } | {
        "index.opml",
        "index.html",
        "archive/europe/1.atom",
        "archive/world/1.atom",
        "archive/all/1.atom",
    }
    assert set(result.changed) == expected
    assert result.regions == ("europe", "world", "all")
    assert result.seconds > 0
    assert {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} == expected
    # RTL region on the index page, Atom for all without a language (the regions differ)
    page = lxml.html.fromstring((out / "index.html").read_bytes())
    (heading,) = page.xpath('//section[@id="region-europe"]/h2')
    assert heading.get("dir") == "rtl" and heading.get("lang") == "ar"
    all_feed = read_atom(out / "all.atom")
    assert all_feed.get(XML_LANG) is None
    assert all_feed.findtext(f"{A}title") == "Test feeds"
    europe = read_atom(out / "europe.atom")
    assert europe.get(XML_LANG) == "ar"
    assert europe.findtext(f"{A}subtitle") == "أخبار أوروبا"
    assert links(europe, "hub") == [f"{BASE}/hub"]


def test_publish_twice_rewrites_nothing(tmp_path: Path, store: Store) -> None:
    feed_store(store, 5)
    publisher = Publisher(make_config(tmp_path), store)
    publisher.publish()
    out = tmp_path / "feeds"
    stamps = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in out.rglob("*") if p.is_file()}
    again = publisher.publish()
    assert again.changed == ()
    assert set(again.unchanged) == {p.relative_to(out).as_posix() for p in stamps} - {
        "archive/europe/1.atom",
        "archive/europe/2.atom",
        "archive/all/1.atom",
        "archive/all/2.atom",
    }
    assert {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in stamps} == stamps


def test_archives_are_complete_linked_and_immutable(tmp_path: Path, store: Store) -> None:
    feed_store(store, 5)
    publisher = Publisher(make_config(tmp_path, entries_per_feed=1), store)
    publisher.publish(["europe"])
    folder = tmp_path / "feeds" / "archive" / "europe"
    assert sorted(p.name for p in folder.iterdir()) == ["1.atom", "2.atom"]
    entries = store.archive("europe", 1, 2) + store.archive("europe", 2, 2)
    page1, page2 = read_atom(folder / "1.atom"), read_atom(folder / "2.atom")
    for n, page in ((1, page1), (2, page2)):
        assert page.find(f"{FH}archive") is not None
        assert links(page, "self") == [f"{BASE}/feeds/archive/europe/{n}.atom"]
        assert links(page, "current") == [f"{BASE}/feeds/europe.atom"]
        ids = {e.findtext(f"{A}id") for e in page.findall(f"{A}entry")}
        assert ids == {e.id for e in entries[2 * (n - 1) : 2 * n]}
    assert links(page1, "prev-archive") == []
    assert links(page1, "next-archive") == [f"{BASE}/feeds/archive/europe/2.atom"]
    assert links(page2, "prev-archive") == [f"{BASE}/feeds/archive/europe/1.atom"]
    assert links(page2, "next-archive") == []  # page 3 is not complete
    feed = read_atom(tmp_path / "feeds" / "europe.atom")
    assert links(feed, "prev-archive") == [f"{BASE}/feeds/archive/europe/2.atom"]
    # entries_per_feed is 1, but entry 5 is in no archive yet: the feed keeps it
    assert [e.findtext(f"{A}id") for e in feed.findall(f"{A}entry")] == [
        e.id for e in store.entries("europe", 1)
    ]
    jing_validate(folder / "1.atom", folder / "2.atom", tmp_path / "feeds" / "europe.atom")

    # A published page is never rewritten, even when it would now render differently.
    (folder / "1.atom").write_bytes(b"kept as it was")
    stamp = (folder / "2.atom").stat().st_mtime_ns
    feed_store(store, 1, start=6)
    result = publisher.publish(["europe"])
    assert (folder / "1.atom").read_bytes() == b"kept as it was"
    assert (folder / "2.atom").stat().st_mtime_ns == stamp
    assert "archive/europe/3.atom" in result.changed
    page3 = read_atom(folder / "3.atom")
    assert links(page3, "prev-archive") == [f"{BASE}/feeds/archive/europe/2.atom"]
    feed = read_atom(tmp_path / "feeds" / "europe.atom")
    assert links(feed, "prev-archive") == [f"{BASE}/feeds/archive/europe/3.atom"]


def full_disk_at_europe_7(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing archive/europe/7.atom fails as on a full disk; every other file is written."""
    from syndicator.publish import publisher as module

    real = module.write_atomic

    def full_disk(path: Path, data: bytes) -> bool:
        if path.parent.name == "europe" and path.name == "7.atom":
            raise OSError(28, "No space left on device")
        return real(path, data)

    monkeypatch.setattr(module, "write_atomic", full_disk)


def test_archive_pages_written_together_fail_as_one(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New archive pages are written side by side; the pages come first, in order, and when
    one cannot be written the publish fails naming it, before any feed links to it."""
    feed_store(store, 25)  # twelve complete pages of two
    full_disk_at_europe_7(monkeypatch)
    publisher = Publisher(make_config(tmp_path), store)
    with pytest.raises(PublishError, match=r"archive/europe/7\.atom: No space left on device"):
        publisher.publish(["europe"])
    folder = tmp_path / "feeds" / "archive" / "europe"
    assert not (folder / "7.atom").exists()
    assert not (tmp_path / "feeds" / "europe.atom").exists()  # nothing links to page 7 yet
    monkeypatch.undo()
    result = publisher.publish(["europe"])
    assert "archive/europe/7.atom" in result.changed
    pages = [n for n in result.changed if n.startswith("archive/all/")]
    assert pages == [f"archive/all/{n}.atom" for n in range(1, 13)]  # in page order
    assert sorted(int(p.stem) for p in folder.iterdir()) == list(range(1, 13))
    for n in range(1, 13):
        ids = {e.findtext(f"{A}id") for e in read_atom(folder / f"{n}.atom").findall(f"{A}entry")}
        assert ids == {e.id for e in store.archive("europe", n, 2)}


def test_archive_pages_rendered_by_processes_are_the_same_files(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bulk load's archive pages rendered by forked processes, a few pages each, in order:
    the same files, byte for byte, as rendered here; a page that cannot be written still fails
    the publish, naming it, before any feed links to it; no process is left behind."""
    import multiprocessing

    from syndicator.publish import publisher as module

    feed_store(store, 25)  # twelve complete pages of two
    monkeypatch.setattr(module, "ARCHIVE_READ", 3)  # four runs of pages
    here, there = tmp_path / "here", tmp_path / "there"
    Publisher(make_config(here), store).publish()
    result = Publisher(make_config(there), store).publish(renderers=2)
    assert [n for n in result.changed if n.startswith("archive/all/")] == [
        f"archive/all/{n}.atom" for n in range(1, 13)
    ]
    files = sorted(p.relative_to(here) for p in here.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(there) for p in there.rglob("*") if p.is_file())
    for name in files:
        assert (here / name).read_bytes() == (there / name).read_bytes(), name
    assert multiprocessing.active_children() == []

    full_disk_at_europe_7(monkeypatch)
    again = tmp_path / "again"
    with pytest.raises(PublishError, match=r"archive/europe/7\.atom: No space left on device"):
        Publisher(make_config(again), store).publish(["europe"], renderers=2)
    assert not (again / "feeds" / "europe.atom").exists()
    assert multiprocessing.active_children() == []


def test_a_renderer_killed_fails_the_publish_and_the_next_one_completes(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A renderer process that ends abruptly (killed, out of memory) fails the publish with a
    PublishError saying so, not a traceback, before any feed links to the pages it did not
    render; no process is left, and the next publish writes every page, the same files as
    rendered here."""
    import multiprocessing
    import os

    from syndicator.publish import publisher as module

    feed_store(store, 25)  # twelve complete pages of two
    monkeypatch.setattr(module, "ARCHIVE_READ", 3)  # four runs of pages
    here, there = tmp_path / "here", tmp_path / "there"
    Publisher(make_config(here), store).publish()
    parent = os.getpid()
    render = module.Publisher._render_run_entries

    def dies_on_the_third_run(self: Publisher, region: str, *args: Any) -> Any:
        if os.getpid() != parent and args[2] == 7:  # pages 7-9, in a renderer
            os._exit(9)
        return render(self, region, *args)

    monkeypatch.setattr(module.Publisher, "_render_run_entries", dies_on_the_third_run)
    with pytest.raises(PublishError, match="archive pages not rendered: a worker process ended"):
        Publisher(make_config(there), store).publish(renderers=2)
    assert not (there / "feeds" / "all.atom").exists()
    assert multiprocessing.active_children() == []

    monkeypatch.setattr(module.Publisher, "_render_run_entries", render)
    Publisher(make_config(there), store).publish(renderers=2)
    same_files(here, there)


def same_files(here: Path, there: Path) -> None:
    files = sorted(p.relative_to(here) for p in here.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(there) for p in there.rglob("*") if p.is_file())
    for name in files:
        assert (here / name).read_bytes() == (there / name).read_bytes(), name


@pytest.mark.parametrize("kept", [20_000, 0])
def test_archive_pages_of_regions_are_put_together_from_the_entries_of_all(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch, kept: int
) -> None:
    """A bulk load's pages (rendered by processes) render each entry once: on the pages of
    ``all``; the other regions' pages are put together from those entries, the same files
    byte for byte as each page rendered whole (with or without an author, in either
    direction, in one region or two); with too many entries waiting (``kept``), the pages
    left are rendered whole."""
    from syndicator.publish import publisher as module
    from syndicator.publish import render

    feed_store(store, 13)
    feed_store(store, 12, start=14, regions=("europe", "world"))
    monkeypatch.setattr(module, "ARCHIVE_READ", 3)
    monkeypatch.setattr(module, "ARCHIVE_KEPT", kept)
    joined = []
    real = render.join_archive_page

    def join(info: Any, *args: Any, **kwargs: Any) -> bytes:
        joined.append((info.region, kwargs["page"]))
        return real(info, *args, **kwargs)

    monkeypatch.setattr(render, "join_archive_page", join)
    here, there = tmp_path / "here", tmp_path / "there"
    Publisher(make_config(here), store).publish()
    assert joined == []  # in process, each page rendered whole
    Publisher(make_config(there), store).publish(renderers=2)
    same_files(here, there)
    if kept > 3:  # 12 pages of europe, 6 of world, whose 6th holds an entry all has not
        assert sorted(joined) == sorted(  # archived yet (the 25th): rendered whole
            [("europe", n) for n in range(1, 13)] + [("world", n) for n in range(1, 6)]
        )
    else:  # europe's first nine, world's first two: then an entry waited
        assert sorted(joined) == sorted(
            [("europe", n) for n in range(1, 10)] + [("world", n) for n in range(1, 3)]
        )


def test_archive_pages_of_regions_not_on_new_pages_of_all_are_rendered_whole(
    tmp_path: Path, store: Store
) -> None:
    """Pages of ``all`` already written: the region's new pages are rendered whole."""
    feed_store(store, 25)
    here, there = tmp_path / "here", tmp_path / "there"
    Publisher(make_config(here), store).publish(["europe"])
    Publisher(make_config(there), store).publish(["all"])
    assert not (there / "feeds" / "archive" / "europe").exists()
    result = Publisher(make_config(there), store).publish(["europe"], renderers=2)
    assert [n for n in result.changed if n.startswith("archive/europe/")] == [
        f"archive/europe/{n}.atom" for n in range(1, 13)
    ]
    same_files(here, there)


def test_archive_pages_of_an_in_memory_store_are_rendered_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process would open another, empty, in-memory store: its pages render here."""
    import multiprocessing

    from syndicator.publish import publisher as module

    store = Store("sqlite://")
    try:
        feed_store(store, 25)
        monkeypatch.setattr(module, "ARCHIVE_READ", 3)
        Publisher(make_config(tmp_path), store).publish(["europe"], renderers=2)
        folder = tmp_path / "feeds" / "archive" / "europe"
        for n in range(1, 13):
            page = read_atom(folder / f"{n}.atom")
            ids = {e.findtext(f"{A}id") for e in page.findall(f"{A}entry")}
            assert ids == {e.id for e in store.archive("europe", n, 2)}
        assert multiprocessing.active_children() == []
    finally:
        store.close()


def test_archive_pages_read_together_are_the_pages_read_one_by_one(store: Store) -> None:
    feed_store(store, 11)
    removed = store.archive("europe", 2, 2)
    with store.transaction() as conn:  # page 2 loses both its entries, page 4 one
        for entry in [*removed, store.archive("europe", 4, 2)[0]]:
            assert store.remove(conn, entry.article.key, T0 + timedelta(days=1), "gone")
    together = store.archive_pages("europe", 1, 5, 2)
    assert list(together) == [1, 2, 3, 4, 5]
    assert together[2] == [] and len(together[4]) == 1
    for page, entries in together.items():
        assert entries == store.archive("europe", page, 2)
    assert store.archive_pages("europe", 5, 6, 2)[6] == store.archive("europe", 6, 2)


def test_feed_keeps_every_entry_not_yet_archived(tmp_path: Path, store: Store) -> None:
    feed_store(store, 5)
    Publisher(make_config(tmp_path, entries_per_feed=1, archive_page_size=3), store).publish()
    feed = read_atom(tmp_path / "feeds" / "europe.atom")
    ids = {e.findtext(f"{A}id") for e in feed.findall(f"{A}entry")}
    assert ids == {e.id for e in store.archive("europe", 2, 3)}  # entries 4 and 5


def test_no_archives_without_atom(tmp_path: Path, store: Store) -> None:
    feed_store(store, 5)
    config = make_config(tmp_path, formats=("rss", "json"), entries_per_feed=2)
    result = Publisher(config, store).publish(["europe"])
    assert sorted(result.changed) == sorted(
        [
            "europe.rss",
            "europe.json",
            "europe.html",
            "all.rss",
            "all.json",
            "all.html",
            "index.opml",
            "index.html",
        ]
    )
    assert not (tmp_path / "feeds" / "archive").exists()
    rss = etree.fromstring((tmp_path / "feeds" / "europe.rss").read_bytes())
    assert [i.findtext("guid") for i in rss.findall("channel/item")] == [
        e.id for e in store.entries("europe", 2)
    ]


def test_publish_reflects_the_store(tmp_path: Path, store: Store) -> None:
    feed_store(store, 3)
    publisher = Publisher(make_config(tmp_path, archive_page_size=50), store)
    publisher.publish()
    out = tmp_path / "feeds"
    stored = store.entries("europe")
    feed = read_atom(out / "europe.atom")
    entries = feed.findall(f"{A}entry")
    assert [e.findtext(f"{A}id") for e in entries] == [e.id for e in stored]
    assert [e.findtext(f"{A}title") for e in entries] == [e.article.title for e in stored]
    assert feed.findtext(f"{A}updated") == stored[0].updated.isoformat()
    by_id = {e.findtext(f"{A}id"): e for e in entries}
    one = by_id[stored[-1].id]  # article 1, from the configured "example" source
    assert one.findtext(f"{A}source/{A}title") == "Example News"
    assert links(one.find(f"{A}source"), "alternate") == ["https://news.example/feed.xml"]  # type: ignore[arg-type]
    two = by_id[stored[1].id]  # article 2, from "local": a file, so no link is published
    assert two.findtext(f"{A}source/{A}title") == "local"
    assert links(two.find(f"{A}source"), "alternate") == []  # type: ignore[arg-type]

    # A correction: same key, new text → same id, later updated, first in the feed.
    first = stored[-1]
    corrected = replace(
        first.article,
        paragraphs=("A corrected first paragraph.",),
        content_html="<p>A corrected first paragraph.</p>",
        content_hash=fingerprint.content_hash(
            first.article.title, ["A corrected first paragraph."]
        ),
        regions=(RegionMatch("europe", "test", ""),),
    )
    later = T0 + timedelta(days=1)
    store.apply("example", [corrected], now=later)
    result = publisher.publish(["europe"])
    assert {"europe.atom", "europe.rss", "europe.json", "all.atom"} <= set(result.changed)
    assert "world.atom" not in result.changed  # not asked for, and untouched
    feed = read_atom(out / "europe.atom")
    top = feed.find(f"{A}entry")
    assert top is not None and top.findtext(f"{A}id") == first.id
    assert top.findtext(f"{A}updated") == later.isoformat()
    # (an Arabic-language entry of the fixture store: set right to left)
    assert top.findtext(f"{A}content") == (
        '<div dir="rtl" lang="ar"><p>A corrected first paragraph.</p></div>'
    )
    assert feed.findtext(f"{A}updated") == later.isoformat()
    for name in ("europe.rss", "all.atom"):
        parsed = feedparser.parse((out / name).read_bytes())
        assert not parsed.bozo and parsed.entries[0].id == first.id
    assert json.loads((out / "europe.json").read_bytes())["items"][0]["id"] == first.id
    jing_validate(out / "europe.atom", out / "all.atom", out / "world.atom")


def test_publish_refuses_unsafe_ids_and_skips_unknown_ones(tmp_path: Path, store: Store) -> None:
    publisher = Publisher(make_config(tmp_path), store)
    with pytest.raises(PublishError):
        publisher.publish(["../../etc"])
    assert not (tmp_path / "feeds").exists()
    result = publisher.publish(["gone", "world"])
    assert result.skipped == ("gone",)
    assert result.regions == ("world", "all")
    assert not (tmp_path / "feeds" / "gone.atom").exists()
    assert publisher.publish([]).changed == ()


def test_all_has_a_language_when_every_region_shares_it(tmp_path: Path, store: Store) -> None:
    config = make_config(tmp_path)
    config = replace(config, regions=tuple(replace(r, language="ar") for r in config.regions))
    assert Publisher(config, store).feed_info("all").language == "ar"
    assert Publisher(make_config(tmp_path), store).feed_info("all").language is None


def test_hubs_come_from_the_config(tmp_path: Path, store: Store) -> None:
    config = make_config(tmp_path)
    config = replace(config, publish=replace(config.publish, hubs=("https://hub.example/",)))
    assert Publisher(config, store).feed_info("europe").hubs == (
        "https://hub.example/",
        f"{BASE}/hub",
    )
    config = replace(config, publish=replace(config.publish, builtin_hub=False))
    assert Publisher(config, store).feed_info("europe").hubs == ("https://hub.example/",)


@pytest.mark.e2e
def test_publish_raises_and_keeps_old_files_when_writing_fails(
    tmp_path: Path, store: Store
) -> None:
    """A real failing write: the publisher runs in a child process whose files may not grow
    past 256 KB (RLIMIT_FSIZE), after a new large article makes the feeds bigger than that."""
    resource = pytest.importorskip("resource")
    feed_store(store, 2)
    config = make_config(tmp_path, archive_page_size=50)
    Publisher(config, store).publish()
    out = tmp_path / "feeds"
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    big = ("كلمة " * 40_000,)  # 360 KB of UTF-8: every feed outgrows the limit
    store.apply("example", [article(9, paragraphs=big, published=T0)], now=T0 + timedelta(days=2))
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        from pathlib import Path
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from support.records import make_config
        from syndicator.errors import PublishError
        from syndicator.publish import Publisher
        from syndicator.store import Store

        store = Store("sqlite:///{tmp_path}/s.db", host="feeds.test")
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (256_000, 256_000))
        try:
            Publisher(make_config(Path({str(tmp_path)!r}), archive_page_size=50), store).publish()
        except PublishError as e:
            print("PublishError:", e)
        """
    )
    assert resource.RLIMIT_FSIZE
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("PublishError: cannot write"), run.stdout + run.stderr
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # every old file intact, and no temporary file left behind


# --------------------------------------------------------------------------------------------
# Hostile text and URLs: the last line of defence before a reader


@pytest.mark.parametrize(
    ("summary", "paragraphs"),
    [
        ("<script>alert(1)</script> & <b>bold</b>", None),
        (None, ("<img src=x onerror=alert(1)> a < b & c",)),
    ],
)
def test_rss_description_is_escaped_text(
    summary: str | None, paragraphs: tuple[str, ...] | None
) -> None:
    """RSS readers decode <description> as HTML: what it carries is text escaped for HTML, so
    markup in a summary (or in the lead paragraph that stands in for one) shows as text."""
    art = article(9, language="en", summary=summary, paragraphs=paragraphs)
    rss = etree.fromstring(render_rss(INFO, [entry(9, art, updated=T0)]))
    description = rss.findtext("channel/item/description") or ""
    plain = summary or art.paragraphs[0]
    assert description == plain.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert "<" not in description
    parsed = feedparser.parse(render_rss(INFO, [entry(9, art, updated=T0)]))
    # feedparser, as readers do, takes the description for HTML: an HTML text, shown as is
    assert parsed.entries[0].summary_detail.type == "text/html"
    assert parsed.entries[0].summary == description


BAD_URLS = ("file:///etc/passwd", "javascript:alert(1)", "data:text/html,<script>x</script>")


@pytest.mark.parametrize("bad", BAD_URLS)
def test_no_published_link_or_image_is_file_javascript_or_data(bad: str) -> None:
    """Whatever reached the store, a feed never links to a local file or a script: links,
    enclosures, Media RSS, JSON Feed urls and images that are not http(s) are left out."""
    with_content = replace(
        article(
            7, language="en", images=(Image(bad, "c", "AP"), Image("https://i.example/ok.jpg"))
        ),
        url=bad,
    )
    without_content = replace(with_content, key="https://n.example/8", content_html="")
    entries = [entry(7, with_content, updated=T0), entry(8, without_content, updated=T0)]
    info = replace(INFO, hubs=())
    for fmt, data in (
        ("atom", render_atom(info, entries)),
        ("rss", render_rss(info, entries)),
        ("json", render_json(info, entries)),
    ):
        text = data.decode()
        assert bad.split(":")[0] + ":" not in text.replace("https:", "").replace("http:", ""), fmt
        assert "https://i.example/ok.jpg" in text, fmt
    atom = etree.fromstring(render_atom(info, entries))
    for e in atom.findall(f"{A}entry"):  # RFC 4287: content, or else an alternate link
        assert e.find(f"{A}content") is not None or e.find(f"{A}link[@rel='alternate']") is not None
    items = json.loads(render_json(info, entries))["items"]
    assert all("url" not in i for i in items)


def test_right_to_left_content_carries_its_direction_in_every_format() -> None:
    """An RTL article's HTML content is wrapped in ``<div dir="rtl" lang="…">`` in Atom
    ``content``, RSS ``content:encoded`` and JSON Feed ``content_html``; an article of unknown
    language with right-to-left letters gets ``dir="auto"``; a left-to-right one is as it was."""
    unknown = replace(
        ENGLISH, id="tag:x,2026:unknown", article=replace(ENGLISH.article, language=None,
        content_html="<p>«مرحبا» and hello.</p>", url="https://news.example/u")
    )  # fmt: skip
    entries = [ARABIC, ENGLISH, unknown]
    wanted = {
        ARABIC.id: f'<div dir="rtl" lang="ar">{ARABIC.article.content_html}</div>',
        ENGLISH.id: ENGLISH.article.content_html,
        unknown.id: '<div dir="auto"><p>«مرحبا» and hello.</p></div>',
    }
    atom = atom_tree(render_atom(INFO, entries))
    got = {e.findtext(f"{A}id"): e.findtext(f"{A}content") for e in atom.findall(f"{A}entry")}
    assert got == wanted
    rss = etree.fromstring(render_rss(INFO, entries))
    encoded = "{http://purl.org/rss/1.0/modules/content/}encoded"
    got = {i.findtext("guid"): i.findtext(encoded) for i in rss.iter("item")}
    assert got == wanted
    data = json.loads(render_json(INFO, entries))
    assert {i["id"]: i["content_html"] for i in data["items"]} == wanted

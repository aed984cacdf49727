"""Benchmark: rendering one region of 50 entries (about 5 KB of content each) in every format.

    .venv/bin/python bench/render.py [--entries 50] [--runs 300] [--compare]

Synthetic entries (Arabic and English, authors, two captioned images, three categories, an
origin) are rendered by :mod:`syndicator.publish` as Atom, RSS and JSON Feed, and all three
together through ``render_region`` (what the Publisher calls: entries prepared once for every
format). The cases run round-robin, ``--runs`` times after a warm-up, so that load from other
processes falls on all of them alike; the table gives the median, first quartile and best run in
milliseconds of this process's CPU time, and the output size. The first lines say how loaded the
machine was and how fast its Python is (``sum(range(10000))``), to scale the figures by.

Atom is written as strings (``syndicator/publish/atom.py``); RSS is built with feedgen.
``--compare`` adds two reference Atom builders that are not part of the service: feedgen (what
rendered Atom before; the tests hold the writer to its bytes, ``tests/support/feedgen_atom.py``)
and the same document built with lxml directly. Pure CPU: no disk, no store.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lxml import etree

from syndicator.model import Article, Entry, FeedInfo, Image, Origin, RegionMatch
from syndicator.publish import (
    XML_LANG,
    feed_url,
    home_url,
    render_atom,
    render_json,
    render_region,
    render_rss,
)
from syndicator.publish.items import Feed, prepare

BASE = "http://127.0.0.1:8080"
TITLES = {"europe": "أوروبا", "world": "World"}
PARAGRAPH_AR = (
    "قال وزير الخارجية في مؤتمر صحافي عقده في العاصمة إن المحادثات ستستأنف الأسبوع المقبل، "
    "مشيرا إلى أن الطرفين اتفقا على جدول أعمال يشمل الملفات العالقة كافة."
)
PARAGRAPH_EN = (
    "The foreign minister told a news conference in the capital that the talks would resume "
    "next week, adding that both sides had agreed on an agenda covering every open file."
)


def entries(count: int) -> list[Entry]:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    out = []
    for i in range(count):
        arabic = i % 2 == 0
        paragraph = PARAGRAPH_AR if arabic else PARAGRAPH_EN
        paragraphs = tuple(f"{paragraph} ({i}.{n})" for n in range(20))  # about 5 KB of HTML
        html = "".join(f"<p>{p}</p>" for p in paragraphs)
        article = Article(
            key=f"https://news.example/a/{i}",
            url=f"https://news.example/a/{i}",
            title=("عنوان الخبر رقم " if arabic else "Story number ") + str(i),
            paragraphs=paragraphs,
            content_html=html,
            content_hash=f"v1:{i:064x}",
            similarity="s1:0000000000000000",
            summary=paragraphs[0],
            section="أوروبا" if arabic else "World",
            authors=("سامي الأحمد",) if i % 3 else (),
            language="ar" if arabic else "en",
            images=(
                Image(f"https://img.example/{i}/a.jpg", "متظاهرون أمام البرلمان", "AP"),
                Image(f"https://img.example/{i}/b.png", "Delegates arrive", "Reuters"),
            ),
            regions=(RegionMatch("europe", "section", ""), RegionMatch("world", "section", "")),
        )
        when = start + timedelta(minutes=7 * i)
        out.append(
            Entry(
                id=f"tag:news.example,2026-03-01:article/{i:08d}",
                article=article,
                published=when,
                updated=when + timedelta(minutes=3),
                origin=Origin(f"{BASE}/sources/example", "Example News", "https://news.example/"),
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Reference builders (--compare): the subscription Atom feed with lxml directly (feedgen's is
# the tests' reference, tests/support/feedgen_atom.py).

A = "{http://www.w3.org/2005/Atom}"


def atom_lxml(feed: Feed) -> bytes:
    sub = etree.SubElement
    root = etree.Element(A + "feed", nsmap={None: A[1:-1]})  # type: ignore[dict-item]
    if feed.language:
        root.set(XML_LANG, feed.language)
    self_url = feed_url(feed.base_url, feed.region, "atom")
    sub(root, A + "id").text = self_url
    sub(root, A + "title").text = feed.title
    sub(root, A + "updated").text = feed.updated.isoformat()
    if feed.needs_author:
        sub(sub(root, A + "author"), A + "name").text = feed.title
    sub(root, A + "link", href=self_url, rel="self", type="application/atom+xml")
    for hub in feed.hubs:
        sub(root, A + "link", href=hub, rel="hub")
    sub(root, A + "link", href=home_url(feed.base_url), rel="alternate", type="text/html")
    sub(root, A + "generator").text = "syndicator"
    for item in feed.items:
        e = sub(root, A + "entry")
        if item.language:
            e.set(XML_LANG, item.language)
        sub(e, A + "id").text = item.id
        sub(e, A + "title").text = item.title
        sub(e, A + "updated").text = item.updated.isoformat()
        for name in item.authors:
            sub(sub(e, A + "author"), A + "name").text = name
        sub(e, A + "content", type="html").text = item.content_html
        if item.summary:
            sub(e, A + "summary").text = item.summary
        for term, scheme, label in item.categories:
            sub(e, A + "category", term=term, scheme=scheme, label=label)
        sub(e, A + "published").text = item.published.isoformat()
        sub(e, A + "link", href=item.url, rel="alternate", type="text/html")
        for url, kind, _, _, title in item.images:
            sub(e, A + "link", href=url, rel="enclosure", type=kind, title=title or "")
        if item.origin:
            source = sub(e, A + "source")
            sub(source, A + "id").text = item.origin.id
            sub(source, A + "title").text = item.origin.title
            sub(source, A + "link", href=item.origin.url or "", rel="alternate")
    return bytes(etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8"))


# --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--compare", action="store_true", help="add reference Atom builders")
    args = parser.parse_args()
    items = entries(args.entries)
    info = FeedInfo("europe", "أوروبا", BASE, "ar", None, (f"{BASE}/hub",), rtl=True)
    cases: dict[str, Callable[[], bytes]] = {
        "Atom": lambda: render_atom(info, items, region_titles=TITLES),
        "RSS (feedgen)": lambda: render_rss(info, items, region_titles=TITLES),
        "JSON Feed": lambda: render_json(info, items, region_titles=TITLES),
        "all three": lambda: b"".join(render_region(info, items, region_titles=TITLES).values()),
    }
    if args.compare:  # each prepares the entries as render_atom does, then builds the XML
        cases["Atom (lxml, ref.)"] = lambda: atom_lxml(
            prepare(info, items, TITLES, None, clean=False)
        )
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from support.feedgen_atom import feedgen_atom

        cases["Atom (feedgen, ref.)"] = lambda: feedgen_atom(
            prepare(info, items, TITLES, None, clean=False)
        )
    sizes = {name: len(fn()) for name, fn in cases.items()}
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for run in range(args.runs + 10):
        for name, fn in cases.items():
            t0 = time.process_time()
            fn()
            if run >= 10:  # warm-up
                samples[name].append((time.process_time() - t0) * 1000)
    calibration = min(timeit.repeat("sum(range(10000))", number=100, repeat=5)) * 1e4
    content = sum(len(e.article.content_html.encode()) for e in items) / len(items)
    print(
        f"{args.entries} entries, {content / 1024:.1f} KB of content each, {args.runs} runs; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; "
        f"sum(range(10000)) = {calibration:.0f} µs"
    )
    print(f"{'renderer':<22} {'median ms':>10} {'p25 ms':>8} {'best ms':>8} {'bytes':>8}")
    for name, values in samples.items():
        q1 = statistics.quantiles(values, n=4)[0]
        print(
            f"{name:<22} {statistics.median(values):>10.2f} {q1:>8.2f} {min(values):>8.2f}"
            f" {sizes[name]:>8}"
        )


if __name__ == "__main__":
    main()

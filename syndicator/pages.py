"""HTML pages for people: the home page and a page per region, published beside the feeds and
rendered from the same records; and what every page shares (the frame, the style, escaping,
times in words, text in its own direction), which the ops pages (:mod:`syndicator.web.status`)
use too.

Pure: records in, a string out; times are parameters. Every value is escaped; no page has a
script or loads anything from elsewhere but the pictures of articles (their
Content-Security-Policy says so); right-to-left text carries ``lang`` and ``dir`` wherever it
appears, and a page whose regions share a right-to-left language is laid out right to left.
This module does not read the store or the clock.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from syndicator.direction import dir_attributes, is_rtl, text_direction, well_formed_tag
from syndicator.model import Entry, FeedInfo, as_utc, iso
from syndicator.normalize import sanitize_html

CHART_DAYS = 14
FORMAT_NAMES = {"atom": "Atom", "rss": "RSS", "json": "JSON Feed"}
FORMAT_TYPES = {
    "atom": "application/atom+xml",
    "rss": "application/rss+xml",
    "json": "application/feed+json",
}
HEADLINES = 5  # per region on the home page
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
STYLE = """
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0;
  --paper: #fff; --ground: #f6f8fa; --link: #0550ae; --bar: #3b6fd4; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px clamp(16px, 4vw, 40px) 48px; color: var(--ink);
  background: var(--ground); font: 15px/1.55 system-ui, -apple-system, "Segoe UI", "Noto Sans",
  "Noto Naskh Arabic", "Noto Sans Arabic", "Geeza Pro", Tahoma, sans-serif; }
a { color: var(--link); text-decoration: none; } a:hover { text-decoration: underline; }
header.site { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 24px;
  margin-bottom: 18px; }
h1 { font-size: 24px; margin: 0; } h2 { font-size: 18px; margin: 0 0 8px; }
h3 { font-size: 16px; margin: 24px 0 8px; }
nav a { margin-inline-end: 14px; white-space: nowrap; }
.muted, .sub { color: var(--muted); font-size: 13px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 16px; }
.card, article.entry, section.box { background: var(--paper); border: 1px solid var(--line);
  border-radius: 8px; padding: 16px 18px; }
.card ol { margin: 8px 0 12px; padding-inline-start: 20px; }
.card li { margin: 6px 0; }
.subscribe { display: flex; flex-wrap: wrap; gap: 6px 12px; align-items: center; }
.button, button { display: inline-block; padding: 5px 12px; border-radius: 6px; font: inherit;
  font-size: 14px; border: 1px solid var(--link); background: var(--link); color: #fff;
  cursor: pointer; }
.button.quiet, button.quiet { background: var(--paper); color: var(--link); }
.feeds { display: grid; grid-template-columns: max-content 1fr; gap: 6px 12px;
  align-items: center; }
.feeds input { width: 100%; font: 13px ui-monospace, SFMono-Regular, Menlo, monospace;
  padding: 5px 8px; border: 1px solid var(--line); border-radius: 6px; background: #fbfcfd; }
article.entry { margin: 14px 0; }
article.entry h2 { font-size: 19px; }
article.entry figure { margin: 10px 0; }
article.entry img { max-width: 100%; height: auto; border-radius: 4px; }
article.entry figcaption { color: var(--muted); font-size: 13px; }
details > summary { cursor: pointer; color: var(--link); margin-top: 8px; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-weight: 600;
  font-size: 12px; border: 1px solid currentColor; white-space: nowrap; }
table { width: 100%; border-collapse: collapse; background: var(--paper);
  border: 1px solid var(--line); }
th, td { padding: 7px 10px; border-bottom: 1px solid var(--line); text-align: start;
  vertical-align: top; font-size: 14px; }
th { background: #eef1f4; font-size: 12px; color: var(--muted); font-weight: 600; }
td.n { text-align: end; font-variant-numeric: tabular-nums; }
tr.failing td:first-child { box-shadow: inset 3px 0 #cf222e; }
tr.degraded td:first-child, tr.stale td:first-child { box-shadow: inset 3px 0 #bf8700; }
code, pre { font: 12.5px ui-monospace, SFMono-Regular, Menlo, monospace; }
pre.diff { background: #fbfcfd; border: 1px solid var(--line); padding: 8px; overflow-x: auto;
  white-space: pre-wrap; }
pre.diff .add { color: #116329; background: #dafbe1; } pre.diff .del { color: #82071e;
  background: #ffebe9; }
.url { color: var(--muted); font-size: 12px; word-break: break-all; }
.error { color: #a40e26; font-size: 13px; overflow-wrap: anywhere; }
.stamp { color: var(--muted); font-size: 12px; white-space: nowrap; }
.summary { display: flex; flex-wrap: wrap; gap: 8px; margin: 12px 0 0; padding: 0;
  list-style: none; }
.strip { display: flex; gap: 2px; flex-wrap: wrap; margin: 6px 0; }
.strip span { width: 10px; height: 22px; border-radius: 2px; }
form.actions { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 12px 0; }
form.actions input[type=password] { padding: 5px 8px; border: 1px solid var(--line);
  border-radius: 6px; font: inherit; font-size: 14px; }
.notice { background: #ddf4ff; border: 1px solid #54aeff; padding: 8px 12px; border-radius: 6px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; }
figure.chart { margin: 0; padding: 10px 12px 6px; background: var(--paper);
  border: 1px solid var(--line); }
figure.chart figcaption { display: flex; justify-content: space-between; gap: 8px;
  margin-bottom: 4px; }
figure.chart figcaption .title { font-weight: 600; }
svg { display: block; width: 100%; height: auto; }
svg .bar { fill: var(--bar); } svg .today { fill: #0b3d91; } svg .axis { stroke: var(--line); }
svg text { font: 9px system-ui, sans-serif; fill: var(--muted); }
.empty { color: var(--muted); }
.problem { margin: 12px 0 0; }
"""


def e(value: Any) -> str:
    """HTML-escaped text (quotes included: safe in attributes too)."""
    return html.escape("" if value is None else str(value), quote=True)


def page(
    title: str,
    body: str,
    *,
    language: str | None = None,
    head: str = "",
    refresh: int | None = None,
) -> str:
    """A whole page. The reader's pages (home, regions) take the site's language and direction
    (their English chrome isolated left to right); the ops pages are English, left to right,
    with every right-to-left name or text in them marked so."""
    tag = well_formed_tag(language) or "en"
    direction = "rtl" if is_rtl(tag) else "ltr"
    meta_refresh = f'<meta http-equiv="refresh" content="{refresh}">\n' if refresh else ""
    return f"""<!DOCTYPE html>
<html lang="{e(tag)}" dir="{direction}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{meta_refresh}<title>{e(title)}</title>
<link rel="icon" href="data:,">
{head}<style>{STYLE}</style>
</head>
<body>
{body}
</body>
</html>
"""


def words(when: datetime | None) -> str:
    """A time as a person reads it, in UTC: ``14 March 2026, 08:30 UTC``. A published page
    says when, never "ago": it stays true for as long as the file is served."""
    if when is None:
        return ""
    when = as_utc(when)
    return f"{when.day} {MONTHS[when.month - 1]} {when.year}, {when:%H:%M} UTC"


def time_element(when: datetime | None) -> str:
    if when is None:
        return ""
    return f'<time dir="ltr" datetime="{e(iso(when))}">{e(words(when))}</time>'


def en(content: str) -> str:
    """English words of the page's chrome (``content``: HTML), isolated left to right: on a
    right-to-left page they stay in their order ("4 entries", "…, 10:05 UTC.")."""
    return f'<span lang="en" dir="ltr">{content}</span>'


def web_url(url: str | None) -> str | None:
    """``url`` when it is an http(s) address a person can open, else None."""
    parts = urlsplit(url or "")
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def text_in(language: str | None, text: str, tag: str = "span", css: str = "") -> str:
    """Text in its own language and direction (auto when the language is unknown)."""
    direction = text_direction(language, text)
    attrs = dir_attributes(language) if well_formed_tag(language) else ""
    if not attrs and direction:
        attrs = f' dir="{direction}"'
    cls = f' class="{css}"' if css else ""
    return f"<{tag}{cls}{attrs}>{e(text)}</{tag}>"


def region_page_url(base_url: str, region: str) -> str:
    """Where a region's page is published: beside its feeds, ``/feeds/{region}.html``."""
    return f"{base_url.rstrip('/')}/feeds/{region}.html"


def _feed_url(base_url: str, region: str, fmt: str) -> str:
    ext = {"atom": "atom", "rss": "rss", "json": "json"}[fmt]
    return f"{base_url.rstrip('/')}/feeds/{region}.{ext}"


def _autodiscovery(info: FeedInfo, formats: Sequence[str]) -> str:
    return "".join(
        f'<link rel="alternate" type="{FORMAT_TYPES[fmt]}" '
        f'href="{e(_feed_url(info.base_url, info.region, fmt))}" '
        f'title="{e(info.title)} ({FORMAT_NAMES[fmt]})">\n'
        for fmt in formats
    )


# --------------------------------------------------------------------------------------------
# Published pages: home and regions


def home_page(
    title: str,
    feeds: Sequence[FeedInfo],
    *,
    formats: Sequence[str],
    latest: Mapping[str, Sequence[Entry]],
    sizes: Mapping[str, int],
    language: str | None = None,
    hub: str | None = None,
) -> bytes:
    """The home page: each region with its latest headlines (title, source, when), the way to
    subscribe (its page, with the feed addresses) and links to the OPML and the status page.
    ``latest`` and ``sizes`` are per region id; ``language`` is the one the regions share."""
    base = feeds[0].base_url if feeds else ""
    head = "".join(_autodiscovery(info, formats) for info in feeds)
    cards = []
    for info in feeds:
        entries = latest.get(info.region, ())
        items = "".join(_headline(entry) for entry in entries[:HEADLINES])
        newest = max((x.updated for x in entries), default=None)
        count = sizes.get(info.region, 0)
        noun = "entry" if count == 1 else "entries"
        stamp = f" · updated {time_element(newest)}" if newest else ""
        listing = f"<ol>{items}</ol>" if items else '<p class="empty" lang="en">No entry yet.</p>'
        # Each format leads to its address on the region's page, to copy: a click never lands
        # on raw XML (feed readers find the feeds themselves by the autodiscovery links).
        region_page = region_page_url(info.base_url, info.region)
        direct = " · ".join(
            f'<a href="{e(region_page)}#feed-{fmt}">{FORMAT_NAMES[fmt]}</a>' for fmt in formats
        )
        if hub:
            direct += f' · <a href="{e(region_page)}#feed-hub">WebSub</a>'

        description = text_in(info.language, info.description, "p") if info.description else ""
        cards.append(
            f'<section class="card" id="region-{e(info.region)}">'
            f"{text_in(info.language, info.title, 'h2')}{description}"
            f'<p class="muted">{en(f"{count} {noun}{stamp}")}</p>'
            f"{listing}"
            f'<p class="subscribe" lang="en"><a class="button" '
            f'href="{e(region_page_url(info.base_url, info.region))}">Subscribe</a>'
            f'<span class="muted">{direct}</span></p></section>'
        )
    hub_note = (
        '<p class="muted">'
        + en(
            "Every feed announces its changes through the WebSub hub "
            f"<code>{e(hub)}</code>: a reader that supports it is told at once."
        )
        + "</p>"
        if hub
        else ""
    )
    body = f"""<header class="site">
{text_in(language, title, "h1")}
<nav lang="en"><a href="{e(base)}/feeds/index.opml" type="text/x-opml">OPML (every feed)</a>\
<a href="{e(base)}/status">Status</a><a href="{e(base)}/openapi.json">API</a></nav>
</header>
<main>
<div class="cards">
{"".join(cards)}
</div>
{hub_note}
</main>"""
    return page(title, body, language=language, head=head).encode()


def _headline(entry: Entry) -> str:
    article = entry.article
    link = web_url(article.url)
    title = text_in(article.language, article.title or entry.id)
    shown = f'<a href="{e(link)}">{title}</a>' if link else title
    source = entry.origin.title if entry.origin is not None else ""
    by = f" · <bdi>{e(source)}</bdi>" if source else ""
    return f'<li>{shown}<div class="sub">{time_element(entry.updated)}{by}</div></li>'


def region_page(
    info: FeedInfo,
    entries: Sequence[Entry],
    *,
    formats: Sequence[str],
    hub: str | None = None,
    site_title: str = "",
) -> bytes:
    """A region's entries as a reader would see them, with the addresses of its feeds to copy
    and autodiscovery links: what a person who clicks "subscribe" lands on (never raw XML)."""
    base = info.base_url
    head = _autodiscovery(info, formats)
    rows = "".join(
        f'<label for="feed-{fmt}">{FORMAT_NAMES[fmt]}</label>'
        f'<input id="feed-{fmt}" dir="ltr" readonly '
        f'value="{e(_feed_url(base, info.region, fmt))}">'
        for fmt in formats
    )
    if hub:
        rows += (
            '<label for="feed-hub">WebSub hub</label>'
            f'<input id="feed-hub" dir="ltr" readonly value="{e(hub)}">'
        )
    live = [x for x in entries if not x.deleted]
    articles = "".join(_entry_article(x) for x in live) or (
        f'<p class="empty">{en("No entry yet: this region is empty for now.")}</p>'
    )
    description = text_in(info.language, info.description, "p") if info.description else ""
    body = f"""<header class="site">
{text_in(info.language, info.title, "h1")}
<nav lang="en"><a href="{e(base)}/">{e(site_title) or "Home"}</a>\
<a href="{e(base)}/status">Status</a></nav>
</header>
<main>
{description}
<section class="box" lang="en" id="subscribe">
<h2>{en("Subscribe")}</h2>
<p class="muted">{
        en(
            "Paste one of these addresses into a feed reader; most readers also "
            "find them from this page's address."
        )
    }</p>
<div class="feeds">{rows}</div>
</section>
{articles}
</main>"""
    return page(info.title, body, language=info.language, head=head).encode()


def _entry_article(entry: Entry) -> str:
    article = entry.article
    language = article.language
    link = web_url(article.url)
    title = e(article.title or entry.id)
    heading = f'<a href="{e(link)}">{title}</a>' if link else title
    meta = [time_element(entry.updated)]
    if entry.origin is not None:
        meta.append(f"<bdi>{e(entry.origin.title)}</bdi>")
    if article.authors:
        meta.append(
            text_in(
                language,
                "، ".join(article.authors) if is_rtl(language) else ", ".join(article.authors),
            )
        )
    summary = article.summary or article.subtitle
    lead = text_in(language, summary, "p") if summary else ""
    content = ""
    if article.content_html:
        # Sanitized when it was stored; sanitized again here, as everything a page shows is
        # made safe where it is shown (the same nh3 rules: no script, handler or style).
        content = (
            f"<details><summary>{en('Read the whole article')}</summary>"
            f"<div>{sanitize_html(article.content_html, web_url(article.url))}</div></details>"
        )
    attrs = dir_attributes(language) if well_formed_tag(language) else ' dir="auto"'
    return (
        f'<article class="entry" id="entry-{e(quote(entry.id, safe=""))}"{attrs}>'
        f"<h2>{heading}</h2>"
        f'<div class="sub">{" · ".join(m for m in meta if m)}</div>'
        f"{lead}{content}</article>"
    )

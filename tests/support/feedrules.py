"""What a feed validator checks that a schema cannot, as data: ``problems(path, …)`` lists every
breach in one published file (Atom, RSS 2.0 or JSON Feed 1.1), one line each, empty when none.

Written from the specifications (RFC 4287, RSS 2.0, JSON Feed 1.1) and from the messages of
the W3C feed validator that its users meet: InvalidURLAttribute (links, enclosures and media
must be absolute http(s) URLs), ImplausibleDate, MissingSourceElement (``atom:source`` has
``id``, ``title`` and ``updated``), DuplicateUpdated, MissingAttribute (an RSS enclosure has
``url``, ``length`` and ``type``), guid rules. ``w3c_validate`` runs the W3C validator itself
when its source is at ``$FEEDVALIDATOR`` (see docs/RELIABILITY.md).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree

A = "{http://www.w3.org/2005/Atom}"
MEDIA = "{http://search.yahoo.com/mrss/}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
FORBIDDEN_SCHEMES = ("file:", "javascript:", "data:", "vbscript:")
EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)  # the W3C validator's "implausible" bound is 1990
_IMG = re.compile(r"<img\b[^>]*>", re.I)
_SRC = re.compile(r"""\bsrc\s*=\s*["']?([^"'\s>]+)""", re.I)
_HREF = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']*)["']""", re.I)


def web_url(value: str | None) -> bool:
    parts = urlsplit(value or "")
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def plausible(when: datetime, now: datetime) -> bool:
    return EARLIEST <= when <= now + timedelta(days=1)


def rfc3339(text: str | None) -> datetime | None:
    try:
        when = datetime.fromisoformat((text or "").replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def content_problems(where: str, html: str | None) -> list[str]:
    """Inside HTML content: every picture has a source, every link and source is http(s)."""
    out = []
    for img in _IMG.findall(html or ""):
        src = _SRC.search(img)
        if src is None:
            out.append(f"{where}: <img> without src: {img[:80]}")
    for url in _HREF.findall(html or ""):
        if url.lower().startswith(FORBIDDEN_SCHEMES) or (
            ":" in url.split("/")[0] and not web_url(url) and not url.startswith("mailto:")
        ):
            out.append(f"{where}: link or source {url[:80]!r} is not http(s)")
    return out


def problems(path: Path, *, now: datetime | None = None) -> list[str]:
    """Every rule ``path`` breaks (Atom, RSS or JSON Feed, by its suffix)."""
    now = now or datetime.now(UTC)
    raw = path.read_bytes()
    out = [
        f"{path.name}: carries a {scheme} URL"
        for scheme in FORBIDDEN_SCHEMES
        if scheme.encode() in raw.lower()
    ]
    if path.suffix == ".atom":
        out += _atom(path.name, etree.fromstring(raw), now)
    elif path.suffix == ".rss":
        out += _rss(path.name, etree.fromstring(raw), now)
    elif path.suffix == ".json":
        out += _json(path.name, json.loads(raw), now)
    return out


def _atom(name: str, feed: etree._Element, now: datetime) -> list[str]:
    out = []
    updated = rfc3339(feed.findtext(f"{A}updated"))
    if updated is None or not plausible(updated, now):
        out.append(f"{name}: feed updated {feed.findtext(f'{A}updated')!r} is implausible")
    for link in feed.findall(f"{A}link"):
        if not web_url(link.get("href")):
            out.append(f"{name}: feed link {link.get('href')!r} is not http(s)")
    has_author = feed.find(f"{A}author") is not None
    seen_updated: dict[str, str] = {}
    for entry in feed.findall(f"{A}entry"):
        eid = entry.findtext(f"{A}id") or "?"
        where = f"{name} {eid}"
        when = entry.findtext(f"{A}updated") or ""
        if when in seen_updated:
            out.append(f"{where}: same updated as {seen_updated[when]} (DuplicateUpdated)")
        seen_updated[when] = eid
        for field in ("updated", "published"):
            text = entry.findtext(f"{A}{field}")
            if field == "published" and text is None:
                continue
            date = rfc3339(text)
            if date is None or not plausible(date, now):
                out.append(f"{where}: {field} {text!r} is implausible")
        if entry.find(f"{A}author") is None and not has_author:
            out.append(f"{where}: no author, and the feed has none")
        if entry.find(f"{A}content") is None and not any(
            link.get("rel", "alternate") == "alternate" for link in entry.findall(f"{A}link")
        ):
            out.append(f"{where}: neither content nor an alternate link")
        for link in entry.findall(f"{A}link"):
            if not web_url(link.get("href")):
                out.append(f"{where}: link {link.get('href')!r} is not http(s)")
        source = entry.find(f"{A}source")
        if source is not None:
            for child in ("id", "title", "updated"):
                if source.find(f"{A}{child}") is None:
                    out.append(f"{where}: atom:source has no {child} (MissingSourceElement)")
        out += content_problems(where, entry.findtext(f"{A}content"))
    return out


def _rss(name: str, rss: etree._Element, now: datetime) -> list[str]:
    out = []
    channel = rss.find("channel")
    assert channel is not None
    for field in ("title", "link", "description"):
        if not channel.findtext(field):
            out.append(f"{name}: channel has no {field}")
    if not web_url(channel.findtext("link")):
        out.append(f"{name}: channel link {channel.findtext('link')!r} is not http(s)")
    built = channel.findtext("lastBuildDate")
    if built is not None and not plausible(parsedate_to_datetime(built), now):
        out.append(f"{name}: lastBuildDate {built!r} is implausible")
    guids = set()
    for item in channel.findall("item"):
        guid = item.find("guid")
        where = f"{name} {guid.text if guid is not None else item.findtext('title')}"
        if guid is None or not guid.text:
            out.append(f"{where}: no guid")
        else:
            if guid.text in guids:
                out.append(f"{where}: guid repeated")
            guids.add(guid.text)
            if guid.get("isPermaLink") != "false" and not web_url(guid.text):
                out.append(f"{where}: a permalink guid must be an http(s) URL")
        if item.findtext("title") is None and item.findtext("description") is None:
            out.append(f"{where}: neither title nor description")
        if item.findtext("link") is not None and not web_url(item.findtext("link")):
            out.append(f"{where}: link {item.findtext('link')!r} is not http(s)")
        date = item.findtext("pubDate")
        if date is not None and not plausible(parsedate_to_datetime(date), now):
            out.append(f"{where}: pubDate {date!r} is implausible")
        for enclosure in item.findall("enclosure"):
            missing = [a for a in ("url", "length", "type") if enclosure.get(a) is None]
            if missing:
                out.append(f"{where}: enclosure without {', '.join(missing)}")
            if not web_url(enclosure.get("url")):
                out.append(f"{where}: enclosure url {enclosure.get('url')!r} is not http(s)")
            if not (enclosure.get("length") or "").isdigit():
                out.append(f"{where}: enclosure length {enclosure.get('length')!r}")
        for media in item.iter(f"{MEDIA}content"):
            if not web_url(media.get("url")):
                out.append(f"{where}: media:content url {media.get('url')!r} is not http(s)")
        out += content_problems(where, item.findtext(CONTENT))
    return out


def _json(name: str, data: dict[str, object], now: datetime) -> list[str]:
    out = []
    if data.get("version") != "https://jsonfeed.org/version/1.1":
        out.append(f"{name}: not JSON Feed 1.1")
    for key in ("home_page_url", "feed_url"):
        if not web_url(str(data.get(key))):
            out.append(f"{name}: {key} is not http(s)")
    items = data.get("items")
    assert isinstance(items, list)
    ids = set()
    for item in items:
        where = f"{name} {item.get('id')}"
        if not item.get("id") or item["id"] in ids:
            out.append(f"{where}: missing or repeated id")
        ids.add(item.get("id"))
        for key in ("url", "image", "external_url"):
            if key in item and not web_url(item[key]):
                out.append(f"{where}: {key} {item[key]!r} is not http(s)")
        for key in ("date_published", "date_modified"):
            if key in item:
                date = rfc3339(item[key])
                if date is None or not plausible(date, now):
                    out.append(f"{where}: {key} {item[key]!r} is implausible")
        if "content_html" not in item and "content_text" not in item:
            out.append(f"{where}: neither content_html nor content_text")
        out += content_problems(where, item.get("content_html"))
    return out


# --------------------------------------------------------------------------------------------
# The W3C feed validator itself, when its source is at hand

FEEDVALIDATOR_ENV = "FEEDVALIDATOR"  # the src/ folder of a W3C feedvalidator checkout
FEEDVALIDATOR_PYTHON_ENV = "FEEDVALIDATOR_PYTHON"  # a Python with html5lib and rdflib
NO_FEEDVALIDATOR = (
    "the W3C feed validator was not run: set $FEEDVALIDATOR to the src folder of a checkout of "
    "w3c/feedvalidator (and $FEEDVALIDATOR_PYTHON to a Python with lxml, html5lib and rdflib)"
)
_RUN_VALIDATOR = """
import sys
sys.path.insert(0, sys.argv[1])
import feedvalidator
from feedvalidator import compatibility
from feedvalidator.formatter.text_plain import Formatter
failed = False
for path, url in zip(sys.argv[2::2], sys.argv[3::2]):
    data = open(path, "rb").read()
    try:
        events = feedvalidator.validateString(data, firstOccurrenceOnly=1, base=url)
        events = events["loggedEvents"]
    except feedvalidator.logging.ValidationFailure as failure:
        events = [failure.event]
    lines = Formatter(compatibility.AA(events))
    for line in lines:
        print(f"{url}: {line}")
    failed = failed or bool(lines)
sys.exit(1 if failed else 0)
"""


def w3c_validator() -> tuple[str, Path] | None:
    """The Python and the source folder to run the W3C validator with, if configured."""
    folder = os.environ.get(FEEDVALIDATOR_ENV)
    if not folder or not (Path(folder) / "feedvalidator" / "__init__.py").is_file():
        return None
    return os.environ.get(FEEDVALIDATOR_PYTHON_ENV) or sys.executable, Path(folder)


def w3c_validate(files: dict[Path, str]) -> list[str]:
    """The W3C validator's errors and warnings (at the level of its web site) for each file,
    validated as if served at its URL; [] when there are none. Needs :func:`w3c_validator`."""
    found = w3c_validator()
    assert found is not None
    python, folder = found
    args = [str(x) for path, url in files.items() for x in (path, url)]
    run = subprocess.run(
        [python, "-c", _RUN_VALIDATOR, str(folder), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if run.returncode not in (0, 1) or run.stderr.strip():
        raise AssertionError(f"the W3C validator could not run:\n{run.stderr}")
    return run.stdout.splitlines()

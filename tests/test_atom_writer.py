"""The Atom writer (``syndicator/publish/atom.py``) against its reference, feedgen's rendering
of the same feed serialized by lxml (``tests/support/feedgen_atom.py``): the same bytes for
every feed, or the same refusal (``ValueError``) for one that XML or RFC 4287 cannot carry.
Random feeds of every shape, with the characters escaping and checking are about."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.examples import examples
from support.feedgen_atom import feedgen_atom

from syndicator.model import Origin
from syndicator.publish import atom
from syndicator.publish.atom import ArchiveLinks
from syndicator.publish.items import Feed, Item

# What escaping is about, beside any code point XML carries
_SPECIAL = [*"&<>\"'\r\n\t ]/;=", "]]>", "&amp;", "\x7f", "\x85", "\u200f", "é", "ع", "\U0001f600"]
# What XML 1.0 cannot carry (lxml refuses it)
_NOT_XML = ["\x00", "\x08", "\x0b", "\x0c", "\x1f", "\ud800", "\udfff", "\ufffe", "\uffff"]
_CHARS = st.one_of(
    st.sampled_from(_SPECIAL),
    st.characters(exclude_categories=("Cs",), exclude_characters="".join(_NOT_XML[:5])),
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),
).filter(lambda c: c not in ("\ufffe", "\uffff") and (c >= " " or c in "\t\n\r"))
_TEXT = st.lists(_CHARS, max_size=8).map("".join)
_SOME = st.lists(_CHARS, min_size=1, max_size=8).map("".join)
_URL = st.one_of(st.just(""), _SOME.map(lambda p: f"https://news.example/{p}"), _SOME)
_DATE = st.builds(
    lambda seconds, micro, offset: (
        datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=offset)))
        + timedelta(seconds=seconds, microseconds=micro)
    ),
    st.integers(0, 10**8),
    st.sampled_from([0, 0, 123456]),
    st.sampled_from([0, 0, 3]),
)

_ITEM = st.builds(
    Item,
    id=_SOME,
    url=_URL,
    url_type=st.sampled_from(["text/html", "text/plain"]),
    title=_SOME,
    language=st.one_of(st.none(), st.sampled_from(["ar", "en", "fa-IR"]), _SOME),
    published=st.one_of(st.none(), _DATE),
    updated=_DATE,
    authors=st.lists(_TEXT, max_size=2).map(tuple),
    summary=st.one_of(st.just(""), _TEXT),
    lead=st.just(""),
    content_html=st.one_of(st.just(""), _TEXT, st.just('<p dir="rtl">a &amp; b</p>')),
    categories=st.lists(
        st.tuples(_TEXT, st.one_of(st.just(""), _URL), st.one_of(st.just(""), _TEXT)),
        max_size=3,
    ).map(tuple),
    tags=st.just(()),
    images=st.lists(
        st.tuples(
            _URL,
            st.sampled_from(["image/jpeg", "image/png"]),
            st.just(""),
            st.just(""),
            st.one_of(st.none(), _TEXT),
        ),
        max_size=2,
    ).map(tuple),
    origin=st.one_of(
        st.none(),
        st.builds(Origin, id=_TEXT, title=_TEXT, url=st.one_of(st.none(), _URL)),
    ),
)

_FEED = st.builds(
    Feed,
    region=st.sampled_from(["europe", "all", "a-1"]),
    base_url=st.sampled_from(["http://127.0.0.1:8080", "https://feeds.example/news"]),
    title=_SOME,
    description=st.one_of(st.just(""), _TEXT),
    language=st.one_of(st.none(), st.sampled_from(["ar", "en"]), _SOME),
    hubs=st.lists(_URL, max_size=2).map(tuple),
    updated=_DATE,
    items=st.lists(_ITEM, max_size=4).map(tuple),
    tombstones=st.lists(st.tuples(_TEXT, _DATE), max_size=2).map(tuple),
    anonymous=st.booleans(),
)

_ARCHIVE = st.one_of(
    st.none(),
    st.builds(
        ArchiveLinks,
        prev_archive=st.one_of(st.none(), _URL),
        next_archive=st.one_of(st.none(), _URL),
        current=st.one_of(st.none(), _URL),
    ),
)


def _poisoned(value: object, bad: str, at: list[int]) -> object:
    """``value`` with ``bad`` put into its ``at[0]``-th string (counting down ``at[0]``)."""
    if isinstance(value, str):
        at[0] -= 1
        return value[:1] + bad + value[1:] if at[0] == -1 else value
    if isinstance(value, tuple):
        return tuple(_poisoned(v, bad, at) for v in value)
    if isinstance(value, (Feed, Item, Origin)):
        names = [f.name for f in dataclasses.fields(value)]
        return dataclasses.replace(
            value, **{n: _poisoned(getattr(value, n), bad, at) for n in names}
        )
    return value


def _outcome(render, feed, **links):  # type: ignore[no-untyped-def]
    try:
        return render(feed, **links)
    except ValueError:
        return ValueError


@settings(max_examples=examples(400), deadline=None)
@given(
    feed=_FEED,
    archive=_ARCHIVE,
    self_url=st.one_of(st.none(), _URL),
    html_url=st.one_of(st.none(), _URL),
    poison=st.one_of(st.none(), st.tuples(st.sampled_from(_NOT_XML), st.integers(0, 40))),
)
def test_the_writer_gives_feedgens_bytes_or_refuses_as_it_does(
    feed: Feed,
    archive: ArchiveLinks | None,
    self_url: str | None,
    html_url: str | None,
    poison: tuple[str, int] | None,
) -> None:
    """Any feed, and the same with a character XML cannot carry in one of its strings."""
    if poison is not None:
        bad, at = poison
        feed = _poisoned(feed, bad, [at])  # type: ignore[assignment]
    links = {"archive": archive, "self_url": self_url, "html_url": html_url}
    assert _outcome(atom.atom_feed, feed, **links) == _outcome(feedgen_atom, feed, **links)


def _item(n: int, **fields: object) -> Item:
    base = {
        "id": f"tag:news.example,2026:article/{n}",
        "url": f"https://news.example/{n}.html",
        "url_type": "text/html",
        "title": f"Story {n}",
        "language": "ar",
        "published": datetime(2026, 2, 1, n, tzinfo=UTC),
        "updated": datetime(2026, 2, 2, n, tzinfo=UTC),
        "authors": (),
        "summary": "",
        "lead": "",
        "content_html": f"<p>Body {n}</p>",
        "categories": (("europe", "http://127.0.0.1:8080/regions", "Europe"),),
        "tags": (),
        "images": (),
        "origin": None,
    }
    return Item(**{**base, **fields})  # type: ignore[arg-type]


def _feed(*items: Item, **fields: object) -> Feed:
    base = {
        "region": "europe",
        "base_url": "http://127.0.0.1:8080",
        "title": "أوروبا",
        "description": "",
        "language": "ar",
        "hubs": ("http://127.0.0.1:8080/hub",),
        "updated": datetime(2026, 2, 3, tzinfo=UTC),
        "items": items,
    }
    return Feed(**{**base, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "feed, archive",
    [
        pytest.param(_feed(), None, id="empty-feed"),
        pytest.param(_feed(_item(1), _item(2, authors=("A", "B"))), None, id="authors"),
        pytest.param(_feed(_item(1, content_html="")), None, id="link-instead-of-content"),
        pytest.param(_feed(_item(1, content_html="", url="")), None, id="neither"),
        pytest.param(
            _feed(
                _item(
                    1,
                    images=(("https://i.example/a.png", "image/png", "c", "d", "c (d)"),),
                    origin=Origin("http://127.0.0.1:8080/sources/s", "S", "https://s.example/"),
                )
            ),
            None,
            id="enclosure-and-source",
        ),
        pytest.param(
            _feed(_item(1), tombstones=(("tag:x,2026:gone", datetime(2026, 3, 1, tzinfo=UTC)),)),
            None,
            id="tombstones",
        ),
        pytest.param(
            _feed(_item(1), description="Subtitle"),
            ArchiveLinks(
                prev_archive="http://127.0.0.1:8080/feeds/archive/europe/1.atom",
                next_archive="http://127.0.0.1:8080/feeds/archive/europe/3.atom",
                current="http://127.0.0.1:8080/feeds/europe.atom",
            ),
            id="archive-page",
        ),
    ],
)
def test_the_shapes_the_publisher_writes(feed: Feed, archive: ArchiveLinks | None) -> None:
    assert atom.atom_feed(feed, archive=archive) == feedgen_atom(feed, archive=archive)


@pytest.mark.parametrize(
    "bad",
    ["\x00", "\x0b", "\x1f", "\ud800", "\ufffe", "\uffff"],
    ids=["nul", "vt", "us", "surrogate", "fffe", "ffff"],
)
def test_a_character_xml_cannot_carry_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        atom.atom_feed(_feed(_item(1, title=f"a{bad}b")))
    with pytest.raises(ValueError):
        feedgen_atom(_feed(_item(1, title=f"a{bad}b")))


@pytest.mark.parametrize(
    "feed",
    [
        pytest.param(_feed(_item(1), title=""), id="feed-without-title"),
        pytest.param(_feed(_item(1, title="")), id="entry-without-title"),
        pytest.param(_feed(_item(1, id="")), id="entry-without-id"),
    ],
)
def test_what_rfc_4287_requires_is_required(feed: Feed) -> None:
    with pytest.raises(ValueError):
        atom.atom_feed(feed)
    with pytest.raises(ValueError):
        feedgen_atom(feed)


def test_an_entry_is_the_same_bytes_in_any_document() -> None:
    item = _item(7, authors=("A",))
    one = atom.atom_feed(_feed(_item(1), item))
    other = atom.atom_feed(_feed(item, _item(9)), archive=ArchiveLinks(current="http://x/"))
    assert atom.entry(item).encode() in one
    assert atom.entry(item).encode() in other

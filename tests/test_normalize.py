"""Normalization: captions and credits, bylines, dates, URLs, language, sanitized HTML, bodies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syndicator.model import Draft
from syndicator.normalize import (
    DateError,
    agency,
    canonical_url,
    clean_text,
    detect_language,
    normalize_article,
    parse_body,
    parse_date,
    primary_subtag,
    sanitize_html,
    split_byline,
    split_caption,
    zone,
)

NOW = datetime(2026, 2, 11, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("credit", "name"),
    [
        ("أ.ب", "AP"),
        ("أ ب", "AP"),
        ("إ.ب.أ", "EPA"),
        ("أ.ف.ب", "AFP"),
        ("رويترز", "Reuters"),
        ("AP", "AP"),
        ("AFP", "AFP"),
        ("EPA-EFE", "EPA"),
        ("Reuters", "Reuters"),
        ("AFP/Getty Images", "AFP"),
        ("Photo: Reuters", "Reuters"),
        ("د.ب.أ", "dpa"),
        ("موسكو", None),
    ],
)
def test_agency(credit: str, name: str | None) -> None:
    assert agency(credit) == name


@pytest.mark.parametrize(
    ("caption", "text", "credit"),
    [
        ("هاشم تاجي (أ.ب)", "هاشم تاجي", "AP"),
        ("بوتين مع نظيره الفيتنامي (إ.ب.أ)", "بوتين مع نظيره الفيتنامي", "EPA"),
        ("العَلم الروسي في شوارع هانوي (أ.ف.ب)", "العَلم الروسي في شوارع هانوي", "AFP"),
        ("الشرطة الإيطالية تحقق (رويترز)", "الشرطة الإيطالية تحقق", "Reuters"),
        ("Protesters in Milan (AP)", "Protesters in Milan", "AP"),
        ("Protesters in Milan - Reuters", "Protesters in Milan", "Reuters"),
        ("Protesters in Milan. Photo: AFP", "Protesters in Milan", "AFP"),
        ("A man in a hat (Jane Doe/Agency)", "A man in a hat", "Jane Doe/Agency"),
        ("هاشم تاجي (57 عاماً)", "هاشم تاجي (57 عاماً)", None),
        ("Just a caption", "Just a caption", None),
        ("", None, None),
    ],
)
def test_split_caption(caption: str, text: str | None, credit: str | None) -> None:
    assert split_caption(caption) == (text, credit)


@pytest.mark.parametrize(
    ("byline", "authors", "dateline"),
    [
        ("«الشرق الأوسط» (موسكو)", ("الشرق الأوسط",), "موسكو"),
        ("«الشرق الأوسط»  (هانوي)", ("الشرق الأوسط",), "هانوي"),
        ("ميشال أبونجم (باريس)", ("ميشال أبونجم",), "باريس"),
        ("By Jane Doe and John Roe", ("Jane Doe", "John Roe"), None),
        ("by Jane Doe, John Roe", ("Jane Doe", "John Roe"), None),
        ("بقلم: سامي خليل", ("سامي خليل",), None),
        ("“Jane Doe”", ("Jane Doe",), None),
        ("", (), None),
    ],
)
def test_split_byline(byline: str, authors: tuple[str, ...], dateline: str | None) -> None:
    assert split_byline(byline) == (authors, dateline)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-06-20T12:15:00+07:00", datetime(2024, 6, 20, 5, 15, tzinfo=UTC)),
        ("2026-02-10T16:45:00Z", datetime(2026, 2, 10, 16, 45, tzinfo=UTC)),
        ("Thu, 20 Jun 2024 06:00:00 +0100", datetime(2024, 6, 20, 5, 0, tzinfo=UTC)),
        ("Sun, 08 Feb 2026 11:00:00 GMT", datetime(2026, 2, 8, 11, 0, tzinfo=UTC)),
        ("2026-02-09", datetime(2026, 2, 9, tzinfo=UTC)),
        ("٢٠٢٦-٠٢-٠٩T١٠:٠٠:٠٠Z", datetime(2026, 2, 9, 10, tzinfo=UTC)),
        ("20 يونيو 2024", datetime(2024, 6, 20, tzinfo=UTC)),
        ("9 شباط 2026 10:30", datetime(2026, 2, 9, 10, 30, tzinfo=UTC)),
        ("1770719100", datetime(2026, 2, 10, 10, 25, tzinfo=UTC)),
        ("February 9, 2026 3:12 PM", datetime(2026, 2, 9, 15, 12, tzinfo=UTC)),
    ],
)
def test_parse_date(raw: str, expected: datetime) -> None:
    assert parse_date(raw, now=NOW) == expected


def test_naive_dates_use_the_source_timezone() -> None:
    riyadh = zone("Asia/Riyadh")
    assert parse_date("2024-06-20 06:00:00", tz=riyadh) == datetime(2024, 6, 20, 3, tzinfo=UTC)
    assert parse_date("2024-06-20 06:00:00", tz=zone("+01:00")) == datetime(
        2024, 6, 20, 5, tzinfo=UTC
    )
    assert parse_date("2024-06-20 06:00:00") == datetime(2024, 6, 20, 6, tzinfo=UTC)
    with pytest.raises(ValueError, match="unknown timezone"):
        zone("Mars/Olympus")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("1989-12-31T23:00:00Z", "before 1990"),
        ("2031-01-01T00:00:00Z", "in the future"),
        ("not a date at all", "not a date"),
    ],
)
def test_implausible_dates_are_rejected_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(DateError, match=reason):
        parse_date(raw, now=NOW)


def test_a_little_clock_skew_is_fine() -> None:
    soon = NOW + timedelta(hours=3)
    assert parse_date(soon.isoformat(), now=NOW) == soon


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://News.Example:80/a/b.html#top", "http://news.example/a/b.html"),
        ("https://news.example:443/a?b=2&a=1", "https://news.example/a?a=1&b=2"),
        (
            "https://news.example/a?utm_source=x&utm_medium=y&id=7&fbclid=z&gclid=q",
            "https://news.example/a?id=7",
        ),
        ("https://news.example", "https://news.example/"),
        ("https://news.example:8443/x", "https://news.example:8443/x"),
        (
            "https://news.example/%D8%A3%D8%AE%D8%A8%D8%A7%D8%B1",
            "https://news.example/%D8%A3%D8%AE%D8%A8%D8%A7%D8%B1",
        ),
        ("https://news.example/أخبار", "https://news.example/%D8%A3%D8%AE%D8%A8%D8%A7%D8%B1"),
        ("https://news.example/%7Euser", "https://news.example/~user"),
        ("file:///srv/samples/a.html#x", "file:///srv/samples/a.html"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_canonical_url_resolves_relative_links() -> None:
    assert (
        canonical_url("../b.html?x=1", "https://n.example/a/c.html")
        == "https://n.example/b.html?x=1"
    )


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("قال وزير الخارجية الروسي إنه لا يوجد ما يدعو إلى التحمس تجاه الضغوط الأميركية", "ar"),
        ("این یک متن فارسی است که برای آزمایش تشخیص زبان نوشته شده و چند کلمه دارد پس", "fa"),
        ("The minister said on Tuesday that there was no reason to be enthusiastic about it", "en"),
        (
            "Le ministre a dit mardi que la situation est difficile pour les habitants de la ville",
            "fr",
        ),
        ("Министр иностранных дел заявил во вторник, что нет причин для энтузиазма", "ru"),
        (
            "حکومت نے منگل کو اعلان کیا کہ شہر میں نئے اسکول کھولے جائیں گے اور اساتذہ بھرتی"
            " ہوں گے",
            "ur",
        ),
        ("שר החוץ אמר ביום שלישי כי אין סיבה להתלהב מהלחץ האמריקאי על הממשלה", "he"),
        # short headlines, which common words alone could not tell
        ("Heavy rain floods old city market", "en"),
        ("Inondations record dans le sud du pays", "fr"),
        ("افزایش قیمت نان در تهران", "fa"),
        # mostly Arabic with English names and terms in it
        (
            "أعلنت شركة Apple Inc. يوم الثلاثاء عن إطلاق هاتف iPhone الجديد في مؤتمر"
            " Worldwide Developers Conference بمدينة سان فرانسيسكو",
            "ar",
        ),
        ("short", None),
        ("", None),
    ],
)
def test_detect_language(text: str, language: str | None) -> None:
    assert detect_language(text) == language


def test_detect_language_reads_any_string() -> None:
    arabic = "قال وزير الخارجية الروسي إنه لا يوجد ما يدعو إلى التحمس تجاه الضغوط الأميركية"
    assert detect_language("\ud800" + arabic + "\udfff") == "ar"
    assert detect_language("\x00\x01" * 5000) is None
    assert detect_language(arabic * 1000) == "ar"  # only a sample is read


@pytest.mark.parametrize(
    ("declared", "primary"),
    [("ar", "ar"), ("ar-SA", "ar"), ("ar_EG", "ar"), ("EN-us", "en"), (" fr ", "fr"),
     ("es-419", "es"), ("fil", "fil"), ("x", None), ("123", None), ("", None), (None, None)],
)  # fmt: skip
def test_primary_subtag(declared: str | None, primary: str | None) -> None:
    assert primary_subtag(declared) == primary


def test_sanitize_html_removes_everything_active() -> None:
    dirty = (
        '<p onclick="x()" style="color:red">نص <a href="javascript:alert(1)">رابط</a>'
        '<a href="/rel">نسبي</a></p><script>alert(1)</script><iframe src="https://e.x/"></iframe>'
        '<img src="pic.jpg" onerror="alert(2)"><style>p{}</style><object data="x"></object>'
    )
    clean = sanitize_html(dirty, "https://n.example/a/b.html")
    for bad in (
        "onclick",
        "style",
        "javascript:",
        "script",
        "iframe",
        "onerror",
        "object",
        "alert",
    ):
        assert bad not in clean
    assert 'href="https://n.example/rel"' in clean
    assert 'src="https://n.example/a/pic.jpg"' in clean
    assert "نص" in clean


def test_parse_body_splits_paragraphs_and_figures() -> None:
    body = parse_body(
        "<p>فقرة أولى.</p><figure><img src='/i.jpg'><figcaption>صورة (أ.ب)</figcaption></figure>"
        "<div><p>فقرة ثانية.</p><ul><li>بند</li></ul></div><p>Advertisement</p>"
        "<div>first line<br><br>second block</div>",
        "https://n.example/a.html",
    )
    assert body.paragraphs == ("فقرة أولى.", "فقرة ثانية.", "بند", "first line", "second block")
    assert [(i.url, i.caption, i.credit) for i in body.images] == [
        ("https://n.example/i.jpg", "صورة", "AP")
    ]
    assert "<figcaption>صورة (AP)</figcaption>" in body.html


def test_clean_text() -> None:
    assert clean_text("  a\u00a0 b\u200b\tc\n d ") == "a b c d"
    assert clean_text("e\u0301") == "\u00e9"  # NFC
    assert clean_text("a\n\n b", keep_newlines=True) == "a\nb"


def test_normalize_article_end_to_end() -> None:
    draft = Draft(
        url="https://n.example/x?utm_source=feed",
        canonical="https://n.example/story.html#comments",
        title="  عنوان   الخبر ",
        bylines=("«الشرق الأوسط» (موسكو)",),
        published="2026-02-10 09:30:00",
        updated="2099-01-01T00:00:00Z",
        body_html="<p>الفقرة الأولى من الخبر وهي طويلة بما يكفي.</p><p>الفقرة الثانية.</p>",
    )
    article = normalize_article(draft, tz=zone("Europe/Moscow"), now=NOW, source_id="s")
    assert article.key == "https://n.example/story.html"
    assert article.title == "عنوان الخبر"
    assert article.authors == ("الشرق الأوسط",)
    assert article.dateline == "موسكو"
    assert article.published == datetime(2026, 2, 10, 6, 30, tzinfo=UTC)
    assert article.updated == article.published
    assert any("in the future" in w for w in article.warnings)
    assert article.language == "ar"
    assert article.summary == "الفقرة الأولى من الخبر وهي طويلة بما يكفي."
    assert article.content_hash.startswith("v1:")


def test_feed_items_without_a_link_are_keyed_by_source_and_guid() -> None:
    draft = Draft(url="urn:nothing", guid="item-42", title="t", body_text="p")
    assert normalize_article(draft, source_id="wire").key == "urn:syndicator:wire:item-42"


def test_invisible_characters_are_unprintable() -> None:
    """clean_text skips its search for invisible characters in printable text."""
    import sys

    from syndicator.normalize.text import _INVISIBLE

    for cp in range(sys.maxunicode + 1):
        if _INVISIBLE.match(chr(cp)):
            assert not chr(cp).isprintable(), hex(cp)


def test_whitespace_but_the_space_is_unprintable() -> None:
    """clean_text keeps a printable text with single spaces as it is."""
    import sys

    for cp in range(sys.maxunicode + 1):
        if chr(cp).isspace() and cp != 0x20:
            assert not chr(cp).isprintable(), hex(cp)


EN_IN_AR_CHANNEL = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>\xd9\x82\xd9\x86\xd8\xa7\xd8\xa9</title><link>https://ar.example/</link>
<description>d</description><language>ar</language>
<item><title>Night trains return to the northern line after ten years</title>
<link>https://ar.example/en/night-trains</link>
<description>The operator said the first sleeper service would run from Vienna on Friday, with
hammock carriages and a quiet car for travellers who want to read.</description></item>
<item><title>Short</title><link>https://ar.example/ar/2</link><description>Ok.</description></item>
<item><title>Declared</title><link>https://ar.example/fr/1</link><dc:language>fr</dc:language>
<description>The operator said the first sleeper service would run on Friday.</description></item>
</channel></rss>"""


def test_an_english_item_in_an_arabic_channel_is_english() -> None:
    """The channel's language is a default: the item's own declaration wins, then its text
    (when the detector is sure), and only then the channel's (a text too short to tell)."""
    from syndicator.ingest import read_document

    document = read_document(EN_IN_AR_CHANNEL, "https://ar.example/feed.rss", now=NOW, kind="rss")
    languages = {a.url.rsplit("/", 2)[-2] + "/" + a.url.rsplit("/", 1)[-1]: a.language
                 for a in document.articles}  # fmt: skip
    assert languages == {"en/night-trains": "en", "ar/2": "ar", "fr/1": "fr"}


@pytest.mark.parametrize(
    "src", ["file:///srv/site/img/a.jpg", "javascript:alert(1)", "data:image/png;base64,AAAA", ""]
)
def test_no_picture_is_left_without_its_source(src: str) -> None:
    """A picture whose address the sanitizer refuses leaves no ``<img>`` without ``src`` (a
    broken-image box before its caption): it goes, its caption stays; safe ones are kept."""
    fragment = (
        f'<figure><img src="{src}" alt="a &gt; b &quot;c&quot;"><figcaption>Harbour</figcaption>'
        '</figure><p>Text <img src="https://img.example/b.jpg" alt="kept"></p>'
    )
    out = sanitize_html(fragment, "file:///srv/site/article/x.html")
    assert out == (
        "<figure><figcaption>Harbour</figcaption></figure>"
        '<p>Text <img src="https://img.example/b.jpg" alt="kept"></p>'
    )


def test_a_page_cut_off_before_its_body_is_never_a_full_text() -> None:
    """A truncated download (title and metadata, no paragraph) is marked incomplete: the store
    never lets it revise the full text it holds for the same address."""
    bare = normalize_article(Draft(url="https://n.example/a", title="عنوان فقط"), now=NOW)
    assert bare.paragraphs == () and not bare.complete
    full = normalize_article(
        Draft(url="https://n.example/a", title="عنوان فقط", body_html="<p>نص كامل.</p>"), now=NOW
    )
    assert full.complete

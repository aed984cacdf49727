"""Properties of the fingerprints: the quick fold is the v1 fold, and folding once is enough.

The v1 content hash is a contract (DESIGN.md): ``v1:`` + SHA-256 of ``fold(title) + "\\n" +
fold(" ".join(paragraphs))``. The reference functions below are that definition written the
plain way (the fold as one ``str.translate`` over the table); the module's quicker fold, the fold
of many texts in one pass and the hash and signature made from per-paragraph folds must give the
same values on any text: Arabic letters, marks and digits, characters that NFKC changes or
composes, every kind of whitespace, invisible and bidi controls, punctuation, symbols, astral
characters, and empty paragraphs.
"""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st
from support.examples import examples

from syndicator import fingerprint
from syndicator.demo import SAMPLES_DIR
from syndicator.fingerprint import (
    content_hash,
    fold,
    fold_all,
    fold_words,
    folded_content_hash,
    folded_signature,
    signature,
)

_SPACE = re.compile(r"\s+")


def reference_fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(fingerprint._folding().table).casefold()
    return _SPACE.sub(" ", text).strip()


def reference_hash(title: str, paragraphs: Sequence[str]) -> str:
    body = reference_fold(" ".join(paragraphs))
    digest = hashlib.sha256((reference_fold(title) + "\n" + body).encode("utf-8")).hexdigest()
    return f"v1:{digest}"


# Characters chosen to meet every rule of the fold, and some that meet none.
_PICKED = (
    "ابتثجحخدذرسشصضطظعغفقكلمنهوي"  # Arabic letters
    "أإآٱىةءؤئ"  # alef forms, alef maqsura, ta marbuta, hamza carriers
    + "".join(map(chr, range(0x0610, 0x061B)))  # Quranic marks
    + "".join(map(chr, range(0x064B, 0x0660)))  # harakat
    + "\u0670\u0640"  # superscript alef, tatweel
    + "".join(map(chr, range(0x06D6, 0x06EE)))  # Quranic annotation marks
    + "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹0123456789"  # Arabic-Indic, Persian and ASCII digits
    + "ﷺﷲﻻﻷﺃﭐﹰ"  # presentation forms (NFKC decomposes them)
    + "ﬁﬀＡａ²½ℌΩÅẛ\u00a8\u00b4\u0301\u0308\u0323\u0651\u1100\u1161\u11a8각"  # NFKC-sensitive
    + "ßİΣσςẞǅﬆ"  # casefold
    + " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2007\u2028\u2029\u202f\u3000"
    + "\u00ad\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202e\u2060\u2066\u2069\ufeff"
    + "!\"#%&'()*,-./:;?@[\\]_{}«»“”„‘’‹›،؛؟۔…—–·•"  # punctuation
    + "$+<=>^`|~€£¥©®°±×÷™←→★♥"  # symbols
    + "\U0001f600\U0001f44d\U0001d400\U0001d7ce\U00020000\U0001f1f8\U000e0041"  # astral
    + "abcxyzABCXYZéèçñüøЖжΩω中文한국"
)
_encodable = st.one_of(st.sampled_from(_PICKED), st.characters(codec="utf-8"))
# Lone surrogates fold too (a hash of text holding one cannot be made: UTF-8 refuses it).
_characters = st.one_of(_encodable, st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF))
texts = st.text(_characters, max_size=60)
paragraph_lists = st.lists(st.one_of(texts, st.just(""), st.just(" \n ")), max_size=8)
utf8_texts = st.text(_encodable, max_size=60)
utf8_paragraph_lists = st.lists(st.one_of(utf8_texts, st.just(""), st.just(" \n ")), max_size=8)

_SETTINGS = settings(max_examples=examples(400), deadline=None)


@_SETTINGS
@given(texts)
def test_fold_is_the_table_fold(text: str) -> None:
    assert fold(text) == reference_fold(text)


@_SETTINGS
@given(paragraph_lists)
def test_fold_all_folds_each_text(paragraphs: list[str]) -> None:
    assert fold_all(paragraphs) == [reference_fold(p) for p in paragraphs]
    assert fold_words(paragraphs) == [reference_fold(p).split() for p in paragraphs]


@_SETTINGS
@given(utf8_texts, utf8_paragraph_lists)
def test_content_hash_is_the_contract(title: str, paragraphs: list[str]) -> None:
    expected = reference_hash(title, paragraphs)
    assert content_hash(title, paragraphs) == expected
    # The blank-line join that content_hash once used reads the same.
    assert reference_fold("\n\n".join(paragraphs)) == reference_fold(" ".join(paragraphs))
    folded = [reference_fold(p) for p in paragraphs]
    assert folded_content_hash(reference_fold(title), folded) == expected


@_SETTINGS
@given(utf8_texts, utf8_paragraph_lists)
def test_signature_from_folded_parts(title: str, paragraphs: list[str]) -> None:
    expected = signature(title, paragraphs)
    folded = [reference_fold(p) for p in paragraphs]
    assert folded_signature(reference_fold(title), folded) == expected
    words = reference_fold(title + "\n" + "\n".join(paragraphs)).split()
    assert folded_signature(" ".join(words), []) == expected


def test_every_code_point_folds_as_the_table_says() -> None:
    # Each code point alone, between spaces (NFKC never composes across a space).
    every = " ".join(map(chr, range(sys.maxunicode + 1)))
    assert fold(every) == reference_fold(every)
    alone = [chr(cp) for cp in range(0x3000) if cp != 0x0A]  # a line break is a fold_all case
    assert fold_all(alone) == [reference_fold(c) for c in alone]


def reference_simhash(text: str) -> int:
    """The s2 SimHash the plain way: every shingle hashed by tabulation, bits counted one by one."""
    words = reference_fold(text).split()
    width = min(3, len(words))

    def table(word: str, position: int) -> int:
        digest = hashlib.blake2b(word.encode("utf-8"), digest_size=24).digest()
        return int.from_bytes(digest[8 * position : 8 * position + 8], "big")

    weights = [0] * 64
    for i in range(len(words) - width + 1):
        h = 0
        for position in range(width):
            h ^= table(words[i + position], position)
        for bit in range(64):
            weights[bit] += 1 if (h >> bit) & 1 else -1
    return sum(1 << bit for bit in range(64) if words and weights[bit] > 0)


@_SETTINGS
@given(utf8_texts, utf8_paragraph_lists)
def test_signature_is_the_simhash(title: str, paragraphs: list[str]) -> None:
    text = title + "\n" + "\n".join(paragraphs)
    assert signature(title, paragraphs) == f"s2:{reference_simhash(text):016x}"


@settings(max_examples=examples(50), deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "كتب", "قال", "١٢", "x"]), max_size=400))
def test_signature_of_long_texts_with_repeated_words(words: list[str]) -> None:
    text = " ".join(words)
    assert signature("", [text]) == f"s2:{reference_simhash(text):016x}"


# --------------------------------------------------------------------------------------------
# Extraction shortcuts select what the plain way selects.

_TRICKY_PAGE = """<html><body>
<div class="article-body">one<p>a</p></div>
<div class=" story-body\tentry-content\n" id="x">two</div>
<div class="article-body\u00a0more">not a word boundary for CSS</div>
<div class="Article-Body">case matters</div>
<section id="article-body"><p itemprop="articleBody">three</p></section>
<div itemprop="articleBody " class="article-bodyx post-body">four</div>
<main class="article-body article-body" id="story-body">five</main>
</body></html>"""


def test_body_candidates_are_what_the_selectors_select() -> None:
    from syndicator.extract import dom
    from syndicator.extract.charset import decode
    from syndicator.extract.locate import BODY_SELECTORS, _body_candidates

    samples = SAMPLES_DIR
    pages = [_TRICKY_PAGE, *(decode(p.read_bytes()).text for p in sorted(samples.rglob("*.html")))]
    for page in pages:
        root = dom.parse(page, "https://news.example/")
        selected = [dom.select(root, s) for s in BODY_SELECTORS]
        assert _body_candidates(root) == selected
        assert _body_candidates(root, None, dom.AttrWords()) == selected  # names read first


def test_body_hints_name_every_body_class_and_id() -> None:
    from syndicator.extract.locate import _BODY_CLASSES, _BODY_VALUES, BODY_HINTS

    names = [*_BODY_CLASSES, *(value for (name, value) in _BODY_VALUES if name == "id")]
    assert names
    for name in names:
        assert any(hint in name.lower() for hint in BODY_HINTS), name


@settings(max_examples=examples(300), deadline=None)
@given(
    st.one_of(st.none(), utf8_texts),
    st.one_of(st.none(), utf8_texts),
    st.text(st.sampled_from("ab/:?&=#%\"'<> é"), min_size=1, max_size=30),
)
def test_lead_figure_built_as_parsed(caption: str | None, credit: str | None, url: str) -> None:
    import lxml.html
    from lxml import etree

    from syndicator.extract.pictures import figure_element, figure_html
    from syndicator.model import Image
    from syndicator.normalize import clean_or_none

    # Captions and credits reach a lead figure cleaned (split_caption), as URLs do (urljoin).
    image = Image(url=url.strip(), caption=clean_or_none(caption), credit=clean_or_none(credit))
    parsed = lxml.html.fragment_fromstring(figure_html(image) + "\n<p>x</p>", create_parent="div")
    built = figure_element(image)
    assert etree.tostring(built) == etree.tostring(parsed[0])


_TAGS_AND_ENTITIES = [
    "<p>",
    "</p>",
    "<b>",
    "</b>",
    "<a>",
    "</a>",
    "<br>",
    "<!--c-->",
    "&amp;",
    "&nbsp;",
    "&lt;",
    "<div>",
    "</div>",
    "<li>",
    "<?pi?>",
    "<script>s</script>",
]
_markup = st.lists(st.one_of(utf8_texts, st.sampled_from(_TAGS_AND_ENTITIES)), max_size=20)


@settings(max_examples=examples(300), deadline=None)
@given(_markup)
def test_element_text_is_text_content(pieces: list[str]) -> None:
    import lxml.html
    from lxml import etree

    from syndicator.normalize import element_text

    try:
        root = lxml.html.fragment_fromstring("".join(pieces), create_parent="div")
    except (etree.ParserError, ValueError):
        return
    for el in root.iter(etree.Element):
        assert element_text(el) == el.text_content()


def reference_clean_text(text: str) -> str:
    """NFC; invisible characters and bidi embeddings, overrides and isolates removed; lone
    surrogates replaced by U+FFFD; whitespace collapsed."""
    from syndicator.normalize.text import _INVISIBLE

    if not text:
        return ""
    text = unicodedata.normalize("NFC", text)
    text = re.sub("[\ud800-\udfff]", "\ufffd", _INVISIBLE.sub("", text))
    return " ".join(text.split())


@_SETTINGS
@given(texts)
def test_clean_text_is_the_plain_clean(text: str) -> None:
    from syndicator.normalize import clean_text

    assert clean_text(text) == reference_clean_text(text)
    words = text.split()
    assert clean_text(" ".join(words)) == reference_clean_text(" ".join(words))


@_SETTINGS
@given(
    st.lists(
        st.sampled_from(["<br>", "<BR/>", "<br />", " ", "\n", "x", "<b>", "br>"]), max_size=12
    )
)
def test_double_br_pattern_is_the_plain_one(pieces: list[str]) -> None:
    from syndicator.normalize import clean_text
    from syndicator.normalize.body import _DOUBLE_BR

    html = "".join(pieces)
    assert _DOUBLE_BR.split(html) == re.split(r"(?:<br\s*/?>\s*){2,}", html, flags=re.I)
    lines = re.sub(r"\s*\n\s*", "\n", re.sub(r"[^\S\n]+", " ", html)).strip()
    assert clean_text(html, keep_newlines=True) == lines


_LINES = st.lists(st.one_of(texts, st.sampled_from(["\n", "\n\n", " \n ", "\n\t\n", "\u2028"])))


@_SETTINGS
@given(_LINES)
def test_clean_text_keeping_lines_is_the_plain_one(pieces: list[str]) -> None:
    from syndicator.normalize import clean_text
    from syndicator.normalize.text import _INVISIBLE

    text = "".join(pieces)
    plain = re.sub(
        "[\ud800-\udfff]", "\ufffd", _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    )
    expected = re.sub(r"\s*\n\s*", "\n", re.sub(r"[^\S\n]+", " ", plain)).strip()
    assert clean_text(text, keep_newlines=True) == expected


@_SETTINGS
@given(_LINES)
def test_body_from_text_is_the_plain_one(pieces: list[str]) -> None:
    """Paragraphs by blank lines, else by lines of the cleaned text; nothing for a text that
    cleans to nothing (the way it was first written)."""
    from syndicator.model import Body
    from syndicator.normalize import body_from_text, clean_text
    from syndicator.normalize.body import _is_boilerplate

    text = "".join(pieces)
    raw = clean_text(text, keep_newlines=True) if text else ""
    if not raw:
        assert body_from_text(text) == Body((), (), "")
        return
    chunks = re.split(r"\n\s*\n", text) if re.search(r"\n\s*\n", text) else raw.split("\n")
    paragraphs = tuple(p for c in chunks if (p := clean_text(c)) and not _is_boilerplate(p))
    assert body_from_text(text).paragraphs == paragraphs


_BASES = [
    "https://news.example/asia/2024/06/20/putin-vietnam.html",
    "http://news.example",
    "HTTPS://User:pw@News.Example:8443/a/b/?q=1#f",
    "https://[::1]:8080/x",
    "file:///srv/samples/site/article/kosovo.html",
    "https://xn--mgbh0fb.example/قسم/",
]
_URL_PIECES = ["/", "//", ".", "..", "a", "news", "1.html", "?", "q=1", "#", "f", ";", "p=2"]
_URL_PIECES += [":", "@", "[", "]", "\t", "\n", "%2F", "\\", " ", "خبر", "http:", "https:"]
_url_pieces = st.sampled_from([*_URL_PIECES, "mailto:", "HTTP:"])


@settings(max_examples=examples(500), deadline=None)
@given(st.sampled_from(_BASES), st.lists(_url_pieces, min_size=1, max_size=10))
def test_quick_join_is_urljoin(base: str, pieces: list[str]) -> None:
    from urllib.parse import urljoin

    from syndicator.normalize.urls import _quick_join

    url = "".join(pieces).strip()
    if not url:
        return
    quick = _quick_join(base, url)
    assert quick is None or quick == urljoin(base, url), (base, url)


def test_quick_join_takes_the_common_links() -> None:
    from urllib.parse import urljoin

    from syndicator.normalize.urls import _quick_join

    for base in _BASES[:4]:
        for url in ["/news/123456.html", "/", "/img/a b.jpg", "https://cdn.example/x.jpg"]:
            assert _quick_join(base, url) == urljoin(base, url), (base, url)
    assert _quick_join(_BASES[4], "/news/1.html") is None  # file: pages go through urljoin


_CANONICAL_PIECES = [*_URL_PIECES, "https://", "http://", "News.", "x.example", ":443", "%41"]


@settings(max_examples=examples(500), deadline=None)
@given(st.lists(st.sampled_from(_CANONICAL_PIECES), min_size=1, max_size=10))
def test_canonical_shortcut_is_the_full_canonical(pieces: list[str]) -> None:
    from syndicator.normalize import urls

    url = "".join(pieces)
    if urls._CANONICAL_ALREADY.fullmatch(url.strip()):
        pattern = urls._CANONICAL_ALREADY
        urls._CANONICAL_ALREADY = re.compile("(?!)")  # the full way, for comparison
        try:
            expected = urls.canonical_url(url)
        finally:
            urls._CANONICAL_ALREADY = pattern
        assert urls.canonical_url(url) == expected == url.strip()


_EXTERNAL_HOSTS = [
    "news.example",
    "News.example",
    "127.0.0.1",
    "a-b.c",
    "x.example.",
    "x:80",
    "é.x",
]
_EXTERNAL_PATH = [
    "/",
    "a",
    "%41",
    "%",
    "~",
    "!$&'()*+,;=:@",
    ".",
    "..",
    "?q=1",
    "#f",
    "[",
    " ",
    "é",
]


@settings(max_examples=examples(500), deadline=None)
@given(
    st.sampled_from(["https://", "http://", "HTTP://", "ftp://", "https:"]),
    st.sampled_from(_EXTERNAL_HOSTS),
    st.lists(st.sampled_from(_EXTERNAL_PATH), max_size=8),
)
def test_external_shortcut_is_the_full_external(scheme: str, host: str, path: list[str]) -> None:
    from syndicator.normalize import urls

    pieces = [scheme, host, "/", *path]
    url = "".join(pieces)
    if not urls._EXTERNAL_ALREADY.fullmatch(url):
        return
    pattern = urls._EXTERNAL_ALREADY
    urls._EXTERNAL_ALREADY = re.compile("(?!)")  # the full way, for comparison
    try:
        expected = urls.external_url(url)
    finally:
        urls._EXTERNAL_ALREADY = pattern
    assert urls.external_url(url) == expected == url


_LINE_STARTS = ["Advertisement", "SHARE THIS", "ſponsored", "The post ", "tt", "12", "١٢", "x"]
_LINE_STARTS += ["إعلان", "اقرأ أيضا", "مساحة إعلانية", "شارك", "Read more", "© 2024", ""]


@_SETTINGS
@given(st.sampled_from(_LINE_STARTS), utf8_texts, st.integers(0, 260), st.sampled_from(" .:…x"))
def test_boilerplate_shortcut_is_the_pattern(start: str, text: str, n: int, fill: str) -> None:
    from syndicator.normalize.body import _BOILERPLATE_LINE, _is_boilerplate

    for line in (start + fill * n + text, start + fill * n, text + fill * n):
        assert _is_boilerplate(line) == bool(_BOILERPLATE_LINE.match(line)), line


# Pieces of documents that meet each path of the parse: characters of every width (Latin-1,
# the BMP, astral), a byte order mark, line ends, what the parse removes (control characters,
# lone surrogates, non-characters), XML declarations (with an encoding, and a second one),
# meta tags naming another encoding, markup and references.
_PAGE_PIECES = (
    "<p>", "</p>", "<div class='a b'>", "</div>", "<br>", "text ", "é", "ÿ", "Ā", "\u00a0",
    "نص عربي", "中文字", "\U0001f600", "\U00020000", "\ufeff", "\r\n", "\r", "\n", "\t", "&amp;",
    "&nbsp;", "&#0;", "&#xD800;", "&#65534;", "&eacute;", "<meta charset='iso-8859-1'>",
    "<meta http-equiv='Content-Type' content='text/html; charset=windows-1251'>",
    "<?xml version='1.0' encoding='latin1'?>", "<?xml version='1.0'?>", "<!-- c -->",
    "<script>var a='</p>'</script>", "<![CDATA[x]]>", "\x00", "\x01", "\x0c", "\x1f", "\x7f",
    "\x85", "\ud800", "\udfff", "\ufffe", "\uffff", "\ufffd", "\u2028", "\u200b", "\u202e",
    "<title>t</title>", "<html>", "<body>", "<head>", "<a href='é'>", "</a>", " ", "<", ">", "&",
    "<img alt='\U0001f600'>", "<p title='\u00e9\u4e2d'>",
)  # fmt: skip


@settings(max_examples=examples(2000), deadline=None)
@given(st.lists(st.sampled_from(_PAGE_PIECES), max_size=30))
def test_page_parsed_as_its_text(pieces: list[str]) -> None:
    """The parse reads a page as UTF-8 bytes: the same tree (or the same refusal) as lxml
    gives for the text itself, once the declaration and the characters no tree may hold are
    removed."""
    import lxml.html
    from lxml import etree

    from syndicator.errors import ExtractError
    from syndicator.extract import dom

    text = "".join(pieces)

    def through_lxml() -> str:
        plain = dom._NOT_XML.sub(dom._xml_char, dom._XML_DECLARATION.sub("", text))
        if not plain or plain.isspace():
            return "empty document"
        parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False)
        try:
            root = lxml.html.document_fromstring(plain, parser=parser)
        except (etree.ParserError, ValueError) as e:
            return f"not HTML: {e}"
        return str(etree.tostring(root.getroottree(), encoding="unicode"))

    try:
        got = str(etree.tostring(dom.parse(text).getroottree(), encoding="unicode"))
    except ExtractError as e:
        got = str(e)
    assert got == through_lxml()


_NAME_WORDS = st.sampled_from(
    ["caption", "Caption", "credit", "copyright", "photographer", "source", "courtesy", "photo",
     "wp-caption", "image-credit", "sources", "-", "_", " ", "\t", "x", "CREDIT", "caption-credit"]
)  # fmt: skip


@settings(max_examples=examples(500), deadline=None)
@given(
    st.sampled_from(["p", "span", "div", "figcaption", "small", "cite"]),
    st.one_of(st.none(), st.lists(_NAME_WORDS, max_size=4).map("".join)),
    st.one_of(st.none(), st.lists(_NAME_WORDS, max_size=3).map("".join)),
)
def test_caption_or_credit_is_either(tag: str, cls: str | None, id_: str | None) -> None:
    """The one read of an element's names answers as the caption and credit tests do."""
    import lxml.html

    from syndicator.normalize.pictures import _is_caption, _is_caption_or_credit, _is_credit

    el = lxml.html.Element(tag)
    if cls is not None:
        el.set("class", cls)
    if id_ is not None:
        el.set("id", id_)
    assert _is_caption_or_credit(el) == (_is_caption(el) or _is_credit(el))

"""The whole article: a draft made storable, bounded, de-repeated, dated, keyed and
fingerprinted."""

from __future__ import annotations

import html as htmllib
import operator
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, tzinfo
from urllib.parse import urlsplit

from syndicator import fingerprint
from syndicator.direction import text_direction
from syndicator.model import Article, Body, Draft, Image
from syndicator.normalize.body import body_from_text, parse_body
from syndicator.normalize.dates import DateError, parse_date
from syndicator.normalize.language import detect_language, primary_subtag
from syndicator.normalize.people import split_authors, split_byline
from syndicator.normalize.text import clean_or_none, clean_text, valid_text
from syndicator.normalize.urls import canonical_url


def article_key(draft: Draft, source_id: str | None) -> str:
    """The article key: the canonical URL, or for an item without a usable link the source id and
    its GUID (``urn:syndicator:SOURCE:GUID``)."""
    if draft.key:
        return draft.key
    if not draft.linked and not draft.canonical and draft.guid:
        return f"urn:syndicator:{source_id or 'local'}:{draft.guid}"
    for candidate in (draft.canonical, draft.url):
        if candidate and _scheme(candidate) in ("http", "https", "file"):
            return canonical_url(candidate)
    if draft.guid:
        return f"urn:syndicator:{source_id or 'local'}:{draft.guid}"
    return canonical_url(draft.canonical or draft.url)


def _scheme(url: str) -> str:
    """``urlsplit(url).scheme``, without parsing the commonest URLs (``https://…``)."""
    if url.startswith("https://"):
        return "https"
    if url.startswith("http://"):
        return "http"
    return urlsplit(url).scheme


def normalize_article(
    draft: Draft,
    *,
    source_id: str | None = None,
    language: str | None = None,
    tz: tzinfo | None = None,
    now: datetime | None = None,
) -> Article:
    """Turn an extractor's draft into a clean, fingerprinted Article.

    ``language`` and ``tz`` are defaults (the feed's or the source's); ``now`` bounds plausible
    dates. The language is the one the document declares for this article, else the one its
    text is in (when the detector is sure), else ``language``: a feed's or a source's language
    never overrides an item that is plainly in another.
    Problems that do not stop the article (an implausible date) are kept in ``warnings``.
    """
    warnings: list[str] = []
    draft = _valid_draft(draft)
    base = draft.canonical or draft.url
    if draft.body is not None:
        body = draft.body
    elif draft.body_html:
        body = parse_body(draft.body_html, base)
    else:
        body = body_from_text(draft.body_text)
    body = _bounded_body(body, warnings)
    title = clean_text(htmllib.unescape(draft.title)) if draft.title else ""
    title = _bounded(title, MAX_TITLE, "title", warnings) or ""
    # Everything below that compares or fingerprints text reads these folds: one fold each.
    title_words, *words = fingerprint.fold_words([title, *body.paragraphs])
    folded_title = " ".join(title_words)
    kept = _drop_repeats([" ".join(w) for w in words], folded_title, body)
    paragraphs = tuple(body.paragraphs[i] for i, _ in kept)
    signature_words = title_words + [word for i, _ in kept for word in words[i]]

    images: list[Image] = []
    seen: set[str] = set()  # image URLs
    for image in (*draft.images, *body.images):
        if image.url:
            if image.url in seen:
                continue
            seen.add(image.url)
        images.append(image)
    if len(images) > MAX_IMAGES:
        warnings.append(f"{len(images)} images: kept the first {MAX_IMAGES}")
        images = images[:MAX_IMAGES]
    images = [
        replace(i, caption=_bounded(i.caption, MAX_CAPTION, "caption", warnings))
        if i.caption and len(i.caption) > MAX_CAPTION
        else i
        for i in images
    ]

    authors = split_authors(draft.bylines)[:MAX_AUTHORS]
    dateline = clean_or_none(draft.dateline)
    if dateline is None:
        for raw in draft.bylines:
            place = split_byline(raw)[1]
            if place:
                dateline = place
                break

    published = _date(draft.published, "published", tz, now, warnings)
    updated = _date(draft.updated, "updated", tz, now, warnings)
    if updated is not None and published is not None and updated < published:
        updated = published

    text_for_language = " ".join(paragraphs[:20]) or title
    lang = (
        primary_subtag(draft.language)
        or detect_language(text_for_language)
        or primary_subtag(language)
    )

    subtitle = _bounded(clean_or_none(draft.subtitle), MAX_TITLE, "subtitle", warnings)
    if subtitle and fingerprint.fold(subtitle) == folded_title:
        subtitle = None
    summary = _bounded(
        clean_or_none(htmllib.unescape(draft.summary or "")), MAX_SUMMARY, "summary", warnings
    ) or (_shorten(paragraphs[0]) if paragraphs else None)
    if not title:
        warnings.append("no title")

    return Article(
        key=article_key(draft, source_id),
        url=canonical_url(base) if _scheme(base) in ("http", "https") else base,
        title=title,
        paragraphs=paragraphs,
        content_html=body.html if paragraphs or body.images else "",
        content_hash=fingerprint.folded_content_hash(folded_title, (key for _, key in kept)),
        similarity=fingerprint.words_signature(signature_words),
        subtitle=subtitle,
        summary=summary,
        section=_bounded(clean_or_none(draft.section), MAX_NAME, "section", warnings),
        categories=tuple(
            dict.fromkeys(c[:MAX_NAME] for c in map(clean_text, draft.categories) if c)
        )[:MAX_CATEGORIES],
        authors=authors,
        dateline=_bounded(dateline, MAX_NAME, "dateline", warnings),
        language=lang,
        direction=draft.direction or text_direction(lang, " ".join(paragraphs[:20]) or title),
        published=published,
        updated=updated or published,
        images=tuple(images),
        fetched_url=draft.url if draft.linked else None,  # no page of its own to fetch
        guid=draft.guid,
        # No paragraph at all (a page cut off before its body): never a full text, so it
        # never revises one that is stored.
        complete=draft.complete and bool(paragraphs),
        method=draft.method,
        warnings=tuple(warnings),
    )


_DRAFT_TEXTS = (
    "url", "title", "canonical", "guid", "subtitle", "summary", "section", "dateline",
    "language", "published", "updated", "body_html", "body_text", "key",
)  # fmt: skip


def _storable(text: str) -> str:
    """Valid Unicode (see :func:`valid_text`) without NUL, which PostgreSQL cannot store."""
    text = valid_text(text)
    return text.replace("\x00", "") if "\x00" in text else text


def _valid_draft(draft: Draft) -> Draft:
    """The draft with every string storable (:func:`_storable`): nothing downstream (lxml, the
    hash, URL quoting, the store) takes a lone surrogate, and no database a NUL."""
    if _all_storable(draft):
        return draft  # the common case, told by one scan of all its text
    changes: dict[str, object] = {}
    for name in _DRAFT_TEXTS:
        value = getattr(draft, name)
        if value and (fixed := _storable(value)) != value:
            changes[name] = fixed
    for name in ("categories", "bylines"):
        values: tuple[str, ...] = getattr(draft, name)
        fixed_all = tuple(_storable(v) for v in values)
        if fixed_all != values:
            changes[name] = fixed_all
    images = tuple(
        Image(*(_storable(v) if v else v for v in (i.url, i.caption, i.credit)))
        for i in draft.images
    )
    if images != draft.images:
        changes["images"] = images
    return replace(draft, **changes) if changes else draft  # type: ignore[arg-type]


_DRAFT_TEXT_VALUES = operator.attrgetter(*_DRAFT_TEXTS)


def _all_storable(draft: Draft) -> bool:
    """Whether :func:`_valid_draft` would change nothing: no string of the draft holds a NUL or
    a lone surrogate (a surrogate stays one code point when strings are joined)."""
    if type(draft.categories) is not tuple or type(draft.bylines) is not tuple:
        return False
    if type(draft.images) is not tuple:
        return False
    pieces = [v for v in _DRAFT_TEXT_VALUES(draft) if v]
    pieces += draft.categories
    pieces += draft.bylines
    for image in draft.images:
        pieces += (v for v in (image.url, image.caption, image.credit) if v)
    if not all(type(v) is str for v in pieces):
        return False
    joined = "".join(pieces)
    if "\x00" in joined:
        return False
    try:
        joined.encode("utf-8")  # refuses a surrogate: quicker than a regex search for one
    except UnicodeEncodeError:
        return False
    return True


# Limits on what one article may carry: hostile or broken pages are cut, with a warning.
MAX_TITLE = 1_000
MAX_SUMMARY = 2_000
MAX_NAME = 200  # section, category, dateline
MAX_CAPTION = 1_000
MAX_CATEGORIES = 30
MAX_AUTHORS = 20
MAX_IMAGES = 100
MAX_PARAGRAPHS = 2_000
MAX_PARAGRAPH = 20_000
MAX_HTML = 2_000_000


def _bounded(text: str | None, limit: int, what: str, warnings: list[str]) -> str | None:
    """``text`` cut to ``limit`` characters (at a space when there is one), with a warning."""
    if text is None or len(text) <= limit:
        return text
    warnings.append(f"{what} cut from {len(text)} to {limit} characters")
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


def _bounded_body(body: Body, warnings: list[str]) -> Body:
    """A body within the limits; past them its HTML is rebuilt from the kept paragraphs."""
    paragraphs = body.paragraphs
    too_many = len(paragraphs) > MAX_PARAGRAPHS
    too_long = any(len(p) > MAX_PARAGRAPH for p in paragraphs)
    if not (too_many or too_long or len(body.html) > MAX_HTML):
        return body
    if too_many:
        warnings.append(f"{len(paragraphs)} paragraphs: kept the first {MAX_PARAGRAPHS}")
        paragraphs = paragraphs[:MAX_PARAGRAPHS]
    kept: list[str] = []
    parts: list[str] = []
    size = 0
    for p in paragraphs:
        text = _bounded(p, MAX_PARAGRAPH, "paragraph", warnings) or ""
        part = f"<p>{htmllib.escape(text, quote=False)}</p>"
        if size + len(part) > MAX_HTML:
            warnings.append(f"body cut at {len(kept)} paragraphs ({MAX_HTML} characters of HTML)")
            break
        kept.append(text)
        parts.append(part)
        size += len(part) + 1
    return Body(tuple(kept), body.images[:MAX_IMAGES], "\n".join(parts), body.flows[: len(kept)])


def _date(
    raw: str | None, what: str, tz: tzinfo | None, now: datetime | None, warnings: list[str]
) -> datetime | None:
    try:
        return parse_date(raw, tz=tz, now=now)
    except DateError as e:
        warnings.append(f"{what} date rejected: {e}")
        return None


def _drop_repeats(
    folded: Sequence[str], folded_title: str, body: Body | None = None
) -> list[tuple[int, str]]:
    """Drop a leading repeat of the title and paragraphs repeated word for word (as folded):
    the index and fold of each paragraph kept.

    A copy sits in a container that holds only copies (a lightbox's captions, a mobile or
    hidden copy of the lead, a pull quote). A paragraph that the text itself repeats sits in
    the same run of text as its earlier occurrence (the same container: ``body.flows``), right
    after it or further on, or in another section of the text (a container that, like the
    earlier occurrence's, holds paragraphs of its own found nowhere else), and is a sentence:
    it is kept (a refrain, a repeated formula, a document's repeated clause), as a reader of
    the page sees it."""
    flows = body.flows if body is not None and len(body.flows) == len(folded) else ()
    sections: set[int] = set()  # containers holding a paragraph found nowhere else
    if flows:
        counts = Counter(folded)
        sections = {flows[i] for i, key in enumerate(folded) if key and counts[key] == 1}
    kept: list[tuple[int, str]] = []
    last: dict[str, int] = {}  # each fold's latest index
    for i, key in enumerate(folded):
        if not key or (not kept and key == folded_title):
            continue
        before = last.get(key)
        last[key] = i
        if before is not None and not (
            flows
            and body is not None
            and (flows[before] == flows[i] or (flows[before] in sections and flows[i] in sections))
            and _SENTENCE_END.search(body.paragraphs[i])
        ):
            continue
        kept.append((i, key))
    return kept


# A paragraph that ends as a sentence does (closing quotes and brackets aside).
_SENTENCE_END = re.compile(r"[.!?。！？؟।…][\"'”’»)\]]*\s*$")


def _shorten(text: str, limit: int = 300) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(" ,،;؛:") + "…"

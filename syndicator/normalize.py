"""Normalization: from what an extractor found (a :class:`~syndicator.model.Draft`) to an Article.

Text (NFC, whitespace), paragraphs and figures out of a body fragment, captions split into text and
credit (agency named), bylines split into authors and dateline, dates into timezone-aware UTC with
implausible ones rejected, the canonical URL of the contract, the language, and sanitized content
HTML with absolute URLs. Pure: no network, disk, database or clock (``now`` is a parameter).
It does not decide identity beyond the key, nor regions (see ``regions``).
"""

from __future__ import annotations

import copy
import html as htmllib
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import lxml.html
import nh3
import pycld2
from dateutil import parser as dateparser
from lxml import etree

from syndicator import fingerprint
from syndicator.model import Article, Body, Draft, Image

# --------------------------------------------------------------------------------------------
# Text

_SPACES = re.compile(r"[^\S\n][^\S\n]*")  # not "[…]+": a leading class is searched faster
_NEWLINES = re.compile(r"\s*\n\s*")
# Zero-width characters, control characters other than newline and tab (\r included), and the
# explicit bidi embeddings, overrides and isolates (LRE RLE PDF LRO RLO, LRI RLI FSI PDI): an
# override left open reverses whatever follows it in a reader. The implicit marks a language
# needs (LRM U+200E, RLM U+200F, ALM U+061C) are kept.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f\u200b\ufeff\u2060\u180e\u202a-\u202e\u2066-\u2069]"
)
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(text: str) -> str:
    """``text`` as valid Unicode: each lone surrogate (JSON's ``"\\ud800"`` decodes to one; no
    encoder takes it) replaced by U+FFFD. A pair decoded from JSON is one character already."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub("\ufffd", text)


def strip_bidi_controls(text: str) -> str:
    """``text`` without the explicit bidi embeddings, overrides and isolates (marks are kept)."""
    return text if text.isascii() else text.translate(_BIDI_CONTROLS)


def clean_text(text: str | None, *, keep_newlines: bool = False) -> str:
    """NFC text with invisible junk removed and whitespace collapsed (newlines kept if asked)."""
    if not text:
        return ""
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    # Invisible characters, and all whitespace but the space, are unprintable: most texts are
    # printable, which is quicker to test than to look for them.
    printable = text.isprintable()
    if not printable:
        if _INVISIBLE.search(text):
            text = _INVISIBLE.sub("", text)
        text = valid_text(text)
    if keep_newlines:
        return _NEWLINES.sub("\n", _SPACES.sub(" ", text)).strip()
    if printable and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text  # single spaces between words already
    return " ".join(text.split())


def element_text(el: lxml.html.HtmlElement) -> str:
    """The text of an element and its descendants: ``el.text_content()``, without the XPath
    machinery behind it (libxml2 writes the text nodes out in one call; the same string)."""
    return str(etree.tostring(el, method="text", encoding="unicode", with_tail=False))


def clean_or_none(text: str | None) -> str | None:
    return clean_text(text) or None


_QUOTES = "«»\"“”„‟'‘’‹›「」"


def unquote_name(name: str) -> str:
    """A name without the quotation marks some sites wrap it in: «الشرق الأوسط» → الشرق الأوسط."""
    return name.strip().strip(_QUOTES).strip()


# --------------------------------------------------------------------------------------------
# Captions and credits

# Folded spelling (fingerprint.fold, spaces removed) of a credit → the agency's name.
# fmt: off
_AGENCIES: dict[str, str] = {
    "اب": "AP", "ap": "AP", "associatedpress": "AP", "الاسوشيتدبرس": "AP", "اسوشيتدبرس": "AP",
    "ابا": "EPA", "epa": "EPA", "epaefe": "EPA", "efe": "EFE", "افي": "EFE", "افب": "AFP",
    "afp": "AFP", "فرانسبرس": "AFP", "وكالةفرانسبرس": "AFP", "رويترز": "Reuters",
    "reuters": "Reuters", "دبا": "dpa", "dpa": "dpa", "غيتي": "Getty Images",
    "جيتي": "Getty Images", "getty": "Getty Images", "gettyimages": "Getty Images",
    "غيتيايميجز": "Getty Images", "afpgettyimages": "AFP", "الاناضول": "Anadolu",
    "anadolu": "Anadolu", "anadoluagency": "Anadolu", "شينخوا": "Xinhua", "xinhua": "Xinhua",
    "واس": "SPA", "spa": "SPA", "وام": "WAM", "wam": "WAM", "سانا": "SANA", "sana": "SANA",
    "قنا": "QNA", "qna": "QNA", "كونا": "KUNA", "kuna": "KUNA", "بنا": "BNA", "مينا": "MENA",
    "تاس": "TASS", "tass": "TASS", "سبوتنيك": "Sputnik", "sputnik": "Sputnik",
    "ريانوفوستي": "RIA Novosti", "bloomberg": "Bloomberg", "بلومبرغ": "Bloomberg", "ansa": "ANSA",
    "انسا": "ANSA", "kyodo": "Kyodo", "يونهاب": "Yonhap", "yonhap": "Yonhap", "pa": "PA",
    "upi": "UPI", "shutterstock": "Shutterstock", "alamy": "Alamy",
}
# fmt: on
_CREDIT_PREFIX = re.compile(
    r"^(?:photo|photograph|picture|image|credit|source|foto|تصوير|الصورة|صورة|المصدر)\s*[:：]?\s*",
    re.I,
)
_TRAILING_PARENS = re.compile(
    r"^(?P<text>.*?)\s*[(\[](?P<credit>[^()\[\]]{1,60})[)\]]\s*[.؛]?$", re.S
)
_TRAILING_DASH = re.compile(r"^(?P<text>.+?)\s+[-–—|/]\s*(?P<credit>[^-–—|]{2,40})$", re.S)


def agency(credit: str | None) -> str | None:
    """The agency a credit names (أ.ب → AP, إ.ب.أ → EPA, أ.ف.ب → AFP, رويترز → Reuters …).

    Several credits (``AFP/Getty Images``) give the first known one. None if none is known.
    """
    if not credit:
        return None
    credit = _CREDIT_PREFIX.sub("", credit.strip())
    whole = fingerprint.fold(credit).replace(" ", "")
    if whole in _AGENCIES:
        return _AGENCIES[whole]
    for part in re.split(r"[/,،;؛&+]|\s-\s|\svia\s|\sو\s", credit):
        key = fingerprint.fold(part).replace(" ", "")
        if key in _AGENCIES:
            return _AGENCIES[key]
    return None


def split_caption(caption: str | None) -> tuple[str | None, str | None]:
    """Split a caption into text and credit: ``"هاشم تاجي (أ.ب)"`` → ``("هاشم تاجي", "AP")``.

    A credit is a trailing parenthesis, or a trailing ``- AGENCY`` / ``| AGENCY``, or a
    ``Photo: …`` suffix. Known agencies are given by name; another short credit (a photographer)
    is kept as written. Returns ``(None, None)`` for an empty caption.
    """
    text = clean_text(caption)
    if not text:
        return None, None
    m = _TRAILING_PARENS.match(text)
    if m:
        credit = m["credit"].strip()
        named = agency(credit)
        if named or _looks_like_credit(credit):
            return (clean_or_none(m["text"]) or None), named or _CREDIT_PREFIX.sub("", credit)
    m = _TRAILING_DASH.match(text)
    if m:
        named = agency(m["credit"])
        if named:
            return clean_or_none(m["text"]), named
    m = re.match(
        r"^(?P<text>.*?)[.\s]*\b(?:Photo|Photograph|Credit|تصوير)\s*[:：]\s*(?P<credit>[^.]{2,60})\.?$",
        text,
        re.I,
    )
    if m:
        credit = m["credit"].strip()
        return clean_or_none(m["text"]), agency(credit) or credit
    return text, None


def _looks_like_credit(credit: str) -> bool:
    words = credit.split()
    if not 1 <= len(words) <= 4 or any(ch.isdigit() for ch in credit):
        return False
    return bool(_CREDIT_PREFIX.match(credit)) or "/" in credit


# --------------------------------------------------------------------------------------------
# Bylines

_BY = re.compile(r"^(?:by|par|von|por|di|بقلم|كتب|كتبت|إعداد|اعداد|تقرير|من)\s*[:：]?\s+", re.I)
_BYLINE_PLACE = re.compile(r"^(?P<who>.*?)\s*[(\[](?P<place>[^()\[\]]{1,40})[)\]]\s*$", re.S)
_BYLINE_DASH = re.compile(r"^(?P<who>.+?)\s*[-–—]\s*(?P<place>[^-–—]{1,30})$")
_AUTHOR_SPLIT = re.compile(r"\s*(?:,|،|;|؛|&|\band\b|\bund\b|\bet\b|\by\b|\sو\s)\s*", re.I)


def _split_attached_and(names: str) -> list[str]:
    """Arabic writes "and" joined to the next word: ``سامي درويش وهالة منصور`` is two people.
    Split there only when both sides keep at least two words (a name like وليد stays whole)."""
    words = names.split()
    for i in range(2, len(words) - 1):
        word = words[i]
        if word.startswith("و") and len(word) > 2 and not _is_arabic_particle(word):
            return [" ".join(words[:i]), " ".join([word[1:], *words[i + 1 :]])]
    return [names]


def _is_arabic_particle(word: str) -> bool:
    return word in ("وفي", "ومن", "وعن", "وعلى", "والى", "وإلى")


def split_byline(byline: str | None) -> tuple[tuple[str, ...], str | None]:
    """Split a byline into authors and a dateline.

    ``«الشرق الأوسط» (موسكو)`` → ``(("الشرق الأوسط",), "موسكو")``; ``By Jane Doe and John Roe``
    → ``(("Jane Doe", "John Roe"), None)``. Quotes around names are dropped.
    """
    text = clean_text(byline)
    if not text:
        return (), None
    place: str | None = None
    m = _BYLINE_PLACE.match(text)
    if m and m["who"].strip():
        text, place = m["who"], clean_or_none(m["place"])
    text = _BY.sub("", text.strip())
    authors = tuple(
        dict.fromkeys(
            name
            for part in _AUTHOR_SPLIT.split(text)
            for piece in _split_attached_and(part)
            if (name := unquote_name(piece)) and len(name) <= 120
        )
    )
    if place is not None and not authors and agency(place):
        # "(رويترز)" alone is a credit, not a place.
        return (agency(place) or place,), None
    return authors, place


def split_authors(names: Iterable[str]) -> tuple[str, ...]:
    """Authors from several raw strings (JSON-LD, meta tags, byline elements), de-duplicated."""
    out: list[str] = []
    for raw in names:
        for name in split_byline(raw)[0]:
            if name not in out:
                out.append(name)
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Dates

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=2)

_ARABIC_DIGITS = {0x0660 + i: str(i) for i in range(10)} | {0x06F0 + i: str(i) for i in range(10)}
# fmt: off
_MONTHS = {
    # Egyptian / Gulf names, Levantine / Iraqi names, and French/Spanish/German odds and ends.
    "يناير": 1, "فبراير": 2, "مارس": 3, "أبريل": 4, "ابريل": 4, "إبريل": 4, "مايو": 5, "يونيو": 6,
    "يونيه": 6, "يوليو": 7, "يوليه": 7, "أغسطس": 8, "اغسطس": 8, "سبتمبر": 9, "أكتوبر": 10,
    "اكتوبر": 10, "نوفمبر": 11, "ديسمبر": 12, "كانون الثاني": 1, "شباط": 2, "آذار": 3, "اذار": 3,
    "نيسان": 4, "أيار": 5, "ايار": 5, "حزيران": 6, "تموز": 7, "آب": 8, "اب": 8, "أيلول": 9,
    "ايلول": 9, "تشرين الأول": 10, "تشرين الاول": 10, "تشرين الثاني": 11, "كانون الأول": 12,
    "كانون الاول": 12,
}
# fmt: on
_MONTH_RE = re.compile("|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True)))
_EPOCH = re.compile(r"^\d{9,13}$")
# Zone abbreviations that mean one offset wherever they are used (hours east of UTC). Ambiguous
# ones (CST, IST, AST, BST…) are left out: a date naming one is read in the source's timezone.
# fmt: off
_ZONE_ABBREVIATIONS = {
    "UTC": 0, "UT": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 1, "CET": 1, "CEST": 2, "MET": 1,
    "MEST": 2, "EET": 2, "EEST": 3, "MSK": 3, "TRT": 3, "PKT": 5, "ICT": 7, "WIB": 7, "HKT": 8,
    "SGT": 8, "AWST": 8, "JST": 9, "KST": 9, "ACST": 9.5, "AEST": 10, "AEDT": 11, "NZST": 12,
    "NZDT": 13, "EST": -5, "EDT": -4, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AKST": -9, "AKDT": -8, "HST": -10,
}
# fmt: on
_GMT_OFFSET = re.compile(r"\b(?:GMT|UTC)\s*([+-]\d{1,2}(?::?\d{2})?)\b(?:\s*\([^()]*\))?")


class DateError(ValueError):
    """A date that could not be read or is not plausible; the message says which."""


def parse_date(
    value: str | datetime | None, *, tz: tzinfo | None = None, now: datetime | None = None
) -> datetime | None:
    """A date from any source as a timezone-aware UTC datetime.

    Accepts RFC 822 (feeds), ISO 8601 (meta tags, JSON-LD), epoch seconds or milliseconds, Arabic
    month names and Arabic-Indic digits, and what ``dateutil`` reads. A date without an offset is
    taken in ``tz`` (the source's timezone, UTC if none). Raises :class:`DateError` for text that
    is not a date, and for implausible dates: before 1990, or more than two days after ``now``.
    Returns None for an empty value.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        parsed: datetime | None = value
    else:
        raw = clean_text(value).translate(_ARABIC_DIGITS)
        if not raw:
            return None
        parsed = _parse_text(raw)
        if parsed is None:
            raise DateError(f"not a date: {value!r}")
    assert parsed is not None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=tz or UTC)
    try:
        result = parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00: before year 1 once in UTC
        raise DateError(f"not a date: {value!r} falls outside the years 1 to 9999 in UTC") from None
    if result < EARLIEST:
        raise DateError(f"implausible date {result:%Y-%m-%d}: before 1990")
    if now is not None and result > now + FUTURE_SLACK:
        raise DateError(f"implausible date {result:%Y-%m-%d}: in the future")
    return result


def _parse_text(raw: str) -> datetime | None:
    if _EPOCH.match(raw):
        seconds = int(raw) / (1000 if len(raw) > 11 else 1)
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    iso = raw.replace("Z", "+00:00") if raw.endswith("Z") else raw
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        pass
    if re.match(r"^[A-Za-z]{3},|^\d{1,2} [A-Za-z]{3} \d{2,4}", raw):
        try:
            # RFC 822 "-0000" means "offset unknown": email.utils gives a naive datetime then.
            return parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    m = _MONTH_RE.search(raw)
    if m:
        raw = raw.replace(m.group(0), f" {_MONTHS[m.group(0)]:02d} ")
        day_month_year = re.search(r"(\d{1,2})\s+(\d{2})\s+(\d{4})", raw)
        if day_month_year:
            d, mo, y = (int(g) for g in day_month_year.groups())
            time = re.search(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", raw[day_month_year.end() :])
            try:
                return datetime(y, mo, d, *(int(g or 0) for g in time.groups()) if time else ())
            except ValueError:
                return None
    # "GMT+0200" as browsers write it means two hours east (dateutil reads it the POSIX way).
    raw = _GMT_OFFSET.sub(r"\1", raw)
    try:
        return dateparser.parse(raw, fuzzy=False, tzinfos=_zone_of)
    except (ValueError, OverflowError, TypeError):
        return None


def _zone_of(name: str | None, offset: int | None) -> tzinfo | None:
    """dateutil's zone lookup: a numeric offset, or a known abbreviation; None leaves the date
    naive (read in the source's timezone). Never the machine's local zone, never a warning."""
    if offset is not None:
        return timezone(timedelta(seconds=offset))
    hours = _ZONE_ABBREVIATIONS.get((name or "").upper())
    return None if hours is None else timezone(timedelta(hours=hours))


def zone(name: str | None) -> tzinfo | None:
    """The timezone a config names (``Asia/Riyadh``, ``UTC``, ``+03:00``), or None for none."""
    if not name:
        return None
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", name)
    if m:
        delta = timedelta(hours=int(m[2]), minutes=int(m[3]))
        return timezone(-delta if m[1] == "-" else delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(f"unknown timezone {name!r}") from e


# --------------------------------------------------------------------------------------------
# URLs

# fmt: off
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid",
    "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "ocid", "ncid", "cmpid",
    "s_cid", "spm", "vero_id", "oly_enc_id", "oly_anon_id", "rb_clickid", "__twitter_impression",
    "wt_mc", "at_medium", "at_campaign", "ito", "smid", "sr_share",
})
# fmt: on
_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def is_tracking_param(name: str) -> bool:
    lower = name.lower()
    return lower.startswith(("utm_", "pk_", "mtm_", "hsa_")) or lower in TRACKING_PARAMS


# A URL that canonical_url gives back as it is: http(s), a lower-case host name without port or
# user, and a path of characters that need no percent-encoding; no query, no fragment.
_CANONICAL_ALREADY = re.compile(
    r"https?://[a-z0-9-]+(?:\.[a-z0-9-]+)*/[A-Za-z0-9_.~/:@!$&'()*+,;=-]*"
)


def canonical_url(url: str, base: str | None = None) -> str:
    """The article key form of a URL (DESIGN.md): resolved against ``base``; scheme and host in
    lower case; no default port, no fragment, no tracking parameters; query sorted; percent-
    encoding made uniform. Non-HTTP URLs (``file:``, ``urn:``) only lose their fragment.
    """
    url = url.strip()
    if base:
        url = urljoin(base, url)
    elif _CANONICAL_ALREADY.fullmatch(url):
        return url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))
    host = (parts.hostname or "").rstrip(".")
    try:
        host = host.encode("idna").decode("ascii") if host and not host.isascii() else host.lower()
    except UnicodeError:
        host = host.lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}{':' + parts.password if parts.password else ''}@{netloc}"
    path = _requote(parts.path or "/")
    query = parts.query and urlencode(
        sorted(
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not is_tracking_param(k)
        ),
        quote_via=quote,
        safe="/:@!$'()*+,;",
    )
    return urlunsplit((scheme, netloc, path, query, ""))


MAX_URL = 4096  # characters of a URL taken from outside (callbacks, webhooks, pushed articles)
_UNSAFE_IN_URL = re.compile(
    r"[\x00-\x20\x7f-\xa0\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]"
)
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"  # reserved characters and "%": kept as they are


def external_url(value: str, *, fragment: bool = False) -> str:
    """A URL taken from outside (a WebSub callback or topic, a webhook target, a pushed
    article), checked and in the one form it is stored and used in: http or https with a host,
    no control character or whitespace anywhere (raw, not percent-encoded: a CR/LF would split
    a request or a log line), no user name or password, no fragment unless ``fragment``;
    scheme and host in lower case (IDNA), no default port, and everything else that needs it
    percent-encoded (already encoded characters stay as they are, so the query a subscriber
    gave is kept byte for byte). Raises ValueError saying what is wrong."""
    if not isinstance(value, str) or not value:
        raise ValueError("not a URL")
    if len(value) > MAX_URL:
        raise ValueError(f"longer than {MAX_URL} characters")
    bad = _UNSAFE_IN_URL.search(value) or _SURROGATE.search(value)
    if bad:
        raise ValueError(
            f"contains {bad.group(0)!r} (control characters and spaces must be encoded)"
        )
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as e:
        raise ValueError(f"not a URL ({e})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError("not an http(s) URL")
    if not parts.hostname:
        raise ValueError("has no host")
    if "@" in parts.netloc:
        raise ValueError("carries a user name or password")
    if parts.fragment and not fragment:
        raise ValueError("has a #fragment")
    host = parts.hostname.rstrip(".")
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host.lower()
    except UnicodeError:
        raise ValueError(f"bad host name {parts.hostname!r}") from None
    if not host or not re.fullmatch(r"[a-z0-9._:-]+|\[[0-9a-f:.]+\]|[0-9a-f:.]+", host):
        raise ValueError(f"bad host name {parts.hostname!r}")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = quote(parts.path or "/", safe=_URL_SAFE)
    query = quote(parts.query, safe=_URL_SAFE)
    tail = quote(parts.fragment, safe=_URL_SAFE) if fragment else ""
    return urlunsplit((scheme, netloc, path, query, tail))


def _requote(path: str) -> str:
    # Decode what need not be encoded, encode what must be: one spelling per path.
    return quote(unquote(path), safe="/:@!$&'()*+,;=~%")


def absolute_url(url: str | None, base: str | None) -> str | None:
    """``url`` resolved against ``base``; None for empty, ``javascript:``/``data:`` and the like,
    and for a ``file:`` URL unless ``base`` is one (a local document may link to local files,
    one from the network never)."""
    if not url:
        return None
    url = url.strip()
    if not url or url.startswith("#"):
        return None
    if base:
        quick = _quick_join(base, url)
        if quick is not None:
            return quick
    try:
        resolved = urljoin(base, url) if base else url
        scheme = urlsplit(resolved).scheme.lower()
        local = bool(base) and urlsplit(base or "").scheme.lower() == "file"
    except ValueError:  # not a URL at all: "http://]x/", an unclosed IPv6 bracket, …
        return None
    if scheme not in ("http", "https", "mailto", "ftp", "file"):
        return None
    if scheme == "file" and not local:  # a document from the network never names a local file
        return None
    return resolved


# What urljoin would change or read in a URL besides a plain path: query, fragment, params,
# the tab and newlines urlsplit drops, dot segments (and, after a scheme, an IPv6 host).
_NOT_PLAIN = re.compile(r"[?#;\t\r\n\[\]]|/\.")


def _quick_join(base: str, url: str) -> str | None:
    """``urljoin(base, url)`` for the two commonest links on an http(s) page, without parsing
    them: a plain absolute path (``/news/1.html``: the base's scheme and host, then the path)
    and a plain absolute http(s) URL (itself). None for anything else."""
    if url[:1] == "/":
        if url[1:2] == "/" or _NOT_PLAIN.search(url):
            return None
        parts = urlsplit(base)
        if parts.scheme in ("http", "https"):
            return f"{parts.scheme}://{parts.netloc}{url}"
        return None
    if (
        url.startswith(("http://", "https://"))
        and url.isascii()
        and url.partition("://")[2][:1] not in ("/", "")  # a host
        and not _NOT_PLAIN.search(url)
    ):
        urlsplit(base)  # raises for a base urljoin would refuse
        return url
    return None


# --------------------------------------------------------------------------------------------
# Language

# fmt: off
_SCRIPTS: tuple[tuple[str, int, int], ...] = (
    ("arabic", 0x0600, 0x06FF), ("arabic", 0x0750, 0x077F), ("arabic", 0xFB50, 0xFDFF),
    ("arabic", 0xFE70, 0xFEFF), ("hebrew", 0x0590, 0x05FF), ("cyrillic", 0x0400, 0x04FF),
    ("greek", 0x0370, 0x03FF), ("devanagari", 0x0900, 0x097F), ("bengali", 0x0980, 0x09FF),
    ("thai", 0x0E00, 0x0E7F), ("myanmar", 0x1000, 0x109F), ("hangul", 0xAC00, 0xD7AF),
    ("kana", 0x3040, 0x30FF), ("han", 0x4E00, 0x9FFF), ("latin", 0x0041, 0x024F),
)
# fmt: on
# fmt: off
_SCRIPT_LANGUAGE = {
    "hebrew": "he", "greek": "el", "devanagari": "hi", "bengali": "bn", "thai": "th",
    "myanmar": "my", "hangul": "ko", "kana": "ja", "han": "zh",
}
# fmt: on
# fmt: off
_STOPWORDS = {
    "en": "the of and to in is that for it was on with as by at from are this be have",
    "fr": "le la les de des et un une est que dans pour qui sur au du pas par avec",
    "es": "el la los las de del y que en un una es por para con se su al como",
    "de": "der die das und ist nicht ein eine zu den von mit sich des auf dem für",
    "it": "il lo la gli le di che e un una per non con del della sono al nel",
    "pt": "o a os as de do da que e um uma para com não em por mais dos das",
    "nl": "de het een en van is dat op te in niet met voor zijn aan ook",
    "tr": "ve bir bu da de için ile olarak daha çok gibi ama ne olan",
    "id": "yang dan di ini itu dengan untuk dari dalam tidak akan pada juga",
    "pl": "i w nie na się z do że to jest o jak po ale",
    "sv": "och att det som en på är av för med till den har inte",
    "lv": "un ir ar par no uz kas ka to bet arī vai kā",
}
# fmt: on
_STOPSETS = {lang: frozenset(words.split()) for lang, words in _STOPWORDS.items()}


# CLD2 reads the text; where it is unsure (a short or mixed text), the script and a few common words
# decide. docs/PERFORMANCE.md ("Language detection") compares the candidates this was chosen from.
LANGUAGE_SAMPLE = 1000  # characters: CLD2 is as accurate on the first 1,000 as on 4,000, 4× faster
# CLD2's codes that are not today's BCP 47 primary tags.
_CLD2_CODES = {"iw": "he", "jw": "jv", "in": "id", "tl": "fil", "zh-Hant": "zh"}


def detect_language(text: str) -> str | None:
    """A best guess at the language of a text (a BCP 47 primary tag); None if unsure."""
    sample = text[:LANGUAGE_SAMPLE]
    try:
        reliable, _, found = pycld2.detect(
            sample.encode("utf-8", "replace"), isPlainText=True, bestEffort=False
        )
    except pycld2.error:  # not valid UTF-8 once encoded: cannot happen with "replace"
        reliable, found = False, ()
    if reliable and found:
        code = str(found[0][1])
        code = _CLD2_CODES.get(code, code)
        if code not in ("un", "xxx") and not code.startswith("xx-"):
            return code.partition("-")[0]
    return guess_language_by_script(sample)


def guess_language_by_script(text: str) -> str | None:
    """The language a text's script implies, or its common words for Latin scripts; None if
    unsure. The fallback of :func:`detect_language` (and, before it, the only detector)."""
    sample = text[:4000]
    counts: dict[str, int] = {}
    for ch in sample:
        cp = ord(ch)
        if cp < 0x41:
            continue
        for script, lo, hi in _SCRIPTS:
            if lo <= cp <= hi:
                counts[script] = counts.get(script, 0) + 1
                break
    if not counts or sum(counts.values()) < 20:
        return None
    script = max(counts, key=lambda s: counts[s])
    if script == "arabic":
        persian = sum(sample.count(c) for c in "پچژگکی")
        urdu = sum(sample.count(c) for c in "ٹڈڑںےھ")
        if urdu > 3 and urdu >= persian:
            return "ur"
        return "fa" if persian > 5 else "ar"
    if script == "cyrillic":
        return "uk" if sum(sample.count(c) for c in "їєіґ") > 3 else "ru"
    if script == "han" and counts.get("kana"):
        return "ja"
    if script != "latin":
        return _SCRIPT_LANGUAGE.get(script)
    words = re.findall(r"[^\W\d_]+", sample.lower())
    scores = {lang: sum(w in stop for w in words) for lang, stop in _STOPSETS.items()}
    best = max(scores, key=lambda lang: scores[lang])
    return best if scores[best] >= 3 else None


def language_tag(value: str | None) -> str | None:
    """A BCP 47 primary tag from ``ar``, ``ar-SA``, ``ar_EG``, ``en-us``…; None if not one."""
    if not value:
        return None
    m = re.match(r"^\s*([A-Za-z]{2,3})(?:[-_]([A-Za-z]{2}|\d{3}))?\b", value)
    if not m:
        return None
    return m[1].lower()


# --------------------------------------------------------------------------------------------
# Content: paragraphs, figures, sanitized HTML

# fmt: off
SAFE_TAGS = frozenset({
    "p", "br", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "li", "pre", "code", "em",
    "strong", "b", "i", "u", "s", "sub", "sup", "small", "mark", "q", "cite", "abbr", "a", "img",
    "figure", "figcaption", "table", "thead", "tbody", "tr", "th", "td", "hr", "span", "time", "dl",
    "dt", "dd",
})
# fmt: on
# fmt: off
SAFE_ATTRIBUTES = {
    "a": {"href", "title"}, "img": {"src", "alt", "width", "height"}, "abbr": {"title"},
    "time": {"datetime"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"},
    "*": {"dir", "lang"},
}
# fmt: on
_URL_ATTRIBUTES = {("a", "href"), ("img", "src")}


def sanitize_html(fragment: str, base_url: str | None) -> str:
    """A safe subset of HTML: no script, style, iframe, event handlers or ``javascript:`` URLs;
    link and image URLs made absolute against ``base_url``; links get ``rel="noopener …"``;
    no ``<img>`` left without a source (one whose ``src`` was refused is removed)."""

    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        if (tag, attribute) in _URL_ATTRIBUTES:
            return absolute_url(value, base_url)
        return value

    attributes = {tag: set(attrs) for tag, attrs in SAFE_ATTRIBUTES.items()}
    cleaned: str = nh3.clean(
        fragment,
        tags=set(SAFE_TAGS),
        clean_content_tags={
            "script",
            "style",
            "iframe",
            "noscript",
            "template",
            "object",
            "embed",
            "svg",
            "math",
            "textarea",
            "select",
            "button",
            "form",
        },
        attributes=attributes,
        attribute_filter=attribute_filter,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    ).strip()
    return strip_bidi_controls(_drop_sourceless_images(cleaned))


# An <img> as nh3 writes it: lower-case names, values in double quotes (a quote inside escaped).
_SERIALIZED_IMG = re.compile(r'<img((?:\s+[^\s"=>/]+(?:="[^"]*")?)*)\s*/?>')
_SRC_ATTRIBUTE = re.compile(r'\ssrc="[^"]')


def _drop_sourceless_images(cleaned: str) -> str:
    """Remove the pictures whose source the sanitizer refused (``file:``, ``data:``…): an
    ``<img>`` without ``src`` shows nothing but a broken-image box; its caption stays."""
    if "<img" not in cleaned:
        return cleaned
    return _SERIALIZED_IMG.sub(lambda m: m[0] if _SRC_ATTRIBUTE.search(m[1]) else "", cleaned)


# fmt: off
_BLOCK_TAGS = frozenset({
    "p", "div", "section", "article", "main", "blockquote", "ul", "ol", "li", "h1", "h2", "h3",
    "h4", "h5", "h6", "pre", "figure", "table", "tr", "td", "th", "thead", "tbody", "dl", "dd",
    "dt", "header", "footer", "aside", "center", "address", "hr", "picture",
})
# fmt: on
_TEXT_BLOCKS = frozenset({"p", "h2", "h3", "h4", "h5", "h6", "pre", "li", "dd", "dt", "td", "th"})
# fmt: off
_DROP_TAGS = frozenset({
    "script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "math", "form",
    "button", "input", "select", "textarea", "nav", "canvas", "audio", "video", "head", "link",
    "meta",
})
# fmt: on
_BOILERPLATE_LINE = re.compile(
    r"^(?:advertisement|advertising|sponsored|إعلان|اعلان|مساحة إعلانية|read more"
    r"|اقرأ (?:أيضا|أيضاً|المزيد)"
    r"|continue reading|share this|شارك(?: المقال| الخبر)?|tt)\b[\s:.…]*$"
    r"|^The post .{1,300} appeared first on .{1,200}\.?$"
    # a gallery's page numbers ("3", "3 / 14"), a copyright notice
    r"|^\d{1,3}(?:\s*(?:/|of|من)\s*\d{1,3})?$"
    r"|^(?=.{0,200}$)(?:.*(?:©|\(c\) \d{4}|all rights reserved|جميع الحقوق محفوظة)).*$",
    re.I,
)


# What a line over 200 characters must start with to be boilerplate (the patterns above, and
# what matches their first letters ignoring case: ſ is an s), or a digit.
_BOILERPLATE_STARTS = frozenset("aAsSſrRcCtTإامش")


def _is_boilerplate(line: str) -> bool:
    """``_BOILERPLATE_LINE.match(line)``, without running it on long lines that cannot match."""
    if len(line) > 200 and line[:1] not in _BOILERPLATE_STARTS and not line[:1].isdigit():
        return False
    return bool(_BOILERPLATE_LINE.match(line))


def parse_body(fragment: str | None, base_url: str | None) -> Body:
    """Paragraphs, figures and sanitized HTML from a body fragment (a page's article body, a feed
    item's content). Captions become images, never paragraphs; boilerplate lines are dropped."""
    if not fragment or not fragment.strip():
        return Body((), (), "")
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return Body((), (), "")
    return body_of(root, base_url)


def body_of(root: lxml.html.HtmlElement, base_url: str | None) -> Body:
    """What :func:`parse_body` gives for the fragment that is the content of ``root`` (for an
    extractor that has the body's tree already). Reads the tree, never changes it."""
    paragraphs: list[str] = []
    images: list[Image] = []
    parts: list[str] = []
    seen: set[str] = set()  # image URLs
    for kind, payload, html_part in _walk_blocks(root, base_url):
        if kind == "p":
            assert isinstance(payload, str)
            paragraphs.append(payload)
        else:
            assert isinstance(payload, Image)
            if payload.url:
                if payload.url in seen:
                    continue
                seen.add(payload.url)
            images.append(payload)
        parts.append(html_part)
    return Body(tuple(paragraphs), tuple(images), sanitize_html("\n".join(parts), base_url))


def body_from_text(text: str | None) -> Body:
    """Paragraphs (separated by blank lines, or by single newlines if there are none) and HTML."""
    raw = clean_text(text, keep_newlines=True) if text else ""
    if not raw:
        return Body((), (), "")
    chunks = (
        re.split(r"\n\s*\n", text or "") if re.search(r"\n\s*\n", text or "") else raw.split("\n")
    )
    paragraphs = tuple(p for chunk in chunks if (p := clean_text(chunk)) and not _is_boilerplate(p))
    html_body = "\n".join(f"<p>{htmllib.escape(p, quote=False)}</p>" for p in paragraphs)
    return Body(paragraphs, (), html_body)


def _walk_blocks(
    root: lxml.html.HtmlElement, base_url: str | None
) -> Iterator[tuple[str, str | Image, str]]:
    """Yield ("p", text, html) and ("img", Image, html) in document order.

    Text and inline elements that sit between blocks (``<div><p>…</p> loose text <br><br> more
    <em>text</em><div>…</div></div>``) are read as paragraphs of their own, as a browser shows them.
    """
    run: list[lxml.html.HtmlElement | str] = []  # inline content waiting for the next block
    held: list[Image] = []  # a picture whose caption may be the next block

    def flush() -> Iterator[tuple[str, str | Image, str]]:
        for image in held:
            yield "img", image, _figure_html(image)
        held.clear()
        if _has_content(run):
            yield from _inline_run(run, base_url)
        run.clear()

    if root.text:
        run.append(root.text)
    for el in root.iterchildren():
        if not isinstance(el.tag, str) or el.tag.lower() in _DROP_TAGS:
            if el.tail:
                run.append(el.tail)
            continue
        tag = el.tag.lower()
        has_blocks = any(isinstance(c.tag, str) and c.tag.lower() in _BLOCK_TAGS for c in el)
        if not has_blocks and (_is_caption(el) or _is_credit(el)):
            # A caption or credit outside <figure> (``<img><p class="caption"><p class="credit">``)
            # describes the picture just before it; without one it is still not a paragraph of
            # the story (a credit line never is one, with or without a picture).
            if held and not _has_content(run):
                held[-1] = _with_caption(held[-1], el)
        elif not has_blocks and tag not in ("figure", "picture") and is_picture_block(el):
            if held or run:
                yield from flush()
            image = picture_of(el, base_url)
            if image is not None:
                held.append(image)
        elif tag not in _BLOCK_TAGS and tag not in ("img", "amp-img") and not has_blocks:
            run.append(el)  # inline: its tail stays with it
            continue
        else:
            if held or run:
                yield from flush()
            if tag in ("figure", "picture", "img", "amp-img"):
                image = _figure_image(el, base_url)
                if image is not None:
                    held.append(image)
            else:
                yield from _block(el, tag, has_blocks, base_url)
        if el.tail:
            run.append(el.tail)
    yield from flush()


def _has_content(run: list[lxml.html.HtmlElement | str]) -> bool:
    return any(not isinstance(piece, str) or piece.strip() for piece in run)


def _is_caption(el: lxml.html.HtmlElement) -> bool:
    if el.tag == "figcaption":
        return True
    words = f"{el.get('class') or ''} {el.get('id') or ''}".lower()
    return "caption" in words and not _CREDIT_WORDS.search(words)


# Class or id words of a picture's credit (``photo-credit``, ``image__copyright``, ``credits``).
_CREDIT_WORDS = re.compile(
    r"credit|copyright|photographer|(?:^|[\s_-])(?:source|courtesy)(?:$|[\s_-])"
)
# Class or id words of an element that holds a picture with its caption and credit.
_PICTURE_WORDS = re.compile(
    r"(?:^|[\s_-])(?:photo\w*|image|img|picture|pic|media|figure|gallery-?item|lead-?(?:image|art)"
    r"|hero|thumbnail|wp-caption|visual)(?:$|[\s_-])"
)


def _is_credit(el: lxml.html.HtmlElement) -> bool:
    """A picture credit by its class or id (``<span class="photo-credit">``)."""
    if not isinstance(el.tag, str):
        return False
    words = f"{el.get('class') or ''} {el.get('id') or ''}".lower()
    return bool(words.strip()) and bool(_CREDIT_WORDS.search(words))


def is_picture_block(el: lxml.html.HtmlElement) -> bool:
    """An element that is one picture with its caption or credit and no text of its own:
    ``<div class="photo"><img><span class="photo-caption">…</span><span class="photo-credit">``,
    ``<p><img><cite class="caption">`` (a ``<figure>`` in all but name)."""
    if el.tag in ("figure", "picture"):
        return True
    if el.tag in ("img", "amp-img"):
        return False
    words = f"{el.get('class') or ''} {el.get('id') or ''}".lower()
    has_parts = False
    if not (words.strip() and _PICTURE_WORDS.search(words)):
        has_parts = any(isinstance(c.tag, str) and (_is_caption(c) or _is_credit(c)) for c in el)
        if not has_parts:
            return False
    images = 0
    for d in el.iter("img", "amp-img", "p", "h1", "h2", "h3", "h4", "h5", "h6", "li"):
        if d.tag in ("img", "amp-img"):
            images += 1
        elif not (_is_caption(d) or _is_credit(d)):
            return False  # running text: a block of the story that holds a picture
        if images > 1:
            return False
    if images != 1:
        return False
    # Its text, but for captions and credits, is nothing much (a lightbox "enlarge" link).
    rest = len(clean_text(element_text(el))) - sum(
        len(clean_text(element_text(d)))
        for d in el.iterdescendants()
        if isinstance(d.tag, str) and (_is_caption(d) or _is_credit(d))
    )
    return rest <= 20


def _with_caption(image: Image, el: lxml.html.HtmlElement) -> Image:
    """The picture with the caption (or credit) that ``el`` gives it."""
    if _is_credit(el) and not _is_caption(el):
        raw = clean_text(element_text(el))
        return replace(
            image, credit=image.credit or agency(raw) or _CREDIT_PREFIX.sub("", raw) or None
        )
    raw, credit = _caption_text(el)
    text, split_credit = split_caption(raw)
    credit = split_credit or credit
    return Image(url=image.url, caption=text or image.caption, credit=credit or image.credit)


def _caption_text(el: lxml.html.HtmlElement) -> tuple[str, str | None]:
    """The text of a caption without the credit it holds (``<small>``, ``<cite>``, an element
    with a credit class), and that credit (an agency by its name)."""
    credits = [
        d
        for d in el.iterdescendants()
        if isinstance(d.tag, str) and (d.tag in ("small", "cite") or _is_credit(d))
    ]
    if not credits:
        return element_text(el), None
    raw = clean_text(element_text(credits[0]))
    credit = agency(raw) or _CREDIT_PREFIX.sub("", raw) or None
    el = copy.deepcopy(el)
    for d in el.iterdescendants():
        if isinstance(d.tag, str) and (d.tag in ("small", "cite") or _is_credit(d)):
            d.text = None
            for child in list(d):
                d.remove(child)  # its tail stays: text that follows the credit
    return element_text(el), credit


def _block(
    el: lxml.html.HtmlElement, tag: str, has_blocks: bool, base_url: str | None
) -> Iterator[tuple[str, str | Image, str]]:
    if tag in ("figure", "picture", "img", "amp-img"):
        image = _figure_image(el, base_url)
        if image is not None:
            yield "img", image, _figure_html(image)
        return
    if tag in ("ul", "ol"):
        items = [
            t
            for li in el.iterchildren()
            if isinstance(li.tag, str) and (t := clean_text(element_text(li)))
        ]
        if items and not has_nested_lists(el):
            for text in items:
                if not _is_boilerplate(text):
                    yield "p", text, f"<p>{htmllib.escape(text, quote=False)}</p>"
            return
    if has_blocks:
        yield from _walk_blocks(el, base_url)
        return
    yield from _text_block(el, tag, base_url)


def _inline_run(
    run: list[lxml.html.HtmlElement | str], base_url: str | None
) -> Iterator[tuple[str, str | Image, str]]:
    """A paragraph (or several, split at double ``<br>``) made of loose text and inline elements."""
    paragraph = lxml.html.Element("p")
    for piece in run:
        if isinstance(piece, str):
            last = paragraph[-1] if len(paragraph) else None
            if last is None:
                paragraph.text = (paragraph.text or "") + piece
            else:
                last.tail = (last.tail or "") + piece
        else:
            paragraph.append(copy.deepcopy(piece))  # with its tail
    yield from _text_block(paragraph, "p", base_url)


def has_nested_lists(el: lxml.html.HtmlElement) -> bool:
    return any(
        isinstance(d.tag, str) and d.tag in ("ul", "ol", "p", "div")
        for d in el.iter()
        if d is not el and d.getparent() is not el
    )


def _text_block(
    el: lxml.html.HtmlElement, tag: str, base_url: str | None
) -> Iterator[tuple[str, str | Image, str]]:
    # Images inside a text block (an inline figure without <figure>) become images, and the
    # captions beside them (``<img><cite class="caption">``) their captions, not text.
    el, captions = _without_captions(el)
    credits = [c for c in captions if _is_credit(c) and not _is_caption(c)]
    captions = [c for c in captions if c not in credits]
    for img in el.iter("img", "amp-img"):
        image = _figure_image(img, base_url)
        if image is not None and captions:
            image = _with_caption(image, captions.pop(0))
        if image is not None and credits:
            image = _with_caption(image, credits.pop(0))
        if image is not None and image.caption:
            yield "img", image, _figure_html(image)
    if tag == "img" or tag == "amp-img":
        return
    pieces = _split_on_double_br(el)
    for piece_html, text in pieces:
        if not text or _is_boilerplate(text):
            continue
        out_tag = tag if tag in ("h2", "h3", "h4", "h5", "h6", "blockquote", "pre") else "p"
        yield "p", text, f"<{out_tag}>{piece_html}</{out_tag}>"


def _without_captions(
    el: lxml.html.HtmlElement,
) -> tuple[lxml.html.HtmlElement, list[lxml.html.HtmlElement]]:
    """A copy of a text block without its caption and credit elements, and those (if it has
    any): the credit of a picture in running text is never text of the story."""
    for d in el.iterdescendants():
        if isinstance(d.tag, str) and (_is_caption(d) or _is_credit(d)):
            break
    else:
        return el, []
    el = copy.deepcopy(el)
    captions: list[lxml.html.HtmlElement] = []  # the outermost ones
    inside = 0  # how many captions the walk is in
    for event, d in etree.iterwalk(el, events=("start", "end")):
        if d is el or not isinstance(d.tag, str) or not (_is_caption(d) or _is_credit(d)):
            continue
        if event == "start":
            if not inside:
                captions.append(d)
            inside += 1
        else:
            inside -= 1
    for caption in captions:
        parent = caption.getparent()
        previous = caption.getprevious()
        if caption.tail and previous is not None:
            previous.tail = (previous.tail or "") + caption.tail
        elif caption.tail:
            parent.text = (parent.text or "") + caption.tail
        parent.remove(caption)
    return el, captions


_IMG_TAG = re.compile(r"<img\b[^>]*>|<amp-img\b[^>]*>(?:</amp-img>)?")
# Written to start with "<" (not a repeat), so that a search skips to the next "<".
_DOUBLE_BR = re.compile(r"<br\s*/?>\s*(?:<br\s*/?>\s*)+", re.I)


def _escape_text(text: str) -> str:
    """``html.escape(text, quote=False)``, quicker for text with nothing to escape."""
    if "&" in text or "<" in text or ">" in text:
        return htmllib.escape(text, quote=False)
    return text


def _has_br(html: str) -> bool:
    """Could ``_DOUBLE_BR`` match? (Four substring searches are quicker than the regex.)"""
    return "<br" in html or "<BR" in html or "<Br" in html or "<bR" in html


def _split_on_double_br(el: lxml.html.HtmlElement) -> list[tuple[str, str]]:
    """The inner HTML and text of a text block, split where it has two <br> in a row."""
    inner = (_escape_text(el.text) if el.text else "") + "".join(
        etree.tostring(child, encoding="unicode", with_tail=True, method="html")
        for child in el
        if isinstance(child.tag, str) or child.tail
    )
    if "<img" in inner or "<amp-img" in inner:
        inner = _IMG_TAG.sub("", inner)
    chunks = _DOUBLE_BR.split(inner) if _has_br(inner) else [inner]
    if len(chunks) == 1:  # one piece: its text is the element's own (no need to parse it again)
        return [(inner.strip(), clean_text(element_text(el)))]
    out = []
    for chunk in chunks:
        text = clean_text(
            element_text(lxml.html.fragment_fromstring(chunk, create_parent="span"))
            if chunk.strip()
            else ""
        )
        out.append((chunk.strip(), text))
    return out


def _figure_image(el: lxml.html.HtmlElement, base_url: str | None) -> Image | None:
    return picture_of(el, base_url)


def picture_of(el: lxml.html.HtmlElement, base_url: str | None) -> Image | None:
    """The picture an element shows (``<img>``, ``<figure>``, ``<picture>``, or a block that is
    one picture with its caption and credit), with its caption and credit.

    The caption is the ``<figcaption>`` (or the element with a caption class) without the credit
    it holds; else the image's alt text. The credit is, in order: a ``<small>``, ``<cite>`` or
    credit-class element in the caption, a credit the caption ends with (in parentheses, or after
    a separator: ``| Reuters``, ``- AP``, ``Photo: …``), an element with a credit class in the
    picture. Agencies are given by name (أ.ب → AP). None when it has neither address nor caption.
    """
    img = el if el.tag in ("img", "amp-img") else next(iter(el.iter("img", "amp-img")), None)
    src = None
    alt = None
    if img is not None:
        src = (
            img.get("src")
            or img.get("data-src")
            or img.get("data-lazy-src")
            or _first_srcset(img.get("srcset") or img.get("data-srcset"))
        )
        alt = img.get("alt")
    if not src:
        source = next(iter(el.iter("source")), None)
        if source is not None:
            src = _first_srcset(source.get("srcset"))
    url = absolute_url(src, base_url)
    if url and url.startswith("data:"):
        url = None
    caption_el = None
    if el.tag in ("figure", "picture"):
        caption_el = next(iter(el.iter("figcaption")), None)
    if caption_el is None and el.tag not in ("img", "amp-img"):
        caption_el = next(
            (d for d in el.iterdescendants() if isinstance(d.tag, str) and _is_caption(d)), None
        )
    held_credit = None
    if caption_el is not None:
        caption_raw, held_credit = _caption_text(caption_el)
    else:
        caption_raw = alt or ""
    text, credit = split_caption(caption_raw)
    credit = held_credit or credit
    if not url and not text:
        return None
    if credit is None and el.tag not in ("img", "amp-img"):
        credit = _credit_element(el)
    return Image(url=url, caption=text, credit=credit)


def _credit_element(el: lxml.html.HtmlElement) -> str | None:
    for node in el.iter():
        if isinstance(node.tag, str) and _is_credit(node):
            raw = clean_text(element_text(node))
            return agency(raw) or _CREDIT_PREFIX.sub("", raw) or None
    return None


def _first_srcset(srcset: str | None) -> str | None:
    if not srcset:
        return None
    first = srcset.split(",")[0].strip().split(" ")[0]
    return first or None


def _figure_html(image: Image) -> str:
    esc = htmllib.escape
    img = f'<img src="{esc(image.url)}" alt="{esc(image.caption or "")}">' if image.url else ""
    caption = image.caption or ""
    if image.credit:
        caption = f"{caption} ({image.credit})" if caption else image.credit
    cap = f"<figcaption>{esc(caption, quote=False)}</figcaption>" if caption else ""
    return f"<figure>{img}{cap}</figure>"


# --------------------------------------------------------------------------------------------
# The whole article


def article_key(draft: Draft, source_id: str | None) -> str:
    """The article key: the canonical URL, or for an item without a usable link the source id and
    its GUID (``urn:syndicator:SOURCE:GUID``)."""
    if draft.key:
        return draft.key
    if not draft.linked and not draft.canonical and draft.guid:
        return f"urn:syndicator:{source_id or 'local'}:{draft.guid}"
    for candidate in (draft.canonical, draft.url):
        if candidate and urlsplit(candidate).scheme in ("http", "https", "file"):
            return canonical_url(candidate)
    if draft.guid:
        return f"urn:syndicator:{source_id or 'local'}:{draft.guid}"
    return canonical_url(draft.canonical or draft.url)


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
    kept = _drop_repeats([" ".join(w) for w in words], folded_title)
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
        language_tag(draft.language) or detect_language(text_for_language) or language_tag(language)
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
        url=canonical_url(base) if urlsplit(base).scheme in ("http", "https") else base,
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
    return Body(tuple(kept), body.images[:MAX_IMAGES], "\n".join(parts))


def _date(
    raw: str | None, what: str, tz: tzinfo | None, now: datetime | None, warnings: list[str]
) -> datetime | None:
    try:
        return parse_date(raw, tz=tz, now=now)
    except DateError as e:
        warnings.append(f"{what} date rejected: {e}")
        return None


def _drop_repeats(folded: Sequence[str], folded_title: str) -> list[tuple[int, str]]:
    """Drop a leading repeat of the title and paragraphs repeated word for word (as folded):
    the index and fold of each paragraph kept."""
    kept: list[tuple[int, str]] = []
    seen: set[str] = set()
    for i, key in enumerate(folded):
        if not key or key in seen or (not kept and key == folded_title):
            continue
        seen.add(key)
        kept.append((i, key))
    return kept


def _shorten(text: str, limit: int = 300) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(" ,،;؛:") + "…"

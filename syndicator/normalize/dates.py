"""Dates: any source's date as timezone-aware UTC, implausible ones rejected; a config's zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import parser as dateparser

from syndicator.normalize.text import clean_text

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

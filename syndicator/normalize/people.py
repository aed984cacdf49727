"""People and agencies: captions split into text and credit (the agency by its name), bylines
split into authors and a dateline."""

from __future__ import annotations

import re
from collections.abc import Iterable

from syndicator import fingerprint
from syndicator.normalize.text import clean_or_none, clean_text, unquote_name

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

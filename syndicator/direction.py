"""Writing direction: which languages are written right to left, and the ``dir`` a text in a
language should carry (in feed content and on the pages). Pure.

This module does not detect languages (the normalize package does); it reads the tags articles and
regions already carry.
"""

from __future__ import annotations

import re

_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
RTL_LANGUAGES = frozenset(
    {"ar", "arc", "ckb", "dv", "fa", "he", "iw", "ks", "ps", "sd", "syr", "ug", "ur", "yi"}
)
RTL_SCRIPTS = frozenset({"arab", "hebr", "syrc", "thaa", "nkoo", "adlm", "rohg", "mand", "samr"})


def well_formed_tag(value: str | None) -> str | None:
    """A language as a whole, well-formed tag (``pt_BR`` → ``pt-BR``), or None when it is not
    one. (``normalize.primary_subtag`` is another thing: the primary subtag, ``ar-SA`` → ``ar``.)"""
    if not value:
        return None
    tag = value.strip().replace("_", "-")
    return tag if _LANGUAGE.fullmatch(tag) else None


def is_rtl(language: str | None) -> bool:
    """Whether a language is written right to left (``ar``, ``fa``, ``ur``, ``he``, ``ku-Arab``)."""
    tag = well_formed_tag(language)
    if tag is None:
        return False
    primary, *rest = tag.lower().split("-")
    return primary in RTL_LANGUAGES or any(part in RTL_SCRIPTS for part in rest)


RTL_CHARACTER = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")


def text_direction(language: str | None, text: str = "") -> str | None:
    """The ``dir`` for a text in ``language``: ``rtl`` for a right-to-left language, ``auto``
    when the language is unknown and the text has right-to-left letters (let the reader's
    browser decide from the first strong letter), None when left to right is right."""
    if is_rtl(language):
        return "rtl"
    if well_formed_tag(language) is None and RTL_CHARACTER.search(text):
        return "auto"
    return None


def dir_attributes(language: str | None) -> str:
    """`` lang="…" dir="…"`` for an element holding text in ``language`` (a tag needs no
    escaping): ``dir="rtl"`` or ``"ltr"`` for a known language, ``dir="auto"`` otherwise."""
    tag = well_formed_tag(language)
    if tag is None:
        return ' dir="auto"'
    direction = "rtl" if is_rtl(tag) else "ltr"
    return f' lang="{tag}" dir="{direction}"'

"""Plain-text page dumps: the text a scraper saved of a news page, articles one after another.

Such a dump (see ``samples/`` and the shared seed) repeats each article's title and lead caption
around a stray "TT" (the font-size button's label), interleaves photo captions with paragraphs,
and carries "related articles" boxes whose teasers are section + caption, title, summary, byline.
This module finds the full articles (title, subtitle, captions, paragraphs) and the teasers, drops
the artefacts and repeats, and marks a teaser that is the same story as a full article. A dump with
none of these marks is read as one article: first line the title, the rest its paragraphs.
Pure: text in, drafts and teasers out.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace

from syndicator import fingerprint
from syndicator.errors import ExtractError
from syndicator.model import Draft, Extraction, Image, Teaser
from syndicator.normalize import agency, clean_text, split_byline, split_caption

ARTEFACTS = frozenset({"TT", "tt", "A A", "A+ A-", "A- A+"})
RELATED_HEADINGS = frozenset(
    map(
        fingerprint.fold,
        (
            "مقالات ذات صلة",
            "اقرأ أيضاً",
            "اقرأ أيضا",
            "أخبار ذات صلة",
            "موضوعات ذات صلة",
            "المزيد",
            "Related articles",
            "Related",
            "Read also",
            "Read more",
            "More stories",
            "See also",
        ),
    )
)
_PARENS_END = re.compile(r"\(([^()]{1,40})\)\s*$")


def text_key(title: str) -> str:
    """The key of an article known only by its text: stable across re-reads of the same dump."""
    digest = hashlib.sha256(fingerprint.fold(title).encode("utf-8")).hexdigest()[:24]
    return f"urn:syndicator:text:{digest}"


def is_caption(line: str) -> bool:
    """A photo caption: a short line ending in an agency credit, e.g. ``هاشم تاجي (أ.ب)``."""
    m = _PARENS_END.search(line)
    if not m or agency(m.group(1)) is None:
        return False
    before = line[: m.start()].rstrip()
    return len(before.split()) <= 60 and not before.endswith((".", "!", "؟", "?", "»."))


def is_byline(line: str) -> bool:
    """A teaser byline: a few words and a parenthesized place: ``«الشرق الأوسط» (موسكو)``."""
    m = _PARENS_END.search(line)
    if not m or agency(m.group(1)) is not None:
        return False
    who = line[: m.start()].strip()
    return 0 < len(who.split()) <= 5 and not who.endswith((".", ":", "،"))


@dataclass
class _Block:
    start: int  # first line of the article's header (its title)
    marker: int  # the "TT" line
    title: str


def extract_text(text: str, url: str, *, sections: tuple[str, ...] = ()) -> Extraction:
    """Full articles and teasers of a plain-text dump."""
    lines = [clean_text(line) for line in text.splitlines()]
    if not any(lines):
        raise ExtractError("empty text", url=url)
    markers = [i for i, line in enumerate(lines) if line in ARTEFACTS]
    if not markers:
        return Extraction(kind="text", articles=(_single(lines, url),))

    blocks: list[_Block] = []
    floor = 0
    for marker in markers:
        title_at = _next_nonempty(lines, marker + 1)
        if title_at is None:
            continue
        title = lines[title_at]
        start = next((i for i in range(marker - 1, floor - 1, -1) if lines[i] == title), None)
        if start is None:
            start = _header_start(lines, marker, floor)
        blocks.append(_Block(start=start, marker=marker, title=title))
        floor = title_at + 1

    drafts: list[Draft] = []
    teasers: list[Teaser] = []
    for n, block in enumerate(blocks):
        end = blocks[n + 1].start if n + 1 < len(blocks) else len(lines)
        related_at = next(
            (
                i
                for i in range(block.marker, end)
                if lines[i] and fingerprint.fold(lines[i]) in RELATED_HEADINGS
            ),
            None,
        )
        body_end = related_at if related_at is not None else end
        drafts.append(_article(lines, block, body_end, url))
        if related_at is not None:
            teasers.extend(_teasers(lines[related_at + 1 : end], sections))

    titles = {fingerprint.fold(d.title): d.key for d in drafts}
    teasers = [_with_story(t, titles.get(fingerprint.fold(t.title))) for t in teasers]
    return Extraction(kind="text", articles=tuple(drafts), teasers=tuple(teasers))


def _next_nonempty(lines: list[str], start: int) -> int | None:
    return next((i for i in range(start, len(lines)) if lines[i]), None)


def _header_start(lines: list[str], marker: int, floor: int) -> int:
    """Without a repeated title, the header is the run of non-blank lines above the marker."""
    i = marker - 1
    while i > floor and (lines[i] or lines[i - 1]):
        i -= 1
    return i + 1 if not lines[i] else i


def _article(lines: list[str], block: _Block, body_end: int, url: str) -> Draft:
    header = [line for line in lines[block.start + 1 : block.marker] if line]
    captions = [line for line in header if is_caption(line)]
    subtitle = next((line for line in header if not is_caption(line) and line != block.title), None)

    images: list[Image] = []
    seen_captions: set[str] = set()
    for caption in captions:
        if caption not in seen_captions:
            seen_captions.add(caption)
            images.append(_caption_image(caption))

    paragraphs: list[str] = []
    title_at = _next_nonempty(lines, block.marker + 1) or block.marker
    for line in lines[title_at + 1 : body_end]:
        if not line or line in ARTEFACTS or line == block.title or line == subtitle:
            continue
        if is_caption(line):
            if line not in seen_captions:
                seen_captions.add(line)
                images.append(_caption_image(line))
            continue
        if paragraphs and paragraphs[-1] == line:
            continue
        paragraphs.append(line)
    if not paragraphs:
        raise ExtractError(f"article {block.title!r} has no paragraphs", url=url)
    return Draft(
        url=url,
        key=text_key(block.title),
        title=block.title,
        subtitle=subtitle,
        body_text="\n\n".join(paragraphs),
        images=tuple(images),
        method="text-dump",
    )


def _caption_image(line: str) -> Image:
    text, credit = split_caption(line)
    return Image(url=None, caption=text, credit=credit)


def _teasers(lines: list[str], sections: tuple[str, ...]) -> list[Teaser]:
    """Teasers in a related box: [title] / section + caption / title / summary / byline."""
    rows = [line for line in lines if line]
    out: list[Teaser] = []
    group: list[str] = []
    for line in rows:
        group.append(line)
        if is_byline(line):
            teaser = _teaser(group, sections)
            if teaser is not None:
                out.append(teaser)
            group = []
    return out


def _teaser(group: list[str], sections: tuple[str, ...]) -> Teaser | None:
    byline = group[-1]
    caption_at = next((i for i, line in enumerate(group[:-1]) if is_caption(line)), None)
    rest = group[caption_at + 1 : -1] if caption_at is not None else group[:-1]
    if not rest:
        return None
    title, summary = rest[0], " ".join(rest[1:]) or None
    section = image = None
    if caption_at is not None:
        section, caption = _split_section(group[caption_at], sections)
        image = _caption_image(caption)
    authors, dateline = split_byline(byline)
    return Teaser(
        url=None,
        title=title,
        summary=summary,
        section=section,
        authors=authors,
        dateline=dateline,
        image=image,
        related=True,
    )


def _split_section(line: str, sections: tuple[str, ...]) -> tuple[str | None, str]:
    """``أوروبا وزير الخارجية … (إ.ب.أ)`` → (``أوروبا``, the caption)."""
    for name in sorted(sections, key=len, reverse=True):
        if line.startswith(name + " "):
            return name, line[len(name) :].strip()
    raw = line
    if "  " in raw.strip():
        head, _, tail = raw.strip().partition("  ")
        return head.strip(), tail.strip()
    head, _, tail = raw.partition(" ")
    return (head, tail) if tail else (None, raw)


def _with_story(teaser: Teaser, key: str | None) -> Teaser:
    return teaser if key is None else replace(teaser, story=key)


def _single(lines: list[str], url: str) -> Draft:
    rows = [line for line in lines if line]
    title = rows[0]
    images = [_caption_image(line) for line in rows[1:] if is_caption(line)]
    paragraphs = [line for line in rows[1:] if not is_caption(line) and line != title]
    if not paragraphs:
        raise ExtractError("text has a title but no paragraphs", url=url)
    return Draft(
        url=url,
        key=text_key(title),
        title=title,
        body_text="\n\n".join(paragraphs),
        images=tuple(images),
        method="text",
    )

"""A body fragment read as a browser shows it: paragraphs in document order, pictures beside
them, boilerplate lines dropped, and the sanitized HTML of what was kept."""

from __future__ import annotations

import copy
import html as htmllib
import itertools
import re
from collections.abc import Iterator

import lxml.html
from lxml import etree

from syndicator.model import Body, Image
from syndicator.normalize.pictures import (
    _figure_html,
    _figure_image,
    _is_caption,
    _is_caption_or_credit,
    _is_credit,
    _with_caption,
    is_picture_block,
    picture_of,
)
from syndicator.normalize.sanitize import sanitize_html
from syndicator.normalize.text import clean_text, element_text

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
    flows: list[int] = []
    images: list[Image] = []
    parts: list[str] = []
    seen: set[str] = set()  # image URLs
    for kind, payload, html_part, flow in _walk_blocks(root, base_url, itertools.count()):
        if kind == "p":
            assert isinstance(payload, str)
            paragraphs.append(payload)
            flows.append(flow)
        else:
            assert isinstance(payload, Image)
            if payload.url:
                if payload.url in seen:
                    continue
                seen.add(payload.url)
            images.append(payload)
        parts.append(html_part)
    return Body(
        tuple(paragraphs),
        tuple(images),
        sanitize_html("\n".join(parts), base_url),
        tuple(flows),
    )


_BLANK_LINE = re.compile(r"\n\s*\n")


def body_from_text(text: str | None) -> Body:
    """Paragraphs (separated by blank lines, or by single newlines if there are none) and HTML."""
    if not text:
        return Body((), (), "")
    if _BLANK_LINE.search(text):
        # Paragraphs by blank lines. (A text that cleans to nothing gives no paragraph here
        # either: no need to clean the whole of it first.)
        chunks = _BLANK_LINE.split(text)
    else:
        raw = clean_text(text, keep_newlines=True)
        if not raw:
            return Body((), (), "")
        chunks = raw.split("\n")
    paragraphs = tuple(p for chunk in chunks if (p := clean_text(chunk)) and not _is_boilerplate(p))
    html_body = "\n".join(f"<p>{_escape_text(p)}</p>" for p in paragraphs)
    return Body(paragraphs, (), html_body)


# What the body walk yields: ("p", text, html, flow) and ("img", Image, html, flow). The flow
# numbers the element whose children the block is among (a list's items are a flow of their own).
_Part = tuple[str, str | Image, str, int]


def _walk_blocks(
    root: lxml.html.HtmlElement, base_url: str | None, flows: Iterator[int]
) -> Iterator[_Part]:
    """Yield ("p", text, html, flow) and ("img", Image, html, flow) in document order.

    Text and inline elements that sit between blocks (``<div><p>…</p> loose text <br><br> more
    <em>text</em><div>…</div></div>``) are read as paragraphs of their own, as a browser shows them.
    ``flows`` numbers the containers (``itertools.count()``).
    """
    flow = next(flows)
    run: list[lxml.html.HtmlElement | str] = []  # inline content waiting for the next block
    held: list[Image] = []  # a picture whose caption may be the next block

    def flush() -> Iterator[_Part]:
        for image in held:
            yield "img", image, _figure_html(image), flow
        held.clear()
        if _has_content(run):
            for kind, payload, html_part in _inline_run(run, base_url):
                yield kind, payload, html_part, flow
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
        if not has_blocks and _is_caption_or_credit(el):
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
                yield from _block(el, tag, has_blocks, base_url, flow, flows)
        if el.tail:
            run.append(el.tail)
    yield from flush()


def _has_content(run: list[lxml.html.HtmlElement | str]) -> bool:
    return any(not isinstance(piece, str) or piece.strip() for piece in run)


def _block(
    el: lxml.html.HtmlElement,
    tag: str,
    has_blocks: bool,
    base_url: str | None,
    flow: int,
    flows: Iterator[int],
) -> Iterator[_Part]:
    """A block child of the container numbered ``flow``."""
    if tag in ("figure", "picture", "img", "amp-img"):
        image = _figure_image(el, base_url)
        if image is not None:
            yield "img", image, _figure_html(image), flow
        return
    if tag in ("ul", "ol"):
        items = [
            t
            for li in el.iterchildren()
            if isinstance(li.tag, str) and (t := clean_text(element_text(li)))
        ]
        if items and not has_nested_lists(el):
            own = next(flows)
            for text in items:
                if not _is_boilerplate(text):
                    yield "p", text, f"<p>{htmllib.escape(text, quote=False)}</p>", own
            return
    if has_blocks:
        yield from _walk_blocks(el, base_url, flows)
        return
    for kind, payload, html_part in _text_block(el, tag, base_url):
        yield kind, payload, html_part, flow


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
        if _is_caption_or_credit(d):
            break
    else:
        return el, []
    el = copy.deepcopy(el)
    captions: list[lxml.html.HtmlElement] = []  # the outermost ones
    inside = 0  # how many captions the walk is in
    for event, d in etree.iterwalk(el, events=("start", "end")):
        if d is el or not _is_caption_or_credit(d):
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

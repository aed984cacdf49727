"""Pictures in a body: the picture an element shows, with its caption and credit, and the
elements that are captions, credits or whole picture blocks."""

from __future__ import annotations

import copy
import html as htmllib
import re
from dataclasses import replace

import lxml.html

from syndicator.model import Image
from syndicator.normalize.people import _CREDIT_PREFIX, agency, split_caption
from syndicator.normalize.text import clean_text, element_text
from syndicator.normalize.urls import absolute_url


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


def _is_caption_or_credit(el: lxml.html.HtmlElement) -> bool:
    """``_is_caption(el) or _is_credit(el)``, reading the element's names once (a credit's
    words are never blank, and a caption's name names no credit)."""
    tag = el.tag
    if tag == "figcaption":
        return True
    if not isinstance(tag, str):
        return False
    words = f"{el.get('class') or ''} {el.get('id') or ''}".lower()
    return "caption" in words or bool(_CREDIT_WORDS.search(words))


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
        has_parts = any(_is_caption_or_credit(c) for c in el)
        if not has_parts:
            return False
    images = 0
    for d in el.iter("img", "amp-img", "p", "h1", "h2", "h3", "h4", "h5", "h6", "li"):
        if d.tag in ("img", "amp-img"):
            images += 1
        elif not _is_caption_or_credit(d):
            return False  # running text: a block of the story that holds a picture
        if images > 1:
            return False
    if images != 1:
        return False
    # Its text, but for captions and credits, is nothing much (a lightbox "enlarge" link).
    rest = len(clean_text(element_text(el))) - sum(
        len(clean_text(element_text(d))) for d in el.iterdescendants() if _is_caption_or_credit(d)
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

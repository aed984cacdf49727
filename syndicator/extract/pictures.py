"""Pictures of an article page: the lead picture above the body, and the figures the body
fragment is rebuilt with.

A picture is what sites mark up as one: a ``<figure>`` (with its ``<figcaption>``), or a block
that holds one image with its caption and credit (``<div class="photo lead"><img itemprop="image">
<span class="photo-caption">…</span><span class="photo-credit">أ.ب</span></div>``), or an image
the page names as the article's (``itemprop="image"``). How a picture's caption and credit are
read — ``<figcaption>``, caption and credit classes, ``<small>``/``<cite>``, a credit in
parentheses or after a separator, alt text, agency names — is
:func:`syndicator.normalize.picture_of`, shared with the body's own figures. Pure: a parsed page
in, :class:`~syndicator.model.Image` records out. It does not find the body (``html``, ``body``).
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

import lxml.html
from lxml import etree
from lxml.html import HtmlElement

from syndicator.extract import dom
from syndicator.extract.index import Subtrees, TreeIndex
from syndicator.model import Image
from syndicator.normalize import is_picture_block, picture_of, split_caption

_IMAGES = ("img", "amp-img")


def lead_images(
    root: HtmlElement,
    container: HtmlElement | None,
    body: HtmlElement | None,
    headline: HtmlElement | None,
    index: TreeIndex,
    boxes: Subtrees,
) -> list[Image]:
    """The pictures that come before the body: in the article's container, else where the page
    names the article's image (``itemprop="image"``) or beside the headline.

    Pictures in page chrome (hidden lightbox copies, share bars, bylines with the author's
    portrait) and in boxes of other stories are not the article's."""
    found: list[Image] = []
    if container is not None:
        found = _pictures(
            container,
            body,
            index,
            lambda: index.marked(container, dom.may_be_chrome, self_too=False),
            boxes,
            named_only=False,
        )
    if found:
        return found
    # Outside the container: the picture the page names as the article's, or the picture in the
    # headline's block. Only chrome by tag or hidden counts here: a headline's wrapper is often
    # named "title" or "headline", words that mark chrome inside a body.
    hidden: list[Subtrees] = []

    def hidden_parts() -> Subtrees:
        if not hidden:
            hidden.append(index.marked(root, _hidden_or_chrome_tag, self_too=False))
        return hidden[0]

    if headline is not None:
        block = headline.getparent()
        if block is not None and block in index and block is not root:
            found = _pictures(block, body, index, hidden_parts, boxes, named_only=False)
    if not found:
        found = _pictures(root, body, index, hidden_parts, boxes, named_only=True)
    return found[:1]


def _pictures(
    scope: HtmlElement,
    body: HtmlElement | None,
    index: TreeIndex,
    chrome_of: Callable[[], Subtrees],
    boxes: Subtrees,
    *,
    named_only: bool,
) -> list[Image]:
    """The pictures in ``scope`` before ``body``, each once, in document order (``chrome_of``
    gives what is chrome there, worked out only if an image is found)."""
    out: list[Image] = []
    chrome: Subtrees | None = None
    used: list[HtmlElement] = []  # picture elements already read (in document order)
    for img in scope.iter(*_IMAGES):
        if body is not None and not index.before(img, body):
            continue  # in the body, or after it
        if named_only and img.get("itemprop") != "image":
            continue
        if chrome is None:
            chrome = chrome_of()
        if img in chrome or img in boxes:
            continue
        if used and index.within(img, used[-1]):
            continue  # a second image of the same picture (a <picture> fallback)
        named = img.get("itemprop") == "image"
        if named_only and not named:
            continue
        picture = _picture_element(img, scope, index)
        if picture is None and not named:
            continue  # an image that is no picture of the story (an icon, a logo)
        picture = picture if picture is not None else img
        if picture in chrome or picture in boxes:
            continue
        used.append(picture)
        image = picture_of(picture, scope.base_url)
        if image is not None and image.url:
            out.append(image)
    return out


def _picture_element(img: HtmlElement, scope: HtmlElement, index: TreeIndex) -> HtmlElement | None:
    """The element that is the picture ``img`` belongs to: its ``<figure>``, or the nearest of
    its three closest ancestors (within ``scope``) that holds it with a caption or credit and
    no running text."""
    for level, parent in enumerate(index.ancestors(img)):
        if not index.within(parent, scope) or level > 3:
            return None
        if parent.tag == "figure":
            return parent
        if parent.tag in ("a", "picture", "span") and not is_picture_block(parent):
            continue  # a link or <picture> around the image: look further out
        if is_picture_block(parent):
            return parent
        if level >= 1:
            return None
    return None


def _hidden_or_chrome_tag(el: HtmlElement) -> bool:
    if el.tag in dom.CHROME_TAGS:
        return True
    return el.get("aria-hidden") == "true" or el.get("hidden") is not None


# --------------------------------------------------------------------------------------------
# The body fragment's figures


def figure_caption(image: Image) -> str:
    """The caption a rebuilt figure carries: the text, then the credit in parentheses, written
    so that :func:`syndicator.normalize.split_caption` reads it back as the credit (a
    photographer's name as ``(Photo: Jane Doe)``; an agency as itself)."""
    credit = image.credit
    if credit and split_caption(f"x ({credit})")[1] != credit:
        credit = f"Photo: {credit}"
    return " ".join(p for p in (image.caption, f"({credit})" if credit else None) if p)


def figure_html(image: Image) -> str:
    caption = figure_caption(image)
    return (
        f'<figure><img src="{escape(image.url or "")}">'
        f"<figcaption>{escape(caption, quote=False)}</figcaption></figure>"
    )


def figure_element(image: Image) -> HtmlElement:
    """What parsing ``figure_html(image) + "\\n"`` gives, built without a parser."""
    caption = figure_caption(image)
    try:
        figure = lxml.html.Element("figure")
        etree.SubElement(figure, "img", src=image.url or "")
        if caption:
            etree.SubElement(figure, "figcaption").text = caption
        else:
            etree.SubElement(figure, "figcaption")
    except ValueError:  # a character lxml will not store (the parser would drop it)
        figure = lxml.html.fragment_fromstring(figure_html(image))
    figure.tail = "\n"
    return figure


def fragment_root(lead: list[Image], body_el: HtmlElement) -> HtmlElement:
    """The tree that ``parse_body`` makes of the body fragment (the lead figures, then the body
    element with its tail, in a <div>). Moves ``body_el`` there: call it last. (The <div> is
    made by the page's parser, so that the elements below it keep the page's classes, chosen in
    C: one made by lxml.html would look each up by a Python call as the body is read.)"""
    root = dom.PARSER.makeelement("div")
    for image in lead:
        root.append(figure_element(image))
    root.append(body_el)
    return root


def has_images(fragment: str) -> bool:
    return "<figure" in fragment or "<img" in fragment or "<amp-img" in fragment

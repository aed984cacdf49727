"""Normalization: from what an extractor found (a :class:`~syndicator.model.Draft`) to an Article.

Text (NFC, whitespace), paragraphs and figures out of a body fragment, captions split into text and
credit (agency named), bylines split into authors and dateline, dates into timezone-aware UTC with
implausible ones rejected, the canonical URL of the contract, the language, and sanitized content
HTML with absolute URLs. Pure: no network, disk, database or clock (``now`` is a parameter).
It does not decide identity beyond the key, nor regions (see ``regions``).

One module per concern; callers import from the package, which imports a name's module on first
use (a caller of one light part, a URL or a timezone, does not load lxml, pycld2 or the fold
table: a `once` whose sources all answer 304 never parses anything):

- ``text``: NFC, invisible characters, whitespace, an element's text;
- ``people``: captions and credits (agencies by name), bylines into authors and a dateline;
- ``dates``: dates into UTC, implausible ones rejected; a config's timezone;
- ``urls``: the canonical URL (the article key), URLs from outside, absolute links;
- ``language``: a text's language, a declared tag's primary subtag;
- ``sanitize``: the safe subset of content HTML;
- ``pictures``: the picture an element shows, with its caption and credit;
- ``body``: paragraphs and pictures out of a body fragment;
- ``article``: the whole article from a draft.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from syndicator import lazy

if TYPE_CHECKING:
    from syndicator.normalize.article import (
        MAX_AUTHORS,
        MAX_CAPTION,
        MAX_CATEGORIES,
        MAX_HTML,
        MAX_IMAGES,
        MAX_NAME,
        MAX_PARAGRAPH,
        MAX_PARAGRAPHS,
        MAX_SUMMARY,
        MAX_TITLE,
        article_key,
        normalize_article,
    )
    from syndicator.normalize.body import body_from_text, body_of, has_nested_lists, parse_body
    from syndicator.normalize.dates import EARLIEST, FUTURE_SLACK, DateError, parse_date, zone
    from syndicator.normalize.language import (
        LANGUAGE_SAMPLE,
        detect_language,
        guess_language_by_script,
        primary_subtag,
    )
    from syndicator.normalize.people import agency, split_authors, split_byline, split_caption
    from syndicator.normalize.pictures import is_picture_block, picture_of
    from syndicator.normalize.sanitize import SAFE_ATTRIBUTES, SAFE_TAGS, sanitize_html
    from syndicator.normalize.text import (
        clean_or_none,
        clean_text,
        element_text,
        strip_bidi_controls,
        unquote_name,
        valid_text,
    )
    from syndicator.normalize.urls import (
        MAX_URL,
        TRACKING_PARAMS,
        absolute_url,
        canonical_url,
        external_url,
        is_tracking_param,
    )

# Where each public name lives: its module is imported when the name is first asked for.
# fmt: off
__getattr__, __dir__ = lazy.exports(__name__, {
    "article": (
        "MAX_AUTHORS", "MAX_CAPTION", "MAX_CATEGORIES", "MAX_HTML", "MAX_IMAGES", "MAX_NAME",
        "MAX_PARAGRAPH", "MAX_PARAGRAPHS", "MAX_SUMMARY", "MAX_TITLE", "article_key",
        "normalize_article",
    ),
    "body": ("body_from_text", "body_of", "has_nested_lists", "parse_body"),
    "dates": ("EARLIEST", "FUTURE_SLACK", "DateError", "parse_date", "zone"),
    "language": (
        "LANGUAGE_SAMPLE", "detect_language", "guess_language_by_script", "primary_subtag",
    ),
    "people": ("agency", "split_authors", "split_byline", "split_caption"),
    "pictures": ("is_picture_block", "picture_of"),
    "sanitize": ("SAFE_ATTRIBUTES", "SAFE_TAGS", "sanitize_html"),
    "text": (
        "clean_or_none", "clean_text", "element_text", "strip_bidi_controls", "unquote_name",
        "valid_text",
    ),
    "urls": (
        "MAX_URL", "TRACKING_PARAMS", "absolute_url", "canonical_url", "external_url",
        "is_tracking_param",
    ),
})
# fmt: on

__all__ = [
    "EARLIEST",
    "FUTURE_SLACK",
    "LANGUAGE_SAMPLE",
    "MAX_AUTHORS",
    "MAX_CAPTION",
    "MAX_CATEGORIES",
    "MAX_HTML",
    "MAX_IMAGES",
    "MAX_NAME",
    "MAX_PARAGRAPH",
    "MAX_PARAGRAPHS",
    "MAX_SUMMARY",
    "MAX_TITLE",
    "MAX_URL",
    "SAFE_ATTRIBUTES",
    "SAFE_TAGS",
    "TRACKING_PARAMS",
    "DateError",
    "absolute_url",
    "agency",
    "article_key",
    "body_from_text",
    "body_of",
    "canonical_url",
    "clean_or_none",
    "clean_text",
    "detect_language",
    "element_text",
    "external_url",
    "guess_language_by_script",
    "has_nested_lists",
    "is_picture_block",
    "is_tracking_param",
    "normalize_article",
    "parse_body",
    "parse_date",
    "picture_of",
    "primary_subtag",
    "sanitize_html",
    "split_authors",
    "split_byline",
    "split_caption",
    "strip_bidi_controls",
    "unquote_name",
    "valid_text",
    "zone",
]

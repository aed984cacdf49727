"""Pushed articles (`syndicator ingest`, POST /api/articles): ARTICLE objects and NDJSON
bodies read into articles, every bad field named. Nothing here stores them.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import replace
from datetime import datetime
from typing import Any

from syndicator import normalize  # its modules load on first use
from syndicator.config import Config
from syndicator.errors import ExtractError
from syndicator.model import Article, Draft, Image, RegionMatch

PUSH_SOURCE = "push"


def article_from_object(
    obj: Any, *, config: Config | None, now: datetime, source_id: str = PUSH_SOURCE
) -> Article:
    """An ARTICLE object (DESIGN.md) as pushed by a client: ``url`` and ``title`` required; the
    body from ``paragraphs``, ``content_html`` or ``text``; ``published`` defaults to now;
    ``regions`` may name regions outright (the config's rules apply too).

    Anything wrong is an ExtractError naming the field: a value of the wrong type, text that is
    not valid Unicode (a lone surrogate), a URL that is not a plain http(s) one, a date that
    cannot be read or is implausible."""
    if not isinstance(obj, dict):
        raise ExtractError("an article must be a JSON object")
    _check_text(obj, "")
    url, title = obj.get("url"), obj.get("title")
    for name, value in (("url", url), ("title", title)):
        if value is not None and not isinstance(value, str):
            raise ExtractError(f"{name}: must be a string, not {type(value).__name__}")
    if not isinstance(url, str) or not isinstance(title, str):
        needed = [
            n for n, v in (("a 'url' (http or https)", url), ("a 'title'", title)) if v is None
        ]
        raise ExtractError(f"an article needs {' and '.join(needed)}")
    try:
        url = normalize.external_url(url)
    except ValueError as e:
        raise ExtractError(f"url: {e}") from None
    paragraphs = _strings(obj, "paragraphs")
    body_text = "\n\n".join(paragraphs) if paragraphs else _string(obj, "text")
    body_html = _string(obj, "content_html")
    if body_text is None and body_html is None:
        raise ExtractError(
            "an article needs a body: 'paragraphs', 'content_html' or 'text'", url=url
        )
    images = []
    raw_images = obj.get("images") or []
    if not isinstance(raw_images, list):
        raise ExtractError("images: must be a list of {url, caption, credit}")
    for n, image in enumerate(raw_images):
        if not isinstance(image, dict) or not isinstance(image.get("url"), str):
            raise ExtractError(f"images[{n}]: must be an object with a 'url'")
        try:
            src = normalize.external_url(image["url"])
        except ValueError as e:
            raise ExtractError(f"images[{n}].url: {e}") from None
        images.append(
            Image(url=src, caption=_string(image, "caption"), credit=_string(image, "credit"))
        )
    published = _string(obj, "published")
    updated = _string(obj, "updated")
    for name, value in (("published", published), ("updated", updated)):
        try:
            normalize.parse_date(value, now=now)
        except normalize.DateError as e:
            raise ExtractError(f"{name}: {e}") from None
    draft = Draft(
        url=url,
        title=title,
        canonical=url,
        subtitle=_string(obj, "subtitle"),
        summary=_string(obj, "summary"),
        section=_string(obj, "section"),
        categories=_strings(obj, "categories"),
        bylines=_strings(obj, "authors"),
        dateline=_string(obj, "dateline"),
        language=_string(obj, "language"),
        published=published or now.isoformat(),
        updated=updated,
        body_html=None if body_text is not None else body_html,
        body_text=body_text,
        images=tuple(images),
        method="pushed",
    )
    article = normalize.normalize_article(draft, source_id=source_id, now=now)
    if not article.paragraphs:
        raise ExtractError("the article's body is empty", url=url)
    known = {r.id for r in config.regions} if config else set()
    given = []
    for region in _strings(obj, "regions"):
        if region not in known:
            raise ExtractError(f"regions: unknown region {region!r}", url=url)
        given.append(RegionMatch(region, "pushed", "named by the client"))
    # The routing rules load with the first pushed article: a `once` needs only PUSH_SOURCE.
    from syndicator import regions as region_rules
    from syndicator.ingest.document import rules_of

    routed = region_rules.route(article, rules_of(config))
    return replace(article, regions=(*given, *routed))


def _check_text(value: Any, where: str) -> None:
    """Every string in a pushed object is valid Unicode: a JSON ``"\\ud800"`` is refused by
    name, not stored (nothing downstream could encode it). Walked without recursion: JSON
    nests as deep as its parser allows. Every string is checked at once first (UTF-8 encodes
    every code point but a surrogate, and joining strings neither makes nor hides one), and
    the walk that names the field is made only when one is there."""
    try:
        "".join(_strings_in(value)).encode("utf-8")
        return
    except UnicodeEncodeError:
        pass
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, str):
            bad = _LONE_SURROGATE.search(item)
            if bad:
                raise ExtractError(
                    f"{at or 'the article'}: not valid Unicode "
                    f"(a lone surrogate, U+{ord(bad.group(0)):04X})"
                )
        elif isinstance(item, dict):
            for key, inner in reversed(item.items()):
                stack.append((inner, f"{at}.{key}" if at else str(key)))
                stack.append((key, at))
        elif isinstance(item, list):
            stack.extend((inner, f"{at}[{n}]") for n, inner in reversed(list(enumerate(item))))


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _strings_in(value: Any) -> list[str]:
    """Every string in a JSON value, keys included, in no particular order."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _string(obj: dict[str, Any], name: str) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ExtractError(f"{name}: must be a string, not {type(value).__name__}")
    return value if value.strip() else None


def _strings(obj: dict[str, Any], name: str) -> tuple[str, ...]:
    value = obj.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ExtractError(f"{name}: must be a list of strings")
    return tuple(value)


def not_json(e: json.JSONDecodeError) -> str:
    """Why a line is not JSON, as a sentence (some of json's messages end with "at")."""
    return f"not JSON ({e.msg.removesuffix(' at')} at column {e.colno})"


def parse_ndjson(body: bytes) -> tuple[list[tuple[int, Any]], list[str]] | None:
    """The objects of an NDJSON (or single JSON object) body of ARTICLE objects, each with its
    line number, and the lines that are not JSON; None if the body is not that (a JSON Feed is
    not: it is read as a feed). Nesting too deep for the parser is "not JSON" too."""
    text = body.decode("utf-8", errors="replace")
    stripped = text.lstrip()
    first = text.count("\n", 0, len(text) - len(stripped)) + 1
    stripped = stripped.rstrip()
    if not stripped.startswith("{"):
        return None
    try:
        whole = json.loads(stripped)
    except (ValueError, RecursionError):
        whole = None
    if isinstance(whole, dict):
        if str(whole.get("version", "")).startswith(
            ("https://jsonfeed.org", "http://jsonfeed.org")
        ):
            return None
        return [(first, whole)], []
    objects: list[tuple[int, Any]] = []
    errors: list[str] = []
    # NDJSON lines end at "\n" (or "\r\n") only: U+2028, U+2029, U+0085 and the other breaks
    # str.splitlines() knows are characters a JSON string may hold as they are.
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            objects.append((n, json.loads(line)))
        except json.JSONDecodeError as e:
            errors.append(f"line {n}: {not_json(e)}")
        except RecursionError:
            errors.append(f"line {n}: not JSON (nested too deeply)")
        except ValueError:  # a number past the digits int() takes
            limit = sys.get_int_max_str_digits()
            errors.append(f"line {n}: not JSON (a number of more than {limit} digits)")
    return objects, errors

"""The OpenAPI 3.1 document of the API, kept as package data (``openapi.json``).

It is written by hand: it describes the contract (DESIGN.md), it is not derived from code. The
file holds two placeholders, filled in when it is served: ``{base_url}`` (the one server) and
``{version}`` (this release). ``tests/test_web.py`` checks that it names every route.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from syndicator import __version__


@cache
def _template() -> str:
    return resources.files("syndicator.web").joinpath("openapi.json").read_text(encoding="utf-8")


def openapi_document(base_url: str) -> dict[str, Any]:
    """The API described as OpenAPI 3.1, for a service at ``base_url``."""
    document: dict[str, Any] = json.loads(_template())
    document["info"]["version"] = __version__
    document["servers"] = [{"url": base_url}]
    return document

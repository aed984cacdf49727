"""Packages whose names load on first use: a package lists which of its modules holds each
public name, and a name's module is imported when the name is first asked for (PEP 562).

So a command imports only what it uses: ``once`` over sources that all answer 304 reads no
document and never loads the parsers (lxml, bs4, feedparser, pycld2…) behind ``normalize`` and
``ingest``. The package keeps its ``__all__`` and, under ``TYPE_CHECKING``, the same imports
for the type checker. Nothing here is a way around an import cycle: the modules' own imports
keep the direction of DESIGN.md.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def exports(
    package: str, modules: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose names come from ``modules``
    (a module of the package → the names it holds)."""
    home = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)  # asked once
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *home})

    return __getattr__, __dir__

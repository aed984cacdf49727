"""Names and modules that load on first use. A package lists which of its modules holds each
public name, and a name's module is imported when the name is first asked for (PEP 562,
:func:`exports`); a library needed only on some paths is a module imported on the first use of
one of its attributes (:func:`module`).

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
from types import ModuleType
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


def module(name: str) -> Any:
    """The module ``name``, imported on the first use of one of its attributes: httpx, say,
    which a fetch over aiohttp needs only if a URL is unusual, a request fails or a
    notification is sent. Bind it under ``if not TYPE_CHECKING`` beside ``import name`` for the
    type checker. The import is the import system's own (thread-safe, once); nothing is put in
    ``sys.modules`` before it."""
    return _Deferred(name)


class _Deferred:
    __slots__ = ("_module", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attribute)

    def __repr__(self) -> str:
        return f"<module {self._name!r}, imported on first use>"

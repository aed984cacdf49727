"""Durations as ops write them (``"10m"``, ``"1h30m"``, ``"2d"``) and as ``check`` shows them.

Pure: strings and numbers in, seconds (or a string) out.
"""

from __future__ import annotations

import re
from typing import Any

DURATION_PATTERN = re.compile(r"^(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?$")

MAX_DURATION = 3650 * 86400.0  # ten years: longer durations are typing mistakes


def format_duration(seconds: float) -> str:
    seconds = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def parse_duration(value: Any) -> float:
    """``"10m"``, ``"1h30m"``, ``"45s"``, ``"2d"`` or a number of seconds → seconds; at most
    ten years (a date that far ahead still fits every clock and scheduler)."""
    if isinstance(value, bool):
        raise ValueError("not a duration")
    if isinstance(value, int | float):
        if value != value:  # NaN
            raise ValueError("not a duration")
        if value <= 0:
            raise ValueError("must be positive")
        if value > MAX_DURATION:
            raise ValueError("longer than ten years (3650d)")
        return float(value)
    if not isinstance(value, str):
        raise ValueError("not a duration")
    m = DURATION_PATTERN.match(value.strip())
    if not m or not any(m.groups()):
        raise ValueError(f"not a duration: {value!r}")
    d, h, mi, s = (int(g or 0) for g in m.groups())
    total = d * 86400 + h * 3600 + mi * 60 + s
    if total <= 0:
        raise ValueError("must be positive")
    if total > MAX_DURATION:
        raise ValueError("longer than ten years (3650d)")
    return float(total)

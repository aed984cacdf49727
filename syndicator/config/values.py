"""Value checks: each takes a value as TOML gave it and returns the clean value, or raises
``ValueError``/``TypeError`` with what was wrong (the validator adds the file and the key).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from syndicator import cron, normalize  # normalize: its modules load on first use
from syndicator.config.durations import MAX_DURATION, parse_duration

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
SOURCE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
MAX_INT = 2**31 - 1  # counts and sizes: more is a typing mistake (and overflows SQL integers)


def suggest(key: str, known: Any) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def as_recheck(value: Any) -> float | None:
    """A recheck interval: a duration, ``"0s"`` (every pass) or ``"off"`` (never: None)."""
    if value == "off":
        return None
    return as_jitter(value)


def as_database_timeout(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds > 3600:
        raise ValueError("longer than an hour")
    return seconds


def as_jitter(value: Any) -> float:
    """A duration that may be zero (no jitter)."""
    if value in (0, "0", "0s"):
        return 0.0
    return parse_duration(value)


def validate_cron(expr: str) -> None:
    """Raise ValueError unless ``expr`` is a crontab expression that can fire (see cron.py)."""
    cron.parse(expr)


def as_bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise TypeError
    return v


def as_text(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise TypeError
    return v.strip()


# Characters XML 1.0 cannot carry, which the feeds drop (publish.common.NOT_XML)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def as_title(v: Any) -> str:
    """A feed's title: text with something left once the feeds drop the characters XML cannot
    carry (RFC 4287: a feed has a title; one of control characters alone would fail every
    publish)."""
    text = as_text(v)
    if not _NOT_XML.sub("", text).strip():
        raise ValueError("it has no character a feed can carry (control characters are dropped)")
    return text


def as_text_list(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
        raise TypeError
    return tuple(x.strip() for x in v)


def as_positive_int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        raise ValueError
    if v > MAX_INT:
        raise ValueError(f"must be at most {MAX_INT}")
    return v


def as_non_negative(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v < math.inf:
        raise ValueError("not a finite number of at least 0")
    if v > MAX_DURATION:
        raise ValueError("longer than ten years")
    return float(v)


def as_rate(v: Any) -> float:
    rate = as_non_negative(v)
    if not math.isfinite(rate):
        raise ValueError("not a finite number")
    return rate


def as_http_url(v: Any) -> str:
    text = as_text(v)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("not an http(s) URL")
    return text


def as_base_url(v: Any) -> str:
    """The service's base URL, which every link of every feed starts with: an http(s) URL a
    reader may be sent to, as a feed's links are (no control character or space, the rule of
    ``publish.common.web_link``; a feed could not carry some, and would fail every publish)."""
    text = as_http_url(v)
    if not text.isprintable() or " " in text:
        raise ValueError("it has a control character or a space (percent-encode it)")
    return text


def as_target_url(v: Any) -> str:
    """A URL the service sends requests to (a webhook, a hub): checked and canonical, as every
    URL from outside is (normalize.external_url)."""
    if not isinstance(v, str):
        raise TypeError
    return normalize.external_url(v.strip())


def as_url_list(v: Any) -> tuple[str, ...]:
    return tuple(as_target_url(x) for x in as_text_list(v)) if v else ()


def as_source_url(v: Any) -> str:
    text = as_text(v)
    scheme = urlsplit(text).scheme
    if scheme in ("http", "https"):
        return as_http_url(text)
    if scheme in ("file", "") or len(scheme) == 1:  # a path (C: on Windows)
        return text
    raise ValueError(f"unsupported scheme {scheme!r}")


def url_of(listen: str) -> str:
    """The base URL of a service listening on ``listen`` (an address that means "every
    interface" is reached through loopback)."""
    host, _, port = listen.rpartition(":")
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "[::]": "[::1]", "::": "[::1]"}.get(host, host)
    return f"http://{host}:{port}"


_LISTEN_HOST = re.compile(r"(|[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])")  # a name, IPv4, [IPv6] or none


def as_listen(v: Any) -> str:
    text = as_text(v)
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected HOST:PORT")
    if not _LISTEN_HOST.fullmatch(host):
        raise ValueError("expected HOST:PORT, the host a name or an address ([…] for IPv6)")
    return text


def as_database(v: Any) -> str:
    text = as_text(v)
    if not text.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://", "postgres://")):
        raise ValueError("unsupported database URL")
    return text


def safe_database(url: str) -> str:
    """A database URL as it may be printed: without its password."""
    parts = urlsplit(url)
    return url.replace(f":{parts.password}@", ":***@") if parts.password else url


def as_env_name(v: Any) -> str:
    text = as_text(v)
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", v):
        raise ValueError("not an environment variable name")
    return text


def as_language(v: Any) -> str:
    text = as_text(v)
    if not re.match(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$", v):
        raise ValueError("not a language tag")
    return text


def as_timezone(v: Any) -> str:
    text = as_text(v)
    normalize.zone(text)
    return text


def as_cron(v: Any) -> str:
    text = as_text(v)
    validate_cron(text)
    return text


def choices(allowed: tuple[str, ...]) -> Callable[[Any], tuple[str, ...]]:
    def check(v: Any) -> tuple[str, ...]:
        values = as_text_list(v)
        bad = [x for x in values if x not in allowed]
        if bad:
            raise ValueError(f"unknown {', '.join(map(repr, bad))}")
        return values

    return check


def one_of(allowed: tuple[str, ...]) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if v not in allowed:
            raise ValueError
        return str(v)

    return check

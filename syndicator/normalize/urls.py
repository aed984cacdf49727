"""URLs: the canonical form of the article key, URLs taken from outside, links made absolute."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

# As in normalize.text (not imported from there: a URL needs no lxml).
_SURROGATE = re.compile("[\ud800-\udfff]")

# fmt: off
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid",
    "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "ocid", "ncid", "cmpid",
    "s_cid", "spm", "vero_id", "oly_enc_id", "oly_anon_id", "rb_clickid", "__twitter_impression",
    "wt_mc", "at_medium", "at_campaign", "ito", "smid", "sr_share",
})
# fmt: on
_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def is_tracking_param(name: str) -> bool:
    lower = name.lower()
    return lower.startswith(("utm_", "pk_", "mtm_", "hsa_")) or lower in TRACKING_PARAMS


# A URL that canonical_url gives back as it is: http(s), a lower-case host name without port or
# user, and a path of characters that need no percent-encoding; no query, no fragment.
_CANONICAL_ALREADY = re.compile(
    r"https?://[a-z0-9-]+(?:\.[a-z0-9-]+)*/[A-Za-z0-9_.~/:@!$&'()*+,;=-]*"
)


def canonical_url(url: str, base: str | None = None) -> str:
    """The article key form of a URL (DESIGN.md): resolved against ``base``; scheme and host in
    lower case; no default port, no fragment, no tracking parameters; query sorted; percent-
    encoding made uniform. Non-HTTP URLs (``file:``, ``urn:``) only lose their fragment.
    """
    url = url.strip()
    if base:
        url = urljoin(base, url)
    elif _CANONICAL_ALREADY.fullmatch(url):
        return url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))
    host = (parts.hostname or "").rstrip(".")
    try:
        host = host.encode("idna").decode("ascii") if host and not host.isascii() else host.lower()
    except UnicodeError:
        host = host.lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}{':' + parts.password if parts.password else ''}@{netloc}"
    path = _requote(parts.path or "/")
    query = parts.query and urlencode(
        sorted(
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not is_tracking_param(k)
        ),
        quote_via=quote,
        safe="/:@!$'()*+,;",
    )
    return urlunsplit((scheme, netloc, path, query, ""))


MAX_URL = 4096  # characters of a URL taken from outside (callbacks, webhooks, pushed articles)
_UNSAFE_IN_URL = re.compile(
    r"[\x00-\x20\x7f-\xa0\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]"
)
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"  # reserved characters and "%": kept as they are


# A URL that external_url gives back as it is: http(s), a lower-case host name without port or
# user, a path of characters that are never percent-encoded; no query, no fragment.
_EXTERNAL_ALREADY = re.compile(
    r"https?://[a-z0-9-]+(?:\.[a-z0-9-]+)*/[A-Za-z0-9_.~!$%&'()*+,/:;=@-]*"
)


def external_url(value: str, *, fragment: bool = False) -> str:
    """A URL taken from outside (a WebSub callback or topic, a webhook target, a pushed
    article), checked and in the one form it is stored and used in: http or https with a host,
    no control character or whitespace anywhere (raw, not percent-encoded: a CR/LF would split
    a request or a log line), no user name or password, no fragment unless ``fragment``;
    scheme and host in lower case (IDNA), no default port, and everything else that needs it
    percent-encoded (already encoded characters stay as they are, so the query a subscriber
    gave is kept byte for byte). Raises ValueError saying what is wrong."""
    if not isinstance(value, str) or not value:
        raise ValueError("not a URL")
    if len(value) > MAX_URL:
        raise ValueError(f"longer than {MAX_URL} characters")
    if _EXTERNAL_ALREADY.fullmatch(value):
        return value
    bad = _UNSAFE_IN_URL.search(value) or _SURROGATE.search(value)
    if bad:
        raise ValueError(
            f"contains {bad.group(0)!r} (control characters and spaces must be encoded)"
        )
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as e:
        raise ValueError(f"not a URL ({e})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError("not an http(s) URL")
    if not parts.hostname:
        raise ValueError("has no host")
    if "@" in parts.netloc:
        raise ValueError("carries a user name or password")
    if parts.fragment and not fragment:
        raise ValueError("has a #fragment")
    host = parts.hostname.rstrip(".")
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host.lower()
    except UnicodeError:
        raise ValueError(f"bad host name {parts.hostname!r}") from None
    if not host or not re.fullmatch(r"[a-z0-9._:-]+|\[[0-9a-f:.]+\]|[0-9a-f:.]+", host):
        raise ValueError(f"bad host name {parts.hostname!r}")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = quote(parts.path or "/", safe=_URL_SAFE)
    query = quote(parts.query, safe=_URL_SAFE)
    tail = quote(parts.fragment, safe=_URL_SAFE) if fragment else ""
    return urlunsplit((scheme, netloc, path, query, tail))


def _requote(path: str) -> str:
    # Decode what need not be encoded, encode what must be: one spelling per path.
    return quote(unquote(path), safe="/:@!$&'()*+,;=~%")


def absolute_url(url: str | None, base: str | None) -> str | None:
    """``url`` resolved against ``base``; None for empty, ``javascript:``/``data:`` and the like,
    and for a ``file:`` URL unless ``base`` is one (a local document may link to local files,
    one from the network never)."""
    if not url:
        return None
    url = url.strip()
    if not url or url.startswith("#"):
        return None
    if base:
        quick = _quick_join(base, url)
        if quick is not None:
            return quick
    try:
        resolved = urljoin(base, url) if base else url
        scheme = urlsplit(resolved).scheme.lower()
        local = bool(base) and urlsplit(base or "").scheme.lower() == "file"
    except ValueError:  # not a URL at all: "http://]x/", an unclosed IPv6 bracket, …
        return None
    if scheme not in ("http", "https", "mailto", "ftp", "file"):
        return None
    if scheme == "file" and not local:  # a document from the network never names a local file
        return None
    return resolved


# What urljoin would change or read in a URL besides a plain path: query, fragment, params,
# the tab and newlines urlsplit drops, dot segments (and, after a scheme, an IPv6 host).
_NOT_PLAIN = re.compile(r"[?#;\t\r\n\[\]]|/\.")


def _quick_join(base: str, url: str) -> str | None:
    """``urljoin(base, url)`` for the two commonest links on an http(s) page, without parsing
    them: a plain absolute path (``/news/1.html``: the base's scheme and host, then the path)
    and a plain absolute http(s) URL (itself). None for anything else."""
    if url[:1] == "/":
        if url[1:2] == "/" or _NOT_PLAIN.search(url):
            return None
        parts = urlsplit(base)
        if parts.scheme in ("http", "https"):
            return f"{parts.scheme}://{parts.netloc}{url}"
        return None
    if (
        url.startswith(("http://", "https://"))
        and url.isascii()
        and url.partition("://")[2][:1] not in ("/", "")  # a host
        and not _NOT_PLAIN.search(url)
    ):
        urlsplit(base)  # raises for a base urljoin would refuse
        return url
    return None

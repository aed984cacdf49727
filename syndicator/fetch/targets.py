"""The URLs the fetcher requests, parsed once a hop: most arrive in the very form httpx would
give them (a plain ASCII host, a path and query with nothing to encode or resolve), and one
regular expression takes those apart; any other is parsed by httpx, as before.

Either way a :class:`Target` says the same: the URL's text as httpx normalizes it, its scheme,
host and port (None for the scheme's default); ``url`` is the ``httpx.URL`` where one is
needed (a redirect to resolve, robots.txt's address, the httpx wire). A test holds the regular
expression to httpx's own reading of every URL it takes.
"""

from __future__ import annotations

import re

from syndicator.fetch.lib import httpx

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_ESCAPED = r"%[0-9A-Fa-f]{2}"
_PATH_CHAR = rf"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|{_ESCAPED})"
# Scheme; host: a name whose last label starts with a letter, or a dotted IPv4 address; a port
# that is not written with a leading zero; a path of segments none of which is "." or ".."
# (httpx would resolve them); a query of characters httpx leaves as they are. No user name,
# no fragment, nothing outside ASCII, no IDNA label (httpx.URL.host decodes one): those take
# httpx's parser.
PLAIN = re.compile(
    r"(https?)://"
    rf"((?:{_LABEL}\.)*[a-z](?:[a-z0-9-]{{0,61}}[a-z0-9])?|(?:{_OCTET}\.){{3}}{_OCTET})"
    r"(?::([1-9][0-9]{0,4}))?"
    rf"((?:/(?!\.\.?(?:/|\?|$)){_PATH_CHAR}*)+)"
    rf"(\?(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|{_ESCAPED})*)?"
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


class Target:
    """A URL about to be requested: its normalized text, scheme, host and port."""

    __slots__ = ("_url", "host", "port", "scheme", "text")

    def __init__(
        self, text: str, scheme: str, host: str, port: int | None, url: httpx.URL | None = None
    ) -> None:
        self.text, self.scheme, self.host, self.port = text, scheme, host, port
        self._url = url

    @classmethod
    def parse(cls, text: str) -> Target:
        """The target ``text`` names; raises ``httpx.InvalidURL`` as httpx.URL would."""
        match = PLAIN.fullmatch(text)
        if match is not None and "xn--" not in match[2]:  # httpx shows such a host decoded
            scheme, host, port = match[1], match[2], match[3]
            number = int(port) if port else None
            if number != _DEFAULT_PORTS[scheme]:
                return cls(text, scheme, host, number)
        url = httpx.URL(text)
        return cls(str(url), url.scheme, url.host, url.port, url)

    @property
    def url(self) -> httpx.URL:
        if self._url is None:
            self._url = httpx.URL(self.text)
        return self._url

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Target({self.text!r})"

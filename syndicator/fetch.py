"""Fetching documents: HTTP(S) with httpx, and local files for bundled samples and drop folders.

This module is the only one that talks to the network. It turns every failure into a
:class:`~syndicator.errors.FetchError` with a short reason. It does not parse what it fetches.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from syndicator import __version__
from syndicator.errors import FetchError

DEFAULT_USER_AGENT = f"syndicator/{__version__}"
MAX_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Response:
    url: str
    status: int
    body: bytes
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None


def local_path(url: str) -> Path | None:
    """The file a ``file://`` URL or a plain path names; None for network URLs."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if parts.scheme in ("",) or (len(parts.scheme) == 1 and url[1:3] in (":\\", ":/")):
        return Path(url)
    return None


def read_local(url: str, max_bytes: int = MAX_BYTES) -> Response:
    path = local_path(url)
    assert path is not None
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise FetchError(url, f"file larger than {max_bytes} bytes")
        body = path.read_bytes()
    except FileNotFoundError as e:
        raise FetchError(url, "no such file") from e
    except IsADirectoryError as e:
        raise FetchError(url, "is a folder, not a file") from e
    except OSError as e:
        raise FetchError(url, f"cannot read: {e.strerror}") from e
    return Response(url=path.resolve().as_uri(), status=200, body=body)


def fetch_once(
    url: str,
    *,
    user_agent: str = DEFAULT_USER_AGENT,
    timeout: float = 20.0,
    max_bytes: int = MAX_BYTES,
) -> Response:
    """One plain GET (or file read), for ``syndicator extract``: no validators, no retries."""
    if local_path(url) is not None:
        return read_local(url, max_bytes)
    try:
        with (
            httpx.Client(
                follow_redirects=True,
                max_redirects=5,
                timeout=timeout,
                headers={"User-Agent": user_agent},
            ) as client,
            client.stream("GET", url) as response,
        ):
            chunks = []
            total = 0
            for chunk in response.iter_bytes():
                total += len(chunk)
                if total > max_bytes:
                    raise FetchError(url, f"body larger than {max_bytes} bytes")
                chunks.append(chunk)
            if response.status_code >= 400:
                raise FetchError(url, f"HTTP {response.status_code}", status=response.status_code)
            return Response(
                url=str(response.url),
                status=response.status_code,
                body=b"".join(chunks),
                content_type=response.headers.get("content-type"),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            )
    except httpx.TooManyRedirects as e:
        raise FetchError(url, "too many redirects") from e
    except httpx.TimeoutException as e:
        raise FetchError(url, "timed out") from e
    except httpx.HTTPError as e:
        raise FetchError(url, f"{type(e).__name__}: {e}") from e

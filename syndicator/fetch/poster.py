"""Outgoing notifications: webhook POSTs, WebSub pings, distributions and intent
verification, as short requests with a timeout and a cap on what is read back. A target that
resolves to a private address is refused unless allowed
(:func:`~syndicator.fetch.guard.check_target`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from syndicator.errors import FetchError
from syndicator.fetch.guard import check_target
from syndicator.fetch.lib import httpx
from syndicator.fetch.records import DEFAULT_USER_AGENT
from syndicator.fetch.transports import tls_context


@dataclass(frozen=True, slots=True)
class Answer:
    """What a notification target answered."""

    status: int
    body: bytes = field(repr=False)
    elapsed: float = 0.0


class Poster:
    """Short outgoing requests to notification targets, with a timeout and a size cap on what
    is read back. Private addresses are refused unless ``allow_private`` (see check_target)."""

    def __init__(
        self,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        timeout: float = 10.0,
        allow_private: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.allow_private = allow_private
        self._transport = transport
        self._timeout = timeout
        self._user_agent = user_agent
        self._opened: httpx.AsyncClient | None = None

    @property
    def _client(self) -> httpx.AsyncClient:
        """The client, made on the first request: a ``once`` with nothing to deliver makes
        none. Its TLS context is the fetcher's (the same roots, loaded once a process)."""
        if self._opened is None:
            self._opened = httpx.AsyncClient(
                transport=self._transport,
                verify=tls_context(),
                timeout=httpx.Timeout(self._timeout),
                headers={"User-Agent": self._user_agent},
                follow_redirects=False,
            )
        return self._opened

    async def aclose(self) -> None:
        if self._opened is not None:
            await self._opened.aclose()

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        return await self._send("POST", url, content=body, headers=headers)

    async def get(self, url: str, params: dict[str, str]) -> Answer:
        return await self._send("GET", url, params=params)

    async def _send(self, method: str, url: str, **kwargs: object) -> Answer:
        await check_target(url, allow_private=self.allow_private)
        started = time.monotonic()
        try:
            async with self._client.stream(method, url, **kwargs) as response:  # type: ignore[arg-type]
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > 65536:
                        break
                return Answer(
                    response.status_code, b"".join(chunks)[:65536], time.monotonic() - started
                )
        except httpx.TimeoutException as e:
            raise FetchError(url, "timed out") from e
        except httpx.HTTPError as e:
            raise FetchError(url, f"connection failed: {type(e).__name__}") from e
        except (httpx.InvalidURL, httpx.StreamError, ValueError, UnicodeError) as e:
            raise FetchError(url, f"invalid request ({type(e).__name__})") from e

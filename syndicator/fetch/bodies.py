"""Response bodies: read while streaming, decompressed here (gzip, deflate) and bounded after
decompression, so a gzip bomb costs no more memory than ``max_bytes``; drained or closed when
they are not wanted."""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

from syndicator.errors import FetchError

if TYPE_CHECKING:
    from syndicator.fetch.wire import Reply

DRAIN_BYTES = 64 * 1024


async def drain(response: Reply) -> None:
    """Read a small unwanted body (a 304's, a redirect's, an error page) so that the connection
    can be reused; a large one is left for closing the connection to cut short."""
    received = 0
    try:
        async for raw in response.aiter_raw():
            received += len(raw)
            if received > DRAIN_BYTES:
                return
    except Exception:  # the status is all we needed
        return


async def close_response(response: Reply) -> None:
    try:
        await response.aclose()
    except Exception:  # closing a broken connection: nothing left to save
        return


class Decoder:
    """Streaming gzip/deflate decoding that never produces more than ``limit`` bytes in all."""

    def __init__(self, url: str, encoding: str, limit: int) -> None:
        self.url, self.encoding, self.limit = url, encoding, limit
        self.produced = 0
        self.fed = False
        self.pending = b""  # deflate: the first bytes, until we know zlib from raw deflate
        self.inflater: zlib._Decompress | None = None
        if encoding == "gzip":
            self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> bytes:
        self.fed = self.fed or bool(data)
        if self.inflater is None:
            self.pending += data
            if len(self.pending) < 2:
                return b""
            cmf, flg = self.pending[0], self.pending[1]
            zlib_header = cmf & 0x0F == 8 and (cmf << 8 | flg) % 31 == 0
            self.inflater = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
            data, self.pending = self.pending, b""
        out: list[bytes] = []
        while data:
            inflater = self.inflater
            try:
                chunk = inflater.decompress(data, self.limit - self.produced + 1)
            except zlib.error as e:
                raise FetchError(self.url, f"bad {self.encoding} body") from e
            self._count(chunk)
            out.append(chunk)
            data = inflater.unconsumed_tail
            if inflater.eof:
                data = inflater.unused_data
                if not data.strip(b"\0") or self.encoding != "gzip":
                    break  # trailing padding, or bytes after a deflate stream: ignored
                self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # next gzip member
        return b"".join(out)

    def finish(self) -> bytes:
        if not self.fed:  # no body at all (a HEAD-like answer): nothing to decode
            return b""
        if self.inflater is None:
            if self.pending:
                raise FetchError(self.url, f"bad {self.encoding} body")
            return b""
        try:
            tail = self.inflater.flush()
        except zlib.error as e:
            raise FetchError(self.url, f"bad {self.encoding} body") from e
        self._count(tail)
        if not self.inflater.eof:
            raise FetchError(self.url, f"truncated {self.encoding} body")
        return tail

    def _count(self, chunk: bytes) -> None:
        self.produced += len(chunk)
        if self.produced > self.limit:
            raise FetchError(self.url, f"decompressed body larger than {self.limit} bytes")


def decoder_for(url: str, header: str | None, limit: int) -> Decoder | None:
    codings = [c.strip().lower() for c in (header or "").split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if not codings:
        return None
    if len(codings) > 1:
        raise FetchError(url, f"unsupported content encoding {header!r}")
    coding = {"x-gzip": "gzip"}.get(codings[0], codings[0])
    if coding not in ("gzip", "deflate"):
        raise FetchError(url, f"unsupported content encoding {coding!r}")
    return Decoder(url, coding, limit)

"""The floor of the polling benchmarks: a bare aiohttp session asking URLs with validators,
``concurrency`` at a time, nothing else (no limits per host, no robots.txt, no store).

    python bench/aiohttp_floor.py BASE_URL --sources 1000 [--concurrency 50]

Run as a process of its own (interpreter start-up and ``import aiohttp`` included), it is the
floor of a whole ``syndicator once``, measured the same way: ``bench/once_304.py`` runs both.
:func:`aiohttp_pass` is the same client in process (``bench/fetch_304.py``). It imports only
aiohttp, so that its start-up is the client's and nothing more.
"""

from __future__ import annotations

import argparse
import asyncio

ETAG = '"v1"'


async def aiohttp_pass(urls: list[str], concurrency: int) -> None:
    import aiohttp

    semaphore = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(url: str) -> int:
            async with semaphore, session.get(url, headers={"If-None-Match": ETAG}) as response:
                await response.read()
                return response.status

        statuses = await asyncio.gather(*(one(u) for u in urls))
    if any(s != 304 for s in statuses):
        raise RuntimeError(f"expected 304 everywhere, got {sorted(set(statuses))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base")
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    urls = [f"{args.base}/s/{i}" for i in range(args.sources)]
    asyncio.run(aiohttp_pass(urls, args.concurrency))


if __name__ == "__main__":
    main()

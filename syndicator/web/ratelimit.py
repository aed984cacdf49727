"""The rate limit of the write endpoints (``POST /api/…`` and ``POST /hub``): a token bucket per
client address, in bounded memory (``[service] rate_limit`` and ``rate_burst``).

It counts and answers how long to wait; the router turns a wait into 429 with Retry-After.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

MAX_CLIENTS = 10_000  # client addresses the rate limiter keeps a bucket for


class RateLimiter:
    """A token bucket per client: ``burst`` requests at once, then ``rate`` per second.

    Memory is bounded: buckets are kept least recently used first; a bucket idle for long enough
    to be full again is forgotten (a new one would be the same), and past ``max_clients`` the
    least recently used is dropped. Each call does a constant amount of work on average."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1 or max_clients < 1:
            raise ValueError("rate, burst and max_clients must be positive")
        self.rate, self.burst, self.max_clients = rate, burst, max_clients
        self.clock = clock
        self._refill = burst / rate  # seconds in which an empty bucket fills up
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, when

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, client: str) -> float:
        """Spend one of the client's tokens: 0.0 when it had one, else the seconds until it
        will (and nothing is spent)."""
        now = self.clock()
        buckets = self._buckets
        while buckets:  # forget the idle: their buckets are full again
            oldest, (_, when) = next(iter(buckets.items()))
            if now - when < self._refill:
                break
            del buckets[oldest]
        bucket = buckets.pop(client, None)
        if bucket is None:
            tokens = float(self.burst)
        else:
            tokens = min(float(self.burst), bucket[0] + (now - bucket[1]) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        buckets[client] = (tokens, now)
        if len(buckets) > self.max_clients:
            buckets.popitem(last=False)
        return wait

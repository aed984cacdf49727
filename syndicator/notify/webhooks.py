"""Signed webhooks (DESIGN.md, "Change notifications"): POST the event's JSON body with
``X-Syndicator-Event``, ``X-Syndicator-Delivery`` (the event id, the same on every retry),
``X-Syndicator-Timestamp`` and ``X-Syndicator-Signature-256: sha256=HEX``, the HMAC-SHA256 of
``timestamp + "." + body`` under the target's secret. A 2xx answer is a delivery.
It does not decide what to send or when (see the dispatcher).
"""

from __future__ import annotations

import hashlib
import hmac

from syndicator.errors import NotifyError
from syndicator.fetch import Poster


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(
        secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256
    ).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute the signature and compare in constant time."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def headers(
    event_type: str, event_id: str, body: bytes, secret: str | None, now: float
) -> dict[str, str]:
    timestamp = str(int(now))
    out = {
        "Content-Type": "application/json",
        "X-Syndicator-Event": event_type,
        "X-Syndicator-Delivery": event_id,
        "X-Syndicator-Timestamp": timestamp,
    }
    if secret:
        out["X-Syndicator-Signature-256"] = signature(secret, timestamp, body)
    return out


async def send(
    poster: Poster,
    url: str,
    event_type: str,
    event_id: str,
    body: bytes,
    secret: str | None,
    now: float,
) -> None:
    answer = await poster.post(url, body, headers(event_type, event_id, body, secret, now))
    if not 200 <= answer.status < 300:
        raise NotifyError(f"{url} answered HTTP {answer.status}")

"""Alerts through apprise (chat, e-mail, push…): source health changes for ops and, if a target
asks for them, article events for editors. The apprise URLs come from the environment variable
the target names (``urls_env``). It does not decide what to send (see the dispatcher).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from syndicator.errors import NotifyError


def message(event: dict[str, Any]) -> tuple[str, str]:
    """A short title and body for an event, in plain text."""
    kind = event.get("type", "")
    if kind.startswith("source."):
        source = event.get("source") or {}
        state = {
            "source.failing": "is failing",
            "source.recovered": "has recovered",
            "source.stale": "is stale",
        }.get(kind, kind)
        title = f"syndicator: source {source.get('id')} {state}"
        lines = [str(source.get("reason") or "")]
        if source.get("last_error"):
            lines.append(f"last error: {source['last_error']}")
        if source.get("failures"):
            lines.append(f"failures in a row: {source['failures']}")
        lines.append(str(source.get("url") or ""))
        return title, "\n".join(line for line in lines if line)
    if kind.startswith("article."):
        article = event.get("article") or {}
        verb = {
            "article.created": "new",
            "article.updated": "updated",
            "article.removed": "removed",
        }.get(kind, kind)
        regions = ", ".join(event.get("regions") or [])
        title = f"syndicator: {verb} in {regions or 'no region'}: {article.get('title', '')}"
        return title, str(article.get("url") or "")
    if kind == "feed.updated":
        feed = event.get("feed") or {}
        changes = event.get("changes") or {}
        return (
            f"syndicator: {feed.get('region')} updated",
            f"{len(changes.get('created', []))} new, {len(changes.get('updated', []))} "
            f"updated: {feed.get('url', '')}",
        )
    return f"syndicator: {kind}", json.dumps(event, ensure_ascii=False)[:1000]


async def send(urls: tuple[str, ...], event: dict[str, Any]) -> None:
    import apprise

    title, body = message(event)

    def notify() -> bool:
        sender = apprise.Apprise()
        for url in urls:
            sender.add(url)
        return bool(sender.notify(title=title, body=body))

    if not await asyncio.to_thread(notify):
        raise NotifyError("apprise could not deliver to any of its URLs")

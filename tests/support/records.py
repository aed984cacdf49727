"""Builders of the records tests need: an article as the pipeline stores it (``article``),
an ARTICLE object as the API takes it (``article_object``), a config with a webhook, a
dispatcher over a store, and waiting until it has delivered everything."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from syndicator import config, fingerprint
from syndicator.config import Config, Publish, Region, ServiceSettings, Source
from syndicator.fetch import Poster
from syndicator.model import Article, RegionMatch
from syndicator.notify import Dispatcher
from syndicator.store import Store

NOW = datetime(2026, 2, 10, 12, tzinfo=UTC)
SECRET = "s3cret-for-tests"


def load_config(
    tmp_path: Path,
    extra: str = "",
    url: str = "http://127.0.0.1:9/hook",
    allow_private: bool = True,
) -> config.Config:
    text = f"""
[service]
base_url = "http://127.0.0.1:8080"
feeds_dir = "{tmp_path}/feeds"

[publish]
hubs = []

[security]
allow_private_targets = {"true" if allow_private else "false"}

[[region]]
id = "europe"
title = "Europe"

[[region]]
id = "asia"
title = "Asia"

[[notify]]
id = "downstream"
kind = "webhook"
url = "{url}"
secret_env = "HOOK_SECRET"
{extra}
"""
    path = tmp_path / "syndicator.toml"
    path.write_text(text, encoding="utf-8")
    return config.load(path, environ={"HOOK_SECRET": SECRET})


def article(n: int, region: str = "europe") -> Article:
    paragraphs = (f"paragraph {n} " * 20,)
    key = f"https://n.example/{n}"
    return Article(
        key=key,
        url=key,
        title=f"story {n}",
        paragraphs=paragraphs,
        content_html=f"<p>{paragraphs[0]}</p>",
        content_hash=fingerprint.content_hash(f"story {n}", paragraphs),
        similarity=fingerprint.signature(f"story {n}", paragraphs),
        published=NOW,
        regions=(RegionMatch(region, "section", region),),
    )


async def deliver_all(dispatcher: Dispatcher, store: Store, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await dispatcher.deliver_due()
        if store.pending_deliveries() == 0 and store.outbox_cursor() == max(
            (e["seq"] for e in store.events()), default=0
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("deliveries still pending")


def dispatcher_for(cfg: config.Config, store: Store, poster: Poster) -> Dispatcher:
    """A dispatcher whose retries wait 20 ms, 40 ms, 80 ms … (±25 %), not the service's 2 s,
    4 s, 8 s …: the tests wait for the retries, not for the backoff."""
    return Dispatcher(
        lambda: cfg,
        store,
        poster,
        feeds_dir=lambda: Path(cfg.service.feeds_dir),
        base_delay=0.02,
        rng=random.Random(7),
    )


def article_object(n: str, **extra: Any) -> dict[str, Any]:
    return {
        "url": f"https://push.example/world/{n}",
        "title": f"Pushed story {n}",
        "section": "World",
        "paragraphs": [f"A pushed paragraph about story {n}, long enough to be a body."],
        **extra,
    }


PUBLISH_BASE = "http://feeds.test:8080"  # the base URL of make_config's service


def make_config(tmp_path: Path, **publish: object) -> Config:
    """A config for the publisher's tests: two regions (one Arabic), two sources, small pages."""
    options: dict[str, object] = {
        "archive_page_size": 2,
        "entries_per_feed": 10,
        "title": "Test feeds",
    }
    options.update(publish)
    return Config(
        service=ServiceSettings(base_url=PUBLISH_BASE, feeds_dir=tmp_path / "feeds"),
        publish=Publish(**options),  # type: ignore[arg-type]
        regions=(
            Region("europe", "أوروبا", language="ar", description="أخبار أوروبا"),
            Region("world", "World", language="en"),
        ),
        sources=(
            Source("example", "rss", "https://news.example/feed.xml", title="Example News"),
            Source("local", "text", "fixtures/local.txt"),
        ),
    )

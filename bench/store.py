"""Benchmark: storing 100,000 articles with their dedup look-ups.

    .venv/bin/python bench/store.py [--articles 100000] [--batch 100] [--database URL]

Synthetic articles (distinct texts of ~12 paragraphs, each with a region) go through
``Store.apply`` in transactions of ``--batch`` articles, as source passes would: every article is
looked up by key, by content hash and by its near-duplicate bands before it is inserted. Then the
same articles are applied again (every one found unchanged), and then as copies under new URLs
(every one a duplicate). Prints rows per second for each phase. Default store: a SQLite file in a
temporary folder; pass ``--database postgresql+psycopg://…`` for PostgreSQL.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from syndicator import fingerprint
from syndicator.model import Article, RegionMatch
from syndicator.store import Store

NOW = datetime(2026, 2, 10, 12, tzinfo=UTC)


def article(n: int) -> Article:
    paragraphs = tuple(" ".join(f"كلمة{n}x{i}x{j}" for j in range(30)) + "." for i in range(12))
    title = f"خبر رقم {n}"
    key = f"https://news.example/{n // 1000}/story-{n}.html"
    return Article(
        key=key,
        url=key,
        title=title,
        paragraphs=paragraphs,
        content_html="".join(f"<p>{p}</p>" for p in paragraphs),
        content_hash=fingerprint.content_hash(title, paragraphs),
        similarity=fingerprint.signature(title, paragraphs),
        published=NOW,
        regions=(RegionMatch(f"r{n % 10}", "section", "x"),),
    )


def timed(store: Store, items: list[Article], batch: int, expect: str) -> float:
    started = time.perf_counter()
    for i in range(0, len(items), batch):
        result = store.apply("bench", items[i : i + batch], now=NOW)
        assert all(c.change == expect for c in result.changes), expect
    return len(items) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'bench.db'}"
        store = Store(url, host="bench.example")
        started = time.perf_counter()
        items = [article(n) for n in range(args.articles)]
        prepared = time.perf_counter() - started
        created = timed(store, items, args.batch, "created")
        unchanged = timed(store, items, args.batch, "unchanged")
        copies = [
            replace(a, key=a.key.replace("news.", "copies."), url=a.url.replace("news.", "copies."))
            for a in items
        ]
        duplicate = timed(store, copies, args.batch, "duplicate")
        store.close()
    print(
        f"{args.articles} articles, {args.batch} per transaction ({url.split(':')[0]}); "
        f"building them took {prepared:.1f} s"
    )
    print(f"  created:   {created:8.0f} rows/s")
    print(f"  unchanged: {unchanged:8.0f} rows/s")
    print(f"  duplicate: {duplicate:8.0f} rows/s")


if __name__ == "__main__":
    main()

"""Notifications end to end: the real `syndicator run`, the fixture site as the source, and
`receiver.py` as webhook target and WebSub subscriber (through our built-in hub).

Phase base: one `article.created` per story (the AMP copy and the partner's reprint give none)
and one `feed.updated` per changed region. Phase update: exactly the gold's `article.updated` and
`article.created`, and a WebSub distribution of the europe feed to its subscriber and none of
asia's. Every signature verifies; the receiver fails its first two POSTs and still gets every
event, with the same delivery id on the retries.
"""

from __future__ import annotations

import functools
import json
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.service import Server, wait_for
from support.sites import Receiver, run_receiver

from syndicator.notify.webhooks import verify
from syndicator.notify.websub import hub_signature

pytestmark = pytest.mark.e2e  # end to end: the service or its commands, as processes

SECRET = "downstream-secret"
SUB_SECRET = "subscriber-secret"


def fixture_toml(fixtures_dir: Path, base: str) -> str:
    """The shared fixture config's regions and sources, every source polled every 2 s."""
    text = (fixtures_dir / "config" / "syndicator.toml").read_text(encoding="utf-8")
    text = text.replace("{{BASE}}", base)
    body = text[text.index("[[region]]") :]
    return (
        body.replace('every = "10m"', 'every = "2s"')
        .replace('every = "5m"', 'every = "2s"')
        .replace('every = "15m"', 'every = "2s"')
    )


wait = functools.partial(wait_for, seconds=40, interval=0.2)


def events_of(receiver: Receiver) -> list[dict[str, Any]]:
    """Webhook events delivered (answered 204), each signature checked."""
    out = []
    for post in receiver.posts():
        if post["path"] != "/hook":
            continue
        headers, body = post["headers"], post["body"].encode()
        assert verify(
            SECRET, headers["X-Syndicator-Timestamp"], body, headers["X-Syndicator-Signature-256"]
        )
        event = json.loads(body)
        assert headers["X-Syndicator-Delivery"] == event["id"]
        if post["answered"] == 204:
            out.append(event)
    return out


def subscribe(server: Server, topic: str, callback: str) -> None:
    form = urllib.parse.urlencode(
        {
            "hub.mode": "subscribe",
            "hub.topic": topic,
            "hub.callback": callback,
            "hub.secret": SUB_SECRET,
        }
    )
    answer = server.post("/hub", form, token=None, content_type="application/x-www-form-urlencoded")
    assert answer.status == 202, answer.text


def test_notifications_through_both_phases(
    fixtures_dir: Path,
    private_site: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    server_factory: Callable[..., Server],
) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    gold = json.loads(
        (fixtures_dir / "expected.json")
        .read_text(encoding="utf-8")
        .replace("{{BASE}}", private_site.base)
    )
    with run_receiver(tmp_path / "receiver", fail_first=2) as receiver:
        server = server_factory()
        (server.config / "syndicator.toml").write_text(
            server.service_toml(debounce=3.0)
            + "\n[security]\nallow_private_targets = true\n\n"
            + f'[[notify]]\nid = "downstream"\nkind = "webhook"\nurl = "{receiver.base}/hook"\n'
            + 'secret_env = "HOOK_SECRET"\n'
            + 'events = ["article.created", "article.updated", "feed.updated"]\n\n'
            + fixture_toml(fixtures_dir, private_site.base),
            encoding="utf-8",
        )
        server.start()

        # Phase base.
        stories = {a["url"] for a in gold["articles"].values()} | {
            b["url"] for b in gold["partner_only"]
        }

        def base_done() -> bool:
            events = events_of(receiver)
            created = {e["article"]["url"] for e in events if e["type"] == "article.created"}
            feeds = {e["feed"]["region"] for e in events if e["type"] == "feed.updated"}
            return created == stories and feeds == {"europe", "asia"}

        wait(base_done, "phase base notified")
        time.sleep(4)  # nothing more arrives
        base = events_of(receiver)
        created = [e["article"]["url"] for e in base if e["type"] == "article.created"]
        assert sorted(created) == sorted(stories)  # one per story: no AMP copy, no reprint
        assert sorted(e["feed"]["region"] for e in base if e["type"] == "feed.updated") == [
            "asia",
            "europe",
        ]
        # The receiver failed the first two POSTs: the same delivery id came again.
        posts = [p for p in receiver.posts() if p["path"] == "/hook"]
        assert [p["answered"] for p in posts[:3]] == [500, 500, 204]
        ids = [p["headers"]["X-Syndicator-Delivery"] for p in posts[:3]]
        assert ids[0] == ids[1] == ids[2]
        assert len({e["id"] for e in base}) == len(base)  # each event delivered once here

        # Subscribe to both regions through the built-in hub (intent verified by the receiver).
        europe, asia = (f"{server.base}/feeds/{r}.atom" for r in ("europe", "asia"))
        subscribe(server, europe, f"{receiver.base}/cb/europe")
        subscribe(server, asia, f"{receiver.base}/cb/asia")
        wait(
            lambda: len([r for r in receiver.received() if r["kind"] == "verify"]) == 2,
            "both subscriptions verified",
        )

        # Phase update.
        private_site.set_phase("update")
        update = gold["update_phase"]

        def update_done() -> list[dict[str, Any]]:
            events = events_of(receiver)[len(base) :]
            types = [e["type"] for e in events]
            return events if "feed.updated" in types and "article.updated" in types else []

        wait(update_done, "phase update notified")
        time.sleep(4)
        later = events_of(receiver)[len(base) :]
        articles = {e["type"]: [] for e in later if e["type"].startswith("article.")}
        for e in later:
            if e["type"].startswith("article."):
                articles[e["type"]].append(e["article"]["url"])
        assert articles == {
            "article.updated": update["updated"],
            "article.created": update["created"],
        }
        updated = next(e for e in later if e["type"] == "article.updated")
        assert updated["changes"]["previous_hash"].startswith("v1:")
        assert "+" in updated["changes"]["diff"]
        feeds = [e for e in later if e["type"] == "feed.updated"]
        assert [f["feed"]["region"] for f in feeds] == update["regions_changed"]
        assert feeds[0]["changes"]["created"] and feeds[0]["changes"]["updated"]

        distributions = [p for p in receiver.posts() if p["path"].startswith("/cb/")]
        assert [d["path"] for d in distributions] == ["/cb/europe"]
        d = distributions[0]
        assert d["headers"]["X-Hub-Signature"] == hub_signature(SUB_SECRET, d["body"].encode())
        assert f'<{europe}>; rel="self"' in d["headers"]["Link"]
        assert update["created"][0] in d["body"]

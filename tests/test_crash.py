"""Crash safety: ``kill -9`` at random moments of ``syndicator once`` and ``syndicator run``
against the fixture site, on the same store, then a clean finishing run.

After every kill: the store passes ``Store.integrity_check`` (SQLite's own check and ours), every
published file is whole (XML well-formed, JSON valid, HTML complete), no feed lists a story twice,
and what a kill leaves in the feeds folder is at most hidden ``.tmp`` files, never served and
removed by the next run. While ``run`` lives, its feeds are fetched over HTTP and each answer
must parse. After the finishing ``once``: the feeds hold exactly the gold's stories, each once,
with the entry ids of a run that was never killed; the store holds what that run stored; and
the webhook target (``receiver.py``) got every event of the outbox it subscribes to, including
every ``article.created``, at least once, and nothing else.

Trials are cheap: each command runs in a process forked from one that imported syndicator
once, and calls ``syndicator.cli.main`` — the console script's own entry point — so the random
kill falls in the command's own work, not in Python's start-up (1.4 s of imports against
about a second of work). Kill delays are uniform over how long the command works on an empty
store (``once``: until it exits; ``run``: until its feeds hold the site's stories), measured
first by runs that are never killed. ``SYNDICATOR_CRASH_SEED`` replays a test's random choices;
the seed and the figures are printed (``pytest -s``) and recorded in docs/RELIABILITY.md.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from support.gold import expected_regions, gold_of
from support.service import ForkServer, free_port, own_env
from support.sites import Receiver

from syndicator.store import Store
from syndicator.web import FeedCache

pytestmark = pytest.mark.e2e  # end to end: the service or its commands, as processes

KILLS = 50  # kill -9 trials at least, across once and run
TRIALS_PER_STORE = 5  # kills on one store before a clean finishing run checks it
MAX_TRIALS = 90
BUDGET_SECONDS = 300.0  # a backstop only: about a minute on an idle 2-CPU machine
REGIONS = ("europe", "asia", "all")
WANTED = ("article.created", "article.updated", "feed.updated")  # what the webhook gets
FEED_FILES = ("all.atom", "europe.rss", "asia.json", "europe.atom", "all.json", "index.opml")

# --------------------------------------------------------------------------------------------
# A deployment: the fixture config with one-second schedules and a webhook


class Deployment:
    """The fixture config in a folder of its own (store, feeds), polling every second, with a
    port for ``run`` and, given ``hook``, a webhook to the receiver."""

    def __init__(
        self, fixtures_dir: Path, base: str, folder: Path, hook: str | None = None
    ) -> None:
        self.folder = folder
        self.config = folder / "config"
        self.config.mkdir(parents=True)
        text = (fixtures_dir / "config" / "syndicator.toml").read_text(encoding="utf-8")
        text = (
            text.replace("{{BASE}}", base)
            .replace("{{SELF}}", "http://127.0.0.1:8080")
            .replace("{{DIR}}", str(folder))
        )
        text = re.sub(r'^every = "[^"]+"$', 'every = "1s"', text, flags=re.M)
        (self.config / "00-fixture.toml").write_text(text, encoding="utf-8")
        self.port = free_port()
        extra = (
            f'[service]\nlisten = "127.0.0.1:{self.port}"\n\n[publish]\ndebounce = 0.1\n\n'
            "[security]\nallow_private_targets = true\n"
        )
        if hook:
            extra += (
                f'\n[[notify]]\nid = "downstream"\nkind = "webhook"\nurl = "{hook}"\n'
                f"events = {json.dumps(list(WANTED))}\n"
            )
        (self.config / "50-crash.toml").write_text(extra, encoding="utf-8")
        self.feeds = folder / "feeds"
        self.database = f"sqlite:///{folder}/syndicator.db"

    def argv(self, command: str) -> list[str]:
        return ["--config", str(self.config), command]

    def store(self) -> Store:
        return Store(self.database)

    def temporary(self) -> list[Path]:
        if not self.feeds.is_dir():
            return []
        return sorted(p for p in self.feeds.rglob("*") if p.is_file() and p.name.startswith("."))

    def published(self) -> list[Path]:
        if not self.feeds.is_dir():
            return []
        return sorted(
            p for p in self.feeds.rglob("*") if p.is_file() and not p.name.startswith(".")
        )

    def entries(self, region: str) -> list[tuple[str, str]]:
        """(link, id) of each entry of the region's Atom feed, in order."""
        return atom_entries((self.feeds / f"{region}.atom").read_bytes())


ATOM = "{http://www.w3.org/2005/Atom}"


def atom_entries(body: bytes) -> list[tuple[str, str]]:
    root = etree.fromstring(body)
    out = []
    for entry in root.iter(f"{ATOM}entry"):
        link = entry.find(f"{ATOM}link[@rel='alternate']")
        out.append((link.get("href") if link is not None else "", entry.findtext(f"{ATOM}id")))
    return out


def whole(path: Path, body: bytes) -> str | None:
    """Why a published file is not whole, or None when it is."""
    try:
        if path.suffix in (".atom", ".rss", ".opml"):
            etree.fromstring(body)
            if path.suffix == ".atom":
                entries = atom_entries(body)
                links, ids = [e[0] for e in entries], [e[1] for e in entries]
                if len(set(links)) != len(links) or len(set(ids)) != len(ids):
                    return "a story appears twice"
        elif path.suffix == ".json":
            items = json.loads(body)["items"]
            if len({i["id"] for i in items}) != len(items):
                return "a story appears twice"
        elif path.suffix == ".html" and not body.rstrip().endswith(b"</html>"):
            return "cut short"
    except (etree.XMLSyntaxError, ValueError, KeyError) as e:
        return f"does not parse: {e}"
    return None


# --------------------------------------------------------------------------------------------
# Watching what a live `run` serves


@dataclass
class Watch:
    """Fetches feeds from a live service over and over; every answer must parse."""

    port: int
    answers: int = 0
    problems: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        n = 0
        while not self.stop.is_set():
            name = FEED_FILES[n % len(FEED_FILES)]
            n += 1
            try:
                url = f"http://127.0.0.1:{self.port}/feeds/{name}"
                with urllib.request.urlopen(url, timeout=2) as response:
                    body = response.read()
                    status = response.status
            except urllib.error.HTTPError as e:
                self.problems.append(f"{name}: HTTP {e.code}")
                e.close()
                continue
            except (OSError, ValueError, http.client.HTTPException):  # not up yet, or killed
                time.sleep(0.02)
                continue
            self.answers += 1
            why = whole(Path(name), body) if status == 200 else f"HTTP {status}"
            if why:
                self.problems.append(f"served {name}: {why}")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


# --------------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the trials did, for the summary line."""

    trials: Counter[str] = field(default_factory=Counter)
    on_store: int = 0  # trials on the current store
    kills: Counter[str] = field(default_factory=Counter)
    finished: Counter[str] = field(default_factory=Counter)  # ended before the kill came
    temporary_left: int = 0
    stores: int = 0
    served: int = 0
    redelivered: int = 0
    delays: list[float] = field(default_factory=list)


def check_after_kill(deployment: Deployment, tally: Tally, what: str) -> None:
    """The store is sound, every published file whole, and nothing else but hidden .tmp."""
    store = deployment.store()
    try:
        assert store.integrity_check() == [], what
    finally:
        store.close()
    for path in deployment.published():
        why = whole(path, path.read_bytes())
        assert why is None, f"{what}: {path.name} {why}"
    left = deployment.temporary()
    for path in left:
        assert path.name.endswith(".tmp"), f"{what}: {path}"
    tally.temporary_left += len(left)


def test_kill_9_loses_nothing(
    fixtures_dir: Path, private_site: Any, receiver: Receiver, tmp_path: Path
) -> None:
    seed = int(os.environ.get("SYNDICATOR_CRASH_SEED") or time.time_ns() % 1_000_000)
    rng = random.Random(seed)
    base = private_site.base
    gold = expected_regions(gold_of(fixtures_dir, base))
    tally = Tally()
    started = time.monotonic()
    server = ForkServer(tmp_path)
    try:
        # A run never killed: the reference store and ids, and how long each command works.
        reference = Deployment(fixtures_dir, base, tmp_path / "reference")
        command = server.start(reference.argv("once"))
        assert command.wait(60) == 0, command.output()
        once_seconds = time.monotonic() - command.started
        expected = {region: reference.entries(region) for region in REGIONS}
        for region in REGIONS:
            assert sorted(link for link, _ in expected[region]) == sorted(gold[region])
        ref_store = reference.store()
        ref_counts = ref_store.counts()
        ref_store.close()
        run_seconds = time_a_run(
            Deployment(fixtures_dir, base, tmp_path / "ref-run"), server, gold["all"]
        )

        deployment: Deployment | None = None
        while sum(tally.kills.values()) < KILLS:
            trials = tally.trials.total()
            assert trials < MAX_TRIALS, f"only {sum(tally.kills.values())} kills in {trials}"
            assert time.monotonic() - started < BUDGET_SECONDS, "out of time"
            if deployment is None or tally.on_store >= TRIALS_PER_STORE:
                if deployment is not None:
                    finish(deployment, server, receiver, expected, ref_counts, tally)
                tally.stores += 1
                tally.on_store = 0
                deployment = Deployment(
                    fixtures_dir,
                    base,
                    tmp_path / f"store-{tally.stores}",
                    f"{receiver.base}/hook/{tally.stores}",
                )
            name = rng.choice(("once", "run"))
            delay = rng.uniform(0, once_seconds if name == "once" else run_seconds)
            tally.trials[name] += 1
            tally.on_store += 1
            tally.delays.append(delay)
            watch = Watch(deployment.port) if name == "run" else None
            try:
                command = server.start(deployment.argv(name))
                code = command.kill_after(delay)
            finally:
                if watch is not None:
                    watch.close()
            if watch is not None:
                assert watch.problems == [], watch.problems
                tally.served += watch.answers
            if code == -signal.SIGKILL:
                tally.kills[name] += 1
            else:  # it ended before the kill came
                assert code == 0, command.output()
                tally.finished[name] += 1
            check_after_kill(deployment, tally, f"{name} killed after {delay:.3f} s")
        assert deployment is not None
        finish(deployment, server, receiver, expected, ref_counts, tally)
    finally:
        server.close()
    kills = sum(tally.kills.values())
    print(
        f"\ncrash: seed {seed}; {tally.trials.total()} trials on {tally.stores} stores: "
        f"{kills} kill -9 (once {tally.kills['once']}, run {tally.kills['run']}), "
        f"{tally.finished.total()} ended before their kill; kill delays 0–"
        f"{max(tally.delays):.2f} s (once works {once_seconds:.2f} s, run publishes the "
        f"gold in {run_seconds:.2f} s); {tally.temporary_left} temporary file(s) "
        f"left by kills, all removed by the next run; {tally.served} feeds served by live "
        f"runs, all whole; {tally.redelivered} event(s) delivered twice, none lost; "
        f"{time.monotonic() - started:.0f} s"
    )


def time_a_run(deployment: Deployment, server: ForkServer, stories: set[str]) -> float:
    """Seconds from the start of ``run`` on an empty store until its feeds hold ``stories``."""
    command = server.start(deployment.argv("run"))
    try:
        while time.monotonic() < command.started + 30:
            try:
                links = {link for link, _ in deployment.entries("all")}
            except (OSError, etree.XMLSyntaxError):
                links = set()
            if links == stories:
                return time.monotonic() - command.started
            time.sleep(0.01)
        pytest.fail(f"run did not publish the stories in 30 s: {command.output()}")
    finally:
        assert command.stop() == 0, command.output()


def finish(
    deployment: Deployment,
    server: ForkServer,
    receiver: Receiver,
    expected: dict[str, list[tuple[str, str]]],
    ref_counts: dict[str, int],
    tally: Tally,
) -> None:
    """A clean finishing ``once`` (another while notifications are pending), then: nothing
    lost, nothing twice, no temporary file left, every wanted event delivered."""
    where = f"store {tally.stores}"
    for _ in range(3):
        command = server.start(deployment.argv("once"))
        assert command.wait(60) == 0, command.output()
        store = deployment.store()
        try:
            pending = store.pending_deliveries()
        finally:
            store.close()
        if not pending:
            break
    assert pending == 0, f"{where}: {pending} notification(s) still pending"
    assert deployment.temporary() == [], f"{where}: temporary files left"
    for region in REGIONS:
        assert sorted(deployment.entries(region)) == sorted(expected[region]), (where, region)
    store = deployment.store()
    try:
        assert store.integrity_check() == [], where
        counts = store.counts()
        events = store.events()
        summary = store.delivery_summary()
    finally:
        store.close()
    del counts["outbox"]  # feed.updated events: one per publish, however many runs there were
    assert counts == {k: v for k, v in ref_counts.items() if k != "outbox"}, where
    created = [e["article"]["url"] for e in events if e["type"] == "article.created"]
    assert sorted(created) == sorted(link for link, _ in expected["all"]), where
    assert all(row["dead"] == 0 for row in summary), summary

    wanted = {e["id"] for e in events if e["type"] in WANTED}
    posts = [p for p in receiver.posts() if p["path"] == f"/hook/{tally.stores}"]
    received = Counter(_header(p, "X-Syndicator-Delivery") for p in posts)
    assert set(received) == wanted, f"{where}: the ids delivered are not the outbox's"
    tally.redelivered += sum(n - 1 for n in received.values())


def _header(post: dict[str, Any], name: str) -> str:
    headers = {k.lower(): v for k, v in post["headers"].items()}
    value: str = headers[name.lower()]
    return value


def test_what_a_killed_writer_leaves_is_never_served_and_is_swept(
    fixtures_dir: Path, private_site: Any, tmp_path: Path
) -> None:
    """A writer killed between creating its temporary file and renaming it leaves a hidden
    ``.NAME.PID.XXXXXXXX.tmp``: the web server never lists it, and the next run removes it
    when its writer is gone (or it is over an hour old), never while its writer lives."""
    deployment = Deployment(fixtures_dir, private_site.base, tmp_path / "deploy")
    env = own_env()

    def once() -> None:
        run = subprocess.run(
            [sys.executable, "-m", "syndicator", *deployment.argv("once")],
            capture_output=True, text=True, timeout=120, check=False, env=env,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr

    once()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=30)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        feeds = deployment.feeds
        half = (feeds / "all.atom").read_bytes()[:100]
        dead_writer = feeds / f".all.atom.{gone.pid}.k1ll3d_9.tmp"
        live_writer = feeds / f".europe.atom.{alive.pid}.wr1t1ng_.tmp"
        old_unnamed = feeds / ".asia.rss.x7y8z9ab.tmp"  # no pid: judged by its age
        young_unnamed = feeds / ".asia.json.c4d5e6fg.tmp"
        for path in (dead_writer, live_writer, old_unnamed, young_unnamed):
            path.write_bytes(half)
        two_hours_ago = time.time() - 7200
        os.utime(old_unnamed, (two_hours_ago, two_hours_ago))

        cache = FeedCache(feeds)
        cache.load()
        assert cache.refresh() == []
        assert [p for p in cache.paths() if p.startswith(".") or p.endswith(".tmp")] == []

        once()
        assert sorted(p.name for p in deployment.temporary()) == sorted(
            [live_writer.name, young_unnamed.name]
        )
    finally:
        alive.kill()
        alive.wait(timeout=10)

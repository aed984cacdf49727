"""The command line as a user meets it: ``once`` on a terminal, ``explain`` by the path a config
names, and what a plain-text dump's entries look like once published. Each runs the real
command (``python -m syndicator``) on a real SQLite file in a temporary folder."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path
from xml.etree import ElementTree

import feedparser
import pytest
from support.commands import run_command, run_on_a_terminal, service_table

from syndicator.demo import SAMPLES_DIR

pytestmark = pytest.mark.e2e  # end to end: the service or its commands, as processes

SAMPLES = SAMPLES_DIR
ATOM = "{http://www.w3.org/2005/Atom}"


def deployment(folder: Path) -> Path:
    """A config reading the sample text dump and one sample feed as local files."""
    (folder / "in").mkdir(parents=True)
    shutil.copy(SAMPLES / "dumps" / "front-page.txt", folder / "in" / "front-page.txt")
    shutil.copy(SAMPLES / "feeds" / "rss1.rdf", folder / "in" / "rss1.rdf")
    config = folder / "syndicator.toml"
    config.write_text(
        service_table(folder)
        + """
[[region]]
id = "world"
title = "العالم"
language = "ar"

[[source]]
id = "dump"
kind = "text"
url = "in/front-page.txt"
regions = ["world"]
language = "ar"

[[source]]
id = "rdf"
kind = "rss"
url = "in/rss1.rdf"
regions = ["world"]
""",
        encoding="utf-8",
    )
    return config


def test_once_on_a_terminal_shows_each_source_once(tmp_path: Path) -> None:
    config = deployment(tmp_path)
    shown = run_on_a_terminal(config, "once")
    for source in ("dump", "rdf"):
        lines = [line for line in shown.splitlines() if f"{source}:" in line]
        assert len(lines) == 1, shown
    assert "[1/2]" in shown and "[2/2]" in shown  # the progress lines are the summary
    # Piped (cron, a log file), every source has its summary line on stdout as before.
    piped = run_command(config, "once")
    assert piped.returncode == 0, piped.stderr
    assert [line.split(":")[0] for line in piped.stdout.splitlines()[:2]] == ["dump", "rdf"]
    assert "[1/2]" not in piped.stdout + piped.stderr


def test_explain_takes_the_path_the_config_names(tmp_path: Path) -> None:
    config = deployment(tmp_path)
    page = tmp_path / "in" / "night-trains.html"
    shutil.copy(SAMPLES / "site" / "article" / "night-trains.html", page)
    pushed = run_command(config, "ingest", "in/night-trains.html", "--json")
    assert pushed.returncode == 0, pushed.stderr
    (result,) = json.loads(pushed.stdout)["results"]
    for ref in ("in/night-trains.html", "./in/night-trains.html", str(page), page.as_uri()):
        found = run_command(config, "explain", ref, "--json")
        assert found.returncode == 0, (ref, found.stderr)
        assert json.loads(found.stdout)["id"] == result["id"]
    unknown = run_command(config, "explain", "in/nothing-here.html")
    assert unknown.returncode == 1 and "no stored article" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_a_local_source_publishes_no_file_link(tmp_path: Path) -> None:
    """Local files are read, never linked: a ``file:`` address names a path of this machine
    and opens nowhere else. Their entries carry no link (their full content instead), in
    every format; nothing published names a file: URL."""
    config = deployment(tmp_path)
    assert run_command(config, "once").returncode == 0
    feeds = tmp_path / "feeds"
    for path in feeds.rglob("*"):
        if path.is_file():
            assert b"file:" not in path.read_bytes(), path.name
    atom = ElementTree.fromstring((feeds / "world.atom").read_bytes())
    entries = atom.findall(f"{ATOM}entry")
    assert entries and all(e.find(f"{ATOM}link") is None for e in entries)
    assert all(e.findtext(f"{ATOM}content") for e in entries)
    data = json.loads((feeds / "world.json").read_text(encoding="utf-8"))
    assert data["items"] and all("url" not in i and i["content_html"] for i in data["items"])


def test_a_text_dump_publishes_no_invented_date(tmp_path: Path) -> None:
    """A plain-text dump states no publication date: its entries have none (no ``published``,
    ``pubDate`` or ``date_published``; ``updated`` is when they were first seen). (Their link,
    the dump when it is served over HTTP, is typed text/plain: tests/test_demo.py.)"""
    config = deployment(tmp_path)
    assert run_command(config, "once").returncode == 0
    feeds = tmp_path / "feeds"
    atom = feedparser.parse((feeds / "world.atom").read_bytes())
    json_feed = json.loads((feeds / "world.json").read_text(encoding="utf-8"))
    dated = {i["title"]: i.get("date_published") for i in json_feed["items"]}
    dump_titles = {t for t, d in dated.items() if d is None}
    assert len(dump_titles) == 2, dated  # the dump's two full articles
    rdf_titles = set(dated) - dump_titles
    assert all(dated[t] for t in rdf_titles)  # the RDF feed's items keep their dc:date
    for entry in atom.entries:
        assert ("published" in entry) == (entry.title in rdf_titles), entry.title
    rss = feedparser.parse((feeds / "world.rss").read_bytes())
    for item in rss.entries:
        assert ("published" in item) == (item.title in rdf_titles), item.title
    explained = run_command(config, "explain", json_feed["items"][0]["id"], "--json")
    record = json.loads(explained.stdout)
    assert (record["published"] is None) == (record["title"] in dump_titles)


def test_once_leaves_a_paused_source_alone(tmp_path: Path, test_database: str | None) -> None:
    """A pause is kept in the store: `once` (named or not) does not fetch the source, says
    so, and `status` shows it; resumed, it is fetched again."""
    from datetime import UTC, datetime

    from syndicator.store import Store

    config = deployment(tmp_path)
    assert run_command(config, "once").returncode == 0
    database = test_database or f"sqlite:///{tmp_path}/s.db"  # the one the commands use
    store = Store(database)
    try:
        before = store.source_state("rdf")
        assert before is not None and store.set_paused("rdf", True, datetime.now(UTC))
    finally:
        store.close()
    for args in (("once",), ("once", "--source", "rdf")):
        done = run_command(config, *args)
        assert done.returncode == 0, done.stderr
        assert "rdf: paused" in done.stdout
    status = json.loads(run_command(config, "status", "--json").stdout)
    rdf = {row["id"]: row for row in status}["rdf"]
    assert rdf["paused"] is True and rdf["last_fetch_at"] == before.to_json()["last_fetch_at"]
    store = Store(database)
    try:
        store.set_paused("rdf", False, datetime.now(UTC))
    finally:
        store.close()
    again = run_command(config, "once")
    assert "rdf: paused" not in again.stdout and "rdf: " in again.stdout


def test_feed_items_without_links_stay_apart(tmp_path: Path) -> None:
    """Items that name no page of their own are told apart by their GUIDs (the article key is
    the source and the GUID), in RSS and in JSON Feed: two such items are two articles, never
    one article revised by the other."""
    config = deployment(tmp_path)
    items = "".join(
        f"<item><guid isPermaLink='false'>note-{n}</guid><title>Note {n}</title>"
        f"<description>{text}</description></item>"
        for n, text in ((1, "The harbour opens at dawn."), (2, "The market closes at noon."))
    )
    (tmp_path / "in" / "rss1.rdf").write_text(
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>Notes</title>{items}"
        "</channel></rss>",
        encoding="utf-8",
    )
    done = run_command(config, "once")
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "feeds" / "world.json").read_text(encoding="utf-8"))
    titles = sorted(i["title"] for i in data["items"] if i["title"].startswith("Note"))
    assert titles == ["Note 1", "Note 2"]
    # The same two as a JSON Feed, read again from the same source: no new article.
    (tmp_path / "in" / "rss1.rdf").unlink()
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Notes",
        "items": [
            {"id": "note-1", "title": "Note 1", "content_text": "The harbour opens at dawn."},
            {"id": "note-3", "title": "Note 3", "content_text": "The ferry leaves at six."},
        ],
    }
    (tmp_path / "in" / "notes.json").write_text(json.dumps(feed), encoding="utf-8")
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            'kind = "rss"\nurl = "in/rss1.rdf"', 'kind = "jsonfeed"\nurl = "in/notes.json"'
        ),
        encoding="utf-8",
    )
    again = run_command(config, "once")
    assert again.returncode == 0, again.stderr
    data = json.loads((tmp_path / "feeds" / "world.json").read_text(encoding="utf-8"))
    titles = sorted(i["title"] for i in data["items"] if i["title"].startswith("Note"))
    assert titles == ["Note 1", "Note 2", "Note 3"]


@pytest.mark.parametrize("command", ["run", "serve"])
def test_a_listen_address_in_use_is_one_line_not_a_traceback(tmp_path: Path, command: str) -> None:
    """Another process already listens on the address: ``run`` and ``serve`` stop before
    anything starts, with exit 1 and one line naming the address and what to do (``serve``
    showed granian's traceback; ``run`` started the service, then uvicorn exited 3)."""
    config = tmp_path / "syndicator.toml"
    config.write_text(service_table(tmp_path), encoding="utf-8")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        done = run_command(config, command, "--listen", address, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"syndicator: cannot serve: {address}: Address already in use"
        " (stop what listens there, or choose another --listen)"
    ), done.stderr
    assert "service started" not in done.stderr


@pytest.mark.parametrize("listen", ["bad", "127.0.0.1:99999", "[::1", "::1:8080"])
def test_a_bad_listen_option_is_named_as_the_option(tmp_path: Path, listen: str) -> None:
    """``--listen`` is checked as typed: the error names the option, not the environment
    variable that carries it to the config, nor the sources whose ``{base_url}`` it made."""
    config = tmp_path / "syndicator.toml"
    config.write_text(service_table(tmp_path), encoding="utf-8")
    for command in ("run", "serve"):
        done = run_command(config, command, "--listen", listen, timeout=60)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "--listen: expected HOST:PORT" in done.stderr and repr(listen) in done.stderr
        assert "SYNDICATOR_LISTEN" not in done.stderr and "Traceback" not in done.stderr


def test_extract_reads_a_page_as_its_source_selects_it(tmp_path: Path) -> None:
    """``extract --source`` applies the source's ``[source.select]``: a body selector that
    matches several parts of the page (one nested in another) gives each paragraph once."""
    config = deployment(tmp_path)
    config.write_text(
        config.read_text(encoding="utf-8")
        + """
[[source]]
id = "harbour"
kind = "html"
url = "https://news.example/harbour.html"
regions = ["world"]
[source.select]
body = ".part"
""",
        encoding="utf-8",
    )
    (tmp_path / "in" / "harbour.html").write_text(
        """<!doctype html><html lang="en"><head><title>Harbour works begin</title></head><body>
<h1>Harbour works begin</h1><figure><img src="/quay.jpg" alt="The quay"></figure>
<div class="part"><p>Work on the northern quay began on Monday, the harbour office said.</p>
<div class="part"><p>The crane arrived by sea from the yard at the river mouth.</p></div></div>
<div class="advert"><span>Buy a season ticket for the ferry today.</span></div>
<div class="part"><p>The council expects the quay to reopen to ferries in summer.</p></div>
</body></html>""",
        encoding="utf-8",
    )
    done = run_command(config, "extract", "--source", "harbour", "--json", "in/harbour.html")
    assert done.returncode == 0, done.stderr
    (article,) = json.loads(done.stdout)["articles"]
    assert [p.split()[0] for p in article["paragraphs"]] == ["Work", "The", "The"]

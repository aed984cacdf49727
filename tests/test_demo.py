"""The demo a new user meets: the shipped ``config/`` on the bundled samples, as ``make run``
runs it. Its feeds break none of the rules a feed validator checks (tests/support/feedrules.py, the
RFC 4287 schema with jing, and the W3C feed validator itself when its source is at hand), and
every address they publish opens: entries, pictures and enclosures are http(s) pages and files
the service serves (the samples at /samples/), never ``file:`` paths of the user's checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree
from support.checks import jing_validate, not_run
from support.feedrules import NO_FEEDVALIDATOR, problems, w3c_validate, w3c_validator
from support.service import ServiceProcess, free_port

REPO = Path(__file__).resolve().parent.parent
A = "{http://www.w3.org/2005/Atom}"


def command(folder: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "syndicator", "--config", str(folder / "config"), *args]


def environment() -> dict[str, str]:
    drop = ("SYNDICATOR_CONFIG", "SYNDICATOR_LISTEN")
    return {k: v for k, v in os.environ.items() if k not in drop}


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(folder, *args),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=folder,
        env=environment(),
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped config in a folder of its own, after one ``once``."""
    folder = tmp_path_factory.mktemp("demo")
    shutil.copytree(REPO / "config", folder / "config")
    done = run(folder, "once")
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


def feed_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in (folder / "feeds").rglob("*") if p.suffix in (".atom", ".rss", ".json")
    )


def test_the_shipped_config_is_the_one_init_writes() -> None:
    """`syndicator init` writes the config the repository ships (one source of truth in the
    package; the copy in config/ must not drift from it)."""
    shipped = (REPO / "config" / "syndicator.toml").read_bytes()
    assert shipped == (REPO / "syndicator" / "skeleton" / "syndicator.toml").read_bytes()


@pytest.mark.e2e
def test_the_demo_feeds_break_no_feed_rule(demo: Path) -> None:
    files = feed_files(demo)
    assert {p.name for p in files} >= {
        f"{r}.{x}"
        for r in ("all", "middle-east", "world", "culture")
        for x in ("atom", "rss", "json")
    }
    found = [line for path in files for line in problems(path)]
    assert found == [], "\n".join(found)
    # Every region has entries: no demo feed is empty
    for path in files:
        if path.suffix == ".atom":
            assert etree.parse(str(path)).getroot().find(f"{A}entry") is not None, path.name
    # The text dump's entries link to the dump itself: typed as what it is, plain text
    atom = etree.parse(str(demo / "feeds" / "all.atom")).getroot()
    dump_links = [
        link
        for entry in atom.findall(f"{A}entry")
        for link in entry.findall(f"{A}link")
        if (link.get("href") or "").endswith("/samples/dumps/front-page.txt")
    ]
    assert len(dump_links) == 2 and {x.get("type") for x in dump_links} == {"text/plain"}
    jing_validate(*(p for p in files if p.suffix == ".atom"))
    if w3c_validator() is None:
        not_run(NO_FEEDVALIDATOR)
        return
    served = {p: f"http://127.0.0.1:8080/feeds/{p.name}" for p in files if p.suffix != ".json"}
    assert w3c_validate(served) == []


@pytest.mark.e2e
def test_an_empty_feed_is_as_old_as_its_region(tmp_path: Path) -> None:
    """A region with no entry yet: its feeds' date is when the region was first published (a
    plausible date, never 1970), and it stays so: the same state renders the same bytes."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    (tmp_path / "config" / "50-empty.toml").write_text(
        '[[region]]\nid = "sports"\ntitle = "رياضة"\nlanguage = "ar"\nsections = ["رياضة"]\n',
        encoding="utf-8",
    )
    before = datetime.now(UTC).replace(microsecond=0)
    assert run(tmp_path, "once").returncode == 0
    after = datetime.now(UTC)
    feeds = tmp_path / "feeds"
    first = {n: (feeds / n).read_bytes() for n in ("sports.atom", "sports.rss", "sports.json")}
    updated = etree.fromstring(first["sports.atom"]).findtext(f"{A}updated")
    assert updated is not None and before <= datetime.fromisoformat(updated) <= after
    assert [line for n in first for line in problems(feeds / n)] == []
    assert run(tmp_path, "publish").returncode == 0
    assert {n: (feeds / n).read_bytes() for n in first} == first


@pytest.fixture
def served_demo(demo: Path) -> Iterator[str]:
    """``syndicator run --listen`` on the demo folder (as ``make run PORT=…`` starts it)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    service = ServiceProcess(
        demo / "config",
        "run",
        "--listen",
        f"127.0.0.1:{port}",
        cwd=demo,
        log=demo.parent / f"{demo.name}-run.log",
        env=environment(),
    ).start()

    def started() -> bool:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=5):
                return True
        except OSError:
            return False

    try:
        service.wait_for(started, "run to answer /healthz", seconds=60)
        yield base
    finally:
        code = service.stop(seconds=60)
        assert code == 0, service.output()
        assert "Traceback" not in service.output(), service.output()


@pytest.mark.e2e
def test_every_address_the_demo_publishes_opens(demo: Path, served_demo: str) -> None:
    """`run --listen` serves the demo on the port given; the base URL follows it (the config
    sets none), and every link, picture and enclosure of its feeds answers 200 from it."""
    with urllib.request.urlopen(served_demo + "/feeds/all.atom", timeout=10) as answer:
        feed = etree.fromstring(answer.read())
    self_link = next(x.get("href") for x in feed.findall(f"{A}link") if x.get("rel") == "self")
    assert self_link == served_demo + "/feeds/all.atom"
    addresses = set()
    for entry in feed.findall(f"{A}entry"):
        for link in entry.findall(f"{A}link"):
            addresses.add(link.get("href") or "")
        content = entry.findtext(f"{A}content") or ""
        addresses.update(etree.HTML(content).xpath("//img/@src") if content else [])
    # The entries were stored by `once` before `run` started, at the config's own address.
    assert addresses and all(a.startswith("http://127.0.0.1:") for a in addresses), addresses
    assert any("/samples/site/img/" in a for a in addresses)
    failures = []
    for address in sorted(addresses)[:80]:
        path = address.split("/", 3)[3]
        try:
            with urllib.request.urlopen(f"{served_demo}/{path}", timeout=10) as answer:
                if answer.status != 200 or not answer.read():
                    failures.append(f"{address}: {answer.status}")
        except urllib.error.HTTPError as e:
            failures.append(f"{address}: {e.code}")
    assert failures == []

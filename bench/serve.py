"""Benchmark: serving a ~200 KB feed, full (200) and revalidated (304), beside nginx.

    .venv/bin/python bench/serve.py [--seconds 8] [--connections 64] [--rounds 3]
                                    [--servers uvicorn,granian,nginx]

Needs ``wrk`` and ``nginx`` on the PATH (``apt-get install -y wrk nginx``). A region of 50
generated Arabic articles is stored and published with the real publisher into a temporary
folder (its Atom file is ~200 KB); then, one after the other, each server serves that folder on
a free loopback port and wrk (one thread) asks for the Atom file, without and with
``If-None-Match`` (the ETag that server gave):

- ``uvicorn``: ``syndicator run`` (the config has no sources, so nothing is polled): our ASGI
  app under uvicorn with httptools and uvloop, one process;
- ``granian``: ``syndicator serve``: the same app under granian (Rust HTTP/1.1, ASGI
  interface, uvloop), one worker process;
- ``nginx``: nginx serving the same file from disk (``etag on``, sendfile, one worker,
  ``access_log off``), run as a foreground child from a config written to the temporary folder.

Each server does its work in one process (wrk takes the other core of a two-core machine). The
rounds alternate servers; the table gives the median requests/s per server and request kind.
wrk counts only 4xx and 5xx as errors, so each run also checks the bytes per response: a few
hundred for a 304, the whole feed for a 200. Not part of the test suite; it starts and stops
everything itself.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REGION = "europe"
FEED = f"/feeds/{REGION}.atom"
TEXT = (
    "أعلنت الحكومة اليوم عن خطة جديدة لدعم المكتبات العامة في المدن الصغيرة وقال الوزير إن "
    "المشروع سيشمل ترميم المباني وتوسيع ساعات العمل وتدريب الموظفين على الخدمات الرقمية"
)
WORDS = TEXT.split()


# --------------------------------------------------------------------------------------------
# The feed


def write_config(folder: Path, port: int, name: str = "syndicator") -> Path:
    config = folder / f"{name}.toml"
    config.write_text(
        f"""
[service]
base_url = "http://127.0.0.1:{port}"
listen = "127.0.0.1:{port}"
database = "sqlite:///{folder}/store.db"
feeds_dir = "{folder}/feeds"

[publish]
entries_per_feed = 50
formats = ["atom", "rss", "json"]
title = "bench"

[[region]]
id = "{REGION}"
title = "أوروبا"
language = "ar"
sections = ["أوروبا"]
""",
        encoding="utf-8",
    )
    return config


def publish_feed(config_path: Path) -> Path:
    """Store 50 articles in one region and publish it; returns the Atom file."""
    from syndicator import config as config_module
    from syndicator.ingest import article_from_object
    from syndicator.syndication import Syndication

    cfg = config_module.load(config_path, environ={})
    syndication = Syndication(cfg)
    start = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    articles = []
    for n in range(50):
        paragraphs = [
            " ".join(WORDS[(n + k + i) % len(WORDS)] for i in range(40)) + f" ({n}.{k})"
            for k in range(6)
        ]
        obj = {
            "url": f"https://news.example/europe/story-{n}.html",
            "title": f"قصة رقم {n}: " + " ".join(WORDS[n % 7 : n % 7 + 6]),
            "section": "أوروبا",
            "authors": ["وكالة المثال"],
            "summary": paragraphs[0][:200],
            "paragraphs": paragraphs,
            "published": (start + timedelta(minutes=17 * n)).isoformat(),
        }
        articles.append(article_from_object(obj, config=cfg, now=start + timedelta(days=1)))
    syndication.push(articles, now=start + timedelta(days=1))
    syndication.publish_changes([REGION])
    syndication.close()
    return Path(cfg.service.feeds_dir) / f"{REGION}.atom"


# --------------------------------------------------------------------------------------------
# The servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def run_server(kind: str, folder: Path, port: int) -> Iterator[str]:
    """Start a server on ``port``; yields the feed URL; stops it."""
    if kind == "nginx":
        process = start_nginx(folder, port)
    else:
        config_path = write_config(folder, port, name=kind)
        command = "run" if kind == "uvicorn" else "serve"
        process = subprocess.Popen(
            [sys.executable, "-m", "syndicator", "--config", str(config_path), command],
            stdout=subprocess.DEVNULL,
            stderr=open(folder / f"{kind}.log", "ab"),  # noqa: SIM115
            env={k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")},
        )
    url = f"http://127.0.0.1:{port}{FEED}"
    try:
        wait_for(url, process)
        yield url
    finally:
        process.send_signal(signal.SIGTERM if kind != "nginx" else signal.SIGQUIT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_nginx(folder: Path, port: int) -> subprocess.Popen[bytes]:
    root = folder / "nginx"
    root.mkdir(exist_ok=True)
    conf = root / "nginx.conf"
    temp = "\n".join(
        f"  {name}_temp_path {root}/{name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf.write_text(
        f"""worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
{temp}
  types {{ application/atom+xml atom; }}
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port};
    etag on;
    location /feeds/ {{ alias {folder}/feeds/; }}
  }}
}}
""",
        encoding="utf-8",
    )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return subprocess.Popen(
        [nginx, "-c", str(conf), "-p", str(root), "-e", str(root / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server for {url} exited with {process.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.1)
    raise SystemExit(f"no answer from {url} within {seconds:.0f} s")


def etag_of(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        etag: str = response.headers["ETag"]
        return etag


# --------------------------------------------------------------------------------------------
# The load


def wrk(url: str, seconds: float, connections: int, etag: str | None) -> dict[str, Any]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    if etag is not None:
        command += ["-H", f"If-None-Match: {etag}"]
    run = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 30
    )
    out = run.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    other = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    p99 = re.search(r"99%\s+(\S+)", out)
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)([KMG]?)B", out)
    scale = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}
    per_second = float(transfer.group(1)) * scale[transfer.group(2)] if transfer else 0.0
    return {
        "rate": rate,
        "requests": total,
        "non_2xx": int(other.group(1)) if other else 0,
        "errors": errors.group(1) if errors else "",
        "p99": p99.group(1) if p99 else "?",
        "bytes_per_response": per_second / rate if rate else 0.0,
        "command": " ".join(command[:5])
        + (f" -H 'If-None-Match: {etag}'" if etag else "")
        + f" {url}",
    }


def app_cost(config_path: Path, requests: int = 100_000) -> dict[str, float]:
    """Microseconds per request spent in our ASGI app alone (no server, no socket): a 304 and
    a 200 for the feed, with and without counting the request into the metrics."""
    import asyncio

    from syndicator import config as config_module
    from syndicator.service import Service
    from syndicator.web import Web

    class Unmetered(Web):
        def _count(self, route: str, status: int, started: float) -> None:
            pass

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    async def send(message: Any) -> None:
        pass

    async def measure() -> dict[str, float]:
        service = Service(config_module.load(config_path, environ={}), poll=False)
        await service.start()
        file = service.feeds.get(f"{REGION}.atom")
        assert file is not None
        out = {}
        for label, validators in (("304", [(b"if-none-match", file.etag.encode())]), ("200", [])):
            headers = [(b"host", b"bench"), (b"user-agent", b"wrk"), *validators]
            scope = {"type": "http", "method": "GET", "path": FEED, "headers": headers}
            for name, app in ((label, Web(service)), (f"{label} unmetered", Unmetered(service))):
                started = time.perf_counter()
                for _ in range(requests):
                    await app(scope, receive, send)
                out[name] = (time.perf_counter() - started) / requests * 1e6
        await service.stop()
        return out

    return asyncio.run(measure())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--servers", default="uvicorn,granian,nginx")
    parser.add_argument("--json", action="store_true", help="print every run as JSON too")
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is not installed: apt-get install -y wrk nginx")
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        folder = Path(tmp)
        folder.chmod(0o755)  # nginx's worker runs as nobody
        ports = {kind: free_port() for kind in servers}
        atom = publish_feed(write_config(folder, free_port()))
        size = atom.stat().st_size
        print(
            f"feed: {atom.name}, {size / 1024:.0f} KiB; wrk: 1 thread, {args.connections} "
            f"connections, {args.seconds:g} s per run, {args.rounds} rounds"
        )
        costs = app_cost(write_config(folder, free_port()))
        print(
            "our app alone, µs per request: " + ", ".join(f"{k} {v:.1f}" for k, v in costs.items())
        )
        results: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for _ in range(args.rounds):
            for kind in servers:
                with run_server(kind, folder, ports[kind]) as url:
                    etag = etag_of(url)
                    for label, tag in (("full", None), ("304", etag)):
                        run = wrk(url, args.seconds, args.connections, tag)
                        # wrk counts only 4xx/5xx as errors: the bytes per response tell a
                        # 304 (headers only) from a 200 (the whole feed).
                        if (
                            run["errors"]
                            or run["non_2xx"]
                            or ((run["bytes_per_response"] > 2000) == (tag is not None))
                        ):
                            print(
                                f"  warning: {kind} {label}: {run['non_2xx']} non-2xx of "
                                f"{run['requests']}, errors {run['errors'] or 'none'}, "
                                f"{run['bytes_per_response']:.0f} bytes per response"
                            )
                        results.setdefault((kind, label), []).append(run)
                        if args.json:
                            print(json.dumps({"server": kind, "kind": label, **run}))
        print()
        nginx = "nginx" in servers
        print("| server  | request     | req/s (median) | min – max       | of nginx |")
        print("|---------|-------------|---------------:|-----------------|---------:|")
        for kind in servers:
            for label in ("full", "304"):
                runs = results[kind, label]
                rates = [r["rate"] for r in runs]
                name = "200, 200 KB" if label == "full" else "304"
                # Each round runs the servers back to back: compare within a round, where the
                # machine's other load is alike, then take the median over the rounds.
                ratio = ""
                if nginx and kind != "nginx":
                    pairs = zip(runs, results["nginx", label], strict=True)
                    ratio = f"{statistics.median(a['rate'] / b['rate'] for a, b in pairs):.0%}"
                print(
                    f"| {kind:<7} | {name:<11} | {statistics.median(rates):>14,.0f} | "
                    f"{min(rates):>6,.0f} – {max(rates):>6,.0f} | {ratio:>8} |"
                )
        if nginx:
            print("\nof nginx: the median, over the rounds, of our rate / nginx's in that round")
        print()
        print("commands:", *{r["command"] for rs in results.values() for r in rs}, sep="\n  ")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ.pop("SYNDICATOR_CONFIG", None)
    main()

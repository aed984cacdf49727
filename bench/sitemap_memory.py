"""Benchmark: the peak memory of `syndicator once` over large gzipped sitemaps.

    .venv/bin/python bench/sitemap_memory.py [--code DIR]

Builds two gzipped sitemaps of 50,000 URLs each (every ``<url>`` with a long video description
that we do not read, so they compress well): one inflating to nearly 50 MB (what the earlier
limit let through), one to under 20 MiB (the default ``max_bytes``). Their URLs are on the
loopback server, which answers 404 to them. A loopback server serves each under eight
paths; `syndicator once` (a child process, with its own SQLite store) reads one or eight of
them as sitemap sources, and its peak resident set (``ru_maxrss`` from ``os.wait4``: only the
child's own) is printed per case. ``--code DIR`` puts DIR first on the child's PYTHONPATH, to
measure another checkout of the package (``git archive main syndicator | tar -x -C DIR``).
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import ClassVar

HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
    b'xmlns:video="http://www.google.com/schemas/sitemap-video/1.1">\n'
)


def sitemap(base: str, urls: int, description: int) -> bytes:
    """A gzipped urlset of ``urls`` entries on ``base``, each with a ``description``-byte
    video text."""
    text = b"a long description of the video, said again and again; " * (description // 56 + 1)
    parts = [HEAD]
    for n in range(urls):
        parts.append(
            b"<url><loc>%s/story/%d.html</loc>"
            b"<lastmod>2026-03-14T10:00:00Z</lastmod><video:video><video:description>%s"
            b"</video:description></video:video></url>\n" % (base.encode(), n, text[:description])
        )
    parts.append(b"</urlset>\n")
    return gzip.compress(b"".join(parts), compresslevel=9, mtime=0)


class Site(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_GET(self) -> None:
        body = self.files.get(self.path.rsplit("/", 1)[-1].split("-")[0])
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def once(folder: Path, base: str, name: str, count: int, code: str | None) -> tuple[float, str]:
    folder.mkdir(parents=True)
    sources = "".join(
        f'\n[[source]]\nid = "s{n}"\nkind = "sitemap"\nurl = "{base}/{name}-{n}.xml.gz"\n'
        'regions = ["world"]\nfetch_pages = "never"\nmax_articles = 1\n'
        for n in range(count)
    )
    (folder / "c.toml").write_text(
        f'[service]\ndatabase = "sqlite:///{folder}/s.db"\nfeeds_dir = "{folder}/feeds"\n'
        'respect_robots = false\ntimeout = "60s"\n\n[[region]]\nid = "world"\ntitle = "W"\n'
        + sources,
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    if code:
        env["PYTHONPATH"] = code
    process = subprocess.Popen(
        [sys.executable, "-m", "syndicator", "--config", str(folder / "c.toml"), "once"],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    first = output.splitlines()[0] if output else ""
    return usage.ru_maxrss / 1024, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", help="a checkout of the package to measure instead")
    args = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    big = sitemap(base, 50_000, 790)
    under = sitemap(base, 50_000, 230)
    Site.files = {"big": big, "under": under, "tiny": sitemap(base, 10, 10)}
    print(f"big: {len(big) / 1024:.0f} KB gzip, {len(gzip.decompress(big)) / 1e6:.1f} MB")
    print(f"under: {len(under) / 1024:.0f} KB gzip, {len(gzip.decompress(under)) / 2**20:.1f} MiB")
    print("| sitemaps | peak RSS | first line of the output |\n|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, count in (("tiny", 1), ("big", 1), ("big", 8), ("under", 1), ("under", 8)):
            started = time.monotonic()
            rss, first = once(Path(tmp) / f"{name}{count}", base, name, count, args.code)
            took = time.monotonic() - started
            print(f"| {count} × {name} | {rss:.0f} MB | {first} ({took:.1f} s) |")
    server.shutdown()


if __name__ == "__main__":
    main()

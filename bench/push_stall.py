"""Benchmark: how long /healthz waits while `run` takes a 5 MiB push of articles.

    .venv/bin/python bench/push_stall.py [--mib 5] [--code DIR]

Starts `syndicator run` (a child process, its own SQLite store, on a free loopback port),
pushes ``--mib`` MiB of NDJSON (valid, distinct ARTICLE objects) in one ``POST /api/articles``
while a thread asks ``/healthz`` every 50 ms on its own connections, and prints how long the
push took and the slowest /healthz answers meanwhile. ``--code DIR`` puts DIR first on the
child's PYTHONPATH, to measure another checkout (``git archive main syndicator | tar -x -C DIR``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def body(mib: int) -> bytes:
    lines, size, n = [], 0, 0
    while size < mib << 20:
        obj = {
            "url": f"https://push.example/{n}",
            "title": f"Story number {n} of the big push",
            "paragraphs": [f"Paragraph one of story {n}, with enough words to be one."] * 4,
        }
        line = json.dumps(obj)
        if size + len(line) + 1 > mib << 20:
            break
        lines.append(line)
        size += len(line) + 1
        n += 1
    return ("\n".join(lines) + "\n").encode()


def request(port: int, method: str, path: str, data: bytes = b"", token: str = "") -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {token}"}
    try:
        conn.request(method, path, body=data or None, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=5)
    parser.add_argument("--code", help="a checkout of the package to measure instead")
    args = parser.parse_args()
    data = body(args.mib)
    port, token = free_port(), "bench-token"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "c.toml").write_text(
            f'[service]\nlisten = "127.0.0.1:{port}"\ndatabase = "sqlite:///{folder}/s.db"\n'
            f'feeds_dir = "{folder}/feeds"\nrate_limit = 0\n\n'
            '[[region]]\nid = "world"\ntitle = "W"\n',
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
        env["SYNDICATOR_API_TOKEN"] = token
        if args.code:
            env["PYTHONPATH"] = args.code
        log = (folder / "run.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "syndicator", "--config", str(folder / "c.toml"), "run"],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if request(port, "GET", "/healthz") == 200:
                        break
                except OSError:
                    time.sleep(0.1)
            waits: list[float] = []
            done = threading.Event()

            def poll() -> None:
                while not done.is_set():
                    started = time.monotonic()
                    request(port, "GET", "/healthz")
                    waits.append(time.monotonic() - started)
                    time.sleep(0.05)

            poller = threading.Thread(target=poll)
            poller.start()
            started = time.monotonic()
            status = request(port, "POST", "/api/articles", data, token)
            took = time.monotonic() - started
            done.set()
            poller.join()
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
            log.close()
    waits.sort()
    lines = data.count(b"\n")
    p99 = waits[int(len(waits) * 0.99)] if waits else 0.0
    print(f"push of {len(data) / 2**20:.1f} MiB ({lines} articles): HTTP {status} in {took:.1f} s")
    print(
        f"/healthz meanwhile: {len(waits)} answers, median {waits[len(waits) // 2] * 1000:.0f} ms,"
        f" p99 {p99 * 1000:.0f} ms, slowest {waits[-1] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()

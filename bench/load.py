"""Load: the real ``syndicator run`` under steady feed traffic and pushed articles, on loopback.

    .venv/bin/python bench/load.py [--seconds 180] [--warmup 30] [--rate 400] [--connections 16]
                                   [--pushes 3] [--pool 40] [--sample 2] [--max-growth-mib 16]
                                   [--json]

Needs ``wrk`` on the PATH (``apt-get install -y wrk``). The service runs on the bundled samples
(the shipped config's regions and sources, polled every 30 s, so passes run during the load) in a
temporary folder, on a free loopback port. Three things run against it at once for ``--seconds``:

- **feed readers**: wrk (one thread, ``--connections`` keep-alive connections, each pacing itself
  with ``delay()`` to about ``--rate`` requests per second in all) over six feeds (Atom, RSS and
  JSON Feed of three regions and ``all``), in a fixed cycle per connection: a full GET, a gzip
  GET, and four revalidations (two plain, two gzip) with the ETag that path and coding last gave
  (read back from each answer's ETag and ``Link: rel="self"``, so the validators follow the feeds
  as they change). Every answer's status is counted: only 200 and 304 are expected;
- **a publisher**: ``--pushes`` ``POST /api/articles`` per second with the bearer token, each a
  new version of one of ``--pool`` articles (created the first time, updated after: a new
  paragraph, so a revision, a moved ``updated`` and a re-published region each time). Every
  answer must be 200 with ``created`` or ``updated``;
- **a sampler**: the service's resident memory (``VmRSS`` in ``/proc/PID/status``) every
  ``--sample`` seconds.

Memory: the baseline is the median of the first three samples after ``--warmup`` seconds (by
then every feed has been rendered, gzipped and had its headers prepared, every article of the
pool exists, and the SQLite page cache, SQLAlchemy's statement cache and the metrics' label sets
are filled); growth is the median of the last three samples minus the baseline, which must stay
under ``--max-growth-mib``. The least-squares slope over the samples after the warm-up is printed
too (KiB per minute).

The service's log must have no traceback and no ERROR line, and the service must exit 0 on
SIGTERM. The script prints a table (``--json``: one JSON document instead) and exits 1 when any
check fails. It starts and stops everything itself; ``tests/test_load.py`` runs it for 30 s.
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
import threading
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FEEDS = [
    "/feeds/world.atom",
    "/feeds/middle-east.rss",
    "/feeds/all.atom",
    "/feeds/all.json",
    "/feeds/culture.json",
    "/feeds/world.rss",
]
SECTIONS = ["World", "Middle East", "Culture"]
EXPECTED_FEED_STATUSES = {200, 304}
STARTUP_SECONDS = 60.0

WRK_SCRIPT = r"""
-- Feed readers: full GETs, gzip GETs and revalidations with the validators each feed last gave.
local paths = {%(paths)s}
local kinds = {"full", "conditional", "gzip", "conditional-gzip", "conditional",
               "conditional-gzip"}
local etags = {}
local n = 0
statuses = {}

function delay()
  return %(delay)d
end

function request()
  n = n + 1
  local path = paths[(n %% #paths) + 1]
  local kind = kinds[(math.floor(n / #paths) %% #kinds) + 1]
  local headers = {}
  local coding = "identity"
  if kind == "gzip" or kind == "conditional-gzip" then
    headers["Accept-Encoding"] = "gzip"
    coding = "gzip"
  end
  local tag = etags[path .. "|" .. coding]
  if (kind == "conditional" or kind == "conditional-gzip") and tag then
    headers["If-None-Match"] = tag
  end
  return wrk.format("GET", path, headers)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  local tag = headers["etag"] or headers["ETag"]
  local link = headers["link"] or headers["Link"]
  if tag and link then
    local self = string.match(link, '<https?://[^/>]+(/[^>]*)>; rel="self"')
    if self then
      local coding = string.find(tag, '-gzip"', 1, true) and "gzip" or "identity"
      etags[self .. "|" .. coding] = tag
    end
  end
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(counts) do
    table.insert(parts, string.format('"%%d": %%d', status, count))
  end
  local e = summary.errors
  io.write(string.format(
    'WRK-RESULT {"requests": %%d, "duration_us": %%d, "bytes": %%d, ' ..
    '"errors": {"connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}, ' ..
    '"latency_us": {"p50": %%d, "p90": %%d, "p99": %%d, "p999": %%d, "max": %%d, ' ..
    '"mean": %%.1f}, "statuses": {%%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean, table.concat(parts, ", ")))
end
"""


# --------------------------------------------------------------------------------------------
# The service


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write_config(folder: Path, port: int) -> Path:
    """The shipped config on the bundled samples (served by the service, polled every 30 s), with a
    [service] of its own in ``folder``."""
    config = folder / "config"
    config.mkdir(parents=True)
    text = (REPO / "config" / "syndicator.toml").read_text(encoding="utf-8")
    text = re.sub(r'^every = "[^"]*"', 'every = "30s"', text, flags=re.M)
    text = re.sub(r"^\[service\]\n(?:(?!\[).*\n)*", "", text, flags=re.M)
    text = "[service]\nserve_samples = true\n\n" + text  # the sources read the served samples
    (config / "10-samples.toml").write_text(text, encoding="utf-8")
    (config / "20-service.toml").write_text(
        f'[service]\nbase_url = "http://127.0.0.1:{port}"\nlisten = "127.0.0.1:{port}"\n'
        f'database = "sqlite:///{folder}/syndicator.db"\nfeeds_dir = "{folder}/feeds"\n',
        encoding="utf-8",
    )
    return config


@dataclass
class Service:
    folder: Path
    port: int
    token: str
    backstop: float
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.folder / "run.log"

    def start(self) -> None:
        config = write_config(self.folder, self.port)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
        env["SYNDICATOR_API_TOKEN"] = self.token
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *("timeout", "--kill-after=5", str(int(self.backstop))),
                    sys.executable,
                    *("-m", "syndicator", "--config", str(config), "run"),
                ],
                cwd=self.folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the service exited:\n{self.log.read_text()}")
            if self._ready():
                return
            time.sleep(0.2)
        raise SystemExit(f"the service was not ready in {STARTUP_SECONDS:.0f} s")

    def _ready(self) -> bool:
        """Every source read once and every feed of the mix published."""
        try:
            sources = json.loads(self.get("/api/sources"))
            return all(s["last_fetch_at"] for s in sources if s["schedule"].startswith("every"))
        except OSError:
            return False

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base + path, timeout=10) as response:
            body: bytes = response.read()
            return body

    @property
    def pid(self) -> int:
        """The service itself (it runs under ``timeout``, as a backstop)."""
        assert self.process is not None
        pid = self.process.pid
        return int(Path(f"/proc/{pid}/task/{pid}/children").read_text().split()[0])

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            return -9


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


# --------------------------------------------------------------------------------------------
# The publisher and the sampler


@dataclass
class Pusher:
    """``POST /api/articles`` at a steady rate, cycling over a pool of articles."""

    service: Service
    per_second: float
    pool: int
    results: list[tuple[int, str, float]] = field(default_factory=list)  # status, change, s
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        import http.client

        n = 0
        started = time.monotonic()
        while not self.stop.is_set():
            slot = n % self.pool
            body = json.dumps(
                {
                    "url": f"https://load.example/story/{slot}",
                    "title": f"Story {slot} under load",
                    "section": SECTIONS[slot % len(SECTIONS)],
                    "paragraphs": [
                        f"Story {slot} is pushed again and again while readers poll the feeds.",
                        f"This is its version {n // self.pool + 1}, pushed as request {n}.",
                    ],
                }
            ).encode()
            headers = {
                "content-type": "application/json",
                "authorization": f"Bearer {self.service.token}",
            }
            began = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", self.service.port, timeout=30)
            try:
                conn.request("POST", "/api/articles", body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                status = answer.status
                change = json.loads(data)["results"][0]["change"] if status == 200 else ""
            except (OSError, ValueError, KeyError, IndexError) as e:
                status, change = 0, type(e).__name__
            finally:
                conn.close()
            self.results.append((status, change, time.perf_counter() - began))
            n += 1
            self.stop.wait(max(0.0, started + n / self.per_second - time.monotonic()))


@dataclass
class Sampler:
    pid: int
    every: float
    samples: list[tuple[float, int]] = field(default_factory=list)  # seconds since start, KiB
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        started = time.monotonic()
        while True:
            with contextlib.suppress(OSError):
                self.samples.append((time.monotonic() - started, rss_kib(self.pid)))
            if self.stop.wait(self.every):
                return


# --------------------------------------------------------------------------------------------
# One run


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def slope_per_minute(points: list[tuple[float, int]]) -> float:
    if len(points) < 2:
        return 0.0
    xs, ys = [x for x, _ in points], [y for _, y in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0


def run(args: argparse.Namespace) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    with tempfile.TemporaryDirectory(prefix="syndicator-load-") as tmp:
        folder = Path(tmp)
        service = Service(
            folder, free_port(), "load-" + uuid.uuid4().hex, backstop=args.seconds + 90
        )
        delay_ms = max(0, round(1000 * args.connections / args.rate))
        script = folder / "readers.lua"
        script.write_text(
            WRK_SCRIPT % {"paths": ", ".join(f'"{p}"' for p in FEEDS), "delay": delay_ms},
            encoding="utf-8",
        )
        command = [
            wrk,
            "-t1",
            f"-c{args.connections}",
            f"-d{args.seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            service.base + FEEDS[0],
        ]
        service.start()
        code = None
        try:
            loadavg_before = os.getloadavg()
            sampler = Sampler(service.pid, args.sample)
            pusher = Pusher(service, args.pushes, args.pool)
            threads = [threading.Thread(target=sampler.run, daemon=True)]
            if args.pushes > 0:
                threads.append(threading.Thread(target=pusher.run, daemon=True))
            for thread in threads:
                thread.start()
            readers = subprocess.run(
                command, capture_output=True, text=True, timeout=args.seconds + 60, check=False
            )
            pusher.stop.set()
            sampler.stop.set()
            for thread in threads:
                thread.join(timeout=40)
            loadavg_after = os.getloadavg()
        finally:
            code = service.stop()
        log = service.log.read_text(encoding="utf-8", errors="replace")
        database = sum(p.stat().st_size for p in folder.glob("syndicator.db*"))
    return summarize(
        args,
        command=command,
        readers=readers,
        pusher=pusher,
        sampler=sampler,
        log=log,
        exit_code=code,
        loadavg=(loadavg_before, loadavg_after),
        database=database,
    )


def summarize(
    args: argparse.Namespace,
    *,
    command: list[str],
    readers: subprocess.CompletedProcess[str],
    pusher: Pusher,
    sampler: Sampler,
    log: str,
    exit_code: int,
    loadavg: tuple[tuple[float, float, float], tuple[float, float, float]],
    database: int,
) -> dict[str, Any]:
    found = re.search(r"^WRK-RESULT (\{.*\})$", readers.stdout, flags=re.M)
    if found is None:
        raise SystemExit(f"wrk gave no result:\n{readers.stdout}\n{readers.stderr}")
    wrk: dict[str, Any] = json.loads(found.group(1))
    statuses = {int(k): v for k, v in wrk["statuses"].items()}
    push_statuses = Counter(status for status, _, _ in pusher.results)
    changes = Counter(change for _, change, _ in pusher.results)
    push_seconds = [s for _, _, s in pusher.results]
    after = [(t, kib) for t, kib in sampler.samples if t >= args.warmup]
    baseline = statistics.median(kib for _, kib in after[:3]) if after else float("nan")
    end = statistics.median(kib for _, kib in after[-3:]) if after else float("nan")
    growth_kib = end - baseline
    bad_lines = [
        line
        for line in log.splitlines()
        if "Traceback" in line or re.search(r"\b(ERROR|CRITICAL)\b", line)
    ]
    warnings = sum(1 for line in log.splitlines() if re.search(r"\bWARNING\b", line))
    duration = wrk["duration_us"] / 1e6
    result: dict[str, Any] = {
        "seconds": args.seconds,
        "warmup": args.warmup,
        "command": " ".join(command),
        "feeds": {
            "requests": wrk["requests"],
            "per_second": round(wrk["requests"] / duration, 1),
            "statuses": statuses,
            "socket_errors": wrk["errors"],
            "latency_ms": {k: v / 1000 for k, v in wrk["latency_us"].items()},
        },
        "pushes": {
            "requests": len(pusher.results),
            "per_second": round(len(pusher.results) / args.seconds, 2),
            "statuses": dict(push_statuses),
            "changes": dict(changes),
            "latency_ms": {
                "p50": round(percentile(push_seconds, 50) * 1000, 2),
                "p99": round(percentile(push_seconds, 99) * 1000, 2),
                "max": round(max(push_seconds, default=float("nan")) * 1000, 2),
            },
        },
        "memory_kib": {
            "samples": sampler.samples,
            "first": sampler.samples[0][1] if sampler.samples else None,
            "baseline": baseline,
            "end": end,
            "max_after_warmup": max((kib for _, kib in after), default=None),
            "growth": growth_kib,
            "slope_per_minute": round(slope_per_minute(after), 1),
        },
        "log": {"bad_lines": bad_lines[:20], "warnings": warnings},
        "database_bytes": database,
        "exit_code": exit_code,
        "loadavg": loadavg,
    }
    failures = []
    unexpected = {s: n for s, n in statuses.items() if s not in EXPECTED_FEED_STATUSES}
    if unexpected:
        failures.append(f"feed answers other than 200/304: {unexpected}")
    if any(wrk["errors"].values()):
        failures.append(f"socket errors or timeouts: {wrk['errors']}")
    if wrk["requests"] == 0:
        failures.append("no feed request was answered")
    if args.pushes > 0 and not pusher.results:
        failures.append("no push was made")
    if not set(push_statuses) <= {200} or not set(changes) <= {"created", "updated"}:
        failures.append(f"pushes not all 200 created/updated: {push_statuses}, {changes}")
    if len(after) < 3:
        failures.append("too few memory samples after the warm-up")
    elif growth_kib > args.max_growth_mib * 1024:
        failures.append(f"memory grew {growth_kib / 1024:.1f} MiB after the warm-up")
    if bad_lines:
        failures.append(f"{len(bad_lines)} error line(s) in the service log")
    if exit_code != 0:
        failures.append(f"the service exited {exit_code} on SIGTERM")
    result["failures"] = failures
    return result


def report(result: dict[str, Any]) -> str:
    feeds, pushes, memory = result["feeds"], result["pushes"], result["memory_kib"]
    lf, lp = feeds["latency_ms"], pushes["latency_ms"]
    (before, *_), (after, *_) = result["loadavg"]
    lines = [
        f"{result['seconds']} s of load, warm-up {result['warmup']} s; "
        f"load average {before:.2f} before, {after:.2f} after",
        f"  wrk: {result['command']}",
        "",
        "| requests     | count | per second | statuses               | p50 ms | p99 ms | max ms |",
        "|--------------|------:|-----------:|------------------------|-------:|-------:|-------:|",
        f"| feed GETs    | {feeds['requests']:>5} | {feeds['per_second']:>10} | "
        f"{_statuses(feeds['statuses']):<22} | {lf['p50']:>6.2f} | {lf['p99']:>6.2f} | "
        f"{lf['max']:>6.1f} |",
        f"| pushes       | {pushes['requests']:>5} | {pushes['per_second']:>10} | "
        f"{_statuses(pushes['statuses']):<22} | {lp['p50']:>6.2f} | {lp['p99']:>6.2f} | "
        f"{lp['max']:>6.1f} |",
        "",
        f"push changes: {pushes['changes']}; socket errors: {feeds['socket_errors']}",
        f"memory (RSS, MiB): first {memory['first'] / 1024:.1f}, "
        f"baseline after warm-up {memory['baseline'] / 1024:.1f}, "
        f"end {memory['end'] / 1024:.1f}, "
        f"max after warm-up {memory['max_after_warmup'] / 1024:.1f}, "
        f"growth {memory['growth'] / 1024:+.2f}, "
        f"slope {memory['slope_per_minute'] / 1024:+.2f} MiB/min",
        f"database (with its WAL) at the end: {result['database_bytes'] / 2**20:.1f} MiB",
        f"service log: {result['log']['warnings']} warning(s), "
        f"{len(result['log']['bad_lines'])} error line(s); exit code {result['exit_code']}",
    ]
    lines.append(
        "FAILED: " + "; ".join(result["failures"]) if result["failures"] else "all checks passed"
    )
    return "\n".join(lines)


def _statuses(counts: dict[int, int]) -> str:
    return ", ".join(f"{n}×{s}" for s, n in sorted(counts.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=180, help="how long the load lasts")
    parser.add_argument("--warmup", type=float, default=30, help="seconds before the baseline")
    parser.add_argument("--rate", type=float, default=400, help="feed requests per second")
    parser.add_argument("--connections", type=int, default=16, help="wrk's connections")
    parser.add_argument(
        "--pushes", type=float, default=3, help="pushed articles per second (0: none)"
    )
    parser.add_argument("--pool", type=int, default=40, help="distinct articles pushed")
    parser.add_argument("--sample", type=float, default=2, help="seconds between RSS samples")
    parser.add_argument("--max-growth-mib", type=float, default=16, help="allowed RSS growth")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    if args.warmup >= args.seconds:
        parser.error("--warmup must be shorter than --seconds")
    result = run(args)
    print(json.dumps(result, indent=1) if args.json else report(result))
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""Starting the service, and talking to it, for the end-to-end tests.

One launcher, :class:`ServiceProcess`: ``python -m syndicator --config CONFIG ARGS…`` in a
session of its own, under a ``timeout`` backstop (a process left behind stops by itself), its
output in a log file; ``stop`` is SIGTERM as ops stop it, ``kill9`` reaches the service itself,
``kill`` the whole group. On it:

- :class:`Server`: ``run`` or ``serve`` on a free port with HTTP helpers (the
  ``server_factory`` fixture, conftest.py);
- the scaled roles (``run --role …``) and the runs of the fault tests use it directly.

:class:`ForkServer` starts commands forked from an interpreter that has already imported the
package, for the kill -9 trials whose every start would otherwise pay Python's start-up.
``Deployment`` is a one-file config in a temporary folder run through ``python -m syndicator``
to completion. ``free_port``, ``own_env``, ``wait_for``, ``samples_toml`` and ``asgi_call``
(one request to an ASGI app in this process) are here too.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import feedparser
import pytest

from support.commands import run_command, service_table, starting_a_process

REPO = Path(__file__).resolve().parents[2]
TOKEN = "test-token-" + uuid.uuid4().hex
SERVER_MAX_SECONDS = 180  # the backstop: a server left behind stops by itself
STOP_SECONDS = 10.0


def free_port() -> int:
    """A port free on 127.0.0.1 now (the service binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def own_env(*, keep_database: bool = False, **extra: str) -> dict[str, str]:
    """The environment of a command a test runs: its config is the one the test names, and its
    store the one that config names (unless ``keep_database``: the database the harness
    names, ``$SYNDICATOR_DATABASE``, when the suite runs on PostgreSQL); plus ``extra``."""
    ignored = {"SYNDICATOR_CONFIG"} | (set() if keep_database else {"SYNDICATOR_DATABASE"})
    return {k: v for k, v in os.environ.items() if k not in ignored} | extra


def wait_for(check: Any, what: str, seconds: float = 30, interval: float = 0.1) -> Any:
    """``check()``'s first true answer, asked every ``interval`` s; AssertionError naming
    ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"not within {seconds:.0f} s: {what}")


class ServiceProcess:
    """``python -m syndicator --config CONFIG ARGS…`` as a process of its own (see the module)."""

    def __init__(
        self,
        config: Path,
        *args: str,
        cwd: Path,
        log: Path,
        env: dict[str, str],
        backstop: float = SERVER_MAX_SECONDS,
        open_files: int | None = None,
        append: bool = False,
        name: str = "",
    ) -> None:
        self.name = name or log.stem
        self.argv = [sys.executable, "-m", "syndicator", "--config", str(config), *args]
        self.cwd, self.log, self.env = cwd, log, env
        self.backstop = backstop
        self.open_files = open_files  # the process's limit on open files (soft and hard)
        self.append = append
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        starting_a_process(f"'syndicator {' '.join(self.argv[5:7])}'")
        with self.log.open("ab" if self.append else "wb") as log:
            self.process = subprocess.Popen(
                ["timeout", "--kill-after=5", str(self.backstop), *self.argv],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=self._limit_files if self.open_files else None,
                start_new_session=True,  # kill() reaches the service behind the backstop too
            )
        return self

    def _limit_files(self) -> None:
        import resource

        assert self.open_files is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.open_files, self.open_files))

    @property
    def pid(self) -> int:
        """The syndicator process itself (the child of ``timeout``)."""
        assert self.process is not None
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            children = path.read_text().split() if path.exists() else []
            if children:
                return int(children[0])
            time.sleep(0.05)
        raise AssertionError(f"{self.argv} has no process")

    @property
    def returncode(self) -> int | None:
        return self.process.poll() if self.process else None

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, check: Callable[[], Any], what: str, seconds: float = 30) -> Any:
        """``check()``'s first true answer; the test fails naming ``what`` after ``seconds``,
        or as soon as the process has exited."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(
                    f"the service exited ({self.process.returncode}) while waiting for {what}:"
                    f"\n{self.output()[-3000:]}"
                )
            result = check()
            if result:
                return result
            time.sleep(0.05)
        pytest.fail(f"not within {seconds:.0f} s: {what}\n{self.output()[-3000:]}")

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)  # timeout passes it on

    def stop(self, seconds: float = 15) -> int:
        """SIGTERM, then the exit code; killed (-9) if it has not exited after ``seconds``."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9

    def kill9(self) -> None:
        """kill -9 of the service itself, as a crash would (its backstop notices)."""
        os.kill(self.pid, signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL to the backstop and the service it runs (one process group)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=10)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


class Server:
    """``run`` or ``serve`` (a :class:`ServiceProcess`) on a free loopback port, with plain HTTP
    against it: its config folder is ``folder/config``, its log ``folder/COMMAND.log``."""

    def __init__(
        self,
        folder: Path,
        command: str = "run",
        *,
        token: str | None = TOKEN,
        open_files: int | None = None,
    ) -> None:
        self.folder = folder
        self.command = command
        self.token = token
        self.open_files = open_files  # the server's limit on open files (soft and hard)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.config = folder / "config"
        self.config.mkdir(parents=True, exist_ok=True)
        self.log = folder / f"{command}.log"
        self.service: ServiceProcess | None = None

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.service.process if self.service else None

    def service_toml(self, **publish: Any) -> str:
        settings = {"debounce": 0.2, **publish}
        return (
            f'[service]\nbase_url = "{self.base}"\nlisten = "127.0.0.1:{self.port}"\n'
            f'database = "sqlite:///{self.folder}/syndicator.db"\n'
            f'feeds_dir = "{self.folder}/feeds"\n\n[publish]\n'
            + "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
        )

    def start(self) -> Server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
        if self.token:
            env["SYNDICATOR_API_TOKEN"] = self.token
        self.service = ServiceProcess(
            self.config,
            self.command,
            cwd=self.folder,
            log=self.log,
            env=env,
            open_files=self.open_files,
            append=True,
        ).start()
        self.wait_until(lambda: self.get("/healthz").status in (200, 503), "/healthz answers")
        return self

    def signal(self, sig: int) -> None:
        assert self.service is not None
        self.service.signal(sig)

    def stop(self) -> int:
        """SIGTERM, then the exit code (killed after STOP_SECONDS, which fails the caller)."""
        assert self.service is not None
        return self.service.stop(STOP_SECONDS)

    def kill(self) -> None:
        """SIGKILL to the backstop and the server it runs (one process group)."""
        if self.service is not None:
            self.service.kill()

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: Any = None,
        *,
        chunked: bool = False,
    ) -> Answer:
        """One request on a fresh connection; the body is returned as sent (no decoding)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
            response = conn.getresponse()
            data = response.read()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        finally:
            conn.close()

    def get(self, path: str, **headers: str) -> Answer:
        try:
            return self.request("GET", path, {k.replace("_", "-"): v for k, v in headers.items()})
        except OSError:
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(f"the server exited ({self.process.returncode}):\n{self.output()}")
            return Answer(0, {}, b"")

    def post(
        self, path: str, body: bytes | str = b"", *, token: str | None = TOKEN, **headers: str
    ) -> Answer:
        sent = {k.replace("_", "-"): v for k, v in headers.items()}
        sent.setdefault("content-type", "application/json")
        if token is not None:
            sent["authorization"] = f"Bearer {token}"
        data = body.encode() if isinstance(body, str) else body
        return self.request("POST", path, sent, data)

    def wait_until_settled(self) -> None:
        """Every interval source read and what it gave published: counts a test compares
        before and after its requests are no longer moved by the first passes."""
        self.wait_until(
            lambda: all(
                r["last_fetch_at"]
                for r in self.get("/api/sources").json()
                if r["schedule"].startswith("every")
            ),
            "every interval source has been read",
        )
        self.wait_until(
            lambda: (
                len(feedparser.parse(self.get("/feeds/all.atom").body).entries)
                == len(self.get("/api/articles?limit=500").json())
            ),
            "what was read is published",
        )

    def wait_until(self, check: Callable[[], Any], what: str, seconds: float = 20) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(f"the server exited ({self.process.returncode}):\n{self.output()}")
            result = check()
            if result:
                return result
            time.sleep(0.1)
        pytest.fail(f"not within {seconds:.0f} s: {what}\n{self.output()[-3000:]}")

    def metric(self, name: str, **labels: str) -> float:
        text = self.get("/metrics").text
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name + "{"):
                continue
            found = dict(re.findall(r'(\w+)="([^"]*)"', line[: line.rindex("}")]))
            if all(found.get(k) == v for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total


def samples_toml(every: str = "2s") -> str:
    """The shipped config's regions and sources, on the bundled samples by absolute path."""
    text = (REPO / "config" / "syndicator.toml").read_text(encoding="utf-8")
    text = re.sub(r'^every = "[^"]*"', f'every = "{every}"', text, flags=re.M)
    # The [service] table comes from the test's own file (merged after this one); the sources
    # read the samples the service serves ({base_url}/samples/).
    text = re.sub(r"^\[service\]\n(?:(?!\[).*\n)*", "", text, flags=re.M)
    return "[service]\nserve_samples = true\n\n" + text


def source_ids() -> list[str]:
    return re.findall(r'^id = "(sample-[^"]+)"', samples_toml(), flags=re.M)


def asgi_call(
    app: Any, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> Answer:
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }
    asyncio.run(app(scope, receive, send))
    start, *bodies = sent
    return Answer(
        start["status"],
        {k.decode(): v.decode() for k, v in start["headers"]},
        b"".join(m.get("body", b"") for m in bodies),
    )


# A fork server: imports everything the commands need once, then for each command it is sent
# forks a child that runs it through the CLI's entry point, exactly as the console script does
# (``sys.exit(syndicator.cli.main(argv))``), in a session of its own. It answers with the
# child's pid, then with its exit code once the child is gone (-9 when killed).
FORK_SERVER = """
import json, os, sys
import uvicorn, syndicator.syndication, syndicator.cli, syndicator.service, syndicator.web
import aiohttp, httpx_aiohttp, httpcore, h11, anyio, sqlalchemy.dialects.sqlite, certifi

def serve():
    print("ready", flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:
            return job
        print(pid, flush=True)
        print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
    sys.exit(0)

job = serve()
os.setsid()
log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.dup2(log, 1)
os.dup2(log, 2)
os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
sys.exit(syndicator.cli.main(job["argv"]))
"""


class ForkServer:
    """Starts commands in processes forked from one that has already imported syndicator, so
    that a trial costs the command's own work, not Python's start-up; one at a time."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        starting_a_process("a fork server of commands")
        self.log = (folder / "fork-server.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-c", FORK_SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            cwd=folder,
            env=own_env(),
            start_new_session=True,
        )
        self._buffer = b""
        self.current: Command | None = None
        try:
            assert self._line(60) == "ready"
        except BaseException:
            self.close()
            raise

    def start(self, argv: list[str]) -> Command:
        self.count += 1
        log = self.folder / f"command-{self.count}.log"
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"argv": argv, "log": str(log)}).encode() + b"\n")
        self.process.stdin.flush()
        self.current = Command(self, int(self._line(10)), log, time.monotonic())
        return self.current

    def _line(self, timeout: float) -> str:
        """The server's next line, or a failure after ``timeout`` seconds."""
        line = self._next_line(timeout)
        if line is None:
            pytest.fail(f"the fork server did not answer within {timeout} s")
        return line

    def _next_line(self, timeout: float) -> str | None:
        """The server's next line, or None if it has said nothing more after ``timeout``."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                pytest.fail("the fork server exited")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def close(self) -> None:
        """Stop the command still running, if any, then the server."""
        if self.current is not None and self.current.code is None:
            self.current.kill()
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.log.close()


@dataclass
class Command:
    server: ForkServer
    pid: int
    log: Path
    started: float
    code: int | None = None

    def kill(self) -> None:
        """kill -9, its whole process group (its session, once it has made one)."""
        for kill, target in ((os.killpg, self.pid), (os.kill, self.pid)):
            try:
                kill(target, signal.SIGKILL)
            except ProcessLookupError:
                continue

    def wait(self, timeout: float) -> int:
        """Its exit code, after killing it if it is still running after ``timeout``."""
        if self.code is None:
            try:
                self.code = int(self.server._line(timeout))
            except BaseException:
                self.kill()
                raise
        return self.code

    def kill_after(self, delay: float) -> int:
        """Its exit code: -9 if it was still running ``delay`` seconds after it started."""
        line = self.server._next_line(max(0.0, self.started + delay - time.monotonic()))
        if line is None:
            self.kill()
            return self.wait(30)
        self.code = int(line)
        return self.code

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, as ops stop the service; then its exit code."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        return self.wait(timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


class Deployment:
    """One config file (``[service]`` in a temporary folder, one region ``world`` that every
    source feeds, the sources given), run with ``python -m syndicator``."""

    def __init__(self, folder: Path, sources: str = "", extra: str = "") -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.feeds = folder / "feeds"
        self.database = os.environ.get("SYNDICATOR_DATABASE") or f"sqlite:///{folder}/s.db"
        self.config = folder / "syndicator.toml"
        self.config.write_text(
            service_table(folder, f"{extra}\n")
            + '[[region]]\nid = "world"\ntitle = "World"\n'
            + sources,
            encoding="utf-8",
        )

    @staticmethod
    def source(source_id: str, kind: str, url: str, **more: Any) -> str:
        settings = "".join(f"{k} = {json.dumps(v)}\n" for k, v in more.items())
        return (
            f'\n[[source]]\nid = "{source_id}"\nkind = "{kind}"\nurl = "{url}"\n'
            f'regions = ["world"]\n{settings}'
        )

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run_command(self.config, *args, timeout=timeout, cwd=self.folder)

    def feed(self, name: str = "world.json") -> Any:
        text = (self.feeds / name).read_text(encoding="utf-8")
        return json.loads(text) if name.endswith(".json") else text

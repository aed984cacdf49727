"""Headless Chromium driven over the DevTools protocol, for tests of the pages.

``Browser`` starts ``chromium --headless`` with a fresh profile and a DevTools port on
loopback, and talks to one page over its WebSocket (the ``websockets`` client the service
already installs). A test opens a URL, reads the DOM through JavaScript, types and clicks like
a person, takes screenshots, and gets every console error, uncaught exception and blocked
request (a Content-Security-Policy violation included) the page produced.

No browser is downloaded: without a Chromium on the machine, ``chromium_or_skip`` skips the
test, saying how to install one.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-quic",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def chromium_or_skip() -> str:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("Chromium is not installed (apt-get install chromium): the pages' browser checks")
    raise AssertionError("unreachable")


class Browser:
    """One headless Chromium with one page. Use as a context manager."""

    def __init__(self, profile: Path, *, width: int = 1280, height: int = 1000) -> None:
        self.executable = chromium_or_skip()
        profile.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [self.executable, *FLAGS, f"--user-data-dir={profile}",
             f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.problems: list[str] = []
        self._id = 0
        self._stack = contextlib.ExitStack()
        try:
            port = self._port(profile / "DevToolsActivePort")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                targets = json.loads(r.read())
            page = next(t for t in targets if t.get("type") == "page")
            self.ws: ClientConnection = self._stack.enter_context(
                connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
            )
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.send(f"{domain}.enable")
        except BaseException:
            self.close()
            raise

    def _port(self, active: Path) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"chromium exited with code {self.process.returncode}")
            text = active.read_text().split("\n", 1)[0] if active.exists() else ""
            if text.strip().isdigit():
                return int(text)
            time.sleep(0.05)
        raise AssertionError("chromium did not open its DevTools port within 30 s")

    def __enter__(self) -> Browser:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)

    # -- the protocol ----------------------------------------------------------------------

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call a DevTools method and return its result (events seen meanwhile are noted)."""
        self._id += 1
        ident = self._id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == ident:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self._note(message)

    def _wait_for(self, event: str, seconds: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            self._note(message)
            if message.get("method") == event:
                params: dict[str, Any] = message.get("params", {})
                return params
        raise AssertionError(f"no {event} within {seconds} s")

    def _note(self, message: dict[str, Any]) -> None:
        """Console errors, exceptions, blocked or failed requests: what a person would see
        as a broken page (or a developer in the console)."""
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            self.problems.append(f"console.{params['type']}: {args}")
        elif method == "Runtime.exceptionThrown":
            self.problems.append(f"exception: {params['exceptionDetails'].get('text')}")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            entry = params["entry"]
            where = entry.get("url", "")
            self.problems.append(f"{entry.get('source')}: {entry.get('text')} {where}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            reason = params.get("blockedReason") or params.get("errorText")
            self.problems.append(f"request failed: {reason}")

    # -- what a test does ------------------------------------------------------------------

    def open(self, url: str) -> None:
        """Go to ``url`` and wait until the page has loaded."""
        self.send("Page.navigate", url=url)
        self._wait_for("Page.loadEventFired")

    def js(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-able values only)."""
        result = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def submit(self, expression: str) -> None:
        """Run ``expression`` (a click on a form's button) and wait for the page it leads to."""
        self.send("Runtime.evaluate", expression=expression)
        self._wait_for("Page.loadEventFired")

    def screenshot(self, name: str) -> Path:
        """A full-page PNG of the current page, into tests/artifacts/ (not committed)."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        metrics = self.send("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        shot = self.send(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 8000),
                  "scale": 1},
        )  # fmt: skip
        path = ARTIFACTS / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

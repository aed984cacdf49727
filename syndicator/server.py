"""The web server around a :class:`~syndicator.service.Service`: ``syndicator run`` under
uvicorn (the service polling in the same process, SIGHUP reloading), and ``syndicator serve``
under granian worker processes, each a ``Service`` without scheduler over a snapshot of the
config that is replaced only when a reload finds the config valid.

It holds no service logic: what a request meets is the Service's and the web layer's.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
from pathlib import Path
from typing import Any

from syndicator import config as config_module
from syndicator import connections
from syndicator.config import Config
from syndicator.errors import ConfigError, SyndicatorError
from syndicator.service import Service
from syndicator.web import make_app

log = logging.getLogger("syndicator")


def check_listen(host: str, port: int) -> None:
    """Raise OSError, naming the address and what to do, when this process cannot listen on
    ``host:port`` (another process listens there, or the address is not this machine's):
    asked before anything starts, as uvicorn and granian will bind (``SO_REUSEADDR``), so
    that ``run`` and ``serve`` stop with one line rather than a server's own failure."""
    bare = host.strip("[]")
    family = socket.AF_INET6 if ":" in bare else socket.AF_INET  # as uvicorn chooses
    try:
        _, kind, proto, _, address = socket.getaddrinfo(
            bare, port, family, socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as e:
        why = e.strerror or str(e)
        taken = e.errno == errno.EADDRINUSE
        hint = (
            "stop what listens there, or choose another --listen"
            if taken
            else "choose another --listen"
        )
        raise OSError(e.errno, f"{host}:{port}: {why} ({hint})") from e


def run_forever(config_path: str | os.PathLike[str] | None, *, json_logs: bool = False) -> None:
    """``syndicator run`` on uvloop when it is installed (the web server answers faster)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it where it builds
        asyncio.run(run(config_path, json_logs=json_logs))
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(run(config_path, json_logs=json_logs))


async def run(config_path: str | os.PathLike[str] | None, *, json_logs: bool = False) -> None:
    """``syndicator run``: the service and its web server until SIGTERM or Ctrl-C."""
    import uvicorn

    cfg = config_module.load(config_path)
    check_listen(cfg.service.host, cfg.service.port)
    service = Service(cfg, config_path=config_module.config_path(config_path))
    await service.start()
    files = connections.raise_fd_limit()
    budget = connections.fd_budget(files)
    if budget < connections.MAX_CONNECTIONS:
        log.warning(
            "open files limited to %d: serving %d connections at most (raise LimitNOFILE)",
            files,
            budget,
        )
    server = uvicorn.Server(
        uvicorn.Config(
            make_app(service),
            host=cfg.service.host,
            port=cfg.service.port,
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            date_header=True,
            http=connections.bounded_protocol(budget),
            limit_concurrency=None,  # ours: connections.py (idle floods give way to clients)
        )
    )
    loop = asyncio.get_running_loop()

    reloads: set[asyncio.Task[None]] = set()

    def on_hangup() -> None:
        async def reload() -> None:
            with contextlib.suppress(SyndicatorError):  # refused: logged and shown by reload()
                await service.reload()

        task = asyncio.ensure_future(reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGHUP, on_hangup)
    # uvicorn handles SIGTERM and SIGINT while it serves, then raises the signal again to the
    # handler that was there before it: ours ignores it, so the service stops cleanly (exit 0).
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError):  # not the main thread
            previous[sig] = signal.signal(sig, lambda *_: None)
    log.info("serving on http://%s/ (feeds at %s/feeds/)", cfg.service.listen, cfg.service.base_url)
    try:
        await server.serve()
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGHUP)
        await service.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# --------------------------------------------------------------------------------------------
# ``syndicator serve``: granian worker processes over what is stored and published

SERVE_SNAPSHOT_ENV = "SYNDICATOR_SERVE_SNAPSHOT"  # the validated config the workers load
SERVE_CONFIG_ENV = "SYNDICATOR_SERVE_CONFIG"  # the config as ops edit it (POST /api/reload)
SERVE_LOG_JSON_ENV = "SYNDICATOR_SERVE_LOG_JSON"


def serve(
    config_path: str | os.PathLike[str] | None,
    *,
    workers: int = 1,
    json_logs: bool = False,
    factory: str = "syndicator.server:worker_app",
) -> None:
    """``syndicator serve``: the web server alone (no polling) under granian, ``workers``
    processes, until SIGTERM or Ctrl-C.

    Each worker is a ``Service(poll=False)`` made by :func:`worker_app`: it serves the feed
    files (re-read when another process publishes them), the store's state and the API. The
    workers load a copy of the config taken when it was last found valid: SIGHUP (or
    ``POST /api/reload``) validates the config again and, only when it is valid, replaces the
    copy; granian then restarts the workers one by one on it. A bad config changes nothing.
    ``factory`` names the function that makes a worker's application (``run --role web``
    gives its own).
    """
    import tempfile

    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.server import Server as Granian

    path = config_module.config_path(config_path).resolve()
    cfg = config_module.load(path)
    check_listen(cfg.service.host, cfg.service.port)
    with tempfile.TemporaryDirectory(prefix="syndicator-serve-") as tmp:
        snapshot = Path(tmp)
        _snapshot(cfg, snapshot)
        os.environ.update(
            {
                SERVE_SNAPSHOT_ENV: str(snapshot),
                SERVE_CONFIG_ENV: str(path),
                SERVE_LOG_JSON_ENV: "1" if json_logs else "",
            }
        )
        server = Granian(
            factory,
            address=cfg.service.host,
            port=cfg.service.port,
            interface=Interfaces.ASGI,
            workers=workers,
            factory=True,
            loop=Loops.uvloop if _has_uvloop() else Loops.asyncio,
            http=HTTPModes.http1,
            websockets=False,
            # granian's own messages (workers started, restarted) go to our log handler
            log_dictconfig={"loggers": {"_granian": {"propagate": True}}},
            respawn_failed_workers=True,
            respawn_interval=3.0,  # a new worker starts before the old one stops
            workers_kill_timeout=10,
        )

        def on_hangup(*_: Any) -> None:
            try:
                new = config_module.load(path)
            except ConfigError as e:
                log.error("reload refused, the workers keep the running config:\n    %s", e)
                return
            _snapshot(new, snapshot)
            log.info("config reloaded: restarting the workers on it")
            server.signal_handler_reload()  # type: ignore[no-untyped-call]  # granian's own

        # Installed once granian has set its own handlers: SIGHUP restarts the workers only
        # when the config is valid.
        server.on_startup(lambda: signal.signal(signal.SIGHUP, on_hangup))
        log.info(
            "serving on http://%s/ (feeds at %s/feeds/), %d worker(s), no polling",
            cfg.service.listen,
            cfg.service.base_url,
            workers,
        )
        server.serve()


def worker_app() -> Any:
    """One ``serve`` worker's ASGI application (granian calls this in each worker process):
    a Service without scheduler over the config snapshot, started and stopped by the ASGI
    lifespan."""

    return make_app(worker_service(), manage=True)


def worker_service() -> Service:
    """The Service of one ``serve`` worker process, over the config snapshot."""
    from syndicator.logs import setup_logging

    setup_logging(json_lines=bool(os.environ.get(SERVE_LOG_JSON_ENV)))
    cfg = config_module.load(os.environ[SERVE_SNAPSHOT_ENV])
    service = Service(cfg, config_path=os.environ[SERVE_CONFIG_ENV], poll=False)
    master = os.getppid()

    def restart_workers() -> None:
        # The master validates the config again, snapshots it and restarts every worker.
        with contextlib.suppress(OSError):
            os.kill(master, signal.SIGHUP)

    service.on_reload = restart_workers
    return service


def _snapshot(cfg: Config, folder: Path) -> None:
    """Copy the config's files into ``folder`` (in merge order), replacing what was there."""
    staged = []
    for n, name in enumerate(cfg.files):
        target = folder / f"{n:03d}-{Path(name).name}.new"
        target.write_bytes(Path(name).read_bytes())
        staged.append(target)
    for old in folder.glob("*.toml"):
        old.unlink()
    for target in staged:
        target.rename(target.with_suffix(""))


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:  # pragma: no cover
        return False
    return True

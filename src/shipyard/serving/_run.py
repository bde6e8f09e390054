"""Running the endpoint under uvicorn: one process, or several workers sharing a port.

With one worker the model is loaded before uvicorn starts, so a reference that does not
resolve or a package that fails its checks is reported as a plain error, not as a
crashed server. With several, each worker process builds its own app from the settings
in ``$SHIPYARD_SERVE`` (uvicorn starts workers by import path) and loads the model once.
On SIGTERM or Ctrl-C uvicorn stops accepting connections, lets the requests in flight
finish (up to ``GRACEFUL_SHUTDOWN_S``), then the app flushes its logs.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import ShipyardError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from shipyard.serving._server import ModelServer

__all__ = [
    "GRACEFUL_SHUTDOWN_S",
    "UVICORN_SETTINGS",
    "app_from_environment",
    "free_port",
    "running",
    "serve",
]

#: Seconds the requests in flight get to finish after SIGTERM.
GRACEFUL_SHUTDOWN_S = 30
#: uvicorn's settings for the endpoint: uvloop and httptools where installed, no access
#: log of uvicorn's own (the app writes a structured one), graceful shutdown.
UVICORN_SETTINGS: dict[str, Any] = {
    "loop": "auto",
    "http": "auto",
    "lifespan": "on",
    "access_log": False,
    "log_config": None,
    "server_header": False,
    "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
    "timeout_keep_alive": 15,
}
_SETTINGS_VARIABLE = "SHIPYARD_SERVE"


def serve(
    ref: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    project: str | Path | None = None,
    env: str | None = None,
    log_level: str = "info",
) -> None:
    """Serve ``ref`` until SIGTERM or Ctrl-C (``shipyard serve``)."""
    import uvicorn

    from shipyard.serving._app import create_app

    configure_logging(log_level)
    root = str(Path(project or Path.cwd()).resolve())
    server = _server(ref, root, env)
    if workers == 1:
        served = server.load()
        _announce(served.name, served.version, host, port, workers)
        app = create_app(server, own_process=True)
        config = uvicorn.Config(app, host=host, port=port, **UVICORN_SETTINGS)
        uvicorn.Server(config).run()
        return
    record = server.registry.resolve(server.ref)  # fail here, not once in every worker
    _announce(record.model, record.version, host, port, workers)
    os.environ[_SETTINGS_VARIABLE] = json.dumps({"ref": ref, "project": root, "env": env})
    uvicorn.run(
        "shipyard.serving._run:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **UVICORN_SETTINGS,
    )


def app_from_environment() -> FastAPI:
    """The app of one worker process, from the settings ``serve`` left in the environment."""
    from shipyard.serving._app import create_app

    settings = json.loads(os.environ[_SETTINGS_VARIABLE])
    configure_logging("info")
    return create_app(
        _server(settings["ref"], settings["project"], settings["env"]), own_process=True
    )


def _server(ref: str, project: str, env: str | None) -> ModelServer:
    """A server of a bundle folder (what an image carries), else of a registered model."""
    from shipyard.models._bundle import is_bundle
    from shipyard.serving._server import ModelServer

    if is_bundle(ref):
        return ModelServer.for_bundle(ref)
    return ModelServer.for_project(ref, project, env=env)


@contextmanager
def running(server: ModelServer, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """``server``'s endpoint answering in a background thread of this process, on
    ``port`` (0: a free one); yields its base URL once it is ready, and stops it like
    SIGTERM does at the end: requests in flight finish and the logs are flushed."""
    import uvicorn

    from shipyard.serving._app import create_app

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    runner = uvicorn.Server(uvicorn.Config(create_app(server), **UVICORN_SETTINGS))
    thread = threading.Thread(
        target=runner.run, kwargs={"sockets": [sock]}, name="shipyard-serve", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 60
    while not runner.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise ShipyardError(
                f"The endpoint for {server.ref} did not start.",
                hint="Run `shipyard serve` with --log-level debug to see why.",
            )
        time.sleep(0.01)
    try:
        yield f"http://{f'[{host}]' if ':' in host else host}:{bound}"
    finally:
        runner.should_exit = True
        thread.join(timeout=GRACEFUL_SHUTDOWN_S + 5)
        sock.close()


def configure_logging(level: str) -> None:
    """Server lines on stderr, and the access log as bare JSON lines, unless the
    process configured logging already."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level.upper())
    access = logging.getLogger("shipyard.serving.access")
    access_handler = logging.StreamHandler(sys.stderr)
    access_handler.setFormatter(logging.Formatter("%(message)s"))
    access.addHandler(access_handler)
    access.propagate = False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _announce(name: str, version: int, host: str, port: int, workers: int) -> None:
    shown = f"[{host}]" if ":" in host else host
    plural = "s" if workers > 1 else ""
    print(
        f"Serving {name} version {version} at http://{shown}:{port} with {workers} "
        f"worker{plural} (API docs at /docs; Ctrl-C stops).",
        file=sys.stderr,
    )

"""``shipyard lab``: JupyterLab on the project, with a kernel that opens the project by itself.

Three pieces:

- :func:`write_kernel_spec` writes the project's kernel into a Jupyter data folder of the
  project (``.shipyard/jupyter/kernels/shipyard-<project>/kernel.json``): this Python,
  ``--ext=shipyard`` so every notebook starts with ``session``, ``catalog``, ``params`` and
  ``pipelines`` (see ``_extension``), and ``SHIPYARD_ENV`` set to the chosen env. Nothing is
  installed in the user's Jupyter folders: the server finds the kernel because that folder
  is put first on its ``JUPYTER_PATH``.
- :class:`LabServer` starts ``python -m jupyterlab`` on the project folder, bound to
  127.0.0.1 by default, with a fresh random token. The token is handed over in the server's
  environment (``JUPYTER_TOKEN``), not on its command line, which any local user can read;
  and once the server answers, an unauthenticated request must be refused, or the server is
  stopped: a Jupyter config that disables authentication does not win.
- :func:`serve` waits for it, turns Ctrl-C, SIGTERM and SIGHUP into a clean stop of the
  server (which shuts its kernels down), and stops waiting after a bounded time.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.errors import LabError, MissingDependencyError

if TYPE_CHECKING:
    from shipyard.settings import Settings

__all__ = [
    "LAB_PACKAGES",
    "LabServer",
    "ProjectKernel",
    "check_lab_installed",
    "is_loopback",
    "kernel_name",
    "serve",
    "write_kernel_spec",
]

#: What ``shipyard lab`` imports in the server and in the kernels (the ``lab`` extra).
LAB_PACKAGES = ("jupyterlab", "ipykernel")
#: How long the server may take to answer, and to stop once asked to.
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0
_STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class _StopRequested(Exception):
    """SIGTERM or SIGHUP reached ``shipyard lab``: stop the server as Ctrl-C would."""


def check_lab_installed(packages: Iterable[str] = LAB_PACKAGES) -> None:
    """Raise MissingDependencyError (naming ``pip install "shipyard[lab]"``) unless every
    package of ``packages`` can be imported."""
    for package in packages:
        try:
            found = importlib.util.find_spec(package) is not None
        except (ImportError, ValueError):  # a parent package missing, or a broken install
            found = False
        if not found:
            raise MissingDependencyError(package, "lab", purpose="`shipyard lab`")


@dataclass(frozen=True, slots=True)
class ProjectKernel:
    """A kernel spec written for a project: its name, where Jupyter finds it, its file."""

    name: str
    display_name: str
    data_dir: Path  # goes first on JUPYTER_PATH; the spec is in data_dir/kernels/<name>/
    spec_file: Path


def kernel_name(project: str) -> str:
    """The kernel's name: ``shipyard-<project>`` in the characters Jupyter allows.

    >>> kernel_name("Customer Churn")
    'shipyard-customer-churn'
    """
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", project.lower()).strip("-.")
    return f"shipyard-{cleaned or 'project'}"


def write_kernel_spec(settings: Settings, *, python: str | None = None) -> ProjectKernel:
    """Write the project's kernel spec (replacing an earlier one) and return where it is.

    The kernel runs ``python`` (default: this interpreter) with the Shipyard extension
    loaded and ``SHIPYARD_ENV`` set to ``settings.env``.
    """
    project = settings.project_root.name
    name = kernel_name(project)
    data_dir = settings.shipyard_dir / "jupyter"
    folder = data_dir / "kernels" / name
    spec = {
        "argv": [
            python or sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            "--ext=shipyard",
        ],
        "display_name": f"Python ({project})",
        "language": "python",
        "env": {"SHIPYARD_ENV": settings.env},
        "metadata": {"debugger": True},
    }
    folder.mkdir(parents=True, exist_ok=True)
    spec_file = folder / "kernel.json"
    partial = spec_file.with_suffix(".json.partial")
    partial.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    partial.replace(spec_file)  # a server reading the folder never sees half a file
    return ProjectKernel(name, spec["display_name"], data_dir, spec_file)  # type: ignore[arg-type]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LabServer:
    """A JupyterLab server process for one project (see the module docstring)."""

    def __init__(self, process: subprocess.Popen[bytes], *, ip: str, port: int, token: str):
        self.process = process
        self.port = port
        self.token = token
        # A wildcard address is reached through the loopback one from this machine.
        self._host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(ip, ip)

    @classmethod
    def start(
        cls,
        settings: Settings,
        kernel: ProjectKernel,
        *,
        ip: str = "127.0.0.1",
        port: int = 8888,
        open_browser: bool = False,
        allow_root: bool = False,
    ) -> LabServer:
        """Start ``python -m jupyterlab`` on the project; raises if the port is taken, or
        when running as root without ``allow_root`` (Jupyter refuses that by default)."""
        _check_root(allow_root)
        _check_port_free(ip, port)
        token = secrets.token_urlsafe(32)
        env = {key: val for key, val in os.environ.items() if key != "JUPYTER_TOKEN_FILE"}
        env["JUPYTER_TOKEN"] = token
        env["JUPYTER_PATH"] = os.pathsep.join(
            [str(kernel.data_dir), *filter(None, [os.environ.get("JUPYTER_PATH")])]
        )
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            f"--ServerApp.root_dir={settings.project_root}",
            f"--ServerApp.ip={ip}",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",  # the URL printed must be the one it listens on
            f"--ServerApp.open_browser={open_browser}",
            f"--MappingKernelManager.default_kernel_name={kernel.name}",
            *(["--ServerApp.allow_root=True"] if allow_root else []),
        ]
        # Its own session: a Ctrl-C at the terminal reaches `shipyard lab` only, which
        # then stops the server with SIGTERM (Jupyter would otherwise ask to confirm).
        process = subprocess.Popen(
            command,
            cwd=settings.project_root,
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        return cls(process, ip=ip, port=port, token=token)

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` as reached from this machine."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The URL to open, token included."""
        return f"{self.base_url}/lab?token={self.token}"

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Wait until the server answers an authenticated request; then check that an
        unauthenticated one is refused. Raises LabError (server stopped) otherwise."""
        deadline = time.monotonic() + timeout
        while _status(f"{self.base_url}/api/status", self.token) != 200:
            if self.process.poll() is not None:
                raise LabError(
                    f"JupyterLab stopped before it was ready (exit code "
                    f"{self.process.returncode}); its log above says why.",
                    hint=f"If port {self.port} is in use, choose another with --port.",
                )
            if time.monotonic() > deadline:
                self.stop()
                raise LabError(
                    f"JupyterLab did not answer on {self.base_url} within {timeout:.0f} s, so "
                    "it was stopped.",
                    hint="Read its log above; run `python -m jupyterlab --version` to check "
                    "the installation.",
                )
            time.sleep(0.2)
        refused = _status(f"{self.base_url}/api/status", None)
        if refused not in (401, 403):
            self.stop()
            raise LabError(
                f"JupyterLab answered without its token (HTTP {refused}): your Jupyter "
                "configuration disables authentication, so the server was stopped.",
                hint="Remove the setting that disables it (an empty IdentityProvider.token, "
                "ServerApp.token or password) from your jupyter_server_config.py or .json "
                "(`jupyter --paths` lists the config folders), then run again.",
            )

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """Ask the server to stop (SIGTERM: it shuts its kernels down); kill it if it has
        not stopped within ``timeout`` seconds or on a second Ctrl-C. Returns its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except (subprocess.TimeoutExpired, KeyboardInterrupt, _StopRequested):
                _kill_group(self.process)
        return self.process.wait()


def serve(server: LabServer, *, on_ready: Callable[[LabServer], None]) -> int:
    """Wait for ``server`` to be ready (then call ``on_ready``) and for it to stop.

    Ctrl-C, SIGTERM and SIGHUP stop the server, and this returns 0. When the server stops
    by itself (File > Shut Down), its exit code is returned.
    """
    with _stop_signals_raise():
        try:
            server.wait_ready()
            on_ready(server)
            return server.process.wait()
        except (KeyboardInterrupt, _StopRequested):
            server.stop()
            return 0
        except BaseException:
            server.stop()
            raise


@contextmanager
def _stop_signals_raise() -> Iterator[None]:
    def stop(signum: int, frame: object) -> None:
        raise _StopRequested(signum)

    previous = {number: signal.signal(number, stop) for number in _STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _status(url: str, token: str | None) -> int | None:
    """The HTTP status of GET ``url`` (None: no answer yet)."""
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def _check_root(allow_root: bool) -> None:
    if not allow_root and hasattr(os, "geteuid") and os.geteuid() == 0:
        raise LabError(
            "JupyterLab does not run as root unless asked to: code in its notebooks and "
            "terminals would run with root's rights.",
            hint="Run `shipyard lab` as a normal user, or pass --allow-root if this is "
            "intended (e.g. in a container).",
        )


def _check_port_free(ip: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the server will: a port left in TIME_WAIT by an earlier server is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((ip, port))
        except OSError as exc:
            raise LabError(
                f"JupyterLab cannot listen on {ip} port {port}: {exc.strerror or exc}.",
                hint=f"Another program uses the port: choose another with --port "
                f"(e.g. --port {port + 1}), or check the address given to --ip.",
            ) from None


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()

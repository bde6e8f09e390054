"""``shipyard lab``: a real JupyterLab on loopback, started and stopped as a user would."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
from tests.conftest import run_cli

AS_ROOT = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lab-cli")
    done = run_cli("new", "churn", "--no-git", cwd=root)
    assert done.returncode == 0, done.stderr
    return root / "churn"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, token: str | None = None, method: str = "GET") -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method)
    if token is not None:
        request.add_header("Authorization", f"token {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def test_help_names_every_option(cli, tmp_path):
    done = cli("lab", "--help", cwd=tmp_path)

    assert done.returncode == 0
    for option in ("--port", "--env", "--no-browser", "--ip", "--allow-root", "token"):
        assert option in done.stdout


def test_without_the_lab_extra_it_names_the_install(project):
    done = run_cli("lab", "--no-browser", cwd=project, missing="jupyterlab")

    assert done.returncode == 1
    assert "needs the 'jupyterlab' package" in done.stderr
    assert 'pip install "shipyard[lab]"' in done.stderr and "Traceback" not in done.stderr
    assert not (project / ".shipyard" / "jupyter").exists()  # nothing written


def test_outside_a_project_or_with_an_unknown_env(cli, project, tmp_path):
    outside = cli("lab", "--no-browser", cwd=tmp_path)
    unknown = cli("lab", "--no-browser", "--env", "nope", cwd=project)

    assert outside.returncode == 1 and "No Shipyard project found" in outside.stderr
    assert "shipyard new" in outside.stderr
    assert unknown.returncode == 1 and "Environment 'nope' does not exist" in unknown.stderr
    assert "local, prod" in unknown.stderr
    assert not (project / ".shipyard" / "jupyter").exists()


def test_any_address_but_loopback_is_warned_about(cli, project):
    with socket.socket() as taken:  # a busy port: the command stops before starting a server
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli(
            "lab", "--ip", "0.0.0.0", "--port", str(port), "--no-browser", *AS_ROOT, cwd=project
        )

    assert done.returncode == 1
    assert "listens on 0.0.0.0" in done.stderr and "not encrypted" in done.stderr
    assert f"cannot listen on 0.0.0.0 port {port}" in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_lab_serves_the_project_with_a_token_and_stops_on_a_signal(project, stop):
    port = free_port()
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("SHIPYARD_ENV", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "shipyard", "lab", "--port", str(port), "--no-browser", *AS_ROOT],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in server.stderr], daemon=True
    ).start()
    try:
        url = _wait_for_ready(lines, server, timeout=90)
        token = re.search(r"token=([\w-]+)", url).group(1)
        base = f"http://127.0.0.1:{port}"
        assert url == f"{base}/lab?token={token}"

        assert get(f"{base}/api/status")[0] == 403  # no token, no access
        assert get(f"{base}/api/status", token="wrong")[0] == 403
        assert get(f"{base}/api/status", token=token)[0] == 200
        assert get(f"{base}/api/status?token={token}")[0] == 200
        status, specs = get(f"{base}/api/kernelspecs", token=token)
        assert specs["default"] == "shipyard-churn"
        spec = specs["kernelspecs"]["shipyard-churn"]["spec"]
        assert spec["display_name"] == "Python (churn)" and "--ext=shipyard" in spec["argv"]
        assert spec["env"] == {"SHIPYARD_ENV": "local"}

        status, started = get(f"{base}/api/kernels", token=token, method="POST")
        assert (status, started["name"]) == (201, "shipyard-churn")
        processes = psutil.Process(server.pid).children(recursive=True)  # server + kernel
        assert any("ipykernel_launcher" in p.cmdline() for p in processes)

        begun = time.monotonic()
        server.send_signal(stop)
        assert server.wait(timeout=30) == 0
        assert time.monotonic() - begun < 15
        _, alive = psutil.wait_procs(processes, timeout=10)
        assert alive == []  # the server stopped its kernel
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
    rest = "".join(iter_remaining(lines))
    assert "JupyterLab stopped." in rest
    with socket.socket() as probe:  # nothing listens on the port any more
        assert probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.slow
def test_a_jupyter_config_without_authentication_is_refused(project, tmp_path):
    config = tmp_path / "jupyter-config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"IdentityProvider": {"token": ""}, "ServerApp": {"password": ""}})
    )
    port = free_port()

    done = run_cli(
        "lab", "--port", str(port), "--no-browser", *AS_ROOT,
        cwd=project, env={"JUPYTER_CONFIG_DIR": str(config)},
    )  # fmt: skip

    assert done.returncode == 1
    assert "answered without its token (HTTP 200)" in done.stderr
    assert "so the server was stopped" in done.stderr and "IdentityProvider.token" in done.stderr
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def _wait_for_ready(lines: queue.Queue[str], server: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            assert server.poll() is None, "".join(seen)
            continue
        seen.append(line)
        if line.startswith("JupyterLab is ready: "):
            return line.removeprefix("JupyterLab is ready: ").strip()
    raise AssertionError("JupyterLab was not ready in time:\n" + "".join(seen))


def iter_remaining(lines: queue.Queue[str]):
    time.sleep(0.2)  # the reader thread hands over the last lines
    while not lines.empty():
        yield lines.get()

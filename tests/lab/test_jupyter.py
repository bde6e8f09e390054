"""The pieces of ``shipyard lab``: the lab extra check, the project kernel (started for real
through jupyter_client) and the server's guards. The server itself runs in
tests/cli/test_lab_cli.py."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import pytest

from shipyard.errors import LabError, MissingDependencyError
from shipyard.lab import create_project
from shipyard.lab._jupyter import (
    LabServer,
    check_lab_installed,
    is_loopback,
    kernel_name,
    write_kernel_spec,
)
from shipyard.metadata import MetadataStore, metrics, runs
from shipyard.settings import Settings


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_project(tmp_path_factory.mktemp("jupyter") / "churn", init_git=False).path


def test_a_missing_lab_package_names_the_extra():
    check_lab_installed()  # the dev install has the lab extra

    with pytest.raises(MissingDependencyError) as caught:
        check_lab_installed(["jupyterlab", "shipyard_test_no_such_package"])

    assert "'shipyard_test_no_such_package'" in caught.value.message
    assert "`shipyard lab`" in caught.value.message
    assert caught.value.hint == 'Install it with: pip install "shipyard[lab]"'
    with pytest.raises(MissingDependencyError):
        check_lab_installed(["no_such_parent.child"])


@pytest.mark.parametrize(
    ("project", "name"),
    [
        ("churn", "shipyard-churn"),
        ("Customer Churn", "shipyard-customer-churn"),
        ("..", "shipyard-project"),
    ],
)
def test_kernel_names_use_only_what_jupyter_allows(project, name):
    assert kernel_name(project) == name


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("lab.example.com", False)],
)  # fmt: skip
def test_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback


def test_kernel_spec_is_written_in_the_project_and_replaced(project):
    kernel = write_kernel_spec(Settings.for_project(project, env="local"))

    assert kernel.spec_file == project / ".shipyard/jupyter/kernels/shipyard-churn/kernel.json"
    assert kernel.data_dir == project / ".shipyard/jupyter"
    spec = json.loads(kernel.spec_file.read_text(encoding="utf-8"))
    assert spec["argv"] == [
        sys.executable,
        "-m",
        "ipykernel_launcher",
        "-f",
        "{connection_file}",
        "--ext=shipyard",
    ]
    assert (spec["display_name"], spec["env"]) == ("Python (churn)", {"SHIPYARD_ENV": "local"})

    write_kernel_spec(Settings.for_project(project, env="prod"))
    spec = json.loads(kernel.spec_file.read_text(encoding="utf-8"))
    assert spec["env"] == {"SHIPYARD_ENV": "prod"}
    assert sorted(p.name for p in kernel.spec_file.parent.iterdir()) == ["kernel.json"]


@pytest.mark.slow
def test_the_project_kernel_opens_the_project_and_tracks_the_notebook(project):
    """A real kernel from the spec, as JupyterLab starts it for notebooks/explore.ipynb."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    kernel = write_kernel_spec(Settings.for_project(project, env="prod"))
    specs = KernelSpecManager(kernel_dirs=[str(kernel.data_dir / "kernels")])
    manager = KernelManager(kernel_name=kernel.name, kernel_spec_manager=specs)
    notebook = project / "notebooks" / "explore.ipynb"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    manager.start_kernel(cwd=str(notebook.parent), env={**env, "JPY_SESSION_NAME": str(notebook)})
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        outputs: list[str] = []

        def keep(message: dict) -> None:
            content = message["content"]
            if message["msg_type"] == "stream":
                outputs.append(content["text"])
            elif message["msg_type"] == "error":
                outputs.append("\n".join(content["traceback"]))

        reply = client.execute_interactive(
            "import shipyard\n"
            "print(type(catalog).__name__, session.settings.env, params['model']['C'])\n"
            "shipyard.log_metric('rows', 5)\n",
            output_hook=keep,
            timeout=60,
        )
        assert reply["content"]["status"] == "ok", outputs
        assert "Catalog prod 0.5" in "".join(outputs)

        failed = client.execute_interactive("%shipyard run --pipeline nope", timeout=60)
        assert failed["content"]["ename"] == "PipelineNotFoundError"
        assert failed["content"]["traceback"] == [  # what Jupyter shows: no traceback
            "Error: Pipeline 'nope' is not defined in churn.",
            "hint: Defined pipelines: __default__, data_processing, training.",
        ]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=False)  # a clean exit: the notebook's run ends

    store = MetadataStore.open(project_root=project)
    with store.connect() as conn:
        [run] = runs.search(conn)
        assert (run.name, run.status, run.env) == ("explore", "finished", "prod")
        assert runs.tags_of(conn, run.id) == {"source": "notebook"}
        assert metrics.latest(conn, run.id) == {"rows": 5.0}


def test_a_port_in_use_is_refused_before_starting(project):
    settings = Settings.for_project(project)
    kernel = write_kernel_spec(settings)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(LabError) as caught:
            LabServer.start(settings, kernel, port=port, allow_root=True)

    assert f"cannot listen on 127.0.0.1 port {port}" in caught.value.message
    assert f"--port {port + 1}" in caught.value.hint


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_root_needs_allow_root(project):
    settings = Settings.for_project(project)

    with pytest.raises(LabError) as caught:
        LabServer.start(settings, write_kernel_spec(settings))

    assert "does not run as root" in caught.value.message
    assert "--allow-root" in caught.value.hint

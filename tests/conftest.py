"""Fixtures shared by every test folder.

``s3_endpoint`` starts moto's standalone S3 server once per test process on 127.0.0.1
(moto keeps its buckets in-process, so there must be only one); tests that use it are
skipped only when moto or s3fs cannot be imported.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest

BUCKET = "shipyard-test"

# Shipyard caches entry points under $XDG_CACHE_HOME: the tests (and the commands they
# start) keep theirs apart from the user's cache.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="shipyard-test-cache-")


def run_cli(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    missing: str | None = None,
):
    """Run ``shipyard ARGS`` as a user would: a fresh process, output captured. With
    ``missing``, that module cannot be imported, as in an install without its extra."""
    full_env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    full_env.pop("SHIPYARD_ENV", None)
    command = ["-m", "shipyard", *args]
    if missing is not None:
        code = f"import sys; sys.modules[{missing!r}] = None\nfrom shipyard.cli import main\n"
        command = ["-c", code + f"main({list(args)!r})"]
    return subprocess.run(
        [sys.executable, *command],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def project(pristine, tmp_path) -> Path:
    """A copy of the ``pristine`` project of the test's module (or folder), for a test to
    change; folders whose projects are made otherwise define their own ``project``."""
    copy = tmp_path / "churn"
    shutil.copytree(pristine, copy)
    return copy


def churn_project(root: Path, *, champion: bool = False) -> Path:
    """``shipyard new`` + ``shipyard run`` at ``root``, as a user would (churn v1
    registered), and with ``champion`` v1 promoted to churn@champion."""
    steps = [("new", str(root), "--no-git"), ("run", "-q")]
    if champion:
        steps.append(("models", "promote", "churn", "1"))
    for args in steps:
        done = run_cli(*args, cwd=root.parent if args[0] == "new" else root, timeout=300)
        assert done.returncode == 0, done.stderr
    return root


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    try:
        import s3fs  # noqa: F401
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        pytest.skip(f"S3 backend tests need moto[server] and s3fs importable: {exc}")
    saved = {k: os.environ.get(k) for k in _AWS_ENV}
    os.environ.update(_AWS_ENV)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    fs = fsspec.filesystem("s3", endpoint_url=endpoint, skip_instance_cache=True)
    fs.mkdir(BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> Path:
    """A folder of hand-made wheels (tinyone 1.0 and 2.0, tinytwo 1.0) for offline pip."""
    from tests.venvs import write_wheel

    folder = tmp_path_factory.mktemp("wheels")
    for name, version in [("tinyone", "1.0"), ("tinyone", "2.0"), ("tinytwo", "1.0")]:
        write_wheel(folder, name, version)
    return folder

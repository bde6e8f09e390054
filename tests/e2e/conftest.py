"""Projects for the end-to-end tests: one generated and run per module, copied per test."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from tests.conftest import churn_project

from shipyard.serving._run import free_port


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A generated project that has run once, so its data folder holds results (and
    churn version 1 is registered). Tests that change it work on :func:`project`."""
    root = churn_project(tmp_path_factory.mktemp("e2e") / "churn")
    return root


@contextmanager
def serving(
    project: Path, *args: str, model: str = "churn"
) -> Iterator[tuple[str, subprocess.Popen]]:
    """``shipyard serve MODEL ARGS`` in ``project`` as a real process, once it is ready:
    its URL and the process (killed at the end if still running)."""
    port = free_port()
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("SHIPYARD_ENV", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "shipyard", "serve", model, "--port", str(port), *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the server exited: {process.stderr.read()}")
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.05)
        yield url, process
    finally:
        if process.poll() is None:
            # A graceful stop ends the workers of --workers N too; a kill would orphan them.
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        process.wait(timeout=30)

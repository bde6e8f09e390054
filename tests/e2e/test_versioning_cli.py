"""Versioned datasets through the CLI on a generated project."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.conftest import run_cli

pytestmark = pytest.mark.e2e


@pytest.fixture
def project(tmp_path) -> Path:
    # The example's catalog versions every dataset it writes (customers_clean included).
    root = tmp_path / "churn"
    assert run_cli("new", str(root), "--no-git", cwd=tmp_path).returncode == 0
    return root


def versions(project: Path) -> list[dict]:
    result = run_cli("data", "versions", "customers_clean", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["versions"]


def test_versions_tags_pinned_loads_and_verify(project):
    assert run_cli("run", "-q", "--params", "data.n_customers=2000", cwd=project).returncode == 0
    assert run_cli("run", "-q", cwd=project).returncode == 0
    newest, oldest = versions(project)
    assert newest["size"] > oldest["size"]  # 5,000 customers after 2,000
    assert newest["ref"] == f"data:customers_clean@{newest['id']}"

    tagged = run_cli("data", "tag", "customers_clean", oldest["id"][:10], "small", cwd=project)
    assert tagged.returncode == 0, tagged.stderr
    assert versions(project)[1]["tags"] == ["small"]

    pinned = run_cli(
        "run", "-q", "--from-nodes", "build_features",
        "--load-version", "customers_clean=small", cwd=project,
    )  # fmt: skip
    assert pinned.returncode == 0, pinned.stderr
    metrics = json.loads((project / "data/08_reporting/metrics.json").read_text())
    assert metrics["n_test"] == 400  # 20% of the 2,000 customers of the pinned version

    verified = run_cli("data", "verify", "--json", cwd=project)
    assert json.loads(verified.stdout)["verify"]["corrupt"] == []


def test_unknown_version_lists_the_nearest(project):
    assert run_cli("run", "-q", cwd=project).returncode == 0
    result = run_cli(
        "run", "--from-nodes", "build_features", "--load-version", "customers_clean=smal",
        cwd=project,
    )  # fmt: skip
    assert result.returncode == 1
    assert "smal" in result.stderr and "hint:" in result.stderr
    assert "shipyard data versions customers_clean" in result.stderr


def test_verify_reports_a_corrupt_object(project):
    assert run_cli("run", "-q", cwd=project).returncode == 0
    digest = versions(project)[0]["digest"].split(":")[1]
    path = project / ".shipyard/objects" / digest[:2] / digest[2:]
    os.chmod(path, 0o644)
    path.write_bytes(b"not the parquet that was saved")
    result = run_cli("data", "verify", cwd=project)
    assert result.returncode == 1
    assert "corrupt" in result.stderr and digest in result.stderr


def test_versions_of_an_unversioned_dataset(project):
    result = run_cli("data", "versions", "parameters", cwd=project)
    assert result.returncode == 1
    assert "not versioned" in result.stderr and "customers_clean" in result.stderr

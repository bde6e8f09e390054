"""Remotes and garbage collection through the CLI on a generated project."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from tests.conftest import run_cli

pytestmark = pytest.mark.e2e

WORKING = "data/02_intermediate/customers_clean.parquet"


@pytest.fixture
def project(tmp_path) -> Path:
    # The example's catalog versions every dataset it writes, WORKING included.
    root = tmp_path / "churn"
    assert run_cli("new", str(root), "--no-git", cwd=tmp_path).returncode == 0
    return root


@pytest.fixture
def two_versions(project) -> tuple[dict, dict]:
    """A small old version tagged 'small', and a newer one."""
    assert run_cli("run", "-q", "--params", "data.n_customers=2000", cwd=project).returncode == 0
    assert run_cli("run", "-q", cwd=project).returncode == 0
    newest, oldest = versions(project)
    tagged = run_cli("data", "tag", "customers_clean", oldest["id"], "small", cwd=project)
    assert tagged.returncode == 0, tagged.stderr
    return newest, oldest


def versions(project: Path) -> list[dict]:
    result = run_cli("data", "versions", "customers_clean", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["versions"]


def cli_json(project: Path, *args: str) -> dict:
    result = run_cli("data", *args, "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[args[0]]


def objects(project: Path) -> list[Path]:
    return sorted(p for p in (project / ".shipyard/objects").rglob("*") if p.is_file())


def run_pinned(project: Path, ref: str):
    return run_cli(
        "run", "-q", "--from-nodes", "build_features",
        "--load-version", f"customers_clean={ref}", cwd=project,
    )  # fmt: skip


def test_push_fetch_pull_into_an_empty_store_bring_pinned_versions_back(project, two_versions):
    (project / "conf/base/remotes.yml").write_text("team:\n  url: ../team-remote\n  jobs: 2\n")
    pushed = cli_json(project, "push")
    assert pushed["remote"] == "team" and pushed["copied"] >= 2 and pushed["bytes"] > 0
    assert pushed["url"] == str(project.parent / "team-remote")
    assert cli_json(project, "push")["copied"] == 0  # only what the remote lacks

    shutil.rmtree(project / ".shipyard/objects")
    (project / WORKING).unlink()
    assert "not in the object store" in run_pinned(project, "small").stderr

    fetched = cli_json(project, "fetch", "--verify")
    assert fetched["copied"] == pushed["copied"] and "restored" not in fetched
    assert not (project / WORKING).exists()  # fetch moves objects only

    pulled = cli_json(project, "pull")
    assert pulled["copied"] == 0 and pulled["restored"] == ["customers_clean"]
    assert (project / WORKING).exists()
    assert run_cli("data", "verify", "-q", cwd=project).returncode == 0

    pinned = run_pinned(project, "small")
    assert pinned.returncode == 0, pinned.stderr
    metrics = json.loads((project / "data/08_reporting/metrics.json").read_text())
    assert metrics["n_test"] == 400  # 20% of the 2,000 customers of the tagged version


def test_an_unreachable_remote_is_a_clear_error_and_changes_nothing(project):
    assert run_cli("run", "-q", cwd=project).returncode == 0
    (project / "conf/base/remotes.yml").write_text(
        "team:\n  url: s3://bucket/shipyard\n  credentials: team_s3\n"
        "  storage_options: {config_kwargs: {retries: {max_attempts: 1}}}\n"
    )
    with (project / "conf/local/credentials.yml").open("a") as handle:
        handle.write(
            "\nteam_s3:\n  key: testing\n  secret: testing\n  endpoint_url: http://127.0.0.1:9\n"
        )
    before = [(p, p.stat().st_mtime_ns) for p in objects(project)]
    for command in ("push", "pull"):
        result = run_cli("data", command, cwd=project)
        assert result.returncode == 1
        assert "Remote 'team' at s3://bucket/shipyard could not be reached" in result.stderr
        assert "hint:" in result.stderr and "testing" not in result.stderr
    assert [(p, p.stat().st_mtime_ns) for p in objects(project)] == before


def test_remote_configuration_errors(project):
    missing = run_cli("data", "push", cwd=project)
    assert missing.returncode == 1
    assert "No remotes are configured" in missing.stderr and "remotes.yml" in missing.stderr
    (project / "conf/base/remotes.yml").write_text("team:\n  url: ../remote\n")
    unknown = run_cli("data", "pull", "--remote", "tema", cwd=project)
    assert unknown.returncode == 1
    assert "Remote 'tema' is not configured" in unknown.stderr and "team" in unknown.stderr


def test_gc_dry_run_then_tagged_only(project, two_versions):
    newest, _ = two_versions
    stray = project / ".shipyard/objects/ab" / ("c" * 62)
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"an object no version needs")

    dry = cli_json(project, "gc", "--dry-run")
    assert dry["dry_run"] is True
    assert dry["removed"] == [{"digest": "blake3:ab" + "c" * 62, "size": 26}]
    assert stray.exists()

    real = cli_json(project, "gc")
    assert real["removed"] == dry["removed"] and not stray.exists()
    assert run_pinned(project, "small").returncode == 0

    tagged = run_cli("data", "gc", "--keep-tagged-only", "--dry-run", cwd=project)
    assert tagged.returncode == 0 and newest["digest"] in tagged.stdout
    # Only 'small' is tagged: every other dataset's objects go too.
    assert re.search(r"would remove \d+ objects", tagged.stderr)
    removed = [item["digest"] for item in cli_json(project, "gc", "--keep-tagged-only")["removed"]]
    assert newest["digest"] in removed
    assert run_pinned(project, "small").returncode == 0
    dropped = run_pinned(project, newest["id"])
    assert dropped.returncode == 1
    assert f"Version {newest['id']} of dataset 'customers_clean'" in dropped.stderr
    assert "not in the object store" in dropped.stderr

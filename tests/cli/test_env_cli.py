"""``shipyard env export / check / create`` as a user runs them: fresh processes, a real
project, real venvs, wheels made here (no network)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import run_cli
from tests.venvs import BIN, bare_venv

from shipyard.lab import create_project


@pytest.fixture
def project(tmp_path) -> Path:
    return create_project(tmp_path / "p", example=False, init_git=False).path


@pytest.mark.parametrize(
    "command", [["env"], ["env", "export"], ["env", "check"], ["env", "create"]], ids=" ".join
)
def test_every_env_command_has_help(tmp_path, command):
    result = run_cli(*command, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout and len(result.stdout.splitlines()) > 5


def test_export_then_check_in_a_project(project):
    exported = run_cli("env", "export", cwd=project)
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.split() == [
        str(project / "requirements.lock"),
        str(project / "environment.yml"),
    ]
    assert "Pinned" in exported.stderr and "shipyard" in exported.stderr  # editable: a note

    checked = run_cli("env", "check", "--json", cwd=project)
    assert checked.returncode == 0, checked.stderr
    document = json.loads(checked.stdout)
    assert list(document) == ["environment_diff"]
    diff = document["environment_diff"]
    assert set(diff) == {
        *("reference", "current", "identical", "complete", "compared", "counts"),
        *("python", "packages"),
    }
    assert diff["complete"] is True and diff["compared"] > 50
    assert diff["identical"] is True and diff["reference"] == str(project / "requirements.lock")
    assert diff["counts"] == {"major": 0, "minor": 0, "patch": 0}

    plain = run_cli("env", "check", "--file", "environment.yml", "--strict", cwd=project)
    assert plain.returncode == 0, plain.stderr
    assert "No differences" in plain.stderr


def test_check_reports_differences_and_strict_exits_1(project, tmp_path, wheels):
    venv = bare_venv(tmp_path / "a", wheels, "tinyone==1.0")
    lock = tmp_path / "older.lock"
    lock.write_text("# python: 3.11\ntinyone==2.0\ntinytwo==1.0\n")
    args = ("env", "check", "--file", str(lock), "--python", str(venv / BIN / "python"))

    shown = run_cli(*args, cwd=project)
    assert shown.returncode == 0, shown.stderr
    assert "tinyone" in shown.stdout and "major" in shown.stdout and "removed" in shown.stdout

    as_json = run_cli(*args, "--json", cwd=project)
    packages = json.loads(as_json.stdout)["environment_diff"]["packages"]
    assert {(p["name"], p["change"], p["current"]) for p in packages} == {
        ("tinyone", "changed", "1.0"),
        ("tinytwo", "removed", None),
    }
    assert run_cli(*args, "--strict", cwd=project).returncode == 1


def test_check_against_a_run(project):
    code = "import shipyard\nwith shipyard.start_run() as run:\n    print(run.id)\n"
    made = subprocess.run(
        [sys.executable, "-c", code], cwd=project, capture_output=True, text=True, check=True
    )
    run_id = made.stdout.strip()
    checked = run_cli("env", "check", "--run", run_id[:10], "--json", cwd=project)
    assert checked.returncode == 0, checked.stderr
    diff = json.loads(checked.stdout)["environment_diff"]
    assert diff["identical"] is True and diff["reference"] == f"run {run_id}"


def test_bad_usage_and_missing_files(project, tmp_path):
    both = run_cli("env", "check", "--run", "abcd", "--file", "x.lock", cwd=project)
    assert both.returncode == 2 and "not several" in both.stderr
    nothing = run_cli("env", "check", cwd=tmp_path)  # not in a project
    assert nothing.returncode == 1
    assert "requirements.lock" in nothing.stderr and "shipyard env export" in nothing.stderr
    template = run_cli("env", "check", cwd=project)  # environment.yml as made: no pins yet
    assert template.returncode == 0
    assert "names only 0 packages: other packages are not compared" in template.stderr
    unknown = run_cli("env", "export", "--format", "docker", cwd=project)
    assert unknown.returncode == 1 and "--format conda" in unknown.stderr
    assert not (project / "requirements.lock").exists()


@pytest.mark.slow
def test_create_from_a_lock_offline_and_refuse_to_overwrite(tmp_path, wheels):
    lock = tmp_path / "requirements.lock"
    lock.write_text("tinyone==1.0\ntinytwo==1.0\n")
    target = tmp_path / "env"
    args = ("env", "create", "--file", str(lock), "--path", str(target))
    offline = ("--no-index", "--find-links", str(wheels))
    created = run_cli(*args, *offline, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == str(target)
    assert "2 packages" in created.stderr and "bin/activate" in created.stderr
    check = run_cli(
        "env", "check", "--file", str(lock), "--python", str(target / BIN / "python"),
        "--strict", cwd=tmp_path,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout

    again = run_cli(*args, *offline, cwd=tmp_path)
    assert again.returncode == 1
    assert f"Error: {target} already exists" in again.stderr and "--force" in again.stderr
    assert (target / "pyvenv.cfg").is_file()


def record_run(project: Path, packages: dict[str, str]) -> str:
    """A finished run whose recorded environment is ``packages`` (as if it had been made
    in another environment), written through the metadata repositories."""
    import platform

    from shipyard.ids import new_id
    from shipyard.metadata import MetadataStore, environments, experiments, runs

    store = MetadataStore.open(project_root=project)
    run_id = new_id()
    try:
        with store.begin() as conn:
            environments.upsert(
                conn,
                "env-tiny",
                python=platform.python_version(),
                platform="elsewhere",
                packages=packages,
                conda=None,
            )
            experiment = experiments.get_or_create(conn)
            record = runs.RunRecord(
                run_id, experiment, status="finished", environment_id="env-tiny"
            )
            runs.create(conn, record)
    finally:
        store.close()
    return run_id


@pytest.mark.slow
def test_create_from_a_run_recreates_its_packages(project, wheels):
    run_id = record_run(project, {"tinyone": "1.0", "p": "0.1.0", "pip": "23.0"})
    created = run_cli(
        "env", "create", "--from-run", run_id[:10], "--no-index", "--find-links", str(wheels),
        cwd=project,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    venv = project / ".venv-p"
    assert created.stdout.strip() == str(venv)
    assert "p==0.1.0 (this project)" in created.stderr and "pip install -e ." in created.stderr
    checked = run_cli(
        "env", "check", "--run", run_id, "--python", str(venv / BIN / "python"), "--json",
        cwd=project,
    )  # fmt: skip
    packages = json.loads(checked.stdout)["environment_diff"]["packages"]
    assert packages == [  # the project itself is left to `pip install -e .`
        {"name": "p", "change": "removed", "reference": "0.1.0", "current": None,
         "severity": "major"}
    ]  # fmt: skip

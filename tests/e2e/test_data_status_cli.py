"""`shipyard data status`, `checkout` and `add` on a generated project."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tests.conftest import run_cli

pytestmark = pytest.mark.e2e

ENTRIES = """
notes:
  type: text
  filepath: data/01_raw/notes.txt
  versioned: true

days:
  type: partitioned
  path: data/01_raw/days
  dataset: text
  filename_suffix: .txt
  versioned: true
"""


OURS = ("days", "notes")


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "churn"
    assert run_cli("new", str(root), "--no-git", cwd=tmp_path).returncode == 0
    catalog = root / "conf/base/catalog.yml"
    catalog.write_text(catalog.read_text() + ENTRIES)
    days = root / "data/01_raw/days"
    days.mkdir(parents=True)
    for day in ("mon", "tue"):
        (days / f"{day}.txt").write_text(day)
    (root / "data/01_raw/notes.txt").write_text("first notes")
    return root


def data(project: Path, *args: str):
    return run_cli("data", *args, cwd=project)


def data_json(project: Path, *args: str):
    result = data(project, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)[args[0]]


def states(project: Path) -> dict[str, str]:
    """The states of this test's datasets (the template may version others, still empty)."""
    return {item["dataset"]: item["state"] for item in data_json(project, "status", *OURS)}


def test_status_add_status(project):
    shown = data(project, "status")
    assert shown.returncode == 0, shown.stderr
    assert "new" in shown.stdout and "shipyard data add notes" in shown.stdout

    added = data_json(project, "add")
    assert {item["dataset"] for item in added} == {"notes", "days"}
    assert all(item["new"] and item["id"] and item["digest"] for item in added)
    kinds = {item["dataset"]: item["kind"] for item in added}
    assert kinds == {"notes": "file", "days": "tree"}

    clean = data(project, "status")
    assert clean.returncode == 0
    assert "2 versioned datasets, all unchanged" in clean.stderr and clean.stdout == ""
    again = data(project, "add")  # nothing modified or new: nothing recorded
    assert again.returncode == 0 and "nothing to record" in again.stderr
    assert len(data_json(project, "versions", "notes")) == 1


def test_status_json_shape_and_states(project):
    assert data(project, "add", "notes").returncode == 0
    (project / "data/01_raw/notes.txt").write_text("edited")
    everything = data_json(project, "status")
    assert {"days", "notes"} <= {item["dataset"] for item in everything}
    report = [item for item in everything if item["dataset"] in OURS]
    assert [item["dataset"] for item in report] == ["days", "notes"]  # sorted by name
    days, notes = report
    assert set(notes) == {"dataset", "path", "state", "digest", "latest", "matches"}
    assert days["state"] == "new" and days["latest"] is None
    assert days["digest"].startswith("blake3:")
    assert notes["state"] == "modified" and notes["matches"] is None
    assert notes["path"] == "data/01_raw/notes.txt" and notes["latest"]["dataset"] == "notes"
    only = data_json(project, "status", "notes")
    assert [item["dataset"] for item in only] == ["notes"]

    shutil.rmtree(project / "data/01_raw/days")
    (project / "data/01_raw/notes.txt").unlink()
    assert states(project) == {"days": "empty", "notes": "missing"}
    shown = data(project, "status")
    assert shown.returncode == 0  # differences are not failures
    assert "missing" in shown.stdout and "shipyard data checkout notes" in shown.stdout
    assert "not produced yet" in shown.stderr and "days" in shown.stderr


def test_checkout_older_version_by_tag_and_back(project):
    first = data_json(project, "add", "notes")[0]
    assert data(project, "tag", "notes", first["id"], "draft").returncode == 0
    working = project / "data/01_raw/notes.txt"
    working.write_text("second notes")
    second = data_json(project, "add", "notes")[0]

    moved = data_json(project, "checkout", "notes", "--version", "draft")
    assert moved["datasets"][0]["version"]["id"] == first["id"]
    assert moved["datasets"][0]["changed"] is True
    assert working.read_text() == "first notes"
    shown = data(project, "status", "notes")
    assert f"matches older version {first['id']} (draft)" in shown.stdout

    back = data(project, "checkout", "notes")
    assert back.returncode == 0, back.stderr
    assert f"now holds version {second['id']}" in back.stderr
    assert working.read_text() == "second notes"
    assert len(data_json(project, "versions", "notes")) == 2  # checkout records nothing


def test_checkout_refuses_unrecorded_changes_unless_forced(project):
    assert data(project, "add").returncode == 0
    working = project / "data/01_raw/notes.txt"
    working.write_text("precious")
    refused = data(project, "checkout", "notes")
    assert refused.returncode == 1
    assert "notes" in refused.stderr and "data/01_raw/notes.txt" in refused.stderr
    assert "shipyard data add notes" in refused.stderr and "--force" in refused.stderr
    assert working.read_text() == "precious"

    everything = data(project, "checkout")  # several datasets: each refused one is listed
    assert everything.returncode == 1
    assert "notes (data/01_raw/notes.txt)" in everything.stderr and "--force" in everything.stderr
    assert working.read_text() == "precious"

    forced = data(project, "checkout", "notes", "--force")
    assert forced.returncode == 0, forced.stderr
    assert working.read_text() == "first notes"


def test_checkout_without_names_restores_every_working_copy(project):
    assert data(project, "add").returncode == 0
    folder = project / "data/01_raw/days"
    (folder / "wed.txt").write_text("wed")
    assert data(project, "add", "days").returncode == 0
    shutil.rmtree(folder)
    (project / "data/01_raw/notes.txt").unlink()

    restored = data_json(project, "checkout")
    before = {item["dataset"]: item["before"] for item in restored["datasets"]}
    assert before == {
        "days": "missing",
        "notes": "missing",
    }
    assert restored["refused"] == []
    assert sorted(p.name for p in folder.iterdir()) == ["mon.txt", "tue.txt", "wed.txt"]
    assert states(project) == {"days": "unchanged", "notes": "unchanged"}

    versions = data_json(project, "versions", "days")
    older = versions[-1]["id"]
    assert data(project, "checkout", "days", "--version", older).returncode == 0
    assert sorted(p.name for p in folder.iterdir()) == ["mon.txt", "tue.txt"]  # wed removed
    nothing = data(project, "checkout", "notes")
    assert "already held that version" in nothing.stderr


def test_bad_input(project):
    no_name = data(project, "checkout", "--version", "latest")
    assert no_name.returncode == 1 and "exactly one dataset" in no_name.stderr
    unknown = data(project, "status", "note")
    assert unknown.returncode == 1 and "'note' is not versioned" in unknown.stderr
    assert "notes" in unknown.stderr  # did you mean / the versioned ones

    assert data(project, "add", "notes").returncode == 0
    bad_ref = data(project, "checkout", "notes", "--version", "nope")
    assert bad_ref.returncode == 1 and "nope" in bad_ref.stderr
    assert "shipyard data versions notes" in bad_ref.stderr

    (project / "data/01_raw/notes.txt").unlink()
    missing = data(project, "add", "notes")
    assert missing.returncode == 1
    assert "data/01_raw/notes.txt" in missing.stderr and "checkout notes" in missing.stderr

    help_text = run_cli("data", "--help", cwd=project).stdout
    assert all(command in help_text for command in ("status", "checkout", "add"))

"""`shipyard runs reproduce RUN` on the demo project made a git repository: the original
params and input versions come back, the code commit is checked, environment differences
are warnings. The command runs in-process through its own Typer app (the lead registers
it under `shipyard runs`)."""

from __future__ import annotations

import subprocess

import pytest
import sqlalchemy
from tests.tracking.conftest import forget_project_modules, write
from typer.testing import CliRunner

from shipyard.errors import ProjectError
from shipyard.metadata import MetadataStore, lineage, metrics, params, runs
from shipyard.metadata._schema import environments
from shipyard.project import Session


def git(root, *args):
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


@pytest.fixture
def repo(project, monkeypatch):
    """The demo project as a git repository with one commit, and one run of it."""
    git(project, "init", "-q", "-b", "main")
    git(project, "config", "user.email", "t@example.com")
    git(project, "config", "user.name", "Test")
    # data and conf/local stay out of git, as in a project made by `shipyard new`
    write(project / ".gitignore", ".shipyard/\ndata/\nconf/local/\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "first")
    monkeypatch.chdir(project)
    forget_project_modules()
    original = Session.open(project).run().run_id
    return {"root": project, "run": original}


def reproduce(*args):
    import typer

    from shipyard.cli._lineage import reproduce as command

    app = typer.Typer()
    app.command("reproduce")(command)
    app.command("other", hidden=True)(lambda: None)  # keeps `reproduce` a subcommand
    forget_project_modules()
    return CliRunner().invoke(
        app, ["reproduce", *args, "--quiet"], env={"COLUMNS": "200", "NO_COLOR": "1"}
    )


def stored(root, run_id):
    store = MetadataStore.open(project_root=root)
    with store.connect() as conn:
        found = {
            "params": params.of_run(conn, run_id),
            "metrics": metrics.latest(conn, run_id),
            "inputs": {
                e.dataset: e.version_id for e in lineage.of_run(conn, run_id) if e.direction == "in"
            },
            "tags": runs.tags_of(conn, run_id),
            "record": runs.get(conn, run_id),
        }
    store.close()
    return found


def newest_run(root):
    store = MetadataStore.open(project_root=root)
    with store.connect() as conn:
        newest = runs.search(conn, limit=1)[0].id
    store.close()
    return newest


def test_reproduce_uses_the_original_params_and_input_versions(repo):
    root, original = repo["root"], repo["run"]
    before = stored(root, original)
    # conf changes after the run, and the raw data gets a new version (code unchanged)
    write(root / "conf/local/parameters.yml", "factor: 5\n")
    (root / "data/numbers.json").write_text("[10, 20, 30]")
    forget_project_modules()
    changed = Session.open(root).run().run_id
    assert stored(root, changed)["params"]["factor"] == 5
    result = reproduce(original[:10])
    assert result.exit_code == 0, result.output
    new_run = newest_run(root)
    after = stored(root, new_run)
    assert (
        after["params"] == before["params"] == {"factor": 2, "model.epochs": 3, "model.kind": "gbm"}
    )
    assert after["inputs"]["numbers"] == before["inputs"]["numbers"]
    assert after["tags"] == {"reproduces": original}
    assert after["metrics"] == before["metrics"]
    assert f"Run {new_run} reproduces run {original}" in result.output
    assert "metrics match" in result.output


def test_a_different_or_dirty_commit_is_refused_with_the_checkout_hint(repo):
    root, original = repo["root"], repo["run"]
    commit = stored(root, original)["record"].git_commit
    (root / "src/demo/nodes.py").write_text(
        (root / "src/demo/nodes.py").read_text() + "\n# changed\n"
    )
    dirty = reproduce(original)
    assert isinstance(dirty.exception, ProjectError)
    assert commit in dirty.exception.message and "uncommitted changes" in dirty.exception.message
    assert f"git checkout {commit}" in dirty.exception.hint
    git(root, "commit", "-q", "-am", "change the code")
    moved = reproduce(original)
    assert isinstance(moved.exception, ProjectError)
    assert commit in moved.exception.message
    runs_before = newest_run(root)
    assert runs_before == original  # nothing ran


def test_allow_code_change_runs_with_a_warning(repo):
    root, original = repo["root"], repo["run"]
    (root / "src/demo/nodes.py").write_text(
        (root / "src/demo/nodes.py").read_text() + "\n# changed\n"
    )
    result = reproduce(original, "--allow-code-change")
    assert result.exit_code == 0, result.output
    assert "Warning:" in result.output and "--allow-code-change" in result.output
    assert stored(root, newest_run(root))["tags"] == {"reproduces": original}


def test_an_environment_difference_is_a_warning_not_an_error(repo):
    root, original = repo["root"], repo["run"]
    environment_id = stored(root, original)["record"].environment_id
    store = MetadataStore.open(project_root=root)
    with store.begin() as conn:
        row = conn.execute(
            sqlalchemy.select(environments).where(environments.c.id == environment_id)
        ).one()
        packages = dict(row.packages)
        packages["numpy"] = "0.0.1"
        packages["left-pad"] = "1.0"
        conn.execute(
            environments.update()
            .where(environments.c.id == environment_id)
            .values(python="3.9.0", packages=packages)
        )
    store.close()
    result = reproduce(original)
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "environment differs" in output and "Python 3.9.0 then" in output
    assert "left-pad 1.0 → (absent)" in output and "numpy 0.0.1 →" in output


def test_an_unknown_run_names_the_nearest_ids(repo):
    result = reproduce("zzzz")
    assert result.exception is not None
    assert "No run id starts with 'zzzz'" in result.exception.message
    assert repo["run"] in result.exception.message

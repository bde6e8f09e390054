"""Reproducible environments with real venvs, real pip and wheels made here (no network):
export, check against files, runs and models, create (venv); conda's pure parts."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.venvs import BIN, bare_venv, offline, pip_into

import shipyard
from shipyard.errors import EnvironmentSpecError
from shipyard.lab import create_project
from shipyard.lab._env_check import diff_environments
from shipyard.lab._env_create import (
    conda_create_argv,
    create_environment,
    pip_environment,
    unresolvable_packages,
)
from shipyard.lab._env_files import EnvironmentSpec, LocalPackage, read_lock, render_lock
from shipyard.lab._env_yaml import (
    conda_spec,
    merge_conda_export,
    read_environment_yml,
    update_environment_yml,
)
from shipyard.lab._environments import (
    check_environment,
    conda_export_argv,
    export_environment,
    snapshot_environment,
)


def lock_of(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "requirements.lock"
    path.write_text(text, encoding="utf-8")
    return path


# --- venv: export, create, check ----------------------------------------------------------


@pytest.mark.slow
def test_round_trip_export_create_check(tmp_path, wheels):
    venv_a = bare_venv(tmp_path / "a", wheels, "tinyone==1.0", "tinytwo==1.0")
    result = export_environment(
        None, formats="pip", python=venv_a / BIN / "python", output_dir=tmp_path / "out"
    )
    lock = tmp_path / "out" / "requirements.lock"
    assert result.paths == (lock,)
    assert [line for line in lock.read_text().splitlines() if not line.startswith("#")] == [
        "tinyone==1.0",
        "tinytwo==1.0",
    ]
    assert read_lock(lock).python == result.python

    created = create_environment(lock, path=tmp_path / "b", pip_args=offline(wheels))
    assert (created.kind, created.installed, created.path) == ("venv", 2, tmp_path / "b")
    venv_b = created.python
    assert venv_b is not None and venv_b.is_file()
    assert check_environment(lock, current=venv_b).identical

    pip_into(tmp_path / "b", wheels, "tinyone==2.0")
    diff = check_environment(lock, current=venv_b)
    assert [change.to_dict() for change in diff.packages] == [
        {
            "name": "tinyone",
            "change": "changed",
            "reference": "1.0",
            "current": "2.0",
            "severity": "major",
        }
    ]
    assert diff.python is None


@pytest.mark.slow
def test_create_refuses_an_existing_target_and_force_replaces_it(tmp_path, wheels):
    lock = lock_of(tmp_path, "tinytwo==1.0\n")
    target = bare_venv(tmp_path / "env", wheels, "tinyone==1.0")
    marker = target / "mine.txt"
    marker.write_text("keep")
    with pytest.raises(EnvironmentSpecError) as caught:
        create_environment(lock, path=target, pip_args=offline(wheels))
    assert str(target) in caught.value.message and "--force" in caught.value.hint
    assert marker.read_text() == "keep"

    created = create_environment(lock, path=target, force=True, pip_args=offline(wheels))
    assert not marker.exists()
    assert snapshot_environment(created.python).versions().keys() >= {"tinytwo"}
    assert "tinyone" not in snapshot_environment(created.python).versions()
    assert not list(tmp_path.glob(".env.replaced-*"))


def test_force_never_deletes_a_folder_that_is_not_a_venv(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "thesis.txt").write_text("years of work")
    with pytest.raises(EnvironmentSpecError) as caught:
        create_environment(lock_of(tmp_path, "tinyone==1.0\n"), path=folder, force=True)
    assert "pyvenv.cfg" in caught.value.message and "--path" in caught.value.hint
    assert (folder / "thesis.txt").read_text() == "years of work"


@pytest.mark.slow
def test_an_unresolvable_package_is_named_and_nothing_is_left(tmp_path, wheels):
    lock = lock_of(tmp_path, "tinyone==1.0\ntinythree==9.9\n")
    with pytest.raises(EnvironmentSpecError) as caught:
        create_environment(lock, path=tmp_path / "env", pip_args=offline(wheels))
    assert "tinythree==9.9" in caught.value.message
    assert "--find-links" in caught.value.hint
    assert not (tmp_path / "env").exists()

    # with --force, the environment that was there before is put back
    old = bare_venv(tmp_path / "old", wheels, "tinyone==1.0")
    with pytest.raises(EnvironmentSpecError, match="tinythree"):
        create_environment(lock, path=old, force=True, pip_args=offline(wheels))
    assert "tinyone" in snapshot_environment(old / BIN / "python").versions()


# --- check against runs, models and files -------------------------------------------------


@pytest.fixture
def project(tmp_path) -> Path:
    return create_project(tmp_path / "p", example=False, init_git=False).path


def test_check_against_a_tracked_run(project, tmp_path):
    with shipyard.start_run(project_root=project) as run:
        pass
    assert check_environment(run.id, kind="run", project_root=project).identical
    assert check_environment(run.id[:8], project_root=project).identical  # a prefix

    here = snapshot_environment()
    older = dict(here.packages, pandas="1.0.0")
    fabricated = tmp_path / "older.lock"
    fabricated.write_text(render_lock(EnvironmentSpec("x", here.python, older, here.local)))
    diff = check_environment(fabricated)
    assert [(c.name, c.reference, c.severity) for c in diff.packages] == [
        ("pandas", "1.0.0", "major")
    ]
    assert diff.packages[0].current == here.packages["pandas"]


def test_check_against_a_model_without_a_run_uses_its_requirements(project, tmp_path):
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from shipyard.models import ModelRegistry, package

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    model = LogisticRegression().fit(X, [0, 0, 1, 1])
    package(model, example=X, requirements=["scikit-learn", "pandas==0.1"]).save(tmp_path / "m")
    ModelRegistry.for_project(project).register("churn", tmp_path / "m")
    diff = check_environment("churn:1", project_root=project)
    assert diff.reference == "model churn version 1 (package requirements)"
    assert [(c.name, c.change, c.reference) for c in diff.packages] == [
        ("pandas", "changed", "0.1")
    ]  # the rest of this interpreter is not compared: the requirements name only two


def test_export_keeps_the_project_environment_yml_and_reads_back_the_same(project):
    template = (project / "environment.yml").read_text()
    header = template.splitlines()[:4]
    export_environment(project)
    text = (project / "environment.yml").read_text()
    assert text.splitlines()[:4] == header and header[0].startswith("#")
    assert "      - -e .[notebook,test]\n" in text
    python = snapshot_environment().python
    assert f"  - python={'.'.join(python.split('.')[:2])}\n" in text
    from_yml = read_environment_yml(project / "environment.yml")
    from_lock = read_lock(project / "requirements.lock")
    assert from_yml.versions() == from_lock.versions() == snapshot_environment().versions()
    assert from_yml.pip_options == ("-e .[notebook,test]",)
    export_environment(project)  # again: the same file, not pins piled on pins
    assert (project / "environment.yml").read_text() == text
    assert check_environment(project / "environment.yml").identical


def test_a_users_lines_in_environment_yml_are_kept(tmp_path):
    existing = (
        "# ours\nname: lab\nchannels: [defaults]\ndependencies:\n  - python=3.9\n"
        "  - r-base=4.3\n  - pip\n  - pip:\n      - requests>=2\n      - numpy==1.0\n"
        "variables:\n  TOKEN_FILE: ~/.token\n"
    )
    spec = EnvironmentSpec(
        "x", "3.11.7", {"numpy": "1.26.4"}, (LocalPackage("p", "0.1", "this project"),)
    )
    text = update_environment_yml(existing, name="lab", python="3.11.7", spec=spec)
    assert text.startswith('# ours\nname: "lab"\nchannels:\n  - defaults\n')
    assert "  - python=3.11\n  - r-base=4.3\n  - pip\n" in text
    assert "      - requests>=2\n" in text and "numpy==1.0" not in text
    assert "      # local: p==0.1 (this project)\n      - numpy==1.26.4\n" in text
    assert "TOKEN_FILE: ~/.token" in text


def test_bad_inputs_name_the_problem_and_the_fix(tmp_path):
    bad = lock_of(tmp_path, "numpy==1.0\nnot a requirement!\n")
    with pytest.raises(EnvironmentSpecError) as caught:
        check_environment(bad)
    assert "line 2" in caught.value.message and "name==version" in caught.value.hint
    with pytest.raises(EnvironmentSpecError, match="no such interpreter") as caught:
        snapshot_environment(tmp_path / "nope" / "python")
    assert "--python" in caught.value.message
    with pytest.raises(EnvironmentSpecError, match="does not exist"):
        check_environment(tmp_path / "missing.lock")  # a file, not an unknown run id
    with pytest.raises(EnvironmentSpecError, match="Unknown export format"):
        export_environment(tmp_path, formats="docker")
    assert not (tmp_path / "environment.yml").exists()  # nothing written


# --- the diff ------------------------------------------------------------------------------


def spec(python="3.11.4", complete=True, conda=None, **packages) -> EnvironmentSpec:
    return EnvironmentSpec("ref", python, packages, conda=conda or {}, complete=complete)


def test_severities_and_name_normalisation():
    reference = spec(Scikit_Learn="1.4.2", numpy="1.26.4", pandas="2.1.0", scipy="1.11.0", gone="1")
    current = spec(
        "3.12.1",
        **{
            "scikit-learn": "1.4.3",
            "numpy": "2.0.0",
            "pandas": "2.2.0",
            "scipy": "1.11.0",
            "new": "0.1",
            "pip": "24.0",
        },
    )
    diff = diff_environments(reference, current)
    assert diff.python is not None and diff.python.severity == "major"
    rows = {(c.name, c.change, c.severity) for c in diff.packages}
    assert rows == {
        ("Scikit_Learn", "changed", "patch"),
        ("numpy", "changed", "major"),
        ("pandas", "changed", "minor"),
        ("gone", "removed", "major"),
        ("new", "added", "minor"),
    }
    assert diff.counts() == {"major": 3, "minor": 2, "patch": 1}
    assert diff_environments(spec("3.11"), spec("3.11.9")).identical  # X.Y matches X.Y.Z
    assert diff_environments(spec("3.11.2"), spec("3.11.9")).python.severity == "patch"
    # a partial reference (a model's requirements) says nothing of other packages
    assert diff_environments(spec(complete=False, numpy="1.26.4"), current).counts()["minor"] == 0
    # conda pins are prefixes, compared only with packages the current environment has
    conda = spec(conda={"numpy": "1.26", "openssl": "3.0.13"})
    assert diff_environments(conda, spec(numpy="1.26.4")).identical
    assert diff_environments(conda, spec(numpy="1.27.0")).packages[0].severity == "minor"


# --- conda, without conda: the pure parts ---------------------------------------------------

CONDA_EXPORT = """\
name: base
channels:
  - conda-forge
dependencies:
  - numpy=1.26.4
  - python=3.11.7
  - pip=24.0
  - pip:
      - shipyard==0.1.0
      - tinyone==1.0
prefix: /opt/conda/envs/lab
"""


def test_conda_argv_and_export_merge():
    assert conda_create_argv("mamba", Path("environment.yml"), name="churn") == [
        "mamba",
        "env",
        "create",
        "--file",
        "environment.yml",
        "--name",
        "churn",
    ]
    assert conda_create_argv("conda", Path("e.yml"), prefix=Path("/x/env"))[-2:] == [
        "--prefix",
        "/x/env",
    ]
    assert conda_export_argv("conda", Path("/p")) == [
        "conda",
        "env",
        "export",
        "--no-builds",
        "--prefix",
        "/p",
    ]
    existing = "# Top comment\nname: churn\ndependencies:\n  - pip:\n      - -e .[notebook]\n"
    local = (LocalPackage("shipyard", "0.1.0", "editable, file:///src"),)
    text = merge_conda_export(
        CONDA_EXPORT, existing, name="churn", spec=EnvironmentSpec("x", "3.11.7", local=local)
    )
    assert text.startswith('# Top comment\nname: "churn"\n')
    assert "prefix" not in text and "  - numpy=1.26.4\n  - python=3.11.7\n  - pip=24.0\n" in text
    assert "      - -e .[notebook]\n" in text and "      - tinyone==1.0\n" in text
    assert "shipyard==0.1.0\n" not in text.replace("# local: shipyard==0.1.0", "")
    path_spec = read_environment_yml_text(text)
    assert path_spec.conda == {"numpy": "1.26.4"} and path_spec.python == "3.11.7"
    assert path_spec.packages == {"tinyone": "1.0"}


def read_environment_yml_text(text: str) -> EnvironmentSpec:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "environment.yml"
        path.write_text(text)
        return read_environment_yml(path)


def test_conda_specs_pip_variables_and_failure_messages():
    assert conda_spec("conda-forge::numpy=1.26.4=py311h64a7726_0") == ("numpy", "1.26.4")
    assert conda_spec("python=3.11") == ("python", "3.11")
    assert conda_spec("numpy 1.26.4") == ("numpy", "1.26.4")
    assert conda_spec("numpy>=1.2") == ("numpy", None)
    assert conda_spec("pip") == ("pip", None)
    assert pip_environment(["--no-index", "--find-links", "/w", "--find-links=/v"]) == {
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": "/w /v",
    }
    with pytest.raises(EnvironmentSpecError, match="--pre"):
        pip_environment(["--pre"])
    conda_output = (
        "PackagesNotFoundError: The following packages are not available from current "
        "channels:\n\n  - tinythree=9.9\n  - tinyfour\n\nCurrent channels:\n"
    )
    assert unresolvable_packages(conda_output) == ["tinythree=9.9", "tinyfour"]
    pip_output = (
        "ERROR: Could not find a version that satisfies the requirement tinythree==9.9 "
        "(from versions: none)\nERROR: No matching distribution found for tinythree==9.9\n"
    )
    assert unresolvable_packages(pip_output) == ["tinythree==9.9"]

"""Git and environment capture: real git repositories, a real package cache file."""

from __future__ import annotations

import json
import subprocess

import pytest

from shipyard.objects import hash_bytes
from shipyard.tracking import _capture
from shipyard.tracking._capture import GitState, capture_environment, capture_git


def git(folder, *args):
    subprocess.run(
        ["git", "-C", str(folder), *args],
        check=True,
        capture_output=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
            "PATH": "/usr/bin:/bin",
            "HOME": str(folder),
        },
    )


@pytest.fixture
def repo(tmp_path):
    folder = tmp_path / "repo"
    folder.mkdir()
    git(folder, "init", "-q", "-b", "main")
    (folder / "train.py").write_text("print('v1')\n")
    git(folder, "add", "train.py")
    git(folder, "commit", "-q", "-m", "first")
    return folder


def test_a_clean_repository_gives_commit_and_branch(repo):
    state = capture_git(repo / ".")
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert state == GitState(commit=head, branch="main", dirty=False, diff_digest=None)


def test_a_subfolder_of_the_repository_is_in_it(repo):
    (repo / "src" / "pkg").mkdir(parents=True)
    assert capture_git(repo / "src" / "pkg").branch == "main"


def test_a_dirty_tree_gives_the_digest_of_its_diff(repo):
    (repo / "train.py").write_text("print('v2')\n")
    state = capture_git(repo)
    diff = subprocess.run(
        ["git", "-C", str(repo), "diff", "HEAD", "--no-color"], capture_output=True, check=True
    ).stdout
    assert state.dirty is True
    assert state.diff_digest == str(hash_bytes(diff))
    # Another change, another digest; untracked files do not make the tree dirty.
    (repo / "train.py").write_text("print('v3')\n")
    assert capture_git(repo).diff_digest not in {None, state.diff_digest}
    (repo / "train.py").write_text("print('v1')\n")
    (repo / "notes.txt").write_text("scratch")
    assert capture_git(repo).dirty is False


def test_a_detached_head_has_no_branch(repo):
    git(repo, "checkout", "-q", "--detach")
    state = capture_git(repo)
    assert state.branch is None and state.commit is not None


def test_outside_a_repository_every_field_is_none(tmp_path):
    assert capture_git(tmp_path) == GitState()


def test_a_repository_without_commits_gives_nothing(tmp_path):
    git(tmp_path, "init", "-q")
    assert capture_git(tmp_path) == GitState()


def test_no_git_installed_gives_nothing(repo, monkeypatch):
    monkeypatch.setenv("PATH", str(repo / "no-bin-here"))
    assert capture_git(repo) == GitState()


def test_environment_is_described_and_named_by_its_content(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CONDA_PREFIX", raising=False)
    _capture._installed.cache_clear()
    environment = capture_environment()
    assert environment.packages["blake3"]
    assert environment.conda is None
    assert environment.id.startswith("blake3:") and len(environment.id) == 71
    assert capture_environment() == environment  # same content, same id
    cached = list((tmp_path / "cache" / "shipyard").glob("packages-*.json"))
    assert len(cached) == 1
    document = json.loads(cached[0].read_text())
    assert document["packages"] == environment.packages


def test_the_package_cache_file_answers_without_scanning(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CONDA_PREFIX", raising=False)
    _capture._installed.cache_clear()
    capture_environment()
    cache_file = next((tmp_path / "cache" / "shipyard").glob("packages-*.json"))
    document = json.loads(cache_file.read_text())
    document["packages"] = {"only-this": "1.0"}
    cache_file.write_text(json.dumps(document))
    _capture._installed.cache_clear()
    assert capture_environment().packages == {"only-this": "1.0"}
    cache_file.write_text("{not json")  # a damaged cache is ignored and rewritten
    _capture._installed.cache_clear()
    assert "blake3" in capture_environment().packages


def test_conda_is_exported_only_inside_a_conda_environment(tmp_path, monkeypatch):
    conda = tmp_path / "conda"
    conda.write_text('#!/bin/sh\necho "name: base"\necho "prefix: $4"\n')
    conda.chmod(0o755)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("CONDA_EXE", str(conda))
    monkeypatch.setenv("CONDA_PREFIX", str(tmp_path / "env"))
    _capture._installed.cache_clear()
    inside = capture_environment()
    assert inside.conda == f"name: base\nprefix: {tmp_path / 'env'}\n"
    monkeypatch.delenv("CONDA_PREFIX")
    _capture._installed.cache_clear()
    outside = capture_environment()
    assert outside.conda is None and outside.id != inside.id

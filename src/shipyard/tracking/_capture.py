"""What a run was made with: the code (git) and the environment (interpreter, packages).

Both are captured at the start of every run, so both must be cheap. Git answers in a few
milliseconds through ``git`` subprocesses (each with a timeout, so a hung filesystem or
credential prompt never stalls a run). The package list costs ~30 ms to read from
``importlib.metadata``, so it is cached per environment in ``$XDG_CACHE_HOME/shipyard``
under the key that Shipyard's entry-point cache uses (the stat of the ``sys.path``
folders, which changes whenever a package is installed or removed).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from shipyard._entry_points import cache_folder, environment_key, write_cache
from shipyard.objects import hash_bytes

__all__ = ["Environment", "GitState", "capture_environment", "capture_git"]

GIT_TIMEOUT_S = 5.0
CONDA_TIMEOUT_S = 20.0
_FORMAT = 1


@dataclass(frozen=True, slots=True)
class GitState:
    """The code a run was made from; every field is None outside a git work tree."""

    commit: str | None = None
    branch: str | None = None  # None on a detached HEAD
    dirty: bool | None = None
    #: blake3 of ``git diff HEAD``: two dirty runs with the same digest ran the same code.
    diff_digest: str | None = None


@dataclass(frozen=True, slots=True)
class Environment:
    """The interpreter and packages of a run; ``id`` is the blake3 of its canonical JSON,
    so identical environments are stored once."""

    id: str
    python: str
    platform: str
    packages: dict[str, str]
    conda: str | None


def capture_git(folder: Path) -> GitState:
    """The git state of the work tree holding ``folder``; empty when there is none (no
    repository, no git installed, no commit yet, or git too slow to answer).

    Outside a repository no git process is started (a stat per parent folder finds
    that out); inside one, ``git status`` answers commit, branch and dirtiness at once,
    and ``git diff HEAD`` runs only when the tree is dirty."""
    if not _in_work_tree(folder):
        return GitState()
    status = _git(folder, "status", "--porcelain=v2", "--branch", "--untracked-files=no")
    if status is None:
        return GitState()
    headers = dict(line[2:].split(" ", 1) for line in status.splitlines() if line.startswith("# "))
    commit = headers.get("branch.oid")
    if commit is None or commit == "(initial)":
        return GitState()
    branch = headers.get("branch.head")
    dirty = any(not line.startswith("#") for line in status.splitlines())
    diff = _git_bytes(folder, "diff", "HEAD", "--no-color", "--no-ext-diff") if dirty else None
    return GitState(
        commit=commit,
        branch=None if branch in {None, "(detached)"} else branch,
        dirty=dirty,
        diff_digest=str(hash_bytes(diff)) if diff is not None else None,
    )


def _in_work_tree(folder: Path) -> bool:
    resolved = folder.resolve()
    return any((parent / ".git").exists() for parent in (resolved, *resolved.parents))


def _git(folder: Path, *args: str) -> str | None:
    output = _git_bytes(folder, *args)
    return output.decode("utf-8", "replace").strip() if output is not None else None


def _git_bytes(folder: Path, *args: str) -> bytes | None:
    try:
        completed = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
            # never prompt for anything, never page
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout if completed.returncode == 0 else None


def capture_environment() -> Environment:
    """This interpreter's environment. The package list comes from the per-environment
    cache when the ``sys.path`` folders are unchanged; conda is asked only inside a conda
    environment (``$CONDA_PREFIX``)."""
    packages, conda = _installed(environment_key(), os.environ.get("CONDA_PREFIX") or None)
    content = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": packages,
        "conda": conda,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return Environment(id=str(hash_bytes(canonical.encode())), **content)


@cache  # the key changes only when packages change, which a running process rarely sees
def _installed(key: str, conda_prefix: str | None) -> tuple[dict[str, str], str | None]:
    """The packages and conda export of the environment, from the cache file of ``key``
    when there is one (installing with conda changes the key as pip does)."""
    folder = cache_folder()
    cache_file = folder / f"packages-{key[:32]}.json" if folder is not None else None
    if cache_file is not None:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            document = json.loads(cache_file.read_text())
            if (document["format"], document["key"]) == (_FORMAT, key) and document[
                "conda_prefix"
            ] == conda_prefix:
                return dict(document["packages"]), document["conda"]
    packages = _scan_packages()
    conda = _conda_export(conda_prefix) if conda_prefix else None
    if cache_file is not None:
        document = {"format": _FORMAT, "key": key, "conda_prefix": conda_prefix}
        write_cache(cache_file, {**document, "packages": packages, "conda": conda})
    return packages, conda


def _scan_packages() -> dict[str, str]:
    from importlib.metadata import distributions

    packages: dict[str, str] = {}
    for dist in distributions():
        metadata = dist.metadata  # parsed anew on each access: once per distribution
        name = metadata["Name"] if metadata else None
        if name and name not in packages:  # an earlier sys.path entry shadows later copies
            packages[name] = metadata["Version"]
    return dict(sorted(packages.items(), key=lambda item: item[0].lower()))


def _conda_export(prefix: str) -> str | None:
    executable = os.environ.get("CONDA_EXE") or "conda"
    try:
        completed = subprocess.run(
            [executable, "env", "export", "--prefix", prefix, "--no-builds"],
            capture_output=True,
            text=True,
            timeout=CONDA_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout if completed.returncode == 0 else None

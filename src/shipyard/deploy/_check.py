"""Check a folder of deployment files before any engine sees them.

``docker compose`` and ``kubectl`` find most mistakes only when they run, against a
daemon or a cluster, often after half a stack has started. :func:`check_folder` reads the
files alone: every YAML file must parse; a compose file and Kubernetes documents are
checked for the mistakes that break a deployment (a selector that matches no pod, an
autoscaler aimed at a missing Deployment, a healthcheck run by a shell, a password
written in clear); a ``Dockerfile`` is linted by ``hadolint`` when it is installed, else
by built-in rules, and every file it copies must be in the folder; a model bundle
(``deploy.json`` beside a model package) must still match its digests.

The rules the generators also obey (what an image reference, a cron schedule and a
secret are) are in ``_rules.py`` and ``_secrets.py``; the checks of compose and
Kubernetes files in ``_check_manifests.py``, of Dockerfiles in ``_check_docker.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from shipyard.deploy._check_docker import check_dockerfile
from shipyard.deploy._check_manifests import check_compose, check_kubernetes
from shipyard.deploy._rules import CheckReport, Found, Problem
from shipyard.errors import ConfigError, ShipyardError
from shipyard.models._bundle import BUNDLE_FILE, MODEL_FOLDER, BundleSource
from shipyard.models._package import verify_package

__all__ = ["COMPOSE_FILES", "CheckReport", "Problem", "check_folder"]

#: The names ``docker compose`` reads by default.
COMPOSE_FILES = frozenset(
    {"docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml"}
)


def check_folder(folder: Path) -> CheckReport:
    """Check every deployment file in ``folder`` (and its sub-folders, hidden ones aside).

    No engine, daemon or cluster is needed: YAML files must parse; compose files
    (``docker-compose.yml``, ``compose.yaml``, ...) and Kubernetes documents are checked
    for structure and consistency; each ``Dockerfile`` is linted; each model bundle's
    files are checked against their digests. ``checked`` says what ran on which file.
    :class:`ConfigError` if ``folder`` is not a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(
            f"Cannot check '{folder}': it is not a folder.",
            hint="Pass the folder the deployment files were written to.",
        )
    found, checked = Found(folder), []
    manifests: list[tuple[str, int, Any]] = []
    for path in _files(folder):
        rel = path.relative_to(folder).as_posix()
        if path.name == "Dockerfile":
            checked.extend(check_dockerfile(path, rel, found))
            continue
        if path.name == BUNDLE_FILE:
            checked.append(_check_bundle(path.parent, found))
            continue
        documents = _parse_yaml(path, rel, found)
        if documents is None:
            checked.append(f"{rel}: YAML")
        elif path.name in COMPOSE_FILES:
            check_compose(path, rel, documents, found)
            checked.append(f"{rel}: YAML, compose")
        elif any(
            isinstance(doc, dict) and doc.keys() & {"apiVersion", "kind"} for doc in documents
        ):
            manifests.extend((rel, index, doc) for index, doc in enumerate(documents))
            checked.append(f"{rel}: YAML, Kubernetes")
        else:
            checked.append(f"{rel}: YAML")
    if manifests:
        check_kubernetes(manifests, found)
    if not checked:
        found.error(".", "", f"Found no YAML file or Dockerfile to check in '{folder}'.")
    return CheckReport(folder, tuple(checked), tuple(found))


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if any(part.startswith(".") for part in parts) or not path.is_file():
            continue
        if path.suffix in (".yml", ".yaml") or path.name in ("Dockerfile", BUNDLE_FILE):
            yield path


def _check_bundle(folder: Path, found: Found) -> str:
    """A model bundle (what a serving image carries): every file of its package must
    still match the digest it was written with, as the server checks before loading."""
    rel = (folder / BUNDLE_FILE).relative_to(found.root).as_posix()
    try:
        BundleSource(folder)
        verify_package(folder / MODEL_FOLDER)
    except ShipyardError as exc:
        found.error(rel, "", exc.message)
    return f"{rel}: model bundle (file digests)"


def _parse_yaml(path: Path, rel: str, found: Found) -> list[Any] | None:
    try:
        return list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except UnicodeDecodeError:
        found.error(rel, "", "The file is not UTF-8 text.")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        found.error(rel, where, f"The file is not valid YAML: {reason}.")
    return None

"""Reproducible environments: write them down, compare with them, recreate them.

A project's environment is written in two files beside its ``pyproject.toml``, both
by ``shipyard env export``:

``requirements.lock``
    every installed distribution as ``name==version`` (``_env_files`` has the format),
    for ``pip install -r`` or ``shipyard env create`` without conda.
``environment.yml``
    the template's conda file, kept in sync (``_env_yaml``): ``python=X.Y`` of the
    interpreter and a pinned ``pip:`` list; inside a conda environment, the channels and
    conda pins of ``conda env export --no-builds``.

``shipyard env check`` compares an interpreter (this one, or ``--python PATH``) with a
reference: one of those files, the environment a tracked run was made in, or a
registered model's (its run's, else its package's requirements). ``shipyard env
create`` (``_env_create``) builds a new environment from any of them.

Another interpreter is read by running it on ``_env_probe``'s source (an argv list, no
shell), so it needs no Shipyard of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from shipyard.data._paths import write_text
from shipyard.errors import EnvironmentSpecError, MetadataError, ProjectError
from shipyard.lab import _env_probe
from shipyard.lab._env_check import EnvironmentDiff, diff_environments
from shipyard.lab._env_files import (
    LOCK_FILE,
    EnvironmentSpec,
    LocalPackage,
    normalize_name,
    parse_requirements,
    read_lock,
    render_lock,
)
from shipyard.lab._env_yaml import (
    ENVIRONMENT_FILE,
    environment_name,
    merge_conda_export,
    read_environment_yml,
    update_environment_yml,
)

__all__ = [
    "ExportResult",
    "as_local",
    "check_environment",
    "conda_executable",
    "export_environment",
    "load_environment",
    "project_name",
    "snapshot_environment",
]

PROBE_TIMEOUT_S = 60.0
CONDA_EXPORT_TIMEOUT_S = 300.0
FORMATS = ("conda", "pip")
SPEC_SUFFIXES = (".yml", ".yaml", ".lock", ".txt")
ReferenceKind = Literal["run", "model", "file"]


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What :func:`export_environment` wrote: ``paths``, and what it found: the Python
    version, the number of pinned packages, the local ones (not pinned) and whether the
    environment.yml came from ``conda env export``."""

    paths: tuple[Path, ...]
    python: str
    packages: int
    local: tuple[LocalPackage, ...]
    conda: bool


def snapshot_environment(python: str | Path | None = None) -> EnvironmentSpec:
    """The environment of ``python`` (a path, or a name on PATH; default: this
    interpreter): its version, platform and every installed distribution."""
    return _snapshot(python)[0]


def export_environment(
    project_root: str | Path | None,
    *,
    formats: str | Iterable[str] = FORMATS,
    python: str | Path | None = None,
    output_dir: str | Path | None = None,
) -> ExportResult:
    """Write the environment of ``python`` (default: this interpreter) as
    ``requirements.lock`` (format ``pip``) and ``environment.yml`` (format ``conda``)
    into ``output_dir`` (default: the project's folder). Each file is written whole or
    not at all; the project's own package is a ``# local:`` comment, never a pin.

    >>> result = export_environment(Path("churn"))  # doctest: +SKIP
    >>> [path.name for path in result.paths]  # doctest: +SKIP
    ['requirements.lock', 'environment.yml']
    """
    root = Path(project_root).resolve() if project_root is not None else None
    folder = Path(output_dir) if output_dir is not None else root
    if folder is None:
        raise ProjectError(
            "There is no project here to export the environment into.",
            hint="Run the command inside a project, or name a folder with --output-dir.",
        )
    chosen = _formats(formats)
    spec, probed = _snapshot(python)
    name = project_name(root) if root is not None else folder.resolve().name
    spec = as_local(spec, project=name)
    texts: dict[Path, str] = {}  # every file made before any is written
    if "pip" in chosen:
        texts[folder / LOCK_FILE] = render_lock(spec)
    from_conda = False
    if "conda" in chosen:
        yml = folder / ENVIRONMENT_FILE
        existing = yml.read_text(encoding="utf-8") if yml.is_file() else None
        env_name = environment_name(existing) or name
        executable = conda_executable()
        if executable is not None and is_conda_prefix(Path(probed["prefix"])):
            export = _conda_export(executable, Path(probed["prefix"]))
            text = merge_conda_export(export, existing, name=env_name, spec=spec)
            from_conda = True
        else:
            assert spec.python is not None  # a snapshot always knows its Python
            text = update_environment_yml(existing, name=env_name, python=spec.python, spec=spec)
        texts[yml] = text
    for path, text in texts.items():
        write_text(path, text)
    return ExportResult(
        tuple(texts), spec.python or "?", len(spec.requirements()), spec.local, from_conda
    )


def check_environment(
    reference: str | Path | EnvironmentSpec,
    *,
    current: str | Path | EnvironmentSpec | None = None,
    kind: ReferenceKind | None = None,
    project_root: str | Path | None = None,
) -> EnvironmentDiff:
    """How ``current`` (an interpreter path, a spec; default: this interpreter) differs
    from ``reference``: a run id or prefix, a model reference (``churn@champion``), an
    environment.yml or a requirements file (see :func:`load_environment`).

    >>> diff = check_environment("requirements.lock")  # doctest: +SKIP
    >>> diff.identical, diff.counts()  # doctest: +SKIP
    (False, {'major': 1, 'minor': 0, 'patch': 2})
    """
    if not isinstance(reference, EnvironmentSpec):
        reference = load_environment(reference, kind=kind, project_root=project_root)
    if not isinstance(current, EnvironmentSpec):
        current = snapshot_environment(current)
    return diff_environments(reference, current)


def load_environment(
    reference: str | Path,
    *,
    kind: ReferenceKind | None = None,
    project_root: str | Path | None = None,
) -> EnvironmentSpec:
    """The environment ``reference`` names. Without ``kind``: a file when it exists or
    looks like one (a path, or a name ending in .yml, .yaml, .lock or .txt; .yml/.yaml
    is an environment.yml, any other a requirements file), else a model reference when
    it has ``@`` or ``:`` (``churn@champion``, ``churn:3``), else a run id or prefix.
    Runs and models are read from the project's store (or ``$SHIPYARD_DB``)."""
    text = str(reference)
    if kind is None:
        kind = _guess_kind(text)
    root = Path(project_root) if project_root is not None else None
    if kind == "file":
        path = Path(text)
        if path.suffix.lower() in (".yml", ".yaml"):
            return read_environment_yml(path)
        return read_lock(path)
    if kind == "model":
        return _model_environment(text, root)
    return _run_environment(text, root)


def _guess_kind(text: str) -> ReferenceKind:
    path = Path(text)
    if text.lower().startswith("models:/"):
        return "model"
    if path.is_file() or path.suffix.lower() in SPEC_SUFFIXES or "/" in text or os.sep in text:
        return "file"  # a missing file is reported as one, not as an unknown run
    return "model" if "@" in text or ":" in text else "run"


def project_name(root: Path) -> str:
    """The project's distribution name (``[project] name`` of pyproject.toml), else its
    folder's name."""
    try:
        document = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return root.name
    name = document.get("project", {}).get("name")
    return name if isinstance(name, str) and name else root.name


def conda_executable() -> str | None:
    """mamba if it is on PATH (faster), else conda (``$CONDA_EXE``, then PATH), else None."""
    return shutil.which("mamba") or os.environ.get("CONDA_EXE") or shutil.which("conda")


def is_conda_prefix(prefix: Path) -> bool:
    """Whether ``prefix`` (an interpreter's ``sys.prefix``) is a conda environment."""
    return (prefix / "conda-meta").is_dir()


def conda_export_argv(executable: str, prefix: Path) -> list[str]:
    """The command that exports the conda environment at ``prefix``, without builds."""
    return [executable, "env", "export", "--no-builds", "--prefix", str(prefix)]


def _snapshot(python: str | Path | None) -> tuple[EnvironmentSpec, dict[str, Any]]:
    probed = _env_probe.probe() if python is None else _probe_interpreter(python)
    packages: dict[str, str | None] = {}
    local: list[LocalPackage] = []
    for name, info in probed["packages"].items():
        if info["local"] is None:
            packages[name] = info["version"]
        else:
            origin = f"editable, {info['local']}" if info["editable"] else str(info["local"])
            local.append(LocalPackage(name, info["version"], origin))
    spec = EnvironmentSpec(
        source=f"Python {probed['python']} at {probed['executable']}",
        python=probed["python"],
        packages=packages,
        local=tuple(local),
        platform=probed["platform"],
    )
    return spec, probed


def interpreter_path(python: str | Path) -> Path:
    """``python`` as an existing interpreter path (a bare name is looked up on PATH)."""
    candidate = Path(python).expanduser()
    if not candidate.exists() and os.sep not in str(python):
        found = shutil.which(str(python))
        candidate = Path(found) if found else candidate
    if not candidate.is_file():
        raise EnvironmentSpecError(
            f"--python {python}: no such interpreter.",
            hint="Give the path of a Python executable, e.g. .venv/bin/python or "
            "$CONDA_PREFIX/bin/python.",
        )
    return candidate.absolute()


def _probe_interpreter(python: str | Path) -> dict[str, Any]:
    executable = interpreter_path(python)
    source = Path(_env_probe.__file__).read_text(encoding="utf-8")
    try:
        completed = subprocess.run(
            [str(executable), "-c", source],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
        if completed.returncode != 0:
            raise OSError(completed.stderr.strip().splitlines()[-1:] or completed.returncode)
        return json.loads(completed.stdout)
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        raise EnvironmentSpecError(
            f"--python {python}: the interpreter could not list its packages: {exc}",
            hint="Give the path of a working Python 3.8 or newer interpreter.",
        ) from exc


def _conda_export(executable: str, prefix: Path) -> str:
    argv = conda_export_argv(executable, prefix)
    try:
        completed = subprocess.run(
            argv, capture_output=True, text=True, timeout=CONDA_EXPORT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        completed = None
        detail = str(exc)
    if completed is not None and completed.returncode == 0:
        return completed.stdout
    if completed is not None:
        detail = (completed.stderr or completed.stdout).strip()
    raise EnvironmentSpecError(
        f"`{' '.join(argv)}` failed: {detail}",
        hint="Check that conda works in this shell (`conda info`), or export without conda: "
        "--format pip.",
    )


def _formats(formats: str | Iterable[str]) -> set[str]:
    if isinstance(formats, str):
        chosen = set(FORMATS) if formats == "both" else {formats}
    else:
        chosen = set(formats)
    unknown = chosen - set(FORMATS)
    if unknown or not chosen:
        raise EnvironmentSpecError(
            f"Unknown export format {', '.join(sorted(unknown)) or '(none)'}.",
            hint="Use --format conda (environment.yml), pip (requirements.lock) or both.",
        )
    return chosen


def as_local(
    spec: EnvironmentSpec, *, project: str | None, here: EnvironmentSpec | None = None
) -> EnvironmentSpec:
    """``spec`` with the packages no index has moved from its pins to its local ones:
    the project's own package, and (given ``here``, an interpreter's snapshot) those
    installed from a local folder there at the same version. A run records versions,
    not where packages came from: an editable checkout of a library is pinned in it."""
    own = normalize_name(project) if project else None
    here_local = {normalize_name(item.name): item for item in here.local} if here else {}
    local = [
        replace(item, origin="this project") if normalize_name(item.name) == own else item
        for item in spec.local
    ]
    packages: dict[str, str | None] = {}
    for name, version in spec.packages.items():
        key = normalize_name(name)
        if key == own and version:
            local.insert(0, LocalPackage(name, version, "this project"))
        elif key in here_local and here_local[key].version == version and version:
            local.append(LocalPackage(name, version, here_local[key].origin))
        else:
            packages[name] = version
    return replace(spec, packages=packages, local=tuple(local))


def _run_environment(ref: str, root: Path | None) -> EnvironmentSpec:
    from shipyard.metadata import environments, runs

    store = _store(root)
    with store.connect() as conn:
        record = runs.get(conn, ref)
        if record.environment_id is None:
            raise MetadataError(
                f"Run {record.id} has no recorded environment.",
                hint="Runs record their environment when they start; check against "
                "another run (`shipyard runs list`) or a file (--file).",
            )
        recorded = environments.get(conn, record.environment_id)
    return EnvironmentSpec(
        source=f"run {record.id}",
        python=recorded["python"],
        packages=dict(recorded["packages"]),
        platform=recorded["platform"],
    )


def _model_environment(ref: str, root: Path | None) -> EnvironmentSpec:
    from shipyard.models import ModelRegistry

    registry = ModelRegistry.for_project(root)
    version = registry.resolve(ref)
    label = f"model {version.model} version {version.version}"
    if version.run_id is not None:
        try:
            spec = _run_environment(version.run_id, root)
        except MetadataError:
            pass  # the run is gone or recorded no environment: use the package's pins
        else:
            return replace(spec, source=f"{label} (run {version.run_id})")
    manifest = registry.manifest(version)
    packages, _ = parse_requirements(manifest.requirements, source=label)
    return EnvironmentSpec(
        source=f"{label} (package requirements)",
        python=manifest.python,
        packages=packages,
        complete=False,
    )


def _store(root: Path | None) -> Any:
    from shipyard.tracking._stores import DB_VARIABLE, tracking_for

    tracking = tracking_for(root)
    if tracking is None:
        raise ProjectError(
            f"No Shipyard project at or above {Path.cwd()}, and ${DB_VARIABLE} is not set: "
            "there are no runs to read.",
            hint="Run the command inside a project, or check against a file with --file.",
        )
    return tracking.store

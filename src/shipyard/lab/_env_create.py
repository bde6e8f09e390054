"""``create_environment``: a new environment from a lock, an environment.yml or a run.

With conda or mamba on PATH and an environment.yml, it is ``conda env create``. Otherwise
it is a virtual environment: ``python -m venv PATH``, then ``PATH/bin/python -m pip
install -r LOCK`` with the caller's pip options (``--no-index --find-links DIR`` work
offline). Every command is an argv list; no shell is ever involved.

Nothing is half-made: an existing environment is refused unless ``force`` is given; with
``force`` a venv is moved aside and put back if the new one fails. A failed creation
removes what it made, and a package that no index has is named in the error.
Packages from a local folder (the project itself, an editable checkout) are not
installed: they are listed in ``CreatedEnvironment.skipped`` with how to install them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import EnvironmentSpecError
from shipyard.lab._env_files import EnvironmentSpec, render_lock
from shipyard.lab._env_yaml import environment_name
from shipyard.lab._environments import (
    as_local,
    conda_executable,
    interpreter_path,
    load_environment,
    project_name,
    snapshot_environment,
)

__all__ = [
    "CreatedEnvironment",
    "conda_create_argv",
    "create_environment",
    "pip_environment",
    "unresolvable_packages",
]

Progress = Callable[[str], None]
_NOT_FOUND = (
    re.compile(r"No matching distribution found for (\S+)"),
    re.compile(r"Could not find a version that satisfies the requirement (\S+)"),
    re.compile(r"nothing provides requested (\S+(?: [^\s*]+)?)"),  # mamba
)


@dataclass(frozen=True, slots=True)
class CreatedEnvironment:
    """What :func:`create_environment` made: a ``venv`` at ``path`` or a ``conda``
    environment ``name``; ``python`` is its interpreter (None for conda, which knows it
    by name), ``installed`` the number of pinned packages, ``skipped`` the local
    packages left to install by hand, ``notes`` anything the user should know."""

    kind: str
    name: str
    path: Path | None
    python: Path | None
    installed: int
    skipped: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def activate(self) -> str:
        """The shell command that activates the environment."""
        if self.kind == "conda":
            return f"conda activate {self.path or self.name}"
        if os.name == "nt":
            return f"{self.path}\\Scripts\\activate"
        return f"source {self.path}/bin/activate"


def create_environment(
    source: str | Path | EnvironmentSpec,
    *,
    name: str | None = None,
    path: str | Path | None = None,
    force: bool = False,
    python: str | Path | None = None,
    pip_args: Sequence[str] = (),
    project_root: str | Path | None = None,
    use_conda: bool | None = None,
    progress: Progress | None = None,
) -> CreatedEnvironment:
    """Create an environment from ``source``: an environment.yml, a requirements lock,
    a spec, or a run id / model reference (:func:`load_environment`).

    ``name`` defaults to the project's name; a venv goes to ``path`` (default:
    ``<project>/.venv-<name>``) and is made from ``python`` (default: this interpreter).
    ``use_conda`` (default: when conda is on PATH and ``source`` is an environment.yml)
    chooses ``conda env create``. ``pip_args`` go to pip (``--no-index``,
    ``--find-links DIR``, ``--index-url URL``); ``progress`` is told each step.

    >>> created = create_environment("requirements.lock", path=Path(".venv-b"))  # doctest: +SKIP
    >>> created.activate  # doctest: +SKIP
    'source .venv-b/bin/activate'
    """
    root = Path(project_root).resolve() if project_root is not None else None
    project = project_name(root) if root is not None else None
    name = name or project
    report = progress or (lambda _message: None)
    spec_file = Path(source) if isinstance(source, str | Path) and Path(source).is_file() else None
    is_yml = spec_file is not None and spec_file.suffix.lower() in (".yml", ".yaml")
    executable = conda_executable()
    if use_conda is None:
        use_conda = is_yml and executable is not None
    if use_conda:
        if executable is None or spec_file is None or not is_yml:
            raise EnvironmentSpecError(
                "A conda environment needs conda (or mamba) on PATH and an environment.yml.",
                hint="Install conda, or create a venv from a requirements.lock instead.",
            )
        return _create_conda(
            executable,
            spec_file,
            name=name,
            path=path,
            force=force,
            pip_args=pip_args,
            report=report,
        )
    if isinstance(source, EnvironmentSpec):
        spec = source
    else:
        spec = load_environment(source, project_root=root)
    if spec_file is None:  # a run's or a model's packages, pinned whatever their origin
        spec = as_local(spec, project=project, here=snapshot_environment())
    name = name or "env"
    folder = Path(path) if path is not None else (root or Path.cwd()) / f".venv-{name}"
    return _create_venv(
        spec,
        folder.absolute(),
        name=name,
        force=force,
        python=python,
        pip_args=pip_args,
        report=report,
    )


def conda_create_argv(
    executable: str, spec_file: Path, *, name: str | None = None, prefix: Path | None = None
) -> list[str]:
    """The command that creates a conda environment from ``spec_file``: by ``prefix``
    when one is given (a folder), else by ``name``."""
    target = ["--prefix", str(prefix)] if prefix is not None else ["--name", str(name)]
    return [executable, "env", "create", "--file", str(spec_file), *target]


def pip_environment(pip_args: Sequence[str]) -> dict[str, str]:
    """``pip_args`` as the ``PIP_*`` variables pip reads, for the pip that conda runs
    (it takes no options): --no-index, --find-links, --index-url, --extra-index-url."""
    variables: dict[str, list[str]] = {}
    names = {
        "--find-links": "PIP_FIND_LINKS",
        "-f": "PIP_FIND_LINKS",
        "--index-url": "PIP_INDEX_URL",
        "-i": "PIP_INDEX_URL",
        "--extra-index-url": "PIP_EXTRA_INDEX_URL",
    }
    args = list(pip_args)
    while args:
        option, _, inline = args.pop(0).partition("=")
        if option == "--no-index":
            variables["PIP_NO_INDEX"] = ["1"]
        elif option in names and (inline or args):
            variables.setdefault(names[option], []).append(inline or args.pop(0))
        else:
            raise EnvironmentSpecError(
                f"The pip option {option!r} cannot be passed to the pip that conda runs.",
                hint="Use --no-index, --find-links DIR or --index-url URL, or create a venv.",
            )
    return {key: " ".join(values) for key, values in variables.items()}


def unresolvable_packages(output: str) -> list[str]:
    """The requirements pip, conda or mamba said they could not find, in order."""
    found = [match for pattern in _NOT_FOUND for match in pattern.findall(output)]
    listing = False  # inside conda's PackagesNotFoundError list of "  - spec" lines
    for line in output.splitlines():
        if "PackagesNotFoundError" in line:
            listing = True
        elif listing and re.match(r"\s+- \S", line):
            found.append(line.strip()[2:].strip())
        elif listing and line.strip() and found:
            listing = False
    return list(dict.fromkeys(item.rstrip(".,") for item in found))


def _create_venv(
    spec: EnvironmentSpec,
    folder: Path,
    *,
    name: str,
    force: bool,
    python: str | Path | None,
    pip_args: Sequence[str],
    report: Progress,
) -> CreatedEnvironment:
    _refuse_existing_venv(folder, force)
    base = interpreter_path(python) if python is not None else Path(sys.executable)
    notes = _python_notes(spec, base)
    if spec.conda:
        notes.append(
            f"{len(spec.conda)} conda pins of {spec.source} were not installed: a venv has "
            "only the pip: list (create it with conda to get them)."
        )
    skipped = tuple(f"{item.name}=={item.version} ({item.origin})" for item in spec.local)
    skipped += tuple(option for option in spec.pip_options if option.startswith("-e"))
    aside = _move_aside(folder) if folder.exists() else None
    try:
        report(f"Creating a virtual environment at {folder}")
        _run([str(base), "-m", "venv", str(folder)], what="python -m venv")
        venv_python = _venv_python(folder)
        requirements = spec.requirements()
        if requirements:
            report(f"Installing {len(requirements)} packages with pip")
            _pip_install(venv_python, render_lock(spec), pip_args, spec.source, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        if aside is not None:
            aside.rename(folder)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    return CreatedEnvironment(
        "venv", name, folder, venv_python, len(requirements), skipped, tuple(notes)
    )


def _refuse_existing_venv(folder: Path, force: bool) -> None:
    if not folder.exists():
        return
    if not force:
        raise EnvironmentSpecError(
            f"{folder} already exists, so no environment was created there.",
            hint="Choose another --name or --path, or pass --force to replace it.",
        )
    if not (folder / "pyvenv.cfg").is_file():
        raise EnvironmentSpecError(
            f"{folder} exists and is not a virtual environment (it has no pyvenv.cfg), so "
            "--force does not replace it.",
            hint="Choose another --path; Shipyard never deletes a folder it did not make.",
        )


def _move_aside(folder: Path) -> Path:
    aside = Path(tempfile.mkdtemp(prefix=f".{folder.name}.replaced-", dir=folder.parent))
    aside.rmdir()
    return folder.rename(aside)


def _python_notes(spec: EnvironmentSpec, base: Path) -> list[str]:
    if not spec.python:
        return []
    completed = subprocess.run(
        [str(base), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    have = completed.stdout.strip()
    if have and have.split(".")[:2] != spec.python.split(".")[:2]:
        return [
            f"{spec.source} was made with Python {spec.python}; this environment has "
            f"Python {have}: pass --python with a {'.'.join(spec.python.split('.')[:2])} "
            "interpreter to match it."
        ]
    return []


def _pip_install(
    venv_python: Path, lock: str, pip_args: Sequence[str], source: str, folder: Path
) -> None:
    with tempfile.TemporaryDirectory(prefix="shipyard-env-") as holder:
        requirements = Path(holder) / "requirements.lock"
        requirements.write_text(lock, encoding="utf-8")
        argv = [str(venv_python), "-m", "pip", "install", "--disable-pip-version-check"]
        argv += ["--no-input", "--requirement", str(requirements), *pip_args]
        completed = _run(argv, what="pip install", check=False)
    if completed.returncode == 0:
        return
    output = completed.stdout + completed.stderr
    missing = unresolvable_packages(output)
    if missing:
        offline = " (with --no-index, only the --find-links folders are searched)"
        raise EnvironmentSpecError(
            f"pip could not find {', '.join(missing)} for {source}"
            + (offline if "--no-index" in pip_args else "")
            + f"; nothing was left at {folder}.",
            hint="Check the name and version, relax the pin in the file, or put a wheel "
            "of it in a folder and pass --find-links FOLDER (offline: add --no-index).",
        )
    raise EnvironmentSpecError(
        f"pip failed to install the packages of {source}; nothing was left at {folder}:\n"
        + _tail(output),
        hint="Read pip's last lines above; fix the file or the pip options and run again.",
    )


def _create_conda(
    executable: str,
    spec_file: Path,
    *,
    name: str | None,
    path: str | Path | None,
    force: bool,
    pip_args: Sequence[str],
    report: Progress,
) -> CreatedEnvironment:
    prefix = Path(path).absolute() if path is not None else None
    if prefix is not None:
        name = prefix.name
    else:
        name = name or environment_name(spec_file.read_text(encoding="utf-8")) or "env"
    env = {**os.environ, **pip_environment(pip_args)}
    target = ["--prefix", str(prefix)] if prefix is not None else ["--name", name]
    if _conda_env_exists(executable, name, prefix):
        if not force:
            raise EnvironmentSpecError(
                f"The conda environment {prefix or name} already exists, so it was not created.",
                hint="Choose another --name or --path, or pass --force to replace it.",
            )
        report(f"Removing the conda environment {prefix or name}")
        _run([executable, "remove", "--all", "--yes", *target], what="conda remove", env=env)
    argv = conda_create_argv(executable, spec_file, name=name, prefix=prefix)
    report(f"Creating the conda environment {prefix or name} with {Path(executable).name}")
    completed = _run(argv, what="conda env create", env=env, check=False, cwd=spec_file.parent)
    if completed.returncode != 0:
        if _conda_env_exists(executable, name, prefix):
            _run(
                [executable, "remove", "--all", "--yes", *target], what="conda remove", check=False
            )
        output = completed.stdout + completed.stderr
        missing = unresolvable_packages(output)
        raise EnvironmentSpecError(
            f"conda could not create {prefix or name} from {spec_file}"
            + (f": {', '.join(missing)} not found" if missing else f":\n{_tail(output)}")
            + "; nothing was left behind.",
            hint="Check the names and versions in the file's dependencies (conda packages "
            "come from its channels, the pip: list from PyPI).",
        )
    return CreatedEnvironment("conda", name, prefix, None, 0)


def _conda_env_exists(executable: str, name: str, prefix: Path | None) -> bool:
    if prefix is not None:
        return prefix.exists()
    completed = _run([executable, "env", "list", "--json"], what="conda env list", check=False)
    try:
        prefixes = json.loads(completed.stdout).get("envs", [])
    except (ValueError, AttributeError):
        return False
    return any(Path(item).name == name for item in prefixes)


def _venv_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _run(
    argv: list[str],
    *,
    what: str,
    check: bool = True,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (never through a shell). PYTHONPATH and PYTHONHOME are dropped, so
    the new environment sees none of this one's packages."""
    clean = {k: v for k, v in (env or os.environ).items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    try:
        completed = subprocess.run(
            argv, capture_output=True, text=True, env=clean, cwd=cwd, check=False
        )
    except OSError as exc:
        raise EnvironmentSpecError(
            f"{what} could not be started: {exc}.",
            hint="Check that the interpreter or conda named in the message exists.",
        ) from exc
    if check and completed.returncode != 0:
        raise EnvironmentSpecError(
            f"{what} failed:\n{_tail(completed.stdout + completed.stderr)}",
            hint="Read the last lines above; nothing was left behind.",
        )
    return completed


def _tail(output: str, lines: int = 15) -> str:
    return "\n".join(output.strip().splitlines()[-lines:])

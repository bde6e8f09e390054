"""``create_project``: a complete, working project from the template.

The template is a folder of plain files beside this module::

    template/base/      what every project has: pyproject.toml, conf/, data/, src/, tests/, ...
    template/example/   the customer-churn example, laid over base (same path: example wins)

Rendering is plain text replacement of ``{{ project_name }}``, ``{{ package_name }}`` and
``{{ shipyard_version }}`` in text files (binary files are copied as they are). The folder
``__package_name__`` takes the package name, and a trailing ``-tpl`` is dropped from file
names (``nodes.py-tpl`` -> ``nodes.py``, ``.gitignore-tpl`` -> ``.gitignore``): the template's
Python files carry placeholders, so they must not be byte-compiled, linted, collected by
pytest or imported as part of Shipyard, and its .gitignore must not apply to Shipyard's own
repository.

The project is rendered into a staging folder beside the target and moved into place at the
end, so a failure never leaves half a project behind.
"""

from __future__ import annotations

import keyword
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from shipyard.__about__ import __version__
from shipyard.errors import ProjectError

__all__ = ["NewProject", "create_project"]

_TEMPLATE = Path(__file__).with_name("template")
_PACKAGE_FOLDER = "__package_name__"
_TEMPLATE_SUFFIX = "-tpl"

# PEP 508 distribution names, so that the project installs with `pip install -e .`.
_PROJECT_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")
# A package with one of these names would shadow a library the generated project imports.
_IMPORTED_BY_PROJECT = frozenset({"shipyard", "pandas", "numpy", "sklearn", "pyarrow", "pytest"})
# Variables that would point git at another repository (e.g. when run from a git hook).
_GIT_LOCATION_VARIABLES = frozenset({"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"})
_FALLBACK_GIT_IDENTITY = {"user.name": "Shipyard", "user.email": "shipyard@localhost"}


@dataclass(frozen=True, slots=True)
class NewProject:
    """What :func:`create_project` made.

    ``git_note`` says why no repository was initialised although ``init_git`` asked for one
    (git missing, the folder already inside a repository, git failing); it is None otherwise.
    """

    path: Path
    name: str
    package_name: str
    git_initialised: bool
    git_note: str | None = None


def create_project(
    target: Path,
    *,
    name: str | None = None,
    package_name: str | None = None,
    example: bool = True,
    init_git: bool = True,
) -> NewProject:
    """Create a Shipyard project in ``target``, which must not exist or must be empty.

    ``name`` (default: the folder's name) is the project's distribution name;
    ``package_name`` (default: the name in lower case, with ``_`` for ``-``, ``.`` and
    spaces) is the Python package under ``src/``. ``example`` adds the customer-churn
    pipelines, tests and notebook. With ``init_git``, a git repository is created with a
    first commit when git is installed; a missing git never makes the creation fail.

    >>> project = create_project(Path("churn"))  # doctest: +SKIP
    >>> project.package_name, project.git_initialised  # doctest: +SKIP
    ('churn', True)
    """
    target = Path(target).expanduser().resolve()
    name = target.name if name is None else name
    _check_project_name(name)
    package_name = default_package_name(name) if package_name is None else package_name
    _check_package_name(package_name)
    _check_target(target)
    replacements = {
        "{{ project_name }}": name,
        "{{ package_name }}": package_name,
        "{{ shipyard_version }}": __version__,
    }
    try:
        _build(target, _template_files(example=example), replacements, package_name)
    except OSError as exc:
        raise ProjectError(
            f"The project could not be created in {target}: {exc.strerror or exc}.",
            hint=f"Check that you can write to {target.parent}; nothing was left behind.",
        ) from exc
    initialised, note = _init_git(target) if init_git else (False, None)
    return NewProject(target, name, package_name, initialised, note)


def default_package_name(name: str) -> str:
    """The package name a project name gets by default.

    >>> default_package_name("Customer-Churn")
    'customer_churn'
    """
    return re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_").lower()


def _check_project_name(name: str) -> None:
    if not _PROJECT_NAME.fullmatch(name):
        suggestion = re.sub(r"[^0-9A-Za-z]+", "-", name).strip("-").lower() or "my-project"
        raise ProjectError(
            f"'{name}' cannot be a project name: use letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or a digit.",
            hint=f"Choose a name such as '{suggestion}'.",
        )


def _check_package_name(package: str) -> None:
    problem = _package_name_problem(package)
    if problem is not None:
        raise ProjectError(
            f"'{package}' cannot be the project's package name: it {problem}.",
            hint=f"Choose another package name (option --package-name), "
            f"such as '{_suggest_package_name(package)}'.",
        )


def _package_name_problem(package: str) -> str | None:
    if not (package.isascii() and package.isidentifier()):
        return "is not a Python identifier (letters, digits and _, not starting with a digit)"
    if keyword.iskeyword(package):
        return "is a Python keyword"
    if package in sys.stdlib_module_names:
        return "is the name of a module of Python's standard library, which it would hide"
    if package in _IMPORTED_BY_PROJECT:
        return "is the name of a library the project imports, which it would hide"
    return None


def _suggest_package_name(package: str) -> str:
    suggestion = re.sub(r"[^0-9A-Za-z]+", "_", package).strip("_").lower() or "project"
    if suggestion[0].isdigit():
        suggestion = f"project_{suggestion}"
    if _package_name_problem(suggestion) is not None:
        suggestion = f"{suggestion}_project"
    return suggestion


def _check_target(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise ProjectError(
            f"{target} already exists and is not a folder.",
            hint="Choose another name for the project, or move that file away.",
        )
    try:
        occupied = target.is_dir() and any(target.iterdir())
    except OSError as exc:
        raise ProjectError(
            f"The folder {target} cannot be read: {exc.strerror or exc}.",
            hint="Choose another folder for the project, or fix its permissions.",
        ) from exc
    if occupied:
        raise ProjectError(
            f"The folder {target} already exists and is not empty.",
            hint="Choose another name for the project, or empty that folder first; "
            "shipyard never writes into a folder that has files in it.",
        )


def _template_files(*, example: bool) -> dict[Path, Path]:
    """Template-relative path -> source file; the example layer replaces base files."""
    files: dict[Path, Path] = {}
    for layer in ("base", "example") if example else ("base",):
        root = _TEMPLATE / layer
        for source in sorted(root.rglob("*")):
            if source.is_file() and "__pycache__" not in source.parts:
                files[source.relative_to(root)] = source
    return files


def _build(
    target: Path, files: dict[Path, Path], replacements: dict[str, str], package_name: str
) -> None:
    made_parent = next((p for p in reversed(target.parents) if not p.exists()), None)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The staging folder is made inside a private holder with a plain mkdir, so the project
    # gets the user's usual permissions rather than mkdtemp's owner-only ones.
    holder = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        staging = holder / target.name
        staging.mkdir()
        for relative, source in files.items():
            _render_file(source, staging / _destination(relative, package_name), replacements)
        _move_into_place(staging, target)
    except BaseException:
        if made_parent is not None:
            shutil.rmtree(made_parent, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def _destination(relative: Path, package_name: str) -> Path:
    parts = [package_name if part == _PACKAGE_FOLDER else part for part in relative.parts]
    parts[-1] = parts[-1].removesuffix(_TEMPLATE_SUFFIX)
    return Path(*parts)


def _render_file(source: Path, destination: Path, replacements: dict[str, str]) -> None:
    """Copy one file, replacing placeholders if it is text (UTF-8 without NUL bytes)."""
    data = source.read_bytes()
    if b"\0" not in data:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            for placeholder, value in replacements.items():
                text = text.replace(placeholder, value)
            data = text.encode("utf-8")
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_bytes(data)


def _move_into_place(staging: Path, target: Path) -> None:
    if not target.exists():
        staging.rename(target)
        return
    # An existing empty folder (perhaps the user's current one) is kept, and filled entry by
    # entry; if a move fails, the entries already moved are taken out again.
    moved: list[Path] = []
    try:
        for entry in sorted(staging.iterdir()):
            moved.append(entry.rename(target / entry.name))
    except BaseException:
        for path in moved:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise


def _init_git(root: Path) -> tuple[bool, str | None]:
    """``git init`` and a first commit; (False, why) instead of failing."""
    executable = shutil.which("git")
    if executable is None:
        return False, "git is not installed (not on PATH), so no repository was initialised."
    git = _Git(executable, root)
    try:
        enclosing = git("rev-parse", "--show-toplevel", check=False)
        if enclosing.returncode == 0:
            return False, (
                f"The project is inside the git repository at {enclosing.stdout.strip()}, "
                "so no repository of its own was initialised."
            )
        branch = [] if git.configured("init.defaultBranch") else ["-c", "init.defaultBranch=main"]
        git(*branch, "init", "--quiet")
        git("add", "--all")
        # Only for this commit, and only where the user has set no identity of their own.
        identity = [
            option
            for key, value in _FALLBACK_GIT_IDENTITY.items()
            if not git.configured(key)
            for option in ("-c", f"{key}={value}")
        ]
        git(*identity, "commit", "--quiet", "--message", "Create the project from the template")
    except (OSError, subprocess.SubprocessError) as exc:
        shutil.rmtree(root / ".git", ignore_errors=True)
        stderr = getattr(exc, "stderr", None)
        detail = stderr.strip() if isinstance(stderr, str) and stderr.strip() else str(exc)
        return False, f"git could not make the first commit, so no repository was kept: {detail}"
    return True, None


@dataclass(frozen=True, slots=True)
class _Git:
    """git run in one folder, never pointed elsewhere by GIT_DIR and friends."""

    executable: str
    cwd: Path

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {key: val for key, val in os.environ.items() if key not in _GIT_LOCATION_VARIABLES}
        return subprocess.run(
            [self.executable, *args],
            cwd=self.cwd,
            env=env,
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    def configured(self, key: str) -> bool:
        result = self("config", "--get", key, check=False)
        return result.returncode == 0 and bool(result.stdout.strip())

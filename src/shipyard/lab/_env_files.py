"""Environments as values, and the requirements lock they are written to and read from.

An :class:`EnvironmentSpec` is what Shipyard knows of an environment, whatever it came
from: an interpreter (``snapshot_environment``), a tracked run, a model package's
requirements, a ``requirements.lock`` or an ``environment.yml`` (``_env_yaml``).

The lock is a pip requirements file that pip reads as it is (``pip install -r``); what
pip cannot use is kept in comments that Shipyard reads back::

    # python: 3.11.4
    # platform: Linux-6.1-x86_64-with-glibc2.36
    # local: shipyard==0.1.0 (editable, file:///home/ada/shipyard)
    numpy==1.26.4
    pandas==2.2.2

A package installed from a local folder (``pip install -e .``, ``pip install ./lib``) or
the project's own package is written as a ``# local:`` comment, not a pin: no index has
that build of it, so ``pip install -r`` could not resolve it. pip, setuptools and wheel
belong to the installer and are left out, as ``pip freeze`` does; checks ignore them too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shipyard.errors import EnvironmentSpecError

__all__ = [
    "INSTALLER_PACKAGES",
    "EnvironmentSpec",
    "LocalPackage",
    "normalize_name",
    "parse_requirements",
    "read_lock",
    "read_text",
    "render_lock",
]

INSTALLER_PACKAGES = frozenset({"pip", "setuptools", "wheel", "distribute"})
LOCK_FILE = "requirements.lock"

_LOCAL = re.compile(
    r"^\s*#\s*local:\s*(?P<name>[^=\s]+)==(?P<version>\S+)\s*(?:\((?P<origin>.*)\))?"
)
_HEADER = re.compile(r"^#\s*(?P<key>python|platform):\s*(?P<value>\S.*?)\s*$")


def normalize_name(name: str) -> str:
    """A distribution name as PEP 503 compares them: ``Scikit_Learn`` -> ``scikit-learn``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True, slots=True)
class LocalPackage:
    """A package installed from a local folder, or the project itself: not pinnable."""

    name: str
    version: str
    origin: str  # "this project", "editable, file:///...", "file:///..."


@dataclass(frozen=True)
class EnvironmentSpec:
    """An environment: to compare with (``env check``) or to recreate (``env create``).

    ``packages`` maps a distribution name to its pinned version (None: any version will
    do). ``local`` are packages from a local folder, known by version but not pinnable.
    ``conda`` are the pins of an environment.yml's conda dependencies: they are compared
    only with packages the other environment has, since many conda packages (compilers,
    C libraries) are no Python distributions. ``pip_options`` are the pip lines that are
    no pin (``-e .[notebook,test]``, ``--index-url ...``). A spec that is not
    ``complete`` lists only some packages (a model's requirements, a hand-written
    requirements.txt): a check then says nothing of packages it does not name.
    """

    source: str
    python: str | None
    packages: Mapping[str, str | None] = field(default_factory=dict)
    local: tuple[LocalPackage, ...] = ()
    conda: Mapping[str, str] = field(default_factory=dict)
    platform: str | None = None
    pip_options: tuple[str, ...] = ()
    complete: bool = True

    def versions(self) -> dict[str, str | None]:
        """Every package by normalised name -> version: the pinned and the local ones,
        without the installer's own packages (pip, setuptools, wheel)."""
        found = {normalize_name(name): version for name, version in self.packages.items()}
        found.update({normalize_name(item.name): item.version for item in self.local})
        return {name: version for name, version in found.items() if name not in INSTALLER_PACKAGES}

    def requirements(self) -> list[str]:
        """The pins pip can install, ``name==version`` sorted by name (installer excluded)."""
        return [
            f"{name}=={version}" if version else name
            for name, version in sorted(self.packages.items(), key=lambda i: normalize_name(i[0]))
            if normalize_name(name) not in INSTALLER_PACKAGES
        ]


def render_lock(spec: EnvironmentSpec) -> str:
    """The text of a requirements lock for ``spec`` (format: see the module docstring)."""
    lines = [
        "# The packages of a Python environment, pinned by `shipyard env export`.",
        "# Recreate it with `shipyard env create` (or `pip install -r` this file); compare",
        "# an environment with it by `shipyard env check`.",
        "# pip, setuptools and wheel belong to the installer and are not pinned here.",
    ]
    if spec.python:
        lines.append(f"# python: {spec.python}")
    if spec.platform:
        lines.append(f"# platform: {spec.platform}")
    if spec.local:
        lines.append("# Installed from a local folder, so not pinned: install them from there")
        lines.append("# (`pip install -e FOLDER`; the project itself: `pip install -e .`).")
        lines += [local_comment(item) for item in spec.local]
    lines += spec.requirements()
    return "\n".join(lines) + "\n"


def local_comment(item: LocalPackage) -> str:
    """The ``# local: name==version (origin)`` line of a package from a local folder."""
    return f"# local: {item.name}=={item.version} ({item.origin})"


def read_lock(path: Path) -> EnvironmentSpec:
    """The environment a requirements file (a lock, or any ``requirements.txt``) names."""
    text = read_text(path)
    python = platform = None
    for line in text.splitlines():
        header = _HEADER.match(line.strip())
        if header and header["key"] == "python":
            python = header["value"]
        elif header:
            platform = header["value"]
    packages, options = parse_requirements(text.splitlines(), source=str(path))
    return EnvironmentSpec(
        source=str(path),
        python=python,
        packages=packages,
        local=local_comments(text),
        platform=platform,
        pip_options=tuple(options),
        complete=python is not None,  # written by `shipyard env export`, so every package
    )


def local_comments(text: str) -> tuple[LocalPackage, ...]:
    """The ``# local:`` comments of a lock or an environment.yml."""
    return tuple(
        LocalPackage(match["name"], match["version"], (match["origin"] or "local").strip())
        for match in map(_LOCAL.match, text.splitlines())
        if match
    )


def parse_requirements(
    lines: Iterable[str], *, source: str
) -> tuple[dict[str, str | None], list[str]]:
    """Pins (``name -> version``, None when not pinned to one version) and the option
    lines (``-e ...``, ``--index-url ...``) of requirement lines. A requirement whose
    environment marker is false here is left out."""
    from packaging.requirements import InvalidRequirement, Requirement

    packages: dict[str, str | None] = {}
    options: list[str] = []
    for number, raw in enumerate(lines, start=1):
        line = re.split(r"(?:^|\s)#", raw, maxsplit=1)[0].strip()
        if not line:
            continue
        if line.startswith("-"):
            options.append(line)
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            raise EnvironmentSpecError(
                f"{source}, line {number}: '{line}' is not a requirement: {exc}.",
                hint="Write one package per line as name==version (e.g. pandas==2.2.2), "
                "or regenerate the file with `shipyard env export`.",
            ) from exc
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        packages[requirement.name] = _pinned_version(requirement.specifier)
    return packages, options


def _pinned_version(specifier: object) -> str | None:
    specs = list(specifier)  # type: ignore[call-overload]
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        return specs[0].version
    return None


def read_text(path: Path) -> str:
    """A spec file's text, or an EnvironmentSpecError naming the file and the fix."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise EnvironmentSpecError(
            f"The environment file {path} does not exist.",
            hint="Write it with `shipyard env export`, or name another file with --file.",
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvironmentSpecError(
            f"The environment file {path} cannot be read: {exc}.",
            hint="Check the file's permissions and that it is UTF-8 text.",
        ) from exc

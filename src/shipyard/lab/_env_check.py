"""How one environment differs from another: Python, and packages added, removed, changed.

Every difference has a severity, so that a table can be read at a glance:

=========  =====================================================================
major      Python's major or minor version differs (3.10 -> 3.11), a package's
           major version differs (1.5 -> 2.0), a package of the reference is
           missing, or a version that cannot be parsed changed
minor      a package's minor version differs (2.1 -> 2.2), or a package was added
patch      anything smaller: 2.2.1 -> 2.2.3, Python 3.11.4 -> 3.11.9, 1.0 -> 1.0.post1
=========  =====================================================================

Names are compared as PEP 503 normalises them (``Scikit_Learn`` is ``scikit-learn``);
pip, setuptools and wheel are not compared. A reference that gives Python as ``3.11``
(environment.yml) matches any 3.11.x; its conda pins are compared only with packages
the current environment has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from shipyard.lab._env_files import EnvironmentSpec, normalize_name

__all__ = ["SEVERITIES", "EnvironmentDiff", "PackageChange", "diff_environments"]

Severity = Literal["major", "minor", "patch"]
SEVERITIES: tuple[Severity, ...] = ("major", "minor", "patch")


@dataclass(frozen=True, slots=True)
class PackageChange:
    """One difference: ``change`` is added, removed or changed (from ``reference`` to
    ``current``); ``name`` is ``python`` for the interpreter's version."""

    name: str
    change: Literal["added", "removed", "changed"]
    reference: str | None
    current: str | None
    severity: Severity

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return {
            "name": self.name,
            "change": self.change,
            "reference": self.reference,
            "current": self.current,
            "severity": self.severity,
        }


@dataclass(frozen=True)
class EnvironmentDiff:
    """What changed from ``reference`` to ``current`` (each described in words).
    ``complete`` is False when the reference names only some packages (then packages
    it does not name are not reported as added); ``compared`` counts the packages it
    names."""

    reference: str
    current: str
    python: PackageChange | None
    packages: tuple[PackageChange, ...]
    complete: bool = True
    compared: int = 0

    @property
    def identical(self) -> bool:
        """True when nothing that is compared differs."""
        return self.python is None and not self.packages

    @property
    def changes(self) -> tuple[PackageChange, ...]:
        """Every difference, Python's first."""
        return ((self.python,) if self.python else ()) + self.packages

    def counts(self) -> dict[str, int]:
        """How many differences there are of each severity."""
        return {level: sum(c.severity == level for c in self.changes) for level in SEVERITIES}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, as ``shipyard env check --json`` prints it."""
        return {
            "reference": self.reference,
            "current": self.current,
            "identical": self.identical,
            "complete": self.complete,
            "compared": self.compared,
            "counts": self.counts(),
            "python": self.python.to_dict() if self.python else None,
            "packages": [change.to_dict() for change in self.packages],
        }


def diff_environments(reference: EnvironmentSpec, current: EnvironmentSpec) -> EnvironmentDiff:
    """The differences from ``reference`` to ``current``, packages sorted by name."""
    python = None
    if reference.python and current.python and not _same(reference.python, current.python):
        python = PackageChange(
            "python",
            "changed",
            reference.python,
            current.python,
            "major" if _release(reference.python)[:2] != _release(current.python)[:2] else "patch",
        )
    expected, prefixes = _expected(reference, current)
    found = current.versions()
    shown = _display_names(reference, current)
    changes = []
    for key in sorted(expected.keys() | (found.keys() if reference.complete else set())):
        old, new = expected.get(key, ""), found.get(key, "")
        if key not in found:
            changes.append(PackageChange(shown[key], "removed", old, None, "major"))
        elif key not in expected:
            changes.append(PackageChange(shown[key], "added", None, new, "minor"))
        elif old is not None and new is not None and not _same(old, new, prefix=key in prefixes):
            changes.append(PackageChange(shown[key], "changed", old, new, _severity(old, new)))
    return EnvironmentDiff(
        reference.source,
        current.source,
        python,
        tuple(changes),
        complete=reference.complete,
        compared=len(expected),
    )


def _expected(
    reference: EnvironmentSpec, current: EnvironmentSpec
) -> tuple[dict[str, str | None], set[str]]:
    """The reference's packages by normalised name, and the names whose version is a
    prefix to match (conda pins, which only count when ``current`` has the package)."""
    expected = reference.versions()
    found = current.versions()
    prefixes = set()
    for name, version in reference.conda.items():
        key = normalize_name(name)
        if key in found and key not in expected:
            expected[key] = version
            prefixes.add(key)
    return expected, prefixes


def _display_names(reference: EnvironmentSpec, current: EnvironmentSpec) -> dict[str, str]:
    names: dict[str, str] = {}
    for spec in (current, reference):  # the reference's spelling wins
        for name in [*spec.packages, *spec.conda, *(item.name for item in spec.local)]:
            names[normalize_name(name)] = name
    return names


def _same(old: str, new: str, *, prefix: bool = True) -> bool:
    """Whether ``new`` satisfies ``old``: equal versions, or with ``prefix`` a version
    that ``old`` (fewer parts, ``3.11`` or conda's ``1.26``) is the start of."""
    from packaging.version import InvalidVersion, Version

    try:
        a, b = Version(old), Version(new)
    except InvalidVersion:
        return old == new
    if a == b:
        return True
    if not prefix or a.epoch != b.epoch or a.pre or a.post or a.dev or a.local:
        return False
    return a.release == b.release[: len(a.release)] and len(a.release) < len(b.release)


def _severity(old: str, new: str) -> Severity:
    from packaging.version import InvalidVersion, Version

    try:
        a, b = Version(old), Version(new)
    except InvalidVersion:
        return "major"  # no way to tell how far apart they are: assume the worst
    if a.epoch != b.epoch or _release(old)[0] != _release(new)[0]:
        return "major"
    if _release(old)[1] != _release(new)[1]:
        return "minor"
    return "patch"


def _release(version: str) -> tuple[int, int, int]:
    """The first three release numbers of a version, zero-padded; (0, 0, 0) if invalid."""
    from packaging.version import InvalidVersion, Version

    try:
        release = Version(version).release
    except InvalidVersion:
        return (0, 0, 0)
    padded = (*release, 0, 0, 0)
    return (padded[0], padded[1], padded[2])

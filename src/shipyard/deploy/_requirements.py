"""Pinned requirements for images: a model's captured pins, checked, or the project's
dependencies pinned to what is installed here."""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, distribution
from typing import TYPE_CHECKING

from shipyard.errors import ConfigError

if TYPE_CHECKING:
    pass

__all__ = ["environment_requirements", "pinned_requirements", "requirements_text"]


def pinned_requirements(requirements: Iterable[str], *, source: str) -> list[str]:
    """The ``name==version`` lines of ``requirements`` (a model manifest's), without
    Shipyard itself (the image installs the wheel of the Shipyard writing the context).

    A requirement that is not pinned to exactly one version would install whatever is
    newest when the image is built: ConfigError naming every such requirement. There is
    no way around it on purpose; the model must be packaged again where its requirements
    are installed (``package()`` pins what is installed).

    >>> pinned_requirements(["scikit-learn==1.5.2", "shipyard==0.1.0"], source="churn")
    ['scikit-learn==1.5.2']
    """
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    pinned, unpinned = [], []
    for line in requirements:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            unpinned.append(line)
            continue
        if canonicalize_name(requirement.name) == "shipyard":
            continue
        specifiers = list(requirement.specifier)
        exact = (
            requirement.url is None
            and len(specifiers) == 1
            and specifiers[0].operator in {"==", "==="}
            and "*" not in specifiers[0].version
        )
        if exact:
            pinned.append(str(requirement))
        else:
            unpinned.append(line)
    if unpinned:
        shown = ", ".join(repr(line) for line in unpinned)
        raise ConfigError(
            f"The requirements of {source} are not all pinned to one version: {shown}. An "
            "image must install exactly what the model was made with.",
            hint="Package and register the model again from an environment where these "
            "packages are installed (shipyard.models.package() pins the installed versions), "
            "or give package(..., requirements=['name==version', ...]) explicitly.",
        )
    return pinned


def environment_requirements(
    dependencies: Iterable[str], *, exclude: Iterable[str] = ()
) -> list[str]:
    """``name==version`` for ``dependencies`` (a pyproject's) and everything they need, as
    installed in this environment, for a Linux image of this Python. Shipyard and the
    names in ``exclude`` are left out (their own dependencies are not).

    ConfigError names every dependency that is not installed, or whose installed version
    the project's own constraint refuses.
    """
    from packaging.markers import default_environment
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    target = {
        **default_environment(),
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
    }
    skipped = {canonicalize_name(name) for name in [*exclude, "shipyard"] if name}
    pins: dict[str, str] = {}
    problems: list[str] = []
    seen: set[tuple[str, frozenset[str]]] = set()
    queue: list[tuple[str, frozenset[str]]] = [(line, frozenset({""})) for line in dependencies]
    while queue:
        line, parent_extras = queue.pop()
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            problems.append(f"{line!r} is not a valid requirement")
            continue
        marker = requirement.marker
        if marker is not None and not any(
            marker.evaluate({**target, "extra": extra}) for extra in parent_extras
        ):
            continue
        key = canonicalize_name(requirement.name)
        extras = frozenset(requirement.extras)
        if (key, extras) in seen:
            continue
        seen.add((key, extras))
        try:
            dist = distribution(requirement.name)
        except PackageNotFoundError:
            problems.append(f"{requirement.name} is not installed")
            continue
        if not requirement.specifier.contains(dist.version, prereleases=True):
            problems.append(f"{requirement.name} {dist.version} is installed, not {requirement}")
        if key not in skipped:
            pins[key] = f"{dist.metadata['Name']}=={dist.version}"
        queue.extend((child, extras | {""}) for child in dist.requires or ())
    if problems:
        raise ConfigError(
            "The project's dependencies cannot be pinned from this environment: "
            + "; ".join(sorted(set(problems)))
            + ".",
            hint="Install the project here (pip install -e .) so that every dependency has "
            "the version the image should run, then write the context again.",
        )
    return [pins[key] for key in sorted(pins)]


def requirements_text(requirements: list[str], source: str) -> str:
    header = f"# The pinned requirements of {source}. Shipyard itself is installed from wheels/.\n"
    return header + "".join(f"{line}\n" for line in requirements)

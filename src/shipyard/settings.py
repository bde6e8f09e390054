"""Project settings: resolved once, frozen, and passed explicitly to whatever needs them.

A Shipyard project is a folder whose ``pyproject.toml`` has a ``[tool.shipyard]``
table. Every key is optional::

    [tool.shipyard]
    package_name = "churn"     # the importable package under src/
    conf_source = "conf"       # where conf/base and conf/<env> live
    default_env = "local"      # the env used when neither --env nor SHIPYARD_ENV is given
    shipyard_dir = ".shipyard" # local metadata and object store

Precedence for the environment: an explicit ``env`` argument (``--env``), then the
``SHIPYARD_ENV`` variable, then ``default_env``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import ConfigError, ProjectError, did_you_mean

__all__ = ["Settings", "find_project_root", "project_root_here"]

ENV_VARIABLE = "SHIPYARD_ENV"
_KNOWN_KEYS = frozenset({"package_name", "conf_source", "default_env", "shipyard_dir"})


@dataclass(frozen=True, slots=True)
class Settings:
    """Where a project lives and how it is configured.

    >>> settings = Settings.for_project(Path("churn"), env="prod")  # doctest: +SKIP
    >>> settings.conf_source.name, settings.env
    ('conf', 'prod')
    """

    project_root: Path
    package_name: str
    conf_source: Path
    env: str
    shipyard_dir: Path

    @classmethod
    def for_project(cls, start: Path | None = None, *, env: str | None = None) -> Settings:
        """Find the project at or above ``start`` (default: cwd) and resolve its settings."""
        root = find_project_root(start or Path.cwd())
        table = _read_tool_table(root / "pyproject.toml")
        package_name = str(table.get("package_name") or root.name.replace("-", "_"))
        chosen_env = env or os.environ.get(ENV_VARIABLE) or str(table.get("default_env", "local"))
        return cls(
            project_root=root,
            package_name=package_name,
            conf_source=root / str(table.get("conf_source", "conf")),
            env=chosen_env,
            shipyard_dir=root / str(table.get("shipyard_dir", ".shipyard")),
        )


def find_project_root(start: Path) -> Path:
    """The nearest folder at or above ``start`` whose pyproject.toml has [tool.shipyard]."""
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and "[tool.shipyard]" in candidate.read_text(encoding="utf-8"):
            return folder
    raise ProjectError(f"No Shipyard project found at or above {start}.")


def project_root_here() -> Path | None:
    """The project at or above the current folder, or None outside any project."""
    try:
        return find_project_root(Path.cwd())
    except ProjectError:
        return None


def _read_tool_table(pyproject: Path) -> dict[str, object]:
    try:
        document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{pyproject} is not valid TOML: {exc}.", hint="Fix the syntax error at that line."
        ) from exc
    table = document.get("tool", {}).get("shipyard", {})
    for key in table:
        if key not in _KNOWN_KEYS:
            raise ConfigError(
                f"Unknown key '{key}' in [tool.shipyard] of {pyproject}."
                + did_you_mean(key, _KNOWN_KEYS),
                hint=f"Allowed keys: {', '.join(sorted(_KNOWN_KEYS))}.",
            )
    return table

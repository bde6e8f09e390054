"""The project's ``environment.yml``: read it, and write it again in sync with an
environment without losing what the user wrote.

The file is written as text, not dumped from a parsed document, so that it keeps the
shape of the template: the comment block at its top (kept as it is), ``name``,
``channels``, the conda ``dependencies`` with ``python=X.Y`` and ``pip``, and a ``pip:``
list whose entries that are no exact pin (``-e .[notebook,test]``, ``requests>=2``,
``--index-url ...``) are kept, followed by the pins of the environment. Packages from a
local folder are ``# local:`` comments in the pip list, as in the requirements lock
(``_env_files``). Comments below the top block are not kept.

Outside conda (:func:`update_environment_yml`) the conda dependencies of the file are
kept and ``python`` is set to the interpreter's ``X.Y``. Inside conda
(:func:`merge_conda_export`), channels and conda pins come from ``conda env export
--no-builds``, and its pip section is merged with the file's own pip lines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shipyard.errors import EnvironmentSpecError
from shipyard.lab._env_files import (
    INSTALLER_PACKAGES,
    EnvironmentSpec,
    local_comment,
    local_comments,
    normalize_name,
    parse_requirements,
    read_text,
)

__all__ = [
    "conda_spec",
    "environment_name",
    "merge_conda_export",
    "read_environment_yml",
    "update_environment_yml",
]

ENVIRONMENT_FILE = "environment.yml"
DEFAULT_HEADER = (
    "# The conda environment of this project:\n"
    "#   conda env create -f environment.yml  (or: shipyard env create)\n"
    "# The pins of the pip: list are written by `shipyard env export`; run it again after\n"
    "# installing or upgrading a package. `shipyard env check` compares an environment with it."
)
PIN_COMMENT = "# pinned by `shipyard env export` from Python {python}"
# Keys that describe one machine, not the environment.
_DROPPED_KEYS = frozenset({"name", "channels", "dependencies", "prefix"})


def read_environment_yml(path: Path) -> EnvironmentSpec:
    """The environment an environment.yml describes: python from its ``python=`` entry,
    its conda pins, its pip pins and options, and its ``# local:`` comments."""
    text = read_text(path)
    document = _parse(text, str(path))
    python = None
    conda: dict[str, str] = {}
    pip_lines: list[str] = []
    for item in _dependencies(document, str(path)):
        if isinstance(item, dict):
            pip_lines += [str(line) for line in item.get("pip") or ()]
            continue
        name, version = conda_spec(str(item))
        if normalize_name(name) == "python":
            python = version
        elif version and normalize_name(name) not in INSTALLER_PACKAGES:
            conda[name] = version
    packages, options = parse_requirements(pip_lines, source=str(path))
    return EnvironmentSpec(
        source=str(path),
        python=python,
        packages=packages,
        local=local_comments(text),
        conda=conda,
        pip_options=tuple(options),
        complete=PIN_COMMENT.split("{", 1)[0] in text,  # pinned by `shipyard env export`
    )


def update_environment_yml(
    existing: str | None, *, name: str, python: str, spec: EnvironmentSpec
) -> str:
    """``existing`` (an environment.yml's text, or None for a new file) in sync with
    ``spec``: ``python=X.Y`` of ``python``, the pip list re-pinned, the rest kept."""
    document = _parse(existing, ENVIRONMENT_FILE) if existing else {}
    python_xy = ".".join(python.split(".")[:2])
    conda: list[Any] = []
    for item in _dependencies(document, ENVIRONMENT_FILE):
        if isinstance(item, dict) and "pip" in item:
            continue
        dep_name = conda_spec(str(item))[0] if isinstance(item, str) else ""
        conda.append(f"python={python_xy}" if dep_name == "python" else item)
    if not any(isinstance(item, str) and conda_spec(item)[0] == "python" for item in conda):
        conda.insert(0, f"python={python_xy}")
    return _render(
        header=_header(existing) if existing else DEFAULT_HEADER,
        name=name,
        channels=list(document.get("channels") or ["conda-forge"]),
        conda=_with_pip(conda),
        pip_kept=_unpinned(_pip_lines(document)),
        pins=spec.requirements(),
        spec=spec,
        extra={k: v for k, v in document.items() if k not in _DROPPED_KEYS},
    )


def merge_conda_export(
    export: str, existing: str | None, *, name: str, spec: EnvironmentSpec
) -> str:
    """An environment.yml from ``conda env export --no-builds`` output: its channels,
    conda pins and pip pins (less the packages of ``spec.local``, which no index has),
    with the header and the unpinned pip lines (``-e .[...]``) of ``existing`` kept."""
    exported = _parse(export, "the output of conda env export")
    document = _parse(existing, ENVIRONMENT_FILE) if existing else {}
    local = {normalize_name(item.name) for item in spec.local}
    conda = [
        item
        for item in _dependencies(exported, "conda env export")
        if not (isinstance(item, dict) and "pip" in item)
    ]
    pins = [
        line
        for line in _pip_lines(exported)
        if _requirement_name(line) not in local and _is_pin(line)
    ]
    return _render(
        header=_header(existing) if existing else DEFAULT_HEADER,
        name=name,
        channels=list(exported.get("channels") or document.get("channels") or ["conda-forge"]),
        conda=_with_pip(conda),
        pip_kept=_unpinned(_pip_lines(document)),
        pins=pins,
        spec=spec,
        extra={k: v for k, v in exported.items() if k not in _DROPPED_KEYS},
    )


def environment_name(text: str | None) -> str | None:
    """The ``name:`` of an environment.yml's text; None when it has none (or is no YAML:
    the functions that write the file report that)."""
    import yaml

    try:
        document = yaml.safe_load(text or "")
    except yaml.YAMLError:
        return None
    name = document.get("name") if isinstance(document, dict) else None
    return str(name) if name else None


def conda_spec(item: str) -> tuple[str, str | None]:
    """(name, version) of a conda dependency; version None unless it names one version
    (``numpy=1.26.4``, ``numpy==1.26.4``, ``conda-forge::numpy=1.26.4=py311h...``,
    ``python=3.11`` -> ``3.11``, matched as a prefix)."""
    spec = item.split("::", 1)[-1].strip()
    match = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)$", spec)
    if match is None:
        return spec, None
    name, rest = match[1], match[2].strip()
    if rest.startswith("=="):
        version = rest[2:]
    elif rest.startswith("="):
        version = rest[1:]
    elif rest[:1].isdigit():  # the MatchSpec form "numpy 1.26.4"
        version = rest
    else:
        return name, None
    version = re.split(r"[=\s]", version.strip(), maxsplit=1)[0].removesuffix("*").rstrip(".")
    if not version or re.search(r"[<>!|,*]", version):
        return name, None
    return name, version


def _render(
    *,
    header: str,
    name: str,
    channels: list[Any],
    conda: list[Any],
    pip_kept: list[str],
    pins: list[str],
    spec: EnvironmentSpec,
    extra: Mapping[str, Any],
) -> str:
    lines = [header] if header else []
    lines += [f"name: {json.dumps(name)}", "channels:"]
    lines += [f"  - {_item(str(channel))}" for channel in channels]
    lines.append("dependencies:")
    lines += [f"  - {_item(item)}" for item in conda]
    lines.append("  - pip:")
    lines += [f"      - {_item(line)}" for line in pip_kept]
    lines.append(f"      {PIN_COMMENT.format(python=spec.python or '?')}")
    lines += [f"      {local_comment(item)}" for item in spec.local]
    lines += [f"      - {_item(line)}" for line in pins]
    text = "\n".join(lines) + "\n"
    if extra:
        import yaml

        text += yaml.safe_dump(dict(extra), default_flow_style=False, sort_keys=False)
    _parse(text, "the environment.yml written")  # never write a file that does not parse
    return text


def _item(value: Any) -> str:
    """A YAML sequence item: plain when it reads back as itself, else JSON-quoted (JSON
    is YAML's double-quoted flow style)."""
    import yaml

    if isinstance(value, str):
        try:
            if yaml.safe_load(f"- {value}") == [value]:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value)


def _with_pip(conda: list[Any]) -> list[Any]:
    """The conda dependencies, with ``pip`` itself present (conda needs it for pip:)."""
    if any(isinstance(item, str) and conda_spec(item)[0] == "pip" for item in conda):
        return conda
    return [*conda, "pip"]


def _pip_lines(document: Mapping[str, Any]) -> list[str]:
    return [
        str(line)
        for item in document.get("dependencies") or ()
        if isinstance(item, dict)
        for line in item.get("pip") or ()
    ]


def _unpinned(lines: list[str]) -> list[str]:
    """The pip lines that are no exact pin: options (``-e .``), ranges, bare names."""
    return [line for line in lines if not _is_pin(line)]


def _is_pin(line: str) -> bool:
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        specs = list(Requirement(line).specifier)
    except InvalidRequirement:  # an option (-e, --index-url) or a URL
        return False
    return len(specs) == 1 and specs[0].operator in ("==", "===")


def _requirement_name(line: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9_.\-]+)", line)
    return normalize_name(match[1]) if match else ""


def _header(text: str) -> str:
    """The comment block at the top of ``text`` (blank lines inside it kept)."""
    lines = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines).rstrip()


def _parse(text: str | None, source: str) -> dict[str, Any]:
    import yaml

    try:
        document = yaml.safe_load(text or "") or {}
    except yaml.YAMLError as exc:
        raise EnvironmentSpecError(
            f"{source} is not valid YAML: {exc}",
            hint="Fix the line named above, or delete the file and run `shipyard env export`.",
        ) from exc
    if not isinstance(document, dict):
        raise EnvironmentSpecError(
            f"{source} is not a conda environment file: its top level is not a mapping.",
            hint="An environment.yml has name:, channels: and dependencies: at its top level.",
        )
    return document


def _dependencies(document: Mapping[str, Any], source: str) -> list[Any]:
    dependencies = document.get("dependencies") or []
    if not isinstance(dependencies, list):
        raise EnvironmentSpecError(
            f"{source}: 'dependencies' is not a list.",
            hint="Write each dependency as a '- name=version' line under dependencies:.",
        )
    return dependencies

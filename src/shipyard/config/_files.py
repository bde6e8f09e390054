"""Finding the files of one kind of config and layering them: conf/base, then conf/<env>."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.config._tree import deep_merge
from shipyard.config._yaml import parse_mapping
from shipyard.errors import ConfigError

__all__ = ["Layered", "check_kind", "find_files", "load_layers"]

_KIND = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")


@dataclass(frozen=True, slots=True)
class Layered:
    """One kind of config with every env folder merged, before interpolation."""

    data: dict[Any, Any]
    origins: dict[Any, str]  # top-level key -> display path of the file that defined it last
    files: tuple[str, ...]  # display paths, in the order they were read
    interpolated: bool  # some file contains "${", so the data needs resolving


def check_kind(kind: str) -> None:
    """A kind becomes part of a glob pattern, so it must be a plain name."""
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise ConfigError(
            f"'{kind}' is not a valid kind of config.",
            hint="Use a plain name such as 'catalog', 'parameters' or 'monitoring'.",
        )


def find_files(folder: Path, kind: str) -> list[Path]:
    """``<kind>*.yml|yaml`` in ``folder`` and ``<kind>/**/*.yml|yaml`` below it, sorted.

    Anything whose name (or folder) starts with "." is skipped: editors' swap files and
    ``.ipynb_checkpoints`` copies must not become config.
    """
    found: set[Path] = set()
    for suffix in ("yml", "yaml"):
        found.update(folder.glob(f"{kind}*.{suffix}"))
        found.update(folder.glob(f"{kind}/**/*.{suffix}"))
    return sorted(
        path
        for path in found
        if not any(part.startswith(".") for part in path.relative_to(folder).parts)
        and path.is_file()
    )


def load_layers(
    folders: Sequence[Path], kind: str, *, display_root: Path, secret: bool = False
) -> Layered:
    """Read ``kind`` from each folder in order; later folders deep-merge over earlier ones."""
    data: dict[Any, Any] = {}
    origins: dict[Any, str] = {}
    files: list[str] = []
    interpolated = False
    for folder in folders:
        layer: dict[Any, Any] = {}
        layer_origins: dict[Any, str] = {}
        for path in find_files(folder, kind):
            display = path.relative_to(display_root).as_posix()
            text = _read_text(path, display)
            content = parse_mapping(text, display, secret=secret)
            _add_file(layer, layer_origins, content, display)
            files.append(display)
            interpolated = interpolated or "${" in text
        data = deep_merge(data, layer)
        origins.update(layer_origins)
    return Layered(data, origins, tuple(files), interpolated)


def _add_file(
    layer: dict[Any, Any], origins: dict[Any, str], content: dict[Any, Any], display: str
) -> None:
    for key, value in content.items():
        # "_" keys hold YAML anchors, which are local to a file: every file may have its own.
        if key in origins and not str(key).startswith("_"):
            raise ConfigError(
                f"Key '{key}' is defined in two files of the same folder: "
                f"{origins[key]} and {display}.",
                hint="Keep each top-level key in one file per folder. To change it for one "
                "environment only, put the key in conf/<env>/ instead of conf/base/.",
            )
        layer[key] = value
        origins[key] = display


def _read_text(path: Path, display: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{display} is not UTF-8 text (byte {exc.start} cannot be decoded).",
            hint="Save the file as UTF-8 in your editor.",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{display} cannot be read: {exc.strerror}.",
            hint="Check that the file exists and that you may read it.",
        ) from exc

"""``shipyard info``: versions, the project here, optional extras and installed plugins."""

from __future__ import annotations

import importlib.util
import platform
import sys
from typing import Any

from shipyard.__about__ import __version__
from shipyard.cli._options import EnvOption, JsonOption
from shipyard.cli._output import emit_json, print_table

__all__ = ["info"]

# extra name -> the module whose presence means the extra is installed
_EXTRAS = {
    "excel": "openpyxl",
    "dask": "distributed",
    "postgres": "psycopg",
    "s3": "s3fs",
    "lab": "jupyterlab",
    "onnx": "onnxruntime",
    "ui": "plotly",
}
_PLUGIN_GROUPS = ("shipyard.hooks", "shipyard.datasets")


def info(env: EnvOption = None, as_json: JsonOption = False) -> None:
    """Show Shipyard's version, the project in this folder, extras and plugins."""
    from shipyard._entry_points import entry_points

    report = {
        "shipyard_version": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "project": _project(env),
        "extras": {extra: importlib.util.find_spec(m) is not None for extra, m in _EXTRAS.items()},
        "plugins": {
            group: sorted(f"{ep.name} = {ep.value}" for ep in entry_points(group))
            for group in _PLUGIN_GROUPS
        },
    }
    if as_json:
        emit_json("info", report)
        return
    rows: list[tuple[str, Any]] = [
        ("shipyard", report["shipyard_version"]),
        ("python", report["python"]),
        ("platform", report["platform"]),
    ]
    project = report["project"]
    if project is None:
        rows.append(("project", "none here (create one with `shipyard new NAME`)"))
    else:
        rows.extend((f"project.{key}", value) for key, value in project.items())
    rows.extend(
        (f"extra.{extra}", "installed" if ok else f'pip install "shipyard[{extra}]"')
        for extra, ok in report["extras"].items()
    )
    rows.extend(
        (f"plugins.{group}", ", ".join(names) or "none")
        for group, names in report["plugins"].items()
    )
    print_table("Shipyard", ["what", "value"], rows)


def _project(env: str | None) -> dict[str, Any] | None:
    from shipyard.errors import ProjectError
    from shipyard.settings import Settings

    try:
        settings = Settings.for_project(env=env)
    except ProjectError:
        return None
    return {
        "root": str(settings.project_root),
        "package": settings.package_name,
        "env": settings.env,
        "conf_source": str(settings.conf_source),
        "shipyard_dir": str(settings.shipyard_dir),
    }

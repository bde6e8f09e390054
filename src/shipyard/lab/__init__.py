"""The lab: new projects, notebooks run headless or as pipeline nodes, environments.

>>> from shipyard.lab import create_project, run_notebook, export_environment
>>> project = create_project(Path("churn"))  # doctest: +SKIP
>>> run_notebook("churn/notebooks/explore.ipynb", parameters={"n": 300}).status  # doctest: +SKIP
'finished'
>>> export_environment("churn").paths  # doctest: +SKIP
(PosixPath('churn/requirements.lock'), PosixPath('churn/environment.yml'))

In a notebook, ``%load_ext shipyard`` opens the project it is in (docs/lab.md). Names
are imported on first use: ``shipyard new`` does not pay for the notebook machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard._lazy import lazy_getattr
from shipyard.lab._new_project import NewProject, create_project, default_package_name

if TYPE_CHECKING:  # for type checkers and IDEs only; runtime imports are lazy below
    from shipyard.lab._env_check import EnvironmentDiff, PackageChange
    from shipyard.lab._env_create import CreatedEnvironment, create_environment
    from shipyard.lab._env_files import EnvironmentSpec
    from shipyard.lab._environments import (
        ExportResult,
        check_environment,
        export_environment,
        load_environment,
    )
    from shipyard.lab._notebook import (
        ExecutedNotebook,
        NotebookRun,
        execute_notebook,
        run_notebook,
    )
    from shipyard.lab._notebook_node import notebook_node
    from shipyard.lab._parameters import parse_parameter

_LAZY = {
    "CreatedEnvironment": "._env_create",
    "EnvironmentDiff": "._env_check",
    "EnvironmentSpec": "._env_files",
    "ExecutedNotebook": "._notebook",
    "ExportResult": "._environments",
    "NotebookRun": "._notebook",
    "PackageChange": "._env_check",
    "check_environment": "._environments",
    "create_environment": "._env_create",
    "execute_notebook": "._notebook",
    "export_environment": "._environments",
    "load_environment": "._environments",
    "notebook_node": "._notebook_node",
    "parse_parameter": "._parameters",
    "run_notebook": "._notebook",
}

__all__ = [
    "CreatedEnvironment",
    "EnvironmentDiff",
    "EnvironmentSpec",
    "ExecutedNotebook",
    "ExportResult",
    "NewProject",
    "NotebookRun",
    "PackageChange",
    "check_environment",
    "create_environment",
    "create_project",
    "default_package_name",
    "execute_notebook",
    "export_environment",
    "load_environment",
    "notebook_node",
    "parse_parameter",
    "run_notebook",
]

__getattr__ = lazy_getattr(__name__, _LAZY)

"""Finding a project's pipelines: its pipeline_registry.py, or one folder per pipeline."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import TYPE_CHECKING

from shipyard.errors import PipelineError, ProjectError, ShipyardError
from shipyard.pipeline import pipeline

if TYPE_CHECKING:
    from shipyard.pipeline import Pipeline

__all__ = ["find_pipelines", "load_pipelines", "load_project_module"]


def load_project_module(package: str, module: str) -> ModuleType | None:
    """Import ``<package>.<module>``; None when it does not exist, ProjectError when it fails."""
    qualified = f"{package}.{module}"
    try:
        return importlib.import_module(qualified)
    except ModuleNotFoundError as exc:
        if exc.name in (package, qualified):
            if exc.name == package:
                raise ProjectError(
                    f"The project package '{package}' cannot be imported.",
                    hint=f"Check that src/{package}/__init__.py exists, or set package_name "
                    "in [tool.shipyard] of pyproject.toml.",
                ) from exc
            return None
        raise _import_failed(qualified, exc) from exc
    except ShipyardError:
        raise  # a pipeline defined wrongly already says what is wrong
    except Exception as exc:
        raise _import_failed(qualified, exc) from exc


def load_pipelines(package: str) -> dict[str, Pipeline]:
    """The project's pipelines: ``register_pipelines()`` of its pipeline_registry.py if it
    has one, else every ``pipelines/<name>/pipeline.py``, with ``__default__`` their sum."""
    registry = load_project_module(package, "pipeline_registry")
    if registry is None:
        pipelines = find_pipelines(package)
        pipelines["__default__"] = sum(pipelines.values(), start=pipeline([]))
        return pipelines
    register = getattr(registry, "register_pipelines", None)
    if register is None:
        raise ProjectError(
            f"{package}/pipeline_registry.py has no register_pipelines() function.",
            hint="Define register_pipelines() returning a dict of pipeline name -> Pipeline.",
        )
    pipelines = register()
    if not isinstance(pipelines, dict):
        raise ProjectError(
            f"register_pipelines() in {package}/pipeline_registry.py returned "
            f"{type(pipelines).__name__}, not a dict of name -> Pipeline.",
            hint="Return a dict such as {'__default__': my_pipeline}.",
        )
    return pipelines


def find_pipelines(package: str) -> dict[str, Pipeline]:
    """Every ``<package>.pipelines.<name>`` folder's ``create_pipeline()``, by folder name.

    >>> find_pipelines("churn")  # doctest: +SKIP
    {'data_processing': Pipeline(4 nodes), 'training': Pipeline(2 nodes)}
    """
    container = load_project_module(package, "pipelines")
    if container is None:
        return {}
    pipelines: dict[str, Pipeline] = {}
    for info in sorted(pkgutil.iter_modules(container.__path__), key=lambda i: i.name):
        if not info.ispkg or info.name.startswith("_"):
            continue
        module = load_project_module(package, f"pipelines.{info.name}.pipeline")
        module = module or load_project_module(package, f"pipelines.{info.name}")
        create = getattr(module, "create_pipeline", None)
        if create is None:
            raise PipelineError(
                f"Pipeline folder {package}/pipelines/{info.name} has no create_pipeline().",
                hint="Define create_pipeline() in its pipeline.py, returning a Pipeline.",
            )
        pipelines[info.name] = create()
    return pipelines


def _import_failed(module: str, exc: BaseException) -> ProjectError:
    return ProjectError(
        f"Importing {module} failed: {type(exc).__name__}: {exc}",
        hint="Fix the error in that module; run with --debug to see the traceback.",
    )

"""A project opened for a run: settings, config, catalog, pipelines, hooks, logging, progress.

>>> from shipyard.project import Session
>>> session = Session.open("churn")  # doctest: +SKIP
>>> session.run("training")  # doctest: +SKIP

Names are imported on first use: a command that only opens a session (``shipyard data
status``) does not pay for the progress bar, logging handlers or remotes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard._lazy import lazy_getattr

if TYPE_CHECKING:  # for type checkers and IDEs only; runtime imports are lazy below
    from shipyard.project._cache import ProjectNodeCache
    from shipyard.project._logging import (
        ConsoleHandler,
        configure_logging,
        default_logging_config,
    )
    from shipyard.project._progress import RunProgress
    from shipyard.project._registry import find_pipelines
    from shipyard.project._remotes import Remote, load_remotes, remote_store, select_remote
    from shipyard.project._session import DEFAULT_PIPELINE, Session

_LAZY = {
    "DEFAULT_PIPELINE": "._session",
    "ConsoleHandler": "._logging",
    "ProjectNodeCache": "._cache",
    "Remote": "._remotes",
    "RunProgress": "._progress",
    "Session": "._session",
    "configure_logging": "._logging",
    "default_logging_config": "._logging",
    "find_pipelines": "._registry",
    "load_remotes": "._remotes",
    "remote_store": "._remotes",
    "select_remote": "._remotes",
}

__all__ = [
    "DEFAULT_PIPELINE",
    "ConsoleHandler",
    "ProjectNodeCache",
    "Remote",
    "RunProgress",
    "Session",
    "configure_logging",
    "default_logging_config",
    "find_pipelines",
    "load_remotes",
    "remote_store",
    "select_remote",
]


__getattr__ = lazy_getattr(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted(__all__)

"""A project opened for a run: settings, config, catalog, pipelines, hooks, logging, progress.

>>> from shipyard.project import Session
>>> session = Session.open("churn")  # doctest: +SKIP
>>> session.run("training")  # doctest: +SKIP
"""

from shipyard.project._logging import ConsoleHandler, configure_logging, default_logging_config
from shipyard.project._progress import RunProgress
from shipyard.project._registry import find_pipelines
from shipyard.project._remotes import Remote, load_remotes, remote_store, select_remote
from shipyard.project._session import DEFAULT_PIPELINE, Session

__all__ = [
    "DEFAULT_PIPELINE",
    "ConsoleHandler",
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

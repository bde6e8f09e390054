"""Logging for a project run: standard ``logging`` configured from conf/*/logging*.yml.

The default sends Shipyard's and the project's INFO messages to stderr through Rich,
so that stdout stays free for ``--json`` output. Per-node messages are DEBUG: a Rich
log line costs far more than running a small node, and the progress bar already shows
which node is running.
"""

from __future__ import annotations

import logging
import logging.config
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.logging import RichHandler

from shipyard.errors import ConfigError

__all__ = ["ConsoleHandler", "configure_logging", "default_logging_config"]


class ConsoleHandler(RichHandler):
    """A Rich log handler that writes to stderr (a plain ``RichHandler`` writes to stdout)."""

    def __init__(self, level: int | str = logging.NOTSET, **kwargs: Any) -> None:
        kwargs.setdefault("console", Console(stderr=True))
        kwargs.setdefault("show_path", False)
        kwargs.setdefault("rich_tracebacks", False)
        super().__init__(level, **kwargs)


def default_logging_config(project_package: str | None = None) -> dict[str, Any]:
    """The logging configuration used when a project has no logging*.yml.

    >>> default_logging_config("churn")["loggers"]["churn"]["level"]
    'INFO'
    """
    loggers: dict[str, Any] = {"shipyard": {"level": "INFO"}}
    if project_package:
        loggers[project_package] = {"level": "INFO"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"message": {"format": "%(message)s", "datefmt": "[%X]"}},
        "handlers": {
            "console": {
                "class": "shipyard.project.ConsoleHandler",
                "formatter": "message",
            }
        },
        "loggers": loggers,
        "root": {"level": "WARNING", "handlers": ["console"]},
    }


def configure_logging(config: Mapping[str, Any] | None = None, *, quiet: bool = False) -> None:
    """Apply a ``logging.config.dictConfig`` mapping (the default when None).

    ``quiet`` keeps warnings and errors only, whatever the configuration says.
    """
    try:
        logging.config.dictConfig(dict(config) if config is not None else default_logging_config())
    except (ValueError, TypeError, AttributeError, ImportError) as exc:
        raise ConfigError(
            f"The logging configuration is invalid: {exc}",
            hint="Fix conf/*/logging*.yml; it follows Python's logging.config.dictConfig schema.",
        ) from exc
    if quiet:
        for handler in logging.getLogger().handlers:
            handler.setLevel(logging.WARNING)

"""Options shared by several commands, so they read and behave the same everywhere."""

from __future__ import annotations

from typing import Annotated, Any

import typer

__all__ = ["EnvOption", "JsonOption", "QuietOption", "command_group", "split_names"]

EnvOption = Annotated[
    str | None,
    typer.Option(
        "--env",
        "-e",
        metavar="ENV",
        help="Configuration environment: conf/base overlaid with conf/ENV. "
        "Default: SHIPYARD_ENV, else the project's default_env (local).",
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout, nothing else.")
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bar and no log lines below WARNING.")
]


def split_names(values: list[str] | None) -> tuple[str, ...]:
    """Names given as repeated options and/or comma-separated: ``-t a,b -t c``."""
    return tuple(
        name.strip() for value in values or () for name in value.split(",") if name.strip()
    )


def command_group(help: str, **settings: Any) -> typer.Typer:
    """The Typer app of a group of subcommands (``shipyard data ...``), with the root's
    settings: plain help (Rich help costs ~0.1 s of imports), help when called bare. The
    root builds a group only when it is used (``cli._app``), so each carries them itself."""
    return typer.Typer(
        help=help, no_args_is_help=True, rich_markup_mode=None, add_completion=False, **settings
    )

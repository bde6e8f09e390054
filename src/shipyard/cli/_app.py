"""The root ``shipyard`` command and its subcommands.

Only Typer is imported here: each command imports what it needs when it runs, so
``shipyard --help`` starts fast. Commands and groups of subcommands (``data``, ``runs``, ...)
are turned into Click commands only when used: building all 51 commands' options from
their signatures cost ~35 ms on every start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from shipyard.__about__ import __version__
from shipyard.cli import (
    _catalog,
    _data,
    _db,
    _deploy,
    _env,
    _info,
    _lab,
    _lineage,
    _models,
    _monitor,
    _new,
    _notebook,
    _pipeline,
    _predict,
    _quickstart,
    _run,
    _runs,
    _serve,
)

__all__ = ["GROUPS", "VERBS", "app"]

#: The top-level commands, in the order help lists them.
VERBS: dict[str, Callable[..., Any]] = {
    "new": _new.new,
    "run": _run.run,
    "info": _info.info,
    "quickstart": _quickstart.quickstart,
    "serve": _serve.serve,
    "predict": _predict.predict,
    "lab": _lab.lab,
    "lineage": _lineage.lineage,
}
#: The groups of subcommands, listed after the verbs.
GROUPS: dict[str, typer.Typer] = {
    "pipeline": _pipeline.app,
    "catalog": _catalog.app,
    "data": _data.app,
    "db": _db.app,
    "runs": _runs.app,
    "models": _models.app,
    "monitor": _monitor.app,
    "deploy": _deploy.app,
    "notebook": _notebook.app,
    "env": _env.app,
}


class _BuiltOnDemand(TyperGroup):
    """The root command: a verb or group becomes a Click command when it is first looked
    up (to run it, or to list it in help). Until then its name maps to a bare placeholder,
    so that listing and "Did you mean" suggestions know every name."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._unbuilt = {*VERBS, *GROUPS}
        self.commands.update({name: TyperGroup(name=name) for name in (*VERBS, *GROUPS)})

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:
        if cmd_name in self._unbuilt:
            self.commands[cmd_name] = _build(cmd_name)
            self._unbuilt.discard(cmd_name)
        return super().get_command(ctx, cmd_name)


def _build(name: str) -> Any:
    if name in GROUPS:
        command = typer.main.get_group(GROUPS[name])  # a group even with one command
    else:
        alone = typer.Typer(rich_markup_mode=None, add_completion=False)
        alone.command(name)(VERBS[name])
        command = typer.main.get_command(alone)  # one command: Typer gives the command
    command.name = name
    return command


app = typer.Typer(
    name="shipyard",
    cls=_BuiltOnDemand,
    help="Shipyard: the MLOps blueprint in one tool. Start with `shipyard quickstart`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Rich-formatted help costs ~0.1 s of imports on every --help; plain help keeps
    # the cold start under the 0.2 s budget.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"shipyard {__version__}")
        raise typer.Exit


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[
        bool | None,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks for errors.")
    ] = False,
) -> None:
    """Shipyard: the MLOps blueprint in one tool. Start with `shipyard quickstart`."""
    ctx.obj.debug = debug


_runs.app.command("reproduce")(_lineage.reproduce)

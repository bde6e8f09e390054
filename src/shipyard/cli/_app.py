"""The root ``shipyard`` command and its subcommands.

Only Typer is imported here: each command imports what it needs when it runs, so
``shipyard --help`` starts fast. Groups of subcommands (``data``, ``runs``, ...) are turned
into Click commands only when used: building all 51 commands' options from their
signatures cost ~35 ms on every start.
"""

from __future__ import annotations

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

__all__ = ["GROUPS", "app"]

#: The groups of subcommands, in the order help lists them (after the top-level verbs).
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


class _GroupsOnDemand(TyperGroup):
    """The root command: a group in :data:`GROUPS` becomes a Click group when it is first
    looked up (to run it, or to list it in help). Until then its name maps to a bare
    placeholder, so that listing and "Did you mean" suggestions know every name."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._unbuilt = set(GROUPS)
        self.commands.update({name: TyperGroup(name=name) for name in GROUPS})

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:
        if cmd_name in self._unbuilt:
            group = typer.main.get_group(GROUPS[cmd_name])  # a group even with one command
            group.name = cmd_name
            self.commands[cmd_name] = group
            self._unbuilt.discard(cmd_name)
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    name="shipyard",
    cls=_GroupsOnDemand,
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


app.command("new")(_new.new)
app.command("run")(_run.run)
app.command("info")(_info.info)
app.command("quickstart")(_quickstart.quickstart)
app.command("serve")(_serve.serve)
app.command("predict")(_predict.predict)
app.command("lab")(_lab.lab)
app.command("lineage")(_lineage.lineage)
_runs.app.command("reproduce")(_lineage.reproduce)

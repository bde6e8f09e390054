"""The root ``shipyard`` command and its subcommands.

Only Typer is imported here: each command imports what it needs when it runs, so
``shipyard --help`` starts fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

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

__all__ = ["app"]

app = typer.Typer(
    name="shipyard",
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
app.add_typer(_pipeline.app, name="pipeline")
app.add_typer(_catalog.app, name="catalog")
app.add_typer(_data.app, name="data")
app.add_typer(_db.app, name="db")
app.add_typer(_runs.app, name="runs")
app.add_typer(_models.app, name="models")
app.add_typer(_monitor.app, name="monitor")
app.add_typer(_deploy.app, name="deploy")
app.add_typer(_notebook.app, name="notebook")
app.add_typer(_env.app, name="env")
app.command("lineage")(_lineage.lineage)
_runs.app.command("reproduce")(_lineage.reproduce)

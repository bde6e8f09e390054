"""``shipyard notebook ...``: notebooks run headless, each run tracked.

``shipyard notebook run notebooks/train.ipynb -p n_estimators=300`` runs every cell in a
new kernel (in the notebook's folder, as Jupyter does), with the parameters injected
after the cell tagged ``parameters``, and records a run: its params, the metrics the
notebook logs with ``shipyard.log_metric``, and the executed notebook as an artifact.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shipyard.cli._options import EnvOption, JsonOption, command_group
from shipyard.cli._output import emit_json, say

if TYPE_CHECKING:
    from shipyard.lab._notebook import NotebookRun

__all__ = ["app", "skip_iri_format_checker"]

app = command_group(
    "Run notebooks headless as tracked runs, with parameters (papermill-style "
    "`parameters` cell), a timeout per cell and the executed notebook kept."
)


@app.command("run")
def run(
    notebook: Annotated[
        Path, typer.Argument(help="The .ipynb file to run, inside a Shipyard project.")
    ],
    parameter: Annotated[
        list[str] | None,
        typer.Option(
            "--parameter",
            "-p",
            metavar="NAME=VALUE",
            help="Set a variable of the notebook's `parameters` cell; the value is YAML "
            "(300, 0.5, true, [1, 2], 'text'). Repeat for several.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="Also write the executed notebook (outputs and errors included) here. "
            "It is always kept with the run as artifact notebook.ipynb.",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", min=0.001, metavar="SECONDS", help="Stop a cell that runs longer."
        ),
    ] = 600.0,
    env: EnvOption = None,
    experiment: Annotated[
        str | None,
        typer.Option(
            "--experiment",
            metavar="NAME",
            help="Record the run in this experiment (default: Default).",
            show_default=False,
        ),
    ] = None,
    kernel: Annotated[
        str | None,
        typer.Option(
            "--kernel",
            metavar="NAME",
            help="Run with this Jupyter kernel instead of the one the notebook names "
            "(`jupyter kernelspec list`).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run a notebook headless as a tracked run of its project.

    Every cell runs, top to bottom, in a new kernel started in the notebook's folder.
    A failing cell stops the run: the error names the cell (counting every cell of the
    notebook) and the exception, the run is recorded as failed, and the executed
    notebook with the error is kept. `shipyard runs show RUN` shows the run."""
    skip_iri_format_checker()
    from shipyard.errors import NotebookError, ParamsError
    from shipyard.lab._notebook import run_notebook
    from shipyard.lab._parameters import parse_parameter

    parameters: dict[str, Any] = {}
    for text in parameter or ():
        name, value = parse_parameter(text)
        if name in parameters:
            raise ParamsError(
                f"Parameter '{name}' is given twice (-p {text}).",
                hint="Give each parameter once.",
            )
        parameters[name] = value
    from rich.console import Console
    from rich.progress import Progress

    bar = Progress(console=Console(stderr=True), transient=True, disable=as_json)
    with _warnings_on_stderr(), bar as progress:
        task = progress.add_task(f"running {_plain(notebook)}", total=None)

        def started(label: str, position: int, total: int) -> None:
            progress.update(task, description=label, completed=position - 1, total=total)

        try:
            done = run_notebook(
                notebook,
                parameters=parameters,
                output=output,
                timeout_s=timeout,
                env_name=env,
                experiment=experiment,
                kernel_name=kernel,
                on_cell=started,
            )
        except NotebookError as error:
            if error.run_id:
                say(f"[red]✗[/red] Run {error.run_id}: {_plain(notebook)} failed")
            raise
    if as_json:
        emit_json("notebook_run", _describe(done, notebook))
        return
    shown = _plain(notebook)
    say(f"[green]✓[/green] Run {done.run_id}: {shown} {done.status} in {done.duration_s:.1f}s")
    if done.output is not None:
        say(f"  executed notebook: {_plain(done.output)}")
    say(f"  kept with the run as artifact notebook.ipynb ({done.artifact_digest})")


def _describe(done: NotebookRun, notebook: Path) -> dict[str, Any]:
    return {
        "run_id": done.run_id,
        "notebook": str(notebook),
        "status": done.status,
        "duration_s": done.duration_s,
        "output": str(done.output) if done.output is not None else None,
        "artifact": {"name": "notebook.ipynb", "digest": done.artifact_digest},
        "warnings": list(done.warnings),
    }


def skip_iri_format_checker() -> None:
    """Keep jsonschema (imported by nbformat) from loading rfc3987-syntax, which builds
    ~35 Lark parsers at import for the ``iri`` format check: 1-2 s of every notebook
    command, for a check no notebook schema uses (jsonschema#1428). Only the CLI's own
    process does this; a program that imports Shipyard keeps its jsonschema whole."""
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


@contextmanager
def _warnings_on_stderr() -> Iterator[None]:
    """The lab's warnings (a parameter the notebook does not declare) as ``warning: ...``
    lines on stderr, as they happen, instead of through the logging setup."""

    class Printed(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            say(f"[yellow]warning:[/yellow] {_plain(record.getMessage())}")

    logger, handler = logging.getLogger("shipyard.lab"), Printed(logging.WARNING)
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _plain(text: object) -> str:
    """``text`` shown as it is, not read as Rich markup (``[1, 2]`` in a value)."""
    from rich.markup import escape

    return escape(str(text))

"""``shipyard env ...``: write the project's environment down (export), compare an
environment with it, a run's or a model's (check), and build it again (create).

``check`` exits 0 whatever it finds, so that it can be run for information; with
``--strict`` any difference exits 1 (for CI). docs/lab.md explains the files.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli._options import JsonOption, command_group
from shipyard.cli._output import emit_json, say

if TYPE_CHECKING:
    from shipyard.lab._env_check import EnvironmentDiff

__all__ = ["app"]

app = command_group(
    "Reproducible environments: export the project's (requirements.lock, "
    "environment.yml), check an interpreter against a file, a run or a model, and create "
    "a new environment from them (venv, or conda when it is installed)."
)

PythonOption = Annotated[
    Path | None,
    typer.Option(
        "--python",
        metavar="PATH",
        help="Another interpreter to read (e.g. .venv/bin/python). Default: the one "
        "running shipyard.",
        show_default=False,
    ),
]
SEVERITY_STYLES = {"major": "bold red", "minor": "yellow", "patch": "cyan"}


@app.command("export")
def export(
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="conda (environment.yml), pip (requirements.lock) or both.",
        ),
    ] = "both",
    python: PythonOption = None,
    output_dir: Annotated[
        Path | None,
        typer.Option(
            "--output-dir",
            "-o",
            help="Where to write the files. Default: the project's folder.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Pin the environment: every installed package as name==version in requirements.lock,
    and the project's environment.yml in sync (python=X.Y, a pinned pip: list; inside
    conda, the conda export). Packages from a local folder (the project itself, editable
    installs) are listed as '# local:' comments, not pinned."""
    from shipyard.lab._environments import export_environment
    from shipyard.settings import project_root_here

    root = project_root_here()
    result = export_environment(root, formats=output_format, python=python, output_dir=output_dir)
    for path in result.paths:
        typer.echo(str(path))
    origin = "conda env export" if result.conda else f"Python {result.python}"
    say(f"Pinned {result.packages} packages of {origin}.")
    if result.local:
        names = ", ".join(item.name for item in result.local)
        say(f"Not pinned (installed from a local folder): {names}.")


@app.command("check")
def check(
    run: Annotated[
        str | None,
        typer.Option(
            "--run", metavar="ID", help="Compare with a run's environment (id or prefix)."
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            metavar="REF",
            help="Compare with a model version's environment: its run's, else its package's "
            "requirements (churn@champion, churn:3).",
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            metavar="PATH",
            help="Compare with an environment.yml or a requirements file. Default (no --run, "
            "--model or --file): the project's requirements.lock, else its environment.yml.",
        ),
    ] = None,
    python: PythonOption = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit with code 1 when anything differs (for CI).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """How an interpreter's packages differ from a reference: Python's version, packages
    added, removed or changed, each marked major, minor or patch. Exit code 0 either way,
    unless --strict."""
    from shipyard.lab._environments import check_environment
    from shipyard.settings import project_root_here

    chosen = [(kind, value) for kind, value in (("run", run), ("model", model)) if value]
    chosen += [("file", str(file))] if file is not None else []
    if len(chosen) > 1:
        raise typer.BadParameter("give one of --run, --model and --file, not several.")
    root = project_root_here()
    kind, reference = chosen[0] if chosen else ("file", str(_default_file(root, "check")))
    diff = check_environment(
        reference,
        current=str(python) if python is not None else None,
        kind=kind,  # type: ignore[arg-type]
        project_root=root,
    )
    if as_json:
        emit_json("environment_diff", diff.to_dict())
    else:
        _print_diff(diff)
    if strict and not diff.identical:
        raise typer.Exit(1)


@app.command("create")
def create(
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            "-n",
            help="The environment's name. Default: the project's name (a venv goes to "
            ".venv-NAME in the project).",
            show_default=False,
        ),
    ] = None,
    path: Annotated[
        Path | None,
        typer.Option(
            "--path", "-p", help="Where to create the environment (a folder).", show_default=False
        ),
    ] = None,
    from_run: Annotated[
        str | None,
        typer.Option(
            "--from-run", metavar="ID", help="Recreate the environment a run was made in."
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            metavar="PATH",
            help="An environment.yml (conda, when installed) or a requirements lock (venv). "
            "Default: environment.yml with conda, else requirements.lock.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an environment that already exists there.")
    ] = False,
    python: Annotated[
        Path | None,
        typer.Option(
            "--python",
            metavar="PATH",
            help="The interpreter a venv is made from. Default: the one running shipyard.",
            show_default=False,
        ),
    ] = None,
    find_links: Annotated[
        list[Path] | None,
        typer.Option(
            "--find-links", metavar="DIR", help="Also look for wheels in DIR (pip's option)."
        ),
    ] = None,
    no_index: Annotated[
        bool,
        typer.Option("--no-index", help="Use no package index: only --find-links (offline)."),
    ] = False,
    index_url: Annotated[
        str | None,
        typer.Option(
            "--index-url", metavar="URL", help="The package index to use instead of PyPI."
        ),
    ] = None,
) -> None:
    """Create an environment: with conda (or mamba) on PATH from environment.yml, else a
    venv with pip installing the pinned requirements. Packages from a local folder (the
    project itself) are left for you to install, as the output says."""
    from shipyard.lab._env_create import create_environment
    from shipyard.settings import project_root_here

    if from_run and file is not None:
        raise typer.BadParameter("give --from-run or --file, not both.")
    root = project_root_here()
    source = from_run or str(file or _default_file(root, "create"))
    pip_args = [arg for folder in find_links or () for arg in ("--find-links", str(folder))]
    pip_args += ["--no-index"] if no_index else []
    pip_args += ["--index-url", index_url] if index_url else []
    from rich.console import Console

    console = Console(stderr=True, highlight=False)
    with console.status("Creating the environment…") as status:
        created = create_environment(
            source,
            name=name,
            path=path,
            force=force,
            python=python,
            pip_args=pip_args,
            project_root=root,
            progress=lambda message: status.update(f"{message}…"),
        )
    where = created.path or created.name
    say(f"Created the {created.kind} environment {where} ({created.installed} packages).")
    for note in created.notes:
        say(f"note: {note}")
    if created.skipped:
        say("Not installed (from a local folder): " + "; ".join(created.skipped) + ".")
        if created.python is not None and any("this project" in s for s in created.skipped):
            say(f"Install the project with: {created.python} -m pip install -e .")
    say(f"Activate it with: {created.activate}")
    typer.echo(str(where))


def _print_diff(diff: EnvironmentDiff) -> None:
    from rich.console import Console
    from rich.table import Table

    if not diff.complete:
        say(
            f"{diff.reference} names only {diff.compared} package"
            f"{'s' if diff.compared != 1 else ''}: other packages are not compared."
        )
    if diff.identical:
        say(f"No differences: {diff.current} matches {diff.reference}.")
        return
    counts = ", ".join(f"{n} {level}" for level, n in diff.counts().items() if n)
    table = Table(
        title=f"{diff.current} against {diff.reference}: {counts}",
        title_justify="left",
        header_style="bold",
    )
    for column in ("package", "change", "reference", "current", "severity"):
        table.add_column(column, overflow="fold")
    for change in diff.changes:
        table.add_row(
            change.name,
            change.change,
            change.reference or "",
            change.current or "",
            change.severity,
            style=SEVERITY_STYLES[change.severity],
        )
    Console(highlight=False).print(table)


def _default_file(root: Path | None, verb: str) -> Path:
    """The project's environment file a command uses when none is named."""
    from shipyard.errors import ProjectError
    from shipyard.lab._environments import conda_executable

    names = ["requirements.lock", "environment.yml"]
    if verb == "create" and conda_executable() is not None:
        names.reverse()
    for candidate in names:
        if root is not None and (root / candidate).is_file():
            return root / candidate
    raise ProjectError(
        f"No {' or '.join(names)} in "
        + (str(root) if root else f"a project at or above {Path.cwd()}")
        + f" to {verb} from.",
        hint="Write them with `shipyard env export`, or name one with --file"
        + (" (or a run with --from-run)." if verb == "create" else " (or --run / --model)."),
    )

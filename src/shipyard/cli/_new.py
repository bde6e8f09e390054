"""``shipyard new``: a complete, working project from the template."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli._output import say

__all__ = ["new"]


def new(
    name: Annotated[str, typer.Argument(help="Folder to create; its name is the project name.")],
    package_name: Annotated[
        str | None,
        typer.Option(
            "--package-name",
            help="Python package under src/ (default: the name, lower-case, with _).",
            show_default=False,
        ),
    ] = None,
    example: Annotated[
        bool,
        typer.Option(
            "--example/--no-example",
            help="Include the customer-churn example pipelines, tests and notebook.",
        ),
    ] = True,
    git: Annotated[
        bool, typer.Option("--git/--no-git", help="Initialise a git repository with a commit.")
    ] = True,
) -> None:
    """Create a new project in a new folder NAME (it must not exist or must be empty)."""
    from shipyard.lab import create_project

    project = create_project(Path(name), package_name=package_name, example=example, init_git=git)
    say(f"[green]✓[/green] Created project '{project.path.name}' in {project.path}")
    if git and project.git_note:
        say(f"  {project.git_note}")
    say(f"  next: cd {name} && shipyard run")

"""``shipyard data ...``: the versions of versioned datasets, their tags, and integrity."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli._options import EnvOption, JsonOption, QuietOption
from shipyard.cli._output import emit_json, print_table, say

if TYPE_CHECKING:
    from shipyard.project import Session

__all__ = ["app"]

app = typer.Typer(
    help="Versions of versioned datasets (versioned: true): list, tag, verify.",
    no_args_is_help=True,
)

DatasetArgument = Annotated[str, typer.Argument(help="A dataset with versioned: true.")]


@app.command("versions")
def versions(name: DatasetArgument, env: EnvOption = None, as_json: JsonOption = False) -> None:
    """List a dataset's versions, newest first: id, created, size, digest, run, tags."""
    session = _open(env)
    found = session.versioning.index.versions(_versioned(session, name))
    if as_json:
        emit_json("versions", [version.to_dict() for version in found])
        return
    print_table(
        f"Versions of '{name}', newest first",
        ["id", "created (UTC)", "size", "digest", "run", "tags"],
        [
            (
                version.id,
                version.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                format_size(version.size),
                str(version.digest)[:19] + "…",
                version.run_id or "",
                ", ".join(version.tags),
            )
            for version in found
        ],
    )


@app.command("tag")
def tag(
    name: DatasetArgument,
    ref: Annotated[str, typer.Argument(help="A version id, unique id prefix, tag, or latest.")],
    tag_name: Annotated[str, typer.Argument(metavar="TAG", help="The tag, e.g. q3-audit.")],
    move: Annotated[
        bool, typer.Option("--move", help="Move the tag if another version has it.")
    ] = False,
    env: EnvOption = None,
) -> None:
    """Name a version (q3-audit, baseline) for --load-version and later reference."""
    session = _open(env)
    version = session.versioning.index.tag(_versioned(session, name), ref, tag_name, move=move)
    say(f"[green]✓[/green] {name}@{version.id} is tagged '{tag_name}'")


@app.command("verify")
def verify(env: EnvOption = None, quiet: QuietOption = False, as_json: JsonOption = False) -> None:
    """Re-hash every stored object and report any whose bytes no longer match their digest."""
    from rich.progress import Progress

    store = _open(env).versioning.store
    with Progress(transient=True, disable=quiet or as_json) as progress:
        task = progress.add_task("verifying objects", total=None)
        report = store.verify_all(progress=lambda files, _bytes: progress.advance(task, files))
    corrupt = [str(digest) for digest in report.corrupt]
    if as_json:
        emit_json("verify", {"checked": report.checked, "corrupt": corrupt})
    elif not corrupt:
        say(f"[green]✓[/green] {report.checked} objects checked, all intact")
    if corrupt:
        from shipyard.errors import CorruptObjectError

        raise CorruptObjectError(
            f"{len(corrupt)} of {report.checked} objects in {store.url} are corrupt: "
            + ", ".join(corrupt),
            hint="Versions stored in them cannot be loaded. Delete those object files and "
            "store the data again by saving the datasets once more.",
        )


def format_size(size: int) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _open(env: str | None) -> Session:
    from shipyard.project import Session

    return Session.open(env=env)


def _versioned(session: Session, name: str) -> str:
    from shipyard.errors import DatasetError, did_you_mean

    versioned = session.catalog.versioned_datasets()
    if name not in versioned:
        raise DatasetError(
            f"Dataset '{name}' is not versioned." + did_you_mean(name, versioned),
            hint="Add `versioned: true` to its catalog entry. Versioned datasets here: "
            + (", ".join(versioned) or "none"),
        )
    return name

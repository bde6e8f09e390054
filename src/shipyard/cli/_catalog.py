"""``shipyard catalog list|describe``: the datasets, their types and where they live."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shipyard.cli._options import EnvOption, JsonOption, command_group
from shipyard.cli._output import emit_json, print_table

__all__ = ["app"]

app = command_group("List and describe the datasets of the data catalog.")


@app.command("list")
def list_datasets(
    env: EnvOption = None,
    pipeline: Annotated[
        str | None,
        typer.Option(
            "--pipeline", "-p", help="Only datasets this pipeline uses.", show_default=False
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List the datasets: catalog entries, plus the ones pipelines use that live in memory."""
    from shipyard.project import Session

    session = Session.open(env=env)
    catalog = session.catalog
    used = _datasets_used(session, pipeline)
    names = sorted((set(catalog.list()) | used) if pipeline is None else used)
    rows = [_row(catalog, name) for name in names if not name.startswith("params:")]
    rows = [row for row in rows if row["name"] != "parameters"]
    if as_json:
        emit_json("datasets", rows)
        return
    print_table(
        "Datasets" + (f" used by '{pipeline}'" if pipeline else ""),
        ["name", "type", "location", "defined in"],
        [(r["name"], r["type"], r.get("filepath") or "", r.get("origin") or "") for r in rows],
    )


@app.command("describe")
def describe(
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    env: EnvOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one dataset's type, location, options and the entry that defines it."""
    from shipyard.project import Session

    description = Session.open(env=env).catalog.describe(name)
    if as_json:
        emit_json("dataset", {"name": name, **description})
        return
    print_table(f"Dataset '{name}'", ["field", "value"], sorted(description.items()))


def _datasets_used(session: Any, pipeline: str | None) -> set[str]:
    if pipeline is not None:
        return session.pipeline(pipeline).datasets()
    return set().union(*(p.datasets() for p in session.pipelines.values()))


def _row(catalog: Any, name: str) -> dict[str, Any]:
    if name in catalog:
        return {"name": name, **catalog.describe(name)}
    return {"name": name, "type": "memory", "filepath": None, "origin": "(not in catalog)"}

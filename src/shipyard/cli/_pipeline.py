"""``shipyard pipeline list|show``: the project's pipelines and their DAGs."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shipyard.cli._options import EnvOption, JsonOption, command_group
from shipyard.cli._output import emit_json, print_table

if TYPE_CHECKING:
    from shipyard.pipeline import Pipeline

__all__ = ["app"]

app = command_group("List the project's pipelines and show their DAGs.")


class ShowFormat(StrEnum):
    text = "text"
    dot = "dot"


@app.command("list")
def list_pipelines(env: EnvOption = None, as_json: JsonOption = False) -> None:
    """List the pipelines of the project: name, nodes, free inputs and outputs."""
    from shipyard.project import Session

    pipelines = Session.open(env=env).pipelines
    rows = [_summary(name, pipelines[name]) for name in sorted(pipelines)]
    if as_json:
        emit_json("pipelines", rows)
        return
    print_table(
        "Pipelines",
        ["name", "nodes", "inputs", "outputs"],
        [(r["name"], r["nodes"], ", ".join(r["inputs"]), ", ".join(r["outputs"])) for r in rows],
    )


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Pipeline name.")] = "__default__",
    env: EnvOption = None,
    output_format: Annotated[
        ShowFormat, typer.Option("--format", help="text (a table by layer) or dot (Graphviz).")
    ] = ShowFormat.text,
    as_json: JsonOption = False,
) -> None:
    """Show a pipeline's DAG: its nodes layer by layer, with inputs and outputs."""
    from shipyard.project import Session

    pipeline = Session.open(env=env).pipeline(name)
    if as_json:
        emit_json("pipeline", {"name": name, **pipeline.describe()})
    elif output_format is ShowFormat.dot:
        typer.echo(_to_dot(name, pipeline))
    else:
        rows = [
            (layer, node.name, ", ".join(node.inputs), ", ".join(node.outputs), _tags(node))
            for layer, group in enumerate(pipeline.grouped_nodes, start=1)
            for node in group
        ]
        print_table(
            f"Pipeline '{name}': {len(pipeline.nodes)} nodes in {len(pipeline.grouped_nodes)}"
            " layers (a layer runs after every layer above it)",
            ["layer", "node", "inputs", "outputs", "tags"],
            rows,
        )


def _summary(name: str, pipeline: Pipeline) -> dict[str, Any]:
    return {
        "name": name,
        "nodes": len(pipeline.nodes),
        "inputs": sorted(pipeline.inputs()),
        "outputs": sorted(pipeline.outputs()),
    }


def _tags(node: Any) -> str:
    return ", ".join(sorted(node.tags))


def _to_dot(name: str, pipeline: Pipeline) -> str:
    lines = [f'digraph "{name}" {{', "  rankdir=LR;", "  node [fontname=Helvetica];"]
    for dataset in sorted(pipeline.datasets()):
        lines.append(f'  "{dataset}" [shape=box, style=rounded];')
    for node in pipeline.nodes:
        lines.append(f'  "node:{node.name}" [label="{node.name}", shape=ellipse, style=filled];')
        lines.extend(f'  "{source}" -> "node:{node.name}";' for source in node.inputs)
        lines.extend(f'  "node:{node.name}" -> "{target}";' for target in node.outputs)
    lines.append("}")
    return "\n".join(lines)

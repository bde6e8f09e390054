"""After a failed run: the smallest set of nodes to start again from.

Data kept only in memory is gone once the process ends, so resuming must re-run every
node whose output a remaining node needs and that was not persisted, walking upstream
until every input of the resumed slice is persisted or comes from outside the pipeline.
"""

from __future__ import annotations

import shlex
from collections.abc import Collection

from shipyard.pipeline import Node, Pipeline
from shipyard.runner._protocol import CatalogProtocol

__all__ = ["resume_command", "resume_nodes"]


def resume_nodes(
    pipeline: Pipeline, completed: Collection[str], catalog: CatalogProtocol
) -> list[str]:
    """Names of the nodes to pass to ``--from-nodes``, in pipeline order.

    ``pipeline.from_nodes(result)`` re-runs every node that did not complete, and every
    input it needs from outside itself is persisted or a free input of the pipeline.
    """
    nodes = pipeline.nodes
    producer = {name: item for item in nodes for name in item.outputs}
    readers: dict[str, list[Node]] = {}
    for item in nodes:
        for name in item.inputs:
            readers.setdefault(name, []).append(item)
    persistent: dict[str, bool] = {}
    selected = {item.name: item for item in nodes if item.name not in completed}
    while True:
        selected = _with_downstream(selected, readers)
        missing = {}
        for item in selected.values():
            for name in item.inputs:
                source = producer.get(name)
                if source is None or source.name in selected:
                    continue
                if name not in persistent:
                    persistent[name] = catalog.is_persistent(name)
                if not persistent[name]:
                    missing[source.name] = source
        if not missing:
            break
        selected.update(missing)
    return [
        item.name
        for item in nodes
        if item.name in selected
        and not any(producer[n].name in selected for n in item.inputs if n in producer)
    ]


def resume_command(names: list[str]) -> str:
    """``shipyard run --from-nodes a,b``, quoted for a shell."""
    return f"shipyard run --from-nodes {shlex.quote(','.join(names))}"


def _with_downstream(start: dict[str, Node], readers: dict[str, list[Node]]) -> dict[str, Node]:
    found = dict(start)
    stack = list(start.values())
    while stack:
        current = stack.pop()
        for name in current.outputs:
            for reader in readers.get(name, ()):
                if reader.name not in found:
                    found[reader.name] = reader
                    stack.append(reader)
    return found

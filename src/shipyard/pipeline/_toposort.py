"""Ordering nodes so that every node comes after the nodes whose outputs it reads.

Nodes are grouped in layers: a layer holds the nodes whose inputs are all produced by
earlier layers, sorted by name, so the same pipeline always runs in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

from shipyard.errors import CircularDependencyError
from shipyard.pipeline._node import Node

__all__ = ["layers"]


def layers(nodes: Sequence[Node], producer: Mapping[str, Node]) -> list[list[Node]]:
    """The nodes in dependency layers; CircularDependencyError names a cycle if there is one.

    ``producer`` maps each dataset to the node that writes it.
    """
    waiting: dict[str, int] = {}
    children: dict[str, list[Node]] = {}
    layer: list[Node] = []
    for current in nodes:
        parents = {producer[d].name for d in current._inputs if d in producer}
        if parents:
            waiting[current.name] = len(parents)
            for parent in parents:
                children.setdefault(parent, []).append(current)
        else:
            layer.append(current)
    result: list[list[Node]] = []
    placed = 0
    while layer:
        layer.sort(key=_by_name)
        result.append(layer)
        placed += len(layer)
        following: list[Node] = []
        for done in layer:
            for child in children.get(done.name, ()):
                waiting[child.name] -= 1
                if not waiting[child.name]:
                    following.append(child)
        layer = following
    if placed != len(nodes):
        stuck = [n for n in nodes if waiting.get(n.name, 0) > 0]
        raise CircularDependencyError(_describe_cycle(stuck, producer))
    return result


def _by_name(item: Node) -> str:
    return item.name


def _describe_cycle(stuck: list[Node], producer: Mapping[str, Node]) -> str:
    """Walk upstream from a stuck node until a node repeats; the loop found is a cycle."""
    stuck_names = {n.name for n in stuck}
    current = min(stuck, key=_by_name)
    path: list[Node] = []
    seen: dict[str, int] = {}
    while current.name not in seen:
        seen[current.name] = len(path)
        path.append(current)
        # Every stuck node waits on at least one stuck parent; take the first by name.
        current = min(
            (
                producer[d]
                for d in current._inputs
                if d in producer and producer[d].name in stuck_names
            ),
            key=_by_name,
        )
    cycle = path[seen[current.name] :]
    cycle.reverse()  # upstream walk -> data-flow order
    first = cycle.index(min(cycle, key=_by_name))  # start at the first name, for stable messages
    cycle = [*cycle[first:], *cycle[:first], cycle[first]]
    names = " → ".join(n.name for n in cycle)
    via = [
        next(d for d in after.inputs if d in before.outputs) for before, after in pairwise(cycle)
    ]
    return f"The pipeline has a cycle: {names} (through datasets {', '.join(via)})."

"""A pipeline: a set of nodes, checked and ordered once, then sliced and combined.

Every operation returns a new pipeline. Building one is a single linear pass (index the
nodes by name and by the datasets they write, then sort them in layers); node signatures
were already checked when the nodes were made and are never checked again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from shipyard.errors import PipelineError, did_you_mean
from shipyard.pipeline._node import Node
from shipyard.pipeline._toposort import layers

__all__ = ["Pipeline"]

_LISTED = 30  # names listed in an error before "... and N more"


class Pipeline:
    """Nodes connected by the datasets they read and write, in a deterministic order.

    >>> from shipyard.pipeline import node
    >>> def clean(raw): ...
    >>> def train(table): ...
    >>> training = Pipeline([node(clean, "raw", "table"), node(train, "table", "model")])
    >>> training.inputs(), training.outputs()
    ({'raw'}, {'model'})
    """

    __slots__ = ("_by_name", "_consumers", "_layers", "_nodes", "_producer")

    _by_name: dict[str, Node]
    _producer: dict[str, Node]
    _consumers: dict[str, list[Node]]
    _layers: list[list[Node]]
    _nodes: tuple[Node, ...]

    def __init__(
        self, nodes: Iterable[Node | Pipeline] | Node | Pipeline = (), *, tags: Any = None
    ) -> None:
        collected = _collect(nodes)
        if tags:
            collected = [item.tag(tags) for item in collected]
        self._by_name = _index_by_name(collected)
        self._producer = _index_producers(self._by_name.values())
        consumers: dict[str, list[Node]] = {}
        for item in self._by_name.values():
            for dataset in dict.fromkeys(item._inputs):
                consumers.setdefault(dataset, []).append(item)
        self._consumers = consumers
        self._layers = layers(list(self._by_name.values()), self._producer)
        self._nodes = tuple(item for layer in self._layers for item in layer)

    @property
    def nodes(self) -> list[Node]:
        """The nodes, each after every node it depends on; ties broken by name."""
        return list(self._nodes)

    @property
    def grouped_nodes(self) -> list[list[Node]]:
        """The nodes in layers: each layer depends only on the layers before it, so the
        nodes of one layer can run in parallel."""
        return [list(layer) for layer in self._layers]

    def inputs(self) -> set[str]:
        """Free inputs: datasets some node reads and no node writes (they come from the
        catalog, parameters included)."""
        return {name for name in self._consumers if name not in self._producer}

    def outputs(self) -> set[str]:
        """Free outputs: datasets some node writes and no node reads."""
        return {name for name in self._producer if name not in self._consumers}

    def datasets(self) -> set[str]:
        """Every dataset name the pipeline reads or writes."""
        return set(self._consumers) | set(self._producer)

    def only_nodes(self, *names: str) -> Pipeline:
        """Just the named nodes."""
        return Pipeline(self._nodes_named(names, "only_nodes"))

    def only_nodes_with_tags(self, *tags: str) -> Pipeline:
        """The nodes that carry any of ``tags``. A tag no node carries is an error."""
        if not tags:
            raise PipelineError(
                "only_nodes_with_tags() needs at least one tag.",
                hint="Name the tags to keep, e.g. only_nodes_with_tags('prep').",
            )
        known = set().union(*(item.tags for item in self._nodes))
        missing = [tag for tag in tags if tag not in known]
        if missing:
            raise _unknown("only_nodes_with_tags", "tag", missing, known)
        wanted = set(tags)
        return Pipeline([item for item in self._nodes if item.tags & wanted])

    def from_nodes(self, *names: str) -> Pipeline:
        """The named nodes and every node downstream of them."""
        return Pipeline(self._downstream(self._nodes_named(names, "from_nodes")))

    def to_nodes(self, *names: str) -> Pipeline:
        """The named nodes and every node upstream of them."""
        return Pipeline(self._upstream(self._nodes_named(names, "to_nodes")))

    def from_inputs(self, *datasets: str) -> Pipeline:
        """Every node that depends, directly or through other nodes, on ``datasets``."""
        self._check_names(datasets, self.datasets(), "from_inputs", "dataset")
        readers = [r for name in datasets for r in self._consumers.get(name, ())]
        return Pipeline(self._downstream(readers))

    def to_outputs(self, *datasets: str) -> Pipeline:
        """Every node needed to produce ``datasets``."""
        self._check_names(datasets, self._producer, "to_outputs", "node output")
        return Pipeline(self._upstream([self._producer[name] for name in datasets]))

    def describe(self) -> dict[str, Any]:
        """The DAG as a JSON-able dict: nodes, edges (node -> node through a dataset),
        free inputs and outputs, and the layers of node names."""
        position = {item.name: index for index, item in enumerate(self._nodes)}
        edges = [
            {"source": item.name, "target": reader.name, "dataset": dataset}
            for item in self._nodes
            for dataset in item._outputs
            for reader in sorted(self._consumers.get(dataset, ()), key=lambda n: position[n.name])
        ]
        return {
            "nodes": [item.describe() for item in self._nodes],
            "edges": edges,
            "inputs": sorted(self.inputs()),
            "outputs": sorted(self.outputs()),
            "layers": [[item.name for item in layer] for layer in self._layers],
        }

    def __add__(self, other: object) -> Pipeline:
        if not isinstance(other, Pipeline):
            return NotImplemented
        return Pipeline([self, other])

    def __radd__(self, other: object) -> Pipeline:
        # sum(pipelines) starts from 0
        if isinstance(other, int) and other == 0:
            return self
        return NotImplemented

    __or__ = __add__

    def __sub__(self, other: object) -> Pipeline:
        """The nodes of this pipeline whose names are not in ``other``."""
        if not isinstance(other, Pipeline):
            return NotImplemented
        return Pipeline([item for item in self._nodes if item.name not in other._by_name])

    def __and__(self, other: object) -> Pipeline:
        """The nodes of this pipeline whose names are also in ``other``."""
        if not isinstance(other, Pipeline):
            return NotImplemented
        return Pipeline([item for item in self._nodes if item.name in other._by_name])

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self._nodes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pipeline):
            return NotImplemented
        return self._by_name == other._by_name

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        names = [item.name for item in self._nodes[:5]]
        more = ", ..." if len(self._nodes) > 5 else ""
        return f"Pipeline({len(self._nodes)} nodes: {', '.join(names)}{more})"

    def __str__(self) -> str:
        head = (
            f"Pipeline with {len(self._nodes)} nodes in {len(self._layers)} layers\n"
            f"  inputs:  {', '.join(sorted(self.inputs())) or '-'}\n"
            f"  outputs: {', '.join(sorted(self.outputs())) or '-'}"
        )
        lines = [head]
        for number, layer in enumerate(self._layers, start=1):
            for item in layer:
                tags = f"  [{', '.join(sorted(item.tags))}]" if item.tags else ""
                lines.append(f"  {number:>3}  {item}{tags}")
        return "\n".join(lines)

    def _nodes_named(self, names: tuple[str, ...], method: str) -> list[Node]:
        self._check_names(names, self._by_name, method, "node")
        return [self._by_name[name] for name in names]

    def _check_names(
        self, names: tuple[str, ...], known: Iterable[str], method: str, what: str
    ) -> None:
        if not names:
            raise PipelineError(
                f"{method}() needs at least one {what} name.",
                hint=f"Name the {what}s to start from; `shipyard pipeline show` lists them.",
            )
        known = set(known)
        missing = [name for name in names if name not in known]
        if missing:
            raise _unknown(method, what, missing, known)

    def _downstream(self, start: Iterable[Node]) -> list[Node]:
        found: dict[str, Node] = {}
        stack = list(start)
        while stack:
            current = stack.pop()
            if current.name not in found:
                found[current.name] = current
                for dataset in current._outputs:
                    stack.extend(self._consumers.get(dataset, ()))
        return list(found.values())

    def _upstream(self, start: Iterable[Node]) -> list[Node]:
        found: dict[str, Node] = {}
        stack = list(start)
        while stack:
            current = stack.pop()
            if current.name not in found:
                found[current.name] = current
                stack.extend(self._producer[d] for d in current._inputs if d in self._producer)
        return list(found.values())


def _collect(items: Iterable[Node | Pipeline] | Node | Pipeline) -> list[Node]:
    if isinstance(items, Node):
        return [items]
    if isinstance(items, Pipeline):
        return list(items._nodes)
    collected: list[Node] = []
    for item in items:
        if isinstance(item, Node):
            collected.append(item)
        elif isinstance(item, Pipeline):
            collected.extend(item._nodes)
        else:
            hint = (
                "Wrap the function in a node: node(func, inputs, outputs)."
                if callable(item)
                else "A pipeline is built from node(...) objects and other pipelines."
            )
            raise PipelineError(
                f"A pipeline takes nodes and pipelines, not {type(item).__name__} {item!r}.",
                hint=hint,
            )
    return collected


def _index_by_name(nodes: list[Node]) -> dict[str, Node]:
    by_name: dict[str, Node] = {}
    for item in nodes:
        seen = by_name.get(item.name)
        if seen is None:
            by_name[item.name] = item
        elif seen != item:  # the very same node twice (p + p) is fine
            raise PipelineError(
                f"Two different nodes are named '{item.name}': {seen} and {item}.",
                hint="Give one of them another name with node(..., name=...), or put one "
                "pipeline in a namespace: pipeline(p, namespace='...').",
            )
    return by_name


def _index_producers(nodes: Iterable[Node]) -> dict[str, Node]:
    producer: dict[str, Node] = {}
    for item in nodes:
        for dataset in item._outputs:
            other = producer.get(dataset)
            if other is not None:
                raise PipelineError(
                    f"Dataset '{dataset}' is written by two nodes: '{other.name}' and "
                    f"'{item.name}'.",
                    hint="Each dataset has exactly one node that writes it: rename one of the "
                    "outputs, or keep the pipelines apart with pipeline(p, namespace='...').",
                )
            producer[dataset] = item
    return producer


def _unknown(method: str, what: str, missing: list[str], known: Iterable[str]) -> PipelineError:
    listed = sorted(known)
    shown = ", ".join(listed[:_LISTED]) or "none"
    if len(listed) > _LISTED:
        shown += f", ... and {len(listed) - _LISTED} more"
    quoted = ", ".join(f"'{name}'" for name in missing)
    plural = "s" if len(missing) > 1 else ""
    return PipelineError(
        f"{method}(): the pipeline has no {what}{plural} named {quoted}."
        + did_you_mean(missing[0], listed),
        hint=f"This pipeline's {what}s: {shown}.",
    )

"""Which nodes may run next, and which datasets the rest of the run no longer needs.

Every runner shares this bookkeeping: a node is ready when all the nodes it reads from
are done, and an intermediate dataset is released right after its last reader is done.
"""

from __future__ import annotations

from shipyard.pipeline import Node, Pipeline

__all__ = ["ReleasePlan", "Scheduler"]


class ReleasePlan:
    """Counts the readers each intermediate dataset has left.

    Only datasets that a node of the pipeline writes and another reads are released:
    free inputs (raw data, parameters) belong to the caller, and free outputs are what
    the run is for.
    """

    __slots__ = ("_readers_left",)

    def __init__(self, pipeline: Pipeline) -> None:
        written = {name for item in pipeline.nodes for name in item.outputs}
        readers: dict[str, int] = {}
        for item in pipeline.nodes:
            for name in dict.fromkeys(item.inputs):
                if name in written:
                    readers[name] = readers.get(name, 0) + 1
        self._readers_left = readers

    def after(self, done: Node) -> list[str]:
        """The datasets ``done`` was the last reader of."""
        released = []
        readers_left = self._readers_left
        for name in dict.fromkeys(done.inputs):
            count = readers_left.get(name)
            if count is not None:
                if count == 1:
                    del readers_left[name]
                    released.append(name)
                else:
                    readers_left[name] = count - 1
        return released


class Scheduler:
    """The ready set of a run, from each node's count of unfinished upstream nodes."""

    __slots__ = ("_children", "_position", "_ready", "_waiting")

    def __init__(self, pipeline: Pipeline) -> None:
        nodes = pipeline.nodes
        self._position = {item.name: index for index, item in enumerate(nodes)}
        producer = {name: item.name for item in nodes for name in item.outputs}
        self._children: dict[str, list[Node]] = {}
        self._waiting: dict[str, int] = {}
        self._ready: list[Node] = []
        for item in nodes:
            parents = {producer[name] for name in item.inputs if name in producer}
            if not parents:
                self._ready.append(item)
                continue
            self._waiting[item.name] = len(parents)
            for parent in parents:
                self._children.setdefault(parent, []).append(item)

    def initial(self) -> list[Node]:
        """The nodes that depend on no other node, in pipeline order."""
        return list(self._ready)

    def done(self, finished: Node) -> list[Node]:
        """The nodes that became ready because ``finished`` is done, in pipeline order."""
        ready = []
        for child in self._children.get(finished.name, ()):
            left = self._waiting[child.name] - 1
            self._waiting[child.name] = left
            if not left:
                ready.append(child)
        ready.sort(key=lambda item: self._position[item.name])
        return ready

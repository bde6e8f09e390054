"""Lineage graphs: where a dataset version came from, and what was made from it.

The edges are the ``dataset_versions`` rows the tracker records: a node of a run read
version X (``in``) or wrote version Y (``out``). The graph has two kinds of nodes:

- a *version*, ``data:<dataset>@<version id>``, with its digest and the run that made it;
- a *step*, ``run:<run id>/<node>``: one pipeline node inside one run (``run:<run id>``
  for edges recorded without a node, and for a whole run given as the start). Steps, not
  whole runs, are the graph's nodes because one run usually executes the whole pipeline:
  at run level every intermediate dataset would be both read and written by one box.

>>> graph = upstream(conn, "model@latest", index=index)  # doctest: +SKIP
>>> print(graph.to_dot())  # doctest: +SKIP

``upstream`` follows each version to the step that made it (the first run that wrote it;
later cache restores of the same version are not makers), then that step's inputs, back
to raw data (versions no run wrote). ``downstream`` follows each version to every step
that read it, then what those steps wrote. ``depth`` counts steps away from the start.
"""

from __future__ import annotations

import html
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Connection, func, select

from shipyard.errors import MetadataError, RunNotFoundError, VersionNotFoundError, did_you_mean
from shipyard.metadata import lineage, runs
from shipyard.metadata._schema import dataset_versions

if TYPE_CHECKING:
    from rich.tree import Tree

    from shipyard.metadata.lineage import Edge
    from shipyard.metadata.runs import RunRecord
    from shipyard.objects import VersionIndex

__all__ = [
    "Direction",
    "LineageEdge",
    "LineageGraph",
    "LineageNode",
    "downstream",
    "lineage_of",
    "upstream",
]

Direction = Literal["upstream", "downstream", "both"]
MODEL_SCHEME = "models:/"
_SHORT = 12  # characters of ids, digests and commits shown in labels


@dataclass
class LineageNode:
    """A version (``kind="version"``) or a step of a run (``kind="run"``).

    ``column`` is the signed distance from the start in graph hops: negative upstream,
    positive downstream; the HTML drawing puts each column side by side.
    """

    id: str
    kind: Literal["version", "run"]
    column: int = 0
    dataset: str | None = None
    version_id: str | None = None
    digest: str | None = None
    run_id: str | None = None
    node: str | None = None
    pipeline: str | None = None
    status: str | None = None
    started_at: datetime | None = None
    git_commit: str | None = None
    #: For a version: the step that made it (``run:<id>/<node>``; None for raw data), and
    #: that run's git commit.
    made_by: str | None = None
    made_by_commit: str | None = None

    def title(self) -> str:
        """One line naming the node: ``model@01m8hkwxjjm3`` or ``train_model · run 01m8…``."""
        if self.kind == "version":
            return f"{self.dataset}@{(self.version_id or '')[:_SHORT]}"
        what = self.node or self.pipeline or "run"
        return f"{what} · run {(self.run_id or '')[:_SHORT]}"

    def details(self) -> str:
        """The second line: digest and maker of a version; pipeline, start and commit of a
        step."""
        if self.kind == "version":
            digest = (self.digest or "")[: _SHORT + 7]
            if self.made_by is None:
                return f"{digest} · raw data (no run wrote it)"
            run_id, _, node = self.made_by.removeprefix("run:").partition("/")
            maker = f"{node or 'run'} in run {run_id[:_SHORT]}"
            return f"{digest} · made by {maker} (commit {_commit(self.made_by_commit)})"
        started = self.started_at.strftime("%Y-%m-%d %H:%M") if self.started_at else "?"
        return f"{self.pipeline or 'no pipeline'} · {started} · commit {_commit(self.git_commit)}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        values: dict[str, Any] = {"id": self.id, "kind": self.kind, "column": self.column}
        if self.kind == "version":
            values.update(
                dataset=self.dataset,
                version=self.version_id,
                ref=f"{self.dataset}@{self.version_id}",
                digest=self.digest,
                made_by=self.made_by,
                made_by_commit=self.made_by_commit,
            )
        else:
            values.update(
                run_id=self.run_id,
                node=self.node,
                pipeline=self.pipeline,
                status=self.status,
                started_at=self.started_at.isoformat() if self.started_at else None,
                git_commit=self.git_commit,
            )
        return values


@dataclass(frozen=True)
class LineageEdge:
    """Data flows from ``source`` to ``target``; ``node`` is the pipeline node that read
    or wrote the version (None for a run's own edges)."""

    source: str
    target: str
    node: str | None = None


@dataclass
class LineageGraph:
    """The nodes and edges found from ``start`` (one node id, or a run's id)."""

    start: str
    direction: Direction
    nodes: dict[str, LineageNode] = field(default_factory=dict)
    edges: list[LineageEdge] = field(default_factory=list)

    def parents(self, node_id: str) -> list[str]:
        """The nodes with an edge into ``node_id``, in the order they were found."""
        return [edge.source for edge in self.edges if edge.target == node_id]

    def children(self, node_id: str) -> list[str]:
        """The nodes ``node_id`` has an edge to, in the order they were found."""
        return [edge.target for edge in self.edges if edge.source == node_id]

    def to_dict(self) -> dict[str, Any]:
        """``{"start", "direction", "nodes": [...], "edges": [{"from", "to", "node"}]}``."""
        return {
            "start": self.start,
            "direction": self.direction,
            "nodes": [node.to_dict() for node in self.nodes.values()],
            "edges": [
                {"from": edge.source, "to": edge.target, "node": edge.node} for edge in self.edges
            ],
        }

    def to_dot(self) -> str:
        """Graphviz DOT, left to right: boxes for versions, rounded boxes for steps."""
        lines = [
            "digraph lineage {",
            "  rankdir=LR;",
            '  node [fontname="Helvetica", fontsize=10];',
            '  edge [fontname="Helvetica", fontsize=9];',
        ]
        for node in self.nodes.values():
            style = (
                'shape=box, style="filled", fillcolor="#e8f0fe"'
                if node.kind == "version"
                else 'shape=box, style="rounded,filled", fillcolor="#fff4e0"'
            )
            bold = ", penwidth=2" if node.id == self.start else ""
            label = _dot_string(f"{node.title()}\n{node.details()}")
            lines.append(f"  {_dot_string(node.id)} [{style}{bold}, label={label}];")
        for edge in self.edges:
            label = f" [label={_dot_string(edge.node)}]" if edge.node else ""
            lines.append(f"  {_dot_string(edge.source)} -> {_dot_string(edge.target)}{label};")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        """A self-contained page: an inline SVG drawing, one column per distance from the
        start (upstream on the left), no scripts or external files."""
        svg = _svg(self)
        title = html.escape(f"Lineage of {self.start} ({self.direction})")
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{title}</title>\n<style>body{{font-family:Helvetica,Arial,sans-serif;"
            "margin:24px;color:#222}h1{font-size:18px}</style>\n</head>\n<body>\n"
            f"<h1>{title}</h1>\n{svg}\n</body>\n</html>\n"
        )

    def to_tree(self) -> Tree:
        """A Rich tree from the start: upstream nodes under ``made from``, downstream ones
        under ``used by``; a node met again is marked ``(shown above)``."""
        from rich.text import Text
        from rich.tree import Tree

        start = self.nodes[self.start]
        tree = Tree(_tree_label(start, bold=True))
        shown: set[str] = {self.start}
        branches: list[tuple[str, bool]] = []
        if self.direction in ("upstream", "both"):
            branches.append(("made from" if start.kind == "version" else "read", True))
        if self.direction in ("downstream", "both"):
            branches.append(("used by" if start.kind == "version" else "wrote", False))
        for heading, up in branches:
            targets = self.parents(self.start) if up else self.children(self.start)
            parent = tree.add(Text(heading, style="dim")) if len(branches) > 1 else tree
            if not targets:
                parent.add(Text("nothing recorded", style="dim"))
            for target in targets:
                self._grow(parent, target, up=up, shown=shown)
        return tree

    def _grow(self, parent: Tree, node_id: str, *, up: bool, shown: set[str]) -> None:
        node = self.nodes[node_id]
        if node_id in shown:
            parent.add(_tree_label(node).append(" (shown above)", style="dim"))
            return
        shown.add(node_id)
        branch = parent.add(_tree_label(node))
        for target in self.parents(node_id) if up else self.children(node_id):
            self._grow(branch, target, up=up, shown=shown)


def upstream(
    conn: Connection, start: str, depth: int | None = None, *, index: VersionIndex | None = None
) -> LineageGraph:
    """Where ``start`` came from: the steps that made it, their inputs, and so on back
    to raw data. ``start`` is ``dataset@version-or-tag``, ``dataset`` (its latest
    version) or a run id/prefix; ``index`` resolves tags (without it, ids, prefixes and
    ``latest`` are resolved from the store's edges)."""
    return lineage_of(conn, start, "upstream", depth, index=index)


def downstream(
    conn: Connection, start: str, depth: int | None = None, *, index: VersionIndex | None = None
) -> LineageGraph:
    """What was made from ``start``: the steps that read it, what they wrote, and so on."""
    return lineage_of(conn, start, "downstream", depth, index=index)


def lineage_of(
    conn: Connection,
    start: str,
    direction: Direction = "both",
    depth: int | None = None,
    *,
    index: VersionIndex | None = None,
) -> LineageGraph:
    """The lineage graph of ``start`` in one or both directions (see :func:`upstream`).
    A run as the start is one node: its free inputs (read, not written, by the run)
    upstream, everything it wrote downstream."""
    if depth is not None and depth < 0:
        raise MetadataError(
            f"A lineage depth must be 0 or more, not {depth}.",
            hint="Give --depth N with N >= 0 (the number of runs to go back or forward), "
            "or leave it out for the whole graph.",
        )
    walk = _Walk(conn, direction, depth)
    resolved = _resolve_start(conn, start, index)
    if isinstance(resolved, tuple):
        walk.start_version(*resolved)
    else:
        walk.start_run(resolved)
    return walk.graph


class _Walk:
    """A breadth-first walk, so each node's column is its shortest distance from the
    start; a visited set makes it terminate even on a (corrupt) cyclic store."""

    def __init__(self, conn: Connection, direction: Direction, depth: int | None) -> None:
        self.conn = conn
        self.direction = direction
        self.depth = depth
        self.graph = LineageGraph(start="", direction=direction)
        self._runs: dict[str, RunRecord] = {}
        self._run_edges: dict[str, list[Edge]] = {}
        self._edges_seen: set[LineageEdge] = set()

    def start_version(self, dataset: str, version_id: str) -> None:
        node = self._version(dataset, version_id, 0)
        self.graph.start = node.id
        if self.direction in ("upstream", "both"):
            self._bfs(node.id, up=True)
        if self.direction in ("downstream", "both"):
            self._bfs(node.id, up=False)

    def start_run(self, record: RunRecord) -> None:
        node = self._step(record.id, None, 0, record=record)
        self.graph.start = node.id
        edges = self._edges_of(record.id)
        written = {(e.dataset, e.version_id) for e in edges if e.direction == "out"}
        if self.direction in ("upstream", "both"):
            for edge in edges:
                if edge.direction == "in" and (edge.dataset, edge.version_id) not in written:
                    version = self._version(edge.dataset, edge.version_id, -1, edge.digest)
                    self._link(version.id, node.id, edge.node)
                    self._bfs(version.id, up=True, steps=1)
        if self.direction in ("downstream", "both"):
            for edge in edges:
                if edge.direction == "out":
                    version = self._version(edge.dataset, edge.version_id, 1, edge.digest)
                    self._link(node.id, version.id, edge.node)
                    self._bfs(version.id, up=False, steps=1, skip_run=record.id)

    def _bfs(self, origin: str, *, up: bool, steps: int = 0, skip_run: str | None = None) -> None:
        sign = -1 if up else 1
        queue: deque[tuple[str, int]] = deque([(origin, steps)])
        visited: set[str] = {origin}
        while queue:
            node_id, taken = queue.popleft()
            node = self.graph.nodes[node_id]
            if node.kind == "version":
                if self.depth is not None and taken >= self.depth:
                    continue
                assert node.dataset is not None and node.version_id is not None
                for edge in self._steps_around(node.dataset, node.version_id, up=up):
                    if edge.run_id == skip_run:
                        continue  # the start run's own steps are the start node
                    step = self._step(edge.run_id, edge.node, node.column + sign)
                    self._link(*((step.id, node_id) if up else (node_id, step.id)), edge.node)
                    if step.id not in visited:
                        visited.add(step.id)
                        queue.append((step.id, taken + 1))
            else:
                assert node.run_id is not None
                for edge in self._edges_of(node.run_id):
                    if edge.node != node.node or edge.direction != ("in" if up else "out"):
                        continue
                    version = self._version(
                        edge.dataset, edge.version_id, node.column + sign, edge.digest
                    )
                    self._link(*((version.id, node_id) if up else (node_id, version.id)), edge.node)
                    if version.id not in visited:
                        visited.add(version.id)
                        queue.append((version.id, taken))

    def _steps_around(self, dataset: str, version_id: str, *, up: bool) -> list[Edge]:
        if up:  # the maker: the first run that wrote it (later writers restored it)
            return lineage.writers_of(self.conn, dataset, version_id)[:1]
        return lineage.readers_of(self.conn, dataset, version_id)

    def _version(
        self, dataset: str, version_id: str, column: int, digest: str | None = None
    ) -> LineageNode:
        node_id = f"data:{dataset}@{version_id}"
        node = self.graph.nodes.get(node_id)
        if node is not None:
            return node
        makers = lineage.writers_of(self.conn, dataset, version_id)[:1]
        maker = makers[0] if makers else None
        if digest is None:
            any_edge = makers or lineage.readers_of(self.conn, dataset, version_id)[:1]
            digest = any_edge[0].digest if any_edge else None
        node = LineageNode(
            id=node_id,
            kind="version",
            column=column,
            dataset=dataset,
            version_id=version_id,
            digest=digest,
        )
        if maker is not None:
            record = self._run(maker.run_id)
            node.made_by = f"run:{maker.run_id}" + (f"/{maker.node}" if maker.node else "")
            node.made_by_commit = record.git_commit
        self.graph.nodes[node_id] = node
        return node

    def _step(
        self, run_id: str, node_name: str | None, column: int, *, record: RunRecord | None = None
    ) -> LineageNode:
        node_id = f"run:{run_id}" + (f"/{node_name}" if node_name else "")
        node = self.graph.nodes.get(node_id)
        if node is not None:
            return node
        record = record or self._run(run_id)
        node = LineageNode(
            id=node_id,
            kind="run",
            column=column,
            run_id=run_id,
            node=node_name,
            pipeline=record.pipeline or record.name,
            status=record.status,
            started_at=record.started_at,
            git_commit=record.git_commit,
        )
        self.graph.nodes[node_id] = node
        return node

    def _link(self, source: str, target: str, node: str | None) -> None:
        edge = LineageEdge(source, target, node)
        if edge not in self._edges_seen:
            self._edges_seen.add(edge)
            self.graph.edges.append(edge)

    def _run(self, run_id: str) -> RunRecord:
        record = self._runs.get(run_id)
        if record is None:
            record = self._runs[run_id] = runs.get(self.conn, run_id)
        return record

    def _edges_of(self, run_id: str) -> list[Edge]:
        edges = self._run_edges.get(run_id)
        if edges is None:
            edges = self._run_edges[run_id] = lineage.of_run(self.conn, run_id)
        return edges


# --- resolving the start -------------------------------------------------------------


def _resolve_start(
    conn: Connection, ref: str, index: VersionIndex | None
) -> tuple[str, str] | RunRecord:
    """``(dataset, version id)`` for a version reference, the run record for a run."""
    ref = ref.strip()
    if ref.startswith(MODEL_SCHEME):
        name = ref[len(MODEL_SCHEME) :].split("/", 1)[0] or "model"
        raise MetadataError(
            f"'{ref}' is a model reference: models come with the model registry, which "
            "Shipyard does not have yet.",
            hint=f"Trace the model's dataset meanwhile: `shipyard lineage {name}@latest` "
            "(the versioned catalog entry the training node writes).",
        )
    ref = ref.removeprefix("data:")
    known = _datasets(conn, index)
    if "@" in ref:
        dataset, version = ref.split("@", 1)
        _check_dataset(dataset, known, ref)
        return dataset, _resolve_version(conn, index, dataset, version or "latest")
    if ref in known:
        return ref, _resolve_version(conn, index, ref, "latest")
    try:
        return runs.get(conn, ref)
    except RunNotFoundError as exc:
        raise RunNotFoundError(
            f"'{ref}' is neither a dataset with recorded versions nor a run: {exc.message}"
            + did_you_mean(ref, known),
            hint="Give DATASET[@VERSION-OR-TAG] (`shipyard data versions NAME`) or a run id "
            "(`shipyard runs list`).",
        ) from None


def _datasets(conn: Connection, index: VersionIndex | None) -> list[str]:
    names = set(conn.scalars(select(dataset_versions.c.dataset).distinct()))
    if index is not None:
        names.update(index.datasets())
    return sorted(names)


def _check_dataset(dataset: str, known: list[str], ref: str) -> None:
    if dataset not in known:
        raise VersionNotFoundError(
            f"Dataset '{dataset}' (in '{ref}') has no recorded versions."
            + did_you_mean(dataset, known)
            + (f" Datasets with versions: {', '.join(known[:10])}." if known else ""),
            hint="Only versioned datasets (`versioned: true`) saved by a run have lineage; "
            "`shipyard data versions NAME` lists a dataset's versions.",
        )


def _resolve_version(conn: Connection, index: VersionIndex | None, dataset: str, ref: str) -> str:
    if index is not None and dataset in index.datasets():
        return index.resolve(dataset, ref).id
    # No version index (a team store read from outside the project): ids from the edges.
    ids = list(
        conn.scalars(
            select(dataset_versions.c.version_id)
            .where(dataset_versions.c.dataset == dataset)
            .group_by(dataset_versions.c.version_id)
            .order_by(func.max(dataset_versions.c.id).desc())
        )
    )
    if ref == "latest" and ids:
        return max(ids)  # ids are time-ordered (ULID-like)
    matches = [vid for vid in ids if vid == ref] or [
        vid for vid in ids if len(ref) >= 4 and vid.startswith(ref)
    ]
    if len(matches) == 1:
        return matches[0]
    raise VersionNotFoundError(
        f"Dataset '{dataset}' has no version '{ref}' in the run store"
        + (f" ('{ref}' starts {len(matches)} ids)." if matches else ".")
        + did_you_mean(ref, ids)
        + (f" Newest versions: {', '.join(sorted(ids, reverse=True)[:3])}." if ids else ""),
        hint="Give a version id or a unique prefix of 4+ characters; tags need the "
        "project's version index (run the command inside the project).",
    )


# --- drawing ---------------------------------------------------------------------------

_BOX_W, _BOX_H, _GAP_X, _GAP_Y, _MARGIN = 300, 46, 70, 18, 20


def _svg(graph: LineageGraph) -> str:
    columns: dict[int, list[LineageNode]] = {}
    for node in graph.nodes.values():
        columns.setdefault(node.column, []).append(node)
    order = sorted(columns)
    position: dict[str, tuple[int, int]] = {}
    for x_index, column in enumerate(order):
        for y_index, node in enumerate(columns[column]):
            position[node.id] = (
                _MARGIN + x_index * (_BOX_W + _GAP_X),
                _MARGIN + y_index * (_BOX_H + _GAP_Y),
            )
    width = _MARGIN * 2 + max(len(order), 1) * (_BOX_W + _GAP_X) - _GAP_X
    height = _MARGIN * 2 + max((len(c) for c in columns.values()), default=1) * (_BOX_H + _GAP_Y)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#555"/></marker></defs>',
    ]
    for edge in graph.edges:
        (x1, y1), (x2, y2) = position[edge.source], position[edge.target]
        forward = x2 >= x1
        start_x, end_x = (x1 + _BOX_W, x2) if forward else (x1, x2 + _BOX_W)
        parts.append(
            f'<line class="edge" x1="{start_x}" y1="{y1 + _BOX_H // 2}" x2="{end_x}" '
            f'y2="{y2 + _BOX_H // 2}" stroke="#555" marker-end="url(#arrow)">'
            f"<title>{_xml(edge.node or '')}</title></line>"
        )
    for node in graph.nodes.values():
        x, y = position[node.id]
        fill = "#e8f0fe" if node.kind == "version" else "#fff4e0"
        stroke_width = 2.5 if node.id == graph.start else 1
        radius = 0 if node.kind == "version" else 8
        parts.append(
            f'<g class="{node.kind}"><title>{_xml(node.id)}</title>'
            f'<rect x="{x}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" rx="{radius}" '
            f'fill="{fill}" stroke="#333" stroke-width="{stroke_width}"/>'
            f'<text x="{x + 8}" y="{y + 18}" font-size="13" font-weight="bold">'
            f"{_xml(_fit(node.title()))}</text>"
            f'<text x="{x + 8}" y="{y + 36}" font-size="10" fill="#444">'
            f"{_xml(_fit(node.details(), 52))}</text></g>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _fit(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _xml(text: str) -> str:
    return html.escape(text, quote=True)


def _dot_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _commit(commit: str | None) -> str:
    return commit[:_SHORT] if commit else "none"


def _tree_label(node: LineageNode, *, bold: bool = False) -> Any:
    from rich.text import Text

    style = "bold cyan" if node.kind == "version" else "yellow"
    text = Text(node.title(), style=f"bold {style}" if bold else style)
    text.append(f"  {node.details()}", style="dim")
    return text

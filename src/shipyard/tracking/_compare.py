"""Runs side by side: a comparison table, the diff of two runs, and metric histories.

Pure functions over the metadata repositories (a Connection in, plain values out), so
the CLI only formats what they return::

    with store.connect() as conn:
        table = compare_runs(conn, ["01m8hhr2", "01m8hj0c"])
        changes = diff_runs(conn, "01m8hhr2", "01m8hj0c")
    [row.key for row in table.rows if row.differs]   # ['params.model.C', 'metrics.auc', ...]
    changes.params["changed"]                        # {'model.C': {'old': 1.0, 'new': 0.5}}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shipyard.errors import MetadataError

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from shipyard.metadata.lineage import Edge
    from shipyard.metadata.metrics import MetricPoint
    from shipyard.metadata.runs import RunRecord

__all__ = [
    "CompareRow",
    "Comparison",
    "RunDiff",
    "compare_runs",
    "diff_runs",
    "metric_histories",
    "resolve_runs",
    "run_seconds",
    "run_status",
    "short_ids",
]

#: The run attributes a comparison starts with, before every param and metric.
ATTRIBUTES = ("status", "pipeline", "duration_s", "git_commit")


@dataclass(frozen=True)
class CompareRow:
    """One key across the compared runs; ``values[i]`` is run i's (None when it has none)."""

    key: str
    values: tuple[Any, ...]
    differs: bool


@dataclass(frozen=True)
class Comparison:
    """Runs side by side: differing rows first, then equal ones, each in key order."""

    runs: tuple[RunRecord, ...]
    statuses: tuple[str, ...]
    rows: tuple[CompareRow, ...]


@dataclass(frozen=True)
class RunDiff:
    """What changed from run ``old`` to run ``new``, grouped; empty groups mean no change.

    ``params``, ``metrics``, ``inputs``, ``outputs`` and ``packages`` are
    ``{"changed": {key: {"old": ..., "new": ...}}, "added": {key: new}, "removed": {key: old}}``
    (a metric change also has ``delta``; a data version change has ``same_content``);
    ``code`` and ``environment`` map a changed field to ``{"old": ..., "new": ...}``.
    """

    old: RunRecord
    new: RunRecord
    params: dict[str, dict[str, Any]]
    metrics: dict[str, dict[str, Any]]
    inputs: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    code: dict[str, dict[str, Any]]
    environment: dict[str, dict[str, Any]]
    packages: dict[str, dict[str, Any]]

    GROUPS = ("params", "metrics", "inputs", "outputs", "code", "environment", "packages")

    @property
    def identical(self) -> bool:
        """Whether nothing at all changed."""
        return not any(_changes(getattr(self, group)) for group in self.GROUPS)

    def to_dict(self) -> dict[str, Any]:
        """The groups as plain dicts (floats may be NaN or infinite)."""
        return {group: getattr(self, group) for group in self.GROUPS}


def resolve_runs(conn: Connection, refs: Sequence[str], *, at_least: int) -> list[RunRecord]:
    """The runs named by ids or unique prefixes, in the order given.

    Raises RunNotFoundError for an unknown or ambiguous prefix (with the nearest ids),
    and MetadataError for fewer than ``at_least`` runs or a run named twice.
    """
    from shipyard.metadata import runs

    if len(refs) < at_least:
        raise MetadataError(
            f"Comparing needs at least {at_least} runs; {len(refs)} given "
            f"({', '.join(refs) or 'none'}).",
            hint="Name two or more run ids (or prefixes); `shipyard runs list` shows them.",
        )
    records = [runs.get(conn, ref) for ref in refs]
    seen: dict[str, str] = {}
    for ref, record in zip(refs, records, strict=True):
        if record.id in seen:
            raise MetadataError(
                f"Run {record.id} is named twice ('{seen[record.id]}' and '{ref}'): "
                "a run compared with itself has no differences.",
                hint="Name different runs; `shipyard runs list` shows them.",
            )
        seen[record.id] = ref
    return records


def compare_runs(conn: Connection, refs: Sequence[str]) -> Comparison:
    """Status, pipeline, duration, git commit, every param and every latest metric of
    two or more runs; a row differs when its values are not all equal (NaN equals NaN,
    a missing value differs from any value)."""
    from shipyard.metadata import metrics, params

    records = resolve_runs(conn, refs, at_least=2)
    statuses = tuple(run_status(record) for record in records)
    columns = [
        {
            "status": status,
            "pipeline": record.pipeline or record.name,
            "duration_s": run_seconds(record),
            "git_commit": record.git_commit,
            **{f"params.{k}": v for k, v in params.of_run(conn, record.id).items()},
            **{f"metrics.{k}": v for k, v in metrics.latest(conn, record.id).items()},
        }
        for record, status in zip(records, statuses, strict=True)
    ]
    keys = list(ATTRIBUTES) + sorted(
        {key for column in columns for key in column} - set(ATTRIBUTES),
        key=lambda key: (not key.startswith("params."), key),
    )
    rows = []
    for key in keys:
        values = tuple(column.get(key) for column in columns)
        rows.append(CompareRow(key, values, not _all_same(values)))
    rows.sort(key=lambda row: not row.differs)  # stable: key order kept in each group
    return Comparison(tuple(records), statuses, tuple(rows))


def diff_runs(conn: Connection, old_ref: str, new_ref: str) -> RunDiff:
    """What changed from run ``old_ref`` to run ``new_ref``: params, latest metrics, data
    versions read and written, git state, interpreter and packages."""
    from shipyard.metadata import environments, lineage, metrics, params

    old, new = resolve_runs(conn, [old_ref, new_ref], at_least=2)
    old_edges, new_edges = lineage.of_run(conn, old.id), lineage.of_run(conn, new.id)
    old_env = environments.get(conn, old.environment_id) if old.environment_id else {}
    new_env = environments.get(conn, new.environment_id) if new.environment_id else {}
    metric_changes = _mapping_diff(metrics.latest(conn, old.id), metrics.latest(conn, new.id))
    for change in metric_changes["changed"].values():
        change["delta"] = change["new"] - change["old"]
    return RunDiff(
        old=old,
        new=new,
        params=_mapping_diff(params.of_run(conn, old.id), params.of_run(conn, new.id)),
        metrics=metric_changes,
        inputs=_versions_diff(old_edges, new_edges, "in"),
        outputs=_versions_diff(old_edges, new_edges, "out"),
        code=_fields_diff(
            old,
            new,
            {
                "commit": "git_commit",
                "branch": "git_branch",
                "dirty": "git_dirty",
                "diff_digest": "git_diff_digest",
            },
        ),
        environment=_fields_diff(
            old_env, new_env, {"python": "python", "platform": "platform"}, mapping=True
        ),
        packages=_mapping_diff(old_env.get("packages") or {}, new_env.get("packages") or {}),
    )


def metric_histories(
    conn: Connection, records: Sequence[RunRecord], key: str
) -> dict[str, list[MetricPoint]]:
    """Every point of metric ``key`` of each run that has it, by run id, in run order.

    Raises MetadataError naming the metrics the runs do have when none has ``key``.
    """
    from shipyard.errors import did_you_mean
    from shipyard.metadata import metrics

    found = {record.id: metrics.history(conn, record.id, key) for record in records}
    found = {run_id: points for run_id, points in found.items() if points}
    if not found:
        known = sorted({name for record in records for name in metrics.latest(conn, record.id)})
        named = ", ".join(record.id for record in records)
        raise MetadataError(
            f"No run of {named} has a metric '{key}'." + did_you_mean(key, known),
            hint=f"Their metrics are: {', '.join(known)}."
            if known
            else "These runs logged no metrics; `shipyard runs list` shows runs that did.",
        )
    return found


def run_status(record: RunRecord) -> str:
    """The status to show: the stored one, or ``lost`` for a running run whose process
    on this host is gone."""
    from shipyard.metadata.runs import process_alive, status_of

    return status_of(record, alive=process_alive)


def run_seconds(record: RunRecord) -> float | None:
    """How long the run took, or None while it has not ended."""
    if record.ended_at is None:
        return None
    return (record.ended_at - record.started_at).total_seconds()


def short_ids(ids: Sequence[str], minimum: int = 8) -> list[str]:
    """The ids cut to one length, at least ``minimum``, at which they are all distinct
    (ids made in the same millisecond share their first 10 characters).

    >>> short_ids(["01m8hm1tm5fhnfff", "01m8hm1tmgpnep2m"])
    ['01m8hm1tm5', '01m8hm1tmg']
    """
    longest = max((len(run_id) for run_id in ids), default=minimum)
    for length in range(minimum, longest):
        if len({run_id[:length] for run_id in ids}) == len(set(ids)):
            return [run_id[:length] for run_id in ids]
    return list(ids)


def _same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN and 1 unequal to True (params keep their JSON type)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if _is_number(a) and _is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _all_same(values: Sequence[Any]) -> bool:
    return all(_same(values[0], value) for value in values[1:])


def _mapping_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "changed": {
            key: {"old": old[key], "new": new[key]}
            for key in sorted(old.keys() & new.keys())
            if not _same(old[key], new[key])
        },
        "added": {key: new[key] for key in sorted(new.keys() - old.keys())},
        "removed": {key: old[key] for key in sorted(old.keys() - new.keys())},
    }


def _versions(edges: Sequence[Edge], direction: str) -> dict[str, tuple[str, str]]:
    """Dataset -> (versions, digests), each joined with ', ' when a run had several."""
    found: dict[str, dict[str, str]] = {}
    for edge in edges:
        if edge.direction == direction:
            found.setdefault(edge.dataset, {})[edge.version_id] = edge.digest
    return {
        dataset: (", ".join(sorted(versions)), ", ".join(v for _, v in sorted(versions.items())))
        for dataset, versions in found.items()
    }


def _versions_diff(
    old_edges: Sequence[Edge], new_edges: Sequence[Edge], direction: str
) -> dict[str, dict[str, Any]]:
    old, new = _versions(old_edges, direction), _versions(new_edges, direction)
    changes = _mapping_diff(old, new)
    changes["changed"] = {
        dataset: {"old": change["old"][0], "new": change["new"][0]}
        | {"same_content": change["old"][1] == change["new"][1]}
        for dataset, change in changes["changed"].items()
    }
    for group in ("added", "removed"):
        changes[group] = {dataset: value[0] for dataset, value in changes[group].items()}
    return changes


def _fields_diff(
    old: Any, new: Any, names: Mapping[str, str], *, mapping: bool = False
) -> dict[str, dict[str, Any]]:
    def read(source: Any, name: str) -> Any:
        return source.get(name) if mapping else getattr(source, name)

    return {
        shown: {"old": read(old, name), "new": read(new, name)}
        for shown, name in names.items()
        if read(old, name) != read(new, name)
    }


def _changes(group: Mapping[str, Any]) -> bool:
    if set(group) == {"changed", "added", "removed"}:
        return any(group.values())
    return bool(group)

"""The project's node cache: skip a node whose code, inputs and parameters did not change.

A node's fingerprint is the digest of its code (see ``_code``), the content digest of
each input (files through the stat cache, parameters as JSON, pinned versions by their
digest), the settings of each output dataset and the Shipyard version. After a node ran,
the versions its outputs were saved as are remembered under that fingerprint in
``.shipyard/node-cache.db``. When a later run meets the same fingerprint, those versions
are checked out from the object store instead of running the node.

Only nodes whose every output is a versioned dataset can be restored, and only nodes
whose every input has a cheap content digest can be fingerprinted; any other node
simply runs (``shipyard run --debug`` logs why). See docs/cache.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from shipyard.__about__ import __version__
from shipyard._sqlite import connect, prepare
from shipyard.data import Catalog, VersionedDataset
from shipyard.errors import ObjectStoreError, ShipyardError
from shipyard.objects import hash_bytes
from shipyard.pipeline import Node
from shipyard.project._code import CodeDigests
from shipyard.runner import CacheHit

__all__ = ["CachedResult", "ProjectNodeCache", "ResultIndex"]

logger = logging.getLogger("shipyard.cache")

_FORMAT = 1
# describe() keys that document an entry or report its state rather than shape its bytes.
_NOT_OUTPUT_SETTINGS = frozenset({
    "name", "origin", "pattern", "layer", "metadata", "latest_version", "load_version",
    "credentials", "persistent", "declared_type",
})  # fmt: skip
_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    fingerprint TEXT PRIMARY KEY,
    node TEXT NOT NULL,
    run_id TEXT,
    created_at TEXT NOT NULL,
    outputs TEXT NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class CachedResult:
    """What a node computed for one fingerprint: the version id of each output."""

    fingerprint: str
    node: str
    run_id: str | None
    created_at: datetime
    outputs: dict[str, str]


class ResultIndex:
    """Fingerprint -> cached result, in a SQLite file that processes share (WAL)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        prepare(self.path, self._error)
        with self._connect() as db:
            db.execute(_SCHEMA)

    def get(self, fingerprint: str) -> CachedResult | None:
        """The result remembered for ``fingerprint``, or None."""
        with self._connect() as db:
            row = db.execute(
                "SELECT node, run_id, created_at, outputs FROM results WHERE fingerprint = ?",
                (fingerprint,),
            ).fetchone()
        if row is None:
            return None
        node, run_id, created, outputs = row
        return CachedResult(
            fingerprint, node, run_id, datetime.fromisoformat(created), json.loads(outputs)
        )

    def put(self, result: CachedResult) -> None:
        """Remember ``result``, replacing an older one for the same fingerprint."""
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)",
                (
                    result.fingerprint,
                    result.node,
                    result.run_id,
                    result.created_at.isoformat(),
                    json.dumps(result.outputs, sort_keys=True),
                ),
            )

    def clear(self) -> int:
        """Forget every result; return how many there were."""
        with self._connect() as db:
            return db.execute("DELETE FROM results").rowcount

    def _connect(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        # A lost result after a power cut only costs running the node again.
        return connect(self.path, self._error, durable=False)

    def _error(self, exc: sqlite3.Error) -> ObjectStoreError:
        return ObjectStoreError(
            f"The node cache {self.path} cannot be read or written: {exc}",
            hint="Delete the file: it only makes reruns faster, and the next run rebuilds it.",
        )


class ProjectNodeCache:
    """The node cache of a project's runs (an implementation of
    :class:`shipyard.runner.NodeCache`).

    ``lookup=False`` (``--no-cache``) runs every node but still remembers the results;
    nodes named in ``refresh`` (``--refresh``) run and are remembered anew.
    """

    def __init__(
        self,
        catalog: Catalog,
        index: ResultIndex,
        *,
        lookup: bool = True,
        refresh: Iterable[str] = (),
        code: CodeDigests | None = None,
    ) -> None:
        self._catalog = catalog
        self._index = index
        self._lookup = lookup
        self._refresh = frozenset(refresh)
        self._code = code or CodeDigests()

    def fingerprint(self, node: Node) -> str | None:
        """The node's fingerprint now, or None when it cannot be cached (logged why)."""
        reason = self._uncachable(node)
        if reason is None:
            try:
                return self._fingerprint(node)
            except (ShipyardError, OSError) as exc:
                reason = f"fingerprinting it failed: {exc}"
        logger.debug("Node '%s' is not cached: %s", node.name, reason)
        return None

    def restore(self, node: Node, fingerprint: str, run_id: str) -> CacheHit | None:
        """Check out the remembered output versions; None (run the node) when nothing is
        remembered, a refresh was asked for, or a version cannot be restored."""
        if not self._lookup or node.name in self._refresh:
            return None
        result = self._index.get(fingerprint)
        if result is None or set(result.outputs) != set(node.outputs):
            return None
        try:
            for name, version_id in result.outputs.items():
                dataset = self._versioned(name)
                if dataset is None:
                    return None
                dataset.checkout(version_id, force=True)
                dataset.add()
        except ShipyardError as exc:
            logger.warning(
                "Node '%s': its cached results (run %s) cannot be restored, so it runs: %s",
                node.name,
                result.run_id,
                exc,
            )
            return None
        return CacheHit(fingerprint, result.run_id)

    def remember(self, node: Node, fingerprint: str, run_id: str) -> None:
        """Remember the versions ``node``'s outputs were just saved as."""
        outputs = {}
        for name in node.outputs:
            version = self._catalog.version_of(name)
            if version is None:
                return
            outputs[name] = version.id
        self._index.put(CachedResult(fingerprint, node.name, run_id, datetime.now(UTC), outputs))

    def _uncachable(self, node: Node) -> str | None:
        if not node.cache:
            return "it is marked cache=False"
        if not node.outputs:
            return "it has no outputs to restore"
        for name in node.outputs:
            if self._versioned(name) is None:
                return f"its output '{name}' is not a versioned dataset"
        return None

    def _versioned(self, name: str) -> VersionedDataset | None:
        if name not in self._catalog:
            return None
        dataset = self._catalog.get(name)
        return dataset if isinstance(dataset, VersionedDataset) else None

    def _fingerprint(self, node: Node) -> str | None:
        inputs = []
        for name in node.inputs:
            digest = self._catalog.content_digest(name)
            if digest is None:
                logger.debug(
                    "Node '%s' is not cached: input '%s' has no content digest (in memory, "
                    "missing, remote or a database table)",
                    node.name,
                    name,
                )
                return None
            inputs.append([name, str(digest)])
        outputs = [[name, self._output_settings(name)] for name in node.outputs]
        document = {
            "format": _FORMAT,
            "shipyard": __version__,
            "code": self._code.of(node.func),
            "inputs": inputs,
            "outputs": outputs,
        }
        return str(hash_bytes(json.dumps(document, sort_keys=True).encode()))

    def _output_settings(self, name: str) -> dict[str, object]:
        """What shapes an output's bytes: its type, path and save arguments."""
        described = self._catalog.describe(name)
        return {k: v for k, v in described.items() if k not in _NOT_OUTPUT_SETTINGS}

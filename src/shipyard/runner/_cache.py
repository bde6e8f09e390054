"""What a runner needs from a node cache: skip a node whose result is already known.

The runner asks the cache for a node's fingerprint just before the node would run (its
inputs are final by then), tries to restore the outputs stored under that fingerprint,
and after a node ran and saved its outputs, tells the cache to remember them. How
fingerprints are made and where results live is the cache's business: the project's
cache (``shipyard.project.ProjectNodeCache``) hashes code, inputs and parameters and
restores versioned datasets from the object store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from shipyard.pipeline import Node

__all__ = ["CacheHit", "NodeCache"]


@dataclass(frozen=True, slots=True)
class CacheHit:
    """A node's outputs were restored instead of running it: they were computed by run
    ``source_run_id`` (None when unknown) for the same ``fingerprint``."""

    fingerprint: str
    source_run_id: str | None


@runtime_checkable
class NodeCache(Protocol):
    """A store of node results by fingerprint. Methods may be called from several
    threads at once (the thread runner), always in the process that runs the runner."""

    def fingerprint(self, node: Node) -> str | None:
        """The fingerprint of ``node`` with its inputs as they are now, or None when its
        results cannot be cached (the cache should say why in a debug log)."""

    def restore(self, node: Node, fingerprint: str, run_id: str) -> CacheHit | None:
        """Put the outputs remembered for ``fingerprint`` in place and return the hit,
        or None to run the node (nothing remembered, a refresh was asked for, an object
        is missing). Must never leave an output half-restored."""

    def remember(self, node: Node, fingerprint: str, run_id: str) -> None:
        """``node`` ran in run ``run_id`` and its outputs are saved: remember them."""

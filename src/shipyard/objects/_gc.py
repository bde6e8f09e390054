"""Garbage collection: delete every object no kept version needs.

>>> report = collect_garbage(store, index.digests(tagged_only=True), dry_run=True)
... # doctest: +SKIP
>>> [(info.digest, info.size) for info in report.removed]   # doctest: +SKIP

Tree manifests in ``keep`` keep the files they list. Hidden temp files that an interrupted
write left in a local store are removed once they are an hour old (a younger one may
belong to a write still in progress).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from shipyard.objects._backend import TEMP_SUFFIX
from shipyard.objects._digest import Digest
from shipyard.objects._reachable import reachable
from shipyard.objects._store import ObjectInfo, ObjectStore

TEMP_MAX_AGE_S = 3600.0


@dataclass(frozen=True, slots=True)
class GcReport:
    """What a collection removed (or, in a dry run, would remove): the objects with their
    sizes, their total bytes, how many objects were kept, and stale temp files."""

    removed: tuple[ObjectInfo, ...]
    bytes: int
    kept: int
    temp_files: tuple[str, ...] = ()


def collect_garbage(store: ObjectStore, keep: Iterable[Digest], *, dry_run: bool) -> GcReport:
    """Delete every object of ``store`` not reachable from ``keep`` (see :func:`reachable`);
    with ``dry_run`` nothing is deleted and the report says what would be."""
    needed = reachable(store, keep)
    removed: list[ObjectInfo] = []
    kept = 0
    for digest in list(store.list()):
        if digest in needed:
            kept += 1
            continue
        info = ObjectInfo(digest, store.size(digest))
        if dry_run or store.delete(digest):
            removed.append(info)
    temps = _stale_temp_files(store, dry_run=dry_run)
    return GcReport(tuple(removed), sum(info.size for info in removed), kept, temps)


def _stale_temp_files(store: ObjectStore, *, dry_run: bool) -> tuple[str, ...]:
    if not store.is_local:
        return ()
    root = Path(store.url)
    cutoff = time.time() - TEMP_MAX_AGE_S
    stale = []
    for path in [*root.glob(f".*{TEMP_SUFFIX}"), *root.glob(f"??/.*{TEMP_SUFFIX}")]:
        try:
            if path.stat().st_mtime >= cutoff:
                continue
            if not dry_run:
                path.unlink()
        except FileNotFoundError:
            continue
        stale.append(str(path))
    return tuple(sorted(stale))

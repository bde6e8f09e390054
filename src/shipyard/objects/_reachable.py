"""Which objects a set of digests needs: the digests themselves plus every file their tree
manifests list. Push, pull and garbage collection all work on this closure.

>>> reachable(store, {file_version.digest, folder_version.digest})   # doctest: +SKIP
{Digest('blake3:…file'), Digest('blake3:…manifest'), Digest('blake3:…part-0.csv'), ...}
"""

from __future__ import annotations

from collections.abc import Iterable

from shipyard.errors import ObjectNotFoundError, ObjectStoreError
from shipyard.objects._digest import Digest
from shipyard.objects._store import ObjectStore
from shipyard.objects._tree import Tree

# Canonical manifest JSON has sorted keys, so every manifest starts with these bytes.
_MANIFEST_START = b'{"files":['


def reachable(store: ObjectStore, digests: Iterable[Digest]) -> set[Digest]:
    """``digests`` plus the files listed by those of them that are tree manifests in
    ``store``. A digest the store lacks is kept in the answer but not expanded (its
    manifest, if it is one, cannot be read here)."""
    found = set(digests)
    for digest in list(found):
        tree = _tree_or_none(store, digest)
        if tree is not None:
            found.update(entry.digest for entry in tree.entries.values())
    return found


def _tree_or_none(store: ObjectStore, digest: Digest) -> Tree | None:
    """The tree manifest stored as ``digest``, or None for a plain file or a missing object."""
    try:
        with store.open(digest) as handle:
            start = handle.read(len(_MANIFEST_START))
    except ObjectNotFoundError:
        return None
    if start != _MANIFEST_START:
        return None
    try:
        return store.read_tree(digest)
    except ObjectStoreError as exc:
        if type(exc) is not ObjectStoreError:
            raise  # corrupt or unsafe: never guess, so gc cannot drop what it lists
        # A data file that merely starts like a manifest: it lists nothing.
        return None

"""Content-addressed object store: the layer versioned data, remotes and caches stand on.

Every object is named by the blake3 digest of its bytes (``blake3:<64 hex>``) and kept at
``<root>/ab/cdef...`` in a local folder or any fsspec location (``s3://``, ``memory://``).
A folder is stored as a :class:`Tree` manifest, itself an object::

    from shipyard.objects import ObjectStore, transfer

    store = ObjectStore(".shipyard/objects")
    info = store.put_file("data/01_raw/customers.parquet")
    store.get_file(info.digest, "restored.parquet")
    folder = store.put_tree("data/02_intermediate")
    transfer(store, ObjectStore("s3://team-bucket/objects"), store.list(), jobs=8)

Which content each save of a versioned dataset produced is kept in a :class:`VersionIndex`
(``.shipyard/versions.db``) as immutable :class:`DataVersion` records; see docs/versioning.md.

Writes are atomic (temp file, then rename), local objects are read-only, and corrupt
objects are reported, never used or repaired silently. See docs/objects.md.
"""

from __future__ import annotations

from shipyard.objects._digest import Digest, hash_bytes, hash_file, hash_stream
from shipyard.objects._gc import GcReport, collect_garbage
from shipyard.objects._reachable import reachable
from shipyard.objects._statcache import StatCache
from shipyard.objects._store import ObjectInfo, ObjectStore, VerifyReport
from shipyard.objects._transfer import TransferReport, transfer
from shipyard.objects._tree import Tree, TreeEntry, build_tree, check_relpath, tree_digest
from shipyard.objects._versions import DataVersion, VersionIndex

__all__ = [
    "DataVersion",
    "Digest",
    "GcReport",
    "ObjectInfo",
    "ObjectStore",
    "StatCache",
    "TransferReport",
    "Tree",
    "TreeEntry",
    "VerifyReport",
    "VersionIndex",
    "build_tree",
    "check_relpath",
    "collect_garbage",
    "hash_bytes",
    "hash_file",
    "hash_stream",
    "reachable",
    "transfer",
    "tree_digest",
]

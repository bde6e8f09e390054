"""Trees: a folder as a sorted manifest of relative path -> (digest, size, mode).

The manifest's canonical bytes are an object too, so one digest names a whole folder.
Every path is checked when a tree is built and again when one is read, because a
manifest may come from a remote that somebody else controls.

>>> entry = TreeEntry(hash_bytes(b"a,b\\n"), 4, 0o644)
>>> tree = Tree({"train/data.csv": entry})
>>> Tree.from_bytes(tree.to_bytes()) == tree
True
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from shipyard.errors import ObjectStoreError, UnsafePathError
from shipyard.objects._digest import Digest, hash_bytes, hash_file
from shipyard.objects._statcache import StatCache

FORMAT = "shipyard.tree/1"
FILE_MODE = 0o644
EXEC_MODE = 0o755
_DRIVE = re.compile(r"[A-Za-z]:")


@dataclass(frozen=True, slots=True)
class TreeEntry:
    """One file of a tree: its content digest, size in bytes and mode (0o644 or 0o755)."""

    digest: Digest
    size: int
    mode: int = FILE_MODE


@dataclass(frozen=True, slots=True)
class Tree:
    """A folder's files by relative POSIX path, sorted; immutable."""

    entries: Mapping[str, TreeEntry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for path in self.entries:
            check_relpath(path)
        _check_no_file_folder_clash(self.entries)
        ordered = dict(sorted(self.entries.items()))
        object.__setattr__(self, "entries", MappingProxyType(ordered))

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tree) and dict(self.entries) == dict(other.entries)

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    @property
    def size(self) -> int:
        """Total bytes of the files (not counting the manifest)."""
        return sum(entry.size for entry in self.entries.values())

    def to_bytes(self) -> bytes:
        """Canonical JSON: sorted paths, no spaces, so equal trees have equal digests."""
        files = [
            {"path": path, "digest": str(e.digest), "size": e.size, "mode": e.mode}
            for path, e in self.entries.items()
        ]
        doc = {"format": FORMAT, "files": files}
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Tree:
        """Read a manifest, refusing any unsafe path (:class:`UnsafePathError`)."""
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT:
                raise ValueError(f"format is {doc.get('format')!r}, not {FORMAT!r}")
            entries: dict[str, TreeEntry] = {}
            for item in doc["files"]:
                path = item["path"]
                if not isinstance(path, str) or path in entries:
                    raise ValueError(f"path {path!r} is not a string or appears twice")
                check_relpath(path)
                entries[path] = _entry(item)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ObjectStoreError(
                f"A tree manifest is malformed: {exc}",
                hint="The manifest was not written by Shipyard or was damaged; "
                "store the folder again.",
            ) from exc
        return cls(entries)


def _entry(item: dict[str, Any]) -> TreeEntry:
    size, mode = item["size"], item["mode"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError(f"size {size!r} of {item['path']!r} is not a byte count")
    if mode not in (FILE_MODE, EXEC_MODE):
        raise ValueError(f"mode {mode!r} of {item['path']!r} is not 0o644 or 0o755")
    try:
        digest = Digest.parse(item["digest"])
    except ObjectStoreError as exc:
        raise ValueError(f"the digest of {item['path']!r}: {exc.message}") from exc
    return TreeEntry(digest, size, mode)


def check_relpath(path: str) -> str:
    """``path`` if it is a safe relative POSIX path inside a folder, else UnsafePathError."""
    problem = _relpath_problem(path)
    if problem:
        raise UnsafePathError(f"Tree path {path!r} is refused: {problem}.")
    return path


def _relpath_problem(path: str) -> str | None:
    whole = [
        (not path, "it is empty"),
        ("\x00" in path, "it contains a NUL character"),
        ("\\" in path, "it contains a backslash; tree paths use '/' only"),
        (path.startswith("/"), "it is absolute"),
        (bool(_DRIVE.match(path)), "it starts with a drive letter"),
    ]
    for failed, problem in whole:
        if failed:
            return problem
    parts = path.split("/")
    if any(part in ("", ".") for part in parts):
        return "it has an empty or '.' segment"
    if ".." in parts:
        return "it has a '..' segment that would leave the folder"
    return None


def _check_no_file_folder_clash(entries: Mapping[str, TreeEntry]) -> None:
    folders = {path.rsplit("/", 1)[0] for path in entries if "/" in path}
    parents = {"/".join(f.split("/")[: i + 1]) for f in folders for i in range(f.count("/") + 1)}
    clash = sorted(parents & set(entries))
    if clash:
        raise UnsafePathError(f"Tree path {clash[0]!r} is refused: it is both a file and a folder.")


def build_tree(
    folder: str | os.PathLike[str], *, stat_cache: StatCache | None = None, jobs: int = 4
) -> Tree:
    """Hash every file under ``folder`` (through ``stat_cache`` when given) into a Tree.

    Symlinks to files inside the folder are stored as the file they point to; a symlink
    pointing outside the folder, a dangling one, or one to a folder is refused.
    """
    return scan_tree(Path(folder), stat_cache, jobs)[0]


def scan_tree(
    folder: Path, stat_cache: StatCache | None, jobs: int
) -> tuple[Tree, dict[str, tuple[str, os.stat_result]]]:
    """The tree and, per relative path, the file's path and its stat from before hashing.
    Cache hits are answered in this thread; only the files to hash go to the pool."""
    files = dict(_walk(folder))
    known = stat_cache.rows_under(str(folder.absolute())) if stat_cache is not None else {}
    digests: dict[str, Digest] = {}
    for rel, (path, st) in files.items():
        row = known.get(path)
        if row is not None and row[:3] == (st.st_ino, st.st_mtime_ns, st.st_size):
            digests[rel] = row[3]
    misses = [rel for rel in files if rel not in digests]

    def digest(rel: str) -> Digest:
        path, st = files[rel]
        return hash_file(path) if st.st_size else hash_bytes(b"")

    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(misses)))) as pool:
        digests.update(zip(misses, pool.map(digest, misses), strict=True))
    if stat_cache is not None and misses:
        stat_cache.record_many((files[rel][0], files[rel][1], digests[rel]) for rel in misses)
    entries = {
        rel: TreeEntry(digests[rel], st.st_size, EXEC_MODE if st.st_mode & 0o111 else FILE_MODE)
        for rel, (_, st) in files.items()
    }
    return Tree(entries), files


def _walk(folder: Path) -> Iterator[tuple[str, tuple[str, os.stat_result]]]:
    """(relative path, (absolute path, stat)) of every file; refuses unsafe entries."""
    if not folder.is_dir():
        raise ObjectStoreError(
            f"Cannot store folder {folder}: it is not a folder.",
            hint="Pass the path of an existing folder.",
        )
    top = str(folder.absolute())
    root = folder.resolve()
    pending = [("", top)]
    while pending:
        prefix, current = pending.pop()
        for entry in os.scandir(current):
            rel = prefix + entry.name
            if entry.is_symlink():
                _check_link(Path(entry.path), root, folder)
            elif entry.is_dir():
                pending.append((rel + "/", entry.path))
                continue
            st = entry.stat()
            if not stat.S_ISREG(st.st_mode):
                raise ObjectStoreError(
                    f"Cannot store folder {folder}: {entry.path} is not a regular file.",
                    hint="Remove sockets, pipes and device files from the folder.",
                )
            yield check_relpath(rel), (entry.path, st)


def _check_link(path: Path, root: Path, folder: Path) -> None:
    target = path.resolve()
    if not target.is_relative_to(root):
        raise UnsafePathError(
            f"Cannot store folder {folder}: {path} is a symlink to {target}, outside the folder."
        )
    if not target.is_file():
        raise UnsafePathError(
            f"Cannot store folder {folder}: {path} is a symlink to {target}, which is not a "
            "regular file (a folder link can loop, and a tree cannot reproduce links).",
            hint="Replace the link by the files it points to, or remove it.",
        )

"""The object store: bytes kept under the digest of their content.

>>> store = ObjectStore(tmp / "objects")                  # doctest: +SKIP
>>> info = store.put_bytes(b"hello")
>>> store.read_bytes(info.digest)
b'hello'

An object is either whole or absent: bytes go to a temp file (or an uncommitted upload)
and become visible under their digest only once complete. Putting an object that is
already there does nothing.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from shipyard.errors import CorruptObjectError, ObjectNotFoundError, ObjectStoreError
from shipyard.objects._backend import Upload, open_backend, write_error
from shipyard.objects._digest import CHUNK, Digest, hash_bytes, hash_file, new_hasher
from shipyard.objects._local import LocalBackend, temp_path
from shipyard.objects._statcache import StatCache
from shipyard.objects._tree import EXEC_MODE, Tree, check_relpath, scan_tree
from shipyard.objects._verify import VerifyingReader

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a put stored: the digest that names the object and its size in bytes."""

    digest: Digest
    size: int


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The result of :meth:`ObjectStore.verify_all`: how many objects, which are corrupt."""

    checked: int
    corrupt: tuple[Digest, ...]

    @property
    def ok(self) -> bool:
        return not self.corrupt


class ObjectStore:
    """Content-addressed objects under ``root`` (a folder or an fsspec URL), laid out
    ``<root>/ab/cdef...``. With ``verify_on_read`` every read re-hashes the bytes and a
    mismatch raises :class:`CorruptObjectError`."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        storage_options: Mapping[str, Any] | None = None,
        verify_on_read: bool = False,
    ) -> None:
        root = Path(root) if isinstance(root, os.PathLike) else root
        self._backend = open_backend(root, storage_options)
        self._local = self._backend if isinstance(self._backend, LocalBackend) else None
        self.verify_on_read = verify_on_read

    @property
    def url(self) -> str:
        """Where the store lives: a local folder path or an fsspec URL."""
        return self._backend.url

    @property
    def is_local(self) -> bool:
        return self._backend.is_local

    def __repr__(self) -> str:
        return f"ObjectStore({self.url!r})"

    def local_path(self, digest: Digest) -> Path | None:
        """The object's file for a local store (read-only; never edit it), else None."""
        return None if self._local is None else self._local.path(digest.key)

    def location(self, digest: Digest) -> str:
        """The object's full path or URL, for messages."""
        return self._backend.location(digest.key)

    # --- writing -------------------------------------------------------------------

    def put_file(self, path: str | os.PathLike[str]) -> ObjectInfo:
        """Store a local file; hashing uses every core, copying stays in the kernel."""
        path = Path(path)
        before = _stat_source(path)
        return self.put_hashed_file(path, hash_file(path), before)

    def put_hashed_file(self, path: Path, digest: Digest, before: os.stat_result) -> ObjectInfo:
        """Store ``path`` whose digest is known; ``before`` is its stat when it was hashed,
        so a file that changed meanwhile is refused rather than stored under a wrong name."""
        if self._backend.exists(digest.key):
            return ObjectInfo(digest, before.st_size)
        return self._store_file(path, digest, before)

    def _store_file(self, path: Path, digest: Digest, before: os.stat_result) -> ObjectInfo:
        """:meth:`put_hashed_file` for a caller that has just seen the object missing."""
        with self._upload(digest.key, f"file {path}") as upload:
            upload.write_file(path)
            if not _same_file(before, path.stat()):
                raise ObjectStoreError(
                    f"File {path} changed while it was being stored; nothing was kept.",
                    hint="Store it again once no program is writing to it.",
                )
            upload.commit(digest.key)
        return ObjectInfo(digest, before.st_size)

    def put_bytes(self, data: bytes) -> ObjectInfo:
        """Store ``data``."""
        digest = hash_bytes(data)
        if not self._backend.exists(digest.key):
            with self._upload(digest.key, f"object {digest}") as upload:
                upload.write(data)
                upload.commit(digest.key)
        return ObjectInfo(digest, len(data))

    def put_stream(self, stream: BinaryIO) -> ObjectInfo:
        """Store everything left in a binary stream, hashing it as it is written."""
        if not self._backend.can_rename:
            # Object stores must know the final key before the upload: spool locally first.
            with tempfile.TemporaryFile() as spool:
                info = _copy_hashing(stream, spool.write)
                spool.seek(0)
                if not self._backend.exists(info.digest.key):
                    self._put_known_stream(spool, info.digest, verify=False)
                return info
        with self._upload(None, "a stream") as upload:
            info = _copy_hashing(stream, upload.write)
            if self._backend.exists(info.digest.key):
                upload.abort()
            else:
                upload.commit(info.digest.key)
        return info

    def _put_known_stream(self, stream: BinaryIO, digest: Digest, *, verify: bool) -> int:
        """Write ``stream`` as object ``digest``; with ``verify`` it is re-hashed first and
        a mismatch keeps nothing. Raises OSError-caused ObjectStoreErrors for retries."""
        with self._upload(digest.key, f"object {digest}") as upload:
            info = _copy_hashing(stream, upload.write)
            if verify and info.digest != digest:
                raise CorruptObjectError(
                    f"Object {digest} arrived at {self.url} with bytes that hash to "
                    f"{info.digest}; it was not stored."
                )
            upload.commit(digest.key)
        return info.size

    @contextmanager
    def _upload(self, key: str | None, what: str) -> Iterator[Upload]:
        try:
            upload = self._backend.begin(key)
        except OSError as exc:
            raise write_error(exc, what, self.url) from exc
        try:
            yield upload
        except OSError as exc:
            upload.abort()
            raise write_error(exc, what, self.url) from exc
        except BaseException:
            upload.abort()
            raise

    # --- reading -------------------------------------------------------------------

    def exists(self, digest: Digest) -> bool:
        """True if the store holds ``digest`` (its bytes are not checked)."""
        return self._backend.exists(digest.key)

    def size(self, digest: Digest) -> int:
        try:
            return self._backend.size(digest.key)
        except FileNotFoundError as exc:
            raise self._not_found(digest) from exc

    def open(self, digest: Digest) -> BinaryIO:
        """The object's bytes as a binary stream. With ``verify_on_read``, reaching the end
        of a stream whose bytes do not match raises :class:`CorruptObjectError`."""
        try:
            handle = self._backend.open_read(digest.key)
        except FileNotFoundError as exc:
            raise self._not_found(digest) from exc
        if not self.verify_on_read:
            return handle
        return io.BufferedReader(VerifyingReader(handle, digest, self.location(digest)), CHUNK)

    def read_bytes(self, digest: Digest) -> bytes:
        """All of the object's bytes."""
        with self.open(digest) as handle:
            return handle.read()

    def get_file(self, digest: Digest, dest: str | os.PathLike[str], *, link: bool = True) -> Path:
        """Write the object to ``dest`` atomically: for a local store by reflink, then
        hardlink (``link=True``; the file is then read-only and shared with the store, so
        never edit it in place), then copy; for a remote store by download."""
        dest = Path(dest)
        if not self._backend.exists(digest.key):
            raise self._not_found(digest)
        if self._local is None:
            self._download(digest, dest)
        else:
            if self.verify_on_read:
                self.check(digest)
            self._local.materialize(digest.key, dest, link=link)
        return dest

    def _download(self, digest: Digest, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        temp = temp_path(dest.parent, dest.name)
        try:
            with self.open(digest) as src, temp.open("xb") as out:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
            temp.replace(dest)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def list(self) -> Iterator[Digest]:
        """Every object's digest, in sorted order; temp files are skipped."""
        for key in self._backend.iter_keys():
            yield Digest(key.replace("/", "", 1))

    def delete(self, digest: Digest) -> bool:
        """Remove the object; False if it was not there."""
        return self._backend.delete(digest.key)

    # --- integrity -----------------------------------------------------------------

    def verify(self, digest: Digest) -> bool:
        """Re-hash the object: True if its bytes still match its digest."""
        if not self._backend.exists(digest.key):
            raise self._not_found(digest)
        if self._local is not None:
            return hash_file(self._local.path(digest.key)) == digest
        with self._backend.open_read(digest.key) as handle:
            return _copy_hashing(handle, None).digest == digest

    def check(self, digest: Digest) -> None:
        """Like :meth:`verify`, but a mismatch raises :class:`CorruptObjectError`."""
        if not self.verify(digest):
            raise CorruptObjectError(
                f"Object {digest} at {self.location(digest)} is corrupt: its bytes no longer "
                "match its digest."
            )

    def verify_all(self, *, progress: Progress | None = None) -> VerifyReport:
        """Re-hash every object; corrupt ones are listed, never repaired or deleted.
        ``progress(files, bytes)`` is called after each object with the increments."""
        digests = list(self.list())
        corrupt = []
        for digest in digests:
            if not self.verify(digest):
                corrupt.append(digest)
            if progress is not None:
                progress(1, self.size(digest))
        return VerifyReport(len(digests), tuple(corrupt))

    def _not_found(self, digest: Digest) -> ObjectNotFoundError:
        return ObjectNotFoundError(f"Object {digest} is not in the object store at {self.url}.")

    # --- trees ---------------------------------------------------------------------

    def put_tree(
        self,
        folder: str | os.PathLike[str],
        *,
        stat_cache: StatCache | None = None,
        jobs: int | None = None,
        written: bool = False,
    ) -> ObjectInfo:
        """Store every file under ``folder`` and its manifest; the manifest's digest
        names the folder's content. Each file is hashed and stored in one task on
        ``jobs`` threads (default: one per core, at most 8); a file the stat cache knows
        is not hashed again, and one whose object is already stored is not copied.
        ``written=True``: Shipyard itself just wrote the folder, so the stat cache may
        trust the files' fresh stats (see :meth:`StatCache.record_many`).
        See :func:`build_tree` for symlinks."""
        tree = scan_tree(Path(folder), stat_cache, jobs, self.put_hashed_file, written=written)
        return self.put_bytes(tree.to_bytes())

    def read_tree(self, digest: Digest) -> Tree:
        """The manifest stored as ``digest``, always verified and path-checked."""
        data = self.read_bytes(digest)
        if hash_bytes(data) != digest:
            raise CorruptObjectError(
                f"Tree manifest {digest} at {self.location(digest)} is corrupt: its bytes "
                "no longer match its digest."
            )
        return Tree.from_bytes(data)

    def checkout_tree(
        self, digest: Digest, dest: str | os.PathLike[str], *, link: bool = True
    ) -> Tree:
        """Write the folder named by ``digest`` into ``dest``. Files already in ``dest``
        but not in the tree are left alone; nothing is ever written outside ``dest``."""
        tree = self.read_tree(digest)
        root = Path(dest).absolute()
        missing = [p for p, e in tree.entries.items() if not self._backend.exists(e.digest.key)]
        if missing:
            entry = tree.entries[missing[0]]
            raise ObjectNotFoundError(
                f"Cannot check out tree {digest}: {len(missing)} file(s) are missing from "
                f"the object store at {self.url}, first {missing[0]!r} ({entry.digest})."
            )
        for rel, entry in tree.entries.items():
            target = _inside(root, rel)
            executable = entry.mode == EXEC_MODE
            self.get_file(entry.digest, target, link=link and not executable)
            if executable:
                mode = target.stat().st_mode
                target.chmod(mode | (mode & 0o444) >> 2)
        return tree

    def checkout_tree_once(
        self, digest: Digest, dest: str | os.PathLike[str], *, link: bool = True
    ) -> Path:
        """``dest`` holding the folder named by ``digest``, checked out whole: into a temp
        sibling first, then renamed, so a reader (or a concurrent checkout) never sees
        half a folder. An existing ``dest`` is taken as already checked out."""
        target = Path(dest)
        if target.exists():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = temp_path(target.parent, target.name)
        try:
            self.checkout_tree(digest, temp, link=link)
            temp.rename(target)
        except OSError:
            shutil.rmtree(temp, ignore_errors=True)
            if not target.exists():  # not another process that won the race
                raise
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        return target


def _inside(root: Path, rel: str) -> Path:
    """``root/rel`` after checking ``rel`` again and that no folder on the way is a
    symlink (which could lead the write outside ``root``)."""
    check_relpath(rel)
    current = root
    parts = rel.split("/")
    for part in parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise ObjectStoreError(
                f"Cannot check out {rel!r} into {root}: {current} is a symlink, and writing "
                "through it could leave the folder.",
                hint="Remove the symlink or check out into an empty folder.",
            )
    return current / parts[-1]


def _copy_hashing(stream: BinaryIO, write: Callable[[bytes], Any] | None) -> ObjectInfo:
    hasher = new_hasher()
    size = 0
    while chunk := stream.read(CHUNK):
        hasher.update(chunk)
        size += len(chunk)
        if write is not None:
            write(chunk)
    return ObjectInfo(Digest(hasher.hexdigest()), size)


def _stat_source(path: Path) -> os.stat_result:
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise ObjectStoreError(
            f"Cannot store file {path}: it does not exist.", hint="Check the path."
        ) from exc
    if not path.is_file():
        raise ObjectStoreError(
            f"Cannot store {path}: it is not a regular file.",
            hint="Use put_tree for a folder.",
        )
    return st


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_ino, a.st_size, a.st_mtime_ns) == (b.st_ino, b.st_size, b.st_mtime_ns)

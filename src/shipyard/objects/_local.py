"""A store in a local folder: temp file beside the object, then ``os.replace``.

Object files are made read-only (0o444), so a hardlink to one can be handed out safely.
Copies go through the kernel: a reflink (``FICLONE``) where the filesystem shares blocks
(btrfs, XFS), else ``copy_file_range``, else a plain read/write loop.

A backend remembers two things for the life of the process, because each costs a failed
system call per object otherwise (measured: 2,000 failed ``FICLONE`` ioctls and ~4,000
``mkdir`` calls answering EEXIST for a folder of 2,000 files): that the store's filesystem
cannot reflink (after the first refusal), and which ``ab/`` folders it has already made.
A folder removed behind its back (by hand; gc keeps folders) is made again on ENOENT.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

from shipyard.objects._backend import KEY, TEMP_SUFFIX

FICLONE = 0x40049409  # from linux/fs.h: share the source's blocks, copy-on-write
OBJECT_MODE = 0o444
_COPY_CHUNK = 1 << 24
# copy_file_range answers these when it cannot work between the two files at all.
_NO_KERNEL_COPY = frozenset(
    {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EBADF}
)
# FICLONE answers these when the filesystem (or the pair of filesystems) cannot share blocks.
_NO_REFLINK = frozenset(
    {errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.ENOSYS}
)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_CLOEXEC
_T = TypeVar("_T")


def temp_path(folder: Path, stem: str) -> Path:
    """A fresh hidden name in ``folder``; listings skip it because it starts with a dot."""
    return folder / f".{stem}.{uuid.uuid4().hex[:12]}{TEMP_SUFFIX}"


class LocalBackend:
    """Objects as files under a local folder, ``<root>/ab/cdef...``."""

    is_local = True
    can_rename = True

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().absolute()
        self.url = str(self.root)
        # False once FICLONE was refused here: later copies go straight to copy_file_range.
        self.reflinks = True
        # Names of the object folders known to exist ("" is the root); set.add is atomic.
        self._folders: set[str] = set()

    def path(self, key: str) -> Path:
        return self.root / key

    def location(self, key: str) -> str:
        return str(self.root / key)

    def exists(self, key: str) -> bool:
        return (self.root / key).is_file()

    def size(self, key: str) -> int:
        return (self.root / key).stat().st_size

    def open_read(self, key: str) -> BinaryIO:
        return (self.root / key).open("rb")

    def begin(self, key: str | None) -> LocalUpload:
        return LocalUpload(self, key[:2] if key else "")

    def in_folder(self, name: str, action: Callable[[], _T]) -> _T:
        """``action()``, which needs folder ``name`` under the root: made on first use,
        and again if ``action`` finds it gone (FileNotFoundError)."""
        if name in self._folders:
            try:
                return action()
            except FileNotFoundError:
                self._folders.discard(name)
        self._make_folder(name)
        return action()

    def _make_folder(self, name: str) -> None:
        (self.root / name).mkdir(parents=True, exist_ok=True)
        self._folders.add(name)

    def materialize(self, key: str, dest: Path, *, link: bool) -> None:
        """Put the object at ``dest`` by reflink, then hardlink (if ``link``), then copy;
        ``dest`` appears whole or not at all."""
        source = self.root / key
        dest.parent.mkdir(parents=True, exist_ok=True)
        temp = temp_path(dest.parent, dest.name)
        try:
            if not (self._try_reflink(source, temp) or (link and _try_hardlink(source, temp))):
                _copy(source, temp)
            temp.replace(dest)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def iter_keys(self) -> Iterator[str]:
        try:
            folders = sorted(os.scandir(self.root), key=lambda e: e.name)
        except FileNotFoundError:
            return
        for folder in folders:
            if len(folder.name) != 2 or not folder.is_dir():
                continue
            for entry in sorted(os.scandir(folder.path), key=lambda e: e.name):
                key = f"{folder.name}/{entry.name}"
                if KEY.fullmatch(key):
                    yield key

    def delete(self, key: str) -> bool:
        try:
            (self.root / key).unlink()
        except FileNotFoundError:
            return False
        return True

    def clone(self, src: int, dst: int) -> bool:
        """Share ``src``'s blocks into the empty ``dst`` (FICLONE); False if it failed, and
        a refusal by this store's filesystem is remembered so later copies skip the try."""
        if not self.reflinks:
            return False
        try:
            fcntl.ioctl(dst, FICLONE, src)
        except OSError as exc:
            if exc.errno in _NO_REFLINK:
                self.reflinks = False
            return False
        return True

    def _try_reflink(self, source: Path, temp: Path) -> bool:
        if not self.reflinks:
            return False
        src = os.open(source, _READ)
        try:
            fd = os.open(temp, _CREATE, 0o666)
            try:
                cloned = self.clone(src, fd)
            finally:
                os.close(fd)
        finally:
            os.close(src)
        if not cloned:
            temp.unlink()
        return cloned


class LocalUpload:
    """A temp file in the object's own folder, renamed over the final name on commit."""

    def __init__(self, backend: LocalBackend, folder: str) -> None:
        self._backend = backend
        self._fd: int | None = None
        self.temp = backend.in_folder(folder, lambda: self._create(backend.root / folder))

    def _create(self, folder: Path) -> Path:
        temp = temp_path(folder, "put")
        self._fd = os.open(temp, _CREATE, 0o644)
        return temp

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    def write_file(self, source: Path) -> None:
        """Append the whole of ``source`` through the kernel (reflink or copy_file_range)."""
        src = os.open(source, _READ)
        try:
            if os.lseek(self._fd, 0, os.SEEK_END) == 0 and self._backend.clone(src, self._fd):
                os.lseek(self._fd, 0, os.SEEK_END)
                return
            _kernel_copy(src, self._fd)
        finally:
            os.close(src)

    def commit(self, key: str) -> None:
        final = self._backend.root / key
        # Read-only before it gets its name, so no one ever sees a writable object.
        os.fchmod(self._fd, OBJECT_MODE)
        self._close()
        # Two writers of one object race harmlessly: both files hold the same bytes.
        self._backend.in_folder(key[:2], lambda: self.temp.replace(final))

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._close()
        self.temp.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _try_hardlink(source: Path, temp: Path) -> bool:
    try:
        os.link(source, temp)
    except OSError:
        return False
    return True


def _copy(source: Path, temp: Path) -> None:
    src = os.open(source, _READ)
    try:
        fd = os.open(temp, _CREATE, 0o666)
        try:
            _kernel_copy(src, fd)
        finally:
            os.close(fd)
    finally:
        os.close(src)


def _kernel_copy(src: int, dst: int) -> None:
    """Copy all of ``src`` to the end of ``dst`` without passing bytes through Python."""
    start = os.lseek(dst, 0, os.SEEK_END)
    try:
        while os.copy_file_range(src, dst, _COPY_CHUNK):
            pass
    except OSError as exc:
        if exc.errno not in _NO_KERNEL_COPY:
            raise
        os.lseek(src, 0, os.SEEK_SET)
        os.ftruncate(dst, start)
        os.lseek(dst, start, os.SEEK_SET)
        while chunk := os.read(src, _COPY_CHUNK):
            view = memoryview(chunk)
            while view:
                view = view[os.write(dst, view) :]

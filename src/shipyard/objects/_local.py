"""A store in a local folder: temp file beside the object, then ``os.replace``.

Object files are made read-only (0o444), so a hardlink to one can be handed out safely.
Copies go through the kernel: a reflink (``FICLONE``) where the filesystem shares blocks
(btrfs, XFS), else ``copy_file_range``, else a plain read/write loop.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from shipyard.objects._backend import KEY, TEMP_SUFFIX

FICLONE = 0x40049409  # from linux/fs.h: share the source's blocks, copy-on-write
OBJECT_MODE = 0o444
_COPY_CHUNK = 1 << 24
# copy_file_range answers these when it cannot work between the two files at all.
_NO_KERNEL_COPY = frozenset(
    {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EBADF}
)
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


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
        folder = self.root / key.split("/")[0] if key else self.root
        return LocalUpload(self.root, folder)

    def materialize(self, key: str, dest: Path, *, link: bool) -> None:
        """Put the object at ``dest`` by reflink, then hardlink (if ``link``), then copy;
        ``dest`` appears whole or not at all."""
        source = self.root / key
        dest.parent.mkdir(parents=True, exist_ok=True)
        temp = temp_path(dest.parent, dest.name)
        try:
            if not (_try_reflink(source, temp) or (link and _try_hardlink(source, temp))):
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


class LocalUpload:
    """A temp file in the object's own folder, renamed over the final name on commit."""

    def __init__(self, root: Path, folder: Path) -> None:
        self._root = root
        folder.mkdir(parents=True, exist_ok=True)
        self.temp = temp_path(folder, "put")
        self._fd: int | None = os.open(self.temp, _CREATE, 0o644)

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    def write_file(self, source: Path) -> None:
        """Append the whole of ``source`` through the kernel (reflink or copy_file_range)."""
        with source.open("rb") as src:
            _kernel_copy(src.fileno(), self._fd)

    def commit(self, key: str) -> None:
        final = self._root / key
        final.parent.mkdir(parents=True, exist_ok=True)
        self._close()
        self.temp.chmod(OBJECT_MODE)
        # Two writers of one object race harmlessly: both files hold the same bytes.
        self.temp.replace(final)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._close()
        self.temp.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _try_reflink(source: Path, temp: Path) -> bool:
    with source.open("rb") as src:
        fd = os.open(temp, _CREATE, 0o666)
        try:
            fcntl.ioctl(fd, FICLONE, src.fileno())
        except OSError:
            os.close(fd)
            temp.unlink()
            return False
        os.close(fd)
        return True


def _try_hardlink(source: Path, temp: Path) -> bool:
    try:
        os.link(source, temp)
    except OSError:
        return False
    return True


def _copy(source: Path, temp: Path) -> None:
    with source.open("rb") as src:
        fd = os.open(temp, _CREATE, 0o666)
        try:
            _kernel_copy(src.fileno(), fd)
        finally:
            os.close(fd)


def _kernel_copy(src: int, dst: int) -> None:
    """Copy all of ``src`` to the end of ``dst`` without passing bytes through Python."""
    with contextlib.suppress(OSError):
        if os.lseek(dst, 0, os.SEEK_END) == 0:
            fcntl.ioctl(dst, FICLONE, src)
            os.lseek(dst, 0, os.SEEK_END)
            return
    start = os.lseek(dst, 0, os.SEEK_CUR)
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

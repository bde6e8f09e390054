"""Real fsspec filesystems that fail the way disks and networks do, for the fault tests.

Both are local filesystems under another protocol name, so a store opened on
``fullfs://<path>`` or ``flakyfs://<path>`` goes through the fsspec backend and meets the
failure in the middle of an actual write or read.
"""

from __future__ import annotations

import errno
import time
from typing import Any, ClassVar

import fsspec
from fsspec.implementations.local import LocalFileSystem


class _Wrapped:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __enter__(self) -> _Wrapped:
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.close()


class _FillingWriter(_Wrapped):
    def __init__(self, inner: Any, room: int) -> None:
        super().__init__(inner)
        self._room = room

    def write(self, data: bytes) -> int:
        if len(data) > self._room:
            self._inner.write(bytes(data[: self._room]))
            self._room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= len(data)
        return self._inner.write(data)


class FullFileSystem(LocalFileSystem):
    """A disk with ``room`` bytes free per file written."""

    protocol = "fullfs"
    room: ClassVar[int] = 100_000

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        handle = super()._open(path, mode, **kwargs)
        return _FillingWriter(handle, self.room) if "w" in mode else handle


class _BreakingReader(_Wrapped):
    def __init__(self, inner: Any, after: int) -> None:
        super().__init__(inner)
        self._left = after

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            raise OSError(errno.ECONNRESET, "Connection reset by peer")
        data = self._inner.read(min(self._left, size if size >= 0 else self._left))
        self._left -= len(data)
        return data


class _SlowReader(_Wrapped):
    def __init__(self, inner: Any, delay: float) -> None:
        super().__init__(inner)
        self._delay = delay

    def read(self, size: int = -1) -> bytes:
        time.sleep(self._delay)
        return self._inner.read(size)


class FlakyFileSystem(LocalFileSystem):
    """A remote whose first ``failures`` reads break after ``after`` bytes, and whose
    reads each take ``delay`` seconds."""

    protocol = "flakyfs"
    failures: ClassVar[int] = 0
    after: ClassVar[int] = 1000
    delay: ClassVar[float] = 0.0
    opened: ClassVar[int] = 0

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        handle = super()._open(path, mode, **kwargs)
        if "r" not in mode:
            return handle
        type(self).opened += 1
        if self.delay:
            return _SlowReader(handle, self.delay)
        if type(self).failures > 0:
            type(self).failures -= 1
            return _BreakingReader(handle, self.after)
        return handle


fsspec.register_implementation("fullfs", FullFileSystem, clobber=True)
fsspec.register_implementation("flakyfs", FlakyFileSystem, clobber=True)

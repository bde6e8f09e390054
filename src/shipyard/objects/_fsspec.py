"""A store on any fsspec filesystem (``memory://``, ``s3://``, ...).

Filesystems that can rename get a temp key beside the object and an ``mv`` on commit.
Object stores (S3, GCS, Azure) cannot rename cheaply, but they never show a key before
its upload completes, so bytes go straight to the final key; a failed upload is
discarded (the multipart upload aborted) instead of closed, which would publish it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from shipyard.objects._backend import KEY, TEMP_SUFFIX

OBJECT_STORE_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl"})
_CHUNK = 1 << 22


class FsspecBackend:
    """Objects under ``<root>/ab/cdef...`` on an fsspec filesystem."""

    is_local = False

    def __init__(self, fs: Any, root: str, url: str) -> None:
        self.fs = fs
        self.root = root
        self.url = url
        protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
        self.can_rename = not (protocols & OBJECT_STORE_PROTOCOLS)

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def location(self, key: str) -> str:
        return self.fs.unstrip_protocol(self._path(key))

    def exists(self, key: str) -> bool:
        return bool(self.fs.isfile(self._path(key)))

    def size(self, key: str) -> int:
        return int(self.fs.size(self._path(key)))

    def open_read(self, key: str) -> BinaryIO:
        return self.fs.open(self._path(key), "rb")

    def begin(self, key: str | None) -> FsspecUpload:
        if key is not None and not self.can_rename:
            return FsspecUpload(self.fs, self.fs.open(self._path(key), "wb"), None, self.root)
        folder = f"{self.root}/{key.split('/')[0]}" if key else self.root
        temp = f"{folder}/.put.{uuid.uuid4().hex[:12]}{TEMP_SUFFIX}"
        self.fs.makedirs(folder, exist_ok=True)
        return FsspecUpload(self.fs, self.fs.open(temp, "wb"), temp, self.root)

    def iter_keys(self) -> Iterator[str]:
        self.fs.invalidate_cache(self.root)
        try:
            found = self.fs.find(self.root)
        except FileNotFoundError:
            return
        prefix = self.fs._strip_protocol(self.root).rstrip("/") + "/"
        for path in sorted(found):
            key = path[len(prefix) :] if path.startswith(prefix) else ""
            if KEY.fullmatch(key):
                yield key

    def delete(self, key: str) -> bool:
        # S3 answers a delete of a missing key with success, so ask first.
        if not self.exists(key):
            return False
        try:
            self.fs.rm_file(self._path(key))
        except FileNotFoundError:
            return False
        return True


class FsspecUpload:
    """An open fsspec write handle; ``temp`` is None when it writes the final key."""

    def __init__(self, fs: Any, handle: Any, temp: str | None, root: str) -> None:
        self._fs = fs
        self._handle = handle
        self._temp = temp
        self._root = root

    def write(self, data: bytes | memoryview) -> None:
        self._handle.write(data)

    def write_file(self, source: Path) -> None:
        with source.open("rb") as src:
            while chunk := src.read(_CHUNK):
                self._handle.write(chunk)

    def commit(self, key: str) -> None:
        self._handle.close()
        if self._temp is not None:
            final = f"{self._root}/{key}"
            self._fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
            self._fs.mv(self._temp, final)

    def abort(self) -> None:
        if self._temp is None:
            # Closing would publish the partial bytes: discard aborts the upload instead.
            with contextlib.suppress(OSError, ValueError):
                self._handle.discard()
            self._handle.closed = True
            return
        with contextlib.suppress(OSError):
            self._handle.close()
        with contextlib.suppress(OSError):
            self._fs.rm_file(self._temp)

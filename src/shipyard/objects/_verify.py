"""Verify-on-read: a stream that hashes what passes through and checks it at the end."""

from __future__ import annotations

import io
from typing import BinaryIO

from shipyard.errors import CorruptObjectError
from shipyard.objects._digest import Digest, new_hasher


class VerifyingReader(io.RawIOBase):
    """Reads ``inner`` once, front to back; at end of file a digest mismatch raises
    :class:`CorruptObjectError`, so a consumer never finishes reading bad bytes quietly."""

    def __init__(self, inner: BinaryIO, digest: Digest, location: str) -> None:
        self._inner = inner
        self._digest = digest
        self._location = location
        self._hasher = new_hasher()
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        data = self._inner.read(len(view))
        if not data:
            self._check()
            return 0
        view[: len(data)] = data
        self._hasher.update(data)
        return len(data)

    def _check(self) -> None:
        if self._checked:
            return
        self._checked = True
        actual = Digest(self._hasher.hexdigest())
        if actual != self._digest:
            raise CorruptObjectError(
                f"Object {self._digest} at {self._location} is corrupt: its bytes hash to "
                f"{actual}. It was not used."
            )

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()

"""What a store needs from the place its bytes live, and how to pick that place from a URL.

Two backends implement it: :class:`~shipyard.objects._local.LocalBackend` (plain paths and
``file://``; atomic ``os.replace``, read-only files, reflinks and hardlinks) and
:class:`~shipyard.objects._fsspec.FsspecBackend` (any other fsspec URL). Keys are object
paths relative to the root, ``ab/cdef...``.
"""

from __future__ import annotations

import errno
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from shipyard.errors import MissingDependencyError, ObjectStoreError

KEY = re.compile(r"[0-9a-f]{2}/[0-9a-f]{62}")
TEMP_SUFFIX = ".partial"
LOCAL_PROTOCOLS = frozenset({"file", "local"})
# Protocols whose filesystem package ships as a Shipyard extra: protocol -> (package, extra).
_EXTRAS = {"s3": ("s3fs", "s3"), "s3a": ("s3fs", "s3")}


class Upload(Protocol):
    """Bytes on their way into a store: invisible until ``commit``, gone after ``abort``."""

    def write(self, data: bytes | memoryview) -> None: ...

    def write_file(self, source: Path) -> None: ...

    def commit(self, key: str) -> None: ...

    def abort(self) -> None: ...


class Backend(Protocol):
    url: str
    is_local: bool
    # False for object stores (S3, GCS, Azure) that cannot rename: an upload there must
    # be told its final key up front, and the store spools unknown-digest streams locally.
    can_rename: bool

    def location(self, key: str) -> str: ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int: ...

    def open_read(self, key: str) -> BinaryIO: ...

    def begin(self, key: str | None) -> Upload: ...

    def iter_keys(self) -> Iterator[str]: ...

    def delete(self, key: str) -> bool: ...


def open_backend(root: str | Path, storage_options: Mapping[str, Any] | None) -> Backend:
    """The backend for ``root``: a local folder or an fsspec URL."""
    from shipyard.objects._local import LocalBackend

    if isinstance(root, Path):
        return LocalBackend(root)
    # Parsed here rather than by fsspec, whose import (~0.1 s) a local store never needs;
    # as in fsspec, a one-letter protocol is a Windows drive (C://).
    protocol, sep, bare = root.partition("://")
    if not sep or len(protocol) == 1:
        return LocalBackend(Path(root))
    if protocol in LOCAL_PROTOCOLS:
        return LocalBackend(Path(bare))
    return _fsspec_backend(root, protocol, dict(storage_options or {}))


def _fsspec_backend(url: str, protocol: str, options: dict[str, Any]) -> Backend:
    from fsspec.core import url_to_fs

    from shipyard.objects._fsspec import FsspecBackend

    try:
        fs, path = url_to_fs(url, **options)
    except ImportError as exc:
        if protocol in _EXTRAS:
            package, extra = _EXTRAS[protocol]
            raise MissingDependencyError(
                package, extra, purpose=f"The object store at {url}"
            ) from exc
        raise ObjectStoreError(
            f"The object store at {url} needs a filesystem package for '{protocol}://' "
            f"that is not installed: {exc}",
            hint="Install the package the message names into this environment, then run again.",
        ) from exc
    except ValueError as exc:
        raise ObjectStoreError(
            f"The object store URL {url} has protocol '{protocol}://', which fsspec does not know.",
            hint="Use a local path or a protocol such as s3://, gcs://, file:// or memory://.",
        ) from exc
    return FsspecBackend(fs, path.rstrip("/"), url)


def write_error(exc: OSError, what: str, store: str) -> ObjectStoreError:
    """The user-facing error for an ``OSError`` met while writing ``what`` into ``store``."""
    if exc.errno == errno.ENOSPC:
        return ObjectStoreError(
            f"No space left on device while writing {what} to the object store at {store}; "
            "nothing partial was kept.",
            hint="Free space on that disk or move the store to a larger volume, then run again.",
        )
    return ObjectStoreError(f"Could not write {what} to the object store at {store}: {exc}")

"""Where a dataset's data lives: fsspec resolution, the project-containment check, and
atomic writes for local files.

Local relative paths resolve against the project root. After ``..`` and symlinks are
resolved, a local path must stay inside the project unless the entry says
``allow_outside_project: true``. Local files are written to a temporary file in the same
folder and moved into place with ``os.replace``, so a save that fails half-way leaves the
previous file whole.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from shipyard.errors import DatasetError, MissingDependencyError, PathOutsideProjectError

LOCAL_PROTOCOLS = frozenset({"file", "local"})
# Files are always opened in binary mode; datasets decode text themselves.
_TEXT_OPEN_ARGS = frozenset({"mode", "encoding", "errors", "newline"})
# Protocols whose filesystem package ships as a Shipyard extra: protocol -> (package, extra).
_EXTRAS = {"s3": ("s3fs", "s3"), "s3a": ("s3fs", "s3")}
TEMP_SUFFIX = ".partial"


def _read_umask() -> int:
    # os.umask can only be read by setting it; done once, at import, before any thread runs.
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@dataclass(frozen=True, slots=True)
class Location:
    """A resolved place for one file or folder: its filesystem and its path there.

    A local location creates its fsspec filesystem only when something asks for ``fs``:
    reading, writing and checking local files never needs it, so commands that only
    look at local data do not import fsspec at all.
    """

    remote_fs: Any
    path: str
    is_local: bool
    open_args_load: Mapping[str, Any] = field(default_factory=dict)
    open_args_save: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fs(self) -> Any:
        """The fsspec filesystem holding the path (the local one for local paths)."""
        if self.remote_fs is not None:
            return self.remote_fs
        import fsspec

        return fsspec.filesystem("file")

    @property
    def url(self) -> str:
        """The path with its protocol, usable to build another dataset on the same place."""
        return self.path if self.is_local else self.fs.unstrip_protocol(self.path)

    def exists(self) -> bool:
        if self.is_local:
            return Path(self.path).exists()
        return bool(self.fs.exists(self.path))

    def open_read(self) -> IO[bytes]:
        if self.is_local and not self.open_args_load:
            return Path(self.path).open("rb")
        return self.fs.open(self.path, "rb", **self.open_args_load)

    @contextmanager
    def open_write(self) -> Iterator[IO[bytes]]:
        """A binary handle whose content replaces the file only if the block succeeds."""
        if not self.is_local:
            with self.fs.open(self.path, "wb", **self.open_args_save) as handle:
                yield handle
            return
        target = Path(self.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX
        )
        try:
            with os.fdopen(descriptor, "wb") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            temp = Path(temp_name)
            temp.chmod(_mode_for(target))
            temp.replace(target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise


def write_text(path: Path, text: str) -> None:
    """Replace the local file ``path`` with ``text`` (UTF-8) whole or not at all: a
    temp file beside it, then a rename; it keeps the mode of the file it replaces."""
    with Location(None, Path(path).as_posix(), True).open_write() as handle:
        handle.write(text.encode("utf-8"))


def resolve_location(
    filepath: str,
    *,
    dataset: str,
    project_root: Path,
    allow_outside_project: bool = False,
    credentials: Mapping[str, Any] | None = None,
    fs_args: Mapping[str, Any] | None = None,
) -> Location:
    """Resolve ``filepath`` for ``dataset``: a checked local path or an fsspec filesystem.

    ``credentials`` and ``fs_args`` (minus ``open_args_load``/``open_args_save``) become
    the filesystem's storage options; they are not used for local files.
    """
    options = dict(fs_args or {})
    open_load = _binary_open_args(options.pop("open_args_load", None))
    open_save = _binary_open_args(options.pop("open_args_save", None))
    protocol, bare = split_protocol(filepath)
    if protocol is None or protocol in LOCAL_PROTOCOLS:
        path = local_path(bare, dataset, filepath, project_root, allow_outside_project)
        return Location(None, path.as_posix(), True, open_load, open_save)
    from fsspec.core import url_to_fs

    try:
        fs, path = url_to_fs(filepath, **options, **(credentials or {}))
    except ImportError as exc:
        raise _missing_backend(protocol, dataset, filepath, exc) from exc
    except ValueError as exc:
        if "Protocol not known" not in str(exc):
            raise
        raise DatasetError(
            f"Dataset '{dataset}' has path '{filepath}' with unknown protocol '{protocol}://'.",
            hint="Use a local path or a protocol fsspec knows, such as s3://, gcs:// or memory://.",
        ) from exc
    return Location(fs, path, False, open_load, open_save)


def split_protocol(url: str) -> tuple[str | None, str]:
    """``("s3", "bucket/key")`` for ``s3://bucket/key``; ``(None, path)`` for a plain path.

    A one-letter "protocol" is a Windows drive (``C://``), as fsspec treats it. Chained
    URLs (``simplecache::s3://...``) keep their whole chain as the protocol.

    >>> split_protocol("file:///tmp/x.csv"), split_protocol("data/x.csv")
    (('file', '/tmp/x.csv'), (None, 'data/x.csv'))
    """
    protocol, sep, rest = url.partition("://")
    if sep and len(protocol) > 1:
        return protocol, rest
    return None, url


def local_path(
    bare: str, dataset: str, filepath: str, project_root: Path, allow_outside: bool
) -> Path:
    path = Path(bare).expanduser()
    if not path.is_absolute():
        path = project_root / path
    resolved = path.resolve()
    root = project_root.resolve()
    if not allow_outside and not resolved.is_relative_to(root):
        raise PathOutsideProjectError(
            f"Dataset '{dataset}' has path '{filepath}', which resolves to {resolved}, "
            f"outside the project folder {root}."
        )
    return resolved


def _binary_open_args(args: Mapping[str, Any] | None) -> dict[str, Any]:
    return {key: value for key, value in (args or {}).items() if key not in _TEXT_OPEN_ARGS}


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        return 0o666 & ~_UMASK


def _missing_backend(
    protocol: str, dataset: str, filepath: str, exc: ImportError
) -> MissingDependencyError | DatasetError:
    if protocol in _EXTRAS:
        package, extra = _EXTRAS[protocol]
        return MissingDependencyError(package, extra, purpose=f"Dataset '{dataset}' at {filepath}")
    return DatasetError(
        f"Dataset '{dataset}' at {filepath} needs a filesystem package for "
        f"'{protocol}://' that is not installed: {exc}",
        hint="Install the package the message names into this environment, then run again.",
    )


_Written = TypeVar("_Written")


def replace_folder(target: Path, write: Callable[[Path], _Written]) -> _Written:
    """Replace the folder ``target`` whole: ``write(fresh)`` fills a hidden sibling that
    does not exist yet, which is then swapped in, so a reader sees the old folder or the
    new one, never a mix. If anything fails, the old folder is left as it was. Returns
    what ``write`` returned."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}{TEMP_SUFFIX}")
    old = fresh.with_name(fresh.name + ".old")
    try:
        written = write(fresh)
        if target.exists() or target.is_symlink():
            target.rename(old)
        fresh.rename(target)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        if (old.exists() or old.is_symlink()) and not target.exists():
            old.rename(target)  # put the previous folder back
        raise
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink(missing_ok=True)
    return written

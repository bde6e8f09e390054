"""Datasets stored in one file, local or behind any fsspec protocol."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

from shipyard.data._content import file_digest
from shipyard.data._dataset import AbstractDataset, type_label
from shipyard.data._paths import LOCAL_PROTOCOLS, Location, local_path, resolve_location
from shipyard.errors import DatasetError

if TYPE_CHECKING:
    from shipyard.objects import Digest, StatCache


class FileDataset(AbstractDataset):
    """A dataset kept in one file. Subclass it for a new file format.

    ``filepath`` is local (relative paths resolve against ``project_root``) or a URL
    (``s3://bucket/key.csv``, ``memory://scratch/x.csv``). ``credentials`` and ``fs_args``
    go to the fsspec filesystem; ``fs_args.open_args_load``/``open_args_save`` go to its
    ``open`` (``encoding`` there sets the text encoding of text formats). Building the
    catalog checks that a local path stays inside the project (pure path arithmetic);
    the filesystem is opened on first use and the check repeated then, symlinks included.

    A subclass reads through ``self.location.open_read()`` and writes through
    ``self.location.open_write()``, which replaces local files atomically:

    >>> class Upper(FileDataset):
    ...     def _load(self):
    ...         return self._read_text()
    ...     def _save(self, data):
    ...         self._write_text(data.upper())
    """

    _default_load_args: ClassVar[Mapping[str, Any]] = {}
    _default_save_args: ClassVar[Mapping[str, Any]] = {}

    def __init__(
        self,
        filepath: str,
        *,
        load_args: Mapping[str, Any] | None = None,
        save_args: Mapping[str, Any] | None = None,
        credentials: Mapping[str, Any] | None = None,
        fs_args: Mapping[str, Any] | None = None,
        allow_outside_project: bool = False,
        project_root: str | Path | None = None,
    ) -> None:
        if not str(filepath).strip():
            raise DatasetError("`filepath` is empty.", hint="Set `filepath` to the data file.")
        self._filepath = str(filepath)
        self._load_args = {**self._default_load_args, **(load_args or {})}
        self._save_args = {**self._default_save_args, **(save_args or {})}
        self._credentials = dict(credentials) if credentials else None
        self._fs_args = dict(fs_args or {})
        self._allow_outside_project = allow_outside_project
        self._project_root = Path(project_root) if project_root is not None else Path.cwd()
        self._location: Location | None = None

    def check_path(self) -> None:
        """Refuse a local path that leaves the project, without touching any filesystem.

        The catalog calls this as it builds the dataset, so a bad path is reported by
        the first command that reads the catalog, not by a load an hour into a run.
        """
        protocol, separator, bare = self._filepath.partition("://")
        if not separator:
            bare = self._filepath
        elif protocol not in LOCAL_PROTOCOLS:
            return
        local_path(bare, self.name, self._filepath, self._project_root, self._allow_outside_project)

    def with_path(self, path: str | Path) -> Self:
        """A copy reading and writing ``path`` instead, with the same arguments. Versioned
        datasets use it to read a stored version or write a temporary file; the path comes
        from Shipyard, not from an entry, so it is not held to the project folder."""
        twin = copy.copy(self)
        twin._filepath = str(path)
        twin._location = None
        twin._allow_outside_project = True
        return twin

    @property
    def location(self) -> Location:
        """The resolved file, checked again against the project folder on first use."""
        location = self._location
        if location is None:
            location = self._location = resolve_location(
                self._filepath,
                dataset=self.name or self._filepath,
                project_root=self._project_root,
                allow_outside_project=self._allow_outside_project,
                credentials=self._credentials,
                fs_args=self._fs_args,
            )
        return location

    def content_digest(self, stat_cache: StatCache | None = None) -> Digest | None:
        location = self.location
        return file_digest(location.path, stat_cache) if location.is_local else None

    def _exists(self) -> bool:
        return self.location.exists()

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": self._filepath,
            "load_args": self._load_args,
            "save_args": self._save_args,
        }

    def _target(self) -> str:
        return self._filepath

    def _read_bytes(self) -> bytes:
        with self.location.open_read() as handle:
            return handle.read()

    def _write_bytes(self, payload: bytes) -> None:
        with self.location.open_write() as handle:
            handle.write(payload)

    def _read_text(self) -> str:
        return self._read_bytes().decode(self._encoding("open_args_load"))

    def _write_text(self, text: str) -> None:
        self._write_bytes(text.encode(self._encoding("open_args_save")))

    def _encoding(self, which: str) -> str:
        return str((self._fs_args.get(which) or {}).get("encoding") or "utf-8")

    def _refuse(self, data: Any, expected: str, instead: str) -> DatasetError:
        """The error for data of the wrong kind, raised before anything is written."""
        return DatasetError(
            f"Dataset {self._label()} ({type_label(type(self))}) can only save {expected}, "
            f"got {type(data).__module__}.{type(data).__qualname__}.",
            hint=f"Return {expected} from the node that outputs it, or use {instead}.",
        )

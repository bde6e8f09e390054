"""A folder of files of one type, loaded one partition at a time."""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Self

from shipyard.data._content import folder_digest
from shipyard.data._dataset import AbstractDataset, type_label
from shipyard.data._entries import check_keys, instantiate, parameters_of
from shipyard.data._paths import Location, resolve_location
from shipyard.data._registry import resolve_type
from shipyard.errors import DatasetError

if TYPE_CHECKING:
    from shipyard.objects import Digest, StatCache


class PartitionedDataset(AbstractDataset):
    """Every file under ``path`` is one partition, read by the ``dataset`` type
    (``type: partitioned``; Kedro: ``partitions.PartitionedDataset``).

    ``load()`` lists the folder and returns ``{partition_id: load_function}``: nothing is
    read until a function is called. ``save()`` takes ``{partition_id: data}``, where a
    value may also be a function returning the data (called just before it is written).
    A partition id is the file's path under ``path`` without ``filename_suffix``; files
    whose name starts with '.' are skipped. With ``overwrite: true`` partitions missing
    from the saved mapping are deleted once the new ones are written.

    >>> parts = PartitionedDataset("data/01_raw/daily", "csv", filename_suffix=".csv")
    >>> parts.describe()["dataset"]
    'csv'
    """

    _type_name = "partitioned"
    stores_folder = True

    def __init__(
        self,
        path: str | None = None,
        dataset: str | Mapping[str, Any] | None = None,
        *,
        filepath: str | None = None,
        filepath_arg: str = "filepath",
        filename_suffix: str = "",
        credentials: Mapping[str, Any] | None = None,
        load_args: Mapping[str, Any] | None = None,
        fs_args: Mapping[str, Any] | None = None,
        overwrite: bool = False,
        allow_outside_project: bool = False,
        project_root: str | Path | None = None,
    ) -> None:
        folder = path if path is not None else filepath
        if not folder or dataset is None:
            missing = "path" if not folder else "dataset"
            raise DatasetError(
                f"A partitioned dataset needs `{missing}`.",
                hint="Set `path` (the folder) and `dataset` (the type of each file, "
                "e.g. `dataset: csv` or `dataset: {type: csv, load_args: {sep: ';'}}`).",
            )
        self._path = str(folder)
        self._filename_suffix = filename_suffix
        self._filepath_arg = filepath_arg
        self._credentials = dict(credentials) if credentials else None
        self._load_args = dict(load_args or {})
        self._fs_args = dict(fs_args or {})
        self._overwrite = overwrite
        self._allow_outside_project = allow_outside_project
        self._project_root = Path(project_root) if project_root is not None else Path.cwd()
        self._inner_type, self._inner_kwargs = self._inner_config(dataset)
        self._location: Location | None = None

    def with_path(self, path: str | Path) -> Self:
        """A copy reading and writing the folder ``path`` instead (a checked-out version),
        with the same arguments; the path comes from Shipyard, so it may leave the project."""
        twin = copy.copy(self)
        twin._path = str(path)
        twin._location = None
        twin._allow_outside_project = True
        if "allow_outside_project" in twin._inner_kwargs:
            twin._inner_kwargs = {**twin._inner_kwargs, "allow_outside_project": True}
        return twin

    @property
    def location(self) -> Location:
        """The resolved folder (checked against the project folder on first use)."""
        location = self._location
        if location is None:
            location = self._location = resolve_location(
                self._path,
                dataset=self.name or self._path,
                project_root=self._project_root,
                allow_outside_project=self._allow_outside_project,
                credentials=self._credentials,
                fs_args=self._fs_args,
            )
        return location

    def content_digest(self, stat_cache: StatCache | None = None) -> Digest | None:
        location = self.location
        return folder_digest(location.path, stat_cache) if location.is_local else None

    def _load(self) -> dict[str, Callable[[], Any]]:
        partitions = {pid: self._partition(pid).load for pid in self._partition_ids()}
        if not partitions:
            raise DatasetError(
                f"Dataset {self._label()} has no partitions in {self._path}"
                + (f" ending in '{self._filename_suffix}'." if self._filename_suffix else "."),
                hint="Save partitions first, or check `path` and `filename_suffix`.",
            )
        return partitions

    def _save(self, data: Any) -> None:
        if not isinstance(data, Mapping):
            raise DatasetError(
                f"Dataset {self._label()} (partitioned) saves a mapping of partition id -> "
                f"data, got {type(data).__qualname__}.",
                hint="Return a dict such as {'2024-01-01': frame} from the node.",
            )
        for partition_id in data:
            self._check_id(partition_id)
        stale = set(self._partition_ids()) - set(data) if self._overwrite else set()
        for partition_id, value in data.items():
            self._partition(partition_id).save(value() if callable(value) else value)
        for partition_id in sorted(stale):
            self.location.fs.rm(self._partition_url(partition_id))

    def _exists(self) -> bool:
        return bool(self._partition_ids())

    def _describe(self) -> dict[str, Any]:
        return {
            "path": self._path,
            "dataset": type_label(self._inner_type),
            "filename_suffix": self._filename_suffix,
            "overwrite": self._overwrite,
        }

    def _target(self) -> str:
        return self._path

    def _partition_ids(self) -> list[str]:
        location = self.location
        base = location.path.rstrip("/") + "/"
        suffix = self._filename_suffix
        ids = []
        for found in location.fs.find(location.path, **self._load_args):
            relative = found[len(base) :] if found.startswith(base) else posixpath.basename(found)
            if posixpath.basename(relative).startswith(".") or not relative.endswith(suffix):
                continue
            ids.append(relative[: len(relative) - len(suffix)] if suffix else relative)
        return sorted(ids)

    def _partition(self, partition_id: str) -> AbstractDataset:
        kwargs = {**self._inner_kwargs, self._filepath_arg: self._partition_url(partition_id)}
        name = f"{self.name or self._path}/{partition_id}"
        return instantiate(self._inner_type, kwargs, dataset=name, origin=None)

    def _partition_url(self, partition_id: str) -> str:
        return posixpath.join(self.location.url, f"{partition_id}{self._filename_suffix}")

    def _check_id(self, partition_id: Any) -> None:
        parts = PurePosixPath(str(partition_id)).parts
        if not isinstance(partition_id, str) or not parts or parts[0] == "/" or ".." in parts:
            raise DatasetError(
                f"Dataset {self._label()} got partition id {partition_id!r}, which is not a "
                "relative path inside the partition folder.",
                hint="Use string ids such as '2024-01-01' or 'region/north', without '..'.",
            )

    def _inner_config(
        self, dataset: str | Mapping[str, Any]
    ) -> tuple[type[AbstractDataset], dict[str, Any]]:
        config = {"type": dataset} if isinstance(dataset, str) else dict(dataset)
        type_name = config.pop("type", None)
        if not isinstance(type_name, str):
            raise DatasetError(
                "The `dataset` of a partitioned dataset has no `type`.",
                hint="Write `dataset: csv` or `dataset: {type: csv, ...}`.",
            )
        if self._filepath_arg in config:
            raise DatasetError(
                f"The `dataset` of a partitioned dataset sets `{self._filepath_arg}`, which "
                "the partitioned dataset fills in for each partition.",
                hint=f"Remove `{self._filepath_arg}` from `dataset`; set `path` instead.",
            )
        cls = resolve_type(type_name)
        check_keys(
            cls,
            {**config, self._filepath_arg: ""},
            subject="the `dataset` of a partitioned dataset",
            type_name=type_name,
        )
        takes = parameters_of(cls)
        if self._credentials and "credentials" in takes.allowed:
            config.setdefault("credentials", self._credentials)
        if "allow_outside_project" in takes.allowed:
            config.setdefault("allow_outside_project", self._allow_outside_project)
        if takes.project_root:
            config["project_root"] = self._project_root
        return cls, config

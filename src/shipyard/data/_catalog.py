"""The data catalog: names to datasets, built from Kedro-style configuration."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from shipyard.data._dataset import AbstractDataset, jsonable
from shipyard.data._entries import EntryInfo, build_dataset, check_entry
from shipyard.data._memory import MemoryDataset
from shipyard.data._patterns import PatternSet, is_pattern
from shipyard.data._versioned import VersionedDataset, Versioning
from shipyard.errors import DatasetError, DatasetNotFoundError, did_you_mean
from shipyard.objects import DataVersion, Digest


class Catalog:
    """Every dataset a project's pipelines read and write, by name.

    Build it from the mapping that ``conf/*/catalog*.yml`` hold (Kedro's format), or add
    datasets in Python. A name no entry provides is created on ``save`` as a
    :class:`MemoryDataset`, so a pipeline's intermediate results need no entry.

    >>> from pathlib import Path
    >>> catalog = Catalog.from_config(
    ...     {"{name}_raw": {"type": "csv", "filepath": "data/01_raw/{name}.csv"}},
    ...     project_root=Path("."),
    ... )
    >>> "cars_raw" in catalog
    True
    >>> catalog.save("scores", [0.9, 0.7])
    >>> catalog.load("scores")
    [0.9, 0.7]

    Loading and saving a dataset that exists is a dict lookup and a method call, with no
    lock: creating datasets (from patterns, or on first save) takes a lock, so threads
    may load and save different names at the same time.
    """

    def __init__(
        self,
        datasets: Mapping[str, AbstractDataset] | None = None,
        *,
        project_root: Path | None = None,
    ) -> None:
        self._datasets: dict[str, AbstractDataset] = {}
        self._entries: dict[str, EntryInfo] = {}
        self._patterns = PatternSet({})
        self._origins: dict[str, str] = {}
        self._credentials: Mapping[str, Any] = {}
        self._versioning: Versioning | None = None
        self._project_root = Path(project_root) if project_root is not None else Path.cwd()
        self._lock = threading.Lock()
        for name, dataset in (datasets or {}).items():
            self.add(name, dataset)

    @classmethod
    def from_config(
        cls,
        catalog: Mapping[str, Mapping[str, Any]],
        *,
        credentials: Mapping[str, Mapping[str, Any]] | None = None,
        project_root: Path,
        origins: Mapping[str, str] | None = None,
        versioning: Versioning | None = None,
    ) -> Catalog:
        """Build a catalog from entries such as ``{"cars": {"type": "csv", "filepath": ...}}``.

        ``credentials`` maps the names entries use to their values; ``origins`` maps an
        entry name to the file that defined it, for error messages. Every entry is checked
        now (type, keys, credentials); no file is touched until data is loaded or saved.
        ``versioning`` is where entries with ``versioned: true`` keep their versions
        (see :class:`Versioning`); without it such an entry is an error.
        """
        instance = cls(project_root=project_root)
        instance._credentials = credentials or {}
        instance._versioning = versioning
        instance._origins = dict(origins or {})
        entries = {name: entry for name, entry in catalog.items() if not name.startswith("_")}
        patterns = {name: entry for name, entry in entries.items() if is_pattern(name)}
        for name, entry in patterns.items():
            if not (isinstance(entry, Mapping) and is_pattern(str(entry.get("type", "")))):
                check_entry(name, entry, origin=instance._origins.get(name))
        instance._patterns = PatternSet(patterns, instance._origins)
        for name, entry in entries.items():
            if not is_pattern(name):
                instance._build(name, entry, origin=instance._origins.get(name))
        if versioning is not None:
            instance._check_load_versions(versioning.load_versions)
        return instance

    def load(self, name: str) -> Any:
        """Load a dataset. Unknown names raise DatasetNotFoundError with a suggestion."""
        dataset = self._datasets.get(name) or self._materialise(name)
        if dataset is None:
            raise self._not_found(name)
        return dataset.load()

    def save(self, name: str, data: Any) -> None:
        """Save to a dataset; a name no entry or pattern provides becomes a MemoryDataset."""
        dataset = self._datasets.get(name) or self._materialise_for_save(name)
        dataset.save(data)

    def exists(self, name: str) -> bool:
        """Whether ``name`` has data to load; False for names the catalog does not know."""
        dataset = self._datasets.get(name) or self._materialise(name)
        return dataset is not None and dataset.exists()

    def release(self, name: str) -> None:
        """Drop what a memory dataset holds; files, tables and unknown names are left alone."""
        dataset = self._datasets.get(name)
        if dataset is not None:
            dataset.release()

    def is_persistent(self, name: str) -> bool:
        """Whether ``name`` outlives the process: False for memory and unknown names."""
        dataset = self._datasets.get(name) or self._materialise(name)
        return dataset is not None and dataset.persistent

    def __contains__(self, name: object) -> bool:
        """Whether ``name`` is registered or matches a pattern (the catch-all included)."""
        return isinstance(name, str) and (
            name in self._datasets or self._patterns.match(name) is not None
        )

    def get(self, name: str) -> AbstractDataset:
        """The dataset registered as ``name``, created from a pattern if need be."""
        dataset = self._datasets.get(name) or self._materialise(name)
        if dataset is None:
            raise self._not_found(name)
        return dataset

    def add(self, name: str, dataset: AbstractDataset, *, replace: bool = False) -> None:
        """Register ``dataset`` as ``name``; an existing name needs ``replace=True``."""
        with self._lock:
            if name in self._datasets and not replace:
                origin = self._entries[name].origin
                raise DatasetError(
                    f"Dataset '{name}' is already in the catalog"
                    + (f" (from {origin})." if origin else "."),
                    hint="Pass replace=True to swap it for the new one, or use another name.",
                )
            dataset.name = name
            self._datasets[name] = dataset
            self._entries[name] = EntryInfo()

    def add_parameters(self, params: Mapping[str, Any]) -> None:
        """Register ``parameters`` (the whole mapping) and ``params:<dotted.key>`` for
        every key at every depth, as memory datasets; earlier parameters are replaced.

        >>> catalog = Catalog()
        >>> catalog.add_parameters({"model": {"C": 1.0}})
        >>> catalog.load("params:model.C")
        1.0
        """
        values = {"parameters": params}
        values.update((f"params:{key}", value) for key, value in _flatten(params))
        with self._lock:
            for name, value in values.items():
                dataset = MemoryDataset(value)
                dataset.name = name
                self._datasets[name] = dataset
                self._entries[name] = EntryInfo(declared_type="memory")

    def list(self, pattern: str | None = None) -> list[str]:
        """Registered names, sorted; ``pattern`` is a regular expression searched in each.

        Names that patterns would provide appear once they have been used; see
        :attr:`patterns` for the patterns themselves.
        """
        names = sorted(self._datasets)
        if pattern is None:
            return names
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise DatasetError(
                f"'{pattern}' is not a valid regular expression: {exc}.",
                hint="Catalog.list() filters names with a regular expression, "
                "e.g. '^raw_' or 'customers'.",
            ) from exc
        return [name for name in names if regex.search(name)]

    @property
    def patterns(self) -> list[str]:
        """The dataset factory patterns, in the order they are tried."""
        return self._patterns.names

    def describe(self, name: str) -> dict[str, Any]:
        """A JSON-able summary of one dataset; credentials appear as their entry name only.

        Keys: name, type, declared_type, origin, pattern, versioned, layer, metadata,
        persistent, credentials, and the dataset's own settings (filepath, load_args, ...).
        """
        dataset = self.get(name)
        info = self._entries.get(name) or EntryInfo()
        described = dataset.describe()
        # The entry's credentials name; "<inline>" for a dataset added with its own.
        credentials = info.credentials or (
            "<inline>" if described.pop("credentials", None) else None
        )
        return {
            "name": name,
            **described,
            "declared_type": info.declared_type,
            "origin": info.origin,
            "pattern": info.pattern,
            "versioned": info.versioned,
            "layer": info.layer,
            "metadata": jsonable(info.metadata),
            "persistent": dataset.persistent,
            "credentials": credentials,
        }

    def version_of(self, name: str) -> DataVersion | None:
        """The version of ``name`` last loaded or saved through this catalog, or None
        (not versioned, or not loaded or saved yet)."""
        dataset = self._datasets.get(name)
        return dataset.last_version if isinstance(dataset, VersionedDataset) else None

    def content_digest(self, name: str) -> Digest | None:
        """A digest of what loading ``name`` would return now, had without loading it:
        a file's or folder's content (unchanged files answered by the stat cache), a
        pinned version's digest, a small plain value's JSON. None for an unknown name or
        data with no cheap digest (see :meth:`AbstractDataset.content_digest`)."""
        dataset = self._datasets.get(name) or self._materialise(name)
        if dataset is None:
            return None
        versioning = self._versioning
        return dataset.content_digest(versioning.stat_cache if versioning is not None else None)

    def versioned_datasets(self) -> list[str]:
        """The names of the versioned datasets, sorted (pattern ones once used)."""
        return sorted(n for n, d in self._datasets.items() if isinstance(d, VersionedDataset))

    def __repr__(self) -> str:
        return f"<Catalog: {len(self._datasets)} datasets, {len(self._patterns)} patterns>"

    def _build(
        self, name: str, entry: Any, *, origin: str | None, pattern: str | None = None
    ) -> AbstractDataset:
        dataset, info = build_dataset(
            name,
            entry,
            credentials=self._credentials,
            project_root=self._project_root,
            origin=origin,
            pattern=pattern,
        )
        if info.versioned:
            dataset = self._versioned(dataset, info)
        self._datasets[name] = dataset
        self._entries[name] = info
        return dataset

    def _versioned(self, dataset: AbstractDataset, info: EntryInfo) -> VersionedDataset:
        where = f" in {info.origin}" if info.origin else ""
        if self._versioning is None:
            raise DatasetError(
                f"Dataset '{dataset.name}'{where} is versioned, but versioned datasets need a "
                "project store and this catalog was built without one.",
                hint="Open the catalog through a project session (`shipyard run`, "
                "Session.open()), or pass versioning=Versioning.open(root / '.shipyard') "
                "to Catalog.from_config; or remove `versioned: true`.",
            )
        return VersionedDataset(
            dataset,
            self._versioning,
            load_version=info.load_version,
            project_root=self._project_root,
        )

    def _check_load_versions(self, load_versions: Mapping[str, str]) -> None:
        for name in load_versions:
            dataset = self._datasets.get(name)
            if isinstance(dataset, VersionedDataset):
                continue
            if dataset is None and self._patterns.match(name) is not None:
                continue  # versioned or not is known once the pattern builds it
            versioned = [n for n, d in self._datasets.items() if isinstance(d, VersionedDataset)]
            problem = "is not in the catalog" if dataset is None else "is not versioned"
            raise DatasetError(
                f"--load-version names dataset '{name}', which {problem}."
                + did_you_mean(name, versioned),
                hint="Pin only datasets with `versioned: true`"
                + (f"; this catalog has: {', '.join(sorted(versioned))}." if versioned else "."),
            )

    def _materialise(self, name: str) -> AbstractDataset | None:
        with self._lock:
            return self._datasets.get(name) or self._from_pattern(name)

    def _materialise_for_save(self, name: str) -> AbstractDataset:
        with self._lock:
            dataset = self._datasets.get(name) or self._from_pattern(name)
            if dataset is None:
                dataset = MemoryDataset()
                dataset.name = name
                self._datasets[name] = dataset
                self._entries[name] = EntryInfo(declared_type="memory")
            return dataset

    def _from_pattern(self, name: str) -> AbstractDataset | None:
        resolved = self._patterns.resolve(name)
        if resolved is None:
            return None
        pattern, entry = resolved
        return self._build(name, entry, origin=self._origins.get(pattern), pattern=pattern)

    def _not_found(self, name: str) -> DatasetNotFoundError:
        hint = DatasetNotFoundError.hint
        if len(self._patterns):
            hint += f" Patterns in this catalog: {', '.join(self._patterns.names)}."
        return DatasetNotFoundError(
            f"Dataset '{name}' is not in the catalog." + did_you_mean(name, self._datasets),
            hint=hint,
        )


def _flatten(params: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in params.items():
        dotted = f"{prefix}{key}"
        yield dotted, value
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{dotted}.")

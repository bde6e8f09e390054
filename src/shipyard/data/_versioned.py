"""Versioned datasets: every save becomes an immutable, content-addressed version.

A :class:`VersionedDataset` wraps a file or partitioned dataset. Saving writes the data
as the wrapped dataset always does, stores the bytes in the project's object store and
records a :class:`~shipyard.objects.DataVersion`. Loading reads the working file (and
records it as a version if it is new), or a pinned version straight from the store.

Between runs, :meth:`VersionedDataset.status` compares the working copy with the recorded
versions (a :class:`WorkingState`), :meth:`~VersionedDataset.checkout` puts a version in
place of the working copy, and :meth:`~VersionedDataset.add` records the working copy.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from shipyard.data._content import folder_digest
from shipyard.data._dataset import AbstractDataset, type_label
from shipyard.data._files import FileDataset
from shipyard.data._partitioned import PartitionedDataset
from shipyard.data._paths import TEMP_SUFFIX, replace_folder
from shipyard.errors import DatasetError, ObjectNotFoundError, VersionNotFoundError
from shipyard.objects import (
    DataVersion,
    Digest,
    ObjectStore,
    StatCache,
    Tree,
    VersionIndex,
    hash_file,
)

RunIdProvider = Callable[[], str | None]
# Working copies are the user's files: a notebook may write into one in place (pandas
# does), and as root, 0o444 does not stop it. A hardlink would carry that write into the
# stored version, so working copies are reflinks or copies, never hardlinks.
_LINK_WORKING_COPIES = False
State = Literal["unchanged", "modified", "new", "missing", "empty"]


@dataclass(frozen=True, slots=True)
class Versioning:
    """Where versioned datasets keep their versions, and which versions to load.

    ``load_versions`` maps a dataset name to a version id, id prefix or tag (the CLI's
    ``--load-version``); it beats an entry's ``load_version``. ``run_id_provider`` returns
    the id of the run in progress, recorded with each version. ``checkouts`` holds
    versions read from a remote store and folders checked out for pinned loads.

    >>> versioning = Versioning.open(Path(".shipyard"), load_versions={"customers": "q3"})
    ... # doctest: +SKIP
    """

    store: ObjectStore
    index: VersionIndex
    stat_cache: StatCache | None = None
    load_versions: Mapping[str, str] = field(default_factory=dict)
    run_id_provider: RunIdProvider | None = None
    checkouts: Path | None = None

    @classmethod
    def open(
        cls,
        folder: str | os.PathLike[str],
        *,
        load_versions: Mapping[str, str] | None = None,
        run_id_provider: RunIdProvider | None = None,
        verify_on_read: bool = False,
    ) -> Versioning:
        """The project's own versioning in ``folder`` (its ``.shipyard``): objects in
        ``objects/``, the index in ``versions.db``, the stat cache in ``stat.db``."""
        folder = Path(folder)
        return cls(
            store=ObjectStore(folder / "objects", verify_on_read=verify_on_read),
            index=VersionIndex(folder / "versions.db"),
            stat_cache=StatCache(folder / "stat.db"),
            load_versions=dict(load_versions or {}),
            run_id_provider=run_id_provider,
            checkouts=folder / "checkouts",
        )


def parse_load_versions(specs: str | Iterable[str]) -> dict[str, str]:
    """``"a=ref,b=ref"`` (or several such strings) as ``{"a": "ref", "b": "ref"}``.

    >>> parse_load_versions(["customers=01jd6w3c", "model=q3-audit"])
    {'customers': '01jd6w3c', 'model': 'q3-audit'}
    """
    pairs: dict[str, str] = {}
    for spec in [specs] if isinstance(specs, str) else specs:
        for item in filter(None, (part.strip() for part in spec.split(","))):
            name, sep, ref = (text.strip() for text in item.rpartition("="))
            if not sep or not name or not ref:
                raise DatasetError(
                    f"--load-version '{item}' is not DATASET=VERSION.",
                    hint="Write --load-version customers=<version id or tag>; separate "
                    "several with commas.",
                )
            pairs[name] = ref
    return pairs


@dataclass(frozen=True, slots=True)
class WorkingState:
    """How a versioned dataset's working copy compares with its recorded versions.

    ``state`` is one of:

    - ``unchanged``: the working copy holds the latest version;
    - ``modified``: it holds something else (``matches`` says if that is an older version);
    - ``new``: it exists but no version is recorded yet;
    - ``missing``: a version is recorded but the working copy is absent;
    - ``empty``: neither exists.

    ``digest`` is the working copy's digest (None when it is missing), ``latest`` the
    newest version, ``matches`` the newest recorded version holding exactly the working
    copy's content (``latest`` itself when unchanged, an older one, or None).

    >>> catalog.get("customers").status().state           # doctest: +SKIP
    'modified'
    """

    dataset: str
    path: str
    state: State
    digest: Digest | None
    latest: DataVersion | None
    matches: DataVersion | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types: digests as ``blake3:<hex>``, versions as their ``to_dict``."""
        return {
            "dataset": self.dataset,
            "path": self.path,
            "state": self.state,
            "digest": str(self.digest) if self.digest is not None else None,
            "latest": self.latest.to_dict() if self.latest is not None else None,
            "matches": self.matches.to_dict() if self.matches is not None else None,
        }


class VersionedDataset(AbstractDataset):
    """A file or partitioned dataset whose saves are kept as versions (``versioned: true``).

    The working file (or folder) at the entry's path is always the latest data of the
    workspace; versions live in the object store and are never changed.
    """

    def __init__(
        self,
        dataset: FileDataset | PartitionedDataset,
        versioning: Versioning,
        *,
        load_version: str | None = None,
        project_root: Path | None = None,
    ) -> None:
        if not isinstance(dataset, FileDataset | PartitionedDataset):
            raise DatasetError(
                f"Dataset '{dataset.name}' of type '{type_label(type(dataset))}' cannot be "
                "versioned: only file and partitioned datasets can.",
                hint="Remove `versioned: true` from its catalog entry.",
            )
        self._dataset = dataset
        self._versioning = versioning
        self._load_version = load_version
        self._kind: Literal["file", "tree"] = "tree" if dataset.stores_folder else "file"
        root = Path(project_root) if project_root is not None else Path.cwd()
        self._checkouts = versioning.checkouts or root / ".shipyard" / "checkouts"
        #: The version this dataset last loaded or saved, or None.
        self.last_version: DataVersion | None = None

    @property  # type: ignore[override]
    def name(self) -> str:
        """The catalog name; versions are recorded under it."""
        return self._dataset.name

    @name.setter
    def name(self, value: str) -> None:
        self._dataset.name = value

    @property
    def wrapped(self) -> FileDataset | PartitionedDataset:
        """The dataset whose saves this one versions."""
        return self._dataset

    @property
    def pinned(self) -> str | None:
        """The version ref loads read: ``--load-version``, else the entry's ``load_version``."""
        return self._versioning.load_versions.get(self.name) or self._load_version

    def describe(self) -> dict[str, Any]:
        latest = self._versioning.index.latest(self.name)
        return {
            **self._dataset.describe(),
            "versioned": True,
            "load_version": self.pinned,
            "latest_version": latest.id if latest else None,
        }

    def _describe(self) -> dict[str, Any]:
        return self.describe()

    def _target(self) -> str:
        return self._dataset._target()

    def _release(self) -> None:
        self._dataset.release()

    def _exists(self) -> bool:
        if self.pinned is not None:
            return True
        return self._working().exists() or self._versioning.index.latest(self.name) is not None

    # --- saving --------------------------------------------------------------------

    def _save(self, data: Any) -> None:
        working = self._working()
        if self._kind == "tree":
            # A folder dataset writes its folder itself (partitions may add to what is
            # there; a model package replaces it whole), then the folder is stored.
            self._dataset.save(data)
            version = self._record(self._put_tree(working, written=True))
        else:
            version = self._save_file(data, working)
        self.last_version = version

    def _save_file(self, data: Any, working: Path) -> DataVersion:
        # The data goes to a private temp file that is stored, then moved into place, so a
        # concurrent save of the same dataset cannot swap the bytes under this version.
        working.parent.mkdir(parents=True, exist_ok=True)
        temp = working.with_name(f".{working.name}.{uuid.uuid4().hex[:12]}{TEMP_SUFFIX}")
        try:
            twin = self._dataset.with_path(temp)
            twin.name = self.name
            try:
                twin.save(data)
            except DatasetError as exc:
                if type(exc) is not DatasetError:
                    raise
                # Name the dataset's own path, not the temporary file.
                message = exc.message.replace(str(temp), self._dataset._target())
                raise DatasetError(message, hint=exc.hint) from exc
            st = temp.stat()
            digest = hash_file(temp)
            info = self._versioning.store.put_hashed_file(temp, digest, st)
            temp.replace(working)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        if self._versioning.stat_cache is not None:
            # We wrote those bytes under a private name; the rename keeps the stat.
            self._versioning.stat_cache.record(working, st, digest, written=True)
        return self._record((digest, info.size))

    # --- loading -------------------------------------------------------------------

    def _load(self) -> Any:
        ref = self.pinned
        if ref is not None:
            version = self._versioning.index.resolve(self.name, ref)
            reader = self._dataset.with_path(self._readable(version))
            reader.name = self.name
            data = reader.load()
        else:
            version = self._snapshot_working()
            data = self._dataset.load()
        self.last_version = version
        return data

    def restore_working_copy(self) -> DataVersion | None:
        """Put the latest version in place of a missing working copy; return it, or None
        when the working copy exists or no version is recorded."""
        latest = self._versioning.index.latest(self.name)
        if latest is None:
            return None
        working = self._working()
        if working.exists():
            return None
        self._require_object(latest)
        store = self._versioning.store
        if latest.kind == "tree":
            store.checkout_tree(latest.digest, working, link=_LINK_WORKING_COPIES)
        else:
            store.get_file(latest.digest, working, link=_LINK_WORKING_COPIES)
            if self._versioning.stat_cache is not None:
                self._versioning.stat_cache.put(working, latest.digest)
        return latest

    def _snapshot_working(self) -> DataVersion | None:
        """Record the working data as a version (or find it recorded); restore the latest
        version when the working copy is missing."""
        version = self.add()
        # None here: no version either, and the wrapped dataset's load reports the missing file
        return version if version is not None else self.restore_working_copy()

    # --- the working copy against the versions --------------------------------------

    def content_digest(self, stat_cache: StatCache | None = None) -> Digest | None:
        """The digest of what a load reads: the pinned version, else the working copy,
        else (no working copy) the latest version. The dataset's own stat cache is used."""
        ref = self.pinned
        if ref is not None:
            return self._versioning.index.resolve(self.name, ref).digest
        digest = self.working_digest()
        if digest is None:
            latest = self._versioning.index.latest(self.name)
            return latest.digest if latest is not None else None
        return digest

    def working_digest(self) -> Digest | None:
        """The digest of the working copy (for a folder: of its tree manifest), or None
        when it is missing. Unchanged files are answered by the stat cache, not hashed;
        nothing is stored.

        >>> catalog.get("customers").working_digest()         # doctest: +SKIP
        Digest(hex='ea8f163d...')
        """
        working = self._working()
        if not working.exists():
            return None
        if self._kind == "tree":
            return folder_digest(working, self._versioning.stat_cache)
        return self._file_digest(working)[0]

    def status(self) -> WorkingState:
        """Compare the working copy with the latest and every older version."""
        index = self._versioning.index
        latest = index.latest(self.name)
        digest = self.working_digest()
        if digest is None:
            matches = None
            state: State = "missing" if latest is not None else "empty"
        elif latest is None:
            matches, state = None, "new"
        elif digest == latest.digest:
            matches, state = latest, "unchanged"
        else:
            matches, state = index.find(self.name, digest), "modified"
        return WorkingState(self.name, self._target(), state, digest, latest, matches)

    def checkout(self, ref: str | DataVersion | None = None, *, force: bool = False) -> DataVersion:
        """Make the working copy hold version ``ref`` (default: the latest; a string is an
        id, unique id prefix, tag or ``latest``) and return that version. Nothing happens
        when it already does. A working copy whose content is not recorded as any version
        would be lost, so it is refused unless ``force``. A folder ends up exactly as the
        version (files it lacks are removed); it is built beside the working folder and
        swapped in, so a half-written folder is never in place. No version is recorded.

        >>> catalog.get("customers").checkout("q3-audit")      # doctest: +SKIP
        """
        index = self._versioning.index
        version = self._checkout_target(ref)
        working = self._working()
        current = self.working_digest()
        if current == version.digest:
            return version
        if not force and current is not None and index.find(self.name, current) is None:
            raise DatasetError(
                f"The working copy of dataset '{self.name}' at {self._target()} holds "
                f"changes that are not recorded as a version; checking out {version.id} "
                "would lose them.",
                hint=f"Record them first with `shipyard data add {self.name}`, or throw "
                "them away with `--force` (checkout(..., force=True)).",
            )
        self._require_object(version)
        if version.kind == "tree":
            self._checkout_folder(version, working)
        else:
            self._versioning.store.get_file(version.digest, working, link=_LINK_WORKING_COPIES)
            if self._versioning.stat_cache is not None:
                self._versioning.stat_cache.put(working, version.digest)
        return version

    def add(self) -> DataVersion | None:
        """Record the working copy as a version (the latest one when it holds the same
        content) and return it; None when the working copy is missing.

        >>> catalog.get("customers").add().id                 # doctest: +SKIP
        '01jd6w3c5rk0b8x3z5m2n7q4tv'
        """
        working = self._working()
        if not working.exists():
            return None
        version = self._record(self._put_working(working))
        self.last_version = version
        return version

    def _checkout_target(self, ref: str | DataVersion | None) -> DataVersion:
        index = self._versioning.index
        if isinstance(ref, DataVersion):
            if ref.dataset != self.name:
                raise DatasetError(
                    f"Version {ref.id} belongs to dataset '{ref.dataset}', not '{self.name}'.",
                    hint=f"Pass a version of '{self.name}' (`shipyard data versions {self.name}`).",
                )
            return ref
        if ref is not None:
            return index.resolve(self.name, ref)
        latest = index.latest(self.name)
        if latest is None:
            raise VersionNotFoundError(
                f"Dataset '{self.name}' has no recorded version to check out.",
                hint=f"Record its working copy with `shipyard data add {self.name}`, or run "
                "the pipeline that saves it.",
            )
        return latest

    def _checkout_folder(self, version: DataVersion, working: Path) -> None:
        """Check ``version`` out into a hidden sibling folder, then swap it in."""
        store = self._versioning.store

        def check_out(fresh: Path) -> Tree:
            fresh.mkdir()
            return store.checkout_tree(version.digest, fresh, link=_LINK_WORKING_COPIES)

        tree = replace_folder(working, check_out)
        if self._versioning.stat_cache is not None:
            self._versioning.stat_cache.record_many(
                ((str(working / rel), (working / rel).stat(), entry.digest)
                 for rel, entry in tree.entries.items()),
                written=True,
            )  # fmt: skip

    def _readable(self, version: DataVersion) -> Path:
        """A local path holding ``version``, without touching the working copy."""
        self._require_object(version)
        store = self._versioning.store
        local = store.local_path(version.digest)
        if version.kind == "file" and local is not None:
            if store.verify_on_read:
                store.check(version.digest)
            return local
        target = self._checkouts / version.digest.hex
        if version.kind == "tree":
            return store.checkout_tree_once(version.digest, target)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            store.get_file(version.digest, target)
        return target

    # --- helpers -------------------------------------------------------------------

    def _working(self) -> Path:
        location = self._dataset.location
        if not location.is_local:
            raise DatasetError(
                f"Dataset {self._label()} at {location.url} is versioned, but only local "
                "files and folders can be versioned for now.",
                hint="Keep versioned data under the project's data/ folder.",
            )
        return Path(location.path)

    def _put_working(self, working: Path) -> tuple[Digest, int]:
        if self._kind == "tree":
            return self._put_tree(working)
        digest, st = self._file_digest(working)
        self._versioning.store.put_hashed_file(working, digest, st)
        return digest, st.st_size

    def _file_digest(self, working: Path) -> tuple[Digest, os.stat_result]:
        """The working file's digest through the stat cache, and its stat from before
        hashing (a write meanwhile changes mtime, so the cache misses next time)."""
        cache = self._versioning.stat_cache
        if cache is not None:
            return cache.hash_with_stat(working)
        st = working.stat()
        return hash_file(working), st

    def _put_tree(self, folder: Path, *, written: bool = False) -> tuple[Digest, int]:
        store = self._versioning.store
        info = store.put_tree(folder, stat_cache=self._versioning.stat_cache, written=written)
        return info.digest, store.read_tree(info.digest).size

    def _record(self, stored: tuple[Digest, int]) -> DataVersion:
        digest, size = stored
        provider = self._versioning.run_id_provider
        run_id = provider() if provider is not None else None
        return self._versioning.index.record(self.name, digest, size, self._kind, run_id=run_id)

    def _require_object(self, version: DataVersion) -> None:
        store = self._versioning.store
        if not store.exists(version.digest):
            raise ObjectNotFoundError(
                f"Version {version.id} of dataset '{self.name}' ({version.digest}) is not in "
                f"the object store at {store.url}.",
                hint="Fetch it from a remote with `shipyard data pull`, or load another "
                f"version (`shipyard data versions {self.name}`).",
            )

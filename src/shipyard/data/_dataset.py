"""The dataset interface, and the one place where a dataset's own errors become DatasetError."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, ClassVar

from shipyard.data._credentials import redact, secret_values
from shipyard.errors import DatasetError, ShipyardError

if TYPE_CHECKING:
    from shipyard.objects import Digest, StatCache

_MAX_CAUSE = 1000
_ACTIONS = {
    "load": "load dataset {label} from {target}",
    "save": "save dataset {label} to {target}",
    "exists": "check whether dataset {label} exists at {target}",
    "release": "release dataset {label} ({target})",
}


class AbstractDataset(abc.ABC):
    """One named piece of data the catalog can load and save.

    Subclasses implement ``_load``, ``_save``, ``_exists`` and ``_describe``; the public
    methods wrap them, so any exception a dataset's own code raises reaches the user as a
    :class:`~shipyard.errors.DatasetError` that names the dataset, where it lives and the
    cause (chained with ``from``). Keep credentials in ``self._credentials``: their values
    are then masked in ``repr``, ``describe()`` and every error message.

    >>> class Greeting(AbstractDataset):
    ...     def __init__(self, text: str = "hello") -> None:
    ...         self._text = text
    ...     def _load(self):
    ...         return self._text
    ...     def _save(self, data):
    ...         self._text = data
    ...     def _exists(self):
    ...         return True
    ...     def _describe(self):
    ...         return {"text": self._text}
    >>> greeting = Greeting()
    >>> greeting.save("bonjour")
    >>> greeting.load()
    'bonjour'
    """

    #: The catalog name; the catalog sets it when the dataset is registered.
    name: str = ""
    #: False for datasets whose data lives only as long as the process (memory).
    persistent: ClassVar[bool] = True
    #: True for datasets kept as a folder (partitions, model packages): versioned, they
    #: are stored as a tree of files instead of one file.
    stores_folder: ClassVar[bool] = False
    # Built-in types set their short catalog name; other classes show their dotted path.
    _type_name: ClassVar[str | None] = None
    _credentials: Mapping[str, Any] | None = None

    def load(self) -> Any:
        """Load the data. Errors from the dataset's code become DatasetError."""
        try:
            return self._load()
        except ShipyardError:
            raise
        except Exception as exc:
            raise self._failure("load", exc) from exc

    def save(self, data: Any) -> None:
        """Save ``data``. Errors from the dataset's code become DatasetError."""
        try:
            self._save(data)
        except ShipyardError:
            raise
        except Exception as exc:
            raise self._failure("save", exc) from exc

    def exists(self) -> bool:
        """Whether there is data to load."""
        try:
            return bool(self._exists())
        except ShipyardError:
            raise
        except Exception as exc:
            raise self._failure("exists", exc) from exc

    def release(self) -> None:
        """Free what the dataset holds in memory; files and tables stay where they are."""
        try:
            self._release()
        except ShipyardError:
            raise
        except Exception as exc:
            raise self._failure("release", exc) from exc

    def content_digest(self, stat_cache: StatCache | None = None) -> Digest | None:
        """A digest of the data a load would return now, when it can be had without
        loading (a local file's bytes, a local folder's tree, a small plain value), else
        None. ``stat_cache`` spares re-hashing unchanged files. The node cache
        fingerprints inputs with it; the default is None: no cheap digest."""
        return None

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary: type, location, arguments; credentials as key names only."""
        info: dict[str, Any] = {"type": type_label(type(self)), **self._describe()}
        if self._credentials:
            info["credentials"] = sorted(str(key) for key in self._credentials)
        return jsonable(info, secret_values(self._credentials))

    def __repr__(self) -> str:
        text = f"<{type(self).__name__} {self._label()} at {self._target()}>"
        return redact(text, secret_values(self._credentials))

    @abc.abstractmethod
    def _load(self) -> Any:
        """Read the data and return it."""

    @abc.abstractmethod
    def _save(self, data: Any) -> None:
        """Write ``data``."""

    @abc.abstractmethod
    def _exists(self) -> bool:
        """Whether there is data to load."""

    @abc.abstractmethod
    def _describe(self) -> dict[str, Any]:
        """The dataset's own settings, for describe()."""

    def _release(self) -> None:  # noqa: B027 - optional hook; most datasets hold nothing
        """Free memory; nothing to do for most datasets."""

    def _target(self) -> str:
        """Where the data lives, as error messages show it (a path, a table, memory)."""
        return type_label(type(self))

    def _label(self) -> str:
        return f"'{self.name}'" if self.name else f"<unnamed {type(self).__name__}>"

    def _failure(self, action: str, exc: Exception) -> DatasetError:
        what = _ACTIONS[action].format(label=self._label(), target=self._target())
        cause = redact(f"{type(exc).__name__}: {exc}", secret_values(self._credentials))
        if len(cause) > _MAX_CAUSE:  # drivers can echo whole batches of rows
            cause = cause[:_MAX_CAUSE] + " ... (cut short; --debug shows all of it)"
        message = redact(f"Failed to {what}: {cause}", secret_values(self._credentials))
        return DatasetError(message, hint=_hint_for(action, exc))


def type_label(cls: type) -> str:
    """The catalog type of a dataset class: its short name, or its dotted path."""
    return cls.__dict__.get("_type_name") or f"{cls.__module__}.{cls.__qualname__}"


def jsonable(value: Any, secrets: tuple[str, ...] = ()) -> Any:
    """``value`` as plain JSON types; strings pass through :func:`redact`."""
    if isinstance(value, str):
        return redact(value, secrets) if secrets else value
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(key): jsonable(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item, secrets) for item in value]
    if isinstance(value, PurePath):
        return jsonable(str(value), secrets)
    return jsonable(repr(value), secrets)


def _hint_for(action: str, exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError) and action != "save":
        return (
            "Nothing is stored there yet: run the node that writes this dataset first, "
            "or fix the path in its catalog entry."
        )
    if isinstance(exc, PermissionError):
        return "Check that you may read and write that location (file permissions, credentials)."
    if action == "save":
        return (
            "Check that the data suits the dataset type and that its save_args are valid; "
            "run with --debug for the full traceback."
        )
    return (
        "Check that the stored data suits the dataset type and that its load_args are valid; "
        "run with --debug for the full traceback."
    )

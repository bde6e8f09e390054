"""Any Python object in a pickle file, loaded only when the entry says it is trusted."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from shipyard.data._files import FileDataset
from shipyard.errors import DatasetError, UnsafeDataError, did_you_mean

# Each backend is a module with pickle's load(file) and dump(obj, file) functions.
_BACKENDS = ("pickle", "joblib", "cloudpickle")


class PickleDataset(FileDataset):
    """A pickled object (``type: pickle``). Saving always works; loading needs
    ``trusted: true``, because unpickling runs code from the file.

    ``backend`` is ``pickle`` (default), ``joblib`` or ``cloudpickle``; ``load_args`` and
    ``save_args`` go to its ``load`` and ``dump``.

    >>> model = PickleDataset("data/06_models/model.pkl", trusted=True)
    """

    _type_name = "pickle"

    def __init__(
        self,
        filepath: str,
        *,
        backend: str = "pickle",
        trusted: bool = False,
        load_args: Mapping[str, Any] | None = None,
        save_args: Mapping[str, Any] | None = None,
        credentials: Mapping[str, Any] | None = None,
        fs_args: Mapping[str, Any] | None = None,
        allow_outside_project: bool = False,
        project_root: str | Path | None = None,
    ) -> None:
        if backend not in _BACKENDS:
            raise DatasetError(
                f"Unknown pickle backend '{backend}'." + did_you_mean(backend, _BACKENDS),
                hint=f"Set `backend` to one of: {', '.join(_BACKENDS)}.",
            )
        super().__init__(
            filepath,
            load_args=load_args,
            save_args=save_args,
            credentials=credentials,
            fs_args=fs_args,
            allow_outside_project=allow_outside_project,
            project_root=project_root,
        )
        self._backend = backend
        self._trusted = trusted is True

    def _load(self) -> Any:
        if not self._trusted:
            raise UnsafeDataError(
                f"Dataset {self._label()} ({self._filepath}) is a pickle that is not marked "
                "trusted; loading it would run code stored in the file.",
                hint=(
                    f"If you (or your own pipeline) wrote this file, add `trusted: true` to "
                    f"the catalog entry {self._label()}. Otherwise do not load it: save the "
                    "data as parquet, csv or json instead."
                ),
            )
        backend = self._import_backend()
        with self.location.open_read() as handle:
            return backend.load(handle, **self._load_args)

    def _save(self, data: Any) -> None:
        backend = self._import_backend()
        with self.location.open_write() as handle:
            backend.dump(data, handle, **self._save_args)

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), "backend": self._backend, "trusted": self._trusted}

    def _import_backend(self) -> ModuleType:
        try:
            return importlib.import_module(self._backend)
        except ImportError as exc:
            raise DatasetError(
                f"Dataset {self._label()} uses the pickle backend '{self._backend}', "
                "which is not installed.",
                hint=f"pip install {self._backend}, or set `backend: pickle`.",
            ) from exc

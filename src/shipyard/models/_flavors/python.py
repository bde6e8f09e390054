"""The ``python`` flavor: any object with ``predict``, stored with cloudpickle.

The one flavor whose files carry code: loading it runs whatever the pickle names, so it
loads only when the caller passes ``trusted=True`` or a governance officer marked the
registry version trusted.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shipyard.errors import UnsafeModelError
from shipyard.models._flavors._base import detail_file, require

__all__ = ["PythonFlavor"]

_FILE = "model.pkl"


class PythonFlavor:
    """Any Python object with ``predict`` (and ``predict_proba``), pickled by cloudpickle."""

    name = "python"
    carries_code = True

    def handles(self, model: object) -> bool:
        return callable(getattr(model, "predict", None))

    def save(self, model: object, folder: Path) -> dict[str, Any]:
        cloudpickle = require("cloudpickle")
        with (folder / _FILE).open("wb") as handle:
            cloudpickle.dump(model, handle)
        return {"file": _FILE}

    def load(self, folder: Path, details: Mapping[str, Any], *, trusted: bool) -> object:
        path = detail_file(folder, details)
        if not trusted:
            raise UnsafeModelError(
                f"The model at {folder.parent} is a python-flavor package: {path.name} is a "
                "cloudpickle file, and loading it runs code stored in the file. It was not "
                "loaded because it is not trusted.",
                hint="If you made this package yourself, load it with trusted=True "
                "(`--trusted`); for a registered version, a governance officer can mark "
                "it trusted.",
            )
        import pickle  # cloudpickle files are read by pickle itself

        require("cloudpickle")  # what the file's functions refer to
        with path.open("rb") as handle:
            return pickle.load(handle)

    def library_version(self) -> str:
        return require("cloudpickle").__version__

    def requirements(self) -> list[str]:
        return ["cloudpickle"]

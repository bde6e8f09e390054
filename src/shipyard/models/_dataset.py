"""The ``model`` catalog type: a model package folder, written whole and loaded verified.

.. code-block:: yaml

    model:
      type: model
      filepath: data/06_models/churn
      versioned: true
      register: churn        # every saved version is registered as a version of `churn`

A node returns ``shipyard.models.package(model, example=X)``, or a bare model (packaged
without an example, so without a signature). Inside a tracked pipeline run the package
records the run id and the versions of the data the run had read or written by then.
Loading verifies every file's digest before anything is deserialised; a package of the
``python`` flavor (cloudpickle) loads only with ``trusted: true``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.data import FileDataset
from shipyard.data._content import folder_digest
from shipyard.data._paths import replace_folder
from shipyard.models._names import normalize_model_name
from shipyard.objects import Digest, StatCache

if TYPE_CHECKING:
    from shipyard.models._package import LoadedModel, ModelPackage

__all__ = ["ModelDataset"]


class ModelDataset(FileDataset):
    """A model package kept as a folder (``type: model``).

    ``register`` names the registered model every saved version becomes a version of
    (the dataset must be versioned); ``trusted`` allows loading code-carrying packages.
    """

    _type_name = "model"
    stores_folder = True

    def __init__(
        self,
        filepath: str,
        *,
        register: str | None = None,
        trusted: bool = False,
        credentials: Mapping[str, Any] | None = None,
        fs_args: Mapping[str, Any] | None = None,
        allow_outside_project: bool = False,
        project_root: str | Path | None = None,
    ) -> None:
        # The catalog passes project_root and credentials only to parameters it sees.
        super().__init__(
            filepath,
            credentials=credentials,
            fs_args=fs_args,
            allow_outside_project=allow_outside_project,
            project_root=project_root,
        )
        self.register = normalize_model_name(register) if register else None
        self._trusted = trusted is True

    def content_digest(self, stat_cache: StatCache | None = None) -> Digest | None:
        location = self.location
        return folder_digest(location.path, stat_cache) if location.is_local else None

    # The package module (manifests, the pickle scanner) is imported on first use: every
    # command builds the catalog, few load or save a model.
    def _load(self) -> LoadedModel:
        from shipyard.models._package import load_package

        return load_package(Path(self.location.path), trusted=self._trusted)

    def _save(self, data: Any) -> None:
        from shipyard.models._package import ModelPackage, package

        built = data if isinstance(data, ModelPackage) else package(data)
        _add_run_lineage(built)
        # The new package replaces the old one whole: a reader sees one or the other.
        replace_folder(Path(self.location.path), built.save)

    def _exists(self) -> bool:
        return (Path(self.location.path) / "shipyard-model.yaml").exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "register": self.register, "trusted": self._trusted}


def _add_run_lineage(built: ModelPackage) -> None:
    """Inside a tracked run: the run id and the data versions the run knows so far."""
    from shipyard.tracking import active_run

    run = active_run()
    if run is None:
        return
    if built.run_id is None:
        built.run_id = run.id
    if not built.training_data:
        built.training_data = run.data_versions()

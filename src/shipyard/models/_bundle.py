"""Model bundles: one registered version with its registry record, servable without the
registry, its metadata store or its project. A Docker image carries one.

::

    <bundle>/deploy.json        the version's record: model, version, digest, run, flavor,
                                aliases, metrics, signature, PII columns, requirements
    <bundle>/model/...          the model package, verified and copied as it is
    <bundle>/conf/serving.yml   the serving configuration (credentials are named, not
                                copied: they come from $SHIPYARD_CREDENTIALS_FILE)

``shipyard serve <bundle>`` loads the package like a registered version (every digest is
verified before anything is deserialised) and answers as ``models:/<model>:<version>``.

>>> info = export_bundle(registry, "churn@champion", Path("build/bundle"))  # doctest: +SKIP
>>> BundleSource(Path("build/bundle")).resolve("churn:4").version  # doctest: +SKIP
4
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from shipyard.__about__ import __version__
from shipyard.errors import MetadataError, ModelError, ModelNotFoundError
from shipyard.metadata._registry_records import ModelVersionRecord
from shipyard.models._package import verify_package
from shipyard.models._uri import ModelRef, parse_model_ref

if TYPE_CHECKING:
    from shipyard.models._registry import ModelRegistry

__all__ = ["BUNDLE_FILE", "BundleInfo", "BundleSource", "export_bundle", "is_bundle"]

BUNDLE_FILE = "deploy.json"
MODEL_FOLDER = "model"
SERVING_FILE = "conf/serving.yml"
FORMAT = "shipyard.bundle"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class BundleInfo:
    """What a bundle holds: the version's identity and what it needs to run."""

    model: str
    version: int
    digest: str
    run_id: str | None
    flavor: str
    requirements: tuple[str, ...]
    python: str
    created_at: str
    git_commit: str | None


def is_bundle(path: str | Path) -> bool:
    """Whether ``path`` is a bundle folder (it holds ``deploy.json``)."""
    return (Path(path) / BUNDLE_FILE).is_file()


def export_bundle(
    registry: ModelRegistry,
    ref: str | ModelRef,
    folder: Path,
    *,
    serving: Mapping[str, Any] | None = None,
    pii: Mapping[str, str] | None = None,
) -> BundleInfo:
    """Write the version ``ref`` resolves to now into ``folder`` (absent or empty) as a
    bundle; the package is verified before and after it is copied."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise ModelError(
            f"Cannot write the bundle into {folder}: it is not empty.",
            hint="Give a new or empty folder.",
        )
    record = registry.resolve(ref)
    source = registry.package_folder(record)
    manifest = verify_package(source)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, folder / MODEL_FOLDER)
    verify_package(folder / MODEL_FOLDER)
    serving_file = folder / SERVING_FILE
    serving_file.parent.mkdir(parents=True, exist_ok=True)
    serving_file.write_text(
        yaml.safe_dump(dict(serving or {}), sort_keys=False, allow_unicode=True), "utf-8"
    )
    info = BundleInfo(
        model=record.model,
        version=record.version,
        digest=record.digest,
        run_id=record.run_id,
        flavor=record.flavor,
        requirements=tuple(manifest.requirements),
        python=manifest.python,
        created_at=record.created_at.isoformat(),
        git_commit=_git_commit(registry, record.run_id),
    )
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **asdict(info),
        "requirements": list(info.requirements),
        "dataset": record.dataset,
        "signature": record.signature,
        "metrics": record.metrics,
        "trusted": record.trusted,
        "description": record.description,
        "created_by": record.created_by,
        "aliases": list(record.aliases),
        "pii": dict(pii if pii is not None else registry.pii),
        "shipyard_version": __version__,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (folder / BUNDLE_FILE).write_text(json.dumps(document, indent=2, default=str), "utf-8")
    return info


def _git_commit(registry: ModelRegistry, run_id: str | None) -> str | None:
    if run_id is None:
        return None
    from shipyard.metadata import runs

    try:
        with registry.store.begin() as conn:
            return runs.get(conn, run_id).git_commit
    except MetadataError:  # the run is in another store: its commit is unknown here
        return None


class BundleSource:
    """A bundle as the source of a model server: answers ``resolve`` and
    ``package_folder`` like a registry that holds this one version."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).resolve()
        self.document = _read(self.folder)
        #: Column -> PII kind, as the project's catalog tagged them at export.
        self.pii: dict[str, str] = dict(self.document.get("pii") or {})

    @property
    def name(self) -> str:
        return str(self.document["model"])

    @property
    def version(self) -> int:
        return int(self.document["version"])

    @property
    def serving_config(self) -> Mapping[str, Any] | None:
        """The bundle's ``conf/serving.yml``, or None when it has none."""
        path = self.folder / SERVING_FILE
        if not path.is_file():
            return None
        return yaml.safe_load(path.read_text("utf-8")) or {}

    def resolve(self, ref: str | ModelRef) -> ModelVersionRecord:
        """The bundle's version, when ``ref`` names it (its model, and its version or
        one of its aliases, or no version at all)."""
        ref = ref if isinstance(ref, ModelRef) else parse_model_ref(ref)
        document = self.document
        matches = ref.name == self.name and (
            (ref.version is None and ref.alias is None)
            or ref.version == self.version
            or ref.alias in document.get("aliases", ())
        )
        if not matches:
            raise ModelNotFoundError(
                f"The bundle at {self.folder} holds {self.name} version {self.version}, not {ref}.",
                hint=f"Serve it as {self.name}:{self.version}.",
            )
        return ModelVersionRecord(
            model=self.name,
            version=self.version,
            digest=document["digest"],
            run_id=document.get("run_id"),
            dataset=document.get("dataset"),
            flavor=document["flavor"],
            signature=document.get("signature"),
            metrics=dict(document.get("metrics") or {}),
            trusted=bool(document.get("trusted", False)),
            description=document.get("description"),
            created_at=datetime.fromisoformat(document["created_at"]),
            created_by=document.get("created_by", ""),
            aliases=tuple(document.get("aliases", ())),
        )

    def package_folder(self, record: ModelVersionRecord) -> Path:
        """The package inside the bundle (verified when it is loaded)."""
        return self.folder / MODEL_FOLDER


def _read(folder: Path) -> dict[str, Any]:
    path = folder / BUNDLE_FILE
    try:
        document = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ModelError(
            f"{folder} is not a model bundle: it has no {BUNDLE_FILE}.",
            hint="Make one with `shipyard deploy docker MODEL --context-only DIR` "
            "(the bundle is DIR/bundle).",
        ) from None
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"The bundle file {path} cannot be read: {exc}",
            hint="Export the bundle again; it is written whole by `shipyard deploy`.",
        ) from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelError(
            f"{path} is not a Shipyard model bundle file.",
            hint="Export the bundle again with `shipyard deploy docker`.",
        )
    if document.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"{path} is a bundle of format version {document.get('format_version')}; this "
            f"Shipyard reads version {FORMAT_VERSION}.",
            hint="Export the bundle with the Shipyard version that serves it.",
        )
    missing = [
        key for key in ("model", "version", "digest", "flavor", "created_at") if key not in document
    ]
    if missing:
        raise ModelError(
            f"{path} lacks {', '.join(missing)}.",
            hint="Export the bundle again with `shipyard deploy docker`.",
        )
    return document

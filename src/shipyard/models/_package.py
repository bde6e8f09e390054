"""Model packages: a folder with the model in its flavor's format, described by a manifest.

::

    <package>/shipyard-model.yaml    the manifest: flavor, signature, requirements, metrics,
                                     lineage, and the blake3 digest of every other file
    <package>/model/...              the flavor's files
    <package>/input_example.json     up to 20 input rows (optional)
    <package>/requirements.txt       pinned requirements
    <package>/reference_profile      the monitoring reference profile (optional)

A package is written whole or not at all (a temporary sibling folder, then a rename).
Loading verifies every digest, refuses files nobody listed, and inspects every file the
flavor does not declare as a pickle for pickles, all before anything is deserialised.

>>> pkg = package(model, example=X.head(), metrics={"auc": 0.91})  # doctest: +SKIP
>>> pkg.save("data/06_models/churn")  # doctest: +SKIP
>>> load_package(Path("data/06_models/churn")).predict(X)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from shipyard.__about__ import __version__
from shipyard.errors import ModelError, ModelIntegrityError, ShipyardError, UnsafeModelError
from shipyard.models._flavors import Flavor, flavor_for, get_flavor
from shipyard.models._flavors._base import predictor_of
from shipyard.models._manifest import (
    FORMAT_VERSION,
    MANIFEST,
    Invalid,
    PackageManifest,
    check_metrics,
    check_training_data,
    read_manifest,
)
from shipyard.models._safety import code_carrying_reason
from shipyard.models._signature import (
    Signature,
    example_from_records,
    example_to_json,
    infer_signature,
)
from shipyard.objects import hash_file

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LoadedModel",
    "ModelPackage",
    "PackageManifest",
    "load_package",
    "package",
    "read_manifest",
    "verify_package",
]

MODEL_FOLDER = "model"
EXAMPLE = "input_example.json"
REQUIREMENTS = "requirements.txt"
PROFILE = "reference_profile"
EXAMPLE_ROWS = 20


@dataclass
class ModelPackage:
    """A model with everything its package will hold, before it is saved.

    Built by :func:`package`; the ``model`` dataset fills in ``run_id`` and
    ``training_data`` inside a tracked run, and monitoring sets ``reference_profile``.
    """

    model: Any
    flavor: Flavor
    signature: Signature | None = None
    example: pd.DataFrame | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    requirements: list[str] = field(default_factory=list)
    run_id: str | None = None
    training_data: list[dict[str, Any]] = field(default_factory=list)
    description: str | None = None
    reference_profile: bytes | None = None

    def save(self, folder: Path) -> PackageManifest:
        """Write the package into ``folder``, which must not exist or be empty. The files
        are written into a temporary sibling folder renamed into place at the end, so a
        failure leaves nothing behind."""
        folder = Path(folder)
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise ModelError(
                f"Cannot save the model package into {folder}: it exists and is not an "
                "empty folder.",
                hint="Save into a new folder; a package is written whole, never over another.",
            )
        folder.parent.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
        try:
            manifest = self._write(temp)
            temp.chmod(0o755)  # mkdtemp's folder is private to its creator
            try:
                temp.rename(folder)  # replaces an empty folder in one step
            except OSError as exc:
                raise ModelError(
                    f"Cannot save the model package into {folder}: {exc.strerror}.",
                    hint="Another process wrote there meanwhile; save into a new folder.",
                ) from exc
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        return manifest

    def _write(self, root: Path) -> PackageManifest:
        (root / MODEL_FOLDER).mkdir()
        details = self.flavor.save(self.model, root / MODEL_FOLDER)
        if self.example is not None:
            example = example_to_json(self.example.head(EXAMPLE_ROWS))
            (root / EXAMPLE).write_text(example, encoding="utf-8")
        requirements = "".join(f"{line}\n" for line in self.requirements)
        (root / REQUIREMENTS).write_text(requirements, encoding="utf-8")
        if self.reference_profile is not None:
            (root / PROFILE).write_bytes(self.reference_profile)
        files, _ = _files_under(root)
        manifest = PackageManifest(
            format_version=FORMAT_VERSION,
            flavor=self.flavor.name,
            flavor_version=self.flavor.library_version(),
            flavor_details=details,
            signature=self.signature.to_dict() if self.signature is not None else None,
            input_example=EXAMPLE if self.example is not None else None,
            python=platform.python_version(),
            requirements=tuple(self.requirements),
            metrics=_given(check_metrics, self.metrics),
            run_id=self.run_id,
            training_data=_given(check_training_data, self.training_data),
            reference_profile=PROFILE if self.reference_profile is not None else None,
            description=self.description,
            created_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
            shipyard_version=__version__,
            has_predict_proba=hasattr(predictor_of(self.flavor, self.model), "predict_proba"),
            files={path: str(hash_file(file)) for path, file in sorted(files.items())},
        )
        try:
            text = yaml.safe_dump(manifest.to_dict(), sort_keys=False, allow_unicode=True)
        except yaml.YAMLError as exc:
            raise ModelError(
                f"The {self.flavor.name} flavor returned details a manifest cannot hold: {exc}",
                hint="A flavor's details must be plain strings, numbers, lists and mappings.",
            ) from exc
        (root / MANIFEST).write_text(text, encoding="utf-8")
        return manifest


def package(
    model: Any,
    *,
    example: pd.DataFrame | None = None,
    metrics: Mapping[str, float] | None = None,
    flavor: str | None = None,
    requirements: list[str] | None = None,
    description: str | None = None,
    reference_profile: bytes | SupportsToBytes | None = None,
) -> ModelPackage:
    """Package ``model`` (return this from a node whose output is a ``model`` dataset).

    ``model`` may also be a :class:`LoadedModel` (a model dataset loaded back): its own
    model is packaged again, in its flavor, e.g. with the metrics measured since. The
    flavor is ``flavor`` or the first built-in that handles the model (``python``
    otherwise). With an ``example``, the signature is inferred from it and from
    ``model.predict(example)``, and up to 20 of its rows are kept. Requirements default to
    the installed versions of what the flavor needs, numpy, pandas and shipyard.
    ``reference_profile`` is what monitoring compares served data with: a profile from
    :func:`shipyard.monitoring.reference_profile` (or its bytes); a repackaged
    LoadedModel keeps its own unless another is given.
    """
    if isinstance(model, LoadedModel):
        flavor = flavor or model.flavor.name
        if reference_profile is None:
            reference_profile = model.reference_profile_bytes()
        model = model.raw
    chosen = get_flavor(flavor) if flavor is not None else flavor_for(model)
    if not chosen.handles(model):
        raise ModelError(
            f"The {chosen.name} flavor does not handle a {type(model).__name__}.",
            hint="Leave out `flavor` to let Shipyard choose, or pass the flavor that fits.",
        )
    signature = None
    if example is not None:
        signature = infer_signature(example, _predictions(predictor_of(chosen, model), example))
    return ModelPackage(
        model=model,
        flavor=chosen,
        signature=signature,
        example=example,
        metrics=dict(_given(check_metrics, metrics or {})),
        requirements=list(requirements) if requirements is not None else _pinned(chosen),
        description=description,
        reference_profile=_profile_bytes(reference_profile),
    )


class SupportsToBytes(Protocol):
    """A value that serialises itself, such as a monitoring profile."""

    def to_bytes(self) -> bytes: ...


def _profile_bytes(profile: bytes | SupportsToBytes | None) -> bytes | None:
    if profile is None or isinstance(profile, bytes):
        return profile
    to_bytes = getattr(profile, "to_bytes", None)
    if not callable(to_bytes):
        raise ModelError(
            f"A reference profile must be bytes or have to_bytes(), not a "
            f"{type(profile).__name__}.",
            hint="Pass shipyard.monitoring.reference_profile(training_inputs, ...).",
        )
    return to_bytes()


def _given(check: Callable[[Any], Any], value: Any) -> Any:
    try:
        return check(value)
    except Invalid as exc:
        raise ModelError(
            f"The model package cannot be made: {exc}.",
            hint="metrics map names to numbers; training_data lists {dataset, version_id, "
            "digest} entries.",
        ) from None


def _predictions(predictor: Any, example: Any) -> Any:
    predict = getattr(predictor, "predict", None)
    if not callable(predict):
        raise ModelError(
            f"A {type(predictor).__name__} has no predict method, so no signature can be "
            "inferred from the example.",
            hint="Package a model with predict(df), or leave out `example`.",
        )
    try:
        return predict(example)
    except Exception as exc:
        raise ModelError(
            f"The model's predict() failed on the input example: {exc}",
            hint="Pass an example the model accepts: a few rows of its training input.",
        ) from exc


def _pinned(flavor: Flavor) -> list[str]:
    """``name==version`` of the flavor's requirements, numpy, pandas and shipyard as
    installed now (a name alone when it is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    pinned = []
    for name in dict.fromkeys([*flavor.requirements(), "numpy", "pandas", "shipyard"]):
        try:
            pinned.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            pinned.append(name)
    return pinned


def _files_under(root: Path) -> tuple[dict[str, Path], list[str]]:
    """Every file under ``root`` but the manifest, by relative POSIX path, and the
    symbolic links (which are never followed)."""
    files: dict[str, Path] = {}
    links: list[str] = []
    for current, folders, names in os.walk(root):
        base = Path(current)
        for name in [*folders, *names]:
            path = base / name
            if path.is_symlink():
                links.append(path.relative_to(root).as_posix())
            elif name in names:
                files[path.relative_to(root).as_posix()] = path
        folders[:] = [name for name in folders if not (base / name).is_symlink()]
    files.pop(MANIFEST, None)
    return files, sorted(links)


def verify_package(folder: Path) -> PackageManifest:
    """The manifest of the package in ``folder``, once every file is known to be the one
    that was written and none would run code when loaded.

    Raises ModelIntegrityError naming each changed, missing, unlisted or linked file, and
    UnsafeModelError naming a file that holds a pickle its flavor does not declare.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    files, links = _files_under(folder)
    problems = [f"{path} is a symbolic link" for path in links]
    for path, digest in manifest.files.items():
        if path not in files:
            problems.append(f"{path} is missing")
        elif str(hash_file(files[path])) != digest:
            problems.append(f"{path} changed after the package was written")
    problems += [
        f"{path} is not listed in the manifest" for path in files if path not in manifest.files
    ]
    for named in (manifest.input_example, manifest.reference_profile):
        if named is not None and named not in manifest.files:
            problems.append(f"{named} is named by the manifest but not listed with a digest")
    if problems:
        raise ModelIntegrityError(
            f"The model package at {folder} was changed after it was written: "
            + "; ".join(sorted(problems))
            + ". Nothing was loaded."
        )
    flavor = get_flavor(manifest.flavor)
    for path in sorted(files):
        if flavor.carries_code and path.startswith(f"{MODEL_FOLDER}/"):
            continue  # declared pickles: the flavor loads them only when trusted
        reason = code_carrying_reason(files[path])
        if reason is not None:
            raise UnsafeModelError(
                f"The model package at {folder} has a file that would run code when loaded: "
                f"{path} {reason}. Shipyard loads pickles only from the model files of a "
                "python-flavor package, and only when trusted; nothing was loaded.",
                hint="Do not load this package. Register the model again from the run that "
                "trained it.",
            )
    return manifest


def load_package(folder: Path, *, trusted: bool = False) -> LoadedModel:
    """The model in the package at ``folder``, after :func:`verify_package`. A flavor
    whose files carry code (``python``) loads only with ``trusted=True``."""
    folder = Path(folder)
    manifest = verify_package(folder)
    flavor = get_flavor(manifest.flavor)
    try:
        raw = flavor.load(folder / MODEL_FOLDER, manifest.flavor_details, trusted=trusted)
    except ShipyardError:
        raise
    except Exception as exc:
        raise ModelError(
            f"The {flavor.name} model in {folder} could not be loaded: {exc}",
            hint=f"The package was written with {manifest.flavor} library version "
            f"{manifest.flavor_version}; install its requirements: "
            f"{', '.join(manifest.requirements)}.",
        ) from exc
    return LoadedModel(manifest, flavor, raw, folder)


class LoadedModel:
    """A loaded package: ``raw`` is the flavor's model; :meth:`predict` checks the data
    against the signature first and passes the columns in the signature's order."""

    def __init__(self, manifest: PackageManifest, flavor: Flavor, raw: Any, folder: Path) -> None:
        self.manifest = manifest
        self.flavor = flavor
        self.raw = raw
        self.folder = folder
        self.signature = Signature.from_dict(manifest.signature) if manifest.signature else None

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self.manifest.metrics)

    def predict(self, df: pd.DataFrame) -> Any:
        """The model's predictions for ``df`` (SignatureError when it does not match)."""
        return self.raw.predict(self._checked(df))

    @property
    def predict_proba(self) -> Callable[[pd.DataFrame], Any]:
        """Class probabilities for a DataFrame, when the model has them; otherwise this
        attribute does not exist (``hasattr(model, "predict_proba")`` is False)."""
        proba = getattr(self.raw, "predict_proba", None)
        if not callable(proba):
            raise AttributeError(f"The {self.flavor.name} model has no predict_proba.")
        return lambda df: proba(self._checked(df))

    def reference_profile_bytes(self) -> bytes | None:
        """The monitoring reference profile kept in the package (verified with the rest
        of the package when it was loaded), or None when it has none."""
        if self.manifest.reference_profile is None:
            return None
        return (self.folder / self.manifest.reference_profile).read_bytes()

    def input_example(self) -> pd.DataFrame | None:
        """The input example kept in the package, with its dtypes restored, or None."""
        if self.manifest.input_example is None:
            return None
        path = self.folder / self.manifest.input_example
        records = json.loads(path.read_text(encoding="utf-8"))
        columns = self.signature.inputs if self.signature is not None else ()
        if not columns:
            import pandas as pd

            return pd.DataFrame.from_records(records)
        return example_from_records(records, columns)

    def _checked(self, df: pd.DataFrame) -> pd.DataFrame:
        if self.signature is None:
            return df
        self.signature.validate(df)
        return df[[column.name for column in self.signature.inputs]]

    def __repr__(self) -> str:
        return f"<LoadedModel {self.flavor.name} from {self.folder}>"

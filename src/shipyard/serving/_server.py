"""The model behind the endpoint: loading it, predicting, and swapping in new versions.

A :class:`ModelServer` serves one reference (``churn@champion``, ``churn:3`` or ``churn``).
The model in use is one :class:`Served` value, replaced by a single assignment: a request
takes the current value once and uses it to the end, so a swap never mixes two versions
in one answer, and a new version is loaded, verified and tried on its input example
beside the old one before it is assigned. A reference by alias or by name alone is
watched: when the alias moves (or a newer version is registered), the new version is
swapped in without a restart. A pinned version (``churn:3``) is never swapped.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from shipyard.data._log_layout import log_root
from shipyard.errors import (
    CredentialsError,
    ModelError,
    ShipyardError,
    did_you_mean,
)
from shipyard.models._names import normalize_model_name
from shipyard.models._package import LoadedModel, load_package
from shipyard.models._uri import ModelRef, parse_model_ref
from shipyard.serving._config import ServingConfig, parse_serving_config

if TYPE_CHECKING:
    import numpy as np

    from shipyard.metadata.registry import ModelVersionRecord
    from shipyard.models._registry import ModelRegistry
    from shipyard.serving._log import FeedbackLog, PredictionLog

__all__ = ["CREDENTIALS_FILE_VARIABLE", "LOG_DIR_VARIABLE", "ModelServer", "Served"]

#: A served bundle's log folder (default: ``<bundle>/logs``).
LOG_DIR_VARIABLE = "SHIPYARD_LOG_DIR"
#: The YAML credentials file of a served bundle (tokens, the PII salt).
CREDENTIALS_FILE_VARIABLE = "SHIPYARD_CREDENTIALS_FILE"

logger = logging.getLogger("shipyard.serving")

#: Flavors whose models take a plain 2-d array as well as a DataFrame.
_MATRIX_FLAVORS = ("sklearn", "xgboost", "lightgbm")
_NUMERIC_DTYPES = ("bool", "int", "uint", "float")


@dataclass(frozen=True)
class Served:
    """One loaded version and how to call it.

    ``predict_matrix`` is set when every input is numeric and the model, given its input
    example as a float array, answers exactly as it does given the DataFrame: then a
    request whose columns are all numbers skips building a DataFrame (about 1 ms less
    per single-row request for a scikit-learn model).
    """

    record: ModelVersionRecord
    model: LoadedModel
    predict_matrix: Callable[[np.ndarray], Any] | None
    loaded_at: datetime

    @property
    def name(self) -> str:
        return self.record.model

    @property
    def version(self) -> int:
        return self.record.version

    @cached_property
    def input_columns(self) -> tuple[tuple[str, str], ...]:
        """The signature's inputs as ``(name, dtype)`` pairs, in order."""
        signature = self.model.signature
        return tuple((c.name, c.dtype) for c in signature.inputs) if signature else ()

    def describe(self) -> dict[str, Any]:
        """What ``GET /v1/models/{name}`` answers: version, signature and lineage."""
        manifest = self.model.manifest
        return {
            "name": self.name,
            "version": self.version,
            "aliases": list(self.record.aliases),
            "flavor": self.record.flavor,
            "digest": self.record.digest,
            "signature": manifest.signature,
            "metrics": dict(manifest.metrics),
            "lineage": {
                "run_id": manifest.run_id,
                "training_data": list(manifest.training_data),
            },
            "created_at": self.record.created_at.isoformat(),
            "loaded_at": self.loaded_at.isoformat(),
        }


class ModelSource(Protocol):
    """Where a server finds its versions: the registry, or a bundle of one version."""

    pii: dict[str, str]

    def resolve(self, ref: str | ModelRef) -> ModelVersionRecord: ...

    def package_folder(self, record: ModelVersionRecord) -> Path: ...


class ModelServer:
    """Serves ``ref`` from ``registry``; ``load()`` before the first request.

    The prediction and feedback logs, when given, are started by :meth:`start_logs` and
    flushed by :meth:`close`.
    """

    def __init__(
        self,
        ref: str | ModelRef,
        registry: ModelRegistry | ModelSource,
        *,
        config: ServingConfig | None = None,
        tokens: frozenset[str] = frozenset(),
        prediction_log: PredictionLog | None = None,
        feedback_log: FeedbackLog | None = None,
    ) -> None:
        self.ref = ref if isinstance(ref, ModelRef) else parse_model_ref(ref)
        self.registry = registry
        self.config = config or ServingConfig()
        self.tokens = tokens
        self.prediction_log = prediction_log
        self.feedback_log = feedback_log
        self.current: Served | None = None
        self.watched = self.ref.version is None
        #: The version whose load failed last, so a broken version is not retried forever.
        self.rejected: int | None = None
        self._swap_lock = threading.Lock()

    @classmethod
    def for_project(
        cls, ref: str, project: str | Path | None = None, *, env: str | None = None
    ) -> ModelServer:
        """A server of ``ref`` in the project at or above ``project``, configured by its
        ``serving.yml``, with its logs where the catalog's entries put them."""
        from shipyard.models import ModelRegistry
        from shipyard.project import Session

        session = Session.open(project, env=env)
        config = parse_serving_config(session.config.get("serving"))
        registry = ModelRegistry.for_session(session)
        credentials = session.config.credentials
        tokens = frozenset(_secret(credentials, name, "token") for name in config.auth_tokens)
        root = session.settings.project_root
        catalog = session.config.catalog
        return cls(
            ref,
            registry,
            config=config,
            tokens=tokens,
            **_logs(
                config,
                log_root(root, catalog, config.prediction_log.dataset),
                log_root(root, catalog, config.feedback_log.dataset),
                registry.pii,
                credentials,
            ),
        )

    @classmethod
    def for_bundle(cls, folder: str | Path) -> ModelServer:
        """A server of the model bundle in ``folder`` (what a Docker image carries): no
        project and no registry. Its logs go to ``$SHIPYARD_LOG_DIR`` (default
        ``<bundle>/logs``); credentials the bundle's serving.yml names come from the YAML
        file ``$SHIPYARD_CREDENTIALS_FILE`` (mounted at run time, never in the image)."""
        from shipyard.models._bundle import BundleSource

        source = BundleSource(folder)
        config = parse_serving_config(source.serving_config)
        credentials = _bundle_credentials()
        tokens = frozenset(_secret(credentials, name, "token") for name in config.auth_tokens)
        logs = Path(os.environ.get(LOG_DIR_VARIABLE) or source.folder / "logs")
        return cls(
            f"{source.name}:{source.version}",
            source,
            config=config,
            tokens=tokens,
            **_logs(config, logs / "predictions", logs / "feedback", source.pii, credentials),
        )

    # --- the model ------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The registered model's name, as requests must spell it in their path."""
        return self.ref.name

    def load(self) -> Served:
        """Resolve the reference and serve what it names now."""
        served = self._load(self.registry.resolve(self.ref))
        self.current = served
        return served

    def check_for_update(self) -> Served | None:
        """If the watched reference names another version now, load it, verify it, try it
        and swap it in; the new :class:`Served`, or None when nothing changed. A version
        that fails to load is logged and skipped; the old one keeps serving."""
        if not self.watched or self.current is None:
            return None
        record = self.registry.resolve(self.ref)
        if record.version in (self.current.version, self.rejected):
            return None
        with self._swap_lock:
            try:
                served = self._load(record)
            except ShipyardError as exc:
                self.rejected = record.version
                logger.error(
                    "Not swapping in %s version %d: %s Still serving version %d.",
                    record.model,
                    record.version,
                    exc.message,
                    self.current.version,
                )
                return None
            previous, self.current = self.current, served
        logger.info(
            "Swapped %s version %d for version %d (%s).",
            served.name,
            previous.version,
            served.version,
            self.ref,
        )
        return served

    def _load(self, record: ModelVersionRecord) -> Served:
        folder = self.registry.package_folder(record)
        model = load_package(folder, trusted=record.trusted)
        predict_matrix = _matrix_predictor(model)
        _try_example(model, record)
        return Served(record, model, predict_matrix, datetime.now(UTC))

    # --- lifecycle ------------------------------------------------------------------

    def start_logs(self) -> None:
        """Start the background writers of the prediction and feedback logs."""
        for log in (self.prediction_log, self.feedback_log):
            if log is not None:
                log.start()

    def close(self) -> None:
        """Flush and stop the logs; what was pending is written before this returns."""
        for log in (self.prediction_log, self.feedback_log):
            if log is not None:
                log.close()


def _matrix_predictor(model: LoadedModel) -> Callable[[np.ndarray], Any] | None:
    """``model.raw.predict`` when it may be given a float array instead of a DataFrame."""
    import numpy as np

    frame = _numeric_example(model)
    if frame is None:
        return None
    matrix = frame.to_numpy(dtype=np.float64)
    if np.isnan(matrix).any():
        return None  # nullable columns: leave missing values to the DataFrame path
    predict = model.raw.predict
    quiet_feature_name_warnings()
    try:
        expected = np.asarray(predict(frame))
        answered = np.asarray(predict(matrix))
    except Exception:
        return None
    if expected.shape != answered.shape or not np.array_equal(expected, answered):
        return None
    return predict


def _numeric_example(model: LoadedModel) -> Any:
    """The input example in signature order, when the flavor takes arrays and every
    input is numeric; otherwise None."""
    signature = model.signature
    if signature is None or model.flavor.name not in _MATRIX_FLAVORS:
        return None
    if not all(column.dtype.startswith(_NUMERIC_DTYPES) for column in signature.inputs):
        return None
    example = model.input_example()
    if example is None or example.empty:
        return None
    return example[[column.name for column in signature.inputs]]


def quiet_feature_name_warnings() -> None:
    """scikit-learn warns on every array given to a model fitted on a DataFrame; the
    server checked the column order against the signature, so the warning says nothing."""
    warnings.filterwarnings(
        "ignore", message="X does not have valid feature names", category=UserWarning
    )


def _try_example(model: LoadedModel, record: ModelVersionRecord) -> None:
    """Predict the package's input example, so a model that cannot answer is never
    swapped in."""
    example = model.input_example()
    if example is None:
        return
    try:
        model.predict(example)
    except Exception as exc:
        raise ModelError(
            f"{record.model} version {record.version} failed on its own input example: {exc}",
            hint="Check the model's requirements against this environment "
            f"({', '.join(model.manifest.requirements)}).",
        ) from exc


def _secret(credentials: Mapping[str, Mapping[str, Any]], name: str, key: str) -> str:
    """``credentials[name][key]``, with an error naming the entry and the key."""
    if name not in credentials:
        raise CredentialsError(
            f"serving.yml names the credentials entry '{name}', which does not exist."
            + did_you_mean(name, list(credentials)),
            hint=f"Add '{name}: {{{key}: ...}}' to conf/local/credentials.yml.",
        )
    value = credentials[name].get(key)
    if not isinstance(value, str) or not value:
        raise CredentialsError(
            f"The credentials entry '{name}' has no '{key}'.",
            hint=f"Write '{name}: {{{key}: ...}}' in conf/local/credentials.yml.",
        )
    return value


def _logs(
    config: ServingConfig,
    predictions: Path,
    feedback: Path,
    pii: Mapping[str, str],
    credentials: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """The prediction and feedback logs ``config`` enables, writing to these folders."""
    from shipyard.serving._log import FeedbackLog, PredictionLog

    logs: dict[str, Any] = {"prediction_log": None, "feedback_log": None}
    if config.prediction_log.enabled:
        salt = (
            _secret(credentials, config.pii.salt_credentials, "salt").encode()
            if config.pii.salt_credentials
            else None
        )
        logs["prediction_log"] = PredictionLog(
            predictions,
            flush_interval_s=config.prediction_log.flush_interval_s,
            sample_rate=config.prediction_log.sample_rate,
            pii=pii,
            pii_mode=config.pii.mode,
            pii_salt=salt,
        )
    if config.feedback_log.enabled:
        logs["feedback_log"] = FeedbackLog(
            feedback, flush_interval_s=config.feedback_log.flush_interval_s
        )
    return logs


def _bundle_credentials() -> Mapping[str, Mapping[str, Any]]:
    """The credentials of a served bundle: the YAML file named by
    ``$SHIPYARD_CREDENTIALS_FILE`` (a mounted secret), or none."""
    path = os.environ.get(CREDENTIALS_FILE_VARIABLE)
    if not path:
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CredentialsError(
            f"${CREDENTIALS_FILE_VARIABLE} names {path}, which cannot be read: {exc}",
            hint="Mount the credentials file (a Kubernetes Secret or a compose secret) "
            "at that path, as YAML: `entry: {token: ...}`.",
        ) from exc
    if not isinstance(data, Mapping) or not all(isinstance(v, Mapping) for v in data.values()):
        raise CredentialsError(
            f"The credentials file {path} must map entry names to mappings of keys.",
            hint="Write it like conf/local/credentials.yml: `api_token: {token: ...}`.",
        )
    return data


def served_name_matches(server: ModelServer, name: str) -> bool:
    """Whether a request's model name names the served model."""
    try:
        return normalize_model_name(name) == server.name
    except ModelError:
        return False

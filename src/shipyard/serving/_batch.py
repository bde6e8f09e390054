"""Batch prediction: score a Parquet or CSV file with a registered model, chunk by chunk.

The input is streamed with pyarrow in chunks of ``chunk_size`` rows. Each chunk is checked
against the model's input signature, predicted, and written to a temp file beside the
output, which replaces the output only when every chunk is done: a failure leaves no half
file, and an older output stays as it was. The output holds the input's columns, one
column per model output, and ``request_id`` (one id per chunk), ``row`` (int32, the
position in the chunk) and ``model_version`` (int32): the keys of the endpoint's
prediction log, so that feedback joins to batch predictions the same way.

Each call is a tracked run named ``predict`` whose lineage reads the model version and
the input file version and writes the output file version.

>>> result = predict_file("models:/churn@champion", Path("new.parquet"), Path("scored.parquet"))
... # doctest: +SKIP
>>> result.rows, result.version  # doctest: +SKIP
(250000, 3)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import DatasetError, ModelError, SignatureError, did_you_mean
from shipyard.ids import new_id
from shipyard.serving._batch_files import Reader, Sink

if TYPE_CHECKING:
    import pyarrow as pa

    from shipyard.metadata import lineage
    from shipyard.metadata.registry import ModelVersionRecord
    from shipyard.models import ModelRegistry, Signature
    from shipyard.objects import Digest
    from shipyard.settings import Settings

__all__ = ["BatchResult", "predict_file"]

SUFFIXES = (".parquet", ".csv")
#: Columns the output adds after the predictions, to join feedback to each prediction.
KEY_COLUMNS = ("request_id", "row", "model_version")
_MODEL_DATASET = "models:/"  # registered versions are versions of dataset models:/NAME


@dataclass(frozen=True)
class BatchResult:
    """What :func:`predict_file` did: rows predicted; ``seconds`` of the prediction pass
    (reading, checking, predicting and writing every row, the output put in place; not
    loading the model) and ``rows_per_s``; the output; the tracked run; the model
    version used."""

    rows: int
    seconds: float
    rows_per_s: float
    output: Path
    run_id: str
    model: str
    version: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (the ``prediction`` object of ``shipyard predict --json``)."""
        return {
            "rows": self.rows,
            "seconds": round(self.seconds, 4),
            "rows_per_s": round(self.rows_per_s, 1),
            "output": str(self.output),
            "run_id": self.run_id,
            "model": self.model,
            "version": self.version,
        }


@dataclass(frozen=True)
class _FileVersion:
    """One version of a file for lineage: the dataset it is a version of, and its id."""

    dataset: str
    version_id: str
    digest: Digest

    def edge(self, run_id: str, direction: str) -> lineage.Edge:
        """The lineage edge of a run that read (``in``) or wrote (``out``) this version."""
        from shipyard.metadata import lineage

        return lineage.Edge(
            run_id, None, self.dataset, self.version_id, str(self.digest), direction
        )


def predict_file(
    model_ref: str,
    input: str | Path,
    output: str | Path,
    *,
    chunk_size: int = 100_000,
    project: str | Path | None = None,
    env: str | None = None,
    progress: bool = True,
) -> BatchResult:
    """Predict every row of ``input`` (a ``.parquet`` or ``.csv`` file, or the name of a
    catalog dataset stored in one) with the registered model ``model_ref``
    (``models:/churn@champion``, ``churn:3``, ...) and write ``output`` (``.parquet`` or
    ``.csv``): the input's columns, the prediction column(s), ``request_id``, ``row``
    and ``model_version``.

    Relative paths are relative to the current folder; the project is the one at or
    above ``project`` (default: the current folder), in configuration environment
    ``env``. Rows are read, checked and predicted ``chunk_size`` at a time; columns that
    are not in the signature are passed through. ``progress`` shows rows done on stderr.

    A chunk that does not match the model's signature raises :class:`SignatureError`
    naming the file, its rows and the columns; nothing is written to ``output`` then.
    """
    from shipyard.models import ModelRegistry
    from shipyard.settings import Settings

    if chunk_size < 1:
        raise DatasetError(
            f"The chunk size must be 1 or more rows, not {chunk_size}.",
            hint="Give --chunk-size N with N >= 1; the default is 100000.",
        )
    settings = Settings.for_project(Path(project) if project is not None else None, env=env)
    source, catalog_name = _input_path(input, settings)
    target = _output_path(Path(output), source)
    registry = ModelRegistry.for_project(settings.project_root, env=settings.env)
    record = registry.resolve(model_ref)
    model = registry.load(f"{record.model}:{record.version}")
    reader = Reader.open(source, chunk_size, model.signature)
    inputs = [
        _model_version(registry, record),
        _input_version(source, catalog_name, settings, registry),
    ]
    return _Job(settings, record, model, reader, target).run(
        model_ref, inputs, chunk_size, progress
    )


class _Job:
    """One prediction pass, tracked as a run: stream, check, predict, write, record."""

    def __init__(
        self,
        settings: Settings,
        record: ModelVersionRecord,
        model: Any,
        reader: Reader,
        target: Path,
    ) -> None:
        self.settings = settings
        self.record = record
        self.model = model
        self.reader = reader
        self.target = target
        self.signature: Signature | None = model.signature
        inputs = self.signature.inputs if self.signature is not None else ()
        # Signature order, repeated names included: problems() names duplicates.
        self.columns = [i for c in inputs for i in reader.schema.get_all_field_indices(c.name)]
        self.output_names: list[str] = []

    def run(
        self,
        model_ref: str,
        inputs: Sequence[_FileVersion],
        chunk_size: int,
        progress: bool,
    ) -> BatchResult:
        from shipyard.metadata import lineage
        from shipyard.tracking._run import create_run, finishing
        from shipyard.tracking._stores import tracking_for

        tracking = tracking_for(self.settings.project_root)
        assert tracking is not None  # a project always has a store
        run = create_run(
            tracking,
            name="predict",
            project_root=self.settings.project_root,
            project=self.settings.package_name,
            env=self.settings.env,
        )
        with finishing(run):
            run.log_params(
                {
                    "model": self.record.model,
                    "model_ref": model_ref,
                    "version": self.record.version,
                    "input": str(self.reader.path),
                    "output": str(self.target),
                    "chunk_size": chunk_size,
                }
            )
            started = time.perf_counter()
            rows = self._stream(progress)
            seconds = time.perf_counter() - started
            written = _file_version(self.target, self.settings, _hashed(self.target, self.settings))
            edges = [*(v.edge(run.id, "in") for v in inputs), written.edge(run.id, "out")]
            with tracking.store.begin() as conn:
                lineage.add(conn, edges)
            rate = rows / seconds if seconds > 0 else float(rows)
            run.log_metrics({"rows": float(rows), "seconds": seconds, "rows_per_s": rate})
        return BatchResult(
            rows, seconds, rate, self.target, run.id, self.record.model, self.record.version
        )

    def _stream(self, show: bool) -> int:
        """Write every chunk's predictions to a temp file, then put it in place."""
        temp = self.target.with_name(f".{self.target.name}.{new_id()}.tmp")
        sink = Sink(temp, parquet=self.target.suffix.lower() == ".parquet")
        done = 0
        try:
            with _Progress(show, self.reader.total_rows, self.target.name) as bar:
                for number, chunk in enumerate(self.reader.chunks(), start=1):
                    sink.write(self._predicted(chunk, number, done))
                    done += chunk.num_rows
                    bar.advance(done)
            if not done:
                raise DatasetError(
                    f"{self.reader.path} holds no rows: there is nothing to predict.",
                    hint="Give a file with at least one row; nothing was written to "
                    f"{self.target}.",
                )
            sink.close()
            temp.replace(self.target)
        finally:
            sink.close()
            temp.unlink(missing_ok=True)
        return done

    def _predicted(self, chunk: pa.RecordBatch, number: int, done: int) -> pa.RecordBatch:
        """``chunk`` with its predictions and key columns, after the signature check."""
        import numpy as np
        import pyarrow as pa

        rows = f"rows {done + 1:,}-{done + chunk.num_rows:,} (chunk {number})"
        frame = (chunk.select(self.columns) if self.signature else chunk).to_pandas(
            split_blocks=True
        )
        if self.signature is not None:
            problems = self.signature.problems(frame)
            if problems:
                raise SignatureError(
                    f"{rows} of {self.reader.path} do not match the input signature of "
                    f"{self._model()}: " + "; ".join(problems) + ".",
                    hint="Fix those columns in the input (names, dtypes, nulls), or use a "
                    f"model version made for this data; `shipyard models show "
                    f"{self.record.model}:{self.record.version}` prints the signature. "
                    f"Nothing was written to {self.target}.",
                )
        try:
            predictions = self.model.raw.predict(frame)
        except Exception as exc:
            raise ModelError(
                f"{self._model()} failed to predict {rows} of {self.reader.path}: "
                f"{type(exc).__name__}: {exc}",
                hint=f"Check those rows of the input. Nothing was written to {self.target}.",
            ) from exc
        size = chunk.num_rows
        added = [
            *self._prediction_arrays(predictions, size),
            pa.repeat(pa.scalar(new_id()), size),
            pa.array(np.arange(size, dtype=np.int32)),
            pa.repeat(pa.scalar(self.record.version, pa.int32()), size),
        ]
        names = [*self.output_names, *KEY_COLUMNS]
        if number == 1:
            self._check_names(chunk.schema.names)
        fields = [pa.field(name, a.type) for name, a in zip(names, added, strict=True)]
        schema = pa.schema([*chunk.schema, *fields], metadata=chunk.schema.metadata)
        return pa.RecordBatch.from_arrays([*chunk.columns, *added], schema=schema)

    def _prediction_arrays(self, predictions: Any, size: int) -> list[pa.Array]:
        """One Arrow array per prediction column, named from the signature's outputs."""
        import numpy as np
        import pandas as pd
        import pyarrow as pa

        if isinstance(predictions, pd.DataFrame):
            names = [str(name) for name in predictions.columns]
            arrays = [pa.Array.from_pandas(predictions.iloc[:, i]) for i in range(len(names))]
        elif isinstance(predictions, pd.Series):
            names, arrays = (
                [str(predictions.name or "prediction")],
                [pa.Array.from_pandas(predictions)],
            )
        else:
            values = np.asarray(predictions)
            if values.ndim == 1:
                names, arrays = ["prediction"], [pa.array(values)]
            elif values.ndim == 2:
                names = [f"prediction_{i}" for i in range(values.shape[1])]
                arrays = [pa.array(values[:, i]) for i in range(values.shape[1])]
            else:
                raise ModelError(
                    f"{self._model()} returned predictions of {values.ndim} dimensions; a "
                    "batch prediction writes 1 or 2.",
                    hint="Use a model whose predict() returns an array, a Series or a DataFrame.",
                )
        if any(len(array) != size for array in arrays):
            raise ModelError(
                f"{self._model()} returned {len(arrays[0])} predictions for {size} rows.",
                hint="A model's predict() must return one prediction per input row.",
            )
        outputs = self.signature.outputs if self.signature is not None else ()
        if outputs and len(outputs) != len(arrays):
            raise ModelError(
                f"{self._model()} returned {len(arrays)} prediction column(s), but its "
                f"signature lists {len(outputs)} output(s): "
                f"{', '.join(c.name for c in outputs)}.",
                hint="Register the model again with an input example that matches what it "
                "predicts (shipyard.models.package(model, example=...)).",
            )
        self.output_names = [c.name for c in outputs] if outputs else names
        return arrays

    def _check_names(self, input_names: Sequence[str]) -> None:
        taken = [name for name in (*self.output_names, *KEY_COLUMNS) if name in input_names]
        if taken:
            raise DatasetError(
                f"{self.reader.path} already has the column(s) {', '.join(taken)}, which "
                "the output adds.",
                hint="Drop or rename those columns in the input (is it an earlier output?). "
                f"Nothing was written to {self.target}.",
            )

    def _model(self) -> str:
        return f"model {self.record.model} version {self.record.version}"


class _Progress:
    """Rows done on stderr: a Rich bar on a terminal, one plain line per chunk otherwise,
    nothing when ``show`` is false."""

    def __init__(self, show: bool, total: int | None, label: str) -> None:
        self._show = show
        self._total = total
        self._label = label
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if self._show and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                TextColumn(f"predicting {self._label}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("rows"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._task = self._bar.add_task("predict", total=self._total)
            self._bar.start()
        return self

    def advance(self, done: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done)
        elif self._show:
            total = f"/{self._total:,}" if self._total is not None else ""
            sys.stderr.write(f"[{done:,}{total}] rows predicted\n")

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


# --- paths and versions ----------------------------------------------------------------


def _input_path(given: str | Path, settings: Settings) -> tuple[Path, str | None]:
    """The input file, and the catalog dataset it belongs to when named by one."""
    path = Path(given).expanduser().resolve()
    if path.exists():
        if path.is_dir():
            raise DatasetError(
                f"The input {path} is a folder; batch prediction reads one file.",
                hint=f"Give one {' or '.join(SUFFIXES)} file.",
            )
        _check_suffix(path, "input")
        return path, None
    name = str(given)
    if Path(name).name != name or Path(name).suffix:  # a path, not a dataset name
        raise DatasetError(
            f"The input file {path} does not exist.",
            hint=f"Check the path (relative paths start at {Path.cwd()}).",
        )
    return _catalog_file(name, settings), name


def _catalog_file(name: str, settings: Settings) -> Path:
    """The local Parquet or CSV file of catalog dataset ``name``."""
    from shipyard.project import Session

    catalog = Session.open(settings.project_root, env=settings.env).catalog
    if name not in catalog:
        raise DatasetError(
            f"The input '{name}' is neither a file nor a dataset of the project's catalog."
            + did_you_mean(name, catalog.list()),
            hint=f"Give the path of a {' or '.join(SUFFIXES)} file or a catalog dataset name "
            "(`shipyard catalog list`).",
        )
    filepath = str(catalog.describe(name).get("filepath") or "")
    if not filepath or "://" in filepath:
        raise DatasetError(
            f"Catalog dataset '{name}' is not a local file ({filepath or 'no filepath'}).",
            hint="Predict from a local .parquet or .csv file, or copy the data into one.",
        )
    path = (settings.project_root / filepath).resolve()
    if not path.is_file():
        raise DatasetError(
            f"The file of catalog dataset '{name}', {path}, does not exist.",
            hint="Run the pipeline that writes it, or `shipyard data pull` to restore it.",
        )
    _check_suffix(path, "input")
    return path


def _output_path(given: Path, source: Path) -> Path:
    path = given.expanduser().resolve()
    _check_suffix(path, "output")
    if path == source or (path.exists() and path.samefile(source)):
        raise DatasetError(
            f"The output {path} is the input file: predicting would overwrite the data being read.",
            hint="Write the predictions to another file, e.g. --output scored.parquet.",
        )
    if not path.parent.is_dir():
        raise DatasetError(
            f"The output folder {path.parent} does not exist.",
            hint=f"Create it first (mkdir -p {path.parent}) or write the output elsewhere.",
        )
    if path.is_dir():
        raise DatasetError(
            f"The output {path} is a folder.", hint="Give the path of a file to write."
        )
    return path


def _check_suffix(path: Path, role: str) -> None:
    if path.suffix.lower() not in SUFFIXES:
        raise DatasetError(
            f"The {role} {path} is not a Parquet or CSV file (suffix '{path.suffix or '(none)'}').",
            hint=f"Batch prediction reads and writes {' and '.join(SUFFIXES)} files: name "
            f"the {role} with one of those suffixes.",
        )


def _model_version(registry: ModelRegistry, record: ModelVersionRecord) -> _FileVersion:
    """The model's version in the version index (dataset ``models:/NAME``)."""
    from shipyard.objects import Digest

    dataset, digest = _MODEL_DATASET + record.model, Digest.parse(record.digest)
    version = registry.index.find(dataset, digest)
    if version is None:  # this project's versions.db was replaced: record it as register() does
        size = registry.objects.read_tree(digest).size
        version = registry.index.record(dataset, digest, size, "tree", run_id=record.run_id)
    return _FileVersion(dataset, version.id, digest)


def _input_version(
    path: Path, catalog_name: str | None, settings: Settings, registry: ModelRegistry
) -> _FileVersion:
    """The input's version: a recorded version of its catalog dataset when it holds
    exactly that content, else a version of the file itself (see :func:`_file_version`)."""
    digest = _hashed(path, settings, written=False)
    if catalog_name is not None:
        version = registry.index.find(catalog_name, digest)
        if version is not None:
            return _FileVersion(catalog_name, version.id, digest)
    return _file_version(path, settings, digest)


def _file_version(path: Path, settings: Settings, digest: Digest) -> _FileVersion:
    """A file outside the catalog as a lineage dataset: named by its path relative to the
    project (absolute outside it), with the version id already recorded for this content
    in the run store, or a new time-ordered id. The file is not copied into the object
    store nor added to the version index: push and pull would then look for its bytes."""
    from sqlalchemy import select

    from shipyard.metadata import schema
    from shipyard.tracking._stores import tracking_for

    root = settings.project_root
    dataset = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    tracking = tracking_for(settings.project_root)
    assert tracking is not None
    edges = schema.dataset_versions
    with tracking.store.connect() as conn:
        known = conn.scalar(
            select(edges.c.version_id)
            .where(edges.c.dataset == dataset, edges.c.digest == str(digest))
            .limit(1)
        )
    return _FileVersion(dataset, known or new_id(), digest)


def _hashed(path: Path, settings: Settings, *, written: bool = True) -> Digest:
    """The digest of ``path`` through the project's stat cache: a file this process just
    wrote is hashed and remembered; another is hashed only if it changed since."""
    from shipyard.objects import StatCache, hash_file

    with StatCache(settings.shipyard_dir / "stat.db") as cache:
        if not written:
            return cache.hash_file(path)
        digest = hash_file(path)
        cache.put(path, digest)
        return digest

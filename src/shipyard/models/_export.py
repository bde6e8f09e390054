"""Exporting a registered version: as an MLflow model folder, or as ONNX.

``mlflow``: the package's files plus an ``MLmodel`` file with MLflow's
``python_function`` flavor, whose loader is :mod:`shipyard.models.mlflow_loader`; so
``mlflow.pyfunc.load_model(folder)`` works wherever Shipyard is installed, and loading
still verifies every digest. The signature and input example are written in MLflow's
formats; ``requirements.txt``, ``python_env.yaml`` and ``conda.yaml`` pin the captured
environment.

``onnx``: a ``model.onnx`` converted with skl2onnx (extra ``onnx``) from the ``sklearn``
flavor, or the stored file itself for the ``onnx`` flavor. A model that starts with a
ColumnTransformer gets one input per column (named and typed by the signature); any other
gets one float input named ``input`` holding the columns in signature order.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from shipyard.errors import MissingDependencyError, ModelError, did_you_mean

if TYPE_CHECKING:
    from shipyard.metadata.registry import ModelVersionRecord
    from shipyard.models._registry import ModelRegistry

__all__ = ["FORMATS", "export_model"]

FORMATS = ("mlflow", "onnx")
#: The flavor MLflow's pyfunc loader reads; the folder with the package inside is "data".
_PACKAGE_DIR = "shipyard-package"
# MLflow's column types (mlflow.types.DataType) for Shipyard's dtypes.
_MLFLOW_TYPES = {
    "int8": "integer", "int16": "integer", "int32": "integer", "int64": "long",
    "uint8": "integer", "uint16": "integer", "uint32": "long", "uint64": "long",
    "float16": "float", "float32": "float", "float64": "double",
    "bool": "boolean", "string": "string", "category": "string",
}  # fmt: skip


def export_model(
    registry: ModelRegistry, record: ModelVersionRecord, to: Path, *, format: str = "mlflow"
) -> Path:
    """Write ``record`` to ``to`` (a folder that must not exist) in ``format``; return the
    path written."""
    if format not in FORMATS:
        raise ModelError(
            f"Unknown export format '{format}'." + did_you_mean(format, FORMATS),
            hint=f"Use one of: {', '.join(FORMATS)}.",
        )
    to = Path(to)
    if to.exists():
        raise ModelError(
            f"{to} already exists; export never overwrites.",
            hint="Name a folder that does not exist yet.",
        )
    folder = registry.package_folder(record)
    manifest = registry.manifest(record)  # verified: a changed package is not exported
    if format == "onnx":
        return _export_onnx(registry, record, folder, to)
    to.mkdir(parents=True)
    shutil.copytree(folder, to / _PACKAGE_DIR)
    signature = manifest.signature or {}
    mlmodel: dict[str, Any] = {
        "artifact_path": "model",
        "flavors": {
            "python_function": {
                "loader_module": "shipyard.models.mlflow_loader",
                "data": _PACKAGE_DIR,
                "python_version": manifest.python,
                "env": {"virtualenv": "python_env.yaml", "conda": "conda.yaml"},
            }
        },
        "model_uuid": record.digest.split(":")[-1][:32],
        "run_id": record.run_id,
        "utc_time_created": record.created_at.strftime("%Y-%m-%d %H:%M:%S.%f"),
        "metadata": {"shipyard_model": record.model, "shipyard_version": record.version},
    }
    if signature:
        mlmodel["signature"] = {
            "inputs": json.dumps([_mlflow_column(c) for c in signature.get("inputs", [])]),
            "outputs": json.dumps([_mlflow_column(c) for c in signature.get("outputs", [])]),
            "params": None,
        }
    if manifest.input_example:
        example = json.loads((folder / manifest.input_example).read_text(encoding="utf-8"))
        (to / "input_example.json").write_text(json.dumps(_mlflow_example(example)))
        mlmodel["saved_input_example_info"] = {
            "artifact_path": "input_example.json",
            "type": "dataframe",
            "pandas_orient": "split",
        }
    requirements = [*manifest.requirements]
    (to / "MLmodel").write_text(yaml.safe_dump(mlmodel, sort_keys=False))
    (to / "requirements.txt").write_text("\n".join(requirements) + "\n")
    (to / "python_env.yaml").write_text(
        yaml.safe_dump(
            {
                "python": manifest.python,
                "build_dependencies": ["pip"],
                "dependencies": ["-r requirements.txt"],
            },
            sort_keys=False,
        )
    )
    (to / "conda.yaml").write_text(
        yaml.safe_dump(
            {
                "name": f"{record.model}-{record.version}",
                "channels": ["conda-forge"],
                "dependencies": [f"python={manifest.python}", "pip", {"pip": requirements}],
            },
            sort_keys=False,
        )
    )
    return to


def _mlflow_column(column: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": _MLFLOW_TYPES.get(column["dtype"], "string"),
        "name": column["name"],
        "required": not column.get("nullable", False),
    }


def _mlflow_example(records: Any) -> dict[str, Any]:
    """Shipyard's example (records) in MLflow's pandas "split" form."""
    rows = records if isinstance(records, list) else records.get("records", [])
    columns = list(rows[0]) if rows else []
    return {"columns": columns, "data": [[row.get(c) for c in columns] for row in rows]}


def _export_onnx(
    registry: ModelRegistry, record: ModelVersionRecord, folder: Path, to: Path
) -> Path:
    manifest = registry.manifest(record)
    if manifest.flavor == "onnx":
        to.mkdir(parents=True)
        stored = folder / "model" / manifest.flavor_details.get("file", "model.onnx")
        shutil.copyfile(stored, to / "model.onnx")
        return to / "model.onnx"
    if manifest.flavor != "sklearn":
        raise ModelError(
            f"{record.model} version {record.version} is a '{manifest.flavor}' model; ONNX "
            "export converts sklearn models only.",
            hint="Export it with --format mlflow, or convert it with its library's own tool.",
        )
    if not manifest.signature:
        raise ModelError(
            f"{record.model} version {record.version} has no signature, so the ONNX input "
            "types are unknown.",
            hint="Package the model with an input example: package(model, example=X).",
        )
    try:
        from skl2onnx import to_onnx
        from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    except ImportError as exc:
        raise MissingDependencyError("skl2onnx", "onnx", purpose="Export to ONNX") from exc
    model = registry.load(f"{record.model}:{record.version}")
    inputs = manifest.signature["inputs"]
    if _takes_columns(model.raw):
        # a ColumnTransformer first: one ONNX input per column, typed by the signature
        types = [(c["name"], _tensor_type(c["dtype"])([None, 1])) for c in inputs]
    else:
        # one input "input": the numeric columns in signature order, as float32
        text = [c["name"] for c in inputs if _tensor_type(c["dtype"]) is StringTensorType]
        if text:
            raise ModelError(
                f"{record.model} version {record.version} takes text columns "
                f"({', '.join(text)}) without a ColumnTransformer, which ONNX cannot express.",
                hint="Export it with --format mlflow instead.",
            )
        types = [("input", FloatTensorType([None, len(inputs)]))]
    converted = to_onnx(model.raw, initial_types=types)
    to.mkdir(parents=True)
    (to / "model.onnx").write_bytes(converted.SerializeToString())
    return to / "model.onnx"


def _takes_columns(model: Any) -> bool:
    """Whether the sklearn model starts with a ColumnTransformer (named columns in)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    first = model.steps[0][1] if isinstance(model, Pipeline) else model
    return isinstance(first, ColumnTransformer)


def _tensor_type(dtype: str) -> Any:
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType

    if dtype in ("string", "category", "object"):
        return StringTensorType
    if dtype.startswith(("int", "uint")) or dtype == "bool":
        return Int64TensorType
    return FloatTensorType

"""The ``onnx`` flavor: an ONNX graph (``onnx.ModelProto`` or its bytes) run by onnxruntime.

The graph is data, not code: onnxruntime runs its standard operators only. Loading gives
an :class:`OnnxModel` whose ``predict(df)`` feeds the DataFrame to the graph's inputs:
one tensor of every column, or one input per column when the graph names them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shipyard.errors import ModelError
from shipyard.models._flavors._base import defined_in, detail_file, require

__all__ = ["OnnxClassifier", "OnnxFlavor", "OnnxModel"]

_FILE = "model.onnx"
_NUMPY_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(bool)": "bool",
    "tensor(string)": "object",
}


class OnnxModel:
    """An onnxruntime session that predicts from a DataFrame; ``session`` is the raw one."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def predict(self, df: Any) -> Any:
        """The graph's first output (a column vector flattened, as scikit-learn returns)."""
        first = self._run(df)[0]
        return first.ravel() if first.ndim == 2 and first.shape[1] == 1 else first

    def _run(self, df: Any) -> list[Any]:
        return self.session.run(None, self._feeds(df))

    def _feeds(self, df: Any) -> dict[str, Any]:
        inputs = self.session.get_inputs()
        columns = [str(name) for name in df.columns]
        if len(inputs) == 1 and inputs[0].name not in columns:
            return {inputs[0].name: df.to_numpy(dtype=_numpy_type(inputs[0].type))}
        missing = [item.name for item in inputs if item.name not in columns]
        if missing:
            raise ModelError(
                f"The ONNX model takes the inputs {missing}, which the data lacks.",
                hint="Pass a DataFrame with a column for each of the graph's inputs.",
            )
        feeds = {}
        for item in inputs:
            values = df[item.name].to_numpy(dtype=_numpy_type(item.type))
            feeds[item.name] = values.reshape(-1, 1) if len(item.shape) == 2 else values
        return feeds


class OnnxClassifier(OnnxModel):
    """A graph with a second output, the class probabilities (as skl2onnx writes them)."""

    def predict_proba(self, df: Any) -> Any:
        import numpy as np

        probabilities = self._run(df)[1]
        if isinstance(probabilities, list):  # skl2onnx's ZipMap: one {class: p} per row
            return np.array([list(row.values()) for row in probabilities])
        return probabilities


def _numpy_type(onnx_type: str) -> str:
    try:
        return _NUMPY_TYPES[onnx_type]
    except KeyError:
        raise ModelError(
            f"The ONNX model takes an input of type {onnx_type}, which Shipyard cannot feed "
            "from a DataFrame.",
            hint=f"Convert the model with inputs of the types {sorted(_NUMPY_TYPES)}.",
        ) from None


def session_model(model_bytes: bytes | str) -> OnnxModel:
    """An :class:`OnnxModel` (or :class:`OnnxClassifier`) of a graph's bytes or file path."""
    onnxruntime = require("onnxruntime", extra="onnx")
    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    return (OnnxClassifier if len(session.get_outputs()) > 1 else OnnxModel)(session)


class OnnxFlavor:
    """ONNX graphs, saved as ``model.onnx`` and run with onnxruntime on the CPU."""

    name = "onnx"
    carries_code = False

    def handles(self, model: object) -> bool:
        return isinstance(model, bytes | bytearray) or (
            defined_in(model, "onnx") and type(model).__name__ == "ModelProto"
        )

    def save(self, model: object, folder: Path) -> dict[str, Any]:
        (folder / _FILE).write_bytes(_graph_bytes(model))
        return {"file": _FILE}

    def load(self, folder: Path, details: Mapping[str, Any], *, trusted: bool) -> object:
        return session_model(str(detail_file(folder, details)))

    def predictor(self, model: object) -> OnnxModel:
        """An :class:`OnnxModel` of a graph not yet saved, to infer its signature."""
        return session_model(_graph_bytes(model))

    def library_version(self) -> str:
        return require("onnxruntime", extra="onnx").__version__

    def requirements(self) -> list[str]:
        return ["onnxruntime"]


def _graph_bytes(model: object) -> bytes:
    if isinstance(model, bytes | bytearray):
        return bytes(model)
    serialize = getattr(model, "SerializeToString", None)
    if not callable(serialize):
        raise ModelError(
            f"The onnx flavor saves an onnx.ModelProto or its bytes, not a {type(model).__name__}.",
            hint="Convert the model first, e.g. with skl2onnx.to_onnx(model, X[:1]).",
        )
    return serialize()

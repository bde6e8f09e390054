"""A notebook as a pipeline node: its inputs go in as variables, its outputs come back.

``notebook_node("notebooks/features.ipynb", {"customers": "customers_clean"}, "features")``
is a node like any other: it reads ``customers_clean`` from the catalog, runs the
notebook headless with that data in the variable ``customers``, and saves the value the
notebook left in the variable ``features`` as the dataset ``features``.

The contract with the notebook:

- before the notebook runs, each input is assigned to its variable in the cell injected
  after the cell tagged ``parameters``, together with ``parameters=`` (so defaults set
  in the parameters cell, e.g. loaded from the catalog, are replaced);
- after its last cell, each output variable is read back; one it did not assign fails
  the node, naming the variable.

Variable names: for a dict ``{variable: dataset}`` the keys; for a dataset name or a
list of them, the name made an identifier: ``params:`` dropped, every other character
than letters, digits and ``_`` turned into ``_`` (``params:model.C`` -> ``model_C``,
``eu.customers`` -> ``eu_customers``), ``_`` in front of a leading digit, ``_`` after a
keyword.

Values travel between the pipeline's process and the kernel through files in a private
temporary folder (mode 0700) made for one execution and deleted afterwards: pandas
DataFrames as Parquet, everything else with pickle. Pickle is safe here because both
ends are our own processes on this machine, and nobody else can write into the folder
between the write and the read.

The node's function is a :class:`NotebookFunction` instance whose state (the notebook's
path and blake3 digest, the variables, parameters, timeout) is plain data: the node
cache counts it by value, so editing the notebook makes the node run again, and an
unchanged notebook over unchanged inputs is a cache hit.
"""

from __future__ import annotations

import copy
import json
import keyword
import os
import pickle
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from shipyard.errors import NotebookError, PipelineError
from shipyard.lab._notebook import execute, read_notebook
from shipyard.lab._parameters import OUTPUTS_TAG, inject_cell, python_literal
from shipyard.objects import hash_bytes
from shipyard.pipeline import Node, node

__all__ = ["NotebookFunction", "notebook_node", "variable_name"]

_MANIFEST = "outputs.json"
_NOT_IDENTIFIER = re.compile(r"\W", re.ASCII)

# The cell run after the notebook's last one. It is self-contained (the kernel need not
# import Shipyard) and leaves nothing behind in the notebook's namespace.
_SAVE_OUTPUTS = """\
# Added by Shipyard's notebook_node: hands the output variables back to the pipeline.
def _shipyard_save_outputs(names, folder):
    import json, pathlib, pickle
    folder, saved = pathlib.Path(folder), {{}}
    for index, name in enumerate(names):
        if name not in globals():
            continue
        value, kind = globals()[name], type(globals()[name])
        if kind.__name__ == "DataFrame" and kind.__module__.startswith("pandas"):
            try:
                value.to_parquet(folder / f"out-{{index}}.parquet")
                saved[name] = f"out-{{index}}.parquet"
                continue
            except Exception:  # column names or types Parquet cannot hold
                pass
        try:
            with open(folder / f"out-{{index}}.pickle", "wb") as stream:
                pickle.dump(value, stream)
        except Exception as exc:
            raise TypeError(
                f"output variable {{name!r}} cannot be handed to the pipeline: {{exc}}"
            ) from None
        saved[name] = f"out-{{index}}.pickle"
    (folder / "{manifest}").write_text(json.dumps(saved))


_shipyard_save_outputs({names!r}, {folder!r})
del _shipyard_save_outputs
"""


class NotebookFunction:
    """The function of a notebook node: runs the notebook on the node's inputs and
    returns its output variables. Its ``__dict__`` holds only plain data (what the node
    cache fingerprints); the project root it resolves paths against is kept apart."""

    __slots__ = ("__dict__", "_root")

    def __init__(
        self,
        notebook: str,
        digest: str,
        *,
        root: Path,
        inputs: list[str],
        outputs: list[str],
        parameters: dict[str, Any],
        timeout_s: float,
        report: str | None,
    ) -> None:
        self._root = root
        self.notebook = notebook
        self.digest = digest
        self.inputs = inputs
        self.outputs = outputs
        self.parameters = parameters
        self.timeout_s = timeout_s
        self.report = report

    def __call__(self, **values: Any) -> dict[str, Any]:
        path = self._root / self.notebook
        nb = _read_unchanged(path, self.digest)
        folder = Path(tempfile.mkdtemp(prefix="shipyard-notebook-node-"))
        try:
            folder.chmod(0o700)
            loads = _write_inputs(folder, [(name, values[name]) for name in self.inputs])
            inject_cell(nb, self.parameters, extra_source=loads, notebook=self.notebook)
            if self.outputs:
                nb.cells.append(_outputs_cell(nb, self.outputs, folder))
            execute(
                nb,
                path,
                output=self._root / self.report if self.report else None,
                timeout_s=self.timeout_s,
                env=_run_environment(),
                to_write=_without_outputs_cell,
            )
            return _read_outputs(folder, self.outputs, self.notebook)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def __repr__(self) -> str:
        return f"<notebook {self.notebook}>"


def notebook_node(
    path: str | os.PathLike[str],
    inputs: str | Iterable[str] | Mapping[str, str] | None = None,
    outputs: str | Iterable[str] | Mapping[str, str] | None = None,
    *,
    name: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    timeout_s: float = 600.0,
    report: str | os.PathLike[str] | None = None,
    tags: str | Iterable[str] | None = None,
) -> Node:
    """A pipeline node that runs the notebook at ``path`` headless.

    ``inputs`` and ``outputs`` name datasets as in :func:`shipyard.node`; in the notebook
    each is a variable: the keys of a dict ``{variable: dataset}``, else the dataset name
    made an identifier (``params:model.C`` -> ``model_C``). ``parameters`` are plain
    values injected too. ``timeout_s`` limits each cell. ``report`` is where the executed
    notebook is written at every run, failed ones included (suggested:
    ``data/08_reporting/<name>.ipynb``). Relative paths are relative to the project at or
    above the current folder when this is called (``shipyard run`` runs in the project
    root); outside a project, to the current folder. The default name is
    ``notebook_<file stem>``.

    >>> features = notebook_node(  # doctest: +SKIP
    ...     "notebooks/features.ipynb", {"customers": "customers_clean"}, "features",
    ...     report="data/08_reporting/features.ipynb",
    ... )
    """
    root = _project_root()
    source = Path(path) if Path(path).is_absolute() else root / path
    label = name or f"notebook_{source.stem}"
    if not source.is_file():
        raise PipelineError(
            f"Node '{label}': notebook {source} does not exist.",
            hint="Give the notebook's path relative to the project folder "
            f"({root}), e.g. notebooks/{source.name}.",
        )
    in_variables = _variables(inputs, label, "inputs")
    out_variables = _variables(outputs, label, "outputs")
    values = dict(parameters or {})
    for key, value in values.items():
        python_literal(value, key)  # only plain values can be written into the cell
    clash = sorted(set(values) & set(in_variables))
    if clash:
        raise PipelineError(
            f"Node '{label}': '{clash[0]}' is both an input variable and a parameter.",
            hint="Rename one of them; inputs={'variable': 'dataset'} chooses the variable.",
        )
    function = NotebookFunction(
        _relative(source, root),
        str(hash_bytes(source.read_bytes())),
        root=root,
        inputs=list(in_variables),
        outputs=list(out_variables),
        parameters=values,
        timeout_s=float(timeout_s),
        report=_relative(root / report, root) if report is not None else None,
    )
    return node(
        function,
        in_variables or None,
        out_variables or None,
        name=label,
        tags=tags,
    )


def variable_name(dataset: str) -> str:
    """The notebook variable a dataset is given in: ``params:model.C`` -> ``model_C``.

    >>> variable_name("params:model.C"), variable_name("eu.customers"), variable_name("2024")
    ('model_C', 'eu_customers', '_2024')
    """
    text = dataset.removeprefix("params:")
    text = _NOT_IDENTIFIER.sub("_", text) or "_"
    if text[0].isdigit():
        text = "_" + text
    return text + "_" if keyword.iskeyword(text) else text


def _variables(
    datasets: str | Iterable[str] | Mapping[str, str] | None, label: str, where: str
) -> dict[str, str]:
    """``{variable: dataset}`` for a node's inputs or outputs, checked."""
    if datasets is None:
        return {}
    if isinstance(datasets, Mapping):
        pairs = list(datasets.items())
    elif isinstance(datasets, str):
        pairs = [(variable_name(datasets), datasets)]
    elif isinstance(datasets, Iterable):
        pairs = [(variable_name(d) if isinstance(d, str) else d, d) for d in datasets]
    else:
        pairs = [(datasets, datasets)]  # let node() say what is wrong with it
    found: dict[str, str] = {}
    for variable, dataset in pairs:
        if not (isinstance(variable, str) and variable.isidentifier()) or keyword.iskeyword(
            variable
        ):
            raise PipelineError(
                f"Node '{label}': {variable!r} in {where} is not a Python variable name.",
                hint=f"Write {where} as {{'variable': 'dataset'}} with identifiers as keys.",
            )
        if variable in found:
            raise PipelineError(
                f"Node '{label}': {where} '{found[variable]}' and '{dataset}' would both be "
                f"the notebook variable '{variable}'.",
                hint=f"Choose the variables yourself: {where}={{'{variable}': "
                f"'{found[variable]}', '{variable}_2': '{dataset}'}}.",
            )
        found[variable] = dataset
    return found


def _write_inputs(folder: Path, values: list[tuple[str, Any]]) -> str:
    """Write each input into ``folder``; the code that assigns them in the notebook."""
    if not values:
        return ""
    lines = [
        "# Inputs from the pipeline, handed over by Shipyard's notebook_node",
        "import pickle as _shipyard_pickle",
    ]
    helpers = {"_shipyard_pickle"}
    for index, (variable, value) in enumerate(values):
        target = folder / f"in-{index}.parquet"
        if _is_frame(value) and _to_parquet(value, target):
            if "_shipyard_pandas" not in helpers:
                lines.append("import pandas as _shipyard_pandas")
                helpers.add("_shipyard_pandas")
            lines.append(f"{variable} = _shipyard_pandas.read_parquet({str(target)!r})")
            continue
        target = target.with_suffix(".pickle")
        with target.open("wb") as stream:
            pickle.dump(value, stream)
        lines.append(f"with open({str(target)!r}, 'rb') as _shipyard_file:")
        lines.append(f"    {variable} = _shipyard_pickle.load(_shipyard_file)")
        helpers.add("_shipyard_file")
    lines.append(f"del {', '.join(sorted(helpers))}")
    return "\n".join(lines)


def _outputs_cell(nb: Any, names: list[str], folder: Path) -> Any:
    from nbformat import v4

    cell = v4.new_code_cell(
        _SAVE_OUTPUTS.format(names=names, folder=str(folder), manifest=_MANIFEST)
    )
    cell.metadata["tags"] = [OUTPUTS_TAG]
    if (nb.nbformat, nb.nbformat_minor) < (4, 5):
        cell.pop("id", None)
    return cell


def _read_outputs(folder: Path, names: list[str], notebook: str) -> dict[str, Any]:
    saved = json.loads((folder / _MANIFEST).read_text()) if names else {}
    missing = [name for name in names if name not in saved]
    if missing:
        listed = ", ".join(f"'{name}'" for name in missing)
        raise NotebookError(
            f"Notebook {notebook} ran to its end without assigning the output "
            f"variable{'s' if len(missing) > 1 else ''} {listed}.",
            hint=f"The notebook must assign every output variable of its node "
            f"({', '.join(names)}), e.g. `{missing[0]} = ...` in its last cells.",
        )
    values = {}
    for name in names:
        file = folder / saved[name]
        if file.suffix == ".parquet":
            import pandas as pd

            values[name] = pd.read_parquet(file)
        else:
            with file.open("rb") as stream:  # written by our own kernel, see the docstring
                values[name] = pickle.load(stream)
    return values


def _read_unchanged(path: Path, digest: str) -> Any:
    """The notebook, refused if it changed since the node was made (the node cache would
    file its results under the old notebook's fingerprint)."""
    if not path.is_file() or str(hash_bytes(path.read_bytes())) != digest:
        raise NotebookError(
            f"Notebook {path} changed (or was removed) after its pipeline was loaded.",
            hint="Run the pipeline again: it is loaded anew, with the notebook as it is now.",
        )
    return read_notebook(path)


def _without_outputs_cell(nb: Any) -> Any:
    shown = copy.deepcopy(nb)
    shown.cells = [c for c in shown.cells if OUTPUTS_TAG not in c.metadata.get("tags", [])]
    return shown


def _run_environment() -> dict[str, str]:
    """The pipeline run in progress, so ``shipyard.log_metric`` in the notebook logs to it."""
    from shipyard.tracking import active_run

    run = active_run()
    return run.child_environment() if run is not None else {}


def _is_frame(value: Any) -> bool:
    kind = type(value)
    return kind.__name__ == "DataFrame" and kind.__module__.startswith("pandas")


def _to_parquet(frame: Any, target: Path) -> bool:
    try:
        frame.to_parquet(target)
    except Exception:  # column names or types Parquet cannot hold: pickle it instead
        target.unlink(missing_ok=True)
        return False
    return True


def _project_root() -> Path:
    from shipyard.settings import project_root_here

    return project_root_here() or Path.cwd().resolve()


def _relative(path: Path, root: Path) -> str:
    resolved = Path(os.path.normpath(path))
    return resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else str(resolved)

"""Notebook parameters the papermill way: a ``parameters`` cell, and an injected cell after it.

A notebook declares its parameters with their defaults in one code cell tagged
``parameters``. To run it with other values, a new code cell tagged
``injected-parameters`` is put right after that cell; it assigns the given values, so
they override the defaults and every later cell sees them. Notebooks written for
papermill run unchanged, and the executed notebook shows exactly what was injected::

    # Parameters                    <- the cell tagged `parameters`
    n_estimators = 100
    # Parameters                    <- the injected cell, `-p n_estimators=300`
    n_estimators = 300

Values are written as Python literals, so only plain values can be injected: ``str``,
``int``, ``float`` (NaN and infinities as ``float('nan')``...), ``bool``, ``None`` and
lists, tuples and dicts of them.

Errors name a cell as the notebook's author counts it: every cell, markdown included,
but not the cells Shipyard added (:func:`cell_label`).
"""

from __future__ import annotations

import ast
import keyword
import logging
import math
import re
from collections.abc import Mapping
from typing import Any

from shipyard.errors import ParamsError

__all__ = [
    "ADDED_TAGS",
    "INJECTED_TAG",
    "OUTPUTS_TAG",
    "PARAMETERS_TAG",
    "assigned_names",
    "cell_label",
    "cell_number",
    "check_variable_name",
    "inject_cell",
    "parse_parameter",
    "python_literal",
]

logger = logging.getLogger("shipyard.lab")

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
#: The cell a notebook node adds after the last one, to hand its outputs back.
OUTPUTS_TAG = "shipyard-outputs"
#: Cells Shipyard adds are not counted when a cell of the notebook is named.
ADDED_TAGS = frozenset({INJECTED_TAG, OUTPUTS_TAG})
_PARAMETER_HINT = (
    "Write parameters as -p name=value, with a Python identifier as the name and a YAML "
    "value: -p n_estimators=300 -p lr=0.05 -p model=gbm -p layers='[64, 32]'."
)
# A line assigning a name, for a parameters cell that ast cannot read (IPython magics).
_ASSIGNMENT = re.compile(r"^([A-Za-z_]\w*)\s*(?::[^=]*)?=(?!=)", re.MULTILINE)


def parse_parameter(text: str) -> tuple[str, Any]:
    """Read one ``name=value`` command-line parameter; the value is YAML.

    ``300`` is an int, ``0.5`` and ``1e-3`` floats, ``true`` a bool, ``[1, 2]`` a list,
    ``{a: 1}`` a dict, ``'300'`` (quoted) a string, and an empty value ``None``.

    >>> parse_parameter("n_estimators=300")
    ('n_estimators', 300)
    >>> parse_parameter("layers=[64, 32]")
    ('layers', [64, 32])
    """
    from shipyard.config._yaml import parse_value

    name, equals, raw = text.partition("=")
    name = name.strip()
    if not equals:
        raise ParamsError(
            f"Parameter '{text}' has no '=' between name and value.", hint=_PARAMETER_HINT
        )
    check_variable_name(name, f"Parameter '{text}'")
    try:
        value = parse_value(raw.strip()) if raw.strip() else None
    except ValueError as exc:
        raise ParamsError(
            f"The value of parameter '{name}' is not valid YAML: {raw.strip()} ({exc}).",
            hint="Quote values with special characters: -p title='churn: v2'.",
        ) from None
    python_literal(value, name)  # reject what cannot be injected here, not in the kernel
    return name, value


def check_variable_name(name: object, what: str) -> None:
    """Raise ParamsError unless ``name`` can be assigned in a notebook (``n_estimators``)."""
    if isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name):
        return
    raise ParamsError(
        f"{what}: {name!r} is not a Python variable name (letters, digits and _, not "
        "starting with a digit, not a keyword).",
        hint=_PARAMETER_HINT,
    )


def python_literal(value: Any, name: str = "value") -> str:
    """``value`` as Python source that evaluates to it; ParamsError for anything else.

    >>> python_literal({"depth": [3, float("nan")], "name": "gbm"})
    "{'depth': [3, float('nan')], 'name': 'gbm'}"
    """
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int | str):
        return repr(int(value) if isinstance(value, int) else str(value))  # not a subclass
    if isinstance(value, float):
        return _float_literal(float(value))
    if isinstance(value, list | tuple):
        items = [python_literal(item, name) for item in value]
        if isinstance(value, list):
            return "[" + ", ".join(items) + "]"
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, dict):
        pairs = (f"{python_literal(k, name)}: {python_literal(v, name)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    raise ParamsError(
        f"Parameter '{name}' holds a {type(value).__module__}.{type(value).__qualname__}, "
        "which cannot be written into a notebook cell.",
        hint="Pass plain values: str, int, float, bool, None, and lists, tuples and dicts "
        "of them (convert numpy numbers with float() or int()).",
    )


def _float_literal(value: float) -> str:
    if math.isnan(value):
        return "float('nan')"
    if math.isinf(value):
        return "float('inf')" if value > 0 else "float('-inf')"
    return repr(value)


def assigned_names(source: str) -> set[str]:
    """The names a cell assigns at its top level (``a = 1``, ``a, b = ...``, ``a: int = 1``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython syntax (%magics, !shell): read assignment lines instead
        return set(_ASSIGNMENT.findall(source))
    names: set[str] = set()
    for statement in tree.body:
        targets: list[ast.expr] = []
        if isinstance(statement, ast.Assign):
            targets = list(statement.targets)
        elif isinstance(statement, ast.AnnAssign | ast.AugAssign):
            targets = [statement.target]
        for target in targets:
            names.update(
                node.id
                for node in ast.walk(target)
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
            )
    return names


def inject_cell(
    nb: Any, parameters: Mapping[str, Any], *, extra_source: str = "", notebook: str = "notebook"
) -> tuple[list[str], list[str]]:
    """Put the ``injected-parameters`` cell into ``nb`` (in place): after the cell tagged
    ``parameters``, else first. An injected cell left by an earlier run is replaced.

    ``extra_source`` is code appended to the cell (a notebook node's inputs). Returns the
    injected names and the warnings (also logged): a name the parameters cell does not
    assign, or a notebook without a parameters cell.
    """
    from nbformat import v4

    lines = []
    for name, value in parameters.items():
        check_variable_name(name, f"Parameter of {notebook}")
        lines.append(f"{name} = {python_literal(value, name)}")
    if not lines and not extra_source:
        return [], []
    nb.cells = [cell for cell in nb.cells if INJECTED_TAG not in _tags(cell)]
    position = next((i for i, cell in enumerate(nb.cells) if PARAMETERS_TAG in _tags(cell)), None)
    warnings: list[str] = []
    if position is None:
        if parameters:
            warnings.append(
                f"{notebook} has no cell tagged 'parameters': the parameters are injected "
                "as its first cell. Tag the cell that sets their defaults 'parameters' "
                "(in JupyterLab: the property inspector, gear icon, Cell Tags)."
            )
    else:
        declared = assigned_names(nb.cells[position].source)
        warnings.extend(
            f"Parameter '{name}' is not assigned in the parameters cell of {notebook}: "
            "it is injected anyway. Give it a default there, or check its spelling."
            for name in parameters
            if name not in declared
        )
    source = "\n".join(["# Parameters", *lines]) if lines else ""
    cell = v4.new_code_cell(source=(source + "\n" + extra_source).strip("\n"))
    cell.metadata["tags"] = [INJECTED_TAG]
    if (nb.nbformat, nb.nbformat_minor) < (4, 5):
        cell.pop("id", None)  # cell ids came with nbformat 4.5; older files must not have one
    nb.cells.insert(0 if position is None else position + 1, cell)
    for warning in warnings:
        logger.warning(warning)
    return list(parameters), warnings


def cell_number(nb: Any, index: int) -> int | None:
    """The 1-based number of cell ``index`` among the author's cells (ours not counted)."""
    if not 0 <= index < len(nb.cells) or _added(nb.cells[index]):
        return None
    return sum(1 for cell in nb.cells[: index + 1] if not _added(cell))


def cell_label(nb: Any, index: int) -> str:
    """``cell 5 (`model.fit(X, y)`)``, or what Shipyard's own cell was for."""
    if not 0 <= index < len(nb.cells):
        return "the start of the notebook (before its first cell)"
    cell = nb.cells[index]
    tags = set(cell.get("metadata", {}).get("tags", []))
    if INJECTED_TAG in tags:
        return "the cell Shipyard injected with the parameters (tagged injected-parameters)"
    if OUTPUTS_TAG in tags:
        return "the cell Shipyard added after the last one to save the output variables"
    first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
    first = first if len(first) <= 80 else first[:79] + "…"
    return (
        f"cell {cell_number(nb, index)} (`{first}`)" if first else f"cell {cell_number(nb, index)}"
    )


def _added(cell: Any) -> bool:
    return bool(ADDED_TAGS & set(cell.get("metadata", {}).get("tags", [])))


def _tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))

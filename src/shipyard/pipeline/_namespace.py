"""``pipeline()``: build a pipeline, optionally reusing it under a namespace.

A namespace lets the same pipeline appear twice (say, one model per region) without its
datasets and nodes colliding: every dataset ``x`` becomes ``ns.x``, every parameter
``params:x`` becomes ``params:ns.x`` and every node ``n`` becomes ``ns.n``, except the
datasets and parameters named in ``inputs``, ``outputs`` and ``parameters``, which keep
their names or are renamed as those arguments say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from shipyard.errors import PipelineError, did_you_mean
from shipyard.pipeline._node import Node
from shipyard.pipeline._node_args import check_name
from shipyard.pipeline._pipeline import Pipeline

__all__ = ["pipeline"]

_PARAMS = "params:"
_ALL_PARAMETERS = "parameters"

NameMap = str | Iterable[str] | Mapping[str, str] | None


def pipeline(
    pipe: Iterable[Node | Pipeline] | Node | Pipeline,
    *,
    namespace: str | None = None,
    inputs: NameMap = None,
    outputs: NameMap = None,
    parameters: NameMap = None,
    tags: str | Iterable[str] | None = None,
) -> Pipeline:
    """A pipeline of ``pipe`` (nodes and pipelines), namespaced and renamed as asked.

    ``inputs``, ``outputs`` and ``parameters`` take a name, a list of names (kept as they
    are) or a dict ``{name_inside: name_outside}`` (renamed). ``tags`` are added to
    every node.

    >>> from shipyard.pipeline import node
    >>> def fit(table, alpha): ...
    >>> base = pipeline([node(fit, ["table", "params:alpha"], "model", name="fit")])
    >>> eu = pipeline(base, namespace="eu", inputs={"table": "eu_table"})
    >>> eu.nodes[0].name, sorted(eu.inputs()), eu.outputs()
    ('eu.fit', ['eu_table', 'params:eu.alpha'], {'eu.model'})
    """
    base = pipe if isinstance(pipe, Pipeline) else Pipeline(pipe)
    if namespace is None and not (inputs or outputs or parameters):
        return Pipeline(base, tags=tags) if tags else base
    if namespace is not None:
        check_name(namespace, "namespace")
    free_inputs = base.inputs()
    params = {name for name in free_inputs if _is_parameter(name)}
    mapping = {
        **_mapping("inputs", inputs, free_inputs - params, "free inputs"),
        **_mapping("outputs", outputs, set(base._producer), "node outputs"),
        **_parameter_mapping(parameters, params),
    }

    def rename(name: str) -> str:
        if name in mapping:
            return mapping[name]
        if namespace is None or name == _ALL_PARAMETERS:
            return name
        if name.startswith(_PARAMS):
            return f"{_PARAMS}{namespace}.{name[len(_PARAMS) :]}"
        return f"{namespace}.{name}"

    return Pipeline([item._renamed(rename, namespace) for item in base._nodes], tags=tags)


def _is_parameter(name: str) -> bool:
    return name == _ALL_PARAMETERS or name.startswith(_PARAMS)


def _as_mapping(argument: str, names: NameMap) -> dict[str, str]:
    if names is None:
        return {}
    if isinstance(names, str):
        return {names: names}
    if isinstance(names, Mapping):
        for key, value in names.items():
            if not isinstance(key, str) or not isinstance(value, str) or not value:
                raise PipelineError(
                    f"pipeline({argument}=...) maps names to names; got {key!r}: {value!r}.",
                    hint=f"Write {argument}={{'name_inside': 'name_outside'}}.",
                )
        return dict(names)
    return {name: name for name in names}


def _mapping(argument: str, names: NameMap, available: set[str], what: str) -> dict[str, str]:
    mapping = _as_mapping(argument, names)
    for name in mapping:
        if argument == "inputs" and _is_parameter(name):
            raise PipelineError(
                f"pipeline(inputs=...) names the parameter '{name}'.",
                hint="Map parameters with parameters=..., e.g. parameters={'alpha': 'eu_alpha'}.",
            )
        if name not in available:
            raise _not_in_pipeline(argument, name, available, what)
    return mapping


def _parameter_mapping(names: NameMap, available: set[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for key, value in _as_mapping("parameters", names).items():
        inside = _with_prefix(key)
        if inside not in available:
            raise _not_in_pipeline("parameters", inside, available, "parameters")
        mapping[inside] = value if inside == _ALL_PARAMETERS else _with_prefix(value)
    return mapping


def _with_prefix(name: str) -> str:
    return name if _is_parameter(name) else f"{_PARAMS}{name}"


def _not_in_pipeline(argument: str, name: str, available: set[str], what: str) -> PipelineError:
    listed = sorted(available)
    return PipelineError(
        f"pipeline({argument}=...) names '{name}', which is not one of the pipeline's {what}."
        + did_you_mean(name, listed),
        hint=f"The pipeline's {what}: {', '.join(listed) or 'none'}.",
    )

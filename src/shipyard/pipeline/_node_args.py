"""Reading and checking what ``node()`` was given: dataset names, outputs, names, tags."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from shipyard.errors import PipelineError
from shipyard.pipeline._signature import function_name

__all__ = [
    "MAPPING",
    "NO_OUTPUT",
    "ONE_OUTPUT",
    "SEQUENCE",
    "check_name",
    "check_no_loop",
    "default_name",
    "parse_inputs",
    "parse_outputs",
    "parse_tags",
]

# How a node's function hands back its outputs.
NO_OUTPUT, ONE_OUTPUT, SEQUENCE, MAPPING = range(4)


def parse_inputs(inputs: object, label: str) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    if inputs is None:
        return (), None
    if isinstance(inputs, str):
        return (_dataset(inputs, label, "inputs"),), None
    if isinstance(inputs, Mapping):
        names = tuple(_dataset(value, label, "inputs") for value in inputs.values())
        return names, tuple(_parameter(key, label) for key in inputs)
    if isinstance(inputs, list | tuple):
        return tuple(_dataset(value, label, "inputs") for value in inputs), None
    raise _bad_spec(label, "inputs", inputs)


def parse_outputs(outputs: object, label: str) -> tuple[tuple[str, ...], int, tuple | None]:
    if outputs is None:
        names, kind, keys = (), NO_OUTPUT, None
    elif isinstance(outputs, str):
        names, kind, keys = (_dataset(outputs, label, "outputs"),), ONE_OUTPUT, None
    elif isinstance(outputs, Mapping):
        names = tuple(_dataset(value, label, "outputs") for value in outputs.values())
        kind, keys = MAPPING, tuple(outputs)
    elif isinstance(outputs, list | tuple):
        names, kind, keys = tuple(_dataset(v, label, "outputs") for v in outputs), SEQUENCE, None
    else:
        raise _bad_spec(label, "outputs", outputs)
    repeated = sorted({dataset for dataset in names if names.count(dataset) > 1})
    if repeated:
        raise PipelineError(
            f"Node '{label}' writes dataset '{repeated[0]}' more than once in outputs={outputs!r}.",
            hint="Give each output its own dataset name.",
        )
    return names, kind, keys


def _dataset(value: object, label: str, where: str) -> str:
    if isinstance(value, str) and value:
        return value
    raise PipelineError(
        f"Node '{label}': every dataset name in {where} must be a non-empty string, got {value!r}.",
        hint="Use the dataset's name from the catalog, e.g. 'customers' or 'params:ratio'.",
    )


def _parameter(value: object, label: str) -> str:
    if isinstance(value, str) and value.isidentifier():
        return value
    raise PipelineError(
        f"Node '{label}': the keys of an inputs dict are the function's parameter names; "
        f"{value!r} is not a valid parameter name.",
        hint="Write inputs as {parameter: dataset}, e.g. {'df': 'customers'}.",
    )


def _bad_spec(label: str, where: str, value: object) -> PipelineError:
    return PipelineError(
        f"Node '{label}': {where} must be None, a dataset name, a list of names or a dict, "
        f"not {type(value).__name__} {value!r}.",
        hint=f"For example {where}='customers' or {where}=['train', 'test'].",
    )


def check_name(name: object, what: str) -> None:
    """Node names and namespaces are typed on the command line: keep them typeable."""
    if (
        not isinstance(name, str)
        or not name
        or "," in name
        or name != name.strip()
        or name != name.strip(".")
    ):
        raise PipelineError(
            f"Invalid {what} {name!r}: it must be a non-empty string without commas, "
            "surrounding spaces or dots at either end.",
            hint="Commas separate names on the command line (--from-nodes a,b) and dots "
            "separate namespaces (eu.train), so a name cannot contain a comma or start or "
            "end with a dot.",
        )


def check_no_loop(name: str, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> None:
    both = sorted(set(inputs) & set(outputs))
    if both:
        raise PipelineError(
            f"Node '{name}' reads and writes the same dataset '{both[0]}'.",
            hint="Write the result to a new dataset name, e.g. 'customers_clean'.",
        )


def default_name(func: Callable[..., Any], outputs: tuple[str, ...]) -> str:
    base = function_name(func)
    return f"{base}:{'+'.join(outputs)}" if outputs else base


def parse_tags(tags: str | Iterable[str] | None) -> frozenset[str]:
    if tags is None:
        return frozenset()
    parsed = frozenset((tags,)) if isinstance(tags, str) else frozenset(tags)
    for tag in parsed:
        if not isinstance(tag, str) or not tag or "," in tag:
            raise PipelineError(
                f"Invalid tag {tag!r}: tags are non-empty strings without commas.",
                hint="Pass tags='prep' or tags=['prep', 'daily'].",
            )
    return parsed

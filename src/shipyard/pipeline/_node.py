"""A node: one function, the datasets it reads and the datasets it writes.

Nodes are immutable values. ``tag()`` and namespacing return new nodes, so a node can be
shared by several pipelines without one of them changing it for the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from shipyard.errors import PipelineError
from shipyard.pipeline._node_args import (
    NO_OUTPUT,
    ONE_OUTPUT,
    SEQUENCE,
    check_name,
    check_no_loop,
    default_name,
    parse_inputs,
    parse_outputs,
    parse_tags,
)
from shipyard.pipeline._signature import check_callable_with, describe_function, function_name

__all__ = ["Node", "node"]


_OUTPUT_HINT = (
    "Make the function return exactly what the node's outputs= declares, or fix outputs=."
)


class Node:
    """One step of a pipeline. Build nodes with :func:`node`; they cannot be changed.

    Attributes: ``func``, ``name``, ``namespace``, ``inputs`` and ``outputs`` (dataset
    names, in the order the function takes and returns them), ``tags`` and ``cache``.
    """

    __slots__ = (
        "_arg_names",
        "_cache",
        "_func",
        "_inputs",
        "_name",
        "_namespace",
        "_output_keys",
        "_output_kind",
        "_outputs",
        "_tags",
    )

    _func: Callable[..., Any]
    _name: str
    _namespace: str | None
    _inputs: tuple[str, ...]
    _arg_names: tuple[str, ...] | None
    _outputs: tuple[str, ...]
    _output_kind: int
    _output_keys: tuple[str, ...] | None
    _tags: frozenset[str]
    _cache: bool

    def __init__(
        self,
        func: Callable[..., Any],
        inputs: str | Iterable[str] | Mapping[str, str] | None,
        outputs: str | Iterable[str] | Mapping[str, str] | None,
        *,
        name: str | None = None,
        tags: str | Iterable[str] | None = None,
        namespace: str | None = None,
        cache: bool = True,
    ) -> None:
        if not callable(func):
            raise PipelineError(
                f"node() needs a function as its first argument, not {type(func).__name__} "
                f"{func!r}.",
                hint="Pass the function itself, without calling it: node(clean, ...).",
            )
        label = name or function_name(func)
        in_names, arg_names = parse_inputs(inputs, label)
        out_names, kind, keys = parse_outputs(outputs, label)
        if name is None:
            name = default_name(func, out_names)
        check_name(name, "node name")
        if namespace is not None:
            check_name(namespace, "namespace")
            name = f"{namespace}.{name}"
        check_no_loop(name, in_names, out_names)
        check_callable_with(func, len(in_names) if arg_names is None else arg_names, name, inputs)
        tag_set = parse_tags(tags)
        if not isinstance(cache, bool):
            raise PipelineError(
                f"Node '{name}': cache= takes True or False, not {cache!r}.",
                hint="Write cache=False for a node that must run every time.",
            )
        values = (func, name, namespace, in_names, arg_names, out_names, kind, keys, tag_set, cache)
        for slot, value in zip(_FIELDS, values, strict=True):
            object.__setattr__(self, slot, value)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"Node '{self._name}' is immutable; use node.tag() for a copy.")

    def __reduce__(self) -> tuple[Any, ...]:
        # Nodes travel to worker processes; rebuild them without re-checking the signature.
        return (_rebuild, tuple(getattr(self, slot) for slot in _FIELDS))

    @property
    def func(self) -> Callable[..., Any]:
        """The function the node runs."""
        return self._func

    @property
    def name(self) -> str:
        """The node's unique name in a pipeline, namespace included (``ds.train``)."""
        return self._name

    @property
    def namespace(self) -> str | None:
        """The namespace the node was put in, or None."""
        return self._namespace

    @property
    def inputs(self) -> list[str]:
        """The dataset names the node reads, in the order the function takes them."""
        return list(self._inputs)

    @property
    def outputs(self) -> list[str]:
        """The dataset names the node writes, in the order the function returns them."""
        return list(self._outputs)

    @property
    def tags(self) -> frozenset[str]:
        """The node's tags, used to select parts of a pipeline."""
        return self._tags

    @property
    def cache(self) -> bool:
        """False when the node must run every time, even if the node cache holds its
        results (a node that reads the clock, calls a service or draws unseeded random
        numbers)."""
        return self._cache

    def tag(self, tags: str | Iterable[str]) -> Node:
        """A copy of this node with ``tags`` added.

        >>> node(len, "text", "size", name="count").tag("prep").tags
        frozenset({'prep'})
        """
        return self._copy(tags=self._tags | parse_tags(tags))

    def run(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Call the function on ``inputs`` (dataset name -> data) and return its outputs.

        >>> node(lambda a, b: a + b, ["x", "y"], "total").run({"x": 1, "y": 2})
        {'total': 3}
        """
        try:
            values = [inputs[dataset] for dataset in self._inputs]
        except KeyError as exc:
            raise PipelineError(
                f"Node '{self._name}' needs input '{exc.args[0]}', but it was not given "
                f"(given: {', '.join(map(repr, inputs)) or 'nothing'}).",
                hint=f"Pass every input the node reads: {', '.join(self._inputs)}.",
            ) from None
        if self._arg_names is None:
            result = self._func(*values)
        else:
            result = self._func(**dict(zip(self._arg_names, values, strict=True)))
        return self._outputs_from(result)

    def describe(self) -> dict[str, Any]:
        """A JSON-able description: name, function, inputs, outputs, tags, namespace, cache."""
        return {
            "name": self._name,
            "function": describe_function(self._func),
            "inputs": list(self._inputs),
            "outputs": list(self._outputs),
            "tags": sorted(self._tags),
            "namespace": self._namespace,
            "cache": self._cache,
        }

    def __repr__(self) -> str:
        return (
            f"Node({function_name(self._func)}, {list(self._inputs)!r}, "
            f"{list(self._outputs)!r}, name={self._name!r})"
        )

    def __str__(self) -> str:
        inputs = ", ".join(self._inputs)
        outputs = ", ".join(self._outputs) or "nothing"
        return f"{self._name}: {function_name(self._func)}({inputs}) -> {outputs}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Node):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._name)

    def _key(self) -> tuple[Any, ...]:
        return tuple(getattr(self, slot) for slot in _FIELDS)

    def _copy(self, **changes: Any) -> Node:
        fields = {slot.lstrip("_"): getattr(self, slot) for slot in _FIELDS}
        fields.update(changes)
        return _rebuild(*fields.values())

    def _renamed(self, rename: Callable[[str], str], namespace: str | None) -> Node:
        """This node with every dataset name passed through ``rename`` and, if given,
        ``namespace`` put in front of its name and namespace."""
        if namespace is None:
            name, new_namespace = self._name, self._namespace
        else:
            name = f"{namespace}.{self._name}"
            new_namespace = f"{namespace}.{self._namespace}" if self._namespace else namespace
        return self._copy(
            name=name,
            namespace=new_namespace,
            inputs=tuple(map(rename, self._inputs)),
            outputs=tuple(map(rename, self._outputs)),
        )

    def _outputs_from(self, result: Any) -> dict[str, Any]:
        kind = self._output_kind
        if kind == ONE_OUTPUT:
            return {self._outputs[0]: result}
        if kind == NO_OUTPUT:
            return {}
        if kind == SEQUENCE:
            return self._outputs_from_sequence(result)
        return self._outputs_from_mapping(result)

    def _outputs_from_sequence(self, result: Any) -> dict[str, Any]:
        count = len(self._outputs)
        if not isinstance(result, list | tuple):
            raise PipelineError(
                f"Node '{self._name}' declares {count} outputs {list(self._outputs)} but its "
                f"function '{function_name(self._func)}' returned a {type(result).__name__}, "
                f"not a list or tuple of {count} values.",
                hint=_OUTPUT_HINT,
            )
        if len(result) != count:
            raise PipelineError(
                f"Node '{self._name}' declares {count} outputs {list(self._outputs)} but its "
                f"function '{function_name(self._func)}' returned {len(result)} values.",
                hint=_OUTPUT_HINT,
            )
        return dict(zip(self._outputs, result, strict=True))

    def _outputs_from_mapping(self, result: Any) -> dict[str, Any]:
        keys = self._output_keys or ()
        if not isinstance(result, Mapping):
            raise PipelineError(
                f"Node '{self._name}' declares outputs by key {list(keys)} but its function "
                f"'{function_name(self._func)}' returned a {type(result).__name__}, not a dict.",
                hint=_OUTPUT_HINT,
            )
        missing = [key for key in keys if key not in result]
        extra = [key for key in result if key not in keys]
        if missing or extra:
            problems = []
            if missing:
                problems.append(f"without key(s) {', '.join(map(repr, missing))}")
            if extra:
                problems.append(f"with unexpected key(s) {', '.join(map(repr, extra))}")
            raise PipelineError(
                f"Node '{self._name}' declares outputs by key {list(keys)} but its function "
                f"'{function_name(self._func)}' returned a dict {' and '.join(problems)}.",
                hint=_OUTPUT_HINT,
            )
        return {dataset: result[key] for key, dataset in zip(keys, self._outputs, strict=True)}


_FIELDS = (
    "_func",
    "_name",
    "_namespace",
    "_inputs",
    "_arg_names",
    "_outputs",
    "_output_kind",
    "_output_keys",
    "_tags",
    "_cache",
)


def node(
    func: Callable[..., Any],
    inputs: str | Iterable[str] | Mapping[str, str] | None,
    outputs: str | Iterable[str] | Mapping[str, str] | None,
    *,
    name: str | None = None,
    tags: str | Iterable[str] | None = None,
    namespace: str | None = None,
    cache: bool = True,
) -> Node:
    """A pipeline step that calls ``func`` on the ``inputs`` datasets and saves its result
    as the ``outputs`` datasets.

    ``inputs``: None, a dataset name, a list of names (passed by position) or a dict
    ``{parameter: dataset}`` (passed by keyword). ``outputs``: None, a name, a list of
    names (the function returns that many values) or a dict ``{key: dataset}`` (the
    function returns a dict with those keys). The default name is the function's name
    and its outputs, ``split:train+test``. ``cache=False`` makes the node run every time
    instead of reusing results of an identical earlier run (see docs/cache.md).

    >>> def split(df, ratio): ...
    >>> step = node(split, ["customers", "params:ratio"], ["train", "test"], tags="prep")
    >>> step.name
    'split:train+test'
    """
    return Node(func, inputs, outputs, name=name, tags=tags, namespace=namespace, cache=cache)


def _rebuild(*values: Any) -> Node:
    rebuilt = object.__new__(Node)
    for slot, value in zip(_FIELDS, values, strict=True):
        object.__setattr__(rebuilt, slot, value)
    return rebuilt
